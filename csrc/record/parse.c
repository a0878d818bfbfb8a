/* SPDX-License-Identifier: MIT */
/* parse.c: parses resmon records and legacy debug lines; reads lines in bounded memory. */
#include "parse.h"
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef RM_HAVE_ZLIB
#include <zlib.h>
#endif

#define TAG "[resmon/"
#define TAG_LEN 8
#define LEGACY_SUFFIX "_resource_debug]"
#define LEGACY_SUFFIX_LEN 16
/* Longest version number read from a tag: 9 digits fit an unsigned long. */
#define VERSION_DIGITS_MAX 9
/* Longest fraction of a second read from a time; the rest is ignored. */
#define FRACTION_DIGITS_MAX 6

/* ---- character classes ---- */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_key(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

/* The field loop's classes as bitmaps of ASCII, one test a byte: KEY_SET is
 * is_key's set. BARE_SET: the writer's bare set is [A-Za-z0-9_.:/@+,-]; the
 * parser also accepts the other printable bytes but quote and backslash
 * (hand-written records such as "test=t.py::test[big]"): a bare value cannot
 * hold a space, so it can never add a field. */
static const uint64_t KEY_SET[4] = {0x03ff000000000000ull, 0x07fffffe87fffffeull, 0, 0};
static const uint64_t BARE_SET[4] = {0xfffffffa00000000ull, 0x7fffffffefffffffull, 0, 0};
/* c is an unsigned char: bytes over 127 index the two empty words, so the
   test needs no comparison. */
#define IN_SET(set, c) ((set)[(c) >> 6] >> ((c)&63) & 1)

static int is_kind(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

static int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- time ---- */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, size_t at, size_t count, unsigned *out)
{
    unsigned v = 0;
    size_t i;
    if (at + count > n)
        return -1;
    for (i = 0; i < count; i++) {
        unsigned char c = (unsigned char)s[at + i];
        if (!is_digit(c))
            return -1;
        v = v * 10 + (unsigned)(c - '0');
    }
    *out = v;
    return 0;
}

size_t rm_parse_utc(const char *s, size_t n, int64_t *usec)
{
    /* the minute of the previous call: a log's lines share it, so most
       calls parse the seconds only (one per thread) */
    static _Thread_local char last_minute[16];
    static _Thread_local int64_t last_base;
    static _Thread_local int have_last;
    unsigned y, mo, d, h, mi, se, frac = 0, scale = 0;
    size_t p = 19;
    int64_t base;
    if (n >= 19 && have_last && memcmp(s, last_minute, 16) == 0) {
        if (s[16] != ':' || digits(s, n, 17, 2, &se) || se > 60)
            return 0;
        base = last_base;
    } else {
        if (digits(s, n, 0, 4, &y) || n < 19 || s[4] != '-' || digits(s, n, 5, 2, &mo) ||
            s[7] != '-' || digits(s, n, 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
            digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &mi) || s[16] != ':' ||
            digits(s, n, 17, 2, &se))
            return 0;
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
            return 0;
        base = ((days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60) * 1000000;
        memcpy(last_minute, s, 16);
        last_base = base;
        have_last = 1;
    }
    if (p < n && s[p] == '.') {
        p++;
        /* Bounded by the line: a fraction is digits only. */
        while (p < n && is_digit((unsigned char)s[p])) {
            if (scale < FRACTION_DIGITS_MAX) {
                frac = frac * 10 + (unsigned)(s[p] - '0');
                scale++;
            }
            p++;
        }
    }
    while (scale < FRACTION_DIGITS_MAX) {
        frac *= 10;
        scale++;
    }
    if (p < n && s[p] == 'Z')
        p++;
    *usec = base + (int64_t)se * 1000000 + frac;
    return p;
}

/* ---- field storage ---- */

/* Empties the record's fields and their index. */
static void fields_reset(rm_rec *rec)
{
    rec->n_fields = 0;
    rec->key_bloom = 0;
    memset(rec->slot, 0, sizeof(rec->slot));
}

/* Indexes field i (just committed) unless an earlier field has its key. */
static void index_field(rm_rec *rec, unsigned i)
{
    const rm_field *f = &rec->f[i];
    unsigned h = rm_tag_slot(f->key_tag);
    for (; rec->slot[h]; h = (h + 1) & (RM_REC_SLOTS - 1)) {
        const rm_field *g = &rec->f[rec->slot[h] - 1];
        if (g->key_tag == f->key_tag && memcmp(g->key, f->key, f->key_tag & 0xff) == 0)
            return; /* equal tags: equal lengths (keys are shorter than 256) */
    }
    rec->slot[h] = (unsigned char)(i + 1);
}

/* Starts a field: copies the key into buf. Returns the field index, or -1
 * (counted in n_dropped) when there is no room. */
static int field_begin(rm_rec *rec, const char *key, size_t klen)
{
    rm_field *f;
    if (rec->n_fields >= RM_PARSE_MAX_FIELDS || rec->used + klen + 2 > sizeof(rec->buf)) {
        rec->n_dropped++;
        rec->flags |= RM_REC_OVERFLOW;
        return -1;
    }
    f = &rec->f[rec->n_fields];
    memcpy(rec->buf + rec->used, key, klen);
    rec->buf[rec->used + klen] = '\0';
    f->key = rec->buf + rec->used;
    f->key_tag = rm_key_tag(key, klen);
    rec->used += klen + 1;
    f->val = rec->buf + rec->used;
    f->val_len = 0;
    return (int)rec->n_fields;
}

/* Appends one byte to the value being built; 0, or -1 when buf is full. */
static int field_put(rm_rec *rec, char c)
{
    /* keep one byte for the terminating NUL */
    if (rec->used + 1 >= sizeof(rec->buf))
        return -1;
    rec->buf[rec->used++] = c;
    return 0;
}

/* Appends n bytes to the value being built; 0, or -1 when they do not fit
 * (the caller rolls the field back, as for field_put). */
static int field_put_span(rm_rec *rec, const char *s, size_t n)
{
    if (rec->used + n >= sizeof(rec->buf))
        return -1;
    memcpy(rec->buf + rec->used, s, n);
    rec->used += n;
    return 0;
}

/* Commits (ok) or rolls back the field started at index i. */
static void field_end(rm_rec *rec, int i, int ok, size_t key_start)
{
    rm_field *f = &rec->f[i];
    if (!ok) {
        rec->used = key_start;
        return;
    }
    f->val_len = (size_t)(rec->buf + rec->used - f->val);
    rec->buf[rec->used++] = '\0';
    rec->key_bloom |= rm_tag_bit(f->key_tag);
    index_field(rec, rec->n_fields++);
}

static int add_field(rm_rec *rec, const char *key, const char *val, size_t vlen)
{
    size_t start = rec->used, i;
    int fi = field_begin(rec, key, strlen(key));
    if (fi < 0)
        return -1;
    for (i = 0; i < vlen; i++) {
        if (field_put(rec, val[i])) {
            field_end(rec, fi, 0, start);
            rec->n_dropped++;
            rec->flags |= RM_REC_OVERFLOW;
            return -1;
        }
    }
    field_end(rec, fi, 1, start);
    return 0;
}

const rm_field *rm_rec_find(const rm_rec *rec, const char *key, uint32_t tag)
{
    unsigned h = rm_tag_slot(tag);
    /* the bloom first: a text line leaves the index of the record before it
       in place (rm_parse_line clears it only for a line with fields) */
    if (!(rec->key_bloom & rm_tag_bit(tag)))
        return NULL;
    for (; rec->slot[h]; h = (h + 1) & (RM_REC_SLOTS - 1)) {
        const rm_field *f = &rec->f[rec->slot[h] - 1];
        size_t n = tag & 0xff; /* stored keys are shorter than 256 */
        if (f->key_tag == tag && memcmp(f->key, key, n) == 0 && key[n] == '\0')
            return f;
    }
    return NULL;
}

int rm_rec_u64(const rm_rec *rec, const char *key, uint64_t *out)
{
    const rm_field *f = rm_rec_get(rec, key);
    uint64_t v = 0;
    size_t i;
    if (!f || f->val_len == 0 || f->val_len > 20)
        return -1;
    for (i = 0; i < f->val_len; i++) {
        unsigned char c = (unsigned char)f->val[i];
        if (!is_digit(c) || v > (UINT64_MAX - (c - '0')) / 10)
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

int rm_rec_i64(const rm_rec *rec, const char *key, int64_t *out)
{
    const rm_field *f = rm_rec_get(rec, key);
    int64_t v = 0;
    size_t i = 0;
    int neg = 0;
    if (!f || f->val_len == 0 || f->val_len > 20)
        return -1;
    if (f->val[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == f->val_len)
        return -1;
    for (; i < f->val_len; i++) {
        unsigned char c = (unsigned char)f->val[i];
        if (!is_digit(c) || v > (INT64_MAX - (c - '0')) / 10)
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

int rm_rec_usec(const rm_rec *rec, const char *key, uint64_t *out)
{
    const rm_field *f = rm_rec_get(rec, key);
    uint64_t sec = 0, frac = 0;
    size_t i = 0;
    unsigned scale = 0;
    if (!f || f->val_len == 0 || f->val_len > 32)
        return -1;
    for (; i < f->val_len && is_digit((unsigned char)f->val[i]); i++) {
        if (sec > UINT64_MAX / 10000000u)
            return -1;
        sec = sec * 10 + (uint64_t)(f->val[i] - '0');
    }
    if (i == 0)
        return -1;
    if (i < f->val_len && f->val[i] == '.') {
        for (i++; i < f->val_len && is_digit((unsigned char)f->val[i]); i++) {
            if (scale < FRACTION_DIGITS_MAX) {
                frac = frac * 10 + (uint64_t)(f->val[i] - '0');
                scale++;
            }
        }
    }
    if (i != f->val_len)
        return -1;
    for (; scale < FRACTION_DIGITS_MAX; scale++)
        frac *= 10;
    *out = sec * 1000000u + frac;
    return 0;
}

/* ---- records ---- */

/* Length of a "[resmon/N]" tag at s, or 0. Sets *version. */
static size_t match_tag(const char *s, size_t n, unsigned long *version)
{
    size_t p = TAG_LEN;
    unsigned long v = 0;
    if (n < TAG_LEN + 2 || memcmp(s, TAG, TAG_LEN) != 0)
        return 0;
    while (p < n && is_digit((unsigned char)s[p]) && p - TAG_LEN < VERSION_DIGITS_MAX) {
        v = v * 10 + (unsigned long)(s[p] - '0');
        p++;
    }
    if (p == TAG_LEN || p >= n || s[p] != ']')
        return 0;
    p++;
    if (p < n && s[p] != ' ' && s[p] != '\r')
        return 0;
    *version = v;
    return p;
}

/* Length of a "[<prefix>_resource_debug]" tag at s, or 0; copies prefix. */
static size_t match_legacy(const char *s, size_t n, char *prefix)
{
    size_t p = 1, plen;
    /* a name of key bytes or '-', bounded by RM_PARSE_KEY_MAX + suffix */
    while (p < n && p < RM_PARSE_KEY_MAX + LEGACY_SUFFIX_LEN &&
           (is_key((unsigned char)s[p]) || s[p] == '-'))
        p++;
    if (p >= n || s[p] != ']' || p + 1 < 1 + LEGACY_SUFFIX_LEN)
        return 0;
    if (memcmp(s + p + 1 - LEGACY_SUFFIX_LEN, LEGACY_SUFFIX, LEGACY_SUFFIX_LEN) != 0)
        return 0;
    plen = p + 1 - LEGACY_SUFFIX_LEN - 1;
    if (plen >= RM_PARSE_KEY_MAX)
        return 0;
    p++;
    if (p < n && s[p] != ' ' && s[p] != '\r')
        return 0;
    memcpy(prefix, s + 1, plen);
    prefix[plen] = '\0';
    return p;
}

/* Skips a token that is not key=value, up to the next space. */
static size_t skip_token(const char *s, size_t n, size_t p)
{
    const char *sp = memchr(s + p, ' ', n - p);
    return sp ? (size_t)(sp - s) : n;
}

/* Whether only blanks, CR and ANSI sequences follow p. */
static int blank_rest(const char *s, size_t n, size_t p)
{
    while (p < n) {
        if (s[p] == ' ' || s[p] == '\r' || s[p] == '\t') {
            p++;
        } else if (s[p] == '\x1b') {
            p++;
            if (p < n && s[p] == '[')
                for (p++; p < n && !((unsigned char)s[p] >= '@' && (unsigned char)s[p] <= '~');)
                    p++;
            p++;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Parses the fields of a resmon record from p. Returns -1 when text follows
 * its final " ;" on the same line, or a ';' is glued to more text: a writer
 * ends every record with its line, so that is not a record but text that
 * looks like one (pytest's output split by a record written between two of
 * its buffered writes: "[resmon/1] verdict ... ;] PASSED"). */
static int parse_fields(const char *s, size_t n, size_t p, rm_rec *rec)
{
    int complete = 0;
    while (p < n) {
        size_t k, klen, start;
        int fi, ok = 1;
        unsigned char c = (unsigned char)s[p];
        if (c == ' ') {
            p++;
            continue;
        }
        if (c == ';' && (p + 1 == n || s[p + 1] == ' ' || s[p + 1] == '\x1b' || s[p + 1] == '\r')) {
            complete = 1;
            if (!blank_rest(s, n, p + 1))
                return -1;
            break;
        }
        if (c == ';' && p + 1 < n && (p == 0 || s[p - 1] == ' '))
            return -1; /* " ;]": the terminator glued to more text */
        k = p;
        while (p < n && IN_SET(KEY_SET, (unsigned char)s[p]))
            p++;
        klen = p - k;
        if (klen == 0 || klen >= RM_PARSE_KEY_MAX || p >= n || s[p] != '=') {
            rec->n_malformed++;
            p = skip_token(s, n, p);
            continue;
        }
        p++;
        start = rec->used;
        fi = field_begin(rec, s + k, klen);
        if (p < n && s[p] == '"') {
            int closed = 0;
            for (p++; p < n; p++) {
                /* the plain run up to the next quote or escape, at once */
                size_t run = p;
                while (run < n && s[run] != '"' && s[run] != '\\')
                    run++;
                if (run > p) {
                    if (fi >= 0 && ok && field_put_span(rec, s + p, run - p)) {
                        field_end(rec, fi, 0, start);
                        fi = -1;
                        rec->n_dropped++;
                        rec->flags |= RM_REC_OVERFLOW;
                    }
                    p = run;
                    if (p >= n)
                        break;
                }
                c = (unsigned char)s[p];
                if (c == '"') {
                    closed = 1;
                    p++;
                    break;
                }
                if (c == '\\') {
                    int h1, h2;
                    if (p + 1 >= n)
                        break;
                    c = (unsigned char)s[++p];
                    switch (c) {
                    case '\\':
                    case '"':
                        break;
                    case 'n':
                        c = '\n';
                        break;
                    case 'r':
                        c = '\r';
                        break;
                    case 't':
                        c = '\t';
                        break;
                    case 'x':
                        if (p + 2 >= n) {
                            p = n;
                            continue;
                        }
                        h1 = hexval((unsigned char)s[p + 1]);
                        h2 = hexval((unsigned char)s[p + 2]);
                        if (h1 < 0 || h2 < 0) {
                            ok = 0;
                            break;
                        }
                        c = (unsigned char)(h1 * 16 + h2);
                        p += 2;
                        break;
                    default:
                        ok = 0; /* unknown escape: the field is malformed */
                        break;
                    }
                }
                if (fi >= 0 && ok && field_put(rec, (char)c)) {
                    field_end(rec, fi, 0, start);
                    fi = -1;
                    rec->n_dropped++;
                    rec->flags |= RM_REC_OVERFLOW;
                }
            }
            if (!closed) {
                /* the line ends inside the value: it was cut */
                if (fi >= 0)
                    field_end(rec, fi, 0, start);
                break;
            }
            if (p < n && s[p] != ' ') {
                ok = 0;
                p = skip_token(s, n, p);
            }
        } else {
            size_t v = p;
            while (p < n && IN_SET(BARE_SET, (unsigned char)s[p]))
                p++;
            if (p < n && s[p] != ' ') { /* a byte outside the bare set */
                ok = 0;
                p = skip_token(s, n, p);
            }
            if (p == v)
                ok = 0;
            if (fi >= 0 && ok && field_put_span(rec, s + v, p - v)) {
                field_end(rec, fi, 0, start);
                fi = -1;
                rec->n_dropped++;
                rec->flags |= RM_REC_OVERFLOW;
            }
        }
        if (!ok)
            rec->n_malformed++;
        if (fi >= 0)
            field_end(rec, fi, ok, start);
    }
    if (!complete)
        rec->flags |= RM_REC_INCOMPLETE;
    return 0;
}

/* ---- legacy lines ---- */

/* Index just past "key=" at p, or 0 when p does not start a key=value. */
static size_t key_eq(const char *s, size_t n, size_t p)
{
    size_t k = p;
    while (p < n && is_key((unsigned char)s[p]) && p - k < RM_PARSE_KEY_MAX)
        p++;
    if (p == k || p >= n || s[p] != '=')
        return 0;
    return p + 1;
}

/* One shell word from p into the field value (or skipped when fi < 0):
 * 'single', "double" with backslash escapes, and bare text, concatenated up
 * to an unquoted space. Returns the index after the word; *ok = 0 when a
 * quote is not closed. */
static size_t shell_word(const char *s, size_t n, size_t p, rm_rec *rec, int *fi, size_t start,
                         int *ok)
{
    while (p < n && s[p] != ' ') {
        char c = s[p];
        if (c == '\'') {
            const char *q = memchr(s + p + 1, '\'', n - p - 1);
            size_t e = q ? (size_t)(q - s) : n, i;
            if (!q)
                *ok = 0;
            for (i = p + 1; i < e && *fi >= 0; i++)
                if (field_put(rec, s[i])) {
                    field_end(rec, *fi, 0, start);
                    *fi = -1;
                    rec->n_dropped++;
                    rec->flags |= RM_REC_OVERFLOW;
                }
            p = q ? e + 1 : n;
            continue;
        }
        if (c == '"') {
            int closed = 0;
            for (p++; p < n; p++) {
                c = s[p];
                if (c == '"') {
                    closed = 1;
                    p++;
                    break;
                }
                if (c == '\\' && p + 1 < n &&
                    (s[p + 1] == '"' || s[p + 1] == '\\' || s[p + 1] == '$' || s[p + 1] == '`'))
                    c = s[++p];
                if (*fi >= 0 && field_put(rec, c)) {
                    field_end(rec, *fi, 0, start);
                    *fi = -1;
                    rec->n_dropped++;
                    rec->flags |= RM_REC_OVERFLOW;
                }
            }
            if (!closed)
                *ok = 0;
            continue;
        }
        if (c == '\\' && p + 1 < n)
            c = s[++p];
        if (*fi >= 0 && field_put(rec, c)) {
            field_end(rec, *fi, 0, start);
            *fi = -1;
            rec->n_dropped++;
            rec->flags |= RM_REC_OVERFLOW;
        }
        p++;
    }
    return p;
}

/* "1.06" GiB as bytes, rounded; -1 when not a plain non-negative decimal. */
static int gib_to_bytes(const char *v, size_t n, uint64_t unit, uint64_t *out)
{
    uint64_t ip = 0, frac = 0, scale = 1;
    size_t i = 0;
    double f;
    for (; i < n && is_digit((unsigned char)v[i]); i++) {
        if (ip > (UINT64_MAX / unit) / 10)
            return -1;
        ip = ip * 10 + (uint64_t)(v[i] - '0');
    }
    if (i == 0)
        return -1;
    if (i < n && v[i] == '.') {
        for (i++; i < n && is_digit((unsigned char)v[i]); i++) {
            if (scale < 1000000000u) {
                frac = frac * 10 + (uint64_t)(v[i] - '0');
                scale *= 10;
            }
        }
    }
    if (i != n)
        return -1;
    f = (double)frac * (double)unit / (double)scale + 0.5;
    *out = ip * unit + (uint64_t)f;
    return 0;
}

/* Adds the mapped fields of a legacy line (nodeid -> test, *_gb -> bytes). */
static void legacy_map(rm_rec *rec)
{
    unsigned i, n = rec->n_fields;
    for (i = 0; i < n; i++) {
        const char *k = rec->f[i].key;
        size_t kl = strlen(k), j;
        char name[RM_PARSE_KEY_MAX + 16], num[24];
        uint64_t unit = 0, bytes;
        const char *g = NULL;
        int r;
        if (strcmp(k, "nodeid") == 0) {
            if (!rm_rec_get(rec, "test"))
                add_field(rec, "test", rec->f[i].val, rec->f[i].val_len);
            continue;
        }
        if (kl == 5 && strncmp(k, "path", 4) == 0 && is_digit((unsigned char)k[4])) {
            r = snprintf(name, sizeof(name), "disk%c", k[4]);
            if (r > 0 && (size_t)r < sizeof(name) && !rm_rec_get(rec, name))
                add_field(rec, name, rec->f[i].val, rec->f[i].val_len);
            continue;
        }
        /* find "_gb" or "_mb" followed by digits only */
        for (j = 1; j + 3 <= kl; j++) {
            if (k[j] == '_' && (k[j + 1] == 'g' || k[j + 1] == 'm') && k[j + 2] == 'b') {
                size_t d = j + 3;
                while (d < kl && is_digit((unsigned char)k[d]))
                    d++;
                if (d == kl) {
                    g = k + j;
                    unit = k[j + 1] == 'g' ? (1ull << 30) : (1ull << 20);
                }
            }
        }
        if (!g || gib_to_bytes(rec->f[i].val, rec->f[i].val_len, unit, &bytes))
            continue;
        {
            size_t base = (size_t)(g - k);
            const char *idx = g + 3;
            if (*idx && (strncmp(k, "used", base) == 0 || strncmp(k, "free", base) == 0 ||
                         strncmp(k, "total", base) == 0))
                r = snprintf(name, sizeof(name), "disk%s_%.*s", idx, (int)base, k);
            else
                r = snprintf(name, sizeof(name), "%.*s%s", (int)base, k, idx);
        }
        if (r <= 0 || (size_t)r >= sizeof(name) || rm_rec_get(rec, name))
            continue;
        r = snprintf(num, sizeof(num), "%llu", (unsigned long long)bytes);
        if (r > 0 && (size_t)r < sizeof(num))
            add_field(rec, name, num, (size_t)r);
    }
}

static void parse_legacy(const char *s, size_t n, size_t p, rm_rec *rec)
{
    size_t q = p, label_end = p, fields = n;
    const char *c;
    while (p < n && s[p] == ' ')
        p++;
    /* the first key=value token: at p or after a space */
    fields = n;
    for (q = p; q < n; q = (size_t)(c - s) + 1) {
        if (key_eq(s, n, q)) {
            fields = q;
            break;
        }
        c = memchr(s + q, ' ', n - q);
        if (!c)
            break;
    }
    /* the label runs up to the last ": " before it */
    label_end = fields;
    for (q = fields; q > p + 1; q--) {
        if (s[q - 2] == ':' && s[q - 1] == ' ') {
            label_end = q - 2;
            fields = q; /* words between it and the first key= are malformed */
            break;
        }
    }
    if (label_end == fields) {
        while (label_end > p && (s[label_end - 1] == ' ' || s[label_end - 1] == ':'))
            label_end--;
    }
    /* the label, raw, first in buf */
    {
        size_t ll = label_end > p ? label_end - p : 0;
        if (ll + 1 > sizeof(rec->buf) / 4)
            ll = sizeof(rec->buf) / 4 - 1;
        memcpy(rec->buf, s + p, ll);
        rec->buf[ll] = '\0';
        rec->label = rec->buf;
        rec->label_len = ll;
        rec->used = ll + 1;
    }
    p = fields;
    while (p < n) {
        size_t v, start;
        int fi, ok = 1;
        if (s[p] == ' ') {
            p++;
            continue;
        }
        v = key_eq(s, n, p);
        if (!v) {
            int dummy = -1;
            rec->n_malformed++;
            p = shell_word(s, n, p, rec, &dummy, 0, &ok);
            continue;
        }
        start = rec->used;
        fi = field_begin(rec, s + p, v - 1 - p);
        p = shell_word(s, n, v, rec, &fi, start, &ok);
        if (!ok)
            rec->n_malformed++;
        if (fi >= 0)
            field_end(rec, fi, ok, start);
    }
    legacy_map(rec);
}

/* ---- what may come before a tag ---- */

/* pytest's progress letters: passed, failed, error, skipped, xfailed, xpassed. */
static int is_progress(unsigned char c)
{
    return c == '.' || c == 'F' || c == 'E' || c == 's' || c == 'x' || c == 'X';
}

/* Length of one ANSI escape sequence at s, or 0: CSI ("ESC [" parameter
 * bytes, intermediate bytes, a final byte), OSC ("ESC ]" ... BEL or
 * "ESC \"), nF ("ESC (B"), or a two-byte "ESC <final>". Bounded by n. */
static size_t ansi_len(const char *s, size_t n)
{
    size_t p;
    unsigned char c;
    if (n < 2 || s[0] != '\x1b')
        return 0;
    c = (unsigned char)s[1];
    if (c == '[') {
        for (p = 2; p < n && (unsigned char)s[p] >= 0x30 && (unsigned char)s[p] <= 0x3f; p++)
            ;
        for (; p < n && (unsigned char)s[p] >= 0x20 && (unsigned char)s[p] <= 0x2f; p++)
            ;
        return p < n && (unsigned char)s[p] >= 0x40 && (unsigned char)s[p] <= 0x7e ? p + 1 : 0;
    }
    if (c == ']') {
        for (p = 2; p < n; p++) {
            if (s[p] == '\a')
                return p + 1;
            if (s[p] == '\x1b')
                return p + 1 < n && s[p + 1] == '\\' ? p + 2 : 0;
        }
        return 0;
    }
    if (c >= 0x20 && c <= 0x2f) {
        for (p = 2; p < n && (unsigned char)s[p] >= 0x20 && (unsigned char)s[p] <= 0x2f; p++)
            ;
        return p < n && (unsigned char)s[p] >= 0x30 && (unsigned char)s[p] <= 0x7e ? p + 1 : 0;
    }
    /* the string introducers (DCS, SOS, PM, APC) are not colour: refused */
    if (c >= 0x30 && c <= 0x7e && c != 'P' && c != 'X' && c != '^' && c != '_')
        return 2;
    return 0;
}

/* Length of pytest's progress counter at s: one or more spaces, then
 * "[" and a right-aligned percentage of three characters, then "%]"
 * (" [  5%]", "     [100%]"). 0 when s does not start with one. */
static size_t percent_len(const char *s, size_t n)
{
    size_t p = 0, i;
    int digit = 0;
    while (p < n && s[p] == ' ')
        p++;
    if (p == 0 || p + 6 > n || s[p] != '[' || s[p + 4] != '%' || s[p + 5] != ']')
        return 0;
    for (i = p + 1; i < p + 4; i++) {
        if (is_digit((unsigned char)s[i]))
            digit = 1;
        else if (s[i] != ' ' || digit)
            return 0;
    }
    return digit ? p + 6 : 0;
}

/* Length of xdist's "[gwN] " at s, or 0. */
static size_t xdist_len(const char *s, size_t n)
{
    size_t p = 3;
    if (n < 6 || memcmp(s, "[gw", 3) != 0)
        return 0;
    while (p < n && p < 3 + VERSION_DIGITS_MAX && is_digit((unsigned char)s[p]))
        p++;
    if (p == 3 || p + 1 >= n || s[p] != ']' || s[p + 1] != ' ')
        return 0;
    return p + 2;
}

/* Length of a GitHub Actions command prefix at s ("##[error]",
 * "##[warning]", ...: "##[" 1 to 16 lowercase letters "]"), or 0. */
static size_t gh_command_len(const char *s, size_t n)
{
    size_t p = 3;
    if (n < 5 || memcmp(s, "##[", 3) != 0)
        return 0;
    while (p < n && p < 3 + 16 && s[p] >= 'a' && s[p] <= 'z')
        p++;
    return p > 3 && p < n && s[p] == ']' ? p + 1 : 0;
}

/* Skips what a CI log may legitimately put between the start of a line
 * (after GitHub's timestamp) and a record written at that line start, in
 * any order: ANSI escape sequences, CR, pytest's progress letters (an
 * unbroken run of ". F E s x X", optionally followed by its " [ NN%]"
 * counter, which pytest writes without a newline before the next test's
 * output), xdist's "[gwN] " and GitHub's "##[error]". Anything else ends
 * the skip: a tag that does not follow is not a record. Returns the offset
 * where a tag may start. Linear in n. */
static size_t skip_line_noise(const char *s, size_t n, size_t p)
{
    unsigned progress = 0; /* progress letters since the last counter */
    unsigned char first = 0;
    while (p < n) {
        unsigned char c = (unsigned char)s[p];
        size_t k = 0;
        if (c == '\r') {
            k = 1;
        } else if (c == '\x1b') {
            k = ansi_len(s + p, n - p);
        } else if (is_progress(c)) {
            if (progress++ == 0)
                first = c;
            k = 1;
        } else if (c == ' ') {
            /* A counter only after progress letters, and not after a lone
             * "E": that is how pytest starts the lines of an exception
             * message ("E       text"), whose text anyone controls. */
            if (progress && !(progress == 1 && first == 'E'))
                k = percent_len(s + p, n - p);
            progress = 0;
        } else if (c == '[') {
            k = xdist_len(s + p, n - p);
        } else if (c == '#') {
            k = gh_command_len(s + p, n - p);
        }
        if (k == 0)
            break;
        p += k;
    }
    return p;
}

/* ---- a parsed record kept ----
 *
 * type (1 byte), flags and version (4 bytes each), the kind and the legacy
 * prefix with their NULs, the label's length (2 bytes) and bytes, then per field the key's length
 * (1 byte), the key, the value's length (2 bytes) and the value. */

static int pack_put(char *out, size_t cap, size_t *k, const void *p, size_t n)
{
    if (*k + n > cap)
        return -1;
    memcpy(out + *k, p, n);
    *k += n;
    return 0;
}

void rm_keyset_init(rm_keyset *ks, const char *const *keys, size_t n)
{
    size_t i;
    ks->keys = keys;
    ks->n = n < RM_KEYSET_MAX ? n : RM_KEYSET_MAX;
    ks->bloom = 0;
    memset(ks->slot, 0, sizeof(ks->slot));
    for (i = 0; i < ks->n; i++) {
        unsigned h;
        ks->tags[i] = rm_key_tag(keys[i], strlen(keys[i]));
        ks->bloom |= rm_tag_bit(ks->tags[i]);
        for (h = rm_tag_slot(ks->tags[i]); ks->slot[h]; h = (h + 1) & (RM_REC_SLOTS - 1))
            ;
        ks->slot[h] = (unsigned char)(i + 1);
    }
}

/* 1 when the key of f is in ks. */
static int keyset_has(const rm_keyset *ks, const rm_field *f)
{
    size_t kl = f->key_tag & 0xff; /* keys are shorter than RM_PARSE_KEY_MAX */
    unsigned h;
    if (!(ks->bloom & rm_tag_bit(f->key_tag)))
        return 0;
    for (h = rm_tag_slot(f->key_tag); ks->slot[h]; h = (h + 1) & (RM_REC_SLOTS - 1)) {
        size_t j = ks->slot[h] - 1u;
        if (ks->tags[j] == f->key_tag && !memcmp(ks->keys[j], f->key, kl))
            return 1;
    }
    return 0;
}

size_t rm_rec_pack(const rm_rec *rec, const rm_keyset *ks, char *out, size_t cap)
{
    size_t k = 0, i;
    unsigned char type = (unsigned char)rec->type;
    uint32_t flags = rec->flags, version = (uint32_t)rec->version;
    uint16_t ll = (uint16_t)(rec->label_len < 0xffff ? rec->label_len : 0xffff);
    if (pack_put(out, cap, &k, &type, 1) || pack_put(out, cap, &k, &flags, 4) ||
        pack_put(out, cap, &k, &version, 4) ||
        pack_put(out, cap, &k, rec->kind, strlen(rec->kind) + 1) ||
        pack_put(out, cap, &k, rec->prefix, strlen(rec->prefix) + 1) ||
        pack_put(out, cap, &k, &ll, 2) || pack_put(out, cap, &k, rec->label ? rec->label : "", ll))
        return 0;
    for (i = 0; i < rec->n_fields; i++) {
        const rm_field *f = &rec->f[i];
        size_t kl = f->key_tag & 0xff;      /* keys are shorter than RM_PARSE_KEY_MAX */
        uint16_t vl = (uint16_t)f->val_len; /* values fit RM_PARSE_VALUES_MAX */
        if (ks && !keyset_has(ks, f))
            continue;
        if (k + 3 + kl + vl > cap)
            return 0;
        out[k] = (char)kl;
        memcpy(out + k + 1, f->key, kl);
        memcpy(out + k + 1 + kl, &vl, 2);
        memcpy(out + k + 3 + kl, f->val, vl);
        k += 3 + kl + vl;
    }
    return k;
}

int rm_rec_unpack(const char *p, size_t n, rm_rec *rec)
{
    size_t k = 9, kl, pl;
    uint32_t flags, version;
    uint16_t ll;
    const char *kind = p + 9, *nul, *pre;
    rec->type = RM_PARSE_NONE;
    fields_reset(rec);
    rec->n_malformed = rec->n_dropped = 0;
    rec->used = 0;
    rec->has_gh_ts = 0;
    rec->gh_ts_usec = 0;
    rec->body_off = rec->tag_off = 0;
    rec->prefix[0] = '\0';
    rec->label = NULL;
    rec->label_len = 0;
    rec->kind[0] = '\0';
    if (n < 13 || (nul = memchr(kind, '\0', n - 9)) == NULL ||
        (kl = (size_t)(nul - kind)) >= sizeof(rec->kind))
        return RM_PARSE_NONE;
    pre = nul + 1;
    k += kl + 1;
    if ((nul = memchr(pre, '\0', n - k)) == NULL ||
        (pl = (size_t)(nul - pre)) >= sizeof(rec->prefix) || n - k - pl - 1 < 2)
        return RM_PARSE_NONE;
    memcpy(&flags, p + 1, 4);
    memcpy(&version, p + 5, 4);
    memcpy(rec->kind, kind, kl + 1);
    memcpy(rec->prefix, pre, pl + 1);
    k += pl + 1;
    memcpy(&ll, p + k, 2);
    k += 2;
    if (ll > n - k || (size_t)ll + 1 > sizeof(rec->buf))
        return RM_PARSE_NONE;
    memcpy(rec->buf, p + k, ll);
    rec->buf[ll] = '\0';
    rec->label = rec->buf;
    rec->label_len = ll;
    rec->used = (size_t)ll + 1;
    k += ll;
    while (k < n) {
        size_t start = rec->used;
        uint16_t vl;
        int fi;
        kl = (unsigned char)p[k++];
        if (kl > n - k || n - k - kl < 2)
            return RM_PARSE_NONE;
        memcpy(&vl, p + k + kl, 2);
        if (vl > n - k - kl - 2)
            return RM_PARSE_NONE;
        fi = field_begin(rec, p + k, kl);
        k += kl + 2;
        if (fi >= 0) {
            if (field_put_span(rec, p + k, vl))
                field_end(rec, fi, 0, start);
            else
                field_end(rec, fi, 1, start);
        }
        k += vl;
    }
    rec->flags = flags;
    rec->version = version;
    rec->type = (unsigned char)p[0];
    return rec->type;
}

/* gh run view --log writes "JOB<TAB>STEP<TAB>" before each line of a job
 * log: the offset after it when the line has one and GitHub's time follows
 * (a tab in printed text is not such a prefix), else 0; *job the JOB's
 * length. The names are short: only the first GH_CLI_PREFIX_MAX bytes are
 * searched. */
#define GH_CLI_PREFIX_MAX 512
static size_t gh_cli_prefix(const char *s, size_t n, size_t *job)
{
    size_t lim = n < GH_CLI_PREFIX_MAX ? n : GH_CLI_PREFIX_MAX, p;
    const char *a = memchr(s, '\t', lim), *b;
    if (!a)
        return 0;
    b = memchr(a + 1, '\t', lim - (size_t)(a + 1 - s));
    if (!b)
        return 0;
    p = (size_t)(b + 1 - s);
    if (n - p >= 3 && memcmp(s + p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    if (n - p <= 20 || s[p + 4] != '-' || s[p + 10] != 'T')
        return 0;
    *job = (size_t)(a - s);
    return p;
}

/* docker compose's "app-1  | " (v1: "app_1  | ") before a container's
 * line: the offset after it, else p. The service's name must end in its
 * replica number, so a table's "name | value" is not taken. */
static size_t compose_prefix(const char *s, size_t n, size_t p)
{
    size_t lim = n - p < 64 ? n : p + 64, b, e, d, i;
    const char *bar = memchr(s + p, '|', lim - p);
    if (!bar)
        return p;
    b = (size_t)(bar - s);
    if (b + 1 >= n || s[b + 1] != ' ')
        return p;
    for (e = b; e > p && s[e - 1] == ' '; e--)
        ;
    for (d = e; d > p && s[d - 1] >= '0' && s[d - 1] <= '9'; d--)
        ;
    if (e == b || d == e || d < p + 2 || (s[d - 1] != '-' && s[d - 1] != '_'))
        return p;
    for (i = p; i < d - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return p;
    }
    return b + 2;
}

int rm_parse_line(const char *s, size_t n, rm_rec *rec)
{
    size_t p = 0, t, k;
    rec->type = RM_PARSE_NONE;
    rec->flags = 0;
    rec->version = 0;
    rec->has_gh_ts = 0;
    rec->gh_ts_usec = 0;
    rec->job_len = 0;
    rec->tag_off = 0;
    rec->kind[0] = '\0';
    rec->prefix[0] = '\0';
    rec->label = NULL;
    rec->label_len = 0;
    rec->n_malformed = rec->n_dropped = 0;
    /* no fields; the key index is emptied below, only for a line that can
       have fields (most lines are text: no need to clear 256 slots) */
    rec->n_fields = 0;
    rec->key_bloom = 0;
    rec->used = 0;

    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        p = 3;
    else if (rec->cli_ok && n > 20 && s[0] != '[' &&
             !(s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[0] >= '0' && s[0] <= '9'))
        p = gh_cli_prefix(s, n, &rec->job_len);
    /* GitHub: "2026-11-26T10:04:31.1234567Z " */
    if (n - p > 20 && s[p + 10] == 'T') {
        int64_t ts;
        k = rm_parse_utc(s + p, n - p, &ts);
        if (k > 0 && s[p + k - 1] == 'Z' && p + k < n && s[p + k] == ' ') {
            rec->has_gh_ts = 1;
            rec->gh_ts_usec = ts;
            p += k + 1;
        }
    }
    if (p < n && s[p] != '[' && s[p] != ' ')
        p = compose_prefix(s, n, p);
    rec->body_off = p;
    /* A tag counts only at the start of the line: printed text (a pytest
     * -v line with a test id, a log message) can never make a record. */
    p = skip_line_noise(s, n, p);
    if (p >= n || s[p] != '[')
        return rec->type;
    t = match_tag(s + p, n - p, &rec->version);
    if (t) {
        fields_reset(rec);
        rec->type = RM_PARSE_RECORD;
        rec->tag_off = p;
        p += t;
        while (p < n && s[p] == ' ')
            p++;
        for (k = 0; p < n && is_kind((unsigned char)s[p]); p++)
            if (k + 1 < sizeof(rec->kind))
                rec->kind[k++] = s[p];
        rec->kind[k] = '\0';
        if (rec->version != 1)
            rec->flags |= RM_REC_UNKNOWN_VERSION;
        if (p < n && s[p] != ' ') {
            rec->n_malformed++;
            p = skip_token(s, n, p);
        }
        if (parse_fields(s, n, p, rec) < 0) {
            rec->type = RM_PARSE_NONE;
            fields_reset(rec);
            return rec->type;
        }
    } else if ((t = match_legacy(s + p, n - p, rec->prefix)) != 0) {
        fields_reset(rec);
        rec->type = RM_PARSE_LEGACY;
        rec->tag_off = p;
        memcpy(rec->kind, "legacy", 7);
        parse_legacy(s, n, p + t, rec);
    }
    if (rec->type != RM_PARSE_NONE) {
        const rm_field *tr = rm_rec_get(rec, "trunc");
        if (tr && tr->val_len == 1 && tr->val[0] == '1')
            rec->flags |= RM_REC_TRUNC;
        if (rec->n_malformed)
            rec->flags |= RM_REC_MALFORMED;
    }
    return rec->type;
}

/* ---- line reader ---- */

/* Compressed bytes read at a time from a gzip source (and the most read
 * while peeking for gzip's magic). */
#define RM_READER_ZIN (64 * 1024)

#ifdef RM_HAVE_ZLIB
/* A zip archive's member to read: where its data starts, its size. */
typedef struct zip_member {
    char name[128]; /* cut */
    uint64_t off;   /* of its local header */
    uint64_t csize;
    int method; /* 0 stored, 8 deflated */
} zip_member;

typedef struct gz_state {
    z_stream s;
    int in_eof;
    /* zip: the members to read, the one being read, its input left */
    zip_member *zm;
    int n_zm, cur_zm, zm_open, nl_pending;
    uint64_t zm_left;
    unsigned char in[RM_READER_ZIN];
} gz_state;
#endif

int rm_reader_has_gzip(void)
{
#ifdef RM_HAVE_ZLIB
    return 1;
#else
    return 0;
#endif
}

static ssize_t read_some(int fd, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

/* r->err: what failed, and errno's word for why. */
static void errno_err(rm_reader *r, const char *what)
{
    int k = snprintf(r->err, sizeof(r->err), "%s: %s", what, strerror(errno));
    (void)k;
}

static void set_err(rm_reader *r, const char *what)
{
    int k = snprintf(r->err, sizeof(r->err), "%s", what);
    if (k < 0)
        r->err[0] = '\0';
}

#ifdef RM_HAVE_ZLIB
static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
    return le16(p) | le16(p + 2) << 16;
}

static int read_at(int fd, uint64_t off, void *buf, size_t n)
{
    size_t got = 0;
    if (lseek(fd, (off_t)off, SEEK_SET) == (off_t)-1)
        return -1;
    while (got < n) {
        ssize_t k = read_some(fd, (char *)buf + got, n - got);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* 1 when a zip member is a log to read: a .txt file; with top set, one at
 * the archive's top level (GitHub's log archive holds each job's whole log
 * there, and the same lines again per step in a folder of the job's). */
static int zip_wanted(const unsigned char *name, size_t n, int top)
{
    if (n < 5 || name[n - 1] == '/' || memchr(name, '\0', n))
        return 0;
    if (top && memchr(name, '/', n))
        return 0;
    return (name[n - 4] == '.' && (name[n - 3] | 0x20) == 't' && (name[n - 2] | 0x20) == 'x' &&
            (name[n - 1] | 0x20) == 't');
}

/* How many jobs' folders the members are in (a change of folder from one
 * member to the next counts: an archive keeps a folder's files together). */
static int zip_folders(const gz_state *g)
{
    int i, n = 0;
    size_t prev = 0;
    for (i = 0; i < g->n_zm; i++) {
        const char *s = strchr(g->zm[i].name, '/');
        size_t k = s ? (size_t)(s - g->zm[i].name) : 0;
        if (i == 0 || k != prev || memcmp(g->zm[i].name, g->zm[i - 1].name, k) != 0)
            n++;
        prev = k;
    }
    return n;
}

/* Reads a zip archive's central directory: the members to read, in the
 * archive's order. 0, or -1 with r->err set. */
static int zip_directory(rm_reader *r, gz_state *g)
{
    unsigned char tail[RM_READER_ZIN], *cd = NULL;
    off_t end = lseek(r->fd, 0, SEEK_END);
    size_t n, i, k, cd_size;
    uint64_t cd_off;
    unsigned entries;
    int pass;
    if (end == (off_t)-1) {
        set_err(r, "a zip archive can only be read from a file (not a pipe): give its path, "
                   "or unzip it");
        return -1;
    }
    n = (uint64_t)end < sizeof(tail) ? (size_t)end : sizeof(tail);
    if (n < 22 || read_at(r->fd, (uint64_t)end - n, tail, n) != 0) {
        set_err(r, "zip archive: cannot read its end");
        return -1;
    }
    for (i = n - 22 + 1; i-- > 0;)
        if (le32(tail + i) == 0x06054b50)
            break;
    if (i == (size_t)-1) {
        set_err(r, "zip archive without its directory (cut short?): unzip what it holds");
        return -1;
    }
    entries = le16(tail + i + 10);
    cd_size = le32(tail + i + 12);
    cd_off = le32(tail + i + 16);
    if (entries == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        set_err(r, "zip64 archive: not read; unzip it and give the .txt files");
        return -1;
    }
    if (cd_off + cd_size > (uint64_t)end || cd_size > (64u << 20) ||
        !(cd = malloc(cd_size ? cd_size : 1)) || read_at(r->fd, cd_off, cd, cd_size) != 0) {
        free(cd);
        set_err(r, "zip archive: its directory is damaged or too large");
        return -1;
    }
    g->zm = calloc(entries ? entries : 1, sizeof(*g->zm));
    if (!g->zm) {
        free(cd);
        set_err(r, "out of memory for the zip directory");
        return -1;
    }
    /* the top level's .txt files when there are any, else every .txt */
    for (pass = 1; pass >= 0 && g->n_zm == 0; pass--) {
        for (k = 0, i = 0; i < entries && k + 46 <= cd_size && le32(cd + k) == 0x02014b50; i++) {
            size_t nl = le16(cd + k + 28), xl = le16(cd + k + 30), cl = le16(cd + k + 32);
            int method = (int)le16(cd + k + 10);
            if (k + 46 + nl > cd_size)
                break;
            if (zip_wanted(cd + k + 46, nl, pass) && (method == 0 || method == 8)) {
                zip_member *m = &g->zm[g->n_zm++];
                size_t c = nl < sizeof(m->name) ? nl : sizeof(m->name) - 1;
                memcpy(m->name, cd + k + 46, c);
                m->name[c] = '\0';
                m->off = le32(cd + k + 42);
                m->csize = le32(cd + k + 20);
                m->method = method;
            }
            k += 46 + nl + xl + cl;
        }
    }
    free(cd);
    r->zip_members = g->n_zm;
    /* pass is one below the pass that found them: the top level's logs
       are jobs'; else steps' logs, in a folder per job */
    r->zip_jobs = pass == 0 ? g->n_zm : zip_folders(g);
    if (g->n_zm == 0) {
        set_err(r, "zip archive without .txt logs (deflated or stored) to read");
        return -1;
    }
    /* members that share bytes (a crafted directory pointing many entries
       at one member) would inflate past the cap, which counts bytes read:
       their compressed sizes together fit in the file, or it is refused */
    {
        uint64_t sum = 0;
        int i2;
        for (i2 = 0; i2 < g->n_zm; i2++) {
            sum += g->zm[i2].csize;
            if (g->zm[i2].off >= (uint64_t)end || sum > (uint64_t)end) {
                set_err(r, "zip archive: its members overlap or lie past its end (crafted?); "
                           "unzip it");
                return -1;
            }
        }
    }
    return 0;
}

/* Opens a zip archive read from r->fd (its first bytes in r->buf). */
static int open_zip(rm_reader *r)
{
    gz_state *g = calloc(1, sizeof(*g));
    if (!g) {
        set_err(r, "out of memory for the zip reader");
        return -1;
    }
    r->eof = 0;
    r->start = r->end = 0;
    if (inflateInit2(&g->s, -15) != Z_OK) {
        free(g);
        set_err(r, "zlib: inflateInit2 failed");
        return -1;
    }
    if (zip_directory(r, g) != 0) { /* the caller closes nothing after a failed open */
        inflateEnd(&g->s);
        free(g->zm);
        free(g);
        return -1;
    }
    r->z = g;
    r->gz = 2;
    return 0;
}
#else
static int open_zip(rm_reader *r)
{
    set_err(r, "zip input is not supported: resmon-report was built without zlib (unzip it)");
    return -1;
}
#endif

/* UTF-16LE: Windows PowerShell 5.1 writes "> job.log" so, with its BOM FF
 * FE; without one, ASCII text shows as every other byte 0. */
static int is_utf16le(const unsigned char *b, size_t n)
{
    size_t i;
    if (n >= 2 && b[0] == 0xff && b[1] == 0xfe)
        return 1;
    if (n < 8)
        return 0;
    for (i = 0; i < 8; i += 2)
        if (b[i] == 0 || b[i + 1] != 0)
            return 0;
    return 1;
}

typedef struct u16_state {
    size_t start, end;
    unsigned hi; /* a high surrogate waiting for its low one, 0 none */
    int in_eof;
    unsigned char in[RM_READER_ZIN];
} u16_state;

/* Decodes UTF-16LE from r->fd into dst as UTF-8 (a lone surrogate becomes
 * '?'): bytes added, 0 at the end, -1 on a read error. */
static ssize_t fill_utf16(rm_reader *r, char *dst, size_t cap)
{
    u16_state *u = r->u16;
    size_t k = 0;
    for (;;) {
        while (u->end - u->start >= 2 && k + 4 <= cap) {
            unsigned c = (unsigned)u->in[u->start] | (unsigned)u->in[u->start + 1] << 8;
            u->start += 2;
            if (c >= 0xd800 && c < 0xdc00) {
                if (u->hi)
                    dst[k++] = '?';
                u->hi = c;
                continue;
            }
            if (c >= 0xdc00 && c < 0xe000) {
                if (!u->hi) {
                    dst[k++] = '?';
                    continue;
                }
                c = 0x10000 + ((u->hi - 0xd800) << 10) + (c - 0xdc00);
                u->hi = 0;
            } else if (u->hi) {
                dst[k++] = '?';
                u->hi = 0;
            }
            if (c < 0x80) {
                dst[k++] = (char)c;
            } else if (c < 0x800) {
                dst[k++] = (char)(0xc0 | c >> 6);
                dst[k++] = (char)(0x80 | (c & 0x3f));
            } else if (c < 0x10000) {
                dst[k++] = (char)(0xe0 | c >> 12);
                dst[k++] = (char)(0x80 | (c >> 6 & 0x3f));
                dst[k++] = (char)(0x80 | (c & 0x3f));
            } else {
                dst[k++] = (char)(0xf0 | c >> 18);
                dst[k++] = (char)(0x80 | (c >> 12 & 0x3f));
                dst[k++] = (char)(0x80 | (c >> 6 & 0x3f));
                dst[k++] = (char)(0x80 | (c & 0x3f));
            }
        }
        if (u->in_eof && u->hi && k < cap) {
            dst[k++] = '?'; /* a high surrogate the input ended after */
            u->hi = 0;
        }
        if (k > 0 || u->in_eof)
            return (ssize_t)k; /* an odd last byte is dropped */
        if (u->start > 0) {
            memmove(u->in, u->in + u->start, u->end - u->start);
            u->end -= u->start;
            u->start = 0;
        }
        {
            ssize_t got = read_some(r->fd, u->in + u->end, sizeof(u->in) - u->end);
            if (got < 0) {
                errno_err(r, "read");
                return -1;
            }
            if (got == 0)
                u->in_eof = 1;
            u->end += (size_t)got;
        }
    }
}

/* Reads r->fd as UTF-16LE from here on (its first bytes in r->buf). */
static int open_utf16(rm_reader *r)
{
    u16_state *u = calloc(1, sizeof(*u));
    size_t skip = (unsigned char)r->buf[0] == 0xff && (unsigned char)r->buf[1] == 0xfe ? 2 : 0;
    if (!u) {
        set_err(r, "out of memory for the UTF-16 decoder");
        return -1;
    }
    memcpy(u->in, r->buf + skip, r->end - skip); /* at most RM_READER_ZIN: the peek */
    u->end = r->end - skip;
    u->in_eof = r->eof;
    r->u16 = u;
    r->eof = 0;
    r->start = r->end = 0;
    return 0;
}

int rm_reader_open_fd(rm_reader *r, int fd)
{
    ssize_t got;
    r->fd = fd;
    r->own_fd = 0;
    r->gz = 0;
    r->eof = 0;
    r->skipping = 0;
    r->z = NULL;
    r->u16 = NULL;
    r->lineno = 0;
    r->n_cut = 0;
    r->gz_cut = 0;
    r->gz_capped = 0;
    r->gz_floor = RM_READER_GZ_FLOOR;
    r->gz_limit = 0;
    r->gz_in = r->gz_out = 0;
    r->zip_members = r->zip_jobs = 0;
    r->member_seq = 0;
    r->member[0] = '\0';
    r->bytes = 0;
    r->start = r->end = 0;
    r->scanned = 0;
    r->err[0] = '\0';
    /* Peek at the first two bytes for gzip's magic (a pipe may give one). */
    while (r->end < 2) {
        /* at most RM_READER_ZIN, so a gzip start fits the decoder's input */
        got = read_some(fd, r->buf + r->end, RM_READER_ZIN - r->end);
        if (got < 0) {
            errno_err(r, "read");
            return -1;
        }
        if (got == 0) {
            r->eof = 1;
            break;
        }
        r->end += (size_t)got;
    }
    while (r->end < 8 && !r->eof && r->end >= 2 &&
           (memcmp(r->buf, "PK", 2) == 0 || memcmp(r->buf, "\xff\xfe", 2) == 0 || r->buf[1] == 0)) {
        got = read_some(fd, r->buf + r->end, RM_READER_ZIN - r->end);
        if (got <= 0)
            break;
        r->end += (size_t)got;
    }
    if (r->end >= 4 && memcmp(r->buf, "PK\x03\x04", 4) == 0)
        return open_zip(r);
    if (is_utf16le((const unsigned char *)r->buf, r->end))
        return open_utf16(r);
    if (r->end >= 2 && (unsigned char)r->buf[0] == 0x1f && (unsigned char)r->buf[1] == 0x8b) {
#ifdef RM_HAVE_ZLIB
        gz_state *g = calloc(1, sizeof(*g));
        size_t have = r->end; /* at most RM_READER_ZIN: see the peek above */
        if (!g) {
            set_err(r, "out of memory for the gzip decoder");
            return -1;
        }
        memcpy(g->in, r->buf, have);
        g->s.next_in = g->in;
        g->s.avail_in = (uInt)have;
        g->in_eof = r->eof;
        /* 15 + 16: gzip wrapper only */
        if (inflateInit2(&g->s, 15 + 16) != Z_OK) {
            free(g);
            set_err(r, "zlib: inflateInit2 failed");
            return -1;
        }
        r->z = g;
        r->gz = 1;
        r->eof = 0;
        r->start = r->end = 0;
#else
        set_err(r, "gzip input is not supported: resmon-report was built without zlib "
                   "(install zlib1g-dev and rebuild, or gunzip the file first)");
        return -1;
#endif
    }
    return 0;
}

int rm_reader_open(rm_reader *r, const char *path)
{
    int fd;
    if (strcmp(path, "-") == 0)
        return rm_reader_open_fd(r, 0);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_BINARY);
    if (fd < 0) {
        errno_err(r, "open");
        r->z = NULL;
        r->own_fd = 0;
        return -1;
    }
    if (rm_reader_open_fd(r, fd)) {
        close(fd);
        return -1;
    }
    r->own_fd = 1;
    return 0;
}

#ifdef RM_HAVE_ZLIB
/* Inflated bytes allowed so far: max(floor, RATIO x compressed bytes
 * read), and at most gz_limit when set. Saturates instead of overflowing. */
static uint64_t gz_cap(const rm_reader *r)
{
    uint64_t cap =
        r->gz_in > UINT64_MAX / RM_READER_GZ_RATIO ? UINT64_MAX : r->gz_in * RM_READER_GZ_RATIO;
    if (cap < r->gz_floor)
        cap = r->gz_floor;
    if (r->gz_limit && cap > r->gz_limit)
        cap = r->gz_limit;
    return cap;
}

/* Inflates into dst[0..cap): returns bytes added, 0 at the end, -1 on an
 * error or at the cap (r->err). Every pass of the loop consumes input or
 * produces output, or ends it: no input can make it spin. */
static ssize_t fill_gz(rm_reader *r, char *dst, size_t cap)
{
    gz_state *g = r->z;
    uint64_t allowed = gz_cap(r);
    size_t want = cap;
    if (r->gz_out >= allowed) {
        int k = snprintf(r->err, sizeof(r->err),
                         "gzip input stopped after %llu inflated bytes, over %dx the %llu "
                         "compressed bytes read (a gzip bomb?); gunzip it to read it all",
                         (unsigned long long)r->gz_out, RM_READER_GZ_RATIO,
                         (unsigned long long)r->gz_in);
        (void)k;
        r->gz_capped = 1;
        return -1;
    }
    if (allowed - r->gz_out < want)
        want = (size_t)(allowed - r->gz_out);
    g->s.next_out = (unsigned char *)dst;
    g->s.avail_out = (uInt)want;
    while (g->s.avail_out == want) {
        uInt in_before;
        int zr;
        if (g->s.avail_in == 0 && !g->in_eof) {
            ssize_t got = read_some(r->fd, g->in, sizeof(g->in));
            if (got < 0) {
                errno_err(r, "read");
                return -1;
            }
            if (got == 0)
                g->in_eof = 1;
            g->s.next_in = g->in;
            g->s.avail_in = (uInt)got;
        }
        if (g->s.avail_in == 0 && g->in_eof) {
            /* the source ended; inside a member means the file was cut */
            if (g->s.total_in > 0)
                r->gz_cut = 1;
            break;
        }
        in_before = g->s.avail_in;
        zr = inflate(&g->s, Z_NO_FLUSH);
        r->gz_in += in_before - g->s.avail_in;
        if (zr == Z_STREAM_END) {
            /* a gzip file may hold several members */
            inflateReset(&g->s);
            continue;
        }
        /* no progress with input left: zlib cannot go on (never seen) */
        if (zr == Z_BUF_ERROR && g->s.avail_in == 0)
            continue;
        if (zr != Z_OK) {
            int k = snprintf(r->err, sizeof(r->err), "gzip data is corrupt: %s",
                             g->s.msg ? g->s.msg : "inflate failed");
            (void)k;
            return -1;
        }
    }
    r->gz_out += want - g->s.avail_out;
    return (ssize_t)(want - g->s.avail_out);
}
#endif

#ifdef RM_HAVE_ZLIB
/* Starts the next member of a zip archive: 1, 0 when none is left, -1 on
 * an error (r->err). */
static int zip_next_member(rm_reader *r, gz_state *g)
{
    unsigned char h[30];
    const zip_member *m;
    if (g->cur_zm >= g->n_zm)
        return 0;
    m = &g->zm[g->cur_zm++];
    if (read_at(r->fd, m->off, h, sizeof(h)) != 0 || le32(h) != 0x04034b50 ||
        lseek(r->fd, (off_t)(m->off + 30 + le16(h + 26) + le16(h + 28)), SEEK_SET) == (off_t)-1) {
        set_err(r, "zip archive: a member's header is damaged");
        return -1;
    }
    g->zm_left = m->csize;
    g->zm_open = 1;
    r->member_seq = (unsigned)g->cur_zm;
    memcpy(r->member, m->name, sizeof(r->member));
    g->s.avail_in = 0;
    inflateReset(&g->s);
    return 1;
}

/* Fills dst from the zip's members, one after the other, each ended by a
 * newline; the gzip cap holds for them all. Every pass of the loop reads
 * input, produces output or ends a member: no input can make it spin. */
static ssize_t fill_zip(rm_reader *r, char *dst, size_t cap)
{
    gz_state *g = r->z;
    for (;;) {
        size_t want = cap, made;
        int zr;
        if (g->nl_pending) {
            g->nl_pending = 0;
            dst[0] = '\n'; /* a member's last line may lack its own */
            r->gz_out++;
            return 1;
        }
        if (!g->zm_open) {
            int k = zip_next_member(r, g);
            if (k <= 0)
                return k;
        }
        if (g->s.avail_in == 0 && g->zm_left > 0) {
            size_t n = g->zm_left < sizeof(g->in) ? (size_t)g->zm_left : sizeof(g->in);
            ssize_t got = read_some(r->fd, g->in, n);
            if (got <= 0) {
                set_err(r, "zip archive: a member is cut short");
                return -1;
            }
            g->zm_left -= (uint64_t)got;
            r->gz_in += (uint64_t)got;
            g->s.next_in = g->in;
            g->s.avail_in = (uInt)got;
        }
        if (r->gz_out >= gz_cap(r)) {
            set_err(r,
                    "zip input stopped at the inflate cap (a zip bomb?); unzip it to read it all");
            r->gz_capped = 1;
            return -1;
        }
        if (gz_cap(r) - r->gz_out < want)
            want = (size_t)(gz_cap(r) - r->gz_out);
        if (g->zm[g->cur_zm - 1].method == 0) {
            made = g->s.avail_in < want ? g->s.avail_in : want;
            memcpy(dst, g->s.next_in, made);
            g->s.next_in += made;
            g->s.avail_in -= (uInt)made;
            zr = g->s.avail_in == 0 && g->zm_left == 0 ? Z_STREAM_END : Z_OK;
        } else {
            g->s.next_out = (unsigned char *)dst;
            g->s.avail_out = (uInt)want;
            zr = inflate(&g->s, Z_NO_FLUSH);
            made = want - g->s.avail_out;
            if (zr == Z_BUF_ERROR && g->s.avail_in == 0 && g->zm_left == 0)
                zr = Z_STREAM_END; /* the member's data ended mid-stream: take what it held */
            else if (zr == Z_BUF_ERROR && made == 0 && g->s.avail_in == 0)
                zr = Z_OK; /* more input to read */
            if (zr != Z_OK && zr != Z_STREAM_END) {
                int k = snprintf(r->err, sizeof(r->err), "zip data is corrupt: %s",
                                 g->s.msg ? g->s.msg : "inflate failed");
                (void)k;
                return -1;
            }
        }
        if (zr == Z_STREAM_END) {
            g->zm_open = 0;
            g->nl_pending = 1;
        }
        r->gz_out += made;
        if (made > 0)
            return (ssize_t)made;
    }
}
#endif

/* Fills dst[0..cap); returns bytes added, 0 at the end, -1 on error. */
static ssize_t fill(rm_reader *r, char *dst, size_t cap)
{
    ssize_t got;
    if (r->u16)
        return fill_utf16(r, dst, cap);
#ifdef RM_HAVE_ZLIB
    if (r->gz == 2)
        return fill_zip(r, dst, cap);
    if (r->gz)
        return fill_gz(r, dst, cap);
#endif
    got = read_some(r->fd, dst, cap);
    if (got < 0)
        errno_err(r, "read");
    return got;
}

int rm_reader_next(rm_reader *r, const char **line, size_t *len, unsigned *flags)
{
    for (;;) {
        size_t pending = r->end - r->start;
        /* bytes already searched are not searched again: a line arriving a
         * byte at a time (a slow pipe) still costs linear time */
        const char *nl = pending > r->scanned
                             ? memchr(r->buf + r->start + r->scanned, '\n', pending - r->scanned)
                             : NULL;
        ssize_t got;
        if (nl) {
            size_t l = (size_t)(nl - (r->buf + r->start));
            const char *s = r->buf + r->start;
            r->start += l + 1;
            r->scanned = 0;
            r->bytes += l + 1;
            if (r->skipping) {
                r->skipping = 0;
                continue;
            }
            r->lineno++;
            *flags = 0;
            if (l > RM_READER_LINE_MAX) {
                l = RM_READER_LINE_MAX;
                *flags = RM_READ_CUT;
                r->n_cut++;
            }
            *line = s;
            *len = l;
            return 1;
        }
        r->scanned = pending;
        if (r->skipping) {
            r->bytes += pending;
            r->start = r->end = 0;
            r->scanned = pending = 0;
        } else if (pending >= RM_READER_LINE_MAX) {
            *line = r->buf + r->start;
            *len = RM_READER_LINE_MAX;
            *flags = RM_READ_CUT;
            r->bytes += pending;
            r->start = r->end;
            r->scanned = 0;
            r->lineno++;
            r->n_cut++;
            r->skipping = 1;
            return 1;
        }
        if (r->eof) {
            if (pending == 0)
                return 0;
            *line = r->buf + r->start;
            *len = pending;
            *flags = 0;
            r->bytes += pending;
            r->start = r->end;
            r->scanned = 0;
            r->lineno++;
            return 1;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, pending);
            r->start = 0;
            r->end = pending;
        }
        got = fill(r, r->buf + r->end, RM_READER_BUF - r->end);
        if (got < 0)
            return -1;
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
}

void rm_reader_close(rm_reader *r)
{
    free(r->u16);
    r->u16 = NULL;
#ifdef RM_HAVE_ZLIB
    if (r->z) {
        gz_state *g = r->z;
        inflateEnd(&g->s);
        free(g->zm);
        free(g);
    }
#endif
    r->z = NULL;
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    r->own_fd = 0;
    r->fd = -1;
}
