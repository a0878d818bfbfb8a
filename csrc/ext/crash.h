/* SPDX-License-Identifier: MIT */
/* crash.h: what crash.c shares with the platform files that install handlers. */
#ifndef RM_CRASH_H
#define RM_CRASH_H

#include "ext.h"

/* Native threads above which emit() writes event what=threads; 0: off. */
extern volatile uint64_t rm_crash_thread_threshold;

/* Opens the crash fd (a dup of the marker fd) once; -1 with a Python
 * exception set on failure. Not signal context. */
int rm_crash_open_fd(void);

/* Writes the gasp record for signo to the crash fd using b; returns the
 * native thread count of its sample (0 when unknown). Async-signal-safe. */
uint64_t rm_crash_write_gasp(rm_dump_buf *b, int signo);

/* Adds the platform-independent entries of _crash_state() to py_res;
 * -1 with a Python exception set on failure. */
int rm_crash_state_common(PyObject *py_res, int python_stacks);

#endif
