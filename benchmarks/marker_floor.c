/* SPDX-License-Identifier: MIT */
/* marker_floor.c: the kernel's share of a marker, timed in C.
 *
 *     cc -O2 -o marker_floor benchmarks/marker_floor.c
 *     ./marker_floor CALLS FILE...
 *
 * Times, each alone over CALLS calls (thread CPU time), the system calls
 * log_resource_snapshot makes on Linux: a pread of every FILE on a kept-open
 * fd (bench_sample.py passes /proc/meminfo, /proc/self/statm and the memory
 * cgroup's usage, peak and OOM-counter files, as the probe opens them),
 * getrusage(RUSAGE_THREAD), fstat of /proc/self/task, a 320-byte write to
 * /dev/null and getpid. Prints "name ns" per call, then "total ns": what a
 * marker cannot cost less than on this machine, before any formatting. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char buf[16384];

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double report(const char *name, double t0, long calls)
{
    double ns = (now_ns() - t0) / (double)calls;
    printf("%s %.0f\n", name, ns);
    return ns;
}

int main(int argc, char **argv)
{
    long calls, i;
    int k, fd;
    double t0, total = 0;
    struct rusage ru;
    struct stat st;

    if (argc < 2 || (calls = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: marker_floor CALLS FILE...\n");
        return 2;
    }
    for (k = 2; k < argc; k++) {
        if ((fd = open(argv[k], O_RDONLY)) < 0) {
            perror(argv[k]);
            return 1;
        }
        t0 = now_ns();
        for (i = 0; i < calls; i++)
            if (pread(fd, buf, sizeof(buf), 0) < 0)
                return 1;
        total += report(argv[k], t0, calls);
        close(fd);
    }
    t0 = now_ns();
    for (i = 0; i < calls; i++)
        getrusage(RUSAGE_THREAD, &ru);
    total += report("getrusage", t0, calls);
    if ((fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY)) < 0)
        return 1;
    t0 = now_ns();
    for (i = 0; i < calls; i++)
        fstat(fd, &st);
    total += report("fstat(/proc/self/task)", t0, calls);
    close(fd);
    if ((fd = open("/dev/null", O_WRONLY)) < 0)
        return 1;
    memset(buf, 'x', 320);
    t0 = now_ns();
    for (i = 0; i < calls; i++)
        if (write(fd, buf, 320) != 320)
            return 1;
    total += report("write(320 bytes)", t0, calls);
    close(fd);
    t0 = now_ns();
    for (i = 0; i < calls; i++)
        getpid();
    total += report("getpid", t0, calls);
    printf("total %.0f\n", total);
    return 0;
}
