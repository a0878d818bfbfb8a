/* SPDX-License-Identifier: MIT */
/* sample.c: resmon.Sample, the immutable result of sample(), and its callers. */
#include "ext.h"
#include "peak.h"

#include <errno.h>
#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif
#ifdef __linux__
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#endif

static PyTypeObject *SampleType;

/* Field order of Sample; must match fill_fields() below. */
static PyStructSequence_Field sample_fields[] = {
    {"rss", "resident set size, bytes"},
    {"peak", "resident high-water mark since start or the last reset_peak(), bytes"},
    {"vms", "virtual size, bytes"},
    {"anon", "resident anonymous memory, bytes"},
    {"file", "resident file-backed memory, bytes"},
    {"shmem", "resident shared memory, bytes"},
    {"swap", "swapped-out memory of the process, bytes"},
    {"threads", "native threads of the process"},
    {"python_threads", "Python threads of the interpreter"},
    {"mem_total", "machine memory, bytes"},
    {"mem_available", "machine memory available without swapping, bytes"},
    {"mem_free", "machine memory unused, bytes"},
    {"mem_cached", "page cache, bytes"},
    {"swap_total", "machine swap, bytes"},
    {"swap_free", "machine swap free, bytes"},
    {"cgroup_usage", "memory used by the process's memory cgroup, bytes"},
    {"cgroup_limit", "smallest limit of the cgroup and its ancestors, bytes; None: no limit"},
    {"cgroup_peak", "cgroup high-water mark, bytes"},
    {"cgroup_oom_kills", "OOM kills counted by the cgroup"},
    {"monotonic", "time.monotonic()-style seconds when the sample was taken"},
    {NULL, NULL},
};

static PyStructSequence_Desc sample_desc = {
    "resmon.Sample",
    "One resource sample. Sizes are exact integers in bytes; a field the OS\n"
    "did not give (or that was not asked for) is None.",
    sample_fields,
    20,
};

/* ---- interval peaks (peak.h) ---- */
#ifdef __linux__

/* Poll periods of the interval-peak thread. A wake-up costs 10-25 us of
 * CPU on a VM (the pread of statm is ~1.2 us of it), so the thread polls
 * every RM_PEAK_POLL_SLOW_US while RSS stands still (~0.3% of a core) and
 * every RM_PEAK_POLL_FAST_US from the moment RSS moves by RM_PEAK_MOVE
 * until it has stood still for RM_PEAK_CALM polls: a growing allocation
 * is followed to within a millisecond of its top. A spike that rises and
 * falls inside one slow period (about 50 MB at page-fault speed) can be
 * missed unless it raised the lifetime mark (then it is exact). */
#define RM_PEAK_POLL_SLOW_US 10000
#define RM_PEAK_POLL_FAST_US 1000
#define RM_PEAK_MOVE (1u << 20)
#define RM_PEAK_CALM 20
/* Largest RESMON_PEAK_POLL_MS taken: slower polls see nothing useful. */
#define RM_PEAK_POLL_MAX_MS 10000
/* The poller's stack: it parses one short line. */
#define RM_PEAK_STACK (64 * 1024)

enum { PK_UNSET = 0, PK_SOFT, PK_KERNEL };

static struct {
    pthread_mutex_t mu; /* guards everything below against the poller */
    int mode;           /* PK_*, from the environment at the first reset */
    int open;           /* an interval is open */
    unsigned gen;       /* bumped at each reset: a poll that straddles it is dropped */
    uint64_t hwm0;      /* the kernel's lifetime mark when the interval opened */
    uint64_t max_rss;   /* highest RSS seen in the interval */
    uint64_t lost;      /* PK_KERNEL: the highest mark seen before a reset */
    long poll_us;       /* the slow period; 0: no poller */
    int poller;         /* 1 once the thread runs in this process */
    int poll_fd;        /* the poller's /proc/self/statm */
} pk = {PTHREAD_MUTEX_INITIALIZER, PK_UNSET, 0, 0, 0, 0, 0, 0, 0, -1};

/* Resident bytes from a statm line ("size resident shared ..."), or 0. */
static uint64_t statm_rss(const char *buf, long page)
{
    const char *q = buf;
    uint64_t v = 0;
    while (*q >= '0' && *q <= '9')
        q++;
    if (*q++ != ' ')
        return 0;
    while (*q >= '0' && *q <= '9')
        v = v * 10 + (uint64_t)(*q++ - '0');
    return v * (uint64_t)page;
}

/* The poller: folds the current RSS into the open interval's maximum,
 * fast while RSS moves, slowly while it stands still. Touches no Python
 * state; all signals are blocked. */
static void *poll_main(void *arg)
{
    long page = sysconf(_SC_PAGESIZE);
    long slow = pk.poll_us, fast = slow < RM_PEAK_POLL_FAST_US ? slow : RM_PEAK_POLL_FAST_US;
    int fd = (int)(intptr_t)arg;
    uint64_t last = 0;
    int calm = RM_PEAK_CALM;
    char buf[160];

    for (;;) {
        struct timespec ts;
        long us = calm >= RM_PEAK_CALM ? slow : fast;
        unsigned gen;
        uint64_t rss;
        ssize_t n;
        ts.tv_sec = us / 1000000;
        ts.tv_nsec = (us % 1000000) * 1000;
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&pk.mu);
        gen = pk.gen;
        pthread_mutex_unlock(&pk.mu);
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        rss = statm_rss(buf, page);
        if (rss > last + RM_PEAK_MOVE || rss + RM_PEAK_MOVE < last)
            calm = 0;
        else if (calm < RM_PEAK_CALM)
            calm++;
        last = rss;
        pthread_mutex_lock(&pk.mu);
        if (pk.open && pk.gen == gen && rss > pk.max_rss)
            pk.max_rss = rss;
        pthread_mutex_unlock(&pk.mu);
    }
    return NULL;
}

/* Starts the poller once per process (GIL held). A failure leaves the
 * boundaries and the kernel's mark as the only evidence: not an error. */
static void poller_start(void)
{
    pthread_attr_t attr;
    pthread_t th;
    sigset_t all, old;
    int fd;

    if (pk.poller || pk.poll_us <= 0)
        return;
    fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, RM_PEAK_STACK);
    if (pthread_create(&th, &attr, poll_main, (void *)(intptr_t)fd) == 0) {
        pk.poller = 1;
        pk.poll_fd = fd;
    } else {
        close(fd);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* A forked child has no poller and its own memory: start afresh. */
static void peak_after_fork(void)
{
    pthread_mutex_init(&pk.mu, NULL);
    if (pk.poll_fd >= 0)
        close(pk.poll_fd);
    pk.poll_fd = -1;
    pk.poller = 0;
    pk.open = 0;
}

static void peak_read_env(void)
{
    const char *v = getenv("RESMON_PEAK_RESET");
    pk.mode = (v && (!strcmp(v, "clear_refs") || !strcmp(v, "kernel"))) ? PK_KERNEL : PK_SOFT;
    pk.poll_us = RM_PEAK_POLL_SLOW_US;
    v = getenv("RESMON_PEAK_POLL_MS");
    if (v && *v) {
        char *end;
        double ms = strtod(v, &end);
        if (end != v && *end == '\0' && ms >= 0 && ms <= RM_PEAK_POLL_MAX_MS)
            pk.poll_us = (long)(ms * 1000.0);
    }
}

void rm_peak_fold(rm_sample *s)
{
    if (pk.mode != PK_SOFT || !(s->valid & RM_HAVE_HWM))
        return;
    pthread_mutex_lock(&pk.mu);
    if (pk.open) {
        if ((s->valid & RM_HAVE_RSS) && s->rss > pk.max_rss)
            pk.max_rss = s->rss;
        /* a lifetime mark that rose was reached inside the interval */
        if (s->hwm <= pk.hwm0)
            s->hwm = pk.max_rss;
    }
    pthread_mutex_unlock(&pk.mu);
}

uint64_t rm_peak_lost(void)
{
    return pk.mode == PK_KERNEL ? pk.lost : 0;
}

int rm_peak_reset(const rm_sample *raw)
{
    rm_sample s;

    if (pk.mode == PK_UNSET)
        peak_read_env();
    if (!raw) {
        if (rm_sample_self(&s, RM_READ_PROC) != 0)
            s.valid = 0;
        raw = &s;
    }
    if (pk.mode == PK_KERNEL) {
        if ((raw->valid & RM_HAVE_HWM) && raw->hwm > pk.lost)
            pk.lost = raw->hwm;
        return rm_probe_reset_peak(&rm_g.probe);
    }
    if (!(raw->valid & RM_HAVE_RSS) || !(raw->valid & RM_HAVE_HWM)) {
        errno = EIO;
        return -1;
    }
    pthread_mutex_lock(&pk.mu);
    pk.gen++;
    pk.open = 1;
    pk.hwm0 = raw->hwm;
    pk.max_rss = raw->rss;
    pthread_mutex_unlock(&pk.mu);
    poller_start();
    return 0;
}

#else /* !__linux__: the platform probe decides what a reset is */

void rm_peak_fold(rm_sample *s)
{
    (void)s;
}

uint64_t rm_peak_lost(void)
{
    return 0;
}

int rm_peak_reset(const rm_sample *raw)
{
    (void)raw;
    return rm_probe_reset_peak(&rm_g.probe);
}

#endif

int rm_sample_type_init(PyObject *module)
{
#ifdef __linux__
    pthread_atfork(NULL, NULL, peak_after_fork);
#endif
    SampleType = PyStructSequence_NewType(&sample_desc);
    if (!SampleType)
        return -1;
    Py_INCREF(SampleType);
    if (PyModule_AddObject(module, "Sample", (PyObject *)SampleType) < 0) {
        Py_DECREF(SampleType);
        return -1;
    }
    return 0;
}

static PyObject *opt_u64(const rm_sample *s, uint32_t bit, uint64_t v)
{
    if (!(s->valid & bit))
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(v);
}

PyObject *rm_sample_to_py(const rm_sample *s, double mono, long pythreads)
{
    PyObject *py_res = NULL; /* owned */
    PyObject *item;
    Py_ssize_t i = 0;

    py_res = PyStructSequence_New(SampleType);
    if (!py_res)
        goto error;
#define SET(expr)                                                                                  \
    do {                                                                                           \
        if (!(item = (expr)))                                                                      \
            goto error;                                                                            \
        PyStructSequence_SET_ITEM(py_res, i++, item);                                              \
    } while (0)
    SET(opt_u64(s, RM_HAVE_RSS, s->rss));
    SET(opt_u64(s, RM_HAVE_HWM, s->hwm));
    SET(opt_u64(s, RM_HAVE_VMS, s->vms));
    SET(opt_u64(s, RM_HAVE_ANON, s->anon));
    SET(opt_u64(s, RM_HAVE_FILE, s->file));
    SET(opt_u64(s, RM_HAVE_SHMEM, s->shmem));
    SET(opt_u64(s, RM_HAVE_SWAP, s->swap));
    SET(opt_u64(s, RM_HAVE_THREADS, s->threads));
    if (pythreads >= 0)
        SET(PyLong_FromLong(pythreads));
    else
        SET((Py_INCREF(Py_None), Py_None));
    SET(opt_u64(s, RM_HAVE_MEM_TOTAL, s->mem_total));
    SET(opt_u64(s, RM_HAVE_MEM_AVAIL, s->mem_avail));
    SET(opt_u64(s, RM_HAVE_MEM_FREE, s->mem_free));
    SET(opt_u64(s, RM_HAVE_MEM_CACHED, s->mem_cached));
    SET(opt_u64(s, RM_HAVE_SWAP_TOTAL, s->swap_total));
    SET(opt_u64(s, RM_HAVE_SWAP_FREE, s->swap_free));
    SET(opt_u64(s, RM_HAVE_CG_USAGE, s->cg_usage));
    SET(opt_u64(s, s->cg_limit == RM_NO_LIMIT ? 0 : RM_HAVE_CG_LIMIT, s->cg_limit));
    SET(opt_u64(s, RM_HAVE_CG_PEAK, s->cg_peak));
    SET(opt_u64(s, RM_HAVE_CG_OOM, s->cg_oom_kills));
    SET(PyFloat_FromDouble(mono));
#undef SET
    return py_res;

error:
    Py_XDECREF(py_res);
    return NULL;
}

long rm_python_thread_count(void)
{
    /* Needs the GIL: walks the interpreter's thread states. */
    PyInterpreterState *interp = PyInterpreterState_Get();
    PyThreadState *ts;
    long n = 0;
    for (ts = PyInterpreterState_ThreadHead(interp); ts && n < 1000000; ts = PyThreadState_Next(ts))
        n++;
    return n;
}

/* sample(full=False) -> Sample. The default reads only the cheap process
 * fields (rss, peak, vms); full=True reads everything the OS gives.
 * METH_FASTCALL: the no-argument call is the hot path. */
PyObject *rm_py_sample(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *py_full = NULL; /* borrowed */
    int full = 0;
    rm_sample s;
    (void)self;

    if (nargs > 1 || (kwnames && (PyTuple_GET_SIZE(kwnames) != 1 || nargs != 0))) {
        PyErr_SetString(PyExc_TypeError, "sample() takes one optional argument, full");
        return NULL;
    }
    if (kwnames) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0)) ||
            PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "full") != 0) {
            PyErr_SetString(PyExc_TypeError, "sample() got an unexpected keyword argument");
            return NULL;
        }
        py_full = args[0];
    } else if (nargs == 1) {
        py_full = args[0];
    }
    if (py_full && (full = PyObject_IsTrue(py_full)) < 0)
        return NULL;
    if (rm_sample_self(&s, full ? RM_READ_ALL : RM_READ_PROC) != 0)
        s.valid = 0;
    rm_peak_fold(&s);
    return rm_sample_to_py(&s, rm_monotonic(), full ? rm_python_thread_count() : -1);
}

/* reset_peak(): the next sample's peak is the resident peak from now
 * (peak.h: the kernel's own mark is left alone unless the user opted in). */
PyObject *rm_py_reset_peak(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!rm_g.probe_ok) {
        errno = ENOENT;
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "reset_peak");
    }
    if (rm_peak_reset(NULL) != 0)
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "reset_peak");
    Py_RETURN_NONE;
}

/* probe_at(pid, root) -> (Sample, cgroup_version, cgroup_path): a one-off
 * full sample of another process, or of a fake tree under root (tests). */
PyObject *rm_py_probe_at(PyObject *self, PyObject *args)
{
    PyObject *py_sample = NULL, *py_res = NULL; /* owned */
    const char *root = "";
    int pid = 0;
    rm_probe p;
    rm_sample s;
    (void)self;

    if (!PyArg_ParseTuple(args, "i|s", &pid, &root))
        return NULL;
    if (rm_probe_open(&p, pid, root) != 0)
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "probe_open");
    rm_probe_sample(&p, &s, RM_READ_ALL);
    py_sample = rm_sample_to_py(&s, rm_monotonic(), -1);
    if (!py_sample)
        goto error;
    py_res = Py_BuildValue("(Ois)", py_sample, p.cg_version, p.cg_path);
error:
    rm_probe_close(&p);
    Py_XDECREF(py_sample);
    return py_res;
}
