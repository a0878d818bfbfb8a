/* SPDX-License-Identifier: MIT */
/* test_parse.c: unit tests of the record parser, the line reader and the writer round trip. */
#include "../c/check.h"
#include "record/parse.h"
#include "record/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
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

static int val_is_in(const rm_rec *r, const char *key, const char *want)
{
    const rm_field *f = rm_rec_get(r, key);
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
    /* pytest's buffered "id[<forged record>] PASSED" split by a real record
       written between two of its writes: text follows the " ;" */
    CHECK(parse("[resmon/1] verdict exit=0 status=0 oom=0 ;] PASSED [ 20%]") == RM_PARSE_NONE);
    CHECK(parse("[resmon/1] verdict exit=0 ; PASSED") == RM_PARSE_NONE);
    CHECK(parse("[resmon/1] verdict exit=0 ;\r") == RM_PARSE_RECORD);
    CHECK(parse("[resmon/1] verdict exit=0 ;  \x1b[0m") == RM_PARSE_RECORD);
    CHECK(parse("[resmon/1] mark label=\"a ;] b\" ;") == RM_PARSE_RECORD);
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
    /* NUL bytes and invalid UTF-8 inside a record */
    {
        static const char r[] = "[resmon/1] mark a=\"\xff\x00z\" b=2 ;";
        memcpy(line, r, sizeof(r) - 1);
        n = sizeof(r) - 1;
    }
    CHECK(rm_parse_line(line, n, &rec) == RM_PARSE_RECORD);
    {
        const rm_field *f = rm_rec_get(&rec, "a");
        CHECK(f && f->val_len == 3 && memcmp(f->val, "\xff\x00z", 3) == 0);
    }
    CHECK(val_is("b", "2"));
    CHECK(!(rec.flags & RM_REC_INCOMPLETE));
    /* ... but before a record they are text: the tag is not at a line start */
    memcpy(line, "\xff\xfe\x00\xc3", 4);
    memcpy(line + 4, "[resmon/1] mark b=2 ;", 21);
    CHECK(rm_parse_line(line, 25, &rec) == RM_PARSE_NONE);
    line[0] = '\0';
    CHECK(rm_parse_line(line, 25, &rec) == RM_PARSE_NONE);
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

/* Where a record may start (docs/format.md): only at the start of a line,
 * after the timestamp, colour, CR and progress noise of CI logs. */
static void test_line_start(void)
{
    static const char *yes[] = {
        "[resmon/1] mark a=1 ;",
        "\r[resmon/1] mark a=1 ;",
        "2026-11-26T10:04:31.1234567Z [resmon/1] mark a=1 ;",
        /* progress dots of the test before, coloured, as pytest --color=yes prints them */
        "2026-11-26T10:04:31.1234567Z \x1b[32m.\x1b[0m\x1b[31mF\x1b[0m\x1b[33ms\x1b[0m"
        "[resmon/1] mark a=1 ;",
        "..FEsxX.[resmon/1] mark a=1 ;",
        /* the progress counter pytest writes after the last test of a file */
        "....                                      [ 50%][resmon/1] mark a=1 ;",
        "\x1b[32m.\x1b[0m\x1b[32m                    [100%]\x1b[0m[resmon/1] mark a=1 ;",
        "F [  5%][resmon/1] mark a=1 ;",
        "EE  [ 10%][resmon/1] mark a=1 ;",
        /* tput sgr0, an OSC hyperlink, a two-byte escape */
        "\x1b(B\x1b[m[resmon/1] mark a=1 ;",
        "\x1b]8;;https://x.invalid/\x07\x1b]8;;\x1b\\[resmon/1] mark a=1 ;",
        "\x1b"
        "7[resmon/1] mark a=1 ;",
        "[gw12] [resmon/1] mark a=1 ;",
        "2026-11-26T10:04:31.1234567Z ##[warning][resmon/1] mark a=1 ;",
        "\r\r\x1b[0m\r[resmon/1] mark a=1 ;",
    };
    static const char *no[] = {
        "y[resmon/1] mark a=1 ;",
        " [resmon/1] mark a=1 ;",
        "\t[resmon/1] mark a=1 ;",
        ". [resmon/1] mark a=1 ;", /* a space is not progress */
        "..  [ 50%] [resmon/1] mark a=1 ;",
        "[ 50%][resmon/1] mark a=1 ;", /* a counter needs progress letters before it */
        ". [50%][resmon/1] mark a=1 ;",
        ". [  %][resmon/1] mark a=1 ;",
        ". [5 0%][resmon/1] mark a=1 ;",
        ". [1 %][resmon/1] mark a=1 ;",
        /* pytest's exception lines: "E" and spaces, then text anyone controls */
        "E       [ 50%][resmon/1] verdict exit=0 ;",
        "E       [resmon/1] verdict exit=0 ;",
        "[gw0][resmon/1] mark a=1 ;",
        "[gw] [resmon/1] mark a=1 ;",
        "##[error] [resmon/1] mark a=1 ;",
        "##[][resmon/1] mark a=1 ;",
        "\x1b[31[resmon/1] mark a=1 ;", /* an unfinished escape */
        "\x1b]8;;x[resmon/1] mark a=1 ;",
        "\x1bP[resmon/1] mark a=1 ;",
        /* the writers of older versions: a record after pytest's open line */
        "tests/t.py::test_a [resmon/1] test phase=setup at=start ;",
        "tests/test_a.py ..[resmon/1] test phase=setup at=start ;",
        "INFO root: [resmon/1] mark a=1 ;",
        "x [x_resource_debug] l: rss_gb=1",
    };
    size_t i;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        int ok = parse(yes[i]) == RM_PARSE_RECORD && val_is("a", "1") &&
                 strcmp(rec.kind, "mark") == 0 && !(rec.flags & RM_REC_INCOMPLETE) &&
                 memcmp(yes[i] + rec.tag_off, "[resmon/1]", 10) == 0 && rec.tag_off >= rec.body_off;
        if (!ok)
            fprintf(stderr, "not a record: %zu\n", i);
        CHECK(ok);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        int ok = parse(no[i]) == RM_PARSE_NONE;
        if (!ok)
            fprintf(stderr, "a record: %zu\n", i);
        CHECK(ok);
    }
    /* legacy lines follow the same rule */
    CHECK(parse("2026-11-26T10:04:31.1234567Z \x1b[32m..\x1b[0m[x_resource_debug] l: rss_gb=1") ==
          RM_PARSE_LEGACY);
    CHECK(val_is("rss", "1073741824"));
}

/* Issue 10: pytest -v prints test ids raw, so a parametrize id holding a
 * tag put a forged verdict into the job log. */
static void test_forged_in_pytest_output(void)
{
    static const char *lines[] = {
        "tests/test_x.py::test_x[[resmon/1] verdict exit=0 status=0 oom=0 ;] PASSED [ 50%]",
        "2026-11-26T10:04:31.1234567Z tests/test_x.py::test_x[[resmon/1] verdict exit=0 ;] ",
        "2026-11-26T10:04:31.1234567Z \x1b[32mPASSED\x1b[0m tests/test_x.py::test_x[[resmon/1] "
        "verdict exit=0 ;]",
        "[gw0] [ 50%] PASSED tests/test_x.py::test_x[[resmon/1] verdict exit=0 ;] ",
        "FAILED tests/test_x.py::test_x[[resmon/1] gasp signal=SIGKILL signo=9 ;] - assert 0",
        "_____ test_x[[resmon/1] verdict exit=0 ;] _____",
        "tests/test_x.py::test_x[[op_resource_debug] l: rss_gb=99] PASSED [100%]",
    };
    size_t i;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        CHECK(parse(lines[i]) == RM_PARSE_NONE);
}

/* The writer's job-log copy starts a line of its own, so the plugin's real
 * record after pytest's open "tests/t.py::test_x[...] " is still read,
 * and the forged one in the test id is not. */
static void test_writer_starts_a_line(void)
{
    static rm_line l;
    static rm_reader r;
    static const char id[] = "tests/t.py::test_x[[resmon/1] verdict exit=0 ;] ";
    const char *line;
    size_t len;
    unsigned flags;
    int fds[2], got = 0, records = 0;
    CHECK(pipe(fds) == 0);
    /* pytest -v: the test id, no newline; then our marker; then pytest again */
    CHECK(write(fds[1], id, sizeof(id) - 1) == (ssize_t)(sizeof(id) - 1));
    rm_line_begin(&l, "test");
    rm_line_cstr(&l, "at", "start");
    rm_line_end(&l);
    CHECK(rm_line_write_log(fds[1], &l) == 0);
    CHECK(write(fds[1], "PASSED [ 50%]\n", 14) == 14);
    close(fds[1]);
    CHECK(rm_reader_open_fd(&r, fds[0]) == 0);
    while (rm_reader_next(&r, &line, &len, &flags) == 1) {
        got++;
        if (rm_parse_line(line, len, &rec) != RM_PARSE_NONE) {
            records++;
            CHECK(strcmp(rec.kind, "test") == 0 && val_is("at", "start"));
        }
    }
    CHECK(got == 3 && records == 1);
    rm_reader_close(&r);
    close(fds[0]);
    /* the newline goes in the same write: at most RM_LINE_MAX bytes */
    rm_line_begin(&l, "mark");
    while (!l.truncated)
        rm_line_cstr(&l, "k", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    CHECK(rm_line_end(&l) + 1 <= RM_LINE_MAX);
    /* a hostile kind cannot add a field or a line */
    rm_line_begin(&l, "ver dict\n[resmon/1] gasp signal=9 ;");
    rm_line_end(&l);
    CHECK(memchr(l.buf, '\n', l.len - 1) == NULL);
    CHECK(rm_parse_line(l.buf, l.len - 1, &rec) == RM_PARSE_RECORD);
    CHECK(rec.n_fields == 0 && strlen(rec.kind) == 32);
    CHECK(strspn(rec.kind, "abcdefghijklmnopqrstuvwxyz_") == 32);
    rm_line_begin(&l, "");
    rm_line_end(&l);
    CHECK(l.len == 15 && memcmp(l.buf, "[resmon/1] _ ;\n", 15) == 0);
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
     * prefix scans), of ": " in a legacy label, of quotes and escapes in a
     * value, and of the noise allowed before a tag: ANSI codes (whole, and
     * one unfinished), CR, progress letters and counters, "[gwN] ". Linear:
     * well under 50 ms. Every line ends in a tag; after noise alone it is
     * a record (record = 1). */
    {
        static const struct {
            const char *head, *pat;
            int record;
        } pats[] = {
            {"", "[", 0},
            {"", "[resmon/", 0},
            {"", "[aaaaaaaaaaaaaaaaaaaaaa", 0},
            {"[x_resource_debug] ", ": ", 0},
            {"[resmon/1] m v=\"", "\"", 0},
            {"[resmon/1] m v=\"", "\\x", 0},
            {"", "\x1b[31m", 1},
            {"\x1b[", "0;", 0},
            {"\x1b]", "0;", 0},
            {"", "\r", 1},
            {"", ".", 1},
            {"", ".E [ 50%]", 1},
            {"", "[gw0] ", 1},
        };
        size_t k;
        for (k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
            size_t pl = strlen(pats[k].pat);
            n = (size_t)snprintf(big, sizeof(big), "%s", pats[k].head);
            while (n + pl < 1024 * 1024) {
                memcpy(big + n, pats[k].pat, pl);
                n += pl;
            }
            n += (size_t)snprintf(big + n, sizeof(big) - n, "[resmon/1] mark a=1 ;");
            c0 = clock();
            for (i = 0; i < 10; i++)
                rm_parse_line(big, n, &rec);
            secs = (double)(clock() - c0) / CLOCKS_PER_SEC / 10;
            if (secs > 0.05)
                fprintf(stderr, "pattern %zu: %.3f s per 1 MB line\n", k, secs);
            CHECK(secs < 0.05);
            if (pats[k].record) {
                CHECK(rec.type == RM_PARSE_RECORD && val_is("a", "1"));
                CHECK(rec.tag_off == n - 21);
            }
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

/* A temporary file in $TMPDIR (else /tmp); its path in path. */
static int tmp_file(char *path, size_t n)
{
    const char *dir = getenv("TMPDIR");
    int k = snprintf(path, n, "%s/rm_test_parse_XXXXXX", dir && *dir ? dir : "/tmp");
    if (k < 0 || (size_t)k >= n)
        return -1;
    return mkstemp(path);
}

#ifdef RM_HAVE_ZLIB
/* Reads a gzip file to its end; returns the lines and sets *rc. */
static size_t read_all(rm_reader *r, const char *path, uint64_t floor, uint64_t limit, int *rc)
{
    const char *line;
    size_t len, lines = 0;
    unsigned flags;
    *rc = -2;
    if (rm_reader_open(r, path) != 0)
        return 0;
    CHECK(r->gz && r->gz_floor == RM_READER_GZ_FLOOR && r->gz_limit == 0);
    if (floor)
        r->gz_floor = floor;
    r->gz_limit = limit;
    while ((*rc = rm_reader_next(r, &line, &len, &flags)) == 1)
        lines++;
    return lines;
}

/* A small file that inflates far past RM_READER_GZ_RATIO x its size: the
 * reader delivers the lines up to the cap, then stops with a note. */
static void test_gzip_bomb(const char *path)
{
    static rm_reader r;
    static char kib[1024];
    gzFile gz = gzopen(path, "wb9");
    size_t lines;
    int i, rc;
    CHECK(gz != NULL);
    memset(kib, 'a', sizeof(kib) - 1);
    kib[sizeof(kib) - 1] = '\n';
    for (i = 0; i < 16 * 1024; i++) /* 16 MiB of 1 KiB lines, ~20 KB compressed */
        CHECK(gzwrite(gz, kib, sizeof(kib)) == (int)sizeof(kib));
    gzclose(gz);
    /* a floor of 1 MiB, far above 64x ~1 KB of input: the floor is the cap */
    lines = read_all(&r, path, 1u << 20, 0, &rc);
    CHECK(rc == -1 && r.gz_capped && !r.gz_cut);
    CHECK(strstr(r.err, "gzip bomb") != NULL);
    CHECK(r.gz_out == 1u << 20 && lines == 1024);
    CHECK(r.bytes == lines * sizeof(kib));
    /* the cap holds: the next call stops again, without reading on */
    {
        const char *line;
        size_t len;
        unsigned flags;
        CHECK(rm_reader_next(&r, &line, &len, &flags) == -1);
    }
    rm_reader_close(&r);
    /* an absolute cap set by the caller wins over the floor */
    lines = read_all(&r, path, 1ull << 40, 4096, &rc);
    CHECK(rc == -1 && r.gz_capped && lines == 4 && r.gz_out == 4096);
    rm_reader_close(&r);
    /* no floor: the ratio alone stops it early */
    lines = read_all(&r, path, 1, 0, &rc);
    CHECK(rc == -1 && r.gz_capped && lines < 64);
    CHECK(r.gz_out <= RM_READER_GZ_RATIO * r.gz_in);
    rm_reader_close(&r);
    /* the default floor (1 GiB) lets the whole 16 MiB through */
    lines = read_all(&r, path, 0, 0, &rc);
    CHECK(rc == 0 && !r.gz_capped && lines == 16 * 1024 && r.gz_out == 16u << 20);
    rm_reader_close(&r);
}
#endif

static void test_reader(void)
{
    static rm_reader r;
    static char data[300 * 1024];
    char path[512];
    const char *line;
    size_t len, n = 0;
    unsigned flags;
    int fd = tmp_file(path, sizeof(path));
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
        CHECK(!r.gz_cut && !r.gz_capped);
        rm_reader_close(&r);
        /* text compresses well under RM_READER_GZ_RATIO: no cap even
         * without the floor */
        CHECK(rm_reader_open(&r, path) == 0);
        r.gz_floor = 1;
        total = 0;
        while (rm_reader_next(&r, &line, &len, &flags) == 1)
            total++;
        CHECK(total == 20001 && !r.gz_capped);
        rm_reader_close(&r);
        CHECK(truncate(path, 2000) == 0);
        CHECK(rm_reader_open(&r, path) == 0);
        total = 0;
        while (rm_reader_next(&r, &line, &len, &flags) == 1)
            total++;
        CHECK(total > 10 && total < 20000);
        CHECK(r.gz_cut);
        CHECK(!r.gz_capped);
        rm_reader_close(&r);
    }
    test_gzip_bomb(path);
#else
    write_file(path, "\x1f\x8b\x08\x00", 4);
    CHECK(rm_reader_open(&r, path) == -1 && strstr(r.err, "zlib") != NULL);
#endif
    unlink(path);
}

/* A pipe that delivers a few bytes at a time (a slow writer): the same
 * lines, cut where they must be; each byte is searched for '\n' once. */
static void test_reader_trickle(void)
{
    static rm_reader r;
    static char data[80 * 1024];
    const char *line;
    size_t len, n = 0, i;
    unsigned flags;
    int fds[2], status = 0;
    pid_t pid;
    n += (size_t)sprintf(data + n, "a\n\n");
    memset(data + n, 'L', 70000);
    n += 70000;
    n += (size_t)sprintf(data + n, "\ntail\nend");
    CHECK(pipe(fds) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        for (i = 0; i < n; i += 7) {
            if (write(fds[1], data + i, n - i < 7 ? n - i : 7) < 0)
                _exit(1);
            if (i % 4096 == 0)
                usleep(100);
        }
        _exit(0);
    }
    close(fds[1]);
    CHECK(rm_reader_open_fd(&r, fds[0]) == 0);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 1 && line[0] == 'a');
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 0);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == RM_READER_LINE_MAX &&
          flags == RM_READ_CUT && line[0] == 'L' && line[len - 1] == 'L');
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 4 && !flags &&
          memcmp(line, "tail", 4) == 0);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 1 && len == 3 && memcmp(line, "end", 3) == 0);
    CHECK(rm_reader_next(&r, &line, &len, &flags) == 0);
    CHECK(r.bytes == n && r.lineno == 5 && r.n_cut == 1);
    rm_reader_close(&r);
    close(fds[0]);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
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
    /* the minute of the previous call is reused: the seconds are still checked,
       and another minute, or a cut line with the same minute, is parsed anew */
    {
        int64_t a, b;
        CHECK(rm_parse_utc("2026-11-26T10:40:55.5Z", 22, &a) == 22);
        CHECK(rm_parse_utc("2026-11-26T10:40:56.5Z", 22, &b) == 22 && b - a == 1000000);
        CHECK(rm_parse_utc("2026-11-26T10:40:61Z", 20, &t) == 0);
        CHECK(rm_parse_utc("2026-11-26T10:40:5x", 19, &t) == 0);
        CHECK(rm_parse_utc("2026-11-26T10:40:", 17, &t) == 0);
        CHECK(rm_parse_utc("2026-11-26T10:41:55.5Z", 22, &b) == 22 && b - a == 60000000);
        CHECK(rm_parse_utc("1970-01-01T00:00:07Z", 20, &t) == 20 && t == 7000000);
        CHECK(rm_parse_utc("1970-01-01T00:00:08Z", 20, &t) == 20 && t == 8000000);
    }
}

/* Every byte, in a key and in a bare value: kept exactly when it is in the
 * key set [A-Za-z0-9_] or the bare set (printable ASCII but quote and
 * backslash); a quoted value keeps every byte but those two, with runs
 * copied at once around escapes. */
static void test_byte_classes(void)
{
    int c;
    for (c = 1; c < 256; c++) {
        char line[128];
        int key_ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        int bare_ok = c > 0x20 && c < 0x7f && c != '"' && c != '\\';
        char want[4] = {'a', (char)c, 'b', 0};
        if (c == '\n' || c == ' ' || c == '=') /* "k=y=1": key k, value y=1 */
            continue;
        snprintf(line, sizeof(line), "[resmon/1] mark k%cy=1 v=a%cb ;", c, c);
        CHECK(parse(line) == RM_PARSE_RECORD);
        CHECK((rec.n_fields == 2) == (key_ok && bare_ok));
        CHECK(val_is("v", want) == bare_ok);
        CHECK(rec.n_malformed == (unsigned)(!key_ok + !bare_ok));
        if (c == '"' || c == '\\')
            continue;
        snprintf(line, sizeof(line), "[resmon/1] mark v=\"x\\\\%cy\\x41%c\" ;", c, c);
        CHECK(parse(line) == RM_PARSE_RECORD);
        {
            char q[8] = {'x', '\\', (char)c, 'y', 'A', (char)c, 0};
            CHECK(val_is("v", q));
        }
    }
}

/* A record packed and unpacked reads as parsed: all fields, or the chosen
 * ones; a cut or foreign packing is refused, never read past its end. */
static void test_pack(void)
{
    static rm_rec back;
    static char buf[RM_PARSE_VALUES_MAX * 2];
    static const char *const keep[] = {"rss", "test", "nosuch"};
    rm_keyset ks;
    size_t n, cut;
    unsigned i;
    CHECK(parse("2026-11-26T10:04:31.1234567Z [resmon/1] test ts=2026-11-26T10:04:31.123456Z "
                "pid=7 test=\"t.py::a b\\x22\" rss=1048576 note=\"\" ;") == RM_PARSE_RECORD);
    n = rm_rec_pack(&rec, NULL, buf, sizeof(buf));
    CHECK(n > 0);
    CHECK(rm_rec_unpack(buf, n, &back) == RM_PARSE_RECORD);
    CHECK(strcmp(back.kind, "test") == 0 && back.version == 1 && back.flags == rec.flags);
    CHECK(back.n_fields == rec.n_fields);
    for (i = 0; i < rec.n_fields; i++) {
        const rm_field *f = rm_rec_get(&back, rec.f[i].key);
        CHECK(f && f->val_len == rec.f[i].val_len &&
              memcmp(f->val, rec.f[i].val, f->val_len) == 0 && f->val[f->val_len] == '\0');
    }
    rm_keyset_init(&ks, keep, 3);
    n = rm_rec_pack(&rec, &ks, buf, sizeof(buf));
    CHECK(rm_rec_unpack(buf, n, &back) == RM_PARSE_RECORD);
    CHECK(back.n_fields == 2 && rm_rec_get(&back, "pid") == NULL);
    {
        const rm_field *f = rm_rec_get(&back, "test");
        CHECK(f && f->val_len == 10 && memcmp(f->val, "t.py::a b\"", 10) == 0);
    }
    CHECK(rm_rec_pack(&rec, NULL, buf, 8) == 0); /* no room: nothing */
    n = rm_rec_pack(&rec, NULL, buf, sizeof(buf));
    for (cut = 0; cut < n; cut++) { /* every prefix: refused or fewer fields */
        int t = rm_rec_unpack(buf, cut, &back);
        CHECK(t == RM_PARSE_NONE || back.n_fields < rec.n_fields);
    }
    /* a legacy line keeps its prefix and label */
    CHECK(parse("[ci_resource_debug] after load: rss_gb=1.5 nodeid=t.py::x") == RM_PARSE_LEGACY);
    n = rm_rec_pack(&rec, NULL, buf, sizeof(buf));
    CHECK(rm_rec_unpack(buf, n, &back) == RM_PARSE_LEGACY);
    CHECK(strcmp(back.prefix, rec.prefix) == 0 && back.label_len == rec.label_len &&
          memcmp(back.label, rec.label, rec.label_len) == 0);
    CHECK(val_is_in(&back, "test", "t.py::x"));
}

int main(void)
{
    test_basic();
    test_pack();
    test_byte_classes();
    test_noise();
    test_tolerance();
    test_forgery();
    test_line_start();
    test_forged_in_pytest_output();
    test_writer_starts_a_line();
    test_legacy();
    test_limits();
    test_roundtrip();
    test_reader();
    test_reader_trickle();
    test_time();
    return check_done("test_parse");
}
