/* SPDX-License-Identifier: MIT */
/* test_write.c: unit tests of the record writer, including from a signal handler. */
#include "check.h"
#include "../../csrc/record/write.c"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *end_of(const rm_line *l)
{
    return l->buf + l->len;
}

static int ends_with(const rm_line *l, const char *s)
{
    size_t n = strlen(s);
    return l->len >= n && memcmp(end_of(l) - n, s, n) == 0;
}

static int contains(const rm_line *l, const char *s)
{
    return memmem(l->buf, l->len, s, strlen(s)) != NULL;
}

static void test_numbers(void)
{
    rm_line l;
    char buf[32];
    CHECK(rm_fmt_u64(buf, 0) == 1 && strcmp(buf, "0") == 0);
    CHECK(rm_fmt_u64(buf, UINT64_MAX) == 20 && strcmp(buf, "18446744073709551615") == 0);
    rm_line_begin(&l, "mark");
    rm_line_u64(&l, "a", 1234567890123ull);
    rm_line_i64(&l, "b", INT64_MIN);
    rm_line_i64(&l, "c", -5);
    rm_line_size(&l, "cg_lim", RM_NO_LIMIT);
    rm_line_usec(&l, "mono", 12000034ull);
    rm_line_end(&l);
    CHECK(strncmp(l.buf, "[resmon/1] mark ", 16) == 0);
    CHECK(contains(&l, " a=1234567890123 "));
    CHECK(contains(&l, " b=-9223372036854775808 "));
    CHECK(contains(&l, " c=-5 "));
    CHECK(contains(&l, " cg_lim=none "));
    CHECK(contains(&l, " mono=12.000034 "));
    CHECK(ends_with(&l, " ;\n"));
    CHECK(!contains(&l, "trunc"));
}

static void test_utc(void)
{
    /* Checked against gmtime_r over a wide range of instants. */
    static const int64_t secs[] = {0,          951782400 /* 2000-02-29 */,
                                   1798370671, 4102444799,
                                   -86400,     253402300799 /* 9999-12-31 */};
    size_t i;
    for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
        rm_line l;
        struct tm tm;
        time_t t = (time_t)secs[i];
        char want[64];
        gmtime_r(&t, &tm);
        snprintf(want, sizeof(want), " ts=%04d-%02d-%02dT%02d:%02d:%02d.000042Z ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        rm_line_begin(&l, "x");
        rm_line_utc(&l, "ts", secs[i], 42);
        rm_line_end(&l);
        if (!contains(&l, want))
            fprintf(stderr, "want %s got %.*s", want, (int)l.len, l.buf);
        CHECK(contains(&l, want));
    }
    for (int64_t t = 0; t < 4102444800; t += 86400 * 7 + 3601) {
        rm_line l;
        struct tm tm;
        time_t tt = (time_t)t;
        char want[64];
        gmtime_r(&tt, &tm);
        snprintf(want, sizeof(want), "ts=%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        rm_line_begin(&l, "x");
        rm_line_utc(&l, "ts", t, 0);
        if (!contains(&l, want)) {
            CHECK(contains(&l, want));
            break;
        }
    }
}

static void test_escaping(void)
{
    rm_line l;
    char all[256];
    size_t i;
    for (i = 0; i < 256; i++)
        all[i] = (char)i;
    rm_line_begin(&l, "mark");
    rm_line_cstr(&l, "bare", "tests/a.py::T::test_x[1-2]");
    rm_line_str(&l, "all", all, sizeof(all));
    rm_line_cstr(&l, "fake", "x\n[resmon/1] mark rss=1 ;\n");
    rm_line_cstr(&l, "empty", "");
    rm_line_end(&l);
    CHECK(contains(&l, " bare=tests/a.py::T::test_x[1-2] ") == 0); /* [ ] need quotes */
    CHECK(contains(&l, " bare=\"tests/a.py::T::test_x[1-2]\" "));
    CHECK(contains(&l, "\\x00\\x01"));
    CHECK(contains(&l, "\\t\\n\\x0b\\x0c\\r"));
    CHECK(contains(&l, " !\\\"#"));
    CHECK(contains(&l, "[\\\\]"));
    CHECK(contains(&l, "\\x7f\\x80"));
    CHECK(contains(&l, "\\xff\""));
    CHECK(contains(&l, " fake=\"x\\n[resmon/1] mark rss=1 ;\\n\" "));
    CHECK(contains(&l, " empty=\"\" "));
    /* one line, ASCII only */
    for (i = 0; i + 1 < l.len; i++) {
        unsigned char c = (unsigned char)l.buf[i];
        CHECK(c >= 0x20 && c < 0x7f);
        if (!(c >= 0x20 && c < 0x7f))
            break;
    }
    CHECK(l.buf[l.len - 1] == '\n');
}

static void test_truncation(void)
{
    rm_line l;
    static char big[100000];
    int i;
    memset(big, 'a', sizeof(big));
    big[500] = ' ';
    rm_line_begin(&l, "mark");
    rm_line_str(&l, "label", big, sizeof(big));
    rm_line_u64(&l, "rss", 42);
    rm_line_end(&l);
    CHECK(l.len <= RM_LINE_MAX);
    CHECK(contains(&l, "...\" rss=42 trunc=1 ;\n"));

    /* fill the line: fields are dropped whole, the end always fits */
    rm_line_begin(&l, "mark");
    for (i = 0; i < 2000; i++)
        rm_line_u64(&l, "field", 123456789);
    rm_line_end(&l);
    CHECK(l.len <= RM_LINE_MAX);
    CHECK(ends_with(&l, " field=123456789 trunc=1 ;\n"));

    /* many long quoted values */
    rm_line_begin(&l, "mark");
    for (i = 0; i < 20; i++)
        rm_line_str(&l, "v", big, 3000);
    rm_line_end(&l);
    CHECK(l.len <= RM_LINE_MAX);
    CHECK(ends_with(&l, "\" trunc=1 ;\n"));
}

/* The writer from a real signal handler: SIGALRM fires every 100 us while
 * the main loop writes records too; every line in the pipe must be whole. */
static int pipe_fds[2];
static volatile sig_atomic_t handled;

static void on_alarm(int sig)
{
    /* async-signal-safe: rm_line_* and write(2) only */
    rm_line l;
    int saved = errno;
    (void)sig;
    rm_line_begin(&l, "gasp");
    rm_line_cstr(&l, "from", "handler with \"quotes\"");
    rm_line_u64(&l, "n", (uint64_t)handled);
    rm_line_end(&l);
    rm_write_all(pipe_fds[1], l.buf, l.len);
    handled++;
    errno = saved;
}

static void test_signal_handler(void)
{
    struct sigaction sa;
    struct itimerval it = {{0, 100}, {0, 100}};
    pid_t pid;
    int i;

    CHECK(pipe(pipe_fds) == 0);
    pid = fork();
    if (pid == 0) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        close(pipe_fds[0]);
        setitimer(ITIMER_REAL, &it, NULL);
        for (i = 0; i < 20000 || handled < 50; i++) {
            rm_line l;
            rm_line_begin(&l, "mark");
            rm_line_cstr(&l, "from", "main");
            rm_line_u64(&l, "i", (uint64_t)i);
            rm_line_end(&l);
            rm_write_all(pipe_fds[1], l.buf, l.len);
        }
        _exit(0);
    }
    close(pipe_fds[1]);
    {
        static char data[1 << 22];
        size_t have = 0, lines = 0, gasps = 0, bad = 0;
        ssize_t n;
        char *p, *nl;
        while ((n = read(pipe_fds[0], data + have, sizeof(data) - have - 1)) > 0) {
            have += (size_t)n;
            data[have] = '\0';
            for (p = data; (nl = memchr(p, '\n', have - (size_t)(p - data))); p = nl + 1) {
                lines++;
                if (strncmp(p, "[resmon/1] ", 11) != 0 || nl - p < 3 || memcmp(nl - 2, " ;", 2))
                    bad++;
                if (strncmp(p, "[resmon/1] gasp", 15) == 0)
                    gasps++;
            }
            have -= (size_t)(p - data);
            memmove(data, p, have);
        }
        close(pipe_fds[0]);
        waitpid(pid, NULL, 0);
        CHECK(bad == 0);
        CHECK(gasps >= 50);
        CHECK(lines >= 20000);
    }
}

int main(void)
{
    test_numbers();
    test_utc();
    test_escaping();
    test_truncation();
    test_signal_handler();
    return check_done("test_write");
}
