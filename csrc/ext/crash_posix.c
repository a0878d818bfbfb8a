/* SPDX-License-Identifier: MIT */
/* crash_posix.c: crash and dump signal handlers with sigaction (Linux, macOS). */
#include "crash.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

enum { KIND_FATAL = 1, KIND_TERM, KIND_USR1 };

typedef struct sig_slot {
    int signo;
    int kind;
    int installed;         /* our handler was put in place */
    int fh_registered;     /* faulthandler.register() was called for it */
    struct sigaction prev; /* what we chain to */
    struct sigaction fh;   /* faulthandler's user handler (TERM, USR1) */
    volatile int busy;     /* a handler is writing with buf */
    rm_dump_buf *buf;      /* prepared at install time */
} sig_slot;

/* One buffer per group (faults; SIGTERM; SIGINT; SIGUSR1), each with its
 * own busy flag: handlers running at the same time on different threads
 * never share memory. */
static rm_dump_buf fatal_buf, term_buf, int_buf, usr1_buf;

static sig_slot slots[] = {
    {.signo = SIGSEGV, .kind = KIND_FATAL, .buf = &fatal_buf},
    {.signo = SIGBUS, .kind = KIND_FATAL, .buf = &fatal_buf},
    {.signo = SIGFPE, .kind = KIND_FATAL, .buf = &fatal_buf},
    {.signo = SIGILL, .kind = KIND_FATAL, .buf = &fatal_buf},
    {.signo = SIGABRT, .kind = KIND_FATAL, .buf = &fatal_buf},
    {.signo = SIGTERM, .kind = KIND_TERM, .buf = &term_buf},
    {.signo = SIGINT, .kind = KIND_TERM, .buf = &int_buf},
    {.signo = SIGUSR1, .kind = KIND_USR1, .buf = &usr1_buf},
};
#define NSLOTS (sizeof(slots) / sizeof(slots[0]))

/* The busy flag shared by all fatal slots: two faulting threads, or a fault
 * inside our own writer, must not write with fatal_buf twice. */
static volatile int fatal_busy;
static int we_enabled_faulthandler;

/* faulthandler lists at most 100 threads, newest first (MAX_NTHREADS in
 * CPython's traceback.c), so with more alive the oldest thread -- usually
 * the main thread, where the test runs -- is cut. Past this count the
 * handlers print the current thread's stack first, through faulthandler
 * registered with all_threads=False on a spare signal (cur_sig) whose
 * disposition is left as it was: only faulthandler's table entry is used. */
#define RM_FH_MAX_THREADS 100
static void (*cur_engine)(int);
static int cur_sig;

static void current_thread_first(int fd, uint64_t threads)
{
    /* Async-signal-safe as faulthandler's handler is, plus write(2). */
    static const char head[] = "More than 100 threads: faulthandler's list below may miss the "
                               "current thread, so here it is first:\n";
    if (threads <= RM_FH_MAX_THREADS || !cur_engine)
        return;
    (void)rm_write_all(fd, head, sizeof(head) - 1);
    cur_engine(cur_sig);
}

static void on_signal(int signo, siginfo_t *info, void *ctx);

static sig_slot *slot_of(int signo)
{
    /* Async-signal-safe: a table scan. */
    size_t i;
    for (i = 0; i < NSLOTS; i++)
        if (slots[i].signo == signo)
            return &slots[i];
    return NULL;
}

static int is_function(const struct sigaction *sa)
{
    /* Async-signal-safe. */
    if (sa->sa_flags & SA_SIGINFO)
        return sa->sa_sigaction != NULL;
    return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN && sa->sa_handler != NULL;
}

static int is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_signal;
}

static void call_handler(const struct sigaction *sa, int signo, siginfo_t *info, void *ctx)
{
    /* Async-signal-safe: calls a handler that was installed for signo. */
    if (!is_function(sa))
        return;
    if (sa->sa_flags & SA_SIGINFO)
        sa->sa_sigaction(signo, info, ctx);
    else
        sa->sa_handler(signo);
}

/* Puts back disposition sa and delivers signo again to this thread: the
 * process ends as it would have without us (status 128+signo or -signo
 * when sa is SIG_DFL). Async-signal-safe: sigaction, sigprocmask, raise. */
static void reraise(int signo, const struct sigaction *sa)
{
    sigset_t set;
    (void)sigaction(signo, sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, signo);
    (void)sigprocmask(SIG_UNBLOCK, &set, NULL);
    (void)raise(signo);
}

static void on_fatal(sig_slot *sl, int signo, siginfo_t *info, void *ctx)
{
    /* Async-signal-safe: writes with fatal_buf (prepared at install time),
     * then faulthandler prints the Python stacks and re-raises. */
    struct sigaction dfl;
    if (!__atomic_exchange_n(&fatal_busy, 1, __ATOMIC_ACQ_REL)) {
        int fd = rm_crash_fd();
        uint64_t threads = rm_crash_write_gasp(sl->buf, signo);
        rm_dump_record(fd, sl->buf, "begin", "signal", signo, -1, 1);
        current_thread_first(fd, threads);
        rm_dump_native(fd, sl->buf);
        rm_dump_record(fd, sl->buf, "end", "signal", signo, -1, 1);
    }
    /* faulthandler's fatal handler restores its own previous handler
     * (SIG_DFL) and raises: with SA_NODEFER the process dies inside it. */
    call_handler(&sl->prev, signo, info, ctx);
    /* It returned (no faulthandler, or a handler that returns): die anyway. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    reraise(signo, &dfl);
}

static void on_term(sig_slot *sl, int signo, siginfo_t *info, void *ctx)
{
    /* Async-signal-safe: term_buf, faulthandler's user handler, write(2). */
    if (!__atomic_exchange_n(&sl->busy, 1, __ATOMIC_ACQ_REL)) {
        int fd = rm_crash_fd();
        uint64_t threads = rm_crash_write_gasp(sl->buf, signo);
        rm_dump_record(fd, sl->buf, "begin", "signal", signo, -1, 1);
        current_thread_first(fd, threads);
        if (sl->fh_registered)
            call_handler(&sl->fh, signo, info, ctx);
        rm_dump_native(fd, sl->buf);
        rm_dump_record(fd, sl->buf, "end", "signal", signo, -1, 1);
        __atomic_store_n(&sl->busy, 0, __ATOMIC_RELEASE);
    }
    if (is_function(&sl->prev)) {
        /* e.g. Python's SIGINT handler: it raises KeyboardInterrupt later */
        call_handler(&sl->prev, signo, info, ctx);
        return;
    }
    reraise(signo, &sl->prev); /* SIG_DFL: the process ends here */
}

static void on_usr1(sig_slot *sl, int signo, siginfo_t *info, void *ctx)
{
    /* Async-signal-safe: usr1_buf, faulthandler's user handler, write(2). */
    if (!__atomic_exchange_n(&sl->busy, 1, __ATOMIC_ACQ_REL)) {
        int fd = rm_crash_fd();
        rm_dump_record(fd, sl->buf, "begin", "signal", signo, -1, 1);
        if (sl->fh_registered)
            call_handler(&sl->fh, signo, info, ctx);
        rm_dump_native(fd, sl->buf);
        rm_dump_record(fd, sl->buf, "end", "signal", signo, -1, 1);
        __atomic_store_n(&sl->busy, 0, __ATOMIC_RELEASE);
    }
    call_handler(&sl->prev, signo, info, ctx); /* SIG_DFL is not called: continue */
}

static void on_signal(int signo, siginfo_t *info, void *ctx)
{
    /* Async-signal-safe: dispatches to the functions above; errno is
     * restored before returning. */
    int saved = errno;
    sig_slot *sl = slot_of(signo);
    if (sl) {
        if (sl->kind == KIND_FATAL)
            on_fatal(sl, signo, info, ctx);
        else if (sl->kind == KIND_TERM)
            on_term(sl, signo, info, ctx);
        else
            on_usr1(sl, signo, info, ctx);
    }
    errno = saved;
}

/* faulthandler.register(signo, file=<the crash fd>, all_threads=True,
 * chain=False), then sl->fh is its handler. GIL held. */
static int register_faulthandler(sig_slot *sl, PyObject *py_fh)
{
    PyObject *py_func = NULL, *py_args = NULL, *py_kw = NULL, *py_res = NULL; /* owned */
    int rc = -1;
    if (sl->fh_registered)
        return 0;
    if (!(py_func = PyObject_GetAttrString(py_fh, "register")))
        goto error;
    if (!(py_args = Py_BuildValue("(i)", sl->signo)))
        goto error;
    if (!(py_kw = Py_BuildValue("{s:i,s:O,s:O}", "file", rm_crash_fd(), "all_threads", Py_True,
                                "chain", Py_False)))
        goto error;
    if (!(py_res = PyObject_Call(py_func, py_args, py_kw)))
        goto error;
    if (sigaction(sl->signo, NULL, &sl->fh) != 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, "sigaction");
        goto error;
    }
    if (!is_function(&sl->fh) || is_ours(&sl->fh) || (sl->fh.sa_flags & SA_SIGINFO)) {
        PyErr_Format(PyExc_RuntimeError, "faulthandler.register(%d) did not install its handler",
                     sl->signo);
        goto error;
    }
    sl->fh_registered = 1;
    if (!rm_dump_have_engine())
        rm_dump_set_engine(sl->fh.sa_handler, sl->signo);
    rc = 0;
error:
    Py_XDECREF(py_res);
    Py_XDECREF(py_kw);
    Py_XDECREF(py_args);
    Py_XDECREF(py_func);
    return rc;
}

/* Saves the current disposition and puts on_signal on top. GIL held. */
static int install_slot(sig_slot *sl, PyObject *py_fh)
{
    struct sigaction cur, ours;
    if (sl->installed)
        return 0;
    if (sigaction(sl->signo, NULL, &cur) != 0)
        goto os_error;
    if (is_ours(&cur)) {
        sl->installed = 1;
        return 0;
    }
    if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN)
        return 0; /* ignored on purpose (nohup): the process would live on */
    if (sl->kind != KIND_FATAL) {
        /* faulthandler's handler sits between us and the original one */
        if (!sl->fh_registered) {
            sl->prev = cur;
            if (register_faulthandler(sl, py_fh) != 0)
                return -1;
        } else if (!is_function(&cur) || cur.sa_handler != sl->fh.sa_handler) {
            /* registered for the watchdog only, disposition left as it was */
            sl->prev = cur;
        }
    } else {
        sl->prev = cur;
    }
    memset(&ours, 0, sizeof(ours));
    ours.sa_sigaction = on_signal;
    sigemptyset(&ours.sa_mask);
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    if (sl->kind == KIND_FATAL)
        ours.sa_flags |= SA_NODEFER; /* faulthandler's raise() must kill at once */
    else if (sl->kind == KIND_USR1)
        ours.sa_flags |= SA_RESTART; /* dump and continue: no EINTR for the test */
    else
        ours.sa_flags |= sl->prev.sa_flags & SA_RESTART; /* as Python asked */
    if (sigaction(sl->signo, &ours, NULL) != 0)
        goto os_error;
    sl->installed = 1;
    return 0;
os_error:
    PyErr_SetFromErrnoWithFilename(PyExc_OSError, "sigaction");
    return -1;
}

/* Registers faulthandler (all_threads=False) on a spare signal and puts
 * that signal's disposition back: cur_engine then prints the calling
 * thread's stack. Failure only loses that extra. GIL held. */
static void register_current_engine(PyObject *py_fh)
{
    PyObject *py_res = NULL; /* owned */
    struct sigaction before, after;
    int sig;
    if (cur_engine)
        return;
#ifdef SIGRTMAX
    sig = SIGRTMAX;
#else
    sig = SIGUSR2;
#endif
    if (sigaction(sig, NULL, &before) != 0 || is_function(&before))
        return; /* someone uses this signal: leave it (and faulthandler's entry) alone */
    py_res = PyObject_CallMethod(py_fh, "register", "iiii", sig, rm_crash_fd(), 0, 0);
    if (!py_res) {
        PyErr_Clear();
        return;
    }
    Py_DECREF(py_res);
    if (sigaction(sig, NULL, &after) == 0 && is_function(&after) &&
        !(after.sa_flags & SA_SIGINFO) && after.sa_handler != before.sa_handler) {
        cur_sig = sig;
        cur_engine = after.sa_handler;
    }
    (void)sigaction(sig, &before, NULL);
}

static PyObject *call_noargs(PyObject *py_mod, const char *name)
{
    return PyObject_CallMethod(py_mod, name, NULL);
}

int rm_crash_ensure_engine(void)
{
    PyObject *py_fh = NULL; /* owned */
    sig_slot *sl = slot_of(SIGUSR1);
    struct sigaction cur;
    int rc = -1;
    rm_dump_init();
    if (rm_dump_have_engine())
        return 0;
    if (rm_crash_open_fd() != 0)
        return -1;
    if (!(py_fh = PyImport_ImportModule("faulthandler")))
        goto error;
    if (sigaction(SIGUSR1, NULL, &cur) != 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, "sigaction");
        goto error;
    }
    if (register_faulthandler(sl, py_fh) != 0)
        goto error;
    /* only the engine was wanted: SIGUSR1 keeps its disposition */
    if (!sl->installed && sigaction(SIGUSR1, &cur, NULL) != 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, "sigaction");
        goto error;
    }
    rc = 0;
error:
    Py_XDECREF(py_fh);
    return rc;
}

/* _crash_install(*, fatal, terminate, usr1, thread_threshold) */
PyObject *rm_py_crash_install(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"fatal", "terminate", "usr1", "thread_threshold", NULL};
    PyObject *py_fh = NULL, *py_res = NULL; /* owned */
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
    if (!(py_fh = PyImport_ImportModule("faulthandler")))
        goto error;
    if (fatal) {
        int enabled;
        if (!(py_res = call_noargs(py_fh, "is_enabled")))
            goto error;
        enabled = PyObject_IsTrue(py_res);
        Py_CLEAR(py_res);
        if (enabled < 0)
            goto error;
        if (!enabled) {
            /* -p no:faulthandler: the Python stacks still have to appear */
            py_res = PyObject_CallMethod(py_fh, "enable", "ii", rm_crash_fd(), 1);
            if (!py_res)
                goto error;
            Py_CLEAR(py_res);
            we_enabled_faulthandler = 1;
        }
    }
    if (fatal || terminate)
        register_current_engine(py_fh);
    for (i = 0; i < NSLOTS; i++) {
        int want = slots[i].kind == KIND_FATAL  ? fatal
                   : slots[i].kind == KIND_TERM ? terminate
                                                : usr1;
        if (want && install_slot(&slots[i], py_fh) != 0)
            goto error;
    }
    rm_crash_thread_threshold = threshold;
    Py_DECREF(py_fh);
    Py_RETURN_NONE;
error:
    Py_XDECREF(py_res);
    Py_XDECREF(py_fh);
    return NULL;
}

/* _crash_uninstall(): puts back what we replaced where we are still on top;
 * a handler someone installed over ours is left alone. */
PyObject *rm_py_crash_uninstall(PyObject *self, PyObject *unused)
{
    PyObject *py_fh = NULL, *py_res = NULL; /* owned */
    size_t i;
    (void)self;
    (void)unused;

    rm_crash_thread_threshold = 0;
    if (!(py_fh = PyImport_ImportModule("faulthandler")))
        return NULL;
    for (i = 0; i < NSLOTS; i++) {
        sig_slot *sl = &slots[i];
        struct sigaction cur;
        if (!sl->installed)
            continue;
        sl->installed = 0;
        if (sigaction(sl->signo, NULL, &cur) != 0 || !is_ours(&cur))
            continue;
        if (sl->fh_registered) {
            /* faulthandler back on top, then it restores sl->prev itself */
            if (sigaction(sl->signo, &sl->fh, NULL) != 0)
                continue;
            if (sl->signo == rm_dump_engine_signo())
                rm_dump_set_engine(NULL, 0);
            py_res = PyObject_CallMethod(py_fh, "unregister", "i", sl->signo);
            if (!py_res)
                PyErr_Clear();
            Py_CLEAR(py_res);
            sl->fh_registered = 0;
        } else {
            (void)sigaction(sl->signo, &sl->prev, NULL);
        }
    }
    for (i = 0; i < NSLOTS && !rm_dump_have_engine(); i++)
        if (slots[i].fh_registered)
            rm_dump_set_engine(slots[i].fh.sa_handler, slots[i].signo);
    if (we_enabled_faulthandler) {
        we_enabled_faulthandler = 0;
        if (!(py_res = call_noargs(py_fh, "disable")))
            PyErr_Clear();
        Py_CLEAR(py_res);
    }
    Py_DECREF(py_fh);
    Py_RETURN_NONE;
}

/* _crash_state() -> dict: signal name -> "ours" / "replaced" / "off",
 * plus thread_threshold and the crash fd (tests, diagnostics). */
PyObject *rm_py_crash_state(PyObject *self, PyObject *unused)
{
    PyObject *py_res = NULL, *py_v = NULL; /* owned */
    size_t i;
    (void)self;
    (void)unused;
    if (!(py_res = PyDict_New()))
        return NULL;
    for (i = 0; i < NSLOTS; i++) {
        struct sigaction cur;
        const char *st = "off";
        if (slots[i].installed)
            st = sigaction(slots[i].signo, NULL, &cur) == 0 && is_ours(&cur) ? "ours" : "replaced";
        if (!(py_v = PyUnicode_FromString(st)) ||
            PyDict_SetItemString(py_res, rm_signal_name(slots[i].signo), py_v) < 0)
            goto error;
        Py_CLEAR(py_v);
    }
    if (rm_crash_state_common(py_res, rm_dump_have_engine()) < 0)
        goto error;
    return py_res;
error:
    Py_XDECREF(py_v);
    Py_XDECREF(py_res);
    return NULL;
}
