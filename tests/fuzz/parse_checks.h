/* SPDX-License-Identifier: MIT */
/* parse_checks.h: the parser, writer and line-reader properties both fuzz targets check. */
#ifndef RM_FUZZ_PARSE_CHECKS_H
#define RM_FUZZ_PARSE_CHECKS_H

#include "record/parse.h"
#include "record/record.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A broken property stops the fuzzer with a crash it reports. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);            \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* Longest input copied behind a fixed prefix (the fuzzer's -max_len is 16 KiB). */
#define FUZZ_LINE_MAX (20 * 1024)

static rm_rec fz_rec;
static rm_line fz_line;
static char fz_buf[FUZZ_LINE_MAX + 64];

/* Parses one line and checks what any parse must satisfy. */
static int fz_parse(const char *s, size_t n)
{
    uint64_t u;
    int64_t i;
    unsigned k;
    int type = rm_parse_line(s, n, &fz_rec);
    FUZZ_ASSERT(type == fz_rec.type);
    FUZZ_ASSERT(fz_rec.body_off <= n);
    if (type == RM_PARSE_NONE)
        return type;
    /* the tag is where the parser says, after the line-start noise */
    FUZZ_ASSERT(fz_rec.tag_off >= fz_rec.body_off && fz_rec.tag_off < n);
    FUZZ_ASSERT(s[fz_rec.tag_off] == '[');
    FUZZ_ASSERT(fz_rec.n_fields <= RM_PARSE_MAX_FIELDS && fz_rec.used <= sizeof(fz_rec.buf));
    for (k = 0; k < fz_rec.n_fields; k++) {
        /* every field is inside the buffer and NUL-terminated */
        const rm_field *f = &fz_rec.f[k];
        FUZZ_ASSERT(f->key >= fz_rec.buf && f->val >= f->key);
        FUZZ_ASSERT(f->val + f->val_len < fz_rec.buf + sizeof(fz_rec.buf));
        FUZZ_ASSERT(f->val[f->val_len] == '\0');
    }
    (void)rm_rec_u64(&fz_rec, "rss", &u);
    (void)rm_rec_i64(&fz_rec, "d_rss", &i);
    (void)rm_rec_usec(&fz_rec, "mono", &u);
    {
        /* kept and read back (the report's fold): the same record, every field */
        static rm_rec back;
        static char pack[RM_PARSE_VALUES_MAX + RM_PARSE_MAX_FIELDS * 3 + 2 * RM_PARSE_KEY_MAX + 16];
        size_t pn = rm_rec_pack(&fz_rec, NULL, pack, sizeof(pack));
        FUZZ_ASSERT(pn > 0);
        FUZZ_ASSERT(rm_rec_unpack(pack, pn, &back) == type);
        FUZZ_ASSERT(back.n_fields == fz_rec.n_fields && back.flags == fz_rec.flags);
        FUZZ_ASSERT(strcmp(back.kind, fz_rec.kind) == 0 && strcmp(back.prefix, fz_rec.prefix) == 0);
        for (k = 0; k < fz_rec.n_fields; k++) {
            const rm_field *a = &fz_rec.f[k], *b = &back.f[k];
            FUZZ_ASSERT(strcmp(a->key, b->key) == 0 && a->val_len == b->val_len);
            FUZZ_ASSERT(memcmp(a->val, b->val, a->val_len) == 0 && b->val[b->val_len] == '\0');
        }
        (void)rm_rec_unpack(pack, pn / 2, &back); /* a cut packing: refused or shorter */
    }
    return type;
}

/* The parse of the input as one line, and the forgery property: whatever
 * the input, behind text that is not line-start noise (a pytest -v line's
 * test id, a summary line, an exception line) it is never a record. */
static void fz_check_line(const uint8_t *data, size_t size)
{
    static const char *const heads[] = {
        "tests/test_x.py::test_x[",
        "2026-11-26T10:04:31.1234567Z \x1b[32mPASSED\x1b[0m tests/t.py::test_x[",
        "[gw0] [ 50%] PASSED tests/t.py::test_x[",
        "FAILED tests/t.py::t - ",
        "E       ",
        "INFO root: ",
    };
    size_t h;
    fz_parse((const char *)data, size);
    if (size > FUZZ_LINE_MAX)
        return;
    for (h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
        size_t hl = strlen(heads[h]);
        memcpy(fz_buf, heads[h], hl);
        memcpy(fz_buf + hl, data, size);
        FUZZ_ASSERT(fz_parse(fz_buf, hl + size) == RM_PARSE_NONE);
    }
}

/* The writer: any bytes as a kind and a value give one ASCII line that
 * parses back to the same value, with no other record in it. */
static void fz_check_writer(const uint8_t *data, size_t size)
{
    char kind[40];
    size_t kn = size < sizeof(kind) - 1 ? size : sizeof(kind) - 1, i, len;
    const rm_field *f;
    memcpy(kind, data, kn);
    kind[kn] = '\0';
    rm_line_begin(&fz_line, kind);
    rm_line_str(&fz_line, "label", (const char *)data, size);
    rm_line_u64(&fz_line, "rss", 7);
    len = rm_line_end(&fz_line);
    FUZZ_ASSERT(fz_line.lead == '\n' && len + 1 <= RM_LINE_MAX);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)fz_line.buf[i];
        FUZZ_ASSERT(c == '\n' ? i == len - 1 : (c >= 0x20 && c < 0x7f));
    }
    FUZZ_ASSERT(fz_parse(fz_line.buf, len - 1) == RM_PARSE_RECORD);
    FUZZ_ASSERT(fz_rec.n_malformed == 0 && !(fz_rec.flags & RM_REC_INCOMPLETE));
    FUZZ_ASSERT(strspn(fz_rec.kind, "abcdefghijklmnopqrstuvwxyz_") == strlen(fz_rec.kind));
    f = rm_rec_get(&fz_rec, "label");
    FUZZ_ASSERT(f != NULL);
    if (fz_rec.flags & RM_REC_TRUNC) {
        FUZZ_ASSERT(f->val_len >= 3 && f->val_len - 3 <= size);
        FUZZ_ASSERT(memcmp(f->val, data, f->val_len - 3) == 0);
    } else {
        FUZZ_ASSERT(f->val_len == size && memcmp(f->val, data, size) == 0);
    }
    FUZZ_ASSERT(rm_rec_get(&fz_rec, "rss") != NULL);
}

/* The line reader over the bytes as a file (gzip when they start with
 * 1f 8b), with small caps so the fuzzer reaches the gzip cap: bounded
 * lines, bounded inflation, every line parsed. */
static void fz_check_reader(const uint8_t *data, size_t size)
{
    static rm_reader r;
    const char *line;
    size_t len;
    unsigned flags;
    uint64_t lines = 0, limit = size > 0 ? (uint64_t)data[0] * 4096 : 0;
    char path[64];
    int fd = memfd_create("fuzz-reader", 0), rc;
    if (fd < 0)
        return;
    if (write(fd, data, size) != (ssize_t)size ||
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd) >= (int)sizeof(path) ||
        rm_reader_open(&r, path) != 0) {
        close(fd);
        return;
    }
    r.gz_floor = 64 * 1024;
    r.gz_limit = limit;
    while ((rc = rm_reader_next(&r, &line, &len, &flags)) == 1) {
        lines++;
        FUZZ_ASSERT(len <= RM_READER_LINE_MAX);
        FUZZ_ASSERT(line >= r.buf && line + len <= r.buf + sizeof(r.buf));
        FUZZ_ASSERT(r.lineno == lines);
        fz_parse(line, len);
    }
    FUZZ_ASSERT(rc == 0 || (rc == -1 && r.err[0]));
    if (r.gz) {
        uint64_t cap = r.gz_in * RM_READER_GZ_RATIO;
        if (cap < r.gz_floor)
            cap = r.gz_floor;
        if (limit && cap > limit)
            cap = limit;
        FUZZ_ASSERT(r.gz_out <= cap);
        FUZZ_ASSERT(r.bytes <= r.gz_out);
        FUZZ_ASSERT(!r.gz_capped || rc == -1);
    } else if (r.u16) {
        /* UTF-16LE decoded to UTF-8: at most 3 bytes a 2-byte unit (4 a
           surrogate pair), less the BOM; a lone surrogate is one '?' */
        FUZZ_ASSERT(rc == 0 && r.bytes <= size / 2 * 3 + 1);
    } else {
        FUZZ_ASSERT(rc == 0 && r.bytes == size);
    }
    rm_reader_close(&r);
    close(fd);
}

#endif
