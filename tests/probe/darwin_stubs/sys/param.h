/* SPDX-License-Identifier: MIT */
/* param.h stand-in: only what csrc/probe/darwin.c uses, as the macOS SDK declares it (syntax check
 * on Linux). */
#ifndef STUB___sys_param_h
#define STUB___sys_param_h
#endif
