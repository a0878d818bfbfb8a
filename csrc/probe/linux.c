/* SPDX-License-Identifier: MIT */
/* linux.c: the probe on Linux: /proc, and the memory cgroup (v1 or v2). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

const char rm_probe_platform[] = "linux";

/* /proc/self/status is about 1.5 KB; meminfo about 1.5 KB; memory.stat of a
 * cgroup about 1.5 KB (v1) to 2.5 KB (v2, where inactive_file comes early). */
#define RM_READ_BUF 4096

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

static int open_ro(const char *root, const char *path)
{
    char full[768];
    int n = snprintf(full, sizeof(full), "%s%s", root, path);
    if (n < 0 || (size_t)n >= sizeof(full))
        return -1;
    return open(full, O_RDONLY | O_CLOEXEC);
}

static int open_in(const char *dir, const char *name)
{
    char path[700];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    return open(path, O_RDONLY | O_CLOEXEC);
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
    int i;

    memset(p, 0, sizeof(*p));
    p->fd_statm = p->fd_stat = p->fd_status = p->fd_meminfo = p->fd_clear_refs = -1;
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

    snprintf(path, sizeof(path), "%s/statm", procdir);
    p->fd_statm = open_ro(root, path);
    snprintf(path, sizeof(path), "%s/stat", procdir);
    p->fd_stat = open_ro(root, path);
    snprintf(path, sizeof(path), "%s/status", procdir);
    p->fd_status = open_ro(root, path);
    p->fd_meminfo = open_ro(root, "/proc/meminfo");
    if (pid <= 0) {
        snprintf(path, sizeof(path), "%s%s/clear_refs", root, procdir);
        p->fd_clear_refs = open(path, O_WRONLY | O_CLOEXEC);
    }
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
        }
    }
    if (p->fd_statm < 0 && p->fd_status < 0 && p->fd_meminfo < 0 && !p->cg_version) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

/* Async-signal-safe (rm_probe_sample): pread(2) and scanning of buf only. */
static void read_cgroup(rm_probe *p, rm_sample *s, char *buf, unsigned what)
{
    uint64_t v;
    const char *q;
    int i;

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
    s->cg_limit = RM_NO_LIMIT;
    for (i = 0; i < p->n_cg_limit; i++) {
        ssize_t n = read_at0(p->fd_cg_limit[i], buf, RM_READ_BUF);
        if (n <= 0)
            continue;
        s->valid |= RM_HAVE_CG_LIMIT;
        q = buf;
        if (strncmp(buf, "max", 3) != 0 && parse_u64(&q, &v) && v < s->cg_limit)
            s->cg_limit = v;
    }
    /* v1 writes "unlimited" as a huge page-rounded number */
    if (p->cg_version == 1 && s->cg_limit >= (UINT64_MAX >> 2))
        s->cg_limit = RM_NO_LIMIT;
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
        const char *colon = strchr(line, ':'), *nl;
        size_t klen, i;
        if (!colon)
            break;
        nl = strchr(line, '\n');
        if (nl && nl < colon) {
            line = nl + 1;
            continue;
        }
        klen = (size_t)(colon - line);
        for (i = 0; i < n; i++) {
            if ((slots[i].bit & want) && slots[i].klen == klen &&
                memcmp(slots[i].key, line, klen) == 0) {
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

/* num_threads, field 20 of /proc/<pid>/stat: cheaper than status. The
 * command name (field 2) may hold spaces and ')' so count from the last ')'. */
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

int rm_probe_sample(rm_probe *p, rm_sample *s, unsigned what)
{
    /* Async-signal-safe: pread(2), getrusage(2), arithmetic, no allocation. */
    char buf[RM_READ_BUF];
    uint32_t want = 0;
    const char *q;

    s->valid = 0;
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
    if ((what & RM_READ_THREADS) && !(s->valid & RM_HAVE_THREADS) &&
        read_stat_threads(p, &s->threads))
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
    uint64_t v;
    return read_stat_threads(p, &v) ? v : 0;
}

int rm_probe_reset_peak(rm_probe *p)
{
    /* Async-signal-safe: pwrite(2) only. */
    ssize_t n;
    if (p->fd_clear_refs < 0) {
        errno = p->pid > 0 ? ENOTSUP : EACCES;
        return -1;
    }
    do
        n = pwrite(p->fd_clear_refs, "5", 1, 0);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

void rm_probe_close(rm_probe *p)
{
    int *fds[] = {&p->fd_statm,   &p->fd_stat,       &p->fd_status,
                  &p->fd_meminfo, &p->fd_clear_refs, &p->fd_cg_usage,
                  &p->fd_cg_peak, &p->fd_cg_events,  &p->fd_cg_stat};
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
