/* SPDX-License-Identifier: MIT */
/* sampler.h: internal interfaces of resmon-sampler (process table, host facts). */
#ifndef RM_SAMPLER_H
#define RM_SAMPLER_H

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
 * a pread(2) of a kept statm costs a tenth of open+read+close of stat. */
#define RM_PT_FD_MAX 512

/* Known tasks re-read their stat (parent, name) on every this-many-th
 * rescan, staggered by pid; new tasks read it at once. stat costs three
 * times statm, and a parent or name rarely changes. */
#define RM_PT_STAT_EVERY 4

/* A task the /proc reader found at its last directory scan. */
typedef struct rm_pt_task {
    int pid;
    int fd;   /* kept-open /proc/<pid>/statm, or -1 */
    int ppid; /* from stat, re-read every RM_PT_STAT_EVERY rescans */
    char comm[16];
} rm_pt_task;

/* One row of the process table: what every scan reads for every task. */
typedef struct rm_proc {
    int pid;
    int ppid;
    uint64_t rss; /* bytes */
    char comm[16];
} rm_proc;

/* The whole process table, re-read by rm_ptable_scan(). */
typedef struct rm_ptable {
    rm_proc *procs; /* sorted by pid after a scan */
    size_t n, cap;
    unsigned char *mark; /* scratch for the tree walk, cap entries */
    void *proc2;         /* struct pids_info * when libproc2 is used */
    rm_pt_task *tasks;   /* /proc reader: tasks of the last directory scan, by pid */
    size_t ntasks, tasks_cap;
    size_t nfds, fd_max;
    unsigned rescans;
    long page_size;
    char root[256]; /* "" or a directory standing in for "/" (tests) */
} rm_ptable;

/* Opens the process table reader. backend: "auto" (libproc2 when built
 * with it and root is "", else the /proc reader), "libproc2" or "proc".
 * Returns 0, or -1 when the backend asked for is not available. */
int rm_ptable_open(rm_ptable *t, const char *root, const char *backend);

/* "libproc2" or "proc". */
const char *rm_ptable_backend(const rm_ptable *t);

/* Re-reads every process. With rescan 1 the /proc reader lists /proc and
 * reads every stat; with rescan 0 it re-reads only the RSS (statm, through
 * kept-open fds: cheap) of the tasks it listed last, so a new process, a
 * new parent or a new name shows at the next rescan. libproc2 always reads
 * the whole table. Returns the count, or -1 with errno set when the
 * table could not be read at all. Processes that vanish are skipped. */
int rm_ptable_scan(rm_ptable *t, int rescan);

/* Index of pid in the last scan, or -1. */
long rm_ptable_find(const rm_ptable *t, int pid);

/* The tree rooted at pid (pid and all its descendants in the last scan):
 * writes up to max indexes into out, largest RSS first, and the RSS sum and
 * member count of the whole tree into *sum and *count. Returns the number
 * of indexes written. */
/* After rm_ptable_tree(), mark[i] is RM_PT_IN_TREE for every member. */
#define RM_PT_IN_TREE 1

size_t rm_ptable_tree(rm_ptable *t, int pid, size_t *out, size_t max, uint64_t *sum, size_t *count);

/* The n largest processes by RSS, largest first. Returns how many. */
size_t rm_ptable_top(const rm_ptable *t, size_t n, size_t *out);

void rm_ptable_close(rm_ptable *t);

/* Parses one /proc/<pid>/stat text into p (pid, comm, ppid, rss in pages
 * times page_size). Returns 0, or -1 when the text is malformed. */
int rm_parse_stat(const char *buf, size_t len, long page_size, rm_proc *p);

/* Reads /proc/<pid>/cmdline under root into out (NUL-separated arguments
 * joined by spaces, cut to cap-1 bytes). Falls back to "[comm]" for kernel
 * threads and zombies. Returns the length written. */
size_t rm_read_cmdline(const char *root, int pid, const char *comm, char *out, size_t cap);

/* Topology and host facts for the head record. Any field may be unknown
 * (-1 / ""). */
typedef struct rm_topo {
    int packages, cores, pus, numa, cpus_allowed, cpus_affinity;
    char cpuset[64]; /* allowed CPUs as a list, "0-3" */
    int from_hwloc;
} rm_topo;

/* Fills topo. With hwloc, the discovery runs in a short-lived child
 * process so the sampler's own peak RSS stays small. */
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

/* One /dev/kmsg record: when it reports an OOM kill, the victim's pid and
 * name. Returns 1 for "Killed process <pid> (<comm>)" lines, else 0. */
int rm_kmsg_oom(const char *rec, size_t len, int *pid, char *comm, size_t comm_cap);

#endif
