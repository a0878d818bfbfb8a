/* SPDX-License-Identifier: MIT */
/* probe.h: one resource sample of a process, its machine and its cgroup. */
#ifndef RM_PROBE_H
#define RM_PROBE_H

#include <stdint.h>

/* Which groups of fields rm_probe_sample() reads. The cheap group is
 * RM_READ_PROC (one pread of statm plus getrusage on Linux). */
enum {
    RM_READ_PROC = 1u << 0,    /* rss, hwm, vms */
    RM_READ_DETAIL = 1u << 1,  /* anon, file, shmem, swap, threads */
    RM_READ_SYSTEM = 1u << 2,  /* mem_* and swap_* of the machine */
    RM_READ_CGROUP = 1u << 3,  /* cg_* but cg_inactive_file */
    RM_READ_THREADS = 1u << 4, /* threads alone (cheaper than DETAIL) */
    RM_READ_CG_STAT = 1u << 5, /* with RM_READ_CGROUP: cg_inactive_file (memory.stat,
                                  as costly as eight one-number cgroup files) */
    RM_READ_ALL = 0x3fu
};

/* Bits of rm_sample.valid: a field is meaningful only when its bit is set. */
enum {
    RM_HAVE_RSS = 1u << 0,
    RM_HAVE_HWM = 1u << 1,
    RM_HAVE_VMS = 1u << 2,
    RM_HAVE_ANON = 1u << 3,
    RM_HAVE_FILE = 1u << 4,
    RM_HAVE_SHMEM = 1u << 5,
    RM_HAVE_SWAP = 1u << 6,
    RM_HAVE_THREADS = 1u << 7,
    RM_HAVE_MEM_TOTAL = 1u << 8,
    RM_HAVE_MEM_AVAIL = 1u << 9,
    RM_HAVE_MEM_FREE = 1u << 10,
    RM_HAVE_MEM_CACHED = 1u << 11,
    RM_HAVE_SWAP_TOTAL = 1u << 12,
    RM_HAVE_SWAP_FREE = 1u << 13,
    RM_HAVE_CG_USAGE = 1u << 14,
    RM_HAVE_CG_LIMIT = 1u << 15,
    RM_HAVE_CG_PEAK = 1u << 16,
    RM_HAVE_CG_OOM = 1u << 17,
    RM_HAVE_CG_INACTIVE_FILE = 1u << 18
};

/* rm_sample.cg_limit when the cgroup (and every ancestor) has no limit. */
#define RM_NO_LIMIT UINT64_MAX

/* All sizes are exact integers in bytes. */
typedef struct rm_sample {
    uint32_t valid; /* RM_HAVE_* bits */
    /* process */
    uint64_t rss;     /* resident set size */
    uint64_t hwm;     /* resident high-water mark since start or last reset */
    uint64_t vms;     /* virtual size */
    uint64_t anon;    /* resident anonymous memory */
    uint64_t file;    /* resident file-backed memory */
    uint64_t shmem;   /* resident shared memory */
    uint64_t swap;    /* swapped-out memory of the process */
    uint64_t threads; /* native threads (tasks) of the process */
    /* system */
    uint64_t mem_total;
    uint64_t mem_avail;
    uint64_t mem_free;
    uint64_t mem_cached;
    uint64_t swap_total;
    uint64_t swap_free;
    /* cgroup (memory controller) */
    uint64_t cg_usage;
    uint64_t cg_limit; /* smallest limit of the group and its ancestors */
    uint64_t cg_peak;
    uint64_t cg_oom_kills;
    /* page cache on the cgroup's inactive list, which the kernel reclaims
     * first at the limit (v1 memory.stat total_inactive_file, v2 inactive_file) */
    uint64_t cg_inactive_file;
} rm_sample;

/* Maximum ancestors whose limit is read: deep enough for systemd slices and
 * container runtimes, small enough to keep the fds of a probe bounded. */
#define RM_CG_MAX_DEPTH 8

/* A probe keeps its files open so a sample is a handful of pread(2) calls
 * and no allocation. Fields are private to the platform file. */
typedef struct rm_probe {
    int pid; /* 0: the calling process */
    int fd_statm, fd_stat, fd_status, fd_meminfo, fd_clear_refs;
    int fd_task;    /* Linux: <proc>/task, whose link count is 2 + threads; -1 unused */
    int cg_version; /* 0 none found, 1 or 2 */
    int fd_cg_usage, fd_cg_peak, fd_cg_events, fd_cg_stat;
    int fd_cg_limit[RM_CG_MAX_DEPTH];
    int n_cg_limit;
    int hwm_from_rusage; /* 1 when getrusage's ru_maxrss can stand in for VmHWM */
    int rusage_recheck;  /* not yet: see again whether it can, at each VmHWM read */
    long page_size;
    /* Linux, pid 0: the forks counted when the /proc/self files were opened
     * (a forked child reopens them before its first read) and where they are */
    unsigned self_forks;
    char self_dir[512];
    /* Linux: the cgroup limits, read at most once a second (linux.c,
     * cached_limit); cg_lim_seq is odd while the cache is written */
    volatile unsigned cg_lim_seq;
    volatile uint64_t cg_lim_at_ns; /* CLOCK_MONOTONIC of the read; 0: none */
    volatile uint64_t cg_lim;
    volatile int cg_lim_ok; /* some limit file was read */
    char cg_path[512];      /* the memory cgroup directory, for messages */
    void *platform;         /* Windows / macOS handles */
} rm_probe;

/* Opens the files a probe reads. pid 0 is the calling process (the only
 * one whose peak can be reset). root is "" for the real system, or a
 * directory standing in for "/" (tests build fake /proc and cgroup trees
 * there). Missing files are not an error: their fields stay invalid.
 * Returns 0, or -1 with errno set when nothing at all can be read. */
int rm_probe_open(rm_probe *p, int pid, const char *root);

/* Fills s with the groups in what (RM_READ_*). Never allocates. Returns 0;
 * fields that could not be read are left out of s->valid. On Linux the
 * cgroup limits (configuration, not memory state) are read at most once a
 * second and may be up to that old; usage, peak and the OOM-kill counter
 * are read every time. A forked child's first sample reopens the
 * /proc/self files that still describe the parent.
 * Async-signal-safe on Linux: pread(2), fstat(2), getrusage(2),
 * clock_gettime(2), open(2)/dup3(2)/close(2) after a fork, lock-free atomics,
 * arithmetic. */
int rm_probe_sample(rm_probe *p, rm_sample *s, unsigned what);

/* Resets the resident high-water mark so the next hwm is the peak of the
 * interval starting now. Linux: writes "5" to /proc/self/clear_refs.
 * Returns 0, or -1 with errno set (ENOTSUP where the OS cannot). */
int rm_probe_reset_peak(rm_probe *p);

/* Native thread count alone (cheap on every OS); 0 when unknown. */
uint64_t rm_probe_threads(rm_probe *p);

void rm_probe_close(rm_probe *p);

/* Used and free (available to unprivileged users) bytes of the file system
 * holding path. Returns 0, or -1 with errno set. */
int rm_disk_usage(const char *path, uint64_t *used, uint64_t *avail);

/* Name of the platform probe ("linux", "darwin", "win32"). */
extern const char rm_probe_platform[];

#endif
