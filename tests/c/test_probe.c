/* SPDX-License-Identifier: MIT */
/* test_probe.c: the Linux probe against fake /proc and cgroup v1/v2 trees. */
#include "check.h"
#include "../../csrc/probe/linux.c"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

static char root[256];

static void put(const char *rel, const char *text)
{
    char path[512], tmp[600];
    char *slash;
    FILE *f;
    snprintf(path, sizeof(path), "%s%s", root, rel);
    /* mkdir -p of the parent */
    for (slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    snprintf(tmp, sizeof(tmp), "%s", path);
    f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void fake_proc(void)
{
    put("/proc/self/statm", "5000 1000 300 10 0 600 0\n");
    put("/proc/self/stat", "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 7 0 "
                           "100 20480000 1000 18446744073709551615\n");
    put("/proc/self/status", "Name:\tpython\nVmPeak:\t  30000 kB\nVmHWM:\t    8000 kB\n"
                             "VmRSS:\t    4000 kB\nRssAnon:\t    3000 kB\nRssFile:\t     900 kB\n"
                             "RssShmem:\t     100 kB\nVmSwap:\t      12 kB\nThreads:\t7\n");
    put("/proc/meminfo", "MemTotal:       7000000 kB\nMemFree:         100000 kB\n"
                         "MemAvailable:    400000 kB\nBuffers:           1000 kB\n"
                         "Cached:          300000 kB\nSwapCached:           0 kB\n"
                         "SwapTotal:       4000000 kB\nSwapFree:        3000000 kB\n");
}

static void test_v2(void)
{
    rm_probe p;
    rm_sample s;
    snprintf(root, sizeof(root), "/tmp/rm_probe_v2_%d", (int)getpid());
    fake_proc();
    put("/proc/self/cgroup", "0::/system.slice/runner.service/job\n");
    put("/sys/fs/cgroup/memory.max", "max\n");
    put("/sys/fs/cgroup/system.slice/memory.max", "max\n");
    put("/sys/fs/cgroup/system.slice/runner.service/memory.max", "7516192768\n");
    put("/sys/fs/cgroup/system.slice/runner.service/job/memory.max", "max\n");
    put("/sys/fs/cgroup/system.slice/runner.service/job/memory.current", "5368709120\n");
    put("/sys/fs/cgroup/system.slice/runner.service/job/memory.peak", "6442450944\n");
    put("/sys/fs/cgroup/system.slice/runner.service/job/memory.events",
        "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n");
    CHECK(rm_probe_open(&p, 0, root) == 0);
    CHECK(p.cg_version == 2);
    CHECK(strcmp(p.cg_path, "/sys/fs/cgroup/system.slice/runner.service/job") == 0);
    rm_probe_sample(&p, &s, RM_READ_ALL);
    CHECK(s.rss == 1000 * (uint64_t)p.page_size);
    CHECK(s.vms == 5000 * (uint64_t)p.page_size);
    CHECK(s.hwm == 8000 * 1024);
    CHECK(s.anon == 3000 * 1024 && s.file == 900 * 1024 && s.shmem == 100 * 1024);
    CHECK(s.swap == 12 * 1024);
    CHECK(s.threads == 7);
    CHECK(s.mem_total == 7000000ull * 1024 && s.mem_avail == 400000ull * 1024);
    CHECK(s.mem_free == 100000ull * 1024 && s.mem_cached == 300000ull * 1024);
    CHECK(s.swap_total == 4000000ull * 1024 && s.swap_free == 3000000ull * 1024);
    CHECK(s.cg_usage == 5368709120ull);
    CHECK(s.cg_peak == 6442450944ull);
    CHECK(s.cg_limit == 7516192768ull);
    CHECK(s.cg_oom_kills == 2);
    CHECK((s.valid & (RM_HAVE_CG_USAGE | RM_HAVE_CG_LIMIT | RM_HAVE_CG_PEAK | RM_HAVE_CG_OOM)) ==
          (RM_HAVE_CG_USAGE | RM_HAVE_CG_LIMIT | RM_HAVE_CG_PEAK | RM_HAVE_CG_OOM));
    /* threads alone come from stat, whose comm holds ") " */
    rm_probe_sample(&p, &s, RM_READ_THREADS);
    CHECK((s.valid & RM_HAVE_THREADS) && s.threads == 7);
    CHECK(rm_probe_threads(&p) == 7);
    rm_probe_close(&p);

    /* no limit anywhere; an older kernel without memory.peak */
    put("/sys/fs/cgroup/system.slice/runner.service/memory.max", "max\n");
    snprintf(root + strlen(root), sizeof(root) - strlen(root), "%s", "");
    {
        char peak[512];
        snprintf(peak, sizeof(peak), "%s/sys/fs/cgroup/system.slice/runner.service/job/memory.peak",
                 root);
        unlink(peak);
    }
    CHECK(rm_probe_open(&p, 0, root) == 0);
    rm_probe_sample(&p, &s, RM_READ_CGROUP);
    CHECK((s.valid & RM_HAVE_CG_LIMIT) && s.cg_limit == RM_NO_LIMIT);
    CHECK(!(s.valid & RM_HAVE_CG_PEAK));
    rm_probe_close(&p);
}

static void test_v1(void)
{
    rm_probe p;
    rm_sample s;
    snprintf(root, sizeof(root), "/tmp/rm_probe_v1_%d", (int)getpid());
    fake_proc();
    put("/proc/self/cgroup", "12:pids:/\n4:cpu,cpuacct:/\n3:memory:/ci/job\n1:name=systemd:/\n"
                             "0::/\n");
    put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    put("/sys/fs/cgroup/memory/ci/memory.limit_in_bytes", "2147483648\n");
    put("/sys/fs/cgroup/memory/ci/job/memory.limit_in_bytes", "9223372036854771712\n");
    put("/sys/fs/cgroup/memory/ci/job/memory.usage_in_bytes", "1073741824\n");
    put("/sys/fs/cgroup/memory/ci/job/memory.max_usage_in_bytes", "2000000000\n");
    put("/sys/fs/cgroup/memory/ci/job/memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    CHECK(rm_probe_open(&p, 0, root) == 0);
    CHECK(p.cg_version == 1);
    rm_probe_sample(&p, &s, RM_READ_CGROUP);
    CHECK(s.cg_usage == 1073741824ull);
    CHECK(s.cg_peak == 2000000000ull);
    CHECK(s.cg_limit == 2147483648ull);
    CHECK(s.cg_oom_kills == 3);
    rm_probe_close(&p);
}

static void test_missing(void)
{
    rm_probe p;
    rm_sample s;
    snprintf(root, sizeof(root), "/tmp/rm_probe_none_%d", (int)getpid());
    mkdir(root, 0755);
    /* nothing at all: open fails cleanly */
    CHECK(rm_probe_open(&p, 0, root) == -1);
    rm_probe_close(&p);
    /* garbage everywhere: no field is made up */
    put("/proc/self/statm", "garbage\n");
    put("/proc/self/status", "VmHWM: lots\nThreads:\n");
    put("/proc/meminfo", "\n\n:::\nMemTotal:\n");
    put("/proc/self/cgroup", "nonsense without colons\n3:memory\n");
    CHECK(rm_probe_open(&p, 0, root) == 0);
    rm_probe_sample(&p, &s, RM_READ_ALL);
    CHECK(s.valid == 0);
    CHECK(p.cg_version == 0);
    rm_probe_close(&p);
}

static void test_self(void)
{
    rm_probe p;
    rm_sample a, b;
    char *big;
    size_t n = 64 << 20;
    CHECK(rm_probe_open(&p, 0, "") == 0);
    rm_probe_sample(&p, &a, RM_READ_ALL);
    CHECK((a.valid & (RM_HAVE_RSS | RM_HAVE_HWM | RM_HAVE_THREADS | RM_HAVE_MEM_AVAIL)) ==
          (RM_HAVE_RSS | RM_HAVE_HWM | RM_HAVE_THREADS | RM_HAVE_MEM_AVAIL));
    CHECK(a.threads == 1);
    /* mmap, not malloc: a sanitizer's allocator would keep freed memory */
    big = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(big != MAP_FAILED);
    memset(big, 1, n);
    rm_probe_sample(&p, &b, RM_READ_PROC);
    CHECK(b.rss >= a.rss + n - (4 << 20));
    CHECK(b.hwm >= b.rss);
    munmap(big, n);
    if (rm_probe_reset_peak(&p) == 0) {
        rm_probe_sample(&p, &b, RM_READ_PROC);
        CHECK(b.hwm < a.rss + n / 2); /* the 64 MiB peak is forgotten */
    }
    rm_probe_close(&p);
}

int main(void)
{
    test_v2();
    test_v1();
    test_missing();
    test_self();
    return check_done("test_probe");
}
