/* SPDX-License-Identifier: MIT */
/* libproc.h stand-in: only what csrc/probe/darwin.c uses, as the macOS SDK declares it (syntax
 * check on Linux). */
#ifndef STUB___libproc_h
#define STUB___libproc_h
#include <stdint.h>
#include <sys/resource.h>
#define PROC_PIDTASKINFO 4
struct proc_taskinfo {
    uint64_t pti_virtual_size, pti_resident_size, pti_total_user, pti_total_system,
        pti_threads_user, pti_threads_system;
    int32_t pti_policy, pti_faults, pti_pageins, pti_cow_faults, pti_messages_sent,
        pti_messages_received, pti_syscalls_mach, pti_syscalls_unix, pti_csw, pti_threadnum,
        pti_numrunning, pti_priority;
};
int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize);
int proc_pid_rusage(int pid, int flavor, rusage_info_t *buffer);
#endif
