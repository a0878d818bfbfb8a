/* SPDX-License-Identifier: MIT */
/* test_parse.c: unit tests of the record parser, the line reader and the writer round trip. */
#include "../c/check.h"
#include "record/parse.h"
#include "record/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef RM_HAVE_ZLIB
#include <zlib.h>
#endif

static rm_rec rec; /* large: keep it off the stack */

static int parse(const char *s)
{
    return rm_parse_line(s, strlen(s), &rec);
}

static int val_is(const char *key, const char *want)
{
    const rm_field *f = rm_rec_get(&rec, key);
    return f && f->val_len == strlen(want) && memcmp(f->val, want, f->val_len) == 0;
}

static void test_basic(void)
{
    uint64_t u;
    int64_t i;
    CHECK(parse("[resmon/1] mark ts=2026-11-26T10:04:31.123456Z mono=8812.004211 pid=4242 "
                "worker=gw0 test=tests/test_io.py::test_save[big] phase=call label=\"before save\" "
                "rss=1138753536 cg_lim=none d_rss=-42 ;") == RM_PARSE_RECORD);
    CHECK(strcmp(rec.kind, "mark") == 0);
    CHECK(rec.version == 1);
    CHECK(rec.flags == 0);
    CHECK(rec.n_fields == 10);
    CHECK(val_is("label", "before save"));
    CHECK(val_is("test", "tests/test_io.py::test_save[big]"));
    CHECK(rm_rec_u64(&rec, "rss", &u) == 0 && u == 1138753536ull);
    CHECK(rm_rec_u64(&rec, "cg_lim", &u) == -1);
    CHECK(rm_rec_i64(&rec, "d_rss", &i) == 0 && i == -42);
    CHECK(rm_rec_usec(&rec, "mono", &u) == 0 && u == 8812004211ull);
    CHECK(rm_rec_get(&rec, "nope") == NULL);
    CHECK(parse("plain output line") == RM_PARSE_NONE);
    CHECK(parse("") == RM_PARSE_NONE);
    CHECK(parse("[resmon/x] mark a=1 ;") == RM_PARSE_NONE);
    CHECK(parse("[resmon/1]mark a=1 ;") == RM_PARSE_NONE);
    CHECK(parse("[resmon/] mark a=1 ;") == RM_PARSE_NONE);
    /* the largest 64-bit value and one past it */
    CHECK(parse("[resmon/1] mark a=18446744073709551615 b=18446744073709551616 ;") ==
          RM_PARSE_RECORD);
    CHECK(rm_rec_u64(&rec, "a", &u) == 0 && u == UINT64_MAX);
    CHECK(rm_rec_u64(&rec, "b", &u) == -1);
}

static void test_noise(void)
{
    int64_t t;
    /* GitHub timestamp + ANSI + CRLF + xdist prefix */
    CHECK(parse("\xef\xbb\xbf"
                "2026-11-26T10:04:31.1234567Z \x1b[31m[gw0] [resmon/1] test phase=call at=start "
                "test=t.py::a ;\r") == RM_PARSE_RECORD);
    CHECK(rec.has_gh_ts);
    CHECK(rm_parse_utc("2026-11-26T10:04:31.123456Z", 27, &t) == 27);
    CHECK(rec.gh_ts_usec == t);
    CHECK(rec.flags == 0);
    CHECK(val_is("at", "start"));
    CHECK(strcmp(rec.kind, "test") == 0);
    CHECK(parse("2026-11-26T10:04:31.1234567Z ##[error][resmon/1] gasp signal=11 ;") ==
          RM_PARSE_RECORD);
    CHECK(val_is("signal", "11"));
    /* a colour reset after the end is noise */
    CHECK(parse("\x1b[1m[resmon/1] mark a=1 ;\x1b[0m") == RM_PARSE_RECORD);
    CHECK(!(rec.flags & RM_REC_INCOMPLETE));
    CHECK(parse("2026-11-26T10:04:31.1234567Z plain") == RM_PARSE_NONE);
    CHECK(rec.has_gh_ts);
    CHECK(rec.body_off == 29);
}

static void test_tolerance(void)
{
    char line[256];
    size_t n;
    /* cut record */
    CHECK(parse("[resmon/1] mark rss=100 label=\"half") == RM_PARSE_RECORD);
    CHECK(rec.flags & RM_REC_INCOMPLETE);
    CHECK(val_is("rss", "100"));
    CHECK(rm_rec_get(&rec, "label") == NULL);
    CHECK(parse("[resmon/1] mark rss=100") == RM_PARSE_RECORD);
    CHECK(rec.flags & RM_REC_INCOMPLETE);
    CHECK(parse("[resmon/1]") == RM_PARSE_RECORD);
    CHECK(rec.flags & RM_REC_INCOMPLETE);
    CHECK(rec.kind[0] == '\0');
    /* unknown version: fields still read */
    CHECK(parse("[resmon/7] mark rss=5 newkey=x ;") == RM_PARSE_RECORD);
    CHECK(rec.flags & RM_REC_UNKNOWN_VERSION);
    CHECK(rec.version == 7);
    CHECK(val_is("newkey", "x"));
    /* malformed fields are skipped and counted */
    CHECK(parse("[resmon/1] mark good=1 =x bad!key=2 esc=\"a\\qb\" bare=a\"b hex=\"\\xZZ\" "
                "empty= last=2 ;") == RM_PARSE_RECORD);
    CHECK(rec.flags & RM_REC_MALFORMED);
    CHECK(rec.n_malformed == 6);
    CHECK(val_is("good", "1") && val_is("last", "2"));
    CHECK(rec.n_fields == 2);
    /* NUL bytes and invalid UTF-8 before and inside a record */
    n = 0;
    memcpy(line + n, "\xff\xfe\x00\xc3[", 5);
    n += 5;
    {
        static const char r[] = "[resmon/1] mark a=\"\xff\x00z\" b=2 ;";
        memcpy(line + n, r, sizeof(r) - 1);
        n += sizeof(r) - 1;
    }
    CHECK(rm_parse_line(line, n, &rec) == RM_PARSE_RECORD);
    {
        const rm_field *f = rm_rec_get(&rec, "a");
        CHECK(f && f->val_len == 3 && memcmp(f->val, "\xff\x00z", 3) == 0);
    }
    CHECK(val_is("b", "2"));
    CHECK(!(rec.flags & RM_REC_INCOMPLETE));
    /* escapes */
    CHECK(parse("[resmon/1] mark v=\"q\\\"b\\\\n\\nt\\tr\\r\\x00\\x7f\" ;") == RM_PARSE_RECORD);
    {
        const rm_field *f = rm_rec_get(&rec, "v");
        CHECK(f && f->val_len == 12 && memcmp(f->val, "q\"b\\n\nt\tr\r\x00\x7f", 12) == 0);
    }
}

static void test_forgery(void)
{
    /* a tag inside a quoted value of the first tag is data */
    CHECK(parse("[resmon/1] mark label=\"x [resmon/1] gasp signal=9 ;\" rss=1 ;") ==
          RM_PARSE_RECORD);
    CHECK(strcmp(rec.kind, "mark") == 0);
    CHECK(val_is("label", "x [resmon/1] gasp signal=9 ;"));
    CHECK(val_is("rss", "1"));
    CHECK(rm_rec_get(&rec, "signal") == NULL);
    /* a legacy tag inside a record value is data too */
    CHECK(parse("[resmon/1] mark label=\"[a_resource_debug] x: rss_gb=9\" ;") == RM_PARSE_RECORD);
    CHECK(strcmp(rec.kind, "mark") == 0);
    /* the first tag wins */
    CHECK(parse("[x_resource_debug] l: rss_gb=1 [resmon/1] mark ;") == RM_PARSE_LEGACY);
}

static void test_legacy(void)
{
    uint64_t u;
    CHECK(parse("[test_resource_debug] test:start:tests/core/test_ops.py::TestOps::test_save: "
                "context=test nodeid=tests/core/test_ops.py::TestOps::test_save lifecycle=start "
                "rss_gb=1.06 vms_gb=11.67 cuda_available=false cuda_device_count=0") ==
          RM_PARSE_LEGACY);
    CHECK(strcmp(rec.kind, "legacy") == 0);
    CHECK(strcmp(rec.prefix, "test") == 0);
    CHECK(rec.label_len == strlen("test:start:tests/core/test_ops.py::TestOps::test_save"));
    CHECK(memcmp(rec.label, "test:start:tests/core/test_ops.py::TestOps::test_save",
                 rec.label_len) == 0);
    CHECK(val_is("test", "tests/core/test_ops.py::TestOps::test_save"));
    CHECK(val_is("rss_gb", "1.06"));
    CHECK(rm_rec_u64(&rec, "rss", &u) == 0 && u == 1138166333ull); /* 1.06 * 2^30 */
    CHECK(rm_rec_u64(&rec, "vms", &u) == 0);
    CHECK(val_is("lifecycle", "start"));
    CHECK(rec.n_malformed == 0);

    CHECK(parse("2026-11-26T10:04:31.1234567Z [fixture_resource_debug] "
                "session_cfg:gpt2:setup:start: context=fixture kind=session_cfg key=gpt2 "
                "scope=class lifecycle=setup_start rss_gb=1.06 "
                "path0=/tmp/pytest-of-ci/pytest-3/gpt2_0 used_gb0=37.22 free_gb0=49.54") ==
          RM_PARSE_LEGACY);
    CHECK(rec.has_gh_ts);
    CHECK(strcmp(rec.prefix, "fixture") == 0);
    CHECK(val_is("disk0", "/tmp/pytest-of-ci/pytest-3/gpt2_0"));
    CHECK(rm_rec_u64(&rec, "disk0_used", &u) == 0 && u == 39964670689ull);
    CHECK(rm_rec_u64(&rec, "disk0_free", &u) == 0);

    CHECK(parse("[op_serialization_resource_debug] before_save_reload: rss_gb=5.87 path0=/tmp "
                "used_gb0=61.20 free_gb0=10.31") == RM_PARSE_LEGACY);
    CHECK(strcmp(rec.prefix, "op_serialization") == 0);
    CHECK(rec.label_len == 18 && memcmp(rec.label, "before_save_reload", 18) == 0);

    /* shell quoting: single, double, concatenated, escaped */
    CHECK(parse("[x_resource_debug] my label: a='two words' b=\"q\\\"x\" c='it'\"'\"'s' "
                "d=plain e='' f='open") == RM_PARSE_LEGACY);
    CHECK(val_is("a", "two words"));
    CHECK(val_is("b", "q\"x"));
    CHECK(val_is("c", "it's"));
    CHECK(val_is("d", "plain"));
    CHECK(val_is("e", ""));
    CHECK(rm_rec_get(&rec, "f") == NULL);
    CHECK(rec.n_malformed == 1);
    CHECK(rec.label_len == 8);
    /* no label; label only */
    CHECK(parse("[x_resource_debug] rss_gb=2") == RM_PARSE_LEGACY);
    CHECK(rec.label_len == 0 && val_is("rss", "2147483648"));
    CHECK(parse("[x_resource_debug] just a label:") == RM_PARSE_LEGACY);
    CHECK(rec.label_len == 12 && rec.n_fields == 0);
    CHECK(parse("[x_resource_debug] label: not_a_pair rss_mb=1") == RM_PARSE_LEGACY);
    CHECK(val_is("rss", "1048576") && rec.n_malformed == 1);
    CHECK(parse("[resource_debug] x: rss_gb=1") == RM_PARSE_NONE);
}

static void test_limits(void)
{
    static char big[2 * 1024 * 1024];
    size_t n = 0, i;
    clock_t c0;
    double secs;
    /* 200 fields: 128 kept, the rest dropped and counted */
    n = (size_t)snprintf(big, sizeof(big), "[resmon/1] mark");
    for (i = 0; i < 200; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, " k%zu=%zu", i, i);
    n += (size_t)snprintf(big + n, sizeof(big) - n, " ;");
    CHECK(rm_parse_line(big, n, &rec) == RM_PARSE_RECORD);
    CHECK(rec.n_fields == RM_PARSE_MAX_FIELDS);
    CHECK(rec.n_dropped == 200 - RM_PARSE_MAX_FIELDS);
    CHECK(rec.flags & RM_REC_OVERFLOW);
    CHECK(!(rec.flags & RM_REC_INCOMPLETE));

    /* a 1 MB quoted value: dropped for room, the record still ends */
    n = (size_t)snprintf(big, sizeof(big), "[resmon/1] mark a=1 v=\"");
    memset(big + n, 'x', 1000000);
    n += 1000000;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "\" b=2 ;");
    CHECK(rm_parse_line(big, n, &rec) == RM_PARSE_RECORD);
    CHECK(val_is("a", "1") && val_is("b", "2"));
    CHECK(rm_rec_get(&rec, "v") == NULL && rec.n_dropped == 1);

    /* worst cases for time: 1 MB of '[', of "[resmon/", of "[a_a" (legacy
     * prefix scans) and of ": " in a legacy label. Linear: well under 50 ms. */
    {
        const char *pats[] = {"[", "[resmon/", "[aaaaaaaaaaaaaaaaaaaaaa", ": ", "\"", "\\x"};
        size_t k;
        for (k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
            size_t pl = strlen(pats[k]);
            n = 0;
            if (k >= 3)
                n = (size_t)snprintf(big, sizeof(big),
                                     k == 3 ? "[x_resource_debug] " : "[resmon/1] m v=\"");
            while (n + pl < 1024 * 1024) {
                memcpy(big + n, pats[k], pl);
                n += pl;
            }
            c0 = clock();
            for (i = 0; i < 10; i++)
                rm_parse_line(big, n, &rec);
            secs = (double)(clock() - c0) / CLOCKS_PER_SEC / 10;
            if (secs > 0.05)
                fprintf(stderr, "pattern %zu: %.3f s per 1 MB line\n", k, secs);
            CHECK(secs < 0.05);
        }
    }
}

/* Splits a writer's output into lines and parses the only one. */
static void roundtrip_one(const char *s, size_t n, int expect_trunc)
{
    static rm_line l;
    const rm_field *f;
    size_t len, i, newlines = 0;
    rm_line_begin(&l, "mark");
    rm_line_u64(&l, "pid", 42);
    rm_line_str(&l, "label", s, n);
    rm_line_u64(&l, "rss", 7);
    len = rm_line_end(&l);
    CHECK(len <= RM_LINE_MAX);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)l.buf[i];
        CHECK(c == '\n' ? i == len - 1 : (c >= 0x20 && c < 0x7f));
        newlines += c == '\n';
    }
    CHECK(newlines == 1);
    CHECK(rm_parse_line(l.buf, len - 1, &rec) == RM_PARSE_RECORD);
    CHECK(strcmp(rec.kind, "mark") == 0);
    CHECK(rec.n_malformed == 0 && !(rec.flags & RM_REC_INCOMPLETE));
    CHECK(val_is("pid", "42") && val_is("rss", "7"));
    f = rm_rec_get(&rec, "label");
    CHECK(f != NULL);
    if (!f)
        return;
    if (expect_trunc) {
        CHECK(rec.flags & RM_REC_TRUNC);
        CHECK(f->val_len >= 3 && memcmp(f->val + f->val_len - 3, "...", 3) == 0);
        CHECK(f->val_len - 3 <= n && memcmp(f->val, s, f->val_len - 3) == 0);
    } else {
        CHECK(!(rec.flags & RM_REC_TRUNC));
        CHECK(f->val_len == n && memcmp(f->val, s, n) == 0);
    }
}

static void test_roundtrip(void)
{
    char all[256];
    static char huge[100 * 1024];
    int i;
    for (i = 0; i < 256; i++)
        all[i] = (char)i;
    roundtrip_one(all, 256, 0);
    for (i = 0; i < 256; i++)
        roundtrip_one(all + i, 1, 0);
    roundtrip_one("a\nb\r\nc", 6, 0);
    roundtrip_one("q\"uo'te\\", 8, 0);
    roundtrip_one("k=v x=y", 7, 0);
    roundtrip_one("x ;\n[resmon/1] gasp signal=9 ;", 30, 0);
    roundtrip_one("\" [resmon/1] mark rss=1 ;", 25, 0);
    roundtrip_one("", 0, 0);
    memset(huge, 'A', sizeof(huge));
    huge[500] = '\n';
    memcpy(huge + 600, "[resmon/1] mark ;", 17);
    roundtrip_one(huge, sizeof(huge), 1);
    roundtrip_one(all, 256, 0);
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp)
        return;
    CHECK(fwrite(data, 1, n, fp) == n);
    fclose(fp);
}

static void test_reader(void)
{
    static rm_reader r;
    static char data[300 * 1024];
    char path[] = "/tmp/rm_test_reader_XXXXXX";
    const char *line;
    size_t len, n = 0;
    unsigned flags;
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    n += (size_t)sprintf(data + n, "one\r\n\ntwo\n");
    memset(data + n, 'L', 200 * 1024); /* a 200 KiB line */
    n += 200 * 1024;
    n += (size_t)sprintf(data + n, "\nafter\nlast-no-newline");
    write_file(path, data, n);
    CHECK(rm_reader_open(&r, path) == 0);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 4 && !flags);
    CHECK(memcmp(line, "one\r", 4) == 0 && r.lineno == 1);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 0);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 3 && r.lineno == 3);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == RM_READER_LINE_MAX &&
          flags == RM_READ_CUT && r.lineno == 4);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 5 && r.lineno == 5);
    CHECK(memcmp(line, "after", 5) == 0);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 15 && r.lineno == 6);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 0);
    CHECK(r.n_cut == 1);
    CHECK(r.bytes == n);
    rm_reader_close(&r);

    /* empty file */
    write_file(path, "", 0);
    CHECK(rm_reader_open(&r, path) == 0);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 0);
    rm_reader_close(&r);

    CHECK(rm_reader_open(&r, "/nonexistent/file") == -1 && r.err[0]);

#ifdef RM_HAVE_ZLIB
    {
        /* two gzip members, then a truncated copy */
        gzFile gz = gzopen(path, "wb");
        size_t total = 0;
        int i;
        CHECK(gz != NULL);
        for (i = 0; i < 20000; i++)
            gzprintf(gz, "line %d [resmon/1] mark i=%d ;\n", i, i);
        gzclose(gz);
        gz = gzopen(path, "ab");
        gzprintf(gz, "second member\n");
        gzclose(gz);
        CHECK(rm_reader_open(&r, path) == 0 && r.gz);
        while (rm_reader_next(&r, &line, &len, &flags) == 1)
            total++;
        CHECK(total == 20001);
        CHECK(len == 13 && memcmp(line, "second member", 13) == 0);
        CHECK(!r.gz_cut);
        rm_reader_close(&r);
        CHECK(truncate(path, 2000) == 0);
        CHECK(rm_reader_open(&r, path) == 0);
        total = 0;
        while (rm_reader_next(&r, &line, &len, &flags) == 1)
            total++;
        CHECK(total > 10 && total < 20000);
        CHECK(r.gz_cut);
        rm_reader_close(&r);
    }
#else
    write_file(path, "\x1f\x8b\x08\x00", 4);
    CHECK(rm_reader_open(&r, path) == -1 && strstr(r.err, "zlib") != NULL);
#endif
    unlink(path);
}

static void test_time(void)
{
    int64_t t;
    char out[32];
    CHECK(rm_parse_utc("1970-01-01T00:00:00Z", 20, &t) == 20 && t == 0);
    CHECK(rm_parse_utc("2026-11-26 10:40:55.123", 23, &t) == 23);
    CHECK(rm_fmt_utc(out, t) == 27 && strcmp(out, "2026-11-26T10:40:55.123000Z") == 0);
    CHECK(rm_parse_utc("2000-02-29T23:59:59.999999Z", 27, &t) == 27);
    CHECK(rm_fmt_utc(out, t) == 27 && strcmp(out, "2000-02-29T23:59:59.999999Z") == 0);
    CHECK(rm_parse_utc("2026-13-01T00:00:00Z", 20, &t) == 0);
    CHECK(rm_parse_utc("2026-11-2", 9, &t) == 0);
}

int main(void)
{
    test_basic();
    test_noise();
    test_tolerance();
    test_forgery();
    test_legacy();
    test_limits();
    test_roundtrip();
    test_reader();
    test_time();
    return check_done("test_parse");
}
