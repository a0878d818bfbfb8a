/* SPDX-License-Identifier: MIT */
/* sysctl.h stand-in: only what csrc/probe/darwin.c uses, as the macOS SDK declares it (syntax check
 * on Linux). */
#ifndef STUB___sys_sysctl_h
#define STUB___sys_sysctl_h
#include <stddef.h>
#include <stdint.h>
struct xsw_usage {
    uint64_t xsu_total, xsu_avail, xsu_used;
    uint32_t xsu_pagesize;
    int xsu_encrypted;
};
int sysctlbyname(const char *, void *, size_t *, void *, size_t);
#endif
