/* SPDX-License-Identifier: MIT */
/* emit.c: emit(), which samples and writes one record in a single write(2). */
#include "ext.h"
#include "peak.h"

#include <errno.h>
#include <string.h>

/* Disk paths per record: each adds three fields. At most 10 (one digit). */
#define RM_MAX_PATHS 8
/* Keys longer than this are cut: keys are for machines, not prose. */
#define RM_KEY_MAX 48
/* Longest record kind (rm_line_begin keeps 32 bytes). */
#define RM_KIND_MAX 32

/* 1 when kind is a record kind of docs/format.md: 1 to RM_KIND_MAX bytes
 * of [a-z_]. Which kinds a caller may write is policy, decided in Python
 * (api.py); this only keeps the line well formed. */
static int valid_kind(const char *kind)
{
    size_t i;
    for (i = 0; kind[i]; i++)
        if (i >= RM_KIND_MAX || !((kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '_'))
            return 0;
    return i > 0;
}

/* Copies a caller's key, replacing anything outside [A-Za-z0-9_] by '_', so
 * no key can inject '=' or a space. */
static void clean_key(char out[RM_KEY_MAX + 1], const char *k, Py_ssize_t n)
{
    Py_ssize_t i;
    if (n > RM_KEY_MAX)
        n = RM_KEY_MAX;
    for (i = 0; i < n; i++) {
        char c = k[i];
        int ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out[i] = ok ? c : '_';
    }
    if (n == 0)
        out[n++] = '_';
    out[n] = '\0';
}

/* Adds one caller field. Integers are written exactly, bools as 0/1, floats
 * with repr(), None is skipped, anything else as str(value), escaped. */
static int add_field(rm_line *l, PyObject *key, PyObject *value)
{
    PyObject *py_str = NULL; /* owned */
    const char *k, *v;
    Py_ssize_t kn, vn;
    char ckey[RM_KEY_MAX + 1];
    int rc = -1;

    if (value == Py_None)
        return 0;
    if (!(py_str = PyObject_Str(key)) || !(k = PyUnicode_AsUTF8AndSize(py_str, &kn)))
        goto error;
    clean_key(ckey, k, kn);
    Py_CLEAR(py_str);
    if (PyBool_Check(value)) {
        rm_line_u64(l, ckey, value == Py_True);
    } else if (PyLong_Check(value)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (x == -1 && PyErr_Occurred())
            goto error;
        if (!overflow) {
            rm_line_i64(l, ckey, x);
        } else {
            if (!(py_str = PyObject_Str(value)) || !(v = PyUnicode_AsUTF8AndSize(py_str, &vn)))
                goto error;
            rm_line_str(l, ckey, v, (size_t)vn);
        }
    } else {
        if (PyFloat_Check(value))
            py_str = PyObject_Repr(value);
        else
            py_str = PyObject_Str(value);
        if (!py_str)
            goto error;
        /* surrogates and other unencodable text go through as escapes */
        v = PyUnicode_AsUTF8AndSize(py_str, &vn);
        if (!v) {
            PyObject *py_bytes;
            PyErr_Clear();
            py_bytes = PyUnicode_AsEncodedString(py_str, "utf-8", "backslashreplace");
            if (!py_bytes)
                goto error;
            rm_line_str(l, ckey, PyBytes_AS_STRING(py_bytes), (size_t)PyBytes_GET_SIZE(py_bytes));
            Py_DECREF(py_bytes);
        } else {
            rm_line_str(l, ckey, v, (size_t)vn);
        }
    }
    rc = 0;
error:
    Py_XDECREF(py_str);
    return rc;
}

static int add_fields(rm_line *l, PyObject *fields)
{
    PyObject *py_items = NULL; /* owned */
    Py_ssize_t i, n;
    int rc = -1;

    if (!fields || fields == Py_None)
        return 0;
    if (PyDict_Check(fields)) {
        PyObject *key, *value; /* borrowed */
        Py_ssize_t pos = 0;
        while (PyDict_Next(fields, &pos, &key, &value))
            if (add_field(l, key, value) != 0)
                return -1;
        return 0;
    }
    py_items = PySequence_Fast(fields, "fields must be a dict or a sequence of (key, value)");
    if (!py_items)
        goto error;
    n = PySequence_Fast_GET_SIZE(py_items);
    for (i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(py_items, i); /* borrowed */
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "fields items must be (key, value) tuples");
            goto error;
        }
        if (add_field(l, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)) != 0)
            goto error;
    }
    rc = 0;
error:
    Py_XDECREF(py_items);
    return rc;
}

static int add_paths(rm_line *l, PyObject *paths)
{
    PyObject *py_items = NULL, *py_path = NULL; /* owned */
    Py_ssize_t i, n;
    int rc = -1;

    if (!paths || paths == Py_None)
        return 0;
    if (PyUnicode_Check(paths) || PyBytes_Check(paths)) {
        PyErr_SetString(PyExc_TypeError, "paths must be a sequence of paths, not one path");
        return -1;
    }
    py_items = PySequence_Fast(paths, "paths must be a sequence");
    if (!py_items)
        goto error;
    n = PySequence_Fast_GET_SIZE(py_items);
    for (i = 0; i < n && i < RM_MAX_PATHS; i++) {
        /* "diskN" and its suffixes, N one digit (RM_MAX_PATHS <= 10) */
        char key[16] = "disk";
        const char *path;
        uint64_t used, avail;
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(py_items, i), &py_path))
            goto error;
        path = PyBytes_AS_STRING(py_path);
        key[4] = (char)('0' + i);
        key[5] = '\0';
        rm_line_str(l, key, path, (size_t)PyBytes_GET_SIZE(py_path));
        if (rm_disk_usage(path, &used, &avail) == 0) {
            memcpy(key + 5, "_used", 6);
            rm_line_u64(l, key, used);
            memcpy(key + 5, "_free", 6);
            rm_line_u64(l, key, avail);
        } else {
            memcpy(key + 5, "_errno", 7);
            rm_line_u64(l, key, (uint64_t)errno);
        }
        Py_CLEAR(py_path);
    }
    rc = 0;
error:
    Py_XDECREF(py_path);
    Py_XDECREF(py_items);
    return rc;
}

/* emit(kind, label=None, *, fields=None, paths=None, full=True, to=3,
 *      pytest_env=False) -> Sample
 * Samples this process (full: RM_READ_MARK; else rss/peak/vms only), builds
 * "[resmon/1] <kind> <identity> label=... <fields> <sample> <disks>" and
 * writes it with one write(2) to the marker fd (to & 1) and the record
 * file (to & 2). pytest_env: take the test and phase from pytest's
 * PYTEST_CURRENT_TEST first (rm_ctx_from_env), for callers without the
 * plugin. A write failure is kept for write_error(), never raised. */
PyObject *rm_py_emit(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"kind", "label", "fields", "paths", "full", "to", "pytest_env", NULL};
    const char *kind;
    PyObject *label = Py_None, *fields = NULL, *paths = NULL; /* borrowed */
    PyObject *py_label = NULL;                                /* owned */
    int full = 1, to = RM_TO_OUT | RM_TO_RECORDS, pytest_env = 0;
    long pythreads;
    double mono;
    rm_sample s;
    rm_line l; /* 4 KB on the stack: one per call, so threads never share */
    (void)self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O$OOpip", kwlist, &kind, &label, &fields,
                                     &paths, &full, &to, &pytest_env))
        return NULL;
    if (!valid_kind(kind)) {
        PyObject *py_kind = PyUnicode_FromString(kind); /* owned */
        if (py_kind) {
            PyErr_Format(PyExc_ValueError,
                         "record kind must be 1 to %d characters of a-z and '_', not %R",
                         RM_KIND_MAX, py_kind);
            Py_DECREF(py_kind);
        }
        return NULL;
    }
    if (rm_sample_self(&s, full ? RM_READ_MARK : RM_READ_PROC) != 0)
        s.valid = 0;
    rm_peak_fold(&s);
    mono = rm_monotonic();
    pythreads = full ? rm_python_thread_count() : -1;
    rm_crash_check_threads(&s); /* crash.c: one comparison unless the threshold is passed */

    if (pytest_env)
        rm_ctx_from_env();
    rm_line_begin(&l, kind);
    rm_line_identity(&l);
    if (label != Py_None) {
        const char *v;
        Py_ssize_t vn;
        if (!(py_label = PyObject_Str(label)))
            goto error;
        v = PyUnicode_AsUTF8AndSize(py_label, &vn);
        if (!v) {
            PyErr_Clear();
            Py_SETREF(py_label, PyUnicode_AsEncodedString(py_label, "utf-8", "backslashreplace"));
            if (!py_label)
                goto error;
            rm_line_str(&l, "label", PyBytes_AS_STRING(py_label),
                        (size_t)PyBytes_GET_SIZE(py_label));
        } else {
            rm_line_str(&l, "label", v, (size_t)vn);
        }
    }
    if (add_fields(&l, fields) != 0)
        goto error;
    rm_line_sample(&l, &s);
    if (rm_peak_lost() && (s.valid & RM_HAVE_HWM))
        rm_line_u64(&l, "hwm_life", rm_peak_lost() > s.hwm ? rm_peak_lost() : s.hwm);
    if (pythreads >= 0)
        rm_line_u64(&l, "pythr", (uint64_t)pythreads);
    if (add_paths(&l, paths) != 0)
        goto error;
    rm_line_end(&l);
    Py_BEGIN_ALLOW_THREADS rm_emit_line(&l, to);
    Py_END_ALLOW_THREADS Py_XDECREF(py_label);
    return rm_sample_to_py(&s, mono, pythreads);

error:
    Py_XDECREF(py_label);
    return NULL;
}
