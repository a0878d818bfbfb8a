/* SPDX-License-Identifier: MIT */
/* compat.h: the few POSIX and GNU calls resmon-report uses that Windows (mingw-w64) lacks,
 * so that the report's sources build unchanged on Linux, macOS and Windows. On POSIX
 * every name here is the system's own call or a thin wrapper of it; compat.c holds the
 * Windows side. The sampler and the extension do not use this file. */
#ifndef RM_COMPAT_H
#define RM_COMPAT_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Files are read and written as bytes: Windows would turn "\r\n" into "\n" on
 * reading and "\n" into "\r\n" on writing, and stop reading at a Ctrl-Z. */
#ifndef O_BINARY
#define O_BINARY 0
#endif

#ifdef _WIN32
/* O_CLOEXEC's nearest relative: the descriptor is not inherited by children. */
#ifndef O_CLOEXEC
#define O_CLOEXEC _O_NOINHERIT
#endif
/* gmtime_r from Microsoft's gmtime_s (arguments swapped; it returns an errno). */
static inline struct tm *rm_gmtime_r(const time_t *t, struct tm *tm)
{
    return gmtime_s(tm, t) == 0 ? tm : NULL;
}
#define gmtime_r rm_gmtime_r
/* GNU memmem: the first n2 bytes of s2 inside the first n1 of s1, or NULL. */
void *rm_memmem(const void *s1, size_t n1, const void *s2, size_t n2);
#define memmem rm_memmem
#endif

/* Puts standard input and output in binary mode (a no-op on POSIX), so that a
 * report is the same bytes on every OS and piped gzip input is read whole. */
void rm_stdio_binary(void);

/* 64 random bits for a hash seed: /dev/urandom on POSIX, BCryptGenRandom on
 * Windows; the clock and the pid if neither answers. Never fails. */
uint64_t rm_random_seed(void);

/* A stdio stream that writes to memory (open_memstream on POSIX; a temporary
 * file that deletes itself on Windows, which has no memory stream):
 *     rm_memout m;
 *     FILE *f = rm_memout_open(&m);    NULL on failure
 *     ... fprintf(f, ...) ...
 *     char *s = rm_memout_close(&m, &len);
 * rm_memout_close closes the stream and returns what was written, NUL-terminated
 * (the caller frees it), and its length in *len (len may be NULL); NULL on
 * failure. */
typedef struct rm_memout {
    FILE *f;
    char *buf;
    size_t len;
} rm_memout;
FILE *rm_memout_open(rm_memout *m);
char *rm_memout_close(rm_memout *m, size_t *len);

#endif
