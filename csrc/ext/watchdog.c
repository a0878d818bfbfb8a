/* SPDX-License-Identifier: MIT */
/* watchdog.c: a C thread that dumps when a test outlives its deadline, without killing it. */
#include "ext.h"

#include <errno.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#include <time.h>
#endif

/* Longest deadline accepted: a year, so microsecond arithmetic never
 * overflows. */
#define RM_WD_MAX_SEC (366.0 * 86400.0)
#define RM_WD_NEVER UINT64_MAX

/* Everything below is guarded by the watchdog lock. Arming and cancelling
 * only store a deadline: the thread is woken only when the new deadline is
 * earlier than the one it sleeps towards, so a test that finishes in time
 * costs a lock, a clock read and an unlock. */
static uint64_t wd_deadline; /* CLOCK_MONOTONIC usec; 0: disarmed */
static uint64_t wd_interval; /* usec between repeats */
static uint64_t wd_armed_at;
static uint64_t wd_sleeping_until = RM_WD_NEVER;
static unsigned wd_repeat;
static int wd_started;

/* The dumps of the watchdog thread: it is the only user. */
static rm_dump_buf wd_buf;

static uint64_t now_usec(void)
{
    return (uint64_t)(rm_monotonic() * 1e6);
}

/* Writes event what=hang and a full dump. Runs on the watchdog thread
 * without the GIL (the hung test may hold it forever): the Python stacks
 * come from faulthandler's handler, which reads thread states without it. */
static void fire(uint64_t waited, uint64_t timeout, unsigned repeat)
{
    int fd = rm_crash_fd();
    rm_sample s;
    if (rm_sample_self(&s, RM_READ_MARK) != 0)
        s.valid = 0;
    rm_line_begin(&wd_buf.line, "event");
    rm_line_cstr(&wd_buf.line, "what", "hang");
    rm_line_identity(&wd_buf.line);
    rm_line_usec(&wd_buf.line, "waited", waited);
    rm_line_usec(&wd_buf.line, "timeout", timeout);
    rm_line_u64(&wd_buf.line, "repeat", repeat);
    rm_line_sample(&wd_buf.line, &s);
    rm_line_end(&wd_buf.line);
    rm_dump_write_line(fd, &wd_buf.line, 1);
    rm_dump_full(fd, &wd_buf, "hang", 0);
}

#ifndef _WIN32

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond;

/* The timed wait towards a CLOCK_MONOTONIC deadline (usec), with wd_lock
 * held. A wall-clock step (NTP, a suspended VM) must neither fire the
 * watchdog early nor delay it. */
#ifdef __APPLE__
/* macOS has no pthread_condattr_setclock: its condition variables time out
 * against the wall clock. pthread_cond_timedwait_relative_np takes an
 * interval instead, so the monotonic deadline works unchanged; the loop
 * re-reads the clock after every wake-up. */
static int wd_cond_init(void)
{
    return pthread_cond_init(&wd_cond, NULL);
}

static void wd_timedwait(uint64_t deadline, uint64_t now)
{
    struct timespec rel;
    uint64_t wait = deadline - now;
    rel.tv_sec = (time_t)(wait / 1000000u);
    rel.tv_nsec = (long)(wait % 1000000u) * 1000;
    pthread_cond_timedwait_relative_np(&wd_cond, &wd_lock, &rel);
}
#else
static int wd_cond_init(void)
{
    pthread_condattr_t attr;
    int err;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    err = pthread_cond_init(&wd_cond, &attr);
    pthread_condattr_destroy(&attr);
    return err;
}

static void wd_timedwait(uint64_t deadline, uint64_t now)
{
    struct timespec ts;
    (void)now;
    ts.tv_sec = (time_t)(deadline / 1000000u);
    ts.tv_nsec = (long)(deadline % 1000000u) * 1000;
    pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
}
#endif

static void *wd_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd_lock);
    for (;;) {
        uint64_t now = now_usec();
        if (!wd_deadline) {
            wd_sleeping_until = RM_WD_NEVER;
            pthread_cond_wait(&wd_cond, &wd_lock);
        } else if (now < wd_deadline) {
            wd_sleeping_until = wd_deadline;
            wd_timedwait(wd_deadline, now);
        } else {
            uint64_t waited = now - wd_armed_at, timeout = wd_interval;
            unsigned repeat = ++wd_repeat;
            wd_deadline = now + wd_interval;
            pthread_mutex_unlock(&wd_lock);
            fire(waited, timeout, repeat);
            pthread_mutex_lock(&wd_lock);
        }
    }
    return NULL;
}

/* A forked child has no watchdog thread; its lock may be held by the
 * parent's. Start afresh, disarmed. */
static void wd_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&wd_lock, &fresh, sizeof(fresh));
    wd_started = 0;
    wd_deadline = 0;
    wd_sleeping_until = RM_WD_NEVER;
}

/* Called with wd_lock held. */
static int wd_start(void)
{
    pthread_attr_t tattr;
    pthread_t tid;
    sigset_t all, old;
    int err;
    static int atfork_done;

    if (wd_started)
        return 0;
    err = wd_cond_init();
    if (err)
        return err;
    /* signals for the process go to other threads, never to this one */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&tattr);
    pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&tid, &tattr, wd_main, NULL);
    pthread_attr_destroy(&tattr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return err;
#ifdef __linux__
    pthread_setname_np(tid, "resmon-watchdog");
#endif
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, wd_after_fork);
        atfork_done = 1;
    }
    wd_started = 1;
    return 0;
}

static int wd_arm(uint64_t interval)
{
    int err = 0;
    pthread_mutex_lock(&wd_lock);
    if (interval) {
        uint64_t now = now_usec();
        if ((err = wd_start()) == 0) {
            wd_armed_at = now;
            wd_interval = interval;
            wd_repeat = 0;
            wd_deadline = now + interval;
            if (wd_deadline < wd_sleeping_until)
                pthread_cond_signal(&wd_cond);
        }
    } else {
        wd_deadline = 0; /* the thread finds out when it next wakes */
    }
    pthread_mutex_unlock(&wd_lock);
    return err;
}

#else /* Windows: the same loop with SRW lock and condition variable */

static SRWLOCK wd_lock = SRWLOCK_INIT;
static CONDITION_VARIABLE wd_cond = CONDITION_VARIABLE_INIT;

static DWORD WINAPI wd_main(LPVOID arg)
{
    (void)arg;
    AcquireSRWLockExclusive(&wd_lock);
    for (;;) {
        uint64_t now = now_usec();
        if (!wd_deadline) {
            wd_sleeping_until = RM_WD_NEVER;
            SleepConditionVariableSRW(&wd_cond, &wd_lock, INFINITE, 0);
        } else if (now < wd_deadline) {
            uint64_t ms = (wd_deadline - now + 999) / 1000;
            wd_sleeping_until = wd_deadline;
            SleepConditionVariableSRW(&wd_cond, &wd_lock, ms > 0x7fffffff ? 0x7fffffff : (DWORD)ms,
                                      0);
        } else {
            uint64_t waited = now - wd_armed_at, timeout = wd_interval;
            unsigned repeat = ++wd_repeat;
            wd_deadline = now + wd_interval;
            ReleaseSRWLockExclusive(&wd_lock);
            fire(waited, timeout, repeat);
            AcquireSRWLockExclusive(&wd_lock);
        }
    }
    return 0;
}

static int wd_arm(uint64_t interval)
{
    int err = 0;
    AcquireSRWLockExclusive(&wd_lock);
    if (interval) {
        uint64_t now = now_usec();
        if (!wd_started) {
            HANDLE h = CreateThread(NULL, 0, wd_main, NULL, 0, NULL);
            if (h) {
                CloseHandle(h);
                wd_started = 1;
            } else {
                err = EAGAIN;
            }
        }
        if (!err) {
            wd_armed_at = now;
            wd_interval = interval;
            wd_repeat = 0;
            wd_deadline = now + interval;
            if (wd_deadline < wd_sleeping_until)
                WakeConditionVariable(&wd_cond);
        }
    } else {
        wd_deadline = 0;
    }
    ReleaseSRWLockExclusive(&wd_lock);
    return err;
}

#endif

/* dump_after(seconds): None or 0 cancels. The first call also makes sure
 * faulthandler is registered so the dump has the Python stacks. */
PyObject *rm_py_dump_after(PyObject *self, PyObject *arg)
{
    double sec = 0.0;
    int err;
    (void)self;
    if (arg != Py_None) {
        sec = PyFloat_AsDouble(arg);
        if (sec == -1.0 && PyErr_Occurred())
            return NULL;
        if (!(sec >= 0.0) || sec > RM_WD_MAX_SEC) {
            PyErr_SetString(PyExc_ValueError, "dump_after: seconds must be between 0 and a year");
            return NULL;
        }
    }
    if (sec > 0.0 && rm_crash_ensure_engine() != 0)
        return NULL;
    if (sec > 0.0 && sec < 1e-3)
        sec = 1e-3;
    err = wd_arm((uint64_t)(sec * 1e6));
    if (err) {
        errno = err;
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "pthread_create");
    }
    Py_RETURN_NONE;
}
