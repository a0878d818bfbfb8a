/* SPDX-License-Identifier: MIT */
/* dlfcn.h stand-in: only what csrc/probe/darwin.c uses, as the macOS SDK declares it (syntax check
 * on Linux). */
#ifndef STUB___dlfcn_h
#define STUB___dlfcn_h
#define RTLD_DEFAULT ((void *)-2)
void *dlsym(void *, const char *);
#endif
