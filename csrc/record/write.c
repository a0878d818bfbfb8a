/* SPDX-License-Identifier: MIT */
/* write.c: builds resmon records in a fixed buffer (async-signal-safe). */
#include "record.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

/* Room always kept free for " trunc=1 ;\r\n": the end of a record must fit
 * whatever came before it. */
#define RM_TAIL_RESERVE 16

/* Everything in this file is async-signal-safe: it touches only the
 * caller's rm_line and calls nothing but write(2). */

/* rm_line_write_log writes lead and buf as one run of bytes, so buf must
 * follow lead with no padding between them: a char array needs no
 * alignment, so no ABI pads there; this array type fails to compile if one
 * ever did. */
typedef char rm_lead_before_buf[offsetof(rm_line, buf) == offsetof(rm_line, lead) + 1 ? 1 : -1];

size_t rm_fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

static size_t room(const rm_line *l)
{
    return sizeof(l->buf) - RM_TAIL_RESERVE - l->len;
}

static void put(rm_line *l, const char *s, size_t n)
{
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Appends " key=" plus a value already formatted; drops the field (and marks
 * the record truncated) when it does not fit. */
static void put_field(rm_line *l, const char *key, const char *val, size_t n)
{
    size_t klen = strlen(key);
    if (klen + n + 2 > room(l)) {
        l->truncated = 1;
        return;
    }
    put(l, " ", 1);
    put(l, key, klen);
    put(l, "=", 1);
    put(l, val, n);
}

void rm_line_begin(rm_line *l, const char *kind)
{
    char v[24];
    size_t n = rm_fmt_u64(v, RM_FORMAT_VERSION), i;
    l->len = 0;
    l->truncated = 0;
    l->lead = '\n';
    put(l, RM_TAG, sizeof(RM_TAG) - 1);
    put(l, v, n);
    put(l, "] ", 2);
    /* docs/format.md: kind = 1*(a-z / "_"); anything else becomes '_' */
    for (i = 0; i < 32 && kind[i]; i++)
        l->buf[l->len++] = (kind[i] >= 'a' && kind[i] <= 'z') ? kind[i] : '_';
    if (i == 0)
        put(l, "_", 1);
}

void rm_line_u64(rm_line *l, const char *key, uint64_t v)
{
    char s[24];
    put_field(l, key, s, rm_fmt_u64(s, v));
}

void rm_line_i64(rm_line *l, const char *key, int64_t v)
{
    char s[24];
    size_t n = 0;
    uint64_t mag = (uint64_t)v;
    if (v < 0) {
        s[n++] = '-';
        mag = 0 - mag; /* well defined for INT64_MIN too */
    }
    n += rm_fmt_u64(s + n, mag);
    put_field(l, key, s, n);
}

void rm_line_size(rm_line *l, const char *key, uint64_t v)
{
    if (v == RM_NO_LIMIT)
        put_field(l, key, "none", 4);
    else
        rm_line_u64(l, key, v);
}

void rm_line_usec(rm_line *l, const char *key, uint64_t usec)
{
    char s[32];
    size_t n = rm_fmt_u64(s, usec / 1000000u);
    uint64_t frac = usec % 1000000u;
    int i;
    s[n++] = '.';
    for (i = 5; i >= 0; i--) {
        s[n + (size_t)i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    n += 6;
    put_field(l, key, s, n);
}

static void two(char *s, unsigned v)
{
    s[0] = (char)('0' + v / 10 % 10);
    s[1] = (char)('0' + v % 10);
}

size_t rm_fmt_utc(char *out, int64_t usec)
{
    /* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm),
     * done by hand because gmtime_r is not async-signal-safe. */
    int64_t sec = usec >= 0 ? usec / 1000000 : (usec - 999999) / 1000000;
    int64_t us = usec - sec * 1000000;
    int64_t days = sec >= 0 ? sec / 86400 : (sec - 86399) / 86400;
    int64_t secs = sec - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    size_t n = 0;
    int i;
    if (m <= 2)
        y++;
    if (y < 0 || y > 9999)
        y = 0;
    two(out, (unsigned)(y / 100));
    two(out + 2, (unsigned)(y % 100));
    out[4] = '-';
    two(out + 5, m);
    out[7] = '-';
    two(out + 8, d);
    out[10] = 'T';
    two(out + 11, (unsigned)(secs / 3600));
    out[13] = ':';
    two(out + 14, (unsigned)(secs / 60 % 60));
    out[16] = ':';
    two(out + 17, (unsigned)(secs % 60));
    out[19] = '.';
    n = 20;
    for (i = 5; i >= 0; i--) {
        out[n + (size_t)i] = (char)('0' + us % 10);
        us /= 10;
    }
    n += 6;
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}

void rm_line_utc(rm_line *l, const char *key, int64_t sec, long usec)
{
    char s[32];
    put_field(l, key, s, rm_fmt_utc(s, sec * 1000000 + (usec < 0 ? 0 : usec % 1000000)));
}

static int bare_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '@' || c == '+' || c == ',' || c == '-';
}

void rm_line_str(rm_line *l, const char *key, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char v[RM_VALUE_MAX + 8];
    size_t i, k = 0, cap = RM_VALUE_MAX - 4; /* room for '...' and '"' */
    int bare = n > 0;

    for (i = 0; i < n && bare; i++)
        bare = bare_byte((unsigned char)s[i]);
    if (bare && n <= RM_VALUE_MAX) {
        put_field(l, key, s, n);
        return;
    }
    v[k++] = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[4];
        size_t en = 0;
        if (c == '"' || c == '\\') {
            e[en++] = '\\';
            e[en++] = (char)c;
        } else if (c == '\n') {
            e[en++] = '\\';
            e[en++] = 'n';
        } else if (c == '\r') {
            e[en++] = '\\';
            e[en++] = 'r';
        } else if (c == '\t') {
            e[en++] = '\\';
            e[en++] = 't';
        } else if (c < 0x20 || c > 0x7e) {
            e[en++] = '\\';
            e[en++] = 'x';
            e[en++] = hex[c >> 4];
            e[en++] = hex[c & 15];
        } else {
            e[en++] = (char)c;
        }
        if (k + en > cap) {
            memcpy(v + k, "...", 3);
            k += 3;
            l->truncated = 1;
            break;
        }
        memcpy(v + k, e, en);
        k += en;
    }
    v[k++] = '"';
    put_field(l, key, v, k);
}

void rm_line_cstr(rm_line *l, const char *key, const char *s)
{
    rm_line_str(l, key, s ? s : "", s ? strlen(s) : 0);
}

void rm_line_sample(rm_line *l, const rm_sample *s)
{
    /* One table keeps key names and validity bits in step. */
    static const struct {
        uint32_t bit;
        const char *key;
        size_t off;
    } f[] = {
        {RM_HAVE_RSS, "rss", offsetof(rm_sample, rss)},
        {RM_HAVE_HWM, "hwm", offsetof(rm_sample, hwm)},
        {RM_HAVE_VMS, "vms", offsetof(rm_sample, vms)},
        {RM_HAVE_ANON, "anon", offsetof(rm_sample, anon)},
        {RM_HAVE_FILE, "file", offsetof(rm_sample, file)},
        {RM_HAVE_SHMEM, "shmem", offsetof(rm_sample, shmem)},
        {RM_HAVE_SWAP, "swap", offsetof(rm_sample, swap)},
        {RM_HAVE_THREADS, "thr", offsetof(rm_sample, threads)},
        {RM_HAVE_MEM_TOTAL, "mem_total", offsetof(rm_sample, mem_total)},
        {RM_HAVE_MEM_AVAIL, "mem_avail", offsetof(rm_sample, mem_avail)},
        {RM_HAVE_MEM_FREE, "mem_free", offsetof(rm_sample, mem_free)},
        {RM_HAVE_MEM_CACHED, "mem_cached", offsetof(rm_sample, mem_cached)},
        {RM_HAVE_SWAP_TOTAL, "swap_total", offsetof(rm_sample, swap_total)},
        {RM_HAVE_SWAP_FREE, "swap_free", offsetof(rm_sample, swap_free)},
        {RM_HAVE_CG_USAGE, "cg_use", offsetof(rm_sample, cg_usage)},
        {RM_HAVE_CG_LIMIT, "cg_lim", offsetof(rm_sample, cg_limit)},
        {RM_HAVE_CG_PEAK, "cg_peak", offsetof(rm_sample, cg_peak)},
        {RM_HAVE_CG_OOM, "cg_oom", offsetof(rm_sample, cg_oom_kills)},
    };
    size_t i;
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (s->valid & f[i].bit) {
            uint64_t v;
            memcpy(&v, (const char *)s + f[i].off, sizeof(v));
            rm_line_size(l, f[i].key, v);
        }
    }
}

size_t rm_line_end(rm_line *l)
{
    /* RM_TAIL_RESERVE guarantees room for this tail. */
    if (l->truncated)
        put(l, " trunc=1", 8);
    put(l, " ;\n", 3);
    return l->len;
}

int rm_line_write_log(int fd, rm_line *l)
{
    /* lead and buf are adjacent (rm_lead_before_buf): one write(2) of at
     * most RM_LINE_MAX bytes, as atomic as the record alone */
    l->lead = '\n';
    return rm_write_all(fd, (const char *)l + offsetof(rm_line, lead), l->len + 1);
}

int rm_write_counted(int fd, const char *buf, size_t n, size_t *done)
{
    /* Async-signal-safe: write(2) only. */
    *done = 0;
    while (*done < n) {
#ifdef _WIN32
        int w = _write(fd, buf + *done, (unsigned)(n - *done));
#else
        ssize_t w = write(fd, buf + *done, n - *done);
#endif
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        *done += (size_t)w;
    }
    return 0;
}

int rm_write_all(int fd, const char *buf, size_t n)
{
    size_t done;
    return rm_write_counted(fd, buf, n, &done);
}
