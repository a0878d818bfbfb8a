/* SPDX-License-Identifier: MIT */
/* ext.h: state shared by the parts of the _resmon extension. */
#ifndef RM_EXT_H
#define RM_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>

#include "../probe/probe.h"
#include "../record/record.h"

/* Longest test id kept for signal handlers; longer ids are cut (the record
 * writer would cut them at RM_VALUE_MAX anyway). */
#define RM_CTX_TEST_MAX 1024
#define RM_CTX_PHASE_MAX 32
/* host, worker and run identity strings */
#define RM_IDENT_MAX 128

/* The current test and phase, readable from a signal handler without locks:
 * two slots, the writer fills the one not current and then flips ctx_cur;
 * each slot's generation is odd while it is being written, so a reader that
 * raced with a writer can tell and retry. */
typedef struct rm_ctx_slot {
    volatile unsigned gen;
    unsigned test_len;
    char test[RM_CTX_TEST_MAX];
    char phase[RM_CTX_PHASE_MAX];
} rm_ctx_slot;

/* What a marker samples: everything a reader of the job log needs, without
 * the costlier anon/file/shmem/swap split of /proc/self/status. */
#define RM_READ_MARK (RM_READ_PROC | RM_READ_THREADS | RM_READ_SYSTEM | RM_READ_CGROUP)

/* Where records go. */
enum { RM_TO_OUT = 1, RM_TO_RECORDS = 2 };

typedef struct rm_state {
    rm_probe probe; /* the calling process; reopened in a forked child */
    int probe_ok;
    int out_fd;    /* markers: a dup of the original stderr, or -1 */
    int rec_fd;    /* record file opened O_APPEND, or -1 */
    int out_owned; /* out_fd / rec_fd were dup'ed for us: close on change */
    int rec_owned;
    char host[RM_IDENT_MAX];
    char worker[RM_IDENT_MAX];
    char run[RM_IDENT_MAX];
    rm_ctx_slot ctx[2];
    volatile sig_atomic_t ctx_cur;
    /* last write failure, for the Python layer's one warning */
    volatile sig_atomic_t write_errno;
    volatile sig_atomic_t write_target;
} rm_state;

extern rm_state rm_g;

/* Copies the current test id and phase into the caller's buffers
 * (NUL-terminated). Async-signal-safe: reads memory, retries a bounded
 * number of times. */
void rm_ctx_read(char test[RM_CTX_TEST_MAX], char phase[RM_CTX_PHASE_MAX]);
void rm_ctx_from_env(void);

/* Adds ts, mono, host, pid, worker, run, test and phase to a record.
 * Async-signal-safe: clock_gettime(2), getpid(2), memory. */
void rm_line_identity(rm_line *l);

/* Writes a finished record to the targets in `to` (RM_TO_*) and notes any
 * failure in rm_g.write_errno. Async-signal-safe: write(2) only. */
void rm_emit_line(rm_line *l, int to);

/* Fills a sample of the calling process. Async-signal-safe. */
int rm_sample_self(rm_sample *s, unsigned what);

/* Python-facing pieces, each defined in its own file. */
int rm_sample_type_init(PyObject *module);
PyObject *rm_sample_to_py(const rm_sample *s, double mono, long pythreads);
long rm_python_thread_count(void);
double rm_monotonic(void);

PyObject *rm_py_sample(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *rm_py_reset_peak(PyObject *self, PyObject *unused);
PyObject *rm_py_emit(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *rm_py_configure(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *rm_py_set_context(PyObject *self, PyObject *args);
PyObject *rm_py_get_context(PyObject *self, PyObject *unused);
PyObject *rm_py_write_error(PyObject *self, PyObject *unused);
PyObject *rm_py_probe_info(PyObject *self, PyObject *unused);
PyObject *rm_py_probe_at(PyObject *self, PyObject *args);

/* ---- crash boundaries: crash.c (+ crash_posix.c / crash_win32.c), dump.c, watchdog.c
 * (docs/crash.md) ---- */

/* Tasks listed by a native thread dump; the rest are counted as "... N
 * more". 4096 lines keep a dump of a runaway process readable. */
#define RM_DUMP_MAX_TASKS 4096
/* Directory entries scanned in /proc/self/task: bounds the loop even if the
 * directory keeps changing under us. */
#define RM_DUMP_MAX_SCAN (RM_DUMP_MAX_TASKS * 16)

/* Scratch space for one dump, prepared before any handler can run: a
 * signal handler touches only this and its own stack. */
typedef struct rm_dump_buf {
    rm_line line;
    size_t text_len;
    char text[4096];  /* inventory lines, flushed when nearly full */
    char dents[8192]; /* getdents64 */
    char stat[2048];  /* one /proc/self/task/<tid>/stat */
} rm_dump_buf;

/* "SIGSEGV" for 11, "SIG?" for unknown numbers. Async-signal-safe. */
const char *rm_signal_name(int signo);

/* Where crash output goes: the crash handlers' own dup of the marker fd,
 * else the marker fd, else 2. */
int rm_crash_fd(void);

/* Called by emit() with the GIL held on every sample with a thread count:
 * writes event what=threads and a dump when the count first passes the
 * threshold set by install_crash_handlers. */
void rm_crash_check_threads(const rm_sample *s);

/* Registers faulthandler for the watchdog's Python stacks when no crash
 * handler did (GIL held). Returns 0, or -1 with a Python error set. */
int rm_crash_ensure_engine(void);

void rm_dump_init(void);
void rm_dump_set_engine(void (*engine)(int), int signum);
int rm_dump_have_engine(void);
int rm_dump_engine_signo(void);
/* All Python stacks through faulthandler's handler; -1 if none registered.
 * Async-signal-safe as faulthandler is. */
int rm_dump_python(void);
/* Async-signal-safe writers: one record line to fd (and the record file);
 * a dump record; the native inventory; begin + Python + native + end. */
void rm_dump_write_line(int fd, rm_line *l, int also_records);
void rm_dump_record(int fd, rm_dump_buf *b, const char *at, const char *reason, int signo,
                    long pythreads, int also_records);
int rm_dump_native(int fd, rm_dump_buf *b);
void rm_dump_full(int fd, rm_dump_buf *b, const char *reason, int signo);

PyObject *rm_py_dump_record(PyObject *self, PyObject *args);
PyObject *rm_py_dump_native(PyObject *self, PyObject *args);
PyObject *rm_py_crash_install(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *rm_py_crash_uninstall(PyObject *self, PyObject *unused);
PyObject *rm_py_crash_state(PyObject *self, PyObject *unused);
PyObject *rm_py_dump_after(PyObject *self, PyObject *arg);

int rm_state_init(void);

#endif
