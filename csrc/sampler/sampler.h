/* SPDX-License-Identifier: MIT */
/* sampler.h: internal interfaces of resmon-sampler (process table, host facts). */
#ifndef RM_SAMPLER_H
#define RM_SAMPLER_H

#include "probe/probe.h"

#include <stddef.h>
#include <stdint.h>

#ifndef RM_VERSION
#define RM_VERSION "0.1.0"
#endif

/* Bytes of a command line kept for a reported process: enough to tell
 * "python -m pytest -n 4" from "python -c ..." without crowding the record. */
#define RM_CMD_MAX 72

/* Most processes one scan keeps: far above any CI runner, and a bound on
 * memory if /proc lists something absurd. */
#define RM_PT_MAX 65536

/* Most /proc/<pid>/statm files the /proc reader keeps open between scans:
 * a pread(2) of a kept statm costs a quarter of open+read+close. Each kept
 * file holds a page of kernel memory (the seq_file buffer, charged to the
 * sampler's cgroup), so 4096 cost at most about 20 MiB; a CI runner has
 * about 1,100 processes. The budget is also bounded by RLIMIT_NOFILE: the
 * soft limit is raised towards RM_PT_FD_MAX + RM_PT_FD_RESERVE when the
 * hard limit allows (the command gets the original limit back). */
#define RM_PT_FD_MAX 4096

/* File descriptors left for everything else (the log, the probe's files,
 * /dev/kmsg, pipes) when the fd budget is taken from RLIMIT_NOFILE. */
#define RM_PT_FD_RESERVE 64

/* Listed tasks (the tree's members and the last top list) re-read their
 * stat (name; parent too) on every this-many-th rescan, staggered by pid;
 * a task that enters the top list reads it at once; new tasks, and tasks
 * whose parent vanished (they were re-parented), read it at the next
 * rescan. Other tasks never re-read it: their name is not shown, and
 * their parent changes only when it dies. A stat read (open, read,
 * close) costs about 12 statm preads. */
#define RM_PT_STAT_EVERY 8

/* Tasks outside the tree under half the RSS of the top list's last entry
 * read their statm on every this-many-th rescan only, staggered by pid: a
 * process that more than doubles shows in the top list at most this many
 * rescans late. The tree's members are read at every scan. */
#define RM_PT_COLD_EVERY 4

/* Between its turns, a task outside the tree and the top list is read at
 * every scan only when it is among the RM_PT_TOP_SPARE * N largest (and
 * at least half the N-th largest, N of --top): with hundreds of processes
 * of about the same size (a pool of workers) the half alone would read
 * them all. RM_PT_SPARE_MAX bounds the scratch list (a stack array). */
#define RM_PT_TOP_SPARE 2
#define RM_PT_SPARE_MAX 256

/* New pids at a rescan: /proc/loadavg's last allocated pid says whether
 * and how many were allocated since the last look. Up to this many are
 * probed one by one (pidfd_open(2) tells a process from a thread or a pid
 * already gone, about 1 us each); more, a pid wrap, or no pidfd_open (or a
 * root other than "/"), and /proc is listed (about 1.3 us per process). */
#define RM_PT_PROBE_MAX 256

/* /proc is listed at least on every this-many-th rescan regardless (pid
 * namespaces or a /proc of another namespace could hide a creation from
 * the last-pid counter). */
#define RM_PT_LIST_EVERY 20

/* Tree members whose parent vanished, remembered until the next rescan
 * re-reads their children's stat; past this many, every stat is re-read. */
#define RM_PT_GONE_MAX 256

/* A task the /proc reader found at its last directory scan. */
typedef struct rm_pt_task {
    int pid;               /* negative: gone since the last listing */
    int fd;                /* kept-open /proc/<pid>/statm, or -1 */
    int ppid;              /* from stat; -1: to be read at the next rescan */
    unsigned char kthread; /* a kernel thread: no memory of its own, statm never read */
    unsigned char hot;     /* in the tree at the last rm_ptable_tree(): read every scan */
    unsigned char listed;  /* in the last rm_ptable_top() list */
    unsigned char fresh;   /* stat read by the current scan */
    unsigned char old;     /* existed at rm_ptable_outside_now(), stat not read:
                            * 1 statm not read yet either, 2 read */
    uint64_t rss;          /* bytes, at its last read */
    char comm[16];
} rm_pt_task;

/* One row of the process table: what every scan reads for every task. */
typedef struct rm_proc {
    int pid;
    int ppid;
    uint64_t rss; /* bytes */
    char comm[16];
    int kthread; /* rm_parse_stat: the kernel's PF_KTHREAD flag */
    long task;   /* /proc reader: index in tasks; -1 for libproc2 */
} rm_proc;

/* The whole process table, re-read by rm_ptable_scan(). */
typedef struct rm_ptable {
    rm_proc *procs; /* sorted by pid after a scan */
    size_t n, cap;
    unsigned char *mark; /* scratch for the tree walk, cap entries */
    void *proc2;         /* struct pids_info * when libproc2 is used */
    /* libproc2: "used"; "unused" (the /proc reader was asked for), "off"
     * (RESMON_NO_PROC2), "not_found" (dlopen failed), "abi_mismatch" (the
     * self-check failed), "not_built" (built without its header) */
    const char *proc2_status;
    rm_pt_task *tasks; /* /proc reader: tasks of the last directory scan, by pid */
    size_t ntasks, tasks_cap;
    size_t nfds, fd_max;
    int fd_loadavg; /* <root>/proc/loadavg for its last-pid field, or -1 */
    long last_pid;  /* at the last rescan; -1 unknown */
    long last_pid2; /* at the rescan before: probes start here, so a pid
                     * allocated but not yet attached to its process
                     * (pidfd_open says EINVAL, as for a thread) is probed
                     * again at the next rescan */
    unsigned rescans, since_list;
    int gone[RM_PT_GONE_MAX]; /* pids that vanished since the last rescan */
    size_t ngone;
    int gone_overflow;
    uint64_t cold_below; /* outside the tree, tasks under this RSS wait for a rescan */
    int have_nofile;     /* nofile0 holds the limit found at open */
    unsigned long long nofile0_cur, nofile0_max;
    int no_pidfd;              /* pidfd_open(2) is missing: new pids come from listings */
    long old_max;              /* > 0: the last pid when rm_ptable_outside_now() was called */
    uint64_t reads;            /* statm and stat reads so far (measurement) */
    uint64_t listings, probes; /* /proc listings and pids probed so far (measurement) */
    long page_size;
    char root[256]; /* "" or a directory standing in for "/" (tests) */
} rm_ptable;

/* Opens the process table reader. backend: "auto" (libproc2 when it can
 * be loaded with dlopen and root is "", else the /proc reader), "libproc2"
 * or "proc". RESMON_NO_PROC2=1 in the environment keeps libproc2 from
 * being loaded. Returns 0, or -1 when the backend asked for is not
 * available. May raise the soft RLIMIT_NOFILE (see RM_PT_FD_MAX). */
int rm_ptable_open(rm_ptable *t, const char *root, const char *backend);

/* Says that no process existing now is, or will ever be, in the tree
 * (wrap mode: the tree is the sampler's own descendants, forked from now
 * on). The /proc reader then reads only the statm of those processes at
 * its first scan, not their stat (parent and name: about 12 times the
 * cost): a kernel thread is known by its empty statm, and a name is read
 * when the process enters the top list. Call after rm_ptable_open(),
 * before forking; if the kernel's pid counter wraps, their stat is read
 * after all. */
void rm_ptable_outside_now(rm_ptable *t);

/* "libproc2" or "proc". */
const char *rm_ptable_backend(const rm_ptable *t);

/* Puts back the RLIMIT_NOFILE that rm_ptable_open() found, for a forked
 * child before exec. Async-signal-safe: setrlimit(2) only. */
void rm_ptable_restore_nofile(const rm_ptable *t);

/* Re-reads the process table. At every scan the /proc reader reads the
 * RSS (statm, through kept-open fds) of the tree's members (see
 * rm_ptable_tree) and of tasks large enough to be in the top list (see
 * rm_ptable_top); the others keep the RSS of their last read. With rescan
 * 1 it also finds the pids allocated since the last rescan (probed, or
 * /proc listed: see RM_PT_PROBE_MAX), reads the stat of new tasks, of
 * re-parented ones and of some listed ones (see RM_PT_STAT_EVERY), and
 * the statm of a quarter of the other tasks (see RM_PT_COLD_EVERY). A new
 * process or a new parent shows at the next rescan. libproc2 always reads
 * the whole table. Returns the count, or -1 with errno set when the table
 * could not be read at all. Processes that vanish are skipped. */
int rm_ptable_scan(rm_ptable *t, int rescan);

/* Index of pid in the last scan, or -1. */
long rm_ptable_find(const rm_ptable *t, int pid);

/* The tree rooted at pid (pid and all its descendants in the last scan):
 * writes up to max indexes into out, largest RSS first, and the RSS sum and
 * member count of the whole tree into *sum and *count. Returns the number
 * of indexes written. Its members are read at every scan from now on. */
/* After rm_ptable_tree(), mark[i] is RM_PT_IN_TREE for every member. */
#define RM_PT_IN_TREE 1

size_t rm_ptable_tree(rm_ptable *t, int pid, size_t *out, size_t max, uint64_t *sum, size_t *count);

/* The n largest processes by RSS, largest first. Returns how many. A task
 * that was not in the previous list re-reads its stat now (its name may
 * have changed since it was read). The listed tasks are read at every scan
 * from now on, and so are the candidates (see RM_PT_TOP_SPARE); the others
 * only in turn at rescans (a process that grows past the list's last shows
 * in it at most RM_PT_COLD_EVERY rescans late). */
size_t rm_ptable_top(rm_ptable *t, size_t n, size_t *out);

void rm_ptable_close(rm_ptable *t);

/* Parses one /proc/<pid>/stat text into p (pid, comm, ppid, kthread, rss
 * in pages times page_size). Returns 0, or -1 when the text is malformed. */
int rm_parse_stat(const char *buf, size_t len, long page_size, rm_proc *p);

/* Follows the parent chain of pid through <root>/proc/<pid>/stat, read now
 * (not the last scan): a process that began and was killed between two
 * scans still has its stat until its parent reaps it. Returns 1 when
 * ancestor is pid or one of its ancestors, 0 when the chain ends at init
 * without it, -1 when a process of the chain cannot be read (gone). */
int rm_proc_descends(const char *root, int pid, int ancestor);

/* Reads /proc/<pid>/cmdline under root into out (NUL-separated arguments
 * joined by spaces, cut to cap-1 bytes). Falls back to "[comm]" for kernel
 * threads and zombies. Returns the length written. */
size_t rm_read_cmdline(const char *root, int pid, const char *comm, char *out, size_t cap);

/* Topology and host facts for the head record. Any field may be unknown
 * (-1 / ""). */
typedef struct rm_topo {
    int packages, cores, pus, numa, cpus_allowed, cpus_affinity;
    char cpuset[64]; /* allowed CPUs as a list, "0-3" */
    const char *src; /* "hwloc", "sysfs" or "sysconf" (the PU count only) */
} rm_topo;

/* The hwloc library rm_topo_read() loads with dlopen: hwloc 2.x, whose ABI
 * this soname fixes. RESMON_NO_HWLOC=1 in the environment skips it. */
#ifndef RM_HWLOC_SONAME
#define RM_HWLOC_SONAME "libhwloc.so.15"
#endif

/* Fills topo from hwloc when it can be loaded (the discovery runs in a
 * short-lived child process, so neither hwloc's libraries nor its
 * allocations count towards the sampler's own memory), else from
 * <sysfs>/devices/system (packages, cores, PUs, NUMA nodes), else the
 * online CPU count alone. sysfs is "/sys" or a directory standing in for
 * it (tests). */
void rm_topo_read_from(rm_topo *topo, const char *sysfs, int use_hwloc);

/* rm_topo_read_from(topo, "/sys", RESMON_NO_HWLOC unset). */
void rm_topo_read(rm_topo *topo);

/* /proc/pressure/memory: avg10 of "some" and "full" in hundredths of a
 * percent, and the totals in microseconds. Returns 0, or -1. */
typedef struct rm_psi {
    unsigned some10, full10; /* percent * 100 */
    uint64_t some_total, full_total;
} rm_psi;
int rm_psi_parse(const char *buf, rm_psi *psi);

/* /proc/loadavg: the three loads in hundredths, and the number of tasks. */
typedef struct rm_load {
    unsigned l1, l5, l15;
    unsigned tasks;
} rm_load;
int rm_load_parse(const char *buf, rm_load *load);

/* What one /dev/kmsg record says about an OOM kill. */
typedef struct rm_kmsg_oom {
    int pid;       /* the killed process */
    char comm[32]; /* its name as the kernel wrote it, cut to 31 bytes */
    int have_ts, have_anon_rss;
    uint64_t ts_usec;  /* the record's time stamp: microseconds since boot */
    uint64_t anon_rss; /* bytes: "anon-rss:NNNkB", the killed process's anonymous RSS */
} rm_kmsg_oom;

/* Parses one /dev/kmsg record ("pri,seq,usec,flags;text"; it may hold no
 * NUL: bounded by len). Returns 1 and fills *out when the text reports an
 * OOM kill ("Killed process <pid> (<comm>)", older kernels "Kill process"),
 * else 0. */
int rm_kmsg_parse_oom(const char *rec, size_t len, rm_kmsg_oom *out);

/* ---- OOM judgment (oom.c; docs/sampler.md "OOM evidence") ---- */

/* One sample is near a limit when the cgroup's working set (usage minus the
 * inactive page cache the kernel reclaims first) reaches RM_NEAR_CG_PCT of
 * the limit, or MemAvailable falls under RM_NEAR_AVAIL_PCT of MemTotal; it
 * shows ample memory when the working set is at most RM_AMPLE_CG_PCT of the
 * limit and MemAvailable at least RM_AMPLE_AVAIL_PCT. At 90/5 one more
 * burst of allocation reaches the limit; 75/25 leave a quarter free, more
 * than most tests allocate in one interval. */
#define RM_NEAR_CG_PCT 90
#define RM_NEAR_AVAIL_PCT 5
#define RM_AMPLE_CG_PCT 75
#define RM_AMPLE_AVAIL_PCT 25

enum { RM_MEM_UNKNOWN = 0, RM_MEM_NEAR, RM_MEM_TIGHT, RM_MEM_AMPLE };

/* The cgroup's working set: cg_usage minus cg_inactive_file. Returns 1 when
 * both were read, 0 when *ws is the raw usage (or, without usage, unset). */
int rm_cg_working_set(const rm_sample *m, uint64_t *ws);

/* RM_MEM_NEAR, RM_MEM_AMPLE, RM_MEM_TIGHT (in between) or RM_MEM_UNKNOWN
 * (neither the machine's nor a limited cgroup's memory was read). */
int rm_mem_judge(const rm_sample *m);

/* Samples before the command's end that may support or contradict an OOM
 * kill: a sample older than these says nothing about the moment it died. */
#define RM_OOM_LAST 2

typedef struct rm_oom_window {
    uint64_t at[RM_OOM_LAST]; /* CLOCK_MONOTONIC usec, newest first */
    int state[RM_OOM_LAST];   /* RM_MEM_* */
    size_t n;
} rm_oom_window;

enum { RM_OOM_SUPPORT = 1, RM_OOM_CONTRA = 2 };

void rm_oom_window_add(rm_oom_window *w, uint64_t at, int state);

/* Judges the samples of w no older than max_age at end: RM_OOM_SUPPORT when
 * one was near a limit, RM_OOM_CONTRA when all (at least one) showed ample
 * memory, else 0. */
int rm_oom_window_judge(const rm_oom_window *w, uint64_t end, uint64_t max_age);

/* Tree pids remembered for matching kernel OOM reports: a member that was
 * sampled once and was killed and reaped before the report was read. */
#define RM_SEEN_PIDS 1024

/* The watched tree, as kernel OOM reports are matched against it. */
typedef struct rm_oom_tree {
    int child;              /* the command (wrap) or watched pid; 0: none */
    int root_pid;           /* pid whose descendants form the tree; 0: none */
    int closed;             /* 1 when members never leave (wrap: a subreaper) */
    const char *proc_root;  /* "" or a directory standing in for "/" (tests) */
    int seen[RM_SEEN_PIDS]; /* ring of pids seen in the tree */
    size_t seen_next;
} rm_oom_tree;

void rm_oom_tree_remember(rm_oom_tree *t, int pid);
int rm_oom_tree_seen(const rm_oom_tree *t, int pid);

/* 1 when pid is, or was, a process of the tree: the command, a descendant
 * of the root now (read from /proc: a killed process stays readable until
 * reaped), or a pid seen in the tree before, unless (closed tree) it is
 * alive outside the tree now, its pid reused. Else 0. */
int rm_oom_in_tree(const rm_oom_tree *t, int pid);

/* Kernel records stamped more than this before the sampler opened
 * /dev/kmsg are ignored. The stamp's clock (local_clock) and
 * CLOCK_MONOTONIC drift apart by parts per million; the fd also starts at
 * the end of the buffer, so this guard only has to catch the grossly old. */
#define RM_KMSG_SLACK_USEC 2000000u

/* 0 when the record is older than since_usec (CLOCK_MONOTONIC) minus
 * RM_KMSG_SLACK_USEC, else 1 (also without a time stamp). */
int rm_kmsg_is_new(const rm_kmsg_oom *k, uint64_t since_usec);

#endif
