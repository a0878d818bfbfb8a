/* SPDX-License-Identifier: MIT */
/* test_sampler_units.c: unit tests of the sampler's parsers, its /proc reader and its OOM judgment
 * on fake trees. */
#include "../c/check.h"
#include "../../csrc/probe/linux.c"
#include "../../csrc/sampler/oom.c"
#include "../../csrc/sampler/ptable.c"
#include "../../csrc/sampler/sysinfo.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* Creates every directory of rel under root (like mkdir -p). */
static void make_dirs(const char *rel)
{
    char path[512];
    size_t i, n = (size_t)snprintf(path, sizeof(path), "%s%s", root, rel);
    for (i = strlen(root) + 1; i < n && i < sizeof(path); i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        mkdir(path, 0755);
        path[i] = '/';
    }
    mkdir(path, 0755);
}

static void put_file(const char *rel, const char *text, size_t len)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s%s", root, rel);
    f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fwrite(text, 1, len, f);
    fclose(f);
}

/* A fake /proc/<pid> with a stat line (rss in pages) and a cmdline. */
static void fake_proc(int pid, const char *comm, int ppid, unsigned long rss_pages,
                      const char *cmdline, size_t cmdlen)
{
    char rel[400], text[512];
    int n;
    snprintf(rel, sizeof(rel), "%s/proc/%d", root, pid);
    mkdir(rel, 0755);
    n = snprintf(text, sizeof(text),
                 "%d (%s) S %d 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 100 1000000 %lu "
                 "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
                 pid, comm, ppid, rss_pages);
    snprintf(rel, sizeof(rel), "/proc/%d/stat", pid);
    put_file(rel, text, (size_t)n);
    n = snprintf(text, sizeof(text), "1000 %lu 10 1 0 50 0\n", rss_pages);
    snprintf(rel, sizeof(rel), "/proc/%d/statm", pid);
    put_file(rel, text, (size_t)n);
    if (cmdline) {
        snprintf(rel, sizeof(rel), "/proc/%d/cmdline", pid);
        put_file(rel, cmdline, cmdlen);
    }
}

static void test_parse_stat(void)
{
    rm_proc p;
    const char *odd = "42 (a) b) c) R 7 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 100 33 0\n";
    const char *plain = "5 (bash) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 100 7 0\n";
    memset(&p, 0, sizeof(p));
    CHECK(rm_parse_stat(plain, strlen(plain), 4096, &p) == 0);
    CHECK(p.pid == 5 && p.ppid == 1 && p.rss == 7 * 4096 && strcmp(p.comm, "bash") == 0);
    CHECK(rm_parse_stat(odd, strlen(odd), 4096, &p) == 0);
    CHECK(p.pid == 42 && p.ppid == 7 && p.rss == 33 * 4096 && strcmp(p.comm, "a) b) c") == 0);
    CHECK(rm_parse_stat("12 (x) S 1 2", 12, 4096, &p) == -1); /* cut short */
    CHECK(rm_parse_stat("garbage", 7, 4096, &p) == -1);
    CHECK(rm_parse_stat(") (", 3, 4096, &p) == -1);
    CHECK(rm_parse_stat("(x) S 1", 7, 4096, &p) == -1); /* no pid */
}

static void test_tree(void)
{
    rm_ptable t;
    size_t idx[8], n, count;
    uint64_t sum;
    long ps = sysconf(_SC_PAGESIZE);
    char cmd[300];

    make_root("units");
    snprintf(cmd, sizeof(cmd), "%s/proc", root);
    mkdir(cmd, 0755);
    fake_proc(1, "init", 0, 10, "/sbin/init\0", 11);
    fake_proc(10, "pytest", 1, 100, "python\0-m\0pytest\0-n\0002\0", 22);
    fake_proc(11, "python", 10, 300, "python\0-c\0worker\0", 17);
    fake_proc(12, "python", 10, 200, NULL, 0);
    fake_proc(13, "sh", 11, 5, "sh\0", 3);
    fake_proc(20, "other", 1, 1000, "other\0", 6);
    fake_proc(30, "loop_a", 31, 1, NULL, 0); /* a corrupt cycle must not hang */
    fake_proc(31, "loop_b", 30, 1, NULL, 0);
    put_file("/proc/self", "", 0); /* not a pid: skipped */

    CHECK(rm_ptable_open(&t, root, "proc") == 0);
    CHECK(strcmp(rm_ptable_backend(&t), "proc") == 0);
    CHECK(rm_ptable_scan(&t, 1) == 8);
    CHECK(t.nfds == 8);                /* stat files stay open */
    CHECK(rm_ptable_scan(&t, 0) == 8); /* through the kept fds */
    fake_proc(40, "late", 1, 1, NULL, 0);
    CHECK(rm_ptable_scan(&t, 0) == 8); /* not listed yet */
    CHECK(rm_ptable_scan(&t, 1) == 9 && t.nfds == 9);
    {
        char gone[400];
        snprintf(gone, sizeof(gone), "%s/proc/40/stat", root);
        unlink(gone);
        snprintf(gone, sizeof(gone), "%s/proc/40/statm", root);
        unlink(gone);
        snprintf(gone, sizeof(gone), "%s/proc/40", root);
        rmdir(gone);
    }
    CHECK(rm_ptable_scan(&t, 1) == 8 && t.nfds == 8); /* its fd closed */
    /* between rescans only the tree's members (and the top list's
     * candidates) are read: 11 is in the tree of 10, 20 is not */
    CHECK(rm_ptable_tree(&t, 10, idx, 8, &sum, &count) == 4);
    fake_proc(11, "renamed", 10, 350, NULL, 0);
    fake_proc(20, "other", 1, 1001, NULL, 0);
    CHECK(rm_ptable_scan(&t, 0) == 8); /* RSS from statm now, name at the rescan */
    CHECK(t.procs[rm_ptable_find(&t, 11)].rss == 350 * (uint64_t)ps);
    CHECK(strcmp(t.procs[rm_ptable_find(&t, 11)].comm, "python") == 0);
    CHECK(t.procs[rm_ptable_find(&t, 20)].rss == 1000 * (uint64_t)ps); /* not read */
    /* once a top list is asked for, its candidates are read every scan */
    CHECK(rm_ptable_top(&t, 3, idx) == 3 && t.cold_below == 200 * (uint64_t)ps / 2);
    CHECK(rm_ptable_scan(&t, 0) == 8);
    CHECK(t.procs[rm_ptable_find(&t, 20)].rss == 1001 * (uint64_t)ps);
    fake_proc(20, "other", 1, 1000, NULL, 0);
    for (int r = 0; r < RM_PT_STAT_EVERY; r++)
        CHECK(rm_ptable_scan(&t, 1) == 8);
    CHECK(strcmp(t.procs[rm_ptable_find(&t, 11)].comm, "renamed") == 0);
    fake_proc(11, "python", 10, 300, NULL, 0);
    for (int r = 0; r < RM_PT_STAT_EVERY; r++)
        CHECK(rm_ptable_scan(&t, 1) == 8);
    CHECK(rm_ptable_find(&t, 12) >= 0 && rm_ptable_find(&t, 99) == -1);

    n = rm_ptable_tree(&t, 10, idx, 8, &sum, &count);
    CHECK(n == 4 && count == 4);
    CHECK(sum == (uint64_t)(100 + 300 + 200 + 5) * (uint64_t)ps);
    CHECK(t.procs[idx[0]].pid == 11 && t.procs[idx[1]].pid == 12 && t.procs[idx[3]].pid == 13);
    CHECK(t.mark[rm_ptable_find(&t, 13)] == RM_PT_IN_TREE);
    CHECK(t.mark[rm_ptable_find(&t, 20)] != RM_PT_IN_TREE);

    n = rm_ptable_tree(&t, 10, idx, 2, &sum, &count); /* list cut, sums whole */
    CHECK(n == 2 && count == 4);
    n = rm_ptable_tree(&t, 30, idx, 8, &sum, &count);
    CHECK(n == 2 && count == 2);
    n = rm_ptable_tree(&t, 99, idx, 8, &sum, &count);
    CHECK(n == 0 && count == 0 && sum == 0);

    n = rm_ptable_top(&t, 3, idx);
    CHECK(n == 3 && t.procs[idx[0]].pid == 20 && t.procs[idx[1]].pid == 11 &&
          t.procs[idx[2]].pid == 12);

    rm_read_cmdline(root, 10, "pytest", cmd, sizeof(cmd));
    CHECK(strcmp(cmd, "python -m pytest -n 2") == 0);
    rm_read_cmdline(root, 12, "python", cmd, sizeof(cmd));
    CHECK(strcmp(cmd, "[python]") == 0);
    rm_read_cmdline(root, 10, "pytest", cmd, 8);
    CHECK(strcmp(cmd, "python") == 0);
    rm_ptable_close(&t);

    CHECK(rm_ptable_open(&t, root, "bogus") == -1);
    remove_root();
}

static void test_psi_load_kmsg(void)
{
    rm_psi psi;
    rm_load load;
    rm_kmsg_oom k;
    const char *k1 = "3,1234,5678,-;Memory cgroup out of memory: Killed process 4242 (python3) "
                     "total-vm:1000kB, anon-rss:900kB, file-rss:12kB";
    const char *k2 = "6,1,2,-;Out of memory: Kill process 77 (a b) score 900";
    /* the oom_reaper line after a kill carries "anon-rss:0kB" but no kill */
    const char *reaper = "6,9,99,-;oom_reaper: reaped process 4242 (python3), now anon-rss:0kB";
    /* continuation lines follow the text: the size is not the text's */
    const char *cont = "3,5,500,-;Out of memory: Killed process 5 (x) total-vm:1kB\n"
                       " SUBSYSTEM=x anon-rss:7kB\n";
    CHECK(rm_psi_parse("some avg10=12.34 avg60=1.00 avg300=0.00 total=5000\n"
                       "full avg10=0.50 avg60=0.00 avg300=0.00 total=70\n",
                       &psi) == 0);
    CHECK(psi.some10 == 1234 && psi.full10 == 50 && psi.some_total == 5000 && psi.full_total == 70);
    CHECK(rm_psi_parse("nonsense", &psi) == -1);
    CHECK(rm_load_parse("0.30 1.14 10.06 2/85 5975\n", &load) == 0);
    CHECK(load.l1 == 30 && load.l5 == 114 && load.l15 == 1006 && load.tasks == 85);
    CHECK(rm_load_parse("x", &load) == -1);
    CHECK(rm_kmsg_parse_oom(k1, strlen(k1), &k) == 1);
    CHECK(k.pid == 4242 && strcmp(k.comm, "python3") == 0);
    CHECK(k.have_ts && k.ts_usec == 5678);
    CHECK(k.have_anon_rss && k.anon_rss == 900 * 1024);
    CHECK(rm_kmsg_parse_oom(k2, strlen(k2), &k) == 1);
    CHECK(k.pid == 77 && strcmp(k.comm, "a b") == 0 && k.have_ts && k.ts_usec == 2);
    CHECK(!k.have_anon_rss);
    CHECK(rm_kmsg_parse_oom(reaper, strlen(reaper), &k) == 0);
    CHECK(rm_kmsg_parse_oom(cont, strlen(cont), &k) == 1);
    CHECK(k.pid == 5 && !k.have_anon_rss);
    CHECK(rm_kmsg_parse_oom("6,1,2,-;Killed process", 22, &k) == 0);
    CHECK(rm_kmsg_parse_oom(k1, 40, &k) == 0); /* cut before the pid */
    /* cut inside "anon-rss:900kB": no figure rather than a wrong one */
    CHECK(rm_kmsg_parse_oom(k1, strstr(k1, "900kB") + 2 - k1, &k) == 1 && !k.have_anon_rss);
    CHECK(rm_kmsg_parse_oom("6,1,2,-;Killed process 0 (x)", 28, &k) == 0);
    CHECK(rm_kmsg_parse_oom("6,1,2,-;Killed process 99999999999 (x)", 38, &k) == 0);
    /* a malformed header: the text still counts, without a time stamp */
    CHECK(rm_kmsg_parse_oom("6,1;Killed process 8 (y)", 24, &k) == 1 && k.pid == 8 && !k.have_ts);
    CHECK(rm_kmsg_is_new(&k, UINT64_MAX) == 1); /* no stamp: not judged old */
}

/* Kernel reports written before the sampler started are not the run's. */
static void test_kmsg_age(void)
{
    rm_kmsg_oom k;
    const uint64_t start = 100000000; /* the sampler opened /dev/kmsg at 100 s */
    const char *before = "3,10,90000000,-;Memory cgroup out of memory: Killed process 31 (a)";
    const char *just = "3,11,99500000,-;Memory cgroup out of memory: Killed process 32 (b)";
    const char *after = "3,12,100400000,-;Memory cgroup out of memory: Killed process 33 (c)";
    CHECK(rm_kmsg_parse_oom(before, strlen(before), &k) == 1 && k.ts_usec == 90000000);
    CHECK(rm_kmsg_is_new(&k, start) == 0);
    CHECK(rm_kmsg_parse_oom(just, strlen(just), &k) == 1);
    CHECK(rm_kmsg_is_new(&k, start) == 1); /* within the clocks' slack */
    CHECK(rm_kmsg_parse_oom(after, strlen(after), &k) == 1);
    CHECK(rm_kmsg_is_new(&k, start) == 1);
}

/* Which pids of kernel OOM reports belong to the tree. */
static void test_oom_in_tree(void)
{
    static rm_oom_tree t; /* the ring is 4 KB: not on the stack */
    rm_kmsg_oom k;
    const char *other = "3,1,200000000,-;Memory cgroup out of memory: Killed process 20 (other) "
                        "total-vm:1kB, anon-rss:4kB";
    char path[400];

    make_root("tree");
    make_dirs("/proc");
    fake_proc(1, "init", 0, 10, NULL, 0);
    fake_proc(5, "runner", 1, 10, NULL, 0);
    fake_proc(10, "sampler", 5, 10, NULL, 0); /* the tree's root (wrap: the sampler) */
    fake_proc(11, "pytest", 10, 100, NULL, 0);
    fake_proc(12, "worker", 11, 300, NULL, 0);
    fake_proc(13, "victim", 12, 900, NULL, 0); /* born and killed between scans */
    fake_proc(20, "other", 1, 1000, NULL, 0);
    fake_proc(40, "reused", 1, 10, NULL, 0); /* alive elsewhere, pid once ours */

    CHECK(rm_proc_descends(root, 13, 10) == 1);
    CHECK(rm_proc_descends(root, 10, 10) == 1);
    CHECK(rm_proc_descends(root, 20, 10) == 0);
    CHECK(rm_proc_descends(root, 99, 10) == -1); /* gone */

    memset(&t, 0, sizeof(t));
    t.proc_root = root;
    t.child = 11;
    t.root_pid = 10;
    t.closed = 1;
    rm_oom_tree_remember(&t, 11);
    rm_oom_tree_remember(&t, 12);
    rm_oom_tree_remember(&t, 40);
    rm_oom_tree_remember(&t, 41); /* sampled once, then killed and reaped */
    CHECK(rm_oom_tree_seen(&t, 41) && !rm_oom_tree_seen(&t, 42) && !rm_oom_tree_seen(&t, 0));

    CHECK(rm_oom_in_tree(&t, 13) == 1); /* never sampled: its stat says whose it is */
    CHECK(rm_oom_in_tree(&t, 12) == 1);
    CHECK(rm_oom_in_tree(&t, 41) == 1); /* gone, but seen in the tree */
    CHECK(rm_oom_in_tree(&t, 40) == 0); /* alive outside a closed tree: reused pid */
    CHECK(rm_oom_in_tree(&t, 42) == 0); /* gone and never seen */
    CHECK(rm_oom_in_tree(&t, 0) == 0);

    /* a report naming a process outside the tree */
    CHECK(rm_kmsg_parse_oom(other, strlen(other), &k) == 1 && k.pid == 20);
    CHECK(rm_kmsg_is_new(&k, 150000000) == 1);
    CHECK(rm_oom_in_tree(&t, k.pid) == 0);

    /* the command itself, reaped already (its stat is gone) */
    snprintf(path, sizeof(path), "rm -rf '%s/proc/11'", root);
    CHECK(system(path) == 0);
    CHECK(rm_oom_in_tree(&t, 11) == 1);

    /* watch mode: orphans leave the tree (reparented to init), so a pid
     * seen in it still counts while alive elsewhere */
    t.closed = 0;
    CHECK(rm_oom_in_tree(&t, 40) == 1);
    CHECK(rm_oom_in_tree(&t, 20) == 0);

    /* no tree (system mode): nothing is the tree's */
    memset(&t, 0, sizeof(t));
    t.proc_root = root;
    CHECK(rm_oom_in_tree(&t, 13) == 0);

    /* the ring keeps the last RM_SEEN_PIDS distinct pids */
    for (int pid = 1000; pid < 1000 + RM_SEEN_PIDS + 1; pid++)
        rm_oom_tree_remember(&t, pid);
    CHECK(!rm_oom_tree_seen(&t, 1000) && rm_oom_tree_seen(&t, 1001) &&
          rm_oom_tree_seen(&t, 1000 + RM_SEEN_PIDS));
    remove_root();
}

/* A fake cgroup v2 group "/ci/job" under a fake root, read through the real probe. */
static void fake_v2(const char *current, const char *max, const char *peak, const char *stat,
                    const char *events)
{
    make_dirs("/proc/self");
    make_dirs("/sys/fs/cgroup/ci/job");
    put_file("/proc/self/cgroup", "0::/ci/job\n", 11);
    put_file("/sys/fs/cgroup/memory.max", "max\n", 4);
    put_file("/sys/fs/cgroup/ci/memory.max", max, strlen(max));
    put_file("/sys/fs/cgroup/ci/job/memory.max", "max\n", 4);
    put_file("/sys/fs/cgroup/ci/job/memory.current", current, strlen(current));
    put_file("/sys/fs/cgroup/ci/job/memory.peak", peak, strlen(peak));
    if (stat)
        put_file("/sys/fs/cgroup/ci/job/memory.stat", stat, strlen(stat));
    put_file("/sys/fs/cgroup/ci/job/memory.events", events, strlen(events));
}

/* Samples the fake group with the machine's memory set to plenty. */
static int judge_fake(rm_sample *s)
{
    rm_probe p;
    memset(s, 0, sizeof(*s));
    if (rm_probe_open(&p, 0, root) != 0)
        return -1;
    rm_probe_sample(&p, s, RM_READ_CGROUP | RM_READ_CG_STAT);
    rm_probe_close(&p);
    s->mem_total = 16000000000ull;
    s->mem_avail = 12000000000ull;
    s->valid |= RM_HAVE_MEM_TOTAL | RM_HAVE_MEM_AVAIL;
    return rm_mem_judge(s);
}

static const char v2_events[] = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";

static void test_cgroup_v2_headroom(void)
{
    rm_sample s;
    /* memory.current at 98% of the limit, 60% of it inactive page cache */
    const char *cache = "anon 300000000\nfile 680000000\nkernel 10000000\n"
                        "active_anon 290000000\ninactive_anon 10000000\n"
                        "active_file 80000000\ninactive_file 600000000\nunevictable 0\n";
    const char *anon = "anon 960000000\nfile 20000000\nactive_anon 900000000\n"
                       "inactive_anon 60000000\nactive_file 10000000\ninactive_file 10000000\n";

    make_root("v2");
    /* page cache up to the limit: not near it */
    fake_v2("980000000\n", "1000000000\n", "1000000000\n", cache, v2_events);
    CHECK(judge_fake(&s) == RM_MEM_AMPLE);
    CHECK((s.valid & RM_HAVE_CG_INACTIVE_FILE) && s.cg_inactive_file == 600000000);
    CHECK(s.cg_usage == 980000000 && s.cg_limit == 1000000000 && s.cg_oom_kills == 1);
    {
        uint64_t ws = 0;
        CHECK(rm_cg_working_set(&s, &ws) == 1 && ws == 380000000);
    }
    /* the same usage as anonymous memory: near */
    fake_v2("980000000\n", "1000000000\n", "1000000000\n", anon, v2_events);
    CHECK(judge_fake(&s) == RM_MEM_NEAR);
    /* a spike long ago (the peak) says nothing about now */
    fake_v2("100000000\n", "1000000000\n", "1000000000\n", anon, v2_events);
    CHECK(judge_fake(&s) == RM_MEM_AMPLE);
    /* in between: neither near nor ample */
    fake_v2("820000000\n", "1000000000\n", "1000000000\n", anon, v2_events);
    CHECK(judge_fake(&s) == RM_MEM_TIGHT);
    /* no memory.stat: the raw usage can show room, never a limit near */
    remove_root();
    make_root("v2");
    fake_v2("990000000\n", "1000000000\n", "1000000000\n", NULL, v2_events);
    CHECK(judge_fake(&s) == RM_MEM_TIGHT && !(s.valid & RM_HAVE_CG_INACTIVE_FILE));
    fake_v2("100000000\n", "1000000000\n", "1000000000\n", NULL, v2_events);
    CHECK(judge_fake(&s) == RM_MEM_AMPLE);
    /* no limit: the machine decides */
    fake_v2("990000000\n", "max\n", "1000000000\n", anon, v2_events);
    CHECK(judge_fake(&s) == RM_MEM_AMPLE);
    s.mem_avail = s.mem_total / 50; /* 2% available */
    CHECK(rm_mem_judge(&s) == RM_MEM_NEAR);
    s.valid = 0;
    CHECK(rm_mem_judge(&s) == RM_MEM_UNKNOWN);
    /* memory.stat longer than the read buffer, inactive_file on the cut line */
    {
        char big[RM_READ_BUF + 64];
        size_t n = 0;
        while (n + 24 < RM_READ_BUF - 10)
            n += (size_t)snprintf(big + n, sizeof(big) - n, "pad_field_%05zu 1234567\n", n);
        snprintf(big + n, sizeof(big) - n, "inactive_file 123456789012\n");
        fake_v2("980000000\n", "1000000000\n", "1000000000\n", big, v2_events);
        judge_fake(&s);
        CHECK(!(s.valid & RM_HAVE_CG_INACTIVE_FILE)); /* rather none than a cut number */
    }
    remove_root();

    /* v1: the hierarchical total_inactive_file, not the group's own */
    make_root("v1");
    make_dirs("/proc/self");
    make_dirs("/sys/fs/cgroup/memory/ci");
    put_file("/proc/self/cgroup", "4:memory:/ci\n", 13);
    put_file("/sys/fs/cgroup/memory/ci/memory.limit_in_bytes", "1000000000\n", 11);
    put_file("/sys/fs/cgroup/memory/ci/memory.usage_in_bytes", "990000000\n", 10);
    {
        const char *st = "cache 10\nrss 20\ninactive_file 1000\nactive_file 5\n"
                         "hierarchical_memory_limit 1000000000\ntotal_cache 700000000\n"
                         "total_inactive_file 650000000\ntotal_active_file 50000000\n";
        put_file("/sys/fs/cgroup/memory/ci/memory.stat", st, strlen(st));
    }
    CHECK(judge_fake(&s) == RM_MEM_AMPLE && s.cg_inactive_file == 650000000);
    remove_root();
}

/* The samples before a death: support, contradiction, or nothing. */
static void test_oom_window(void)
{
    rm_oom_window w;
    const uint64_t sec = 1000000, max_age = 4 * sec;
    memset(&w, 0, sizeof(w));
    CHECK(rm_oom_window_judge(&w, 10 * sec, max_age) == 0); /* no sample */
    rm_oom_window_add(&w, 1 * sec, RM_MEM_NEAR);            /* an early spike */
    rm_oom_window_add(&w, 2 * sec, RM_MEM_AMPLE);
    rm_oom_window_add(&w, 3 * sec, RM_MEM_AMPLE);
    CHECK(rm_oom_window_judge(&w, 4 * sec, max_age) == RM_OOM_CONTRA);
    rm_oom_window_add(&w, 4 * sec, RM_MEM_NEAR);
    CHECK(rm_oom_window_judge(&w, 5 * sec, max_age) == RM_OOM_SUPPORT);
    /* the near sample is still one of the last two */
    rm_oom_window_add(&w, 5 * sec, RM_MEM_AMPLE);
    CHECK(rm_oom_window_judge(&w, 5 * sec, max_age) == RM_OOM_SUPPORT);
    /* ... and no longer */
    rm_oom_window_add(&w, 6 * sec, RM_MEM_AMPLE);
    CHECK(rm_oom_window_judge(&w, 6 * sec, max_age) == RM_OOM_CONTRA);
    /* samples too old say nothing */
    CHECK(rm_oom_window_judge(&w, 60 * sec, max_age) == 0);
    /* the last sample near, the one before too old: support */
    memset(&w, 0, sizeof(w));
    rm_oom_window_add(&w, 1 * sec, RM_MEM_AMPLE);
    rm_oom_window_add(&w, 20 * sec, RM_MEM_NEAR);
    CHECK(rm_oom_window_judge(&w, 21 * sec, max_age) == RM_OOM_SUPPORT);
    /* in between, or unknown: neither */
    rm_oom_window_add(&w, 21 * sec, RM_MEM_TIGHT);
    rm_oom_window_add(&w, 22 * sec, RM_MEM_AMPLE);
    CHECK(rm_oom_window_judge(&w, 22 * sec, max_age) == 0);
    rm_oom_window_add(&w, 23 * sec, RM_MEM_UNKNOWN);
    rm_oom_window_add(&w, 24 * sec, RM_MEM_UNKNOWN);
    CHECK(rm_oom_window_judge(&w, 24 * sec, max_age) == 0);
}

/* A fake /proc/<pid>/stat with the kernel's PF_KTHREAD flag set. */
static void fake_kthread(int pid, const char *comm)
{
    char rel[400], text[512];
    int n;
    snprintf(rel, sizeof(rel), "%s/proc/%d", root, pid);
    mkdir(rel, 0755);
    n = snprintf(text, sizeof(text),
                 "%d (%s) S 2 0 0 0 -1 %u 0 0 0 0 0 0 0 0 20 0 1 0 10 0 0 "
                 "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0\n",
                 pid, comm, 0x00208040u);
    snprintf(rel, sizeof(rel), "/proc/%d/stat", pid);
    put_file(rel, text, (size_t)n);
    snprintf(rel, sizeof(rel), "/proc/%d/statm", pid);
    put_file(rel, "0 0 0 0 0 0 0\n", 14);
}

static void remove_proc(int pid)
{
    char path[400];
    const char *files[] = {"stat", "statm", "cmdline"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/proc/%d/%s", root, pid, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/proc/%d", root, pid);
    rmdir(path);
}

static void put_loadavg(int last)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "0.10 0.20 0.30 1/90 %d\n", last);
    put_file("/proc/loadavg", text, (size_t)n);
}

/* The /proc reader's economy: kernel threads are never read, /proc is
 * listed only when a pid was allocated (or every RM_PT_LIST_EVERY rescans),
 * a re-parented task re-reads its stat at the next rescan. */
static void test_scan_economy(void)
{
    rm_ptable t;
    size_t idx[8], count;
    uint64_t sum, reads;
    int child, r;

    make_root("economy");
    make_dirs("/proc");
    fake_proc(1, "init", 0, 10, NULL, 0);
    fake_kthread(2, "kthreadd");
    fake_kthread(3, "kworker/0:0");
    fake_proc(50, "parent", 1, 20, NULL, 0);
    put_loadavg(100);
    CHECK(rm_ptable_open(&t, root, "auto") == 0);
    CHECK(strcmp(rm_ptable_backend(&t), "proc") == 0); /* a fake root: never libproc2 */
    CHECK(t.fd_loadavg >= 0);
    CHECK(rm_ptable_scan(&t, 1) == 4);
    CHECK(t.nfds == 2); /* no statm kept for kernel threads */
    CHECK(t.procs[rm_ptable_find(&t, 3)].kthread && t.procs[rm_ptable_find(&t, 3)].rss == 0);
    reads = t.reads;
    CHECK(rm_ptable_scan(&t, 1) == 4);
    /* no pid allocated: no listing, and only the two statm files (plus the
     * stat of tasks whose turn it is) are read */
    CHECK(t.since_list == 1);
    CHECK(t.reads - reads <= 2 + 2);

    /* a new process without a new pid in loadavg waits for the forced listing */
    fake_proc(60, "quiet", 1, 5, NULL, 0);
    CHECK(rm_ptable_scan(&t, 1) == 4);
    for (r = 0; r < RM_PT_LIST_EVERY && rm_ptable_find(&t, 60) < 0; r++)
        rm_ptable_scan(&t, 1);
    CHECK(rm_ptable_find(&t, 60) >= 0 && r < RM_PT_LIST_EVERY);
    /* with a new pid in loadavg it is listed at the next rescan */
    put_loadavg(101);
    fake_proc(61, "loud", 1, 5, NULL, 0);
    CHECK(rm_ptable_scan(&t, 1) == 6 && t.since_list == 0);

    /* re-parenting: a child whose stat is not due by the stagger */
    for (child = 70; (unsigned)child % RM_PT_STAT_EVERY == (t.rescans + 1) % RM_PT_STAT_EVERY ||
                     (unsigned)child % RM_PT_STAT_EVERY == (t.rescans + 2) % RM_PT_STAT_EVERY;
         child++)
        ;
    fake_proc(child, "worker", 50, 30, NULL, 0);
    put_loadavg(102);
    CHECK(rm_ptable_scan(&t, 1) == 7);
    CHECK(rm_ptable_tree(&t, 50, idx, 8, &sum, &count) == 2 && count == 2);
    /* 50 dies: its kept statm reads nothing (an unlinked fake file would
     * still read, so it is emptied; the directory is left for the listing
     * that must not be needed) */
    put_file("/proc/50/statm", "", 0);
    fake_proc(child, "worker", 1, 30, NULL, 0); /* the kernel re-parents it to init */
    CHECK(rm_ptable_scan(&t, 0) == 6);          /* 50 is in the tree: read, gone */
    CHECK(t.procs[rm_ptable_find(&t, child)].ppid == 50);
    CHECK(rm_ptable_scan(&t, 1) == 6 && t.since_list > 0); /* no listing */
    CHECK(t.procs[rm_ptable_find(&t, child)].ppid == 1);
    /* a death seen by the listing re-reads only the dead one's children:
     * 62 (child of 61) keeps the parent it was read with when 60 dies */
    fake_proc(62, "orphan", 61, 5, NULL, 0);
    put_loadavg(103);
    CHECK(rm_ptable_scan(&t, 1) == 7 && t.since_list == 0);
    CHECK(t.procs[rm_ptable_find(&t, 62)].ppid == 61);
    fake_proc(62, "orphan", 1, 5, NULL, 0);
    remove_proc(60);
    put_loadavg(104);
    CHECK(rm_ptable_scan(&t, 1) == 6 && rm_ptable_find(&t, 60) < 0);
    if ((unsigned)62 % RM_PT_STAT_EVERY != t.rescans % RM_PT_STAT_EVERY)
        CHECK(t.procs[rm_ptable_find(&t, 62)].ppid == 61);
    remove_proc(61);
    put_loadavg(105);
    CHECK(rm_ptable_scan(&t, 1) == 5);
    CHECK(t.procs[rm_ptable_find(&t, 62)].ppid == 1); /* 61 died: re-read */
    rm_ptable_close(&t);
    remove_root();
}

/* Wrap mode: processes that existed before the command cannot be in its
 * tree, so the first scan reads their statm alone (a kernel thread by its
 * empty statm); a name is read when one enters the top list; a pid wrap
 * reads their stat after all. */
static void test_outside_now(void)
{
    rm_ptable t;
    size_t idx[8], count;
    uint64_t sum, reads;
    long ps = sysconf(_SC_PAGESIZE);

    make_root("outside");
    make_dirs("/proc");
    fake_proc(1, "init", 0, 10, NULL, 0);
    fake_kthread(2, "kthreadd");
    fake_proc(50, "sampler", 1, 20, NULL, 0);
    fake_proc(60, "big", 1, 500, NULL, 0);
    put_loadavg(100);
    CHECK(rm_ptable_open(&t, root, "proc") == 0);
    rm_ptable_outside_now(&t);
    CHECK(t.old_max == 100);
    reads = t.reads;
    CHECK(rm_ptable_scan(&t, 1) == 4);
    CHECK(t.reads - reads == 4);                                  /* four statm, no stat */
    CHECK(t.procs[rm_ptable_find(&t, 2)].kthread && t.nfds == 3); /* none kept for it */
    CHECK(t.procs[rm_ptable_find(&t, 60)].rss == 500 * (uint64_t)ps);
    CHECK(t.procs[rm_ptable_find(&t, 60)].comm[0] == '\0');
    /* the command, forked by 50 (the sampler), and its child: read in full */
    fake_proc(101, "pytest", 50, 100, NULL, 0);
    fake_proc(102, "worker", 101, 200, NULL, 0);
    put_loadavg(102);
    CHECK(rm_ptable_scan(&t, 1) == 6);
    CHECK(rm_ptable_tree(&t, 50, idx, 8, &sum, &count) == 3 && count == 3);
    CHECK(t.procs[idx[0]].pid == 102 && t.procs[idx[0]].ppid == 101);
    CHECK(strcmp(t.procs[idx[0]].comm, "worker") == 0);
    CHECK(rm_ptable_tree(&t, 1, idx, 8, &sum, &count) == 1); /* old: no parent known */
    /* entering the top list reads the name */
    CHECK(rm_ptable_top(&t, 2, idx) == 2 && t.procs[idx[0]].pid == 60);
    CHECK(strcmp(t.procs[idx[0]].comm, "big") == 0 && t.procs[idx[0]].ppid == 1);
    /* the pid counter wraps: every old task reads its stat */
    put_loadavg(7);
    CHECK(rm_ptable_scan(&t, 1) == 6 && t.old_max == 0);
    CHECK(t.procs[rm_ptable_find(&t, 50)].ppid == 1);
    CHECK(strcmp(t.procs[rm_ptable_find(&t, 50)].comm, "sampler") == 0);
    CHECK(rm_ptable_tree(&t, 1, idx, 8, &sum, &count) == 5 && count == 5);
    rm_ptable_close(&t);
    remove_root();
}

/* A pool of same-size processes: only the listed ones and the 2N largest
 * are read between rescans, not every process of at least half the N-th. */
static void test_top_candidates(void)
{
    rm_ptable t;
    size_t idx[4];
    long ps = sysconf(_SC_PAGESIZE);
    int pid, listed[2];

    make_root("candidates");
    make_dirs("/proc");
    fake_proc(1, "init", 0, 1000, NULL, 0);
    for (pid = 100; pid < 120; pid++)
        fake_proc(pid, "sleep", 1, 100, NULL, 0);
    CHECK(rm_ptable_open(&t, root, "proc") == 0);
    CHECK(rm_ptable_scan(&t, 1) == 21);
    CHECK(rm_ptable_top(&t, 2, idx) == 2);
    CHECK(t.cold_below == 100 * (uint64_t)ps + 1); /* not 100 * ps / 2 */
    listed[0] = t.procs[idx[0]].pid;
    listed[1] = t.procs[idx[1]].pid;
    CHECK(listed[0] == 1);
    pid = listed[1] == 119 ? 118 : 119;
    fake_proc(listed[1], "sleep", 1, 90, NULL, 0);
    fake_proc(pid, "sleep", 1, 150, NULL, 0);
    CHECK(rm_ptable_scan(&t, 0) == 21);
    CHECK(t.procs[rm_ptable_find(&t, listed[1])].rss == 90 * (uint64_t)ps); /* listed: read */
    CHECK(t.procs[rm_ptable_find(&t, pid)].rss == 100 * (uint64_t)ps);      /* not yet */
    for (int r = 0; r < RM_PT_COLD_EVERY; r++)
        CHECK(rm_ptable_scan(&t, 1) == 21);
    CHECK(t.procs[rm_ptable_find(&t, pid)].rss == 150 * (uint64_t)ps); /* its turn came */
    CHECK(rm_ptable_top(&t, 2, idx) == 2 && t.procs[idx[1]].pid == pid);
    rm_ptable_close(&t);
    remove_root();
}

/* The fd budget follows RLIMIT_NOFILE, and the command gets its limit back. */
static void test_fd_budget(void)
{
    struct rlimit rl0, rl;
    rm_ptable t;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl0) == 0);
    rl = rl0;
    rl.rlim_cur = 100;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 100)
        return;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK(rm_ptable_open(&t, "", "proc") == 0);
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl0.rlim_max == RLIM_INFINITY || rl0.rlim_max >= RM_PT_FD_MAX + RM_PT_FD_RESERVE) {
        CHECK(rl.rlim_cur == RM_PT_FD_MAX + RM_PT_FD_RESERVE); /* raised */
        CHECK(t.fd_max == RM_PT_FD_MAX);
    } else {
        CHECK(rl.rlim_cur == rl0.rlim_max);
        CHECK(t.fd_max > 0 && t.fd_max < rl.rlim_cur);
    }
    CHECK(rm_ptable_scan(&t, 1) > 0 && t.nfds > 0 && t.nfds <= t.fd_max);
    rm_ptable_restore_nofile(&t);
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 100);
    rm_ptable_close(&t);
    CHECK(setrlimit(RLIMIT_NOFILE, &rl0) == 0);
}

/* Topology from a fake sysfs: 2 packages of 2 cores of 2 threads. */
static void test_topo_sysfs(void)
{
    rm_topo topo;
    int ids[8];
    char rel[128], text[16];
    make_root("sysfs");
    make_dirs("/devices/system/node");
    make_dirs("/devices/system/cpu");
    put_file("/devices/system/cpu/online", "0-7\n", 4);
    for (int c = 0; c < 8; c++) {
        snprintf(rel, sizeof(rel), "/devices/system/cpu/cpu%d/topology", c);
        make_dirs(rel);
        snprintf(rel, sizeof(rel), "/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        put_file(rel, text, (size_t)snprintf(text, sizeof(text), "%d\n", c / 4));
        snprintf(rel, sizeof(rel), "/devices/system/cpu/cpu%d/topology/core_id", c);
        put_file(rel, text, (size_t)snprintf(text, sizeof(text), "%d\n", (c % 4) / 2));
    }
    put_file("/devices/system/node/online", "0-1\n", 4);
    rm_topo_read_from(&topo, root, 0);
    CHECK(strcmp(topo.src, "sysfs") == 0);
    CHECK(topo.pus == 8 && topo.packages == 2 && topo.cores == 4 && topo.numa == 2);
    CHECK(topo.cpus_affinity > 0);
    /* an unreadable sysfs leaves the online CPU count alone */
    put_file("/devices/system/cpu/online", "", 0);
    rm_topo_read_from(&topo, root, 0);
    CHECK(strcmp(topo.src, "sysconf") == 0 && topo.pus > 0 && topo.cores == -1);
    remove_root();

    CHECK(cpulist_parse("0-3,8,10-11\n", ids, 8) == 7 && ids[4] == 8 && ids[6] == 11);
    CHECK(cpulist_parse("5", ids, 8) == 1 && ids[0] == 5);
    CHECK(cpulist_parse("", ids, 8) == 0);
    CHECK(cpulist_parse("3-1", ids, 8) == -1);
    CHECK(cpulist_parse("a", ids, 8) == -1);
    CHECK(cpulist_parse("0-", ids, 8) == -1);
    CHECK(cpulist_parse("0-4095", NULL, 0) == 4096);
}

/* The real topology: hwloc when it loads (unless switched off), else sysfs. */
static void test_topo_real(void)
{
    rm_topo a, b;
    rm_topo_read_from(&a, "/sys", 1);
    rm_topo_read_from(&b, "/sys", 0);
    CHECK(strcmp(a.src, "hwloc") == 0 || strcmp(a.src, "sysfs") == 0);
    CHECK(strcmp(b.src, "sysfs") == 0 || strcmp(b.src, "sysconf") == 0);
    if (strcmp(a.src, "hwloc") == 0 && strcmp(b.src, "sysfs") == 0) {
        /* both describe the same machine */
        CHECK(a.pus == b.pus);
        CHECK(a.packages == b.packages);
        CHECK(a.cores == b.cores);
    }
}

int main(void)
{
    test_parse_stat();
    test_tree();
    test_scan_economy();
    test_outside_now();
    test_top_candidates();
    test_fd_budget();
    test_topo_sysfs();
    test_topo_real();
    test_psi_load_kmsg();
    test_kmsg_age();
    test_oom_in_tree();
    test_cgroup_v2_headroom();
    test_oom_window();
    return check_done("test_sampler_units");
}
