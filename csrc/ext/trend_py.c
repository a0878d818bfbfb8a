/* SPDX-License-Identifier: MIT */
/* trend_py.c: _resmon.trend(values), the Python face of record/trend.c. */
#include "ext.h"

#include "../record/trend.h"

PyObject *rm_py_trend(PyObject *self, PyObject *values);

/* trend(values) -> dict. values: a sequence (or any iterable) of numbers,
 * the RSS in bytes at the end of each test in test order; None is a test
 * without a reading (skipped, like NaN). Raises TypeError for other items
 * and OverflowError for ints beyond a double. The analysis runs without
 * the GIL on a private copy. */
PyObject *rm_py_trend(PyObject *self, PyObject *values)
{
    PyObject *py_seq = NULL;    /* owned */
    PyObject *py_result = NULL; /* owned, returned */
    double *buf = NULL;
    Py_ssize_t n, i;
    rm_trend_result r;
    PyThreadState *save;

    (void)self;
    py_seq = PySequence_Fast(values, "trend() needs a sequence of numbers");
    if (!py_seq)
        goto error;
    n = PySequence_Fast_GET_SIZE(py_seq);
    buf = PyMem_New(double, n > 0 ? (size_t)n : 1);
    if (!buf) {
        PyErr_NoMemory();
        goto error;
    }
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(py_seq, i); /* borrowed */
        if (item == Py_None) {
            buf[i] = Py_NAN;
            continue;
        }
        buf[i] = PyFloat_AsDouble(item);
        if (buf[i] == -1.0 && PyErr_Occurred())
            goto error;
    }
    save = PyEval_SaveThread(); /* the analysis touches only buf and r */
    rm_trend_analyze(buf, (size_t)n, &r);
    PyEval_RestoreThread(save);
    py_result = Py_BuildValue("{s:s,s:i,s:d,s:d,s:d,s:i,s:i,s:d,s:d,s:d,s:d,s:d,s:d,s:i,s:d}",
                              "class", rm_trend_name(r.cls), "n", r.n, "slope", r.slope, "r2", r.r2,
                              "rise", r.rise, "steps", r.steps, "top_index", r.top_index,
                              "top_share", r.top_share, "level", r.level, "min_rise", r.min_rise,
                              "noise", r.noise, "steady", r.steady, "direction", r.direction,
                              "start_index", r.start_index, "released", r.released);
error:
    PyMem_Free(buf);
    Py_XDECREF(py_seq);
    return py_result;
}
