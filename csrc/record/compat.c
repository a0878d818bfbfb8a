/* SPDX-License-Identifier: MIT */
/* compat.c: the calls of compat.h, once for POSIX and once for Windows (mingw-w64). */
#include "compat.h"

#include <stdlib.h>
#include <string.h>

#ifndef _WIN32

#include <unistd.h>

void rm_stdio_binary(void)
{
}

uint64_t rm_random_seed(void)
{
    uint64_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &s, sizeof(s)) != (ssize_t)sizeof(s))
            s = 0;
        close(fd);
    }
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
    }
    return s;
}

FILE *rm_memout_open(rm_memout *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    return m->f;
}

char *rm_memout_close(rm_memout *m, size_t *len)
{
    char *buf;
    if (!m->f)
        return NULL;
    if (fclose(m->f) != 0) {
        free(m->buf);
        m->buf = NULL;
    }
    m->f = NULL;
    buf = m->buf;
    m->buf = NULL;
    if (buf && len)
        *len = m->len;
    return buf;
}

#else /* _WIN32 */

#include <windows.h>
#include <bcrypt.h>
#include <io.h>

void *rm_memmem(const void *s1, size_t n1, const void *s2, size_t n2)
{
    const unsigned char *h = s1, *end, *p;
    const unsigned char *needle = s2;
    if (n2 == 0)
        return (void *)h;
    if (n1 < n2)
        return NULL;
    end = h + (n1 - n2) + 1; /* the last place a match can start, plus one */
    for (p = h; p < end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p)
            return NULL;
        if (memcmp(p, needle, n2) == 0)
            return (void *)p;
    }
    return NULL;
}

void rm_stdio_binary(void)
{
    (void)_setmode(_fileno(stdin), _O_BINARY);
    (void)_setmode(_fileno(stdout), _O_BINARY);
}

uint64_t rm_random_seed(void)
{
    uint64_t s = 0;
    if (!BCRYPT_SUCCESS(
            BCryptGenRandom(NULL, (PUCHAR)&s, (ULONG)sizeof(s), BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
        s = 0;
    if (s == 0) {
        LARGE_INTEGER t;
        QueryPerformanceCounter(&t);
        s = ((uint64_t)t.QuadPart << 20) ^ (uint64_t)GetTickCount64() ^
            ((uint64_t)GetCurrentProcessId() << 40);
    }
    return s;
}

FILE *rm_memout_open(rm_memout *m)
{
    char dir[MAX_PATH + 1], path[MAX_PATH + 1];
    DWORD n = GetTempPathA((DWORD)sizeof(dir), dir);
    m->buf = NULL;
    m->len = 0;
    m->f = NULL;
    if (n == 0 || n >= sizeof(dir) || GetTempFileNameA(dir, "rmr", 0, path) == 0)
        return NULL;
    /* "T": kept in memory while it can be; "D": deleted when closed */
    m->f = fopen(path, "w+bTD");
    if (!m->f)
        DeleteFileA(path);
    return m->f;
}

char *rm_memout_close(rm_memout *m, size_t *len)
{
    char *buf = NULL;
    long long n = -1;
    if (!m->f)
        return NULL;
    if (fflush(m->f) == 0 && (n = _ftelli64(m->f)) >= 0 && (uint64_t)n < SIZE_MAX &&
        fseek(m->f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, m->f) == (size_t)n) {
            buf[n] = '\0';
        } else {
            free(buf);
            buf = NULL;
        }
    }
    if (fclose(m->f) != 0) {
        free(buf);
        buf = NULL;
    }
    m->f = NULL;
    if (buf && len)
        *len = (size_t)n;
    return buf;
}

#endif /* _WIN32 */
