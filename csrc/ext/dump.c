/* SPDX-License-Identifier: MIT */
/* dump.c: thread dumps: dump records, native thread inventory, Python stacks via faulthandler. */
#include "ext.h"

#include <errno.h>
#include <string.h>
#ifdef _WIN32
#include <io.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif
#ifdef __linux__
#include <sys/syscall.h>
#endif

/* faulthandler's user-signal handler and a signal number it was registered
 * for with chain=False: calling it dumps every Python thread to the fd given
 * to faulthandler.register(), without the GIL (see docs/crash.md). */
static void (*volatile py_engine)(int);
static volatile sig_atomic_t py_engine_sig;

#ifdef __linux__
/* clock ticks per second of /proc/<pid>/task/<tid>/stat; read once outside
 * any signal handler because sysconf() is not async-signal-safe. */
static long clk_tck = 100;
#endif

void rm_dump_init(void)
{
#ifdef __linux__
    long t = sysconf(_SC_CLK_TCK);
    if (t > 0)
        clk_tck = t;
#endif
}

void rm_dump_set_engine(void (*engine)(int), int signum)
{
    /* set with the GIL held; a handler reads one pointer-sized word */
    py_engine_sig = signum;
    py_engine = engine;
}

int rm_dump_engine_signo(void)
{
    return rm_dump_have_engine() ? (int)py_engine_sig : 0;
}

int rm_dump_have_engine(void)
{
    return py_engine != NULL;
}

int rm_dump_python(void)
{
    /* Async-signal-safe as far as faulthandler's own handler is: it reads
     * the thread states without the GIL and calls only write(2). errno is
     * restored by faulthandler. */
    void (*engine)(int) = py_engine;
    if (!engine)
        return -1;
    engine(py_engine_sig);
    return 0;
}

/* ---- small text writers (async-signal-safe: memory and write(2)) ---- */

static void text_reset(rm_dump_buf *b)
{
    b->text_len = 0;
}

static void text_put(rm_dump_buf *b, const char *s, size_t n)
{
    if (n > sizeof(b->text) - b->text_len)
        n = sizeof(b->text) - b->text_len;
    memcpy(b->text + b->text_len, s, n);
    b->text_len += n;
}

static void text_cstr(rm_dump_buf *b, const char *s)
{
    text_put(b, s, strlen(s));
}

static void text_u64(rm_dump_buf *b, uint64_t v)
{
    char num[24];
    text_put(b, num, rm_fmt_u64(num, v));
}

static void text_flush(int fd, rm_dump_buf *b)
{
    if (b->text_len)
        (void)rm_write_all(fd, b->text, b->text_len);
    b->text_len = 0;
}

/* ---- dump records ---- */

void rm_dump_write_line(int fd, rm_line *l, int also_records)
{
    /* Async-signal-safe: write(2) only; errno preserved. fd is the job log:
       the record starts its own line there (pytest -v may have left a node
       id open), and goes to the record file as it is. */
    int saved = errno;
    if (fd >= 0)
        (void)rm_line_write_log(fd, l);
    if (also_records && rm_g.rec_fd >= 0 && rm_g.rec_fd != fd)
        (void)rm_write_all(rm_g.rec_fd, l->buf, l->len);
    errno = saved;
}

void rm_dump_record(int fd, rm_dump_buf *b, const char *at, const char *reason, int signo,
                    long pythreads, int also_records)
{
    /* Async-signal-safe: the probe (pread, getrusage), clocks, write(2). */
    rm_sample s;
    rm_line_begin(&b->line, "dump");
    rm_line_cstr(&b->line, "at", at);
    rm_line_identity(&b->line);
    if (reason)
        rm_line_cstr(&b->line, "reason", reason);
    if (signo > 0) {
        rm_line_cstr(&b->line, "signal", rm_signal_name(signo));
        rm_line_u64(&b->line, "signo", (uint64_t)signo);
    }
    if (at[0] == 'b') { /* the resource line comes first: sample at begin only */
        if (rm_sample_self(&s, RM_READ_MARK) != 0)
            s.valid = 0;
        rm_line_sample(&b->line, &s);
        if (pythreads >= 0)
            rm_line_u64(&b->line, "pythr", (uint64_t)pythreads);
    }
    rm_line_end(&b->line);
    rm_dump_write_line(fd, &b->line, also_records);
}

/* ---- native thread inventory ---- */

#ifdef __linux__

/* Escaped, quoted: a thread name is any 15 bytes the thread chose. */
static void text_quoted(rm_dump_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    text_put(b, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            text_put(b, (const char *)&c, 1);
        } else {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            text_put(b, e, 4);
        }
    }
    text_put(b, "\"", 1);
}

/* seconds with two decimals, from clock ticks */
static void text_ticks(rm_dump_buf *b, uint64_t ticks)
{
    uint64_t cs = ticks * 100u / (uint64_t)clk_tck;
    char frac[3] = {(char)('0' + cs % 100 / 10), (char)('0' + cs % 10), 0};
    text_u64(b, cs / 100);
    text_put(b, ".", 1);
    text_put(b, frac, 2);
}

/* struct linux_dirent64, as getdents64(2) fills it. */
struct rm_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Parses "tid (comm) S ... utime stime" of /proc/self/task/<tid>/stat into
 * the text buffer. Async-signal-safe: memory only. */
static void task_line(rm_dump_buf *b, const char *tid, size_t tid_len, const char *st, size_t n,
                      uint64_t self_tid)
{
    const char *open = memchr(st, '(', n), *close = NULL, *p, *end = st + n;
    uint64_t utime = 0, stime = 0, t = 0;
    char state = '?';
    int field;
    size_t i;

    for (i = n; i > 0; i--) /* comm may hold ')': the last one closes it */
        if (st[i - 1] == ')') {
            close = st + i - 1;
            break;
        }
    text_cstr(b, "  tid=");
    text_put(b, tid, tid_len);
    for (i = 0; i < tid_len; i++)
        t = t * 10 + (uint64_t)(tid[i] - '0');
    if (!open || !close || close < open) {
        text_cstr(b, " state=? (stat unreadable)\n");
        return;
    }
    text_cstr(b, " name=");
    text_quoted(b, open + 1, (size_t)(close - open - 1));
    /* fields after ")": 3 state ... 14 utime 15 stime */
    p = close + 1;
    for (field = 2; p < end && field < 15;) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        field++;
        if (field == 3) {
            state = *p;
        } else if (field == 14 || field == 15) {
            uint64_t v = 0;
            const char *q = p;
            while (q < end && *q >= '0' && *q <= '9' && q - p < 20)
                v = v * 10 + (uint64_t)(*q++ - '0');
            if (field == 14)
                utime = v;
            else
                stime = v;
        }
        while (p < end && *p != ' ')
            p++;
    }
    text_cstr(b, " state=");
    text_put(b, &state, 1);
    text_cstr(b, " cpu=");
    text_ticks(b, utime + stime);
    text_cstr(b, " utime=");
    text_ticks(b, utime);
    text_cstr(b, " stime=");
    text_ticks(b, stime);
    if (t == self_tid)
        text_cstr(b, " current");
    text_cstr(b, "\n");
}

int rm_dump_native(int fd, rm_dump_buf *b)
{
    /* Async-signal-safe: open(2), syscall(getdents64), openat(2), read(2),
     * close(2), write(2); fixed buffers in b; at most RM_DUMP_MAX_TASKS
     * tasks listed and RM_DUMP_MAX_SCAN directory entries scanned. */
    int saved = errno, dir;
    uint64_t self_tid = (uint64_t)syscall(SYS_gettid), listed = 0, more = 0, scanned = 0;
    long got;

    dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    text_reset(b);
    if (dir < 0) {
        text_cstr(b, "Native threads: /proc/self/task unreadable\n");
        text_flush(fd, b);
        errno = saved;
        return -1;
    }
    text_cstr(b, "Native threads (tid, name, state, cpu seconds) from /proc/self/task:\n");
    text_flush(fd, b);
    while ((got = syscall(SYS_getdents64, dir, b->dents, sizeof(b->dents))) > 0) {
        long off = 0;
        while (off < got && scanned < RM_DUMP_MAX_SCAN) {
            struct rm_dirent64 *d = (struct rm_dirent64 *)(void *)(b->dents + off);
            size_t nlen = 0;
            if (d->d_reclen == 0)
                break;
            off += d->d_reclen;
            scanned++;
            while (nlen < 16 && d->d_name[nlen] >= '0' && d->d_name[nlen] <= '9')
                nlen++;
            if (nlen == 0 || d->d_name[nlen] != '\0')
                continue; /* "." and ".." */
            if (listed >= RM_DUMP_MAX_TASKS) {
                more++;
                continue;
            }
            listed++;
            {
                char path[32];
                int sfd;
                ssize_t n = -1;
                memcpy(path, d->d_name, nlen);
                memcpy(path + nlen, "/stat", 6);
                sfd = openat(dir, path, O_RDONLY | O_CLOEXEC);
                if (sfd >= 0) {
                    n = read(sfd, b->stat, sizeof(b->stat));
                    close(sfd);
                }
                if (n > 0) {
                    task_line(b, d->d_name, nlen, b->stat, (size_t)n, self_tid);
                } else {
                    /* the thread exited between getdents and open */
                    text_cstr(b, "  tid=");
                    text_put(b, d->d_name, nlen);
                    text_cstr(b, " state=gone\n");
                }
                if (b->text_len > sizeof(b->text) - 256)
                    text_flush(fd, b);
            }
        }
        if (scanned >= RM_DUMP_MAX_SCAN)
            break;
    }
    close(dir);
    if (more) {
        text_cstr(b, "  ... ");
        text_u64(b, more);
        text_cstr(b, " more (listing stops at ");
        text_u64(b, RM_DUMP_MAX_TASKS);
        text_cstr(b, ")\n");
    }
    text_cstr(b, "Native threads: ");
    text_u64(b, listed + more);
    text_cstr(b, "\n");
    text_flush(fd, b);
    errno = saved;
    return 0;
}

#else /* !__linux__: the OS gives a count, not a list */

int rm_dump_native(int fd, rm_dump_buf *b)
{
    /* Async-signal-safe where the probe is: one thread count, write(2). */
    int saved = errno;
    rm_sample s;
    text_reset(b);
    if (rm_sample_self(&s, RM_READ_THREADS) == 0 && (s.valid & RM_HAVE_THREADS)) {
        text_cstr(b, "Native threads: ");
        text_u64(b, s.threads);
        text_cstr(b, " (this OS gives a count, not a per-thread list)\n");
    } else {
        text_cstr(b, "Native threads: unknown on this OS\n");
    }
    text_flush(fd, b);
    errno = saved;
    return 0;
}

#endif

void rm_dump_full(int fd, rm_dump_buf *b, const char *reason, int signo)
{
    /* Async-signal-safe: dump records, faulthandler's engine, the native
     * inventory. Python stacks appear only when the engine is registered. */
    rm_dump_record(fd, b, "begin", reason, signo, -1, 1);
    if (rm_dump_python() != 0) {
        text_reset(b);
        text_cstr(b, "Python stacks: not available (faulthandler not registered)\n");
        text_flush(fd, b);
    }
    rm_dump_native(fd, b);
    rm_dump_record(fd, b, "end", reason, signo, -1, 1);
}

/* ---- Python functions (not signal context) ---- */

/* _dump_record(fd, at, reason, records): a dump record with a sample at
 * begin, written to fd and, when records is true, to the record file. */
PyObject *rm_py_dump_record(PyObject *self, PyObject *args)
{
    int fd, records;
    const char *at, *reason;
    long pythreads;
    rm_dump_buf b; /* on this thread's stack: callers never share it */
    (void)self;
    if (!PyArg_ParseTuple(args, "iszp", &fd, &at, &reason, &records))
        return NULL;
    if (strcmp(at, "begin") != 0 && strcmp(at, "end") != 0) {
        PyErr_SetString(PyExc_ValueError, "at must be 'begin' or 'end'");
        return NULL;
    }
    pythreads = at[0] == 'b' ? rm_python_thread_count() : -1;
    Py_BEGIN_ALLOW_THREADS rm_dump_record(fd, &b, at, reason, 0, pythreads, records);
    Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

/* _dump_native(fd): the native thread inventory, written to fd. */
PyObject *rm_py_dump_native(PyObject *self, PyObject *args)
{
    int fd;
    rm_dump_buf b;
    (void)self;
    if (!PyArg_ParseTuple(args, "i", &fd))
        return NULL;
    rm_dump_init();
    Py_BEGIN_ALLOW_THREADS rm_dump_native(fd, &b);
    Py_END_ALLOW_THREADS Py_RETURN_NONE;
}
