/* SPDX-License-Identifier: MIT */
/* ptable.c: the process table of resmon-sampler: libproc2, or a small /proc reader. */
#include "sampler.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture (Linux 5.3) */
#endif

#ifdef RM_HAVE_PROC2_H
/* Only libproc2's types and item numbers come from its header (they change
 * between releases, so they must be the build's); the library itself is
 * loaded with dlopen, so the sampler starts where it is missing (Ubuntu
 * 22.04) and never links libsystemd and libgcrypt, which it pulls in.
 * RM_PROC2_SONAME is the soname of the library this header belongs to (the
 * build reads it from the library); a self-check after loading catches a
 * library whose item numbers differ from the header's anyway. */
#include <libproc2/pids.h>
#ifndef RM_PROC2_SONAME
#define RM_PROC2_SONAME "libproc2.so.0"
#endif

/* The items one reap reads: all from /proc/<pid>/stat, one file per task. */
static enum pids_item proc2_items[] = {PIDS_ID_PID, PIDS_ID_PPID, PIDS_RSS, PIDS_CMD};
enum { P2_PID, P2_PPID, P2_RSS, P2_CMD };

/* libproc2 4.0.5 dropped the info argument of PIDS_VAL (and MEMINFO_VAL).
 * The result stack is laid out the same on both sides of that change, so
 * reading it directly works with 4.0.0-4.0.4 and with 4.0.5 and later. */
#define RM_PVAL(idx, type, stack) ((stack)->head[(idx)].result.type)

/* The three functions the sampler calls, from dlsym. One table: the
 * sampler is single-threaded, and libproc2 must stay on one thread. */
static struct {
    void *dl;
    int (*pids_new)(struct pids_info **, enum pids_item *, int);
    int (*pids_unref)(struct pids_info **);
    struct pids_fetch *(*pids_reap)(struct pids_info *, enum pids_fetch_type);
} proc2;
#endif

/* A /proc/<pid>/stat line is under 1 KB; comm is at most 64 bytes even
 * with escapes, so this leaves room to spare. */
#define RM_STAT_BUF 1024

/* Deepest parent chain followed when deciding tree membership: pid
 * namespaces nest far less, and it bounds the walk on a corrupt table. */
#define RM_TREE_DEPTH 256

/* The kernel's PF_KTHREAD in the flags field of /proc/<pid>/stat
 * (include/linux/sched.h): a kernel thread has no memory of its own. */
#define RM_PF_KTHREAD 0x00200000u

int rm_parse_stat(const char *buf, size_t len, long page_size, rm_proc *p)
{
    /* "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
     *  majflt cmajflt utime stime cutime cstime prio nice threads itreal
     *  starttime vsize rss ..." comm may hold spaces and parens: it ends at
     *  the last ')'. */
    const char *open, *close = NULL, *q, *end = buf + len;
    long long pid = 0;
    unsigned long long v = 0;
    int field;
    size_t clen;

    for (q = buf; q < end; q++)
        if (*q == ')')
            close = q;
    open = memchr(buf, '(', len);
    if (!open || !close || close < open)
        return -1;
    for (q = buf; q < open && *q >= '0' && *q <= '9'; q++)
        pid = pid * 10 + (*q - '0');
    if (q == buf || pid <= 0 || pid > 0x7fffffff)
        return -1;
    p->pid = (int)pid;
    p->kthread = 0;
    p->task = -1;
    clen = (size_t)(close - open - 1);
    if (clen >= sizeof(p->comm))
        clen = sizeof(p->comm) - 1;
    memcpy(p->comm, open + 1, clen);
    p->comm[clen] = '\0';
    /* fields after comm: 3 state, 4 ppid, ..., 9 flags, ..., 24 rss */
    q = close + 1;
    for (field = 3; field <= 24; field++) {
        while (q < end && *q == ' ')
            q++;
        if (q >= end)
            return -1;
        if (field == 4 || field == 9 || field == 24) {
            v = 0;
            if (*q < '0' || *q > '9')
                return -1;
            while (q < end && *q >= '0' && *q <= '9' && v < (1ull << 60))
                v = v * 10 + (unsigned long long)(*q++ - '0');
            if (field == 4)
                p->ppid = v > 0x7fffffff ? 0 : (int)v;
            else if (field == 9)
                p->kthread = (v & RM_PF_KTHREAD) != 0;
            else
                p->rss = (uint64_t)v * (uint64_t)page_size;
        }
        while (q < end && *q != ' ')
            q++;
    }
    return 0;
}

/* Takes the fd budget from RLIMIT_NOFILE, raising the soft limit towards
 * what RM_PT_FD_MAX needs when the hard limit allows. */
static void fd_budget(rm_ptable *t)
{
    struct rlimit rl;
    rlim_t want = RM_PT_FD_MAX + RM_PT_FD_RESERVE;
    t->fd_max = RM_PT_FD_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    t->have_nofile = 1;
    t->nofile0_cur = (unsigned long long)rl.rlim_cur;
    t->nofile0_max = (unsigned long long)rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (up.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    t->fd_max = rl.rlim_cur > 2 * RM_PT_FD_RESERVE ? (size_t)(rl.rlim_cur - RM_PT_FD_RESERVE)
                                                   : (size_t)(rl.rlim_cur / 2);
}

void rm_ptable_restore_nofile(const rm_ptable *t)
{
    struct rlimit rl;
    if (!t->have_nofile)
        return;
    rl.rlim_cur = (rlim_t)t->nofile0_cur;
    rl.rlim_max = (rlim_t)t->nofile0_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

#ifdef RM_HAVE_PROC2_H
static int scan_proc2(rm_ptable *t);

/* Reads the table once and checks the sampler's own row against the
 * kernel: a library whose item numbers differ from the header's would put
 * other fields where pid, ppid, name and RSS belong. */
static int proc2_selfcheck(rm_ptable *t)
{
    char buf[RM_STAT_BUF];
    rm_proc self;
    long i;
    ssize_t len;
    int fd, ok = 0;
    uint64_t statm_rss = 0;
    fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0 || rm_parse_stat(buf, (size_t)len, t->page_size, &self) != 0)
        return -1;
    statm_rss = self.rss;
    t->n = 0;
    if (scan_proc2(t) != 0)
        return -1;
    for (i = 0; i < (long)t->n; i++) {
        const rm_proc *p = &t->procs[i];
        if (p->pid != (int)getpid())
            continue;
        /* the RSS moves a little between the two reads */
        ok = p->ppid == (int)getppid() && strcmp(p->comm, self.comm) == 0 && p->rss > 0 &&
             p->rss / 2 <= statm_rss + (8u << 20) && statm_rss / 2 <= p->rss + (8u << 20);
        break;
    }
    t->n = 0;
    return ok ? 0 : -1;
}

/* Loads libproc2 and opens a reader on it. Returns the status for the head
 * record: "used", or why the /proc reader is used instead. */
static const char *proc2_open(rm_ptable *t)
{
    struct pids_info *info = NULL;
    const char *off = getenv("RESMON_NO_PROC2");
    if (off && *off && strcmp(off, "0") != 0)
        return "off";
    if (!proc2.dl) {
        proc2.dl = dlopen(RM_PROC2_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!proc2.dl)
            return "not_found";
        proc2.pids_new =
            (int (*)(struct pids_info **, enum pids_item *, int))dlsym(proc2.dl, "procps_pids_new");
        proc2.pids_unref = (int (*)(struct pids_info **))dlsym(proc2.dl, "procps_pids_unref");
        proc2.pids_reap = (struct pids_fetch * (*)(struct pids_info *, enum pids_fetch_type))
            dlsym(proc2.dl, "procps_pids_reap");
        if (!proc2.pids_new || !proc2.pids_unref || !proc2.pids_reap) {
            dlclose(proc2.dl);
            proc2.dl = NULL;
            return "not_found";
        }
    }
    if (proc2.pids_new(&info, proc2_items, (int)(sizeof(proc2_items) / sizeof(proc2_items[0]))) < 0)
        return "not_found";
    t->proc2 = info;
    if (proc2_selfcheck(t) != 0) {
        proc2.pids_unref(&info);
        t->proc2 = NULL;
        return "abi_mismatch";
    }
    return "used";
}
#endif

int rm_ptable_open(rm_ptable *t, const char *root, const char *backend)
{
    int n;
    char path[300];
    memset(t, 0, sizeof(*t));
    t->fd_loadavg = -1;
    t->last_pid = t->last_pid2 = -1;
    t->cold_below = UINT64_MAX;
    t->page_size = sysconf(_SC_PAGESIZE);
    if (t->page_size <= 0)
        t->page_size = 4096;
    n = snprintf(t->root, sizeof(t->root), "%s", root ? root : "");
    if (n < 0 || (size_t)n >= sizeof(t->root)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!backend)
        backend = "auto";
    if (strcmp(backend, "auto") != 0 && strcmp(backend, "libproc2") != 0 &&
        strcmp(backend, "proc") != 0) {
        errno = EINVAL;
        return -1;
    }
#ifdef RM_HAVE_PROC2_H
    t->proc2_status = "unused";
    if (strcmp(backend, "proc") != 0 && !t->root[0])
        t->proc2_status = proc2_open(t);
#else
    t->proc2_status = "not_built";
#endif
    if (strcmp(backend, "libproc2") == 0 && !t->proc2) {
        errno = ENOTSUP;
        return -1;
    }
    if (t->proc2)
        return 0;
    fd_budget(t);
    n = snprintf(path, sizeof(path), "%s/proc/loadavg", t->root);
    if (n > 0 && (size_t)n < sizeof(path))
        t->fd_loadavg = open(path, O_RDONLY | O_CLOEXEC);
    return 0;
}

static long last_pid(const rm_ptable *t);

void rm_ptable_outside_now(rm_ptable *t)
{
    if (!t->proc2 && !t->tasks)
        t->old_max = last_pid(t);
}

const char *rm_ptable_backend(const rm_ptable *t)
{
    return t->proc2 ? "libproc2" : "proc";
}

static int grow(rm_ptable *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    rm_proc *np;
    unsigned char *nm;
    if (cap > RM_PT_MAX)
        cap = RM_PT_MAX;
    if (cap <= t->cap)
        return -1;
    np = realloc(t->procs, cap * sizeof(*np));
    if (!np)
        return -1;
    t->procs = np;
    nm = realloc(t->mark, cap);
    if (!nm)
        return -1;
    t->mark = nm;
    t->cap = cap;
    return 0;
}

#ifdef RM_HAVE_PROC2_H
static int cmp_pid(const void *a, const void *b)
{
    const rm_proc *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}
#endif

static int cmp_task(const void *a, const void *b)
{
    const rm_pt_task *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Remembers that pid vanished: its children were re-parented, and their
 * stat is re-read at the next rescan. */
static void note_gone(rm_ptable *t, int pid)
{
    if (t->ngone < RM_PT_GONE_MAX)
        t->gone[t->ngone++] = pid;
    else
        t->gone_overflow = 1;
}

static void drop_fd(rm_ptable *t, rm_pt_task *k)
{
    if (k->fd >= 0) {
        close(k->fd);
        k->fd = -1;
        t->nfds--;
    }
}

/* The last pid the kernel allocated (field 5 of /proc/loadavg), or -1. */
static long last_pid(const rm_ptable *t)
{
    char buf[128];
    const char *q;
    ssize_t len;
    long v = 0;
    if (t->fd_loadavg < 0)
        return -1;
    do
        len = pread(t->fd_loadavg, buf, sizeof(buf) - 1, 0);
    while (len < 0 && errno == EINTR);
    if (len <= 0)
        return -1;
    buf[len] = '\0';
    q = strrchr(buf, ' ');
    if (!q || q[1] < '0' || q[1] > '9')
        return -1;
    for (q++; *q >= '0' && *q <= '9' && v < 0x7fffffff; q++)
        v = v * 10 + (*q - '0');
    return v;
}

/* Lists /proc again: keeps the fds of tasks still there, closes the others. */
static int rescan_dir(rm_ptable *t)
{
    char path[384];
    DIR *d;
    struct dirent *e;
    rm_pt_task *old = t->tasks, *cur = NULL;
    size_t nold = t->ntasks, n = 0, cap = 0, i, j;
    int rc = snprintf(path, sizeof(path), "%s/proc", t->root);
    if (rc < 0 || (size_t)rc >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    d = opendir(path);
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL && n < RM_PT_MAX) {
        const char *q = e->d_name;
        long pid = 0;
        if (*q < '1' || *q > '9')
            continue;
        while (*q >= '0' && *q <= '9' && pid < 0x7fffffff)
            pid = pid * 10 + (*q++ - '0');
        if (*q || pid > 0x7fffffff)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            rm_pt_task *nt = realloc(cur, ncap * sizeof(*nt));
            if (!nt)
                break;
            cur = nt;
            cap = ncap;
        }
        memset(&cur[n], 0, sizeof(cur[n]));
        cur[n].pid = (int)pid;
        cur[n].ppid = -1; /* stat not read yet */
        if (!nold && pid <= t->old_max) {
            cur[n].ppid = 0; /* outside the tree for good: not read */
            cur[n].old = 1;
        }
        cur[n++].fd = -1;
    }
    closedir(d);
    if (n)
        qsort(cur, n, sizeof(*cur), cmp_task);
    /* merge: both lists are sorted by pid (a gone task's pid is negated,
     * which keeps its place: nothing else lies between its neighbours) */
    for (i = 0, j = 0; i < nold; i++) {
        int pid = old[i].pid < 0 ? -old[i].pid : old[i].pid;
        while (j < n && cur[j].pid < pid)
            j++;
        if (j < n && cur[j].pid == old[i].pid) {
            cur[j] = old[i];
        } else {
            if (old[i].pid > 0)
                note_gone(t, old[i].pid);
            if (old[i].fd >= 0) {
                close(old[i].fd);
                t->nfds--;
            }
        }
    }
    free(old);
    t->tasks = cur;
    t->ntasks = n;
    t->tasks_cap = cap;
    return 0;
}

/* 1 when pid is a process (a thread-group leader) now, 0 when it is a
 * thread or no longer exists, -1 when pidfd_open(2) cannot tell (missing,
 * refused by a seccomp filter, or out of fds). */
static int pid_is_process(rm_ptable *t, int pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        close(fd);
        return 1;
    }
    /* a thread, not a leader: EINVAL, ENOENT since Linux 6.9 */
    if (errno == ESRCH || errno == EINVAL || errno == ENOENT)
        return 0;
    if (errno == ENOSYS || errno == EPERM)
        t->no_pidfd = 1;
    return -1;
}

/* Adds the processes among the pids in (from, to] that are not known yet
 * (tasks holds no gone entries: compact_tasks ran). Pids are handed out in
 * increasing order until they wrap, so these are all the processes created
 * since `from` was read. Returns 0, or -1 when the pids could not be told
 * apart (the caller lists /proc); tasks stays sorted either way. */
static int probe_new(rm_ptable *t, long from, long to)
{
    size_t n0 = t->ntasks;
    int rc = 0;
    long pid;
    for (pid = from + 1; pid <= to; pid++) {
        rm_pt_task key, *k;
        int r;
        key.pid = (int)pid;
        if (n0 && bsearch(&key, t->tasks, n0, sizeof(key), cmp_task))
            continue; /* listed before its creation reached the counter we read */
        t->probes++;
        r = pid_is_process(t, (int)pid);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0)
            continue;
        if (t->ntasks == t->tasks_cap) {
            size_t ncap = t->tasks_cap ? t->tasks_cap * 2 : 256;
            rm_pt_task *nt = ncap <= RM_PT_MAX ? realloc(t->tasks, ncap * sizeof(*nt)) : NULL;
            if (!nt) {
                rc = -1;
                break;
            }
            t->tasks = nt;
            t->tasks_cap = ncap;
        }
        k = &t->tasks[t->ntasks++];
        memset(k, 0, sizeof(*k));
        k->pid = (int)pid;
        k->ppid = -1; /* stat not read yet */
        k->fd = -1;
    }
    if (t->ntasks > n0)
        qsort(t->tasks, t->ntasks, sizeof(*t->tasks), cmp_task);
    return rc;
}

/* Drops the tasks that vanished since the last listing (no listing at this
 * rescan: nothing new to merge). */
static void compact_tasks(rm_ptable *t)
{
    size_t i, k = 0;
    for (i = 0; i < t->ntasks; i++)
        if (t->tasks[i].pid > 0)
            t->tasks[k++] = t->tasks[i];
    t->ntasks = k;
}

/* Reads a small /proc file under the fake root into buf. Returns the
 * length, or -1. */
static ssize_t read_small(const rm_ptable *t, int pid, const char *name, char *buf, size_t cap)
{
    char path[384];
    ssize_t len;
    int fd, n = snprintf(path, sizeof(path), "%s/proc/%d/%s", t->root, pid, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    do
        len = read(fd, buf, cap - 1);
    while (len < 0 && errno == EINTR);
    close(fd);
    if (len > 0)
        buf[len] = '\0';
    return len;
}

/* The resident bytes of a task, from its kept-open statm (opened on first
 * use while under the fd budget; at EMFILE the budget shrinks to what is
 * open). An old task (see rm_ptable_outside_now) whose size is 0 has no
 * memory map: a kernel thread, or a zombie. Returns 0, or -1 when the task
 * is gone. */
static int read_statm(rm_ptable *t, rm_pt_task *k, uint64_t *rss)
{
    char buf[128], path[384];
    const char *q;
    ssize_t len;
    uint64_t v = 0;
    if (k->fd < 0 && t->nfds < t->fd_max) {
        int n = snprintf(path, sizeof(path), "%s/proc/%d/statm", t->root, k->pid);
        if (n > 0 && (size_t)n < sizeof(path)) {
            k->fd = open(path, O_RDONLY | O_CLOEXEC);
            if (k->fd >= 0)
                t->nfds++;
            else if (errno == EMFILE || errno == ENFILE)
                t->fd_max = t->nfds;
        }
    }
    t->reads++;
    if (k->fd >= 0) {
        do
            len = pread(k->fd, buf, sizeof(buf) - 1, 0);
        while (len < 0 && errno == EINTR);
        if (len > 0)
            buf[len] = '\0';
    } else {
        len = read_small(t, k->pid, "statm", buf, sizeof(buf));
    }
    if (len <= 0) {
        drop_fd(t, k); /* gone: a new task with its pid gets a new fd */
        return -1;
    }
    /* "size resident shared ..." */
    q = buf;
    while (*q >= '0' && *q <= '9')
        q++;
    if (*q++ != ' ')
        return -1;
    if (k->old == 1) {
        k->old = 2;
        if (buf[0] == '0' && buf[1] == ' ') {
            k->kthread = 1;
            drop_fd(t, k);
            *rss = 0;
            return 0;
        }
    }
    while (*q >= '0' && *q <= '9' && v < (1ull << 50))
        v = v * 10 + (uint64_t)(*q++ - '0');
    *rss = v * (uint64_t)t->page_size;
    return 0;
}

/* Marks k gone until the next listing, and remembers it for its children. */
static void task_gone(rm_ptable *t, rm_pt_task *k)
{
    drop_fd(t, k);
    note_gone(t, k->pid);
    k->pid = -k->pid;
}

/* At a rescan: which known tasks re-read their stat. Children of a vanished
 * task were re-parented; the name of a listed task (tree or top list) is
 * refreshed every RM_PT_STAT_EVERY rescans. */
static void plan_stat_reads(rm_ptable *t)
{
    size_t i;
    if (t->ngone > 1)
        qsort(t->gone, t->ngone, sizeof(t->gone[0]), cmp_int);
    for (i = 0; i < t->ntasks; i++) {
        rm_pt_task *k = &t->tasks[i];
        if (k->ppid < 0)
            continue;
        if (t->gone_overflow ||
            (t->ngone && bsearch(&k->ppid, t->gone, t->ngone, sizeof(t->gone[0]), cmp_int)) ||
            ((k->hot || k->listed) &&
             (unsigned)k->pid % RM_PT_STAT_EVERY == t->rescans % RM_PT_STAT_EVERY))
            k->ppid = -1;
    }
    t->ngone = 0;
    t->gone_overflow = 0;
}

static int scan_proc(rm_ptable *t, int rescan)
{
    char buf[RM_STAT_BUF];
    size_t i;
    rescan = rescan || !t->tasks;
    if (rescan) {
        long lp = last_pid(t);
        int list = !t->tasks || lp < 0 || t->last_pid < 0 || t->since_list + 1 >= RM_PT_LIST_EVERY;
        if (!list && t->root[0]) {
            /* a stand-in root (tests): pidfd_open would ask the real kernel */
            list = lp != t->last_pid;
        } else if (!list && lp != t->last_pid2) {
            long from = t->last_pid2 < 0 ? t->last_pid : t->last_pid2;
            compact_tasks(t);
            list = t->no_pidfd || lp < from || lp - from > RM_PT_PROBE_MAX ||
                   probe_new(t, from, lp) != 0;
        }
        if (list) {
            if (rescan_dir(t) != 0)
                return -1;
            t->listings++;
            t->since_list = 0;
        } else {
            compact_tasks(t);
            t->since_list++;
        }
        if (t->old_max > 0 && t->last_pid >= 0 && lp >= 0 && lp < t->last_pid) {
            /* the pid counter wrapped: an old pid may be a new process */
            for (i = 0; i < t->ntasks; i++)
                if (t->tasks[i].old)
                    t->tasks[i].ppid = -1;
            t->old_max = 0;
        }
        t->last_pid2 = t->last_pid;
        t->last_pid = lp;
        t->rescans++;
        plan_stat_reads(t);
    }
    while (t->cap < t->ntasks)
        if (grow(t) != 0)
            break;
    for (i = 0; i < t->ntasks && t->n < t->cap; i++) {
        rm_pt_task *k = &t->tasks[i];
        rm_proc *p = &t->procs[t->n];
        if (k->pid <= 0)
            continue;
        k->fresh = 0;
        if (rescan && k->ppid < 0) {
            ssize_t len = read_small(t, k->pid, "stat", buf, sizeof(buf));
            t->reads++;
            if (len <= 0 || rm_parse_stat(buf, (size_t)len, t->page_size, p) != 0) {
                task_gone(t, k);
                continue;
            }
            k->ppid = p->ppid;
            k->kthread = (unsigned char)p->kthread;
            k->fresh = 1;
            k->old = 0;
            memcpy(k->comm, p->comm, sizeof(k->comm));
            if (k->kthread) {
                k->rss = 0; /* no memory of its own: statm is all zeros */
                drop_fd(t, k);
            }
        }
        /* the tree and the top list's candidates at every scan; the
         * others at a rescan when it is their turn (or new) */
        if (!k->kthread &&
            (k->hot || k->listed || k->rss >= t->cold_below || k->fresh || k->old == 1 ||
             (rescan && (unsigned)k->pid % RM_PT_COLD_EVERY == t->rescans % RM_PT_COLD_EVERY)) &&
            read_statm(t, k, &k->rss) != 0) {
            task_gone(t, k);
            continue;
        }
        p->pid = k->pid;
        p->ppid = k->ppid;
        p->rss = k->rss;
        p->kthread = k->kthread;
        p->task = (long)i;
        memcpy(p->comm, k->comm, sizeof(p->comm));
        t->n++;
    }
    return 0;
}

#ifdef RM_HAVE_PROC2_H
static int scan_proc2(rm_ptable *t)
{
    struct pids_fetch *f = proc2.pids_reap(t->proc2, PIDS_FETCH_TASKS_ONLY);
    int i, total;
    if (!f || !f->counts) {
        errno = EIO;
        return -1;
    }
    total = f->counts->total;
    for (i = 0; i < total && f->stacks[i]; i++) {
        struct pids_stack *st = f->stacks[i];
        rm_proc *p;
        const char *cmd;
        if (t->n == t->cap && grow(t) != 0)
            break;
        p = &t->procs[t->n++];
        memset(p, 0, sizeof(*p));
        p->task = -1;
        p->pid = RM_PVAL(P2_PID, s_int, st);
        p->ppid = RM_PVAL(P2_PPID, s_int, st);
        p->rss = (uint64_t)RM_PVAL(P2_RSS, ul_int, st) * (uint64_t)t->page_size;
        cmd = RM_PVAL(P2_CMD, str, st);
        /* comm is at most 15 bytes in the kernel; longer text is cut */
        p->comm[0] = '\0';
        if (cmd)
            strncat(p->comm, cmd, sizeof(p->comm) - 1);
    }
    return 0;
}
#endif

int rm_ptable_scan(rm_ptable *t, int rescan)
{
    int rc;
    t->n = 0;
#ifdef RM_HAVE_PROC2_H
    if (t->proc2) {
        rc = scan_proc2(t);
        if (rc == 0 && t->n > 1)
            qsort(t->procs, t->n, sizeof(*t->procs), cmp_pid);
    } else
#endif
        rc = scan_proc(t, rescan); /* tasks are sorted by pid: so are procs */
    if (rc != 0)
        return -1;
    return (int)t->n;
}

long rm_ptable_find(const rm_ptable *t, int pid)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->procs[mid].pid == pid)
            return (long)mid;
        if (t->procs[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Inserts index i into the list out[0..*k) kept in descending RSS order,
 * keeping at most max entries. */
static void insert_by_rss(const rm_ptable *t, size_t *out, size_t *k, size_t max, size_t i)
{
    size_t j;
    if (max == 0)
        return;
    if (*k == max) {
        if (t->procs[out[max - 1]].rss >= t->procs[i].rss)
            return;
        (*k)--;
    }
    j = *k;
    while (j > 0 && t->procs[out[j - 1]].rss < t->procs[i].rss) {
        out[j] = out[j - 1];
        j--;
    }
    out[j] = i;
    (*k)++;
}

size_t rm_ptable_tree(rm_ptable *t, int pid, size_t *out, size_t max, uint64_t *sum, size_t *count)
{
    /* mark: 0 unknown, 1 in the tree, 2 outside. A walk up the parent
     * chain stops at a known mark, so the whole pass is close to O(n). */
    enum { UNKNOWN, IN = RM_PT_IN_TREE, OUT };
    size_t i, k = 0;
    long chain[RM_TREE_DEPTH];
    *sum = 0;
    *count = 0;
    if (t->n)
        memset(t->mark, UNKNOWN, t->n);
    if (pid <= 0 || rm_ptable_find(t, pid) < 0)
        return 0;
    for (i = 0; i < t->n; i++) {
        long cur = (long)i;
        int depth = 0, verdict = OUT;
        while (depth < RM_TREE_DEPTH) {
            if (t->mark[cur] != UNKNOWN) {
                verdict = t->mark[cur];
                break;
            }
            chain[depth++] = cur;
            if (t->procs[cur].pid == pid) {
                verdict = IN;
                break;
            }
            cur = rm_ptable_find(t, t->procs[cur].ppid);
            if (cur < 0 || t->procs[cur].pid == t->procs[chain[depth - 1]].pid)
                break; /* top of the table, or a self-parent */
        }
        while (depth > 0)
            t->mark[chain[--depth]] = (unsigned char)verdict;
    }
    for (i = 0; i < t->ntasks; i++)
        t->tasks[i].hot = 0;
    for (i = 0; i < t->n; i++) {
        if (t->mark[i] != IN)
            continue;
        if (t->procs[i].task >= 0 && (size_t)t->procs[i].task < t->ntasks)
            t->tasks[t->procs[i].task].hot = 1;
        *sum += t->procs[i].rss;
        (*count)++;
        insert_by_rss(t, out, &k, max, i);
    }
    return k;
}

/* Re-reads the stat of a task that entered the top list: its name (and
 * parent) may have changed since it was read, as only listed tasks refresh
 * them. A task that cannot be read keeps what it had (a listing or its
 * next statm read finds it gone). */
static void refresh_stat(rm_ptable *t, rm_pt_task *k, rm_proc *p)
{
    char buf[RM_STAT_BUF];
    rm_proc q;
    ssize_t len = read_small(t, k->pid, "stat", buf, sizeof(buf));
    t->reads++;
    if (len <= 0 || rm_parse_stat(buf, (size_t)len, t->page_size, &q) != 0 || q.pid != k->pid)
        return;
    k->ppid = p->ppid = q.ppid;
    k->kthread = (unsigned char)q.kthread;
    k->old = 0;
    memcpy(k->comm, q.comm, sizeof(k->comm));
    memcpy(p->comm, q.comm, sizeof(p->comm));
}

/* One more than the m-th largest RSS of the table (0 when it holds fewer
 * than m tasks): the tasks at or above it are at most m-1. m is cut to
 * RM_PT_SPARE_MAX. */
static uint64_t spare_floor(const rm_ptable *t, size_t m)
{
    uint64_t top[RM_PT_SPARE_MAX]; /* descending */
    size_t i, k = 0;
    if (m > RM_PT_SPARE_MAX)
        m = RM_PT_SPARE_MAX;
    if (m == 0 || t->n < m)
        return 0;
    for (i = 0; i < t->n; i++) {
        uint64_t v = t->procs[i].rss;
        size_t j;
        if (k == m && top[m - 1] >= v)
            continue;
        if (k < m)
            k++;
        for (j = k - 1; j > 0 && top[j - 1] < v; j--)
            top[j] = top[j - 1];
        top[j] = v;
    }
    return top[m - 1] + 1;
}

size_t rm_ptable_top(rm_ptable *t, size_t n, size_t *out)
{
    size_t i, k = 0;
    for (i = 0; i < t->n; i++)
        insert_by_rss(t, out, &k, n, i);
    if (t->tasks) {
        for (i = 0; i < k; i++) {
            rm_proc *p = &t->procs[out[i]];
            rm_pt_task *tk;
            if (p->task < 0 || (size_t)p->task >= t->ntasks)
                continue;
            tk = &t->tasks[p->task];
            if (!tk->listed && !tk->fresh && !tk->hot && tk->pid == p->pid)
                refresh_stat(t, tk, p);
        }
        for (i = 0; i < t->ntasks; i++)
            t->tasks[i].listed = 0;
        for (i = 0; i < k; i++)
            if (t->procs[out[i]].task >= 0 && (size_t)t->procs[out[i]].task < t->ntasks)
                t->tasks[t->procs[out[i]].task].listed = 1;
    }
    /* a task under half the n-th largest cannot enter the list without
     * more than doubling, nor one outside the RM_PT_TOP_SPARE * n largest
     * without passing all those: such tasks are read only in turn at
     * rescans (the listed ones, at every scan) */
    if (n == 0)
        t->cold_below = UINT64_MAX;
    else if (k < n)
        t->cold_below = 0;
    else {
        uint64_t floor = spare_floor(t, n * RM_PT_TOP_SPARE);
        t->cold_below = t->procs[out[n - 1]].rss / 2;
        if (floor > t->cold_below)
            t->cold_below = floor;
    }
    return k;
}

void rm_ptable_close(rm_ptable *t)
{
#ifdef RM_HAVE_PROC2_H
    if (t->proc2) {
        struct pids_info *info = t->proc2;
        proc2.pids_unref(&info);
    }
#endif
    t->proc2 = NULL;
    if (t->fd_loadavg >= 0)
        close(t->fd_loadavg);
    t->fd_loadavg = -1;
    for (size_t i = 0; i < t->ntasks; i++)
        if (t->tasks[i].fd >= 0)
            close(t->tasks[i].fd);
    free(t->tasks);
    t->tasks = NULL;
    t->ntasks = t->nfds = 0;
    free(t->procs);
    free(t->mark);
    t->procs = NULL;
    t->mark = NULL;
    t->n = t->cap = 0;
}

int rm_proc_descends(const char *root, int pid, int ancestor)
{
    int depth, cur = pid;
    for (depth = 0; depth < RM_TREE_DEPTH; depth++) {
        char path[384], buf[RM_STAT_BUF];
        rm_proc p;
        ssize_t len = 0;
        int fd, n;
        if (cur == ancestor)
            return 1;
        if (cur <= 1)
            return 0; /* init, or the kernel (ppid 0): the chain ended */
        n = snprintf(path, sizeof(path), "%s/proc/%d/stat", root, cur);
        if (n < 0 || (size_t)n >= sizeof(path))
            return -1;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        do
            len = read(fd, buf, sizeof(buf) - 1);
        while (len < 0 && errno == EINTR);
        close(fd);
        if (len <= 0 || rm_parse_stat(buf, (size_t)len, 4096, &p) != 0)
            return -1;
        cur = p.ppid;
    }
    return -1;
}

size_t rm_read_cmdline(const char *root, int pid, const char *comm, char *out, size_t cap)
{
    char path[384];
    ssize_t len = 0;
    size_t i;
    int fd, n;

    if (cap == 0)
        return 0;
    out[0] = '\0';
    n = snprintf(path, sizeof(path), "%s/proc/%d/cmdline", root, pid);
    if (n >= 0 && (size_t)n < sizeof(path) && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        do
            len = read(fd, out, cap - 1);
        while (len < 0 && errno == EINTR);
        close(fd);
    }
    if (len <= 0) {
        /* kernel thread or zombie: ps shows "[comm]" */
        n = snprintf(out, cap, "[%s]", comm ? comm : "?");
        if (n < 0)
            out[0] = '\0';
        return strlen(out);
    }
    while (len > 0 && out[len - 1] == '\0')
        len--;
    for (i = 0; i < (size_t)len; i++)
        if (out[i] == '\0')
            out[i] = ' ';
    out[len] = '\0';
    return (size_t)len;
}
