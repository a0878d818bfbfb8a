/* SPDX-License-Identifier: MIT */
/* test_sampler_units.c: unit tests of the sampler's parsers and its /proc reader on a fake tree. */
#include "../c/check.h"
#include "../../csrc/sampler/ptable.c"
#include "../../csrc/sampler/sysinfo.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[256];

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

    snprintf(root, sizeof(root), "/tmp/rm_sampler_units_%d", (int)getpid());
    mkdir(root, 0755);
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
    fake_proc(11, "renamed", 10, 350, NULL, 0);
    CHECK(rm_ptable_scan(&t, 0) == 8); /* RSS from statm now, name at the rescan */
    CHECK(t.procs[rm_ptable_find(&t, 11)].rss == 350 * (uint64_t)ps);
    CHECK(strcmp(t.procs[rm_ptable_find(&t, 11)].comm, "python") == 0);
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
    {
        char rm[400];
        int rc;
        snprintf(rm, sizeof(rm), "rm -rf '%s'", root);
        rc = system(rm);
        (void)rc;
    }
}

static void test_psi_load_kmsg(void)
{
    rm_psi psi;
    rm_load load;
    int pid = 0;
    char comm[16];
    const char *k1 = "3,1234,5678,-;Memory cgroup out of memory: Killed process 4242 (python3) "
                     "total-vm:1000kB, anon-rss:900kB";
    const char *k2 = "6,1,2,-;Out of memory: Kill process 77 (a b) score 900";
    CHECK(rm_psi_parse("some avg10=12.34 avg60=1.00 avg300=0.00 total=5000\n"
                       "full avg10=0.50 avg60=0.00 avg300=0.00 total=70\n",
                       &psi) == 0);
    CHECK(psi.some10 == 1234 && psi.full10 == 50 && psi.some_total == 5000 && psi.full_total == 70);
    CHECK(rm_psi_parse("nonsense", &psi) == -1);
    CHECK(rm_load_parse("0.30 1.14 10.06 2/85 5975\n", &load) == 0);
    CHECK(load.l1 == 30 && load.l5 == 114 && load.l15 == 1006 && load.tasks == 85);
    CHECK(rm_load_parse("x", &load) == -1);
    CHECK(rm_kmsg_oom(k1, strlen(k1), &pid, comm, sizeof(comm)) == 1);
    CHECK(pid == 4242 && strcmp(comm, "python3") == 0);
    CHECK(rm_kmsg_oom(k2, strlen(k2), &pid, comm, sizeof(comm)) == 1);
    CHECK(pid == 77 && strcmp(comm, "a b") == 0);
    CHECK(rm_kmsg_oom("6,1,2,-;Killed process", 22, &pid, comm, sizeof(comm)) == 0);
    CHECK(rm_kmsg_oom(k1, 40, &pid, comm, sizeof(comm)) == 0); /* cut before the pid */
}

int main(void)
{
    test_parse_stat();
    test_tree();
    test_psi_load_kmsg();
    return check_done("test_sampler_units");
}
