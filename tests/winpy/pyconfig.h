/* SPDX-License-Identifier: MIT */
/* pyconfig.h: a minimal stand-in for CPython's Windows PC/pyconfig.h, so the
 * extension's Windows code compiles with mingw-w64 here (tests/test_windows_ext.py). */
#ifndef Py_CONFIG_H
#define Py_CONFIG_H
#define MS_WIN32
#define MS_WIN64
#define MS_WINDOWS
#define NT_THREADS
#define WITH_THREAD
#define SIZEOF_VOID_P 8
#define SIZEOF_SIZE_T 8
#define SIZEOF_INT 4
#define SIZEOF_LONG 4
#define SIZEOF_LONG_LONG 8
#define SIZEOF_SHORT 2
#define SIZEOF_DOUBLE 8
#define SIZEOF_FLOAT 4
#define SIZEOF_FPOS_T 8
#define SIZEOF_TIME_T 8
#define SIZEOF_WCHAR_T 2
#define SIZEOF_OFF_T 4
#define SIZEOF_PID_T 8
#define SIZEOF__BOOL 1
#define HAVE_STDARG_PROTOTYPES
#define PY_LONG_LONG long long
#define PY_FORMAT_SIZE_T "I"
#define Py_ENABLE_SHARED 1
#define HAVE_DECLSPEC_DLL
#define PLATFORM "win32"
#define ALIGNOF_SIZE_T 8
#define HAVE_WCHAR_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_FCNTL_H 1
#define DONT_HAVE_SIG_ALARM
#define DONT_HAVE_SIG_PAUSE
#define LONG_BIT 32
#define PY_SSIZE_T_CLEAN
#define HAVE_SSIZE_T 1
#define Py_NO_ENABLE_SHARED
#endif
