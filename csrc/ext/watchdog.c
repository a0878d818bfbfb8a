/* SPDX-License-Identifier: MIT */
/* watchdog.c: a C thread that dumps when a test outlives its deadline, without killing it. */
#include "ext.h"

#include <errno.h>
#include <stdlib.h>
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

/* ---- the thread watch: native threads counted during a test ----
 *
 * A thread limit checked when a phase ends misses threads that a test
 * started and joined. While armed, a second C thread reads the process's
 * task count (/proc/self/stat num_threads) every RM_TW_POLL_USEC and keeps
 * the highest; disarmed, it sleeps on a condition variable and costs
 * nothing. Threads that live shorter than one poll can still be missed.
 * Linux only: elsewhere thread_watch() says it cannot (returns False). */

/* Poll interval: 2 ms catches a thread that lives a few ms; a pread of
 * /proc/self/stat costs ~6 us, so an armed watch takes ~0.3% of a core. */
#define RM_TW_POLL_USEC 2000

#ifdef __linux__
#include <fcntl.h>
#include <unistd.h>

static pthread_mutex_t tw_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tw_cond = PTHREAD_COND_INITIALIZER;
static int tw_on, tw_started, tw_fd = -1;
static long tw_max;     /* highest count seen while armed, the watcher included */
static unsigned tw_gen; /* counts arms: a reading is folded into its own interval */

/* num_threads (field 20) of /proc/self/stat, or -1. The command name
 * (field 2) may hold spaces and parentheses: fields are counted after the
 * last ')'. */
static long tw_read(void)
{
    char buf[1024];
    ssize_t n = pread(tw_fd, buf, sizeof(buf) - 1, 0);
    char *p;
    int field;
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* after ')': " S ppid ..." with S as field 3; num_threads is field 20 */
    for (field = 2; field < 20 && *p; p++)
        if (*p == ' ')
            field++;
    return *p ? strtol(p, NULL, 10) : -1;
}

static void *tw_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&tw_lock);
    for (;;) {
        long n;
        unsigned gen;
        struct timespec ts = {0, RM_TW_POLL_USEC * 1000L};
        while (!tw_on)
            pthread_cond_wait(&tw_cond, &tw_lock);
        gen = tw_gen;
        pthread_mutex_unlock(&tw_lock);
        nanosleep(&ts, NULL);
        n = tw_read();
        pthread_mutex_lock(&tw_lock);
        /* a reading taken across a disarm and re-arm belongs to the
         * previous test: dropped */
        if (tw_on && tw_gen == gen && n > tw_max)
            tw_max = n;
    }
    return NULL;
}

static void tw_after_fork(void)
{
    pthread_mutex_t fresh_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cond = PTHREAD_COND_INITIALIZER;
    memcpy(&tw_lock, &fresh_lock, sizeof(fresh_lock));
    memcpy(&tw_cond, &fresh_cond, sizeof(fresh_cond));
    tw_started = 0;
    tw_on = 0;
    if (tw_fd >= 0)
        close(tw_fd);
    tw_fd = -1;
}

/* Called with tw_lock held. Returns 0 or an errno value. */
static int tw_start(void)
{
    pthread_attr_t tattr;
    pthread_t tid;
    sigset_t all, old;
    int err;
    static int atfork_done;

    if (tw_started)
        return 0;
    if (tw_fd < 0 && (tw_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) < 0)
        return errno;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&tattr);
    pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&tid, &tattr, tw_main, NULL);
    pthread_attr_destroy(&tattr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return err;
    pthread_setname_np(tid, "resmon-threads");
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, tw_after_fork);
        atfork_done = 1;
    }
    tw_started = 1;
    return 0;
}

/* thread_watch(on) -> bool or int
 * thread_watch(True) arms the watch (starting its thread once) and returns
 * True, or False where it cannot run (not Linux). thread_watch(False)
 * disarms it and returns the highest count of native threads seen while it
 * was armed, a count taken now included, the watch's own thread excluded;
 * 0 if it was not armed. */
PyObject *rm_py_thread_watch(PyObject *self, PyObject *arg)
{
    int on = PyObject_IsTrue(arg), err = 0;
    long result = 0, now;
    (void)self;
    if (on < 0)
        return NULL;
    pthread_mutex_lock(&tw_lock);
    if (on) {
        if ((err = tw_start()) == 0) {
            tw_max = tw_read();
            tw_gen++;
            tw_on = 1;
            pthread_cond_signal(&tw_cond);
        }
    } else if (tw_on) {
        now = tw_read();
        result = (now > tw_max ? now : tw_max) - 1;
        tw_on = 0;
    }
    pthread_mutex_unlock(&tw_lock);
    if (err) {
        errno = err;
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "thread_watch");
    }
    if (on)
        Py_RETURN_TRUE;
    return PyLong_FromLong(result < 0 ? 0 : result);
}

#else /* no /proc/self/stat: the caller counts at phase ends */

PyObject *rm_py_thread_watch(PyObject *self, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    (void)self;
    if (on < 0)
        return NULL;
    if (on)
        Py_RETURN_FALSE;
    return PyLong_FromLong(0);
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
