/* SPDX-License-Identifier: MIT */
/* module.c: registers the _resmon extension module; the work is elsewhere. */
#include "ext.h"

PyObject *rm_py_trend(PyObject *self, PyObject *values);        /* trend_py.c */
PyObject *rm_py_write_losses(PyObject *self, PyObject *unused); /* state.c */
PyObject *rm_py_log_start(PyObject *self, PyObject *args);      /* state.c */
PyObject *rm_py_thread_watch(PyObject *self, PyObject *on);     /* watchdog.c */

static PyMethodDef methods[] = {
    {"sample", (PyCFunction)(void (*)(void))rm_py_sample, METH_FASTCALL | METH_KEYWORDS,
     "sample(full=False) -> Sample\n\nThe default reads rss, peak and vms only (a pread and\n"
     "a getrusage); full=True reads everything the OS gives."},
    {"reset_peak", rm_py_reset_peak, METH_NOARGS,
     "reset_peak()\n\nStarts a new interval for Sample.peak (Linux: clear_refs)."},
    {"emit", (PyCFunction)(void (*)(void))rm_py_emit, METH_VARARGS | METH_KEYWORDS,
     "emit(kind, label=None, *, fields=None, paths=None, full=True, to=3, pytest_env=False) "
     "-> Sample\n\n"
     "Samples and writes one record line (docs/format.md) with one write(2); pytest_env "
     "first takes the test and phase from PYTEST_CURRENT_TEST."},
    {"configure", (PyCFunction)(void (*)(void))rm_py_configure, METH_VARARGS | METH_KEYWORDS,
     "configure(*, out_fd, record_fd, host, worker, run)\n\nSets where records go (fds are "
     "dup'ed; -1 turns one off) and the identity every record carries."},
    {"set_context", rm_py_set_context, METH_VARARGS,
     "set_context(test, phase)\n\nThe current test id and phase, kept where signal handlers "
     "can read them."},
    {"get_context", rm_py_get_context, METH_NOARGS, "get_context() -> (test, phase)"},
    {"write_error", rm_py_write_error, METH_NOARGS,
     "write_error() -> None or (target, errno)\n\nThe last failed write, forgotten once read."},
    {"log_start", rm_py_log_start, METH_VARARGS,
     "log_start(first, attempt=0, test=None, phase=None, how=1) -> Sample or tuple\n\n"
     "A phase start in one call: sets the current test and phase, samples, and\n"
     "with how & 1 writes the short job-log line (ts and test id when first, the\n"
     "setup start; else pid, phase and rss), with how & 2 opens a new peak\n"
     "interval, with how & 4 returns (rss, peak, monotonic seconds) instead of a\n"
     "Sample."},
    {"write_losses", rm_py_write_losses, METH_NOARGS,
     "write_losses() -> (records, out)\n\nRecords lost to the record file and to the job log "
     "(failed or short writes)."},
    {"probe_info", rm_py_probe_info, METH_NOARGS, "probe_info() -> dict"},
    {"probe_at", rm_py_probe_at, METH_VARARGS,
     "probe_at(pid, root='') -> (Sample, cgroup_version, cgroup_path)\n\nA one-off full "
     "sample of another process, or of a fake /proc and cgroup tree under root."},
    {"_crash_install", (PyCFunction)(void (*)(void))rm_py_crash_install,
     METH_VARARGS | METH_KEYWORDS,
     "_crash_install(*, fatal=True, terminate=True, usr1=True, thread_threshold=256)\n\n"
     "Installs the crash handlers (resmon.crash.install_crash_handlers)."},
    {"_crash_uninstall", rm_py_crash_uninstall, METH_NOARGS,
     "_crash_uninstall()\n\nPuts back the handlers install replaced."},
    {"_crash_state", rm_py_crash_state, METH_NOARGS, "_crash_state() -> dict"},
    {"_dump_record", rm_py_dump_record, METH_VARARGS,
     "_dump_record(fd, at, reason, records)\n\nA dump at=begin|end record on fd."},
    {"_dump_native", rm_py_dump_native, METH_VARARGS,
     "_dump_native(fd)\n\nThe native thread inventory, written to fd."},
    {"dump_after", rm_py_dump_after, METH_O,
     "dump_after(seconds)\n\n(Re)arms the watchdog thread; None or 0 cancels."},
    {"thread_watch", rm_py_thread_watch, METH_O,
     "thread_watch(on) -> bool or int\n\nTrue arms a C thread that counts native threads every "
     "2 ms\n(False where it cannot run); False disarms it and returns the highest count\nseen "
     "while armed, its own thread excluded."},
    {"trend", rm_py_trend, METH_O,
     "trend(values) -> dict\n\nClassifies RSS at the end of each test (bytes, test order; None "
     "skipped):\nclass (leak, steps, single, flat, noise, falling, too few tests), n, slope, r2, "
     "rise,\nsteps, top_index, top_share (csrc/record/trend.h)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    "resmon._resmon",
    "resmon's C core: probe, records, crash handlers.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__resmon(void)
{
    PyObject *py_mod = PyModule_Create(&moduledef); /* owned */
    if (!py_mod)
        return NULL;
    if (rm_state_init() != 0 || rm_sample_type_init(py_mod) != 0)
        goto error;
    if (PyModule_AddIntConstant(py_mod, "FORMAT_VERSION", RM_FORMAT_VERSION) < 0 ||
        PyModule_AddIntConstant(py_mod, "LINE_MAX", RM_LINE_MAX) < 0 ||
        PyModule_AddIntConstant(py_mod, "TO_OUT", RM_TO_OUT) < 0 ||
        PyModule_AddIntConstant(py_mod, "TO_RECORDS", RM_TO_RECORDS) < 0)
        goto error;
    return py_mod;
error:
    Py_DECREF(py_mod);
    return NULL;
}
