/* SPDX-License-Identifier: MIT */
/* crash_win32.c: crash handlers with the CRT's signal() and console events. */
#include "crash.h"

#include <errno.h>
#include <io.h>
#include <string.h>
#include <windows.h>

/* The CRT delivers SIGSEGV, SIGILL, SIGFPE and SIGABRT to signal() handlers
 * (SIGSEGV from its exception filter, on the faulting thread); SIGINT and
 * SIGTERM only when raised in-process or by Ctrl-C. Closing the console,
 * logoff and shutdown arrive as console control events on a new thread.
 * faulthandler.register() does not exist on Windows: no Python stacks on
 * termination; fatal signals still chain to faulthandler's handler. */

typedef void(__cdecl *crt_handler)(int);

typedef struct win_slot {
    int signo;
    int fatal;
    int installed;
    crt_handler prev;
} win_slot;

static win_slot wslots[] = {
    {SIGSEGV, 1, 0, NULL}, {SIGILL, 1, 0, NULL},  {SIGFPE, 1, 0, NULL},
    {SIGABRT, 1, 0, NULL}, {SIGTERM, 0, 0, NULL}, {SIGINT, 0, 0, NULL},
};
#define NWSLOTS (sizeof(wslots) / sizeof(wslots[0]))

static rm_dump_buf fatal_buf, term_buf;
static volatile LONG fatal_busy, term_busy;
static int console_installed;

static void __cdecl on_crt_signal(int signo)
{
    /* Async-signal-safe as far as the CRT allows: the probe and _write. */
    size_t i;
    win_slot *sl = NULL;
    for (i = 0; i < NWSLOTS; i++)
        if (wslots[i].signo == signo)
            sl = &wslots[i];
    if (!sl)
        return;
    if (sl->fatal ? !InterlockedExchange(&fatal_busy, 1) : !InterlockedExchange(&term_busy, 1)) {
        rm_dump_buf *b = sl->fatal ? &fatal_buf : &term_buf;
        rm_crash_write_gasp(b, signo);
        rm_dump_native(rm_crash_fd(), b);
        if (!sl->fatal)
            InterlockedExchange(&term_busy, 0);
    }
    /* the CRT reset the disposition to SIG_DFL before calling us */
    if (sl->prev != SIG_DFL && sl->prev != SIG_IGN && sl->prev != NULL && sl->prev != SIG_ERR) {
        if (!sl->fatal)
            signal(signo, on_crt_signal); /* e.g. Python's SIGINT handler: stay */
        sl->prev(signo);
        return;
    }
    if (signo == SIGSEGV || signo == SIGILL || signo == SIGFPE)
        return; /* the faulting instruction runs again and kills the process */
    signal(signo, SIG_DFL);
    raise(signo);
}

static BOOL WINAPI on_console(DWORD event)
{
    /* Runs on a thread the system creates: may write, must return fast. */
    const char *name = event == CTRL_CLOSE_EVENT      ? "CTRL_CLOSE"
                       : event == CTRL_LOGOFF_EVENT   ? "CTRL_LOGOFF"
                       : event == CTRL_SHUTDOWN_EVENT ? "CTRL_SHUTDOWN"
                       : event == CTRL_BREAK_EVENT    ? "CTRL_BREAK"
                                                      : NULL;
    if (name && !InterlockedExchange(&term_busy, 1)) {
        rm_sample s;
        if (rm_sample_self(&s, RM_READ_MARK) != 0)
            s.valid = 0;
        rm_line_begin(&term_buf.line, "gasp");
        rm_line_identity(&term_buf.line);
        rm_line_cstr(&term_buf.line, "signal", name);
        rm_line_u64(&term_buf.line, "signo", 0);
        rm_line_sample(&term_buf.line, &s);
        rm_line_end(&term_buf.line);
        rm_dump_write_line(rm_crash_fd(), &term_buf.line, 1);
        InterlockedExchange(&term_busy, 0);
    }
    return FALSE; /* let the next handler (and the default) act */
}

int rm_crash_ensure_engine(void)
{
    return 0; /* no faulthandler.register() on Windows */
}

PyObject *rm_py_crash_install(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"fatal", "terminate", "usr1", "thread_threshold", NULL};
    int fatal = 1, terminate = 1, usr1 = 1;
    unsigned long long threshold = 256;
    size_t i;
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$pppK", kwlist, &fatal, &terminate, &usr1,
                                     &threshold))
        return NULL;
    rm_dump_init();
    if (rm_crash_open_fd() != 0)
        return NULL;
    for (i = 0; i < NWSLOTS; i++) {
        win_slot *sl = &wslots[i];
        crt_handler prev;
        if (sl->installed || !(sl->fatal ? fatal : terminate))
            continue;
        prev = signal(sl->signo, on_crt_signal);
        if (prev == SIG_ERR)
            return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "signal");
        if (prev == SIG_IGN) {
            signal(sl->signo, SIG_IGN);
            continue;
        }
        sl->prev = prev;
        sl->installed = 1;
    }
    if (terminate && !console_installed && SetConsoleCtrlHandler(on_console, TRUE))
        console_installed = 1;
    rm_crash_thread_threshold = threshold;
    Py_RETURN_NONE;
}

PyObject *rm_py_crash_uninstall(PyObject *self, PyObject *unused)
{
    size_t i;
    (void)self;
    (void)unused;
    rm_crash_thread_threshold = 0;
    for (i = 0; i < NWSLOTS; i++) {
        win_slot *sl = &wslots[i];
        crt_handler cur;
        if (!sl->installed)
            continue;
        sl->installed = 0;
        cur = signal(sl->signo, sl->prev);
        if (cur != on_crt_signal)
            signal(sl->signo, cur); /* someone replaced us: leave theirs */
    }
    if (console_installed) {
        SetConsoleCtrlHandler(on_console, FALSE);
        console_installed = 0;
    }
    Py_RETURN_NONE;
}

PyObject *rm_py_crash_state(PyObject *self, PyObject *unused)
{
    PyObject *py_res = NULL, *py_v = NULL; /* owned */
    size_t i;
    (void)self;
    (void)unused;
    if (!(py_res = PyDict_New()))
        return NULL;
    for (i = 0; i < NWSLOTS; i++) {
        if (!(py_v = PyUnicode_FromString(wslots[i].installed ? "ours" : "off")) ||
            PyDict_SetItemString(py_res, rm_signal_name(wslots[i].signo), py_v) < 0)
            goto error;
        Py_CLEAR(py_v);
    }
    if (rm_crash_state_common(py_res, 0) < 0)
        goto error;
    return py_res;
error:
    Py_XDECREF(py_v);
    Py_XDECREF(py_res);
    return NULL;
}
