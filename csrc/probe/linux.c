/* SPDX-License-Identifier: MIT */
/* linux.c: the probe on Linux: /proc, and the memory cgroup (v1 or v2). */
#define _GNU_SOURCE
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
 * cgroup can pass 4 KB but the lines we want come first. */
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

#define CG_OPEN(name)                                                                              \
    open_ro("", (snprintf(path2, sizeof(path2), "%s/%s", dir, name) < (int)sizeof(path2))          \
                    ? path2                                                                        \
                    : "/nonexistent")
    {
        char path2[700];
        if (v == 1) {
            p->fd_cg_usage = CG_OPEN("memory.usage_in_bytes");
            p->fd_cg_peak = CG_OPEN("memory.max_usage_in_bytes");
            p->fd_cg_events = CG_OPEN("memory.oom_control");
            /* memory.stat's hierarchical_memory_limit is the effective limit */
            p->fd_cg_stat = CG_OPEN("memory.stat");
            p->fd_cg_limit[0] = CG_OPEN("memory.limit_in_bytes");
            p->n_cg_limit = p->fd_cg_limit[0] >= 0;
        } else {
            size_t base = strlen(root) + strlen("/sys/fs/cgroup");
            p->fd_cg_usage = CG_OPEN("memory.current");
            p->fd_cg_peak = CG_OPEN("memory.peak");
            p->fd_cg_events = CG_OPEN("memory.events");
            /* v2 has no effective-limit file: walk up, keep every memory.max */
            while (p->n_cg_limit < RM_CG_MAX_DEPTH) {
                char *slash;
                int lfd = CG_OPEN("memory.max");
                if (lfd >= 0)
                    p->fd_cg_limit[p->n_cg_limit++] = lfd;
                slash = strrchr(dir, '/');
                if (!slash || (size_t)(slash - dir) < base)
                    break;
                *slash = '\0';
            }
        }
    }
#undef CG_OPEN
}

int rm_probe_open(rm_probe *p, int pid, const char *root)
{
    char procdir[64], path[96];
    struct rusage ru;
    int i;

    memset(p, 0, sizeof(*p));
    p->fd_statm = p->fd_status = p->fd_meminfo = p->fd_clear_refs = -1;
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
    if (pid <= 0 && !root[0] && getrusage(RUSAGE_SELF, &ru) == 0) {
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

static void read_cgroup(rm_probe *p, rm_sample *s, char *buf)
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
    if (p->cg_version == 1 && read_at0(p->fd_cg_stat, buf, RM_READ_BUF) > 0 &&
        find_value(buf, "hierarchical_memory_limit ", &v)) {
        s->valid |= RM_HAVE_CG_LIMIT;
        if (v < s->cg_limit)
            s->cg_limit = v;
    }
    /* v1 writes "unlimited" as a huge page-rounded number */
    if (p->cg_version == 1 && s->cg_limit >= (UINT64_MAX >> 2))
        s->cg_limit = RM_NO_LIMIT;
}

int rm_probe_sample(rm_probe *p, rm_sample *s, unsigned what)
{
    /* Async-signal-safe: pread(2), getrusage(2), arithmetic, no allocation. */
    char buf[RM_READ_BUF];
    uint64_t v;
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
            struct rusage ru;
            if (getrusage(RUSAGE_SELF, &ru) == 0) {
                s->hwm = (uint64_t)ru.ru_maxrss * 1024;
                s->valid |= RM_HAVE_HWM;
            }
        }
    }
    if ((what & RM_READ_DETAIL) || ((what & RM_READ_PROC) && !(s->valid & RM_HAVE_HWM))) {
        if (read_at0(p->fd_status, buf, sizeof(buf)) > 0) {
            static const struct {
                const char *key;
                uint32_t bit;
                size_t off;
            } f[] = {
                {"VmHWM", RM_HAVE_HWM, offsetof(rm_sample, hwm)},
                {"RssAnon", RM_HAVE_ANON, offsetof(rm_sample, anon)},
                {"RssFile", RM_HAVE_FILE, offsetof(rm_sample, file)},
                {"RssShmem", RM_HAVE_SHMEM, offsetof(rm_sample, shmem)},
                {"VmSwap", RM_HAVE_SWAP, offsetof(rm_sample, swap)},
                {"Threads", RM_HAVE_THREADS, offsetof(rm_sample, threads)},
            };
            size_t i;
            for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
                if (f[i].bit == RM_HAVE_HWM && (s->valid & RM_HAVE_HWM))
                    continue;
                if (f[i].bit != RM_HAVE_HWM && !(what & RM_READ_DETAIL))
                    continue;
                if (find_value(buf, f[i].key, &v)) {
                    memcpy((char *)s + f[i].off, &v, sizeof(v));
                    s->valid |= f[i].bit;
                }
            }
            /* VmHWM lags RSS until the next page fault after a reset */
            if ((s->valid & RM_HAVE_HWM) && (s->valid & RM_HAVE_RSS) && s->hwm < s->rss)
                s->hwm = s->rss;
        }
    }
    if ((s->valid & RM_HAVE_HWM) && (s->valid & RM_HAVE_RSS) && s->hwm < s->rss)
        s->hwm = s->rss;
    if ((what & RM_READ_SYSTEM) && read_at0(p->fd_meminfo, buf, sizeof(buf)) > 0) {
        if (find_value(buf, "MemTotal", &s->mem_total))
            s->valid |= RM_HAVE_MEM_TOTAL;
        if (find_value(buf, "MemAvailable", &s->mem_avail))
            s->valid |= RM_HAVE_MEM_AVAIL;
        if (find_value(buf, "MemFree", &s->mem_free))
            s->valid |= RM_HAVE_MEM_FREE;
        if (find_value(buf, "Cached", &s->mem_cached))
            s->valid |= RM_HAVE_MEM_CACHED;
        if (find_value(buf, "SwapTotal", &s->swap_total))
            s->valid |= RM_HAVE_SWAP_TOTAL;
        if (find_value(buf, "SwapFree", &s->swap_free))
            s->valid |= RM_HAVE_SWAP_FREE;
    }
    if ((what & RM_READ_CGROUP) && p->cg_version)
        read_cgroup(p, s, buf);
    return 0;
}

uint64_t rm_probe_threads(rm_probe *p)
{
    char buf[RM_READ_BUF];
    uint64_t v;
    if (read_at0(p->fd_status, buf, sizeof(buf)) > 0 && find_value(buf, "Threads", &v))
        return v;
    return 0;
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
    int *fds[] = {&p->fd_statm,    &p->fd_status,  &p->fd_meminfo,   &p->fd_clear_refs,
                  &p->fd_cg_usage, &p->fd_cg_peak, &p->fd_cg_events, &p->fd_cg_stat};
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
