/* SPDX-License-Identifier: MIT */
/* mount.h stand-in: only what csrc/probe/darwin.c uses, as the macOS SDK declares it (syntax check
 * on Linux). */
#ifndef STUB___sys_mount_h
#define STUB___sys_mount_h
#include <stdint.h>
struct statfs {
    uint32_t f_bsize;
    int32_t f_iosize;
    uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
};
int statfs(const char *, struct statfs *);
#endif
