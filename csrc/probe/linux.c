/* SPDX-License-Identifier: MIT */
/* linux.c: the probe on Linux: /proc, and the memory cgroup (v1 or v2). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

const char rm_probe_platform[] = "linux";

/* /proc/self/status is about 1.5 KB; meminfo about 1.5 KB; memory.stat of a
 * cgroup about 1.5 KB (v1) to 2.5 KB (v2, where inactive_file comes early). */
#define RM_READ_BUF 4096

/* How long a read of the cgroup limits (memory.max, memory.limit_in_bytes of
 * the group and its ancestors) is reused: limits are configuration, and
 * reading them cost about a third of a marker's cgroup reads (cgroup v1, a
 * group three levels deep). A changed limit shows within this long. */
#ifndef RM_CG_LIMIT_TTL_NS
#define RM_CG_LIMIT_TTL_NS 1000000000ull
#endif

/* Forks this process image has made, counted in the child by a
 * pthread_atfork handler. A probe of the calling process notes the count
 * its /proc/self files were opened under: /proc/self resolves at open, so
 * in a forked child those fds still describe the parent, and the child's
 * first read reopens them (reopen_self). A child made by a raw clone(2),
 * which runs no atfork handler, is not seen. */
static volatile unsigned rm_forks;
static pthread_once_t rm_forks_once = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
    rm_forks++; /* in the child, which has one thread now */
}

static void watch_forks(void)
{
    pthread_atfork(NULL, NULL, count_fork);
}

/* CLOCK_MONOTONIC in ns, 0 when unavailable. Async-signal-safe. */
static uint64_t mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads a whole small file into buf from offset 0 and NUL-terminates it.
 * Async-signal-safe: pread(2) only. Returns the length or -1. */
static ssize_t read_at0(int fd, char *buf, size_t cap)
{
    ssize_t n;
    if (fd < 0)
        return -1;
    do
        n = pread(fd, buf, cap - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* Parses an unsigned decimal at *s; skips leading blanks. Returns 0 when
 * there is no digit. Saturates instead of overflowing. */
static int parse_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        p++;
    }
    *s = p;
    *out = v;
    return 1;
}

/* Finds "key" at the start of a line in text, then parses the number that
 * follows (after ':' or blanks). "kB" values are scaled to bytes. */
static int find_value(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, key, klen) == 0) {
            const char *q = p + klen;
            uint64_t v;
            if (*q == ':')
                q++;
            if (parse_u64(&q, &v)) {
                while (*q == ' ')
                    q++;
                if (q[0] == 'k' && q[1] == 'B')
                    v = v > UINT64_MAX / 1024 ? UINT64_MAX : v * 1024;
                *out = v;
                return 1;
            }
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return 0;
}

static int open_ro_flags(const char *root, const char *path, int flags)
{
    char full[768];
    int n = snprintf(full, sizeof(full), "%s%s", root, path);
    if (n < 0 || (size_t)n >= sizeof(full))
        return -1;
    return open(full, flags | O_CLOEXEC);
}

static int open_ro(const char *root, const char *path)
{
    return open_ro_flags(root, path, O_RDONLY);
}

static int open_in(const char *dir, const char *name)
{
    char path[700];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* open(dir "/" name, flags | O_CLOEXEC) with the path joined by hand.
 * Async-signal-safe: strlen, memcpy, open(2). Returns the fd or -1. */
static int open_joined(const char *dir, const char *name, int flags)
{
    char path[700];
    size_t dn = strlen(dir), nn = strlen(name);
    if (dn + 1 + nn >= sizeof(path))
        return -1;
    memcpy(path, dir, dn);
    path[dn] = '/';
    memcpy(path + dn + 1, name, nn + 1);
    return open(path, flags | O_CLOEXEC);
}

/* The files of <proc>/<pid or self> a probe keeps open, and how. */
static const struct self_file {
    const char *name;
    int flags;
    size_t off; /* of the fd in rm_probe */
} self_files[] = {
    {"statm", O_RDONLY, offsetof(rm_probe, fd_statm)},
    {"stat", O_RDONLY, offsetof(rm_probe, fd_stat)},
    {"status", O_RDONLY, offsetof(rm_probe, fd_status)},
    {"task", O_RDONLY | O_DIRECTORY, offsetof(rm_probe, fd_task)},
    {"clear_refs", O_WRONLY, offsetof(rm_probe, fd_clear_refs)},
};
#define RM_N_SELF_FILES (sizeof(self_files) / sizeof(self_files[0]))

static int *self_fd(rm_probe *p, size_t i)
{
    return (int *)(void *)((char *)p + self_files[i].off);
}

/* In a forked child: points the kept /proc/self fds at the child's files.
 * Each fd keeps its number (dup3 over it), so a reader that raced with
 * this, a signal handler or another thread, reads the parent's file or the
 * child's. A file that cannot be reopened (no fd left) is closed and its
 * fields go unread: nothing is better than the parent's numbers, though a
 * reader racing with that close may then read a closed, or reused, fd.
 * Async-signal-safe: open(2), dup3(2), close(2), memcpy. */
static void reopen_self(rm_probe *p)
{
    unsigned forks = rm_forks;
    size_t i;
    for (i = 0; i < RM_N_SELF_FILES; i++) {
        int *fdp = self_fd(p, i), old = *fdp, nfd;
        if (old < 0)
            continue;
        nfd =
            p->self_dir[0] ? open_joined(p->self_dir, self_files[i].name, self_files[i].flags) : -1;
        if (nfd >= 0 && nfd != old && dup3(nfd, old, O_CLOEXEC) < 0) {
            close(nfd);
            nfd = -1;
        }
        if (nfd < 0) {
            *fdp = -1;
            close(old);
        } else if (nfd != old) {
            close(nfd);
        }
    }
    p->self_forks = forks;
}

/* Reopens the /proc/self files when this process is a fork of the one that
 * opened them. Async-signal-safe (reopen_self); one load otherwise. */
static void check_fork(rm_probe *p)
{
    if (p->pid <= 0 && p->self_forks != rm_forks)
        reopen_self(p);
}

/* num_threads, field 20 of /proc/<pid>/stat: cheaper than status, but 3-5 us
 * (the kernel formats 52 fields and sums the threads' times). The command
 * name (field 2) may hold spaces and ')' so count from the last ')'.
 * Async-signal-safe: pread(2). */
static int read_stat_threads(rm_probe *p, uint64_t *out)
{
    char buf[1024];
    const char *q;
    int field;
    if (read_at0(p->fd_stat, buf, sizeof(buf)) <= 0 || !(q = strrchr(buf, ')')))
        return 0;
    for (field = 2; field < 20 && *q; q++)
        if (*q == ' ')
            field++;
    return field == 20 && parse_u64(&q, out);
}

/* Threads from the link count of <proc>/task, to which the kernel adds the
 * number of threads (proc_task_getattr: 2 + threads): one fstat(2), about
 * 0.3 us. fd_task is kept only where this agreed with stat (check_task_fd).
 * Async-signal-safe: fstat(2). */
static int read_task_threads(rm_probe *p, uint64_t *out)
{
    struct stat st;
    if (p->fd_task < 0 || fstat(p->fd_task, &st) != 0 || st.st_nlink <= 2)
        return 0; /* a live process has a thread */
    *out = (uint64_t)st.st_nlink - 2;
    return 1;
}

/* Async-signal-safe (read_task_threads, read_stat_threads). */
static int read_threads(rm_probe *p, uint64_t *out)
{
    return read_task_threads(p, out) || read_stat_threads(p, out);
}

/* Keeps fd_task only if its link count gives stat's num_threads, read before
 * and after it (retried if a thread came or went in between): a kernel that
 * counts otherwise, or a fake tree's plain directory, falls back to stat. */
static void check_task_fd(rm_probe *p)
{
    int attempt;
    for (attempt = 0; attempt < 3 && p->fd_task >= 0; attempt++) {
        uint64_t before, links, after;
        if (!read_stat_threads(p, &before) || !read_task_threads(p, &links) ||
            !read_stat_threads(p, &after))
            break;
        if (before == after) {
            if (links == before)
                return;
            break;
        }
    }
    if (p->fd_task >= 0)
        close(p->fd_task);
    p->fd_task = -1;
}

/* Finds the process's memory cgroup from <root>/proc/<pid>/cgroup and opens
 * its files. v1: a line "N:...memory...:/path"; v2: "0::/path". */
static void open_cgroup(rm_probe *p, const char *root, const char *procdir)
{
    char path[128], buf[RM_READ_BUF], dir[600];
    const char *line, *rel = NULL;
    size_t rel_len = 0;
    int fd, v = 0, n;
    ssize_t len;

    snprintf(path, sizeof(path), "%s/cgroup", procdir);
    fd = open_ro(root, path);
    len = read_at0(fd, buf, sizeof(buf));
    if (fd >= 0)
        close(fd);
    if (len <= 0)
        return;
    for (line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *c1 = strchr(line, ':'), *c2, *end;
        if (!c1)
            continue;
        c2 = strchr(c1 + 1, ':');
        end = strchr(line, '\n');
        if (!c2 || (end && c2 > end))
            continue;
        if (!end)
            end = line + strlen(line);
        if (c2 == c1 + 1 && line[0] == '0' && c1 == line + 1) {
            if (v != 1) { /* v1 memory wins over the unified line */
                v = 2;
                rel = c2 + 1;
                rel_len = (size_t)(end - rel);
            }
        } else {
            /* controller list c1+1 .. c2, comma separated */
            const char *q = c1 + 1;
            while (q < c2) {
                const char *comma = memchr(q, ',', (size_t)(c2 - q));
                const char *e = comma ? comma : c2;
                if ((size_t)(e - q) == 6 && memcmp(q, "memory", 6) == 0) {
                    v = 1;
                    rel = c2 + 1;
                    rel_len = (size_t)(end - rel);
                }
                q = e + 1;
            }
        }
    }
    if (!v || rel_len >= 400)
        return;
    if (rel_len == 1 && rel[0] == '/')
        rel_len = 0;

    /* Inside a container the path in /proc may be the host's view; then the
     * mount root is the group itself. Try the path, then the mount root. */
    for (int attempt = 0; attempt < 2; attempt++) {
        n = snprintf(dir, sizeof(dir), "%s/sys/fs/cgroup%s%.*s", root, v == 1 ? "/memory" : "",
                     attempt ? 0 : (int)rel_len, rel);
        if (n < 0 || (size_t)n >= sizeof(dir))
            return;
        if (access(dir, F_OK) == 0)
            break;
        if (attempt)
            return;
    }
    snprintf(p->cg_path, sizeof(p->cg_path), "%s", dir + strlen(root));
    p->cg_version = v;

    {
        /* The effective limit is the smallest of the group's and its
         * ancestors' (v1's memory.stat has it precomputed, but reading that
         * file costs ten times more than a few one-number files). */
        const char *limit_file = v == 1 ? "memory.limit_in_bytes" : "memory.max";
        size_t base = strlen(root) + strlen(v == 1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup");
        p->fd_cg_usage = open_in(dir, v == 1 ? "memory.usage_in_bytes" : "memory.current");
        p->fd_cg_peak = open_in(dir, v == 1 ? "memory.max_usage_in_bytes" : "memory.peak");
        p->fd_cg_events = open_in(dir, v == 1 ? "memory.oom_control" : "memory.events");
        p->fd_cg_stat = open_in(dir, "memory.stat");
        while (p->n_cg_limit < RM_CG_MAX_DEPTH) {
            char *slash;
            int lfd = open_in(dir, limit_file);
            if (lfd >= 0)
                p->fd_cg_limit[p->n_cg_limit++] = lfd;
            slash = strrchr(dir, '/');
            if (!slash || (size_t)(slash - dir) < base)
                break;
            *slash = '\0';
        }
    }
}

int rm_probe_open(rm_probe *p, int pid, const char *root)
{
    char procdir[64], path[96];
    struct rusage ru;
    int i, n;

    memset(p, 0, sizeof(*p));
    p->fd_statm = p->fd_stat = p->fd_status = p->fd_meminfo = p->fd_clear_refs = -1;
    p->fd_task = -1;
    p->fd_cg_usage = p->fd_cg_peak = p->fd_cg_events = p->fd_cg_stat = -1;
    for (i = 0; i < RM_CG_MAX_DEPTH; i++)
        p->fd_cg_limit[i] = -1;
    if (!root)
        root = "";
    p->pid = pid;
    p->page_size = sysconf(_SC_PAGESIZE);
    if (pid > 0)
        snprintf(procdir, sizeof(procdir), "/proc/%d", pid);
    else
        snprintf(procdir, sizeof(procdir), "/proc/self");

    if (pid <= 0) {
        pthread_once(&rm_forks_once, watch_forks);
        p->self_forks = rm_forks;
    }
    n = snprintf(p->self_dir, sizeof(p->self_dir), "%s%s", root, procdir);
    if (n < 0 || (size_t)n >= sizeof(p->self_dir))
        p->self_dir[0] = '\0';
    for (i = 0; i < (int)RM_N_SELF_FILES; i++) {
        /* only the calling process's peak can be reset */
        if (pid > 0 && self_files[i].flags == O_WRONLY)
            continue;
        snprintf(path, sizeof(path), "%s/%s", procdir, self_files[i].name);
        *self_fd(p, (size_t)i) = open_ro_flags(root, path, self_files[i].flags);
    }
    p->fd_meminfo = open_ro(root, "/proc/meminfo");
    check_task_fd(p);
    open_cgroup(p, root, procdir);

    /* ru_maxrss is cheaper than status' VmHWM, but it also carries the peak
     * of the image before exec (a child of a big parent starts "big"). Use
     * it only when it agrees with VmHWM now, and only for ourselves. */
    if (pid <= 0 && !root[0] && getrusage(RUSAGE_THREAD, &ru) == 0) {
        char buf[RM_READ_BUF];
        uint64_t hwm;
        if (read_at0(p->fd_status, buf, sizeof(buf)) > 0 && find_value(buf, "VmHWM", &hwm)) {
            uint64_t ru_b = (uint64_t)ru.ru_maxrss * 1024;
            p->hwm_from_rusage = ru_b <= hwm + 64 * 1024;
            p->rusage_recheck = !p->hwm_from_rusage;
        }
    }
    if (p->fd_statm < 0 && p->fd_status < 0 && p->fd_meminfo < 0 && !p->cg_version) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

/* The smallest limit of the group and its ancestors into *limit
 * (RM_NO_LIMIT: none). Returns 1 when some limit file was read.
 * Async-signal-safe: pread(2) and scanning of buf. */
static int read_limits(rm_probe *p, char *buf, uint64_t *limit)
{
    uint64_t v, lim = RM_NO_LIMIT;
    const char *q;
    int i, ok = 0;
    for (i = 0; i < p->n_cg_limit; i++) {
        ssize_t n = read_at0(p->fd_cg_limit[i], buf, RM_READ_BUF);
        if (n <= 0)
            continue;
        ok = 1;
        q = buf;
        if (strncmp(buf, "max", 3) != 0 && parse_u64(&q, &v) && v < lim)
            lim = v;
    }
    /* v1 writes "unlimited" as a huge page-rounded number */
    if (p->cg_version == 1 && lim >= (UINT64_MAX >> 2))
        lim = RM_NO_LIMIT;
    *limit = lim;
    return ok;
}

/* The limits cache is a sequence lock without a lock: a writer claims it
 * by moving cg_lim_seq from even to odd with a compare-and-swap, writes,
 * and releases it at the next even number; a reader uses the cache only if
 * cg_lim_seq was even and unchanged around its reads. A reader that finds
 * the cache busy (a signal handler that interrupted the writer, or another
 * thread) reads the files itself, and a writer that loses the race does not
 * store. Async-signal-safe: lock-free atomics on an unsigned int only. */
static int cached_limit(rm_probe *p, uint64_t now, unsigned *seq, uint64_t *limit, int *ok)
{
    uint64_t at, lim;
    int k;
    *seq = __atomic_load_n(&p->cg_lim_seq, __ATOMIC_ACQUIRE);
    if ((*seq & 1) || !now)
        return 0;
    at = p->cg_lim_at_ns;
    lim = p->cg_lim;
    k = p->cg_lim_ok;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&p->cg_lim_seq, __ATOMIC_RELAXED) != *seq)
        return 0;
    if (!at || now < at || now - at >= RM_CG_LIMIT_TTL_NS)
        return 0;
    *limit = lim;
    *ok = k;
    return 1;
}

static void store_limit(rm_probe *p, uint64_t now, unsigned seq, uint64_t limit, int ok)
{
    if (!now || (seq & 1) ||
        !__atomic_compare_exchange_n(&p->cg_lim_seq, &seq, seq + 1, 0, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return;
    p->cg_lim_at_ns = now;
    p->cg_lim = limit;
    p->cg_lim_ok = ok;
    __atomic_store_n(&p->cg_lim_seq, seq + 2, __ATOMIC_RELEASE);
}

/* Async-signal-safe (rm_probe_sample): pread(2), clock_gettime(2), the
 * limits cache's atomics and scanning of buf only. */
static void read_cgroup(rm_probe *p, rm_sample *s, char *buf, unsigned what)
{
    uint64_t v, now;
    const char *q;
    unsigned seq;
    int ok;

    if (read_at0(p->fd_cg_usage, buf, RM_READ_BUF) > 0 && (q = buf, parse_u64(&q, &v))) {
        s->cg_usage = v;
        s->valid |= RM_HAVE_CG_USAGE;
    }
    if (read_at0(p->fd_cg_peak, buf, RM_READ_BUF) > 0 && (q = buf, parse_u64(&q, &v))) {
        s->cg_peak = v;
        s->valid |= RM_HAVE_CG_PEAK;
    }
    if (read_at0(p->fd_cg_events, buf, RM_READ_BUF) > 0 && find_value(buf, "oom_kill ", &v)) {
        s->cg_oom_kills = v;
        s->valid |= RM_HAVE_CG_OOM;
    }
    if (what & RM_READ_CG_STAT) {
        /* v1: the hierarchical total_ line matches usage_in_bytes, which
         * counts the subgroups too; v2's lines are hierarchical already */
        ssize_t n = read_at0(p->fd_cg_stat, buf, RM_READ_BUF);
        if (n == RM_READ_BUF - 1) {
            /* cut short: drop the last, maybe partial, line */
            char *nl = strrchr(buf, '\n');
            n = nl ? nl - buf + 1 : 0;
            buf[n] = '\0';
        }
        if (n > 0 && ((p->cg_version == 1 && find_value(buf, "total_inactive_file ", &v)) ||
                      find_value(buf, "inactive_file ", &v))) {
            s->cg_inactive_file = v;
            s->valid |= RM_HAVE_CG_INACTIVE_FILE;
        }
    }
    now = p->n_cg_limit ? mono_ns() : 0;
    if (!cached_limit(p, now, &seq, &v, &ok)) {
        ok = read_limits(p, buf, &v);
        store_limit(p, now, seq, v, ok);
    }
    s->cg_limit = v;
    if (ok)
        s->valid |= RM_HAVE_CG_LIMIT;
}

/* A "Key:  123 kB" line of status or meminfo, and where its value goes. */
typedef struct key_slot {
    const char *key;
    size_t klen;
    uint32_t bit;
    size_t off;
} key_slot;

/* One pass over a "Key: value" text, filling every slot whose bit is in
 * want. Async-signal-safe; bounded by the text's length. */
static void scan_keys(const char *text, const key_slot *slots, size_t n, uint32_t want,
                      rm_sample *s)
{
    const char *line = text;
    while (*line && want) {
        const char *nl = strchr(line, '\n');
        size_t i;
        /* a key is the line's start up to its colon: compared in place */
        for (i = 0; i < n; i++) {
            if ((slots[i].bit & want) && line[0] == slots[i].key[0] &&
                strncmp(slots[i].key, line, slots[i].klen) == 0 && line[slots[i].klen] == ':') {
                uint64_t v;
                if (find_value(line, slots[i].key, &v)) {
                    memcpy((char *)s + slots[i].off, &v, sizeof(v));
                    s->valid |= slots[i].bit;
                }
                want &= ~slots[i].bit;
                break;
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
}

static const key_slot status_slots[] = {
    {"VmHWM", 5, RM_HAVE_HWM, offsetof(rm_sample, hwm)},
    {"RssAnon", 7, RM_HAVE_ANON, offsetof(rm_sample, anon)},
    {"RssFile", 7, RM_HAVE_FILE, offsetof(rm_sample, file)},
    {"RssShmem", 8, RM_HAVE_SHMEM, offsetof(rm_sample, shmem)},
    {"VmSwap", 6, RM_HAVE_SWAP, offsetof(rm_sample, swap)},
    {"Threads", 7, RM_HAVE_THREADS, offsetof(rm_sample, threads)},
};

static const key_slot meminfo_slots[] = {
    {"MemTotal", 8, RM_HAVE_MEM_TOTAL, offsetof(rm_sample, mem_total)},
    {"MemFree", 7, RM_HAVE_MEM_FREE, offsetof(rm_sample, mem_free)},
    {"MemAvailable", 12, RM_HAVE_MEM_AVAIL, offsetof(rm_sample, mem_avail)},
    {"Cached", 6, RM_HAVE_MEM_CACHED, offsetof(rm_sample, mem_cached)},
    {"SwapTotal", 9, RM_HAVE_SWAP_TOTAL, offsetof(rm_sample, swap_total)},
    {"SwapFree", 8, RM_HAVE_SWAP_FREE, offsetof(rm_sample, swap_free)},
};

int rm_probe_sample(rm_probe *p, rm_sample *s, unsigned what)
{
    /* Async-signal-safe: pread(2), fstat(2), getrusage(2), clock_gettime(2),
     * check_fork (after a fork), arithmetic, no allocation. */
    char buf[RM_READ_BUF];
    uint32_t want = 0;
    const char *q;

    s->valid = 0;
    check_fork(p);
    if (what & RM_READ_PROC) {
        if (read_at0(p->fd_statm, buf, sizeof(buf)) > 0) {
            uint64_t size, res;
            q = buf;
            if (parse_u64(&q, &size) && parse_u64(&q, &res)) {
                s->vms = size * (uint64_t)p->page_size;
                s->rss = res * (uint64_t)p->page_size;
                s->valid |= RM_HAVE_VMS | RM_HAVE_RSS;
            }
        }
        if (p->hwm_from_rusage) {
            /* RUSAGE_THREAD reports the same mm-wide high-water mark as
             * RUSAGE_SELF but skips summing the other threads' times. */
            struct rusage ru;
            if (getrusage(RUSAGE_THREAD, &ru) == 0) {
                s->hwm = (uint64_t)ru.ru_maxrss * 1024;
                s->valid |= RM_HAVE_HWM;
            }
        } else {
            want |= RM_HAVE_HWM;
        }
    }
    if (what & RM_READ_DETAIL)
        want |= RM_HAVE_ANON | RM_HAVE_FILE | RM_HAVE_SHMEM | RM_HAVE_SWAP | RM_HAVE_THREADS;
    if (want && read_at0(p->fd_status, buf, sizeof(buf)) > 0)
        scan_keys(buf, status_slots, sizeof(status_slots) / sizeof(status_slots[0]), want, s);
    if ((what & RM_READ_PROC) && !p->hwm_from_rusage && p->rusage_recheck &&
        (s->valid & RM_HAVE_HWM)) {
        /* ru_maxrss holds a peak from before exec (an xdist worker starts with
           its controller's) or from before a clear_refs reset: once the
           process's own VmHWM has passed it, the two agree until the next
           reset and the cheap one serves */
        struct rusage ru;
        if (getrusage(RUSAGE_THREAD, &ru) == 0 &&
            (uint64_t)ru.ru_maxrss * 1024 <= s->hwm + 64 * 1024)
            p->hwm_from_rusage = 1;
    }
    if ((what & RM_READ_THREADS) && !(s->valid & RM_HAVE_THREADS) && read_threads(p, &s->threads))
        s->valid |= RM_HAVE_THREADS;
    /* VmHWM lags RSS until the next page fault after a reset */
    if ((s->valid & RM_HAVE_HWM) && (s->valid & RM_HAVE_RSS) && s->hwm < s->rss)
        s->hwm = s->rss;
    if ((what & RM_READ_SYSTEM) && read_at0(p->fd_meminfo, buf, sizeof(buf)) > 0)
        scan_keys(buf, meminfo_slots, sizeof(meminfo_slots) / sizeof(meminfo_slots[0]), UINT32_MAX,
                  s);
    if ((what & RM_READ_CGROUP) && p->cg_version)
        read_cgroup(p, s, buf, what);
    return 0;
}

uint64_t rm_probe_threads(rm_probe *p)
{
    /* Async-signal-safe (check_fork, read_threads). */
    uint64_t v;
    check_fork(p);
    return read_threads(p, &v) ? v : 0;
}

int rm_probe_reset_peak(rm_probe *p)
{
    /* Async-signal-safe: pwrite(2), and check_fork: a forked child must not
     * reset its parent's mark through the parent's clear_refs. */
    ssize_t n;
    check_fork(p);
    if (p->fd_clear_refs < 0) {
        errno = p->pid > 0 ? ENOTSUP : EACCES;
        return -1;
    }
    do
        n = pwrite(p->fd_clear_refs, "5", 1, 0);
    while (n < 0 && errno == EINTR);
    if (n == 1 && p->hwm_from_rusage) {
        /* VmHWM drops to RSS; ru_maxrss keeps any peak from before exec, so
           VmHWM is read again until the two agree (rm_probe_sample) */
        p->hwm_from_rusage = 0;
        p->rusage_recheck = 1;
    }
    return n == 1 ? 0 : -1;
}

void rm_probe_close(rm_probe *p)
{
    int *fds[] = {&p->fd_statm,     &p->fd_stat,       &p->fd_status,   &p->fd_meminfo,
                  &p->fd_task,      &p->fd_clear_refs, &p->fd_cg_usage, &p->fd_cg_peak,
                  &p->fd_cg_events, &p->fd_cg_stat};
    size_t i;
    for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    for (i = 0; i < RM_CG_MAX_DEPTH; i++) {
        if (p->fd_cg_limit[i] >= 0)
            close(p->fd_cg_limit[i]);
        p->fd_cg_limit[i] = -1;
    }
    p->n_cg_limit = 0;
    p->cg_version = 0;
    p->cg_lim_at_ns = 0; /* a reopened probe reads its limits afresh */
}

int rm_disk_usage(const char *path, uint64_t *used, uint64_t *avail)
{
    struct statvfs st;
    if (statvfs(path, &st) != 0)
        return -1;
    *used = (uint64_t)(st.f_blocks - st.f_bfree) * st.f_frsize;
    *avail = (uint64_t)st.f_bavail * st.f_frsize;
    return 0;
}
