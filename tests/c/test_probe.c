/* SPDX-License-Identifier: MIT */
/* test_probe.c: the Linux probe against fake /proc and cgroup v1/v2 trees. */
#include "check.h"
#include "../../csrc/probe/linux.c"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
    make_root("v2");
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
    remove_root();
}

/* The limits are read at most once a second; usage and the OOM-kill
 * counter every time. put() rewrites a file in place, so the probe's
 * kept-open fds see the new text. */
static void test_limit_cache(void)
{
    rm_probe p;
    rm_sample s;
    make_root("cache");
    fake_proc();
    put("/proc/self/cgroup", "0::/ci/job\n");
    put("/sys/fs/cgroup/memory.max", "max\n");
    put("/sys/fs/cgroup/ci/memory.max", "4000000000\n");
    put("/sys/fs/cgroup/ci/job/memory.max", "max\n");
    put("/sys/fs/cgroup/ci/job/memory.current", "100\n");
    put("/sys/fs/cgroup/ci/job/memory.events", "oom 0\noom_kill 0\n");
    CHECK(rm_probe_open(&p, 0, root) == 0);
    CHECK(p.n_cg_limit == 3);
    rm_probe_sample(&p, &s, RM_READ_CGROUP);
    CHECK(s.cg_limit == 4000000000ull && s.cg_usage == 100 && s.cg_oom_kills == 0);
    CHECK(p.cg_lim_at_ns != 0 && !(p.cg_lim_seq & 1));

    put("/sys/fs/cgroup/ci/memory.max", "3000000000\n");
    put("/sys/fs/cgroup/ci/job/memory.current", "200\n");
    put("/sys/fs/cgroup/ci/job/memory.events", "oom 1\noom_kill 1\n");
    rm_probe_sample(&p, &s, RM_READ_CGROUP);
    CHECK(s.cg_limit == 4000000000ull); /* cached: the second has not passed */
    CHECK((s.valid & RM_HAVE_CG_LIMIT));
    CHECK(s.cg_usage == 200 && s.cg_oom_kills == 1); /* never cached */

    /* a second later (the read moved back in time) the new limit shows */
    p.cg_lim_at_ns -= RM_CG_LIMIT_TTL_NS;
    rm_probe_sample(&p, &s, RM_READ_CGROUP);
    CHECK(s.cg_limit == 3000000000ull);

    /* a cache being written (odd sequence, as a signal handler that
     * interrupted the writer sees it) is bypassed and left alone */
    put("/sys/fs/cgroup/ci/memory.max", "max\n");
    p.cg_lim_seq++;
    rm_probe_sample(&p, &s, RM_READ_CGROUP);
    CHECK((s.valid & RM_HAVE_CG_LIMIT) && s.cg_limit == RM_NO_LIMIT);
    CHECK(p.cg_lim == 3000000000ull && (p.cg_lim_seq & 1));
    p.cg_lim_seq++;
    rm_probe_sample(&p, &s, RM_READ_CGROUP);
    CHECK(s.cg_limit == 3000000000ull); /* still within its second */
    rm_probe_close(&p);

    /* a new probe reads afresh */
    CHECK(rm_probe_open(&p, 0, root) == 0);
    rm_probe_sample(&p, &s, RM_READ_CGROUP);
    CHECK((s.valid & RM_HAVE_CG_LIMIT) && s.cg_limit == RM_NO_LIMIT);
    rm_probe_close(&p);
    remove_root();
}

static void test_v1(void)
{
    rm_probe p;
    rm_sample s;
    make_root("v1");
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
    remove_root();
}

static void test_missing(void)
{
    rm_probe p;
    rm_sample s;
    make_root("none");
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
    remove_root();
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
    /* the thread count alone comes from the task directory's link count,
     * which agreed with stat when the probe was opened */
    CHECK(p.fd_task >= 0);
    rm_probe_sample(&p, &a, RM_READ_THREADS);
    CHECK((a.valid & RM_HAVE_THREADS) && a.threads == 1);
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

/* Same file: fd and path name one /proc inode (per pid: a parent's statm
 * and its child's differ). */
static int same_file(int fd, const char *path)
{
    struct stat a, b;
    return fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* A probe opened before fork() describes the child in the child: /proc/self
 * resolved to the parent when it was opened, and the child's first read
 * reopens the files under the same fd numbers. */
static void test_fork(void)
{
    rm_probe p;
    rm_sample before;
    int status, statm_fd, task_fd;
    pid_t pid;
    CHECK(rm_probe_open(&p, 0, "") == 0);
    statm_fd = p.fd_statm;
    task_fd = p.fd_task;
    rm_probe_sample(&p, &before, RM_READ_PROC);
    CHECK(same_file(p.fd_statm, "/proc/self/statm"));
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* the child: exit status = number of failed checks */
        size_t n = 96 << 20;
        int bad = 0;
        rm_sample s;
        char *big = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        rm_probe fresh;
        rm_sample f;
        if (big == MAP_FAILED)
            _exit(100);
        memset(big, 1, n);
        bad += !!same_file(p.fd_statm, "/proc/self/statm"); /* still the parent's */
        rm_probe_sample(&p, &s, RM_READ_PROC | RM_READ_THREADS);
        bad += !same_file(p.fd_statm, "/proc/self/statm");
        bad += !same_file(p.fd_stat, "/proc/self/stat");
        bad += !same_file(p.fd_status, "/proc/self/status");
        bad += !same_file(p.fd_task, "/proc/self/task");
        bad += p.fd_statm != statm_fd || p.fd_task != task_fd; /* same numbers */
        bad += !(s.valid & RM_HAVE_RSS) || s.rss < before.rss + n - (8 << 20);
        bad += !(s.valid & RM_HAVE_THREADS) || s.threads != 1;
        bad += rm_probe_open(&fresh, 0, "") != 0;
        rm_probe_sample(&fresh, &f, RM_READ_PROC);
        bad += f.rss > s.rss + (4 << 20) || s.rss > f.rss + (4 << 20);
        rm_probe_close(&fresh);
        _exit(bad);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFEXITED(status) && WEXITSTATUS(status))
        fprintf(stderr, "test_fork: %d check(s) failed in the child\n", WEXITSTATUS(status));
    /* the parent's probe still reads the parent */
    CHECK(same_file(p.fd_statm, "/proc/self/statm"));
    CHECK(same_file(p.fd_task, "/proc/self/task"));
    rm_probe_close(&p);
}

/* VmHWM from /proc/self/status, for checking the probe against it. */
static uint64_t status_hwm(void)
{
    char buf[4096], *q;
    FILE *f = fopen("/proc/self/status", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    q = strstr(buf, "VmHWM:");
    return q ? strtoull(q + 6, NULL, 10) * 1024 : 0;
}

/* The child half of test_exec_peak, in an image exec'ed by a process that
 * peaked at 96 MiB: getrusage's ru_maxrss starts at that peak. The exit
 * status is the number of failed checks. */
static int exec_peak_child(void)
{
    size_t n = 160 << 20;
    int bad = 0;
    rm_probe p;
    rm_sample s;
    char *big;
    if (rm_probe_open(&p, 0, "") != 0)
        return 100;
    /* the inherited peak is not this image's: VmHWM, read from status */
    bad += p.hwm_from_rusage != 0 || p.rusage_recheck != 1;
    rm_probe_sample(&p, &s, RM_READ_PROC);
    bad += !(s.valid & RM_HAVE_HWM) || s.hwm > (64u << 20);
    bad += p.hwm_from_rusage != 0; /* its own peak is still below the inherited one */
    big = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED)
        return 101;
    memset(big, 1, n);
    rm_probe_sample(&p, &s, RM_READ_PROC);
    /* past it: the two agree, the cheap one serves from now on */
    bad += p.hwm_from_rusage != 1;
    bad += s.hwm < n;
    rm_probe_sample(&p, &s, RM_READ_PROC);
    {
        uint64_t st = status_hwm();
        bad += s.hwm + (1u << 20) < st || st + (1u << 20) < s.hwm;
    }
    munmap(big, n);
    if (rm_probe_reset_peak(&p) == 0) {
        /* VmHWM drops; ru_maxrss keeps the 96 MiB from before exec */
        bad += p.hwm_from_rusage != 0;
        rm_probe_sample(&p, &s, RM_READ_PROC);
        bad += s.hwm > (64u << 20);
    }
    rm_probe_close(&p);
    return bad;
}

/* An image exec'ed by a big process: the probe reads VmHWM until its own
 * peak passes the inherited ru_maxrss, then getrusage (an xdist worker is
 * exec'ed by its controller). */
static void test_exec_peak(const char *self)
{
    size_t n = 96 << 20;
    int status;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char *big = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (big == MAP_FAILED)
            _exit(102);
        memset(big, 1, n);
        execl(self, self, "--exec-peak-child", (char *)NULL);
        _exit(103);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFEXITED(status) && WEXITSTATUS(status))
        fprintf(stderr, "test_exec_peak: %d (check(s) failed in the child)\n", WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exec-peak-child") == 0)
        return exec_peak_child();
    test_v2();
    test_limit_cache();
    test_v1();
    test_missing();
    test_self();
    test_fork();
    test_exec_peak("/proc/self/exe");
    return check_done("test_probe");
}
