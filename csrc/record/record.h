/* SPDX-License-Identifier: MIT */
/* record.h: the one-line record format of resmon (docs/format.md): writer. */
#ifndef RM_RECORD_H
#define RM_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../probe/probe.h"

/* Version written in every record's tag: "[resmon/1]". */
#define RM_FORMAT_VERSION 1
#define RM_TAG "[resmon/"

/* A record is at most this many bytes including its newline, so one write(2)
 * to a pipe is atomic (PIPE_BUF is 4096 on Linux) and concurrent writers
 * never tear each other's lines. */
#ifndef RM_LINE_MAX
#define RM_LINE_MAX 4096
#endif

/* Longest escaped string value. A longer value is cut, ends in "...", and
 * the record carries trunc=1. Keeps one huge test id from crowding out the
 * numbers that matter. */
#ifndef RM_VALUE_MAX
#define RM_VALUE_MAX 1024
#endif

/* A record being built, on the caller's stack or in static storage.
 * Every rm_line_* function is async-signal-safe: no malloc, no stdio, no
 * locks, no locale; output is bounded by RM_LINE_MAX. A finished record
 * (buf, len) is at most RM_LINE_MAX - 5 bytes, so with the newline that
 * rm_line_write_log puts before it, it still fits one atomic write(2). */
typedef struct rm_line {
    size_t len;
    int truncated; /* a value was cut or a field dropped for lack of room */
    char lead;     /* '\n', right before buf: see rm_line_write_log */
    char buf[RM_LINE_MAX];
} rm_line;

/* Starts "[resmon/1] <kind>". kind is a short lowercase word: at most 32
 * bytes are kept and any byte outside [a-z_] is written as '_', so a kind
 * can never add a field or a line. */
void rm_line_begin(rm_line *l, const char *kind);

/* key=<decimal>. */
void rm_line_u64(rm_line *l, const char *key, uint64_t v);
void rm_line_i64(rm_line *l, const char *key, int64_t v);

/* key=<size in bytes>, or key=none when v is RM_NO_LIMIT. */
void rm_line_size(rm_line *l, const char *key, uint64_t v);

/* key=<sec>.<usec> for a duration or monotonic time in microseconds. */
void rm_line_usec(rm_line *l, const char *key, uint64_t usec);

/* key=YYYY-MM-DDTHH:MM:SS.uuuuuuZ from a CLOCK_REALTIME value. */
void rm_line_utc(rm_line *l, const char *key, int64_t sec, long usec);

/* key=<value>: written bare when every byte is in [A-Za-z0-9_.:/@+,-], as
 * "..." with escapes otherwise (\\ \" \n \r \t \xHH). Any bytes are safe,
 * NUL included: a value can never forge a field or a line. */
void rm_line_str(rm_line *l, const char *key, const char *s, size_t n);
void rm_line_cstr(rm_line *l, const char *key, const char *s);

/* Writes the fields of a sample that are valid, with the standard keys. */
void rm_line_sample(rm_line *l, const rm_sample *s);

/* Ends the record: adds trunc=1 if needed, then " ;\n". Returns the length. */
size_t rm_line_end(rm_line *l);

/* Writes a finished record to a stream others write to as well: the job
 * log (a terminal or a pipe that pytest's own output shares). The record
 * goes out as "\n" + record in one write(2), so it starts a line whatever
 * was left on the current one (pytest writes "tests/t.py::test_a " or
 * progress dots without a newline); the parser takes a record only at the
 * start of a line. The cost is an empty line when the stream was already
 * at a line start: a writer cannot know what others wrote. Record files,
 * which only resmon writes, get the record alone (rm_write_all of buf).
 * Returns 0, or -1 with errno set. Async-signal-safe: write(2) only. */
int rm_line_write_log(int fd, rm_line *l);

/* write(2) of all n bytes, retrying on EINTR and short writes.
 * Returns 0, or -1 with errno set. Async-signal-safe. */
int rm_write_all(int fd, const char *buf, size_t n);
/* The same; *done gets the bytes written, also when it fails (a full disk
 * takes the head of a record). Async-signal-safe. */
int rm_write_counted(int fd, const char *buf, size_t n, size_t *done);

/* Formats a CLOCK_REALTIME time in microseconds as
 * YYYY-MM-DDTHH:MM:SS.uuuuuuZ into out (at least 28 bytes, NUL-terminated);
 * returns the length (27). Years outside 0..9999 print as 0000.
 * Async-signal-safe. */
size_t rm_fmt_utc(char *out, int64_t usec);

/* Formats v in decimal into out (at least 21 bytes); returns the length.
 * Async-signal-safe. */
size_t rm_fmt_u64(char *out, uint64_t v);

#endif
