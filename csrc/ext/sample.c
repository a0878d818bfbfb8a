/* SPDX-License-Identifier: MIT */
/* sample.c: resmon.Sample, the immutable result of sample(), and its callers. */
#include "ext.h"

#include <errno.h>
#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
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

int rm_sample_type_init(PyObject *module)
{
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
    return rm_sample_to_py(&s, rm_monotonic(), full ? rm_python_thread_count() : -1);
}

/* reset_peak(): the next sample's peak is the high-water mark from now. */
PyObject *rm_py_reset_peak(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!rm_g.probe_ok) {
        errno = ENOENT;
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "clear_refs");
    }
    if (rm_probe_reset_peak(&rm_g.probe) != 0)
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "clear_refs");
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

/* _bench_floor(n) -> ns per pread(2) of /proc/self/statm on a kept-open fd:
 * the floor that benchmarks/bench_sample.py compares sample() against. */
PyObject *rm_py_bench_floor(PyObject *self, PyObject *args)
{
#ifdef _WIN32
    (void)self;
    (void)args;
    Py_RETURN_NONE;
#else
    char buf[256];
    long n, i;
    int fd;
    double t0, t1;
    (void)self;

    if (!PyArg_ParseTuple(args, "l", &n))
        return NULL;
    fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "/proc/self/statm");
    t0 = rm_monotonic();
    for (i = 0; i < n; i++) {
        if (pread(fd, buf, sizeof(buf), 0) < 0)
            break;
    }
    t1 = rm_monotonic();
    close(fd);
    return PyFloat_FromDouble((t1 - t0) * 1e9 / (double)(n > 0 ? n : 1));
#endif
}
