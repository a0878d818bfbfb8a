/* SPDX-License-Identifier: MIT */
/* crash.c: last-gasp records and dumps on fatal, termination and dump signals:
 * the parts both platforms share (crash_posix.c, crash_win32.c install them). */
#include "ext.h"
#include "crash.h"

#include <errno.h>
#include <string.h>
#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

/* Crash output: a dup of the marker fd taken at install time, so a later
 * set_output_fd() cannot close it under faulthandler, which keeps it too. */
static int crash_fd = -1;

/* Native threads above which emit() writes event what=threads; 0: off. */
volatile uint64_t rm_crash_thread_threshold;
static int threads_fired;

const char *rm_signal_name(int signo)
{
    /* Async-signal-safe: a table lookup. */
    switch (signo) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGFPE:
        return "SIGFPE";
    case SIGILL:
        return "SIGILL";
    case SIGABRT:
        return "SIGABRT";
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
#ifndef _WIN32
    case SIGBUS:
        return "SIGBUS";
    case SIGUSR1:
        return "SIGUSR1";
    case SIGHUP:
        return "SIGHUP";
    case SIGQUIT:
        return "SIGQUIT";
#endif
    default:
        return "SIG?";
    }
}

int rm_crash_fd(void)
{
    if (crash_fd >= 0)
        return crash_fd;
    return rm_g.out_fd >= 0 ? rm_g.out_fd : 2;
}

/* The crash fd, opened once. Not signal context. */
int rm_crash_open_fd(void)
{
    int src = rm_g.out_fd >= 0 ? rm_g.out_fd : 2;
    if (crash_fd >= 0)
        return 0;
#ifdef _WIN32
    crash_fd = _dup(src);
#else
    crash_fd = fcntl(src, F_DUPFD_CLOEXEC, 3);
#endif
    if (crash_fd < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, "dup");
        return -1;
    }
    return 0;
}

/* Returns the native thread count of the sample, 0 when unknown. */
uint64_t rm_crash_write_gasp(rm_dump_buf *b, int signo)
{
    /* Async-signal-safe: the probe (pread, getrusage), clocks, write(2). */
    rm_sample s;
    if (rm_sample_self(&s, RM_READ_MARK) != 0)
        s.valid = 0;
    rm_line_begin(&b->line, "gasp");
    rm_line_identity(&b->line);
    rm_line_cstr(&b->line, "signal", rm_signal_name(signo));
    rm_line_u64(&b->line, "signo", (uint64_t)signo);
    rm_line_sample(&b->line, &s);
    rm_line_end(&b->line);
    rm_dump_write_line(rm_crash_fd(), &b->line, 1);
    return (s.valid & RM_HAVE_THREADS) ? s.threads : 0;
}

/* faulthandler.dump_traceback(file=fd, all_threads=True), GIL held. */
static int dump_python_with_gil(int fd)
{
    PyObject *py_mod = NULL, *py_res = NULL; /* owned */
    int rc = -1;
    if (!(py_mod = PyImport_ImportModule("faulthandler")))
        goto error;
    py_res = PyObject_CallMethod(py_mod, "dump_traceback", "ii", fd, 1);
    if (!py_res)
        goto error;
    rc = 0;
error:
    Py_XDECREF(py_res);
    Py_XDECREF(py_mod);
    return rc;
}

/* Thread-threshold dumps run with the GIL held: one at a time. */
static rm_dump_buf threads_buf;

void rm_crash_check_threads(const rm_sample *s)
{
    uint64_t limit = rm_crash_thread_threshold;
    int fd;
    if (!limit || !(s->valid & RM_HAVE_THREADS) || s->threads <= limit)
        return;
    if (threads_fired) /* the GIL makes test-and-set safe here */
        return;
    threads_fired = 1;
    fd = rm_crash_fd();
    rm_line_begin(&threads_buf.line, "event");
    rm_line_cstr(&threads_buf.line, "what", "threads");
    rm_line_identity(&threads_buf.line);
    rm_line_u64(&threads_buf.line, "threshold", limit);
    rm_line_sample(&threads_buf.line, s);
    rm_line_end(&threads_buf.line);
    rm_dump_write_line(fd, &threads_buf.line, 1);

    rm_dump_record(fd, &threads_buf, "begin", "threads", 0, rm_python_thread_count(), 1);
    if (rm_dump_python() != 0 && dump_python_with_gil(fd) != 0)
        PyErr_Clear(); /* never break the caller's emit() */
    rm_dump_native(fd, &threads_buf);
    rm_dump_record(fd, &threads_buf, "end", "threads", 0, -1, 1);
}

/* Adds what both platforms report to _crash_state()'s dict: the thread
 * threshold, the crash fd and whether Python stacks can be dumped. */
int rm_crash_state_common(PyObject *py_res, int python_stacks)
{
    PyObject *py_v; /* owned */
    int rc;
    py_v = Py_BuildValue("{s:K,s:i,s:O}", "thread_threshold",
                         (unsigned long long)rm_crash_thread_threshold, "crash_fd", rm_crash_fd(),
                         "python_stacks", python_stacks ? Py_True : Py_False);
    if (!py_v)
        return -1;
    rc = PyDict_Update(py_res, py_v);
    Py_DECREF(py_v);
    return rc;
}
