/* SPDX-License-Identifier: MIT */
/* state.c: process-wide state of _resmon: output fds, identity, current test. */
#include "ext.h"
#include "peak.h"

#include <errno.h>
#include <string.h>
#ifdef _WIN32
#include <io.h>
#include <process.h>
#include <windows.h>
#define getpid _getpid
#else
#include <time.h>
#include <unistd.h>
#endif
#if !defined(_WIN32) && !defined(__linux__)
#include <pthread.h>
#endif

/* Fences for the current-test slots. MSVC has no __atomic builtins; its
 * MemoryBarrier() is a full fence, stronger than needed and as cheap here. */
#if defined(_MSC_VER) && !defined(__clang__)
#define FENCE_ACQUIRE() MemoryBarrier()
#define FENCE_RELEASE() MemoryBarrier()
#else
#define FENCE_ACQUIRE() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define FENCE_RELEASE() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

rm_state rm_g = {.out_fd = 2, .rec_fd = -1};

/* ---- clocks (async-signal-safe) ---- */

static void wall_now(int64_t *sec, long *usec)
{
#ifdef _WIN32
    FILETIME ft;
    uint64_t t;
    GetSystemTimePreciseAsFileTime(&ft);
    t = ((uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime) / 10 - 11644473600000000ull;
    *sec = (int64_t)(t / 1000000);
    *usec = (long)(t % 1000000);
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = ts.tv_sec;
    *usec = ts.tv_nsec / 1000;
#endif
}

static uint64_t mono_usec(void)
{
#ifdef _WIN32
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (uint64_t)(c.QuadPart / f.QuadPart * 1000000 +
                      c.QuadPart % f.QuadPart * 1000000 / f.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
#endif
}

double rm_monotonic(void)
{
    return (double)mono_usec() / 1e6;
}

/* ---- the current test, for signal handlers ---- */

void rm_ctx_read(char test[RM_CTX_TEST_MAX], char phase[RM_CTX_PHASE_MAX])
{
    /* Async-signal-safe: memory reads only; at most 4 attempts. */
    int attempt;
    test[0] = phase[0] = '\0';
    for (attempt = 0; attempt < 4; attempt++) {
        const rm_ctx_slot *s = &rm_g.ctx[rm_g.ctx_cur & 1];
        unsigned gen = s->gen, n;
        FENCE_ACQUIRE();
        if (gen & 1)
            continue; /* being written */
        n = s->test_len < RM_CTX_TEST_MAX ? s->test_len : RM_CTX_TEST_MAX - 1;
        memcpy(test, s->test, n);
        test[n] = '\0';
        memcpy(phase, s->phase, RM_CTX_PHASE_MAX);
        phase[RM_CTX_PHASE_MAX - 1] = '\0';
        FENCE_ACQUIRE();
        if (s->gen == gen)
            return;
    }
    test[0] = phase[0] = '\0';
}

/* Called with the GIL held, so there is one writer at a time. */
static void ctx_write(const char *test, size_t test_len, const char *phase, size_t phase_len)
{
    int next = !(rm_g.ctx_cur & 1);
    rm_ctx_slot *s = &rm_g.ctx[next];
    if (test_len >= RM_CTX_TEST_MAX)
        test_len = RM_CTX_TEST_MAX - 1;
    if (phase_len >= RM_CTX_PHASE_MAX)
        phase_len = RM_CTX_PHASE_MAX - 1;
    s->gen++; /* odd: being written */
    FENCE_RELEASE();
    memcpy(s->test, test, test_len);
    s->test_len = (unsigned)test_len;
    memcpy(s->phase, phase, phase_len);
    s->phase[phase_len] = '\0';
    FENCE_RELEASE();
    s->gen++; /* even: stable */
    FENCE_RELEASE();
    rm_g.ctx_cur = next;
}

/* The context pytest publishes without the plugin: PYTEST_CURRENT_TEST is
 * "nodeid (phase)". Kept as set_context(nodeid, phase) keeps it (the same
 * bytes: os.environ writes through putenv, and Python decodes the value with
 * surrogateescape, which set_context undoes); unset or malformed leaves the
 * context as it was. Called with the GIL held, as os.environ's writers are. */
void rm_ctx_from_env(void)
{
    const char *cur = getenv("PYTEST_CURRENT_TEST"), *open = NULL, *p;
    size_t n;
    if (!cur || !cur[0])
        return;
    for (p = cur; (p = strstr(p, " (")) != NULL; p++)
        open = p; /* the last " (": a test id may hold one */
    n = strlen(cur);
    if (!open || open == cur || cur[n - 1] != ')')
        return;
    ctx_write(cur, (size_t)(open - cur), open + 2, (size_t)(cur + n - 1 - (open + 2)));
}

void rm_line_identity(rm_line *l)
{
    /* Async-signal-safe: clocks, getpid(2) and the record writer. */
    char test[RM_CTX_TEST_MAX], phase[RM_CTX_PHASE_MAX];
    int64_t sec;
    long usec;

    wall_now(&sec, &usec);
    rm_line_utc(l, "ts", sec, usec);
    rm_line_usec(l, "mono", mono_usec());
    if (rm_g.host[0])
        rm_line_cstr(l, "host", rm_g.host);
    rm_line_u64(l, "pid", (uint64_t)getpid());
    if (rm_g.worker[0])
        rm_line_cstr(l, "worker", rm_g.worker);
    if (rm_g.run[0])
        rm_line_cstr(l, "run", rm_g.run);
    rm_ctx_read(test, phase);
    if (test[0])
        rm_line_cstr(l, "test", test);
    if (phase[0])
        rm_line_cstr(l, "phase", phase);
}

/* Records lost per target (a failed or short write), for the summary, and
 * whether the record file ends inside a record that a failed write cut (a
 * full disk takes the head of a record and refuses the rest). Written by
 * rm_emit_line, which may run in a signal handler: plain word stores. */
static volatile unsigned long rec_lost, out_lost;
static volatile sig_atomic_t rec_cut;

void rm_emit_line(rm_line *l, int to)
{
    /* Async-signal-safe: write(2) only; errno is preserved for the caller.
     * The job log gets a newline first (rm_line_write_log): pytest leaves
     * its lines open, and the parser takes a record only at a line start.
     * The record file gets one too, in the same write, after a write that
     * cut a record: the cut record ends there, never glued to this one. */
    int saved = errno;
    if ((to & RM_TO_OUT) && rm_g.out_fd >= 0 && rm_line_write_log(rm_g.out_fd, l) != 0) {
        rm_g.write_errno = errno;
        rm_g.write_target = RM_TO_OUT;
        out_lost++;
    }
    if ((to & RM_TO_RECORDS) && rm_g.rec_fd >= 0) {
        /* lead and buf are adjacent (record.h): one write either way */
        const char *start = rec_cut ? (l->lead = '\n', &l->lead) : l->buf;
        size_t n = l->len + (rec_cut ? 1 : 0), done;
        if (rm_write_counted(rm_g.rec_fd, start, n, &done) != 0) {
            rm_g.write_errno = errno;
            rm_g.write_target = RM_TO_RECORDS;
            rec_lost++;
            /* the file now ends inside a record unless nothing of this one
             * (past a newline we owed) got out */
            if (done > (rec_cut ? 1u : 0u))
                rec_cut = 1;
            else if (done == 1)
                rec_cut = 0;
        } else {
            rec_cut = 0;
        }
    }
    errno = saved;
}

int rm_sample_self(rm_sample *s, unsigned what)
{
    /* Async-signal-safe (see rm_probe_sample). */
    if (!rm_g.probe_ok) {
        s->valid = 0;
        return -1;
    }
    return rm_probe_sample(&rm_g.probe, s, what);
}

#if !defined(_WIN32) && !defined(__linux__)
/* macOS: a forked child's probe holds the parent's Mach host port, which
 * the child does not inherit: reopen it. Runs in the child right after
 * fork. (Linux's probe reopens its /proc/self files itself, at the child's
 * first read: probe.h.) */
static void reopen_after_fork(void)
{
    rm_probe_close(&rm_g.probe);
    rm_g.probe_ok = rm_probe_open(&rm_g.probe, 0, "") == 0;
}
#endif

int rm_state_init(void)
{
    rm_g.probe_ok = rm_probe_open(&rm_g.probe, 0, "") == 0;
#if !defined(_WIN32) && !defined(__linux__)
    pthread_atfork(NULL, NULL, reopen_after_fork);
#endif
    return 0;
}

/* ---- Python functions ---- */

static void set_ident(char *dst, PyObject *value)
{
    const char *s;
    Py_ssize_t n;
    if (value == Py_None) {
        dst[0] = '\0';
        return;
    }
    s = PyUnicode_AsUTF8AndSize(value, &n);
    if (!s) {
        PyErr_Clear();
        return;
    }
    if (n >= RM_IDENT_MAX)
        n = RM_IDENT_MAX - 1;
    memcpy(dst, s, (size_t)n);
    dst[n] = '\0';
}

/* configure(*, out_fd=..., record_fd=..., host=..., worker=..., run=...):
 * fds are dup'ed, so the caller may close its own; -1 turns a target off. */
PyObject *rm_py_configure(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"out_fd", "record_fd", "host", "worker", "run", NULL};
    int out_fd = -2, rec_fd = -2;
    PyObject *host = NULL, *worker = NULL, *run = NULL; /* borrowed */
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$iiUUU", kwlist, &out_fd, &rec_fd, &host,
                                     &worker, &run))
        return NULL;
    if (out_fd != -2) {
        int fd = out_fd >= 0 ? dup(out_fd) : -1;
        if (out_fd >= 0 && fd < 0)
            return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "dup");
        if (rm_g.out_owned && rm_g.out_fd >= 0)
            close(rm_g.out_fd);
        rm_g.out_fd = fd;
        rm_g.out_owned = fd >= 0;
    }
    if (rec_fd != -2) {
        int fd = rec_fd >= 0 ? dup(rec_fd) : -1;
        if (rec_fd >= 0 && fd < 0)
            return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "dup");
        if (rm_g.rec_owned && rm_g.rec_fd >= 0)
            close(rm_g.rec_fd);
        rm_g.rec_fd = fd;
        rm_g.rec_owned = fd >= 0;
    }
    if (host)
        set_ident(rm_g.host, host);
    if (worker)
        set_ident(rm_g.worker, worker);
    if (run)
        set_ident(rm_g.run, run);
    Py_RETURN_NONE;
}

/* The bytes of a test id or phase. Valid text is its UTF-8 (no copy, *py_tmp
 * stays NULL); text that UTF-8 cannot hold comes back as the bytes it was
 * made from: surrogate escapes (a file name in any bytes, PEP 383) as those
 * bytes, other lone surrogates as their UTF-8 form (surrogatepass), in a new
 * bytes object left in *py_tmp for the caller to release. Returns NULL with
 * an exception set only for a non-str value or a failed allocation. */
static const char *ctx_bytes(PyObject *value, Py_ssize_t *n, PyObject **py_tmp)
{
    const char *s;
    *py_tmp = NULL;
    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "set_context: str or None expected, not %.100s",
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
    s = PyUnicode_AsUTF8AndSize(value, n);
    if (s)
        return s;
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        return NULL;
    PyErr_Clear();
    *py_tmp = PyUnicode_AsEncodedString(value, "utf-8", "surrogateescape");
    if (!*py_tmp && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        PyErr_Clear(); /* a lone surrogate outside the escape range */
        *py_tmp = PyUnicode_AsEncodedString(value, "utf-8", "surrogatepass");
    }
    if (!*py_tmp)
        return NULL;
    *n = PyBytes_GET_SIZE(*py_tmp);
    return PyBytes_AS_STRING(*py_tmp);
}

/* set_context(test, phase): either may be None (cleared). Any str works: its
 * bytes are kept (ctx_bytes) and escaped by the record writer. */
PyObject *rm_py_set_context(PyObject *self, PyObject *args)
{
    PyObject *test, *phase;                /* borrowed */
    PyObject *py_tb = NULL, *py_pb = NULL; /* owned */
    const char *t = "", *p = "";
    Py_ssize_t tn = 0, pn = 0;
    (void)self;

    if (!PyArg_ParseTuple(args, "OO", &test, &phase))
        return NULL;
    if (test != Py_None && !(t = ctx_bytes(test, &tn, &py_tb)))
        goto error;
    if (phase != Py_None && !(p = ctx_bytes(phase, &pn, &py_pb)))
        goto error;
    ctx_write(t, (size_t)tn, p, (size_t)pn);
    Py_XDECREF(py_tb);
    Py_XDECREF(py_pb);
    Py_RETURN_NONE;
error:
    Py_XDECREF(py_tb);
    Py_XDECREF(py_pb);
    return NULL;
}

/* get_context() -> (test, phase). The kept bytes may be cut inside a UTF-8
 * sequence (ids over RM_CTX_TEST_MAX - 1 bytes) or be any bytes: they are
 * decoded with surrogateescape, so this never fails on them and
 * set_context() of the result keeps the same bytes. */
PyObject *rm_py_get_context(PyObject *self, PyObject *unused)
{
    char test[RM_CTX_TEST_MAX], phase[RM_CTX_PHASE_MAX];
    PyObject *py_test = NULL, *py_phase = NULL, *py_result = NULL; /* owned */
    (void)self;
    (void)unused;
    rm_ctx_read(test, phase);
    py_test = PyUnicode_DecodeUTF8(test, (Py_ssize_t)strlen(test), "surrogateescape");
    if (!py_test)
        goto error;
    py_phase = PyUnicode_DecodeUTF8(phase, (Py_ssize_t)strlen(phase), "surrogateescape");
    if (!py_phase)
        goto error;
    py_result = PyTuple_Pack(2, py_test, py_phase);
error:
    Py_XDECREF(py_test);
    Py_XDECREF(py_phase);
    return py_result;
}

/* write_error() -> None, or (target, errno) of the last failed write, and
 * forgets it. target is "out" or "records". */
PyObject *rm_py_write_error(PyObject *self, PyObject *unused)
{
    int err = rm_g.write_errno, target = rm_g.write_target;
    (void)self;
    (void)unused;
    if (!err)
        Py_RETURN_NONE;
    rm_g.write_errno = 0;
    return Py_BuildValue("(si)", target == RM_TO_OUT ? "out" : "records", err);
}

/* A call-start line repeats the RSS of its setup-start line only when the
 * setup moved it this much: a trivial test's two lines stay under 200
 * bytes, a fixture that loaded a model shows. */
#define RM_SHORT_RSS_STEP (1u << 20)

/* Builds the short job-log line of a phase start (docs/plugin.md, "A small
 * job log") from a sample taken just before, and writes it to the job log.
 * first (setup start): "[resmon/1] test ts pid [worker] test phase at=start
 * [attempt] rss"; otherwise (call start, right after it in the same process)
 * "test pid [worker] phase at=start [rss]": the reader takes the test and the
 * time from the process's previous record, and rss is written only when it
 * moved by RM_SHORT_RSS_STEP since the first line. GIL held. */
static void short_line(int first, int attempt, const rm_sample *s)
{
    static uint64_t first_rss; /* rss of the last first line (GIL held) */
    char test[RM_CTX_TEST_MAX], phase[RM_CTX_PHASE_MAX];
    rm_line l; /* 4 KB on the stack: one per call */

    rm_ctx_read(test, phase);
    rm_line_begin(&l, "test");
    if (first) {
        int64_t sec;
        long usec;
        wall_now(&sec, &usec);
        rm_line_utc(&l, "ts", sec, usec);
    }
    rm_line_u64(&l, "pid", (uint64_t)getpid());
    if (rm_g.worker[0])
        rm_line_cstr(&l, "worker", rm_g.worker);
    if (first && test[0])
        rm_line_cstr(&l, "test", test);
    if (phase[0])
        rm_line_cstr(&l, "phase", phase);
    rm_line_cstr(&l, "at", "start");
    if (attempt > 1)
        rm_line_u64(&l, "attempt", (uint64_t)attempt);
    if (s->valid & RM_HAVE_RSS) {
        uint64_t moved = s->rss > first_rss ? s->rss - first_rss : first_rss - s->rss;
        if (first || moved >= RM_SHORT_RSS_STEP)
            rm_line_u64(&l, "rss", s->rss);
        if (first)
            first_rss = s->rss;
    }
    rm_line_end(&l);
    Py_BEGIN_ALLOW_THREADS rm_emit_line(&l, RM_TO_OUT);
    Py_END_ALLOW_THREADS
}

static PyObject *opt_long(const rm_sample *s, uint32_t bit, uint64_t v)
{
    if (!(s->valid & bit))
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(v);
}

/* What log_start() does besides sampling (its how argument). */
enum { RM_LS_LOG = 1, RM_LS_RESET = 2, RM_LS_BRIEF = 4 };

/* log_start(first, attempt=0, test=<kept>, phase=<kept>, how=LOG)
 *   -> Sample, or (rss, peak, mono) with BRIEF
 * One phase boundary of the plugin's hot path in one call (each step was a
 * call of its own, and a Sample object each time). Positional only (the
 * method table registers it METH_VARARGS):
 *  - with phase given, sets the current test and phase first, as
 *    set_context(test, phase);
 *  - samples rss, peak (the open interval's) and vms, as sample();
 *  - how & 1 (LOG): writes the short job-log line (short_line above);
 *  - how & 2 (RESET): opens a new peak interval, as reset_peak(), from the
 *    same read of statm as the sample (a failure is not raised: the plugin
 *    probed reset_peak() once already);
 *  - returns the Sample, or with how & 4 (BRIEF) the tuple (rss, peak,
 *    monotonic seconds), rss and peak None where the OS gave none.
 * log_start(first) and log_start(first, attempt) are the short line alone,
 * as before. */
PyObject *rm_py_log_start(PyObject *self, PyObject *args)
{
    PyObject *test = Py_None, *phase = NULL; /* borrowed */
    PyObject *py_tb = NULL, *py_pb = NULL;   /* owned */
    PyObject *py_rss = NULL, *py_peak = NULL, *py_res = NULL;
    int first = 1, attempt = 0, how = RM_LS_LOG;
    double mono;
    rm_sample s, raw;
    (void)self;

    if (!PyArg_ParseTuple(args, "p|iOOi", &first, &attempt, &test, &phase, &how))
        return NULL;
    if (phase) {
        const char *t = "", *p = "";
        Py_ssize_t tn = 0, pn = 0;
        if (test != Py_None && !(t = ctx_bytes(test, &tn, &py_tb)))
            goto error;
        if (phase != Py_None && !(p = ctx_bytes(phase, &pn, &py_pb)))
            goto error;
        ctx_write(t, (size_t)tn, p, (size_t)pn);
    }
    if (rm_sample_self(&s, RM_READ_PROC) != 0)
        s.valid = 0;
    raw = s; /* the kernel's mark, for the reset: one read of statm serves both */
    rm_peak_fold(&s);
    mono = rm_monotonic();
    if (how & RM_LS_LOG)
        short_line(first, attempt, &s);
    if ((how & RM_LS_RESET) && rm_g.probe_ok)
        (void)rm_peak_reset(&raw);
    if (!(how & RM_LS_BRIEF)) {
        py_res = rm_sample_to_py(&s, mono, -1);
        goto error; /* the common exit */
    }
    if (!(py_rss = opt_long(&s, RM_HAVE_RSS, s.rss)) ||
        !(py_peak = opt_long(&s, RM_HAVE_HWM, s.hwm)))
        goto error;
    py_res = Py_BuildValue("(OOd)", py_rss, py_peak, mono);
error:
    Py_XDECREF(py_tb);
    Py_XDECREF(py_pb);
    Py_XDECREF(py_rss);
    Py_XDECREF(py_peak);
    return py_res;
}

/* write_losses() -> (records lost to the record file, records lost to the
 * job log): failed or short writes since the module was loaded. */
PyObject *rm_py_write_losses(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return Py_BuildValue("(kk)", (unsigned long)rec_lost, (unsigned long)out_lost);
}

/* probe_info() -> dict: platform, cgroup version and path, fds in use. */
PyObject *rm_py_probe_info(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return Py_BuildValue("{s:s,s:i,s:s,s:i,s:i,s:i}", "platform", rm_probe_platform,
                         "cgroup_version", rm_g.probe.cg_version, "cgroup_path", rm_g.probe.cg_path,
                         "probe_ok", rm_g.probe_ok, "out_fd", rm_g.out_fd, "record_fd",
                         rm_g.rec_fd);
}
