/* SPDX-License-Identifier: MIT */
/* main.c: resmon-sampler: samples a command's process tree and the machine into a record log. */
#include "sampler.h"

#include "probe/probe.h"
#include "record/record.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- constants ---------------------------------------------------------- */

#define PROG "resmon-sampler"

/* Exit codes (also in --help and docs/sampler.md). In wrap mode the
 * sampler otherwise exits with the command's status. */
#define EXIT_FAIL 1     /* cannot run: no log in watch mode, no such pid, --stop failed */
#define EXIT_USAGE 2    /* bad options */
#define EXIT_NOEXEC 126 /* the command exists but cannot be executed */
#define EXIT_NOCMD 127  /* the command was not found */

#define MAX_PATHS 8                /* --path given more often is a usage error */
#define MAX_TOP 100                /* --top upper bound */
#define TREE_LISTED 12             /* tree members listed per sample record */
#define CMD_SHOWN 48               /* bytes of a command line in a sample record */
#define CMD_CACHE 64               /* command lines remembered (read once per 30 s) */
#define CMD_REFRESH 30000000       /* usec before a cached command line is re-read */
#define GONE_TRACK 256             /* tree members compared between samples */
#define GONE_MIN_RSS (32ull << 20) /* smaller processes vanish without an event */
#define KMSG_BUF 8192              /* /dev/kmsg returns EINVAL for smaller buffers */
#define KMSG_ROUNDS 256            /* records read per wake-up: the loop gets back to sampling */
#define ENTRY_ROOM 220             /* bytes one listed process needs in a record */
/* The /proc reader looks for new processes (and reads the others' RSS in
 * turn) at most this often; in between it re-reads only the tree and the
 * top list's candidates. A new process shows up at most 0.5 s late. */
#define RESCAN_USEC 500000
/* A SIGKILL is judged by the last RM_OOM_LAST samples before the command
 * ended that are no older than two intervals plus this: on a loaded
 * machine the sampler itself runs late. */
#define OOM_WINDOW_SLACK 5000000u
/* Tests only (docs/sampler.md): a directory standing in for "/" where the
 * memory cgroup is found (<dir>/proc/self/cgroup) and read. */
#define ENV_CGROUP_ROOT "RESMON_SAMPLER_CGROUP_ROOT"

/* ---- options ------------------------------------------------------------ */

typedef struct options {
    const char *output;
    double interval, echo, grace, pressure;
    int top, fsync, quiet, stop, pid;
    const char *paths[MAX_PATHS];
    int npaths;
    const char *pidfile;
    const char *reader;
    char **cmd;
} options;

static const char usage_text[] =
    "usage: " PROG " [options] -- command [args...]   run and watch a command\n"
    "       " PROG " [options] --pid PID              watch a running process\n"
    "       " PROG " [options] [--pidfile F]          sample the machine (background\n"
    "                                                 with --pidfile) until stopped\n"
    "       " PROG " --stop --pidfile F               stop a background sampler\n"
    "\n"
    "options:\n"
    "  -o, --output PATH          record log (default ci_resource_monitor.log, appended)\n"
    "  -i, --interval SECONDS     sampling interval, 0.1 to 60 (default 1)\n"
    "      --top N                processes listed by RSS per sample, 0 to 100 (default 10)\n"
    "      --path P               disk to report (repeatable; default / and the temp dir)\n"
    "      --echo SECONDS         one-line summary record to stderr every SECONDS\n"
    "      --fsync                fdatasync the log after every record\n"
    "      --grace SECONDS        on SIGINT/SIGTERM: SIGUSR1 to the command, then wait\n"
    "                             this long before forwarding the signal (default 2)\n"
    "      --pressure-threshold PCT  PSI memory some avg10 that starts a pressure\n"
    "                             event (default 10)\n"
    "      --proc-reader R        process table: auto, libproc2 or proc (default auto)\n"
    "  -q, --quiet                no notes on stderr (errors still print)\n"
    "  -h, --help                 this text\n"
    "      --version              print the version\n"
    "\n"
    "exit status: in wrap mode the command's status (its code, or 128+signal);\n"
    "126/127 when it cannot be executed / found. Otherwise 0 when done,\n"
    "1 on a runtime error (no log in watch mode, no such pid, --stop failed),\n"
    "2 on bad options.\n";

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    exit(EXIT_USAGE);
}

static double parse_seconds(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo - 1e-9 && v <= hi + 1e-9)) {
        fprintf(stderr, PROG ": %s wants a number from %g to %g, not '%s'\n%s", opt, lo, hi, s,
                usage_text);
        exit(EXIT_USAGE);
    }
    return v;
}

static long parse_int(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, PROG ": %s wants an integer from %ld to %ld, not '%s'\n%s", opt, lo, hi, s,
                usage_text);
        exit(EXIT_USAGE);
    }
    return v;
}

static void parse_options(int argc, char **argv, options *o)
{
    enum {
        OPT_TOP = 256,
        OPT_PATH,
        OPT_ECHO,
        OPT_FSYNC,
        OPT_GRACE,
        OPT_PRESSURE,
        OPT_PID,
        OPT_PIDFILE,
        OPT_STOP,
        OPT_VERSION,
        OPT_READER
    };
    static const struct option longs[] = {
        {"output", required_argument, NULL, 'o'},
        {"interval", required_argument, NULL, 'i'},
        {"top", required_argument, NULL, OPT_TOP},
        {"path", required_argument, NULL, OPT_PATH},
        {"echo", required_argument, NULL, OPT_ECHO},
        {"fsync", no_argument, NULL, OPT_FSYNC},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"pressure-threshold", required_argument, NULL, OPT_PRESSURE},
        {"pid", required_argument, NULL, OPT_PID},
        {"pidfile", required_argument, NULL, OPT_PIDFILE},
        {"stop", no_argument, NULL, OPT_STOP},
        {"proc-reader", required_argument, NULL, OPT_READER},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->output = "ci_resource_monitor.log";
    o->interval = 1.0;
    o->top = 10;
    o->grace = 2.0;
    o->pressure = 10.0;
    o->reader = "auto";
    opterr = 0;
    /* '+': the first non-option starts the command, as with `env` */
    while ((c = getopt_long(argc, argv, "+:o:i:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (!*optarg)
                usage_error("%s", "--output wants a path");
            o->output = optarg;
            break;
        case 'i':
            o->interval = parse_seconds("--interval", optarg, 0.1, 60);
            break;
        case OPT_TOP:
            o->top = (int)parse_int("--top", optarg, 0, MAX_TOP);
            break;
        case OPT_PATH:
            if (o->npaths == MAX_PATHS)
                usage_error("at most %s --path options", "8");
            o->paths[o->npaths++] = optarg;
            break;
        case OPT_ECHO:
            o->echo = parse_seconds("--echo", optarg, 0.1, 86400);
            break;
        case OPT_FSYNC:
            o->fsync = 1;
            break;
        case OPT_GRACE:
            o->grace = parse_seconds("--grace", optarg, 0, 600);
            break;
        case OPT_PRESSURE:
            o->pressure = parse_seconds("--pressure-threshold", optarg, 0, 100);
            break;
        case OPT_PID:
            o->pid = (int)parse_int("--pid", optarg, 1, INT_MAX);
            break;
        case OPT_PIDFILE:
            if (!*optarg)
                usage_error("%s", "--pidfile wants a path");
            o->pidfile = optarg;
            break;
        case OPT_STOP:
            o->stop = 1;
            break;
        case OPT_READER:
            if (strcmp(optarg, "auto") && strcmp(optarg, "libproc2") && strcmp(optarg, "proc"))
                usage_error("--proc-reader wants auto, libproc2 or proc, not '%s'", optarg);
            o->reader = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        case OPT_VERSION:
            printf(PROG " " RM_VERSION " (record format %d)\n", RM_FORMAT_VERSION);
            exit(0);
        case ':':
            usage_error("option %s needs a value", argv[optind - 1]);
            break;
        default:
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        o->cmd = argv + optind;
    if (o->stop && !o->pidfile)
        usage_error("%s", "--stop needs --pidfile");
    if (o->stop && (o->cmd || o->pid))
        usage_error("%s", "--stop takes no command and no --pid");
    if (o->cmd && o->pid)
        usage_error("%s", "give a command or --pid, not both");
    if (o->cmd && !o->cmd[0][0])
        usage_error("%s", "the command is empty");
}

/* ---- clocks ------------------------------------------------------------- */

static uint64_t mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- signals ------------------------------------------------------------ */

/* The handlers only record the signal and wake the main loop through a
 * self-pipe; all the work happens in the loop.
 * Async-signal-safe: write(2) only; errno is restored. */
static volatile sig_atomic_t pending_stop; /* last SIGINT/SIGTERM/SIGHUP */
static volatile sig_atomic_t stop_count;
static volatile sig_atomic_t pending_usr1;
static int wake_w = -1;

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
        pending_stop = sig;
        stop_count = stop_count + 1;
    } else if (sig == SIGUSR1) {
        pending_usr1 = 1;
    }
    if (wake_w >= 0) {
        ssize_t r = write(wake_w, "", 1); /* full pipe: already awake */
        (void)r;
    }
    errno = saved;
}

static const int handled_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1};

static int install_signals(int *wake_r)
{
    int fds[2];
    struct sigaction sa;
    size_t i;
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    *wake_r = fds[0];
    wake_w = fds[1];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
        sigaction(handled_signals[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGHUP:
        return "HUP";
    case SIGINT:
        return "INT";
    case SIGQUIT:
        return "QUIT";
    case SIGILL:
        return "ILL";
    case SIGABRT:
        return "ABRT";
    case SIGBUS:
        return "BUS";
    case SIGFPE:
        return "FPE";
    case SIGKILL:
        return "KILL";
    case SIGUSR1:
        return "USR1";
    case SIGSEGV:
        return "SEGV";
    case SIGUSR2:
        return "USR2";
    case SIGPIPE:
        return "PIPE";
    case SIGALRM:
        return "ALRM";
    case SIGTERM:
        return "TERM";
    case SIGXCPU:
        return "XCPU";
    default:
        return NULL;
    }
}

/* ---- sampler state ------------------------------------------------------ */

typedef struct cmd_entry {
    int pid;
    char comm[16];
    uint64_t read_at, used_at;
    char cmd[RM_CMD_MAX];
} cmd_entry;

typedef struct gone_entry {
    int pid, ppid, samples;
    uint64_t rss;
    char comm[16];
} gone_entry;

typedef struct sampler {
    options o;
    const char *mode; /* "wrap", "watch", "system" */
    char host[256];
    int log_fd, log_broken, log_need_nl;
    uint64_t log_lost;
    int wake_r;

    rm_probe probe;
    int have_probe;
    unsigned probe_what;
    rm_probe cgprobe; /* the cgroup from ENV_CGROUP_ROOT (tests) */
    int have_cgprobe;
    const char *cg_root;
    rm_ptable pt;
    int have_pt, pt_warned;
    int fd_psi, fd_load, fd_kmsg;
    uint64_t kmsg_t0; /* mono when /dev/kmsg was opened (at its end) */

    pid_t child;   /* wrap: our child; watch: the watched pid */
    int tree_root; /* pid whose descendants form the tree; 0: no tree */
    int pidfd, fd_watch_stat;
    int ended, have_status, status; /* status as from waitpid */
    struct rusage child_ru;
    int have_ru;

    uint64_t t0, next_sample, next_echo, forward_at, last_rescan, ended_at;
    int forward_sig, stopped_by;
    uint64_t seq;

    uint64_t tree_hwm, root_hwm;
    int have_cg_oom0, have_head_oom;
    uint64_t cg_oom0, cg_oom_now, head_oom;
    char head_cg_path[512]; /* the cgroup head_oom was read from */
    rm_oom_window win;      /* the last samples while the command lived */
    int child_rss_seen;     /* the probe could read the command's RSS */
    int pressure_on, lowmem_on;
    int oom_kmsg_tree;
    rm_kmsg_oom oom_kmsg; /* the first kernel OOM report naming the tree */
    uint64_t oom_seen_at; /* when the newest OOM kill of the tree or group was read (0 none) */
    rm_sample last;
    int have_last;

    rm_oom_tree tree;
    gone_entry prev[GONE_TRACK], cur[GONE_TRACK];
    size_t nprev;
    cmd_entry cmds[CMD_CACHE];
    size_t idx[MAX_TOP + TREE_LISTED];
    char cmd_text[1024]; /* the wrapped command, for records */
} sampler;

static sampler S;

static void note(const sampler *s, const char *fmt, const char *a, const char *b)
{
    if (s->o.quiet)
        return;
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* ---- the log ------------------------------------------------------------ */

/* Opens the log for appending. In a world-writable directory (/tmp) the
 * last component must not be a symlink: someone else could have planted it
 * to make us append to their choice of file. */
static int open_log(const char *path, int *refused)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat st;
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, fd, n;

    *refused = 0;
    if (slash == path)
        n = snprintf(dir, sizeof(dir), "/");
    else if (slash)
        n = snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    else
        n = snprintf(dir, sizeof(dir), ".");
    if (n < 0 || (size_t)n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH))
        flags |= O_NOFOLLOW;
    fd = open(path, flags, 0644);
    if (fd < 0 && errno == ELOOP && (flags & O_NOFOLLOW))
        *refused = 1;
    return fd;
}

/* Writes one finished record to the log. On ENOSPC/EIO it warns once and
 * keeps going; records lost meanwhile are counted in a later log_gap event.
 * A record cut by a short write is followed by a newline so the next record
 * starts its own line. */
static void emit_line(sampler *s, const char *buf, size_t n);

static void emit(sampler *s, rm_line *l)
{
    size_t n = rm_line_end(l);
    emit_line(s, l->buf, n);
}

static void emit_line(sampler *s, const char *buf, size_t n)
{
    char out[RM_LINE_MAX + 1];
    size_t k = 0;
    if (s->log_fd < 0)
        return;
    if (s->log_need_nl)
        out[k++] = '\n';
    memcpy(out + k, buf, n);
    k += n;
    if (rm_write_all(s->log_fd, out, k) != 0) {
        int e = errno;
        s->log_lost++;
        s->log_need_nl = 1;
        if (!s->log_broken) {
            s->log_broken = 1;
            fprintf(stderr,
                    PROG ": cannot write %s: %s; sampling goes on, records are lost until "
                         "writes work again\n",
                    s->o.output, strerror(e));
        }
        return;
    }
    s->log_need_nl = 0;
    if (s->o.fsync)
        fdatasync(s->log_fd);
    if (s->log_lost) {
        rm_line l;
        uint64_t lost = s->log_lost;
        size_t m;
        s->log_lost = 0;
        rm_line_begin(&l, "event");
        rm_line_cstr(&l, "what", "log_gap");
        rm_line_u64(&l, "lost", lost);
        m = rm_line_end(&l);
        if (rm_write_all(s->log_fd, l.buf, m) != 0)
            s->log_lost = lost;
        else if (s->log_broken) {
            s->log_broken = 0;
            note(s, "%s%s: writes work again", "", s->o.output);
        }
    }
}

/* Starts a record with the fields every sampler record carries. */
static void begin(sampler *s, rm_line *l, const char *kind)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rm_line_begin(l, kind);
    rm_line_utc(l, "ts", (int64_t)ts.tv_sec, ts.tv_nsec / 1000);
    rm_line_usec(l, "mono", mono_usec());
    rm_line_cstr(l, "host", s->host);
}

static void event_skipped(sampler *s, const char *item, const char *reason, int loud)
{
    rm_line l;
    begin(s, &l, "event");
    rm_line_cstr(&l, "what", "skipped");
    rm_line_cstr(&l, "item", item);
    rm_line_cstr(&l, "reason", reason);
    emit(s, &l);
    if (loud)
        note(s, "skipping %s: %s", item, reason);
}

/* ---- small readers ------------------------------------------------------ */

static ssize_t pread_all(int fd, char *buf, size_t cap)
{
    ssize_t n;
    if (fd < 0)
        return -1;
    do
        n = pread(fd, buf, cap - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* "12.34" from hundredths. */
static void put_hundredths(rm_line *l, const char *key, unsigned v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%u.%02u", v / 100, v % 100);
    if (n > 0 && (size_t)n < sizeof(b))
        rm_line_str(l, key, b, (size_t)n);
}

static const char *cmd_of(sampler *s, const rm_proc *p, uint64_t now)
{
    size_t i, victim = 0;
    cmd_entry *e = NULL;
    for (i = 0; i < CMD_CACHE; i++) {
        if (s->cmds[i].pid == p->pid) {
            e = &s->cmds[i];
            break;
        }
        if (s->cmds[i].used_at < s->cmds[victim].used_at)
            victim = i;
    }
    if (!e) {
        e = &s->cmds[victim];
        e->pid = p->pid;
        e->read_at = 0;
    }
    e->used_at = now;
    if (!e->read_at || now - e->read_at > CMD_REFRESH || strcmp(e->comm, p->comm) != 0) {
        rm_read_cmdline(s->pt.root, p->pid, p->comm, e->cmd, sizeof(e->cmd));
        memcpy(e->comm, p->comm, sizeof(e->comm));
        e->read_at = now;
    }
    return e->cmd;
}

static void put_proc(sampler *s, rm_line *l, const char *prefix, int i, const rm_proc *p,
                     uint64_t now, uint64_t mem_total)
{
    char key[32];
    const char *cmd = cmd_of(s, p, now);
    size_t n = strlen(cmd);
#define KEY(suffix)                                                                                \
    (snprintf(key, sizeof(key), "%s%d_%s", prefix, i, suffix) < (int)sizeof(key) ? key : "bad")
    rm_line_u64(l, KEY("pid"), (uint64_t)p->pid);
    rm_line_u64(l, KEY("ppid"), (uint64_t)p->ppid);
    rm_line_u64(l, KEY("rss"), p->rss);
    if (mem_total)
        put_hundredths(l, KEY("pmem"), (unsigned)(p->rss * 10000 / mem_total));
    rm_line_str(l, KEY("cmd"), cmd, n > CMD_SHOWN ? CMD_SHOWN : n);
#undef KEY
}

/* ---- kernel messages ---------------------------------------------------- */

/* Reads the kernel messages that arrived since the last call (bounded) and
 * turns OOM-kill reports into events. Only a report written after the
 * sampler started that names a process of the tree is proof for the
 * verdict; others still get an event, with in_tree=0. */
static void drain_kmsg(sampler *s)
{
    char buf[KMSG_BUF];
    int round;
    if (s->fd_kmsg < 0)
        return;
    for (round = 0; round < KMSG_ROUNDS; round++) {
        ssize_t n = read(s->fd_kmsg, buf, sizeof(buf));
        rm_kmsg_oom k;
        if (n < 0 && (errno == EINTR || errno == EPIPE))
            continue; /* EPIPE: older records were overwritten */
        if (n < 0 && errno != EAGAIN) {
            /* a reader that keeps failing would keep poll(2) awake */
            int e = errno;
            close(s->fd_kmsg);
            s->fd_kmsg = -1;
            event_skipped(s, "kmsg", strerror(e), 0);
            return;
        }
        if (n <= 0)
            break;
        if (!rm_kmsg_parse_oom(buf, (size_t)n, &k) || !rm_kmsg_is_new(&k, s->kmsg_t0))
            continue;
        {
            rm_line l;
            int in_tree = rm_oom_in_tree(&s->tree, k.pid);
            begin(s, &l, "event");
            rm_line_cstr(&l, "what", "oom_kill");
            rm_line_cstr(&l, "source", "kmsg");
            rm_line_u64(&l, "pid", (uint64_t)k.pid);
            rm_line_cstr(&l, "comm", k.comm);
            rm_line_u64(&l, "in_tree", (uint64_t)in_tree);
            if (k.have_anon_rss)
                rm_line_u64(&l, "anon_rss", k.anon_rss);
            emit(s, &l);
            if (in_tree)
                s->oom_seen_at = mono_usec();
            if (in_tree && !s->oom_kmsg_tree) {
                s->oom_kmsg_tree = 1;
                s->oom_kmsg = k;
            }
        }
    }
}

/* ---- one sample --------------------------------------------------------- */

/* The cgroup the command's memory is charged to: its own, or the one
 * ENV_CGROUP_ROOT names. */
static const rm_probe *cg_probe(const sampler *s)
{
    return s->have_cgprobe ? &s->cgprobe : &s->probe;
}

/* Fills m from the probe, the cgroup fields from the ENV_CGROUP_ROOT probe
 * when there is one. */
static void read_probe(sampler *s, rm_sample *m)
{
    const unsigned cg_what = RM_READ_CGROUP | RM_READ_CG_STAT;
    const uint32_t cg_bits = RM_HAVE_CG_USAGE | RM_HAVE_CG_LIMIT | RM_HAVE_CG_PEAK |
                             RM_HAVE_CG_OOM | RM_HAVE_CG_INACTIVE_FILE;
    rm_sample c;
    memset(m, 0, sizeof(*m));
    if (s->have_probe)
        rm_probe_sample(&s->probe, m, s->have_cgprobe ? s->probe_what & ~cg_what : s->probe_what);
    if (!s->have_cgprobe)
        return;
    memset(&c, 0, sizeof(c));
    rm_probe_sample(&s->cgprobe, &c, cg_what);
    m->valid = (m->valid & ~cg_bits) | (c.valid & cg_bits);
    m->cg_usage = c.cg_usage;
    m->cg_limit = c.cg_limit;
    m->cg_peak = c.cg_peak;
    m->cg_oom_kills = c.cg_oom_kills;
    m->cg_inactive_file = c.cg_inactive_file;
}

/* The fields of a sample the record writer does not know. */
static void put_sample_extra(rm_line *l, const rm_sample *m)
{
    if (m->valid & RM_HAVE_CG_INACTIVE_FILE)
        rm_line_u64(l, "cg_inactive_file", m->cg_inactive_file);
}

/* Memory events, and the window of samples the verdict judges a SIGKILL
 * by. before_end: the command was alive when m was read. */
static void check_memory_events(sampler *s, const rm_sample *m, uint64_t now, int before_end)
{
    int low = 0, recovered = 1;
    if (before_end)
        rm_oom_window_add(&s->win, now, rm_mem_judge(m));
    if ((m->valid & RM_HAVE_MEM_AVAIL) && (m->valid & RM_HAVE_MEM_TOTAL) && m->mem_total) {
        uint64_t pct = m->mem_avail * 100 / m->mem_total;
        low |= pct < 5;
        recovered &= pct >= 10;
    }
    if ((m->valid & RM_HAVE_CG_USAGE) && (m->valid & RM_HAVE_CG_LIMIT) &&
        m->cg_limit != RM_NO_LIMIT && m->cg_limit) {
        /* the working set: page cache at the limit is not low memory */
        uint64_t ws = 0, pct;
        rm_cg_working_set(m, &ws);
        pct = ws / (m->cg_limit / 100 ? m->cg_limit / 100 : 1);
        low |= pct >= 95;
        recovered &= pct < 90;
    }
    if (low != s->lowmem_on && (low || recovered)) {
        rm_line l;
        s->lowmem_on = low;
        begin(s, &l, "event");
        rm_line_cstr(&l, "what", "low_memory");
        rm_line_cstr(&l, "at", low ? "start" : "end");
        rm_line_sample(&l, m);
        put_sample_extra(&l, m);
        emit(s, &l);
    }
    if ((m->valid & RM_HAVE_CG_OOM)) {
        if (!s->have_cg_oom0) {
            /* the count before the command started, when the head read the
             * same group; else this first sample's */
            s->have_cg_oom0 = 1;
            s->cg_oom0 = s->cg_oom_now = m->cg_oom_kills;
            if (s->have_head_oom && s->head_oom <= m->cg_oom_kills &&
                strcmp(s->head_cg_path, cg_probe(s)->cg_path) == 0)
                s->cg_oom0 = s->cg_oom_now = s->head_oom;
        }
        if (m->cg_oom_kills > s->cg_oom_now) {
            rm_line l;
            begin(s, &l, "event");
            rm_line_cstr(&l, "what", "oom_kill");
            rm_line_cstr(&l, "source", "cgroup");
            rm_line_u64(&l, "cg_oom", m->cg_oom_kills);
            rm_line_u64(&l, "new", m->cg_oom_kills - s->cg_oom_now);
            rm_line_cstr(&l, "cgroup", cg_probe(s)->cg_path);
            emit(s, &l);
            s->cg_oom_now = m->cg_oom_kills;
            s->oom_seen_at = now;
        }
    }
}

static void check_pressure(sampler *s, const rm_psi *psi)
{
    unsigned th = (unsigned)(s->o.pressure * 100 + 0.5);
    int on = s->pressure_on ? psi->some10 * 2 >= th : psi->some10 >= th;
    if (th == 0 || on == s->pressure_on)
        return;
    s->pressure_on = on;
    {
        rm_line l;
        begin(s, &l, "event");
        rm_line_cstr(&l, "what", "pressure");
        rm_line_cstr(&l, "at", on ? "start" : "end");
        put_hundredths(&l, "psi_some10", psi->some10);
        put_hundredths(&l, "psi_full10", psi->full10);
        put_hundredths(&l, "psi_threshold", th);
        emit(s, &l);
    }
}

static int cmp_gone(const void *a, const void *b)
{
    const gone_entry *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Compares the tree with the previous sample: a big member that vanished
 * (an xdist worker that crashed or was killed) gets an event. */
static void check_gone(sampler *s, size_t ncur)
{
    size_t i, j = 0, events = 0;
    qsort(s->cur, ncur, sizeof(s->cur[0]), cmp_gone);
    for (i = 0; i < ncur; i++) {
        while (j < s->nprev && s->prev[j].pid < s->cur[i].pid)
            j++;
        if (j < s->nprev && s->prev[j].pid == s->cur[i].pid)
            s->cur[i].samples = s->prev[j].samples + 1;
    }
    for (i = 0, j = 0; i < s->nprev && events < 16; i++) {
        const gone_entry *g = &s->prev[i];
        while (j < ncur && s->cur[j].pid < g->pid)
            j++;
        if ((j < ncur && s->cur[j].pid == g->pid) || g->pid == s->child || g->rss < GONE_MIN_RSS ||
            g->samples < 1)
            continue;
        {
            rm_line l;
            begin(s, &l, "event");
            rm_line_cstr(&l, "what", "proc_gone");
            rm_line_u64(&l, "pid", (uint64_t)g->pid);
            rm_line_u64(&l, "ppid", (uint64_t)g->ppid);
            rm_line_u64(&l, "rss", g->rss);
            rm_line_cstr(&l, "comm", g->comm);
            emit(s, &l);
            events++;
        }
    }
    memcpy(s->prev, s->cur, ncur * sizeof(s->cur[0]));
    s->nprev = ncur;
}

/* Tree members an echo line lists (pid and rss only): enough for the
 * report to credit each xdist worker's growth from the job log alone. */
#define ECHO_TREE 8

static void write_echo(sampler *s, const rm_sample *m, uint64_t tree_rss, size_t tree_n,
                       const rm_proc *const *tree, size_t ntree, const rm_proc *top0, uint64_t now)
{
    rm_line l;
    char text[256];
    int n, k = 0;
    size_t i;
    begin(s, &l, "echo");
    rm_line_usec(&l, "wall", now - s->t0);
    if (s->tree_root) {
        rm_line_u64(&l, "tree_rss", tree_rss);
        rm_line_u64(&l, "tree_n", tree_n);
    }
    if (s->tree_root)
        rm_line_u64(&l, "tree_hwm", s->tree_hwm);
    if (m->valid & RM_HAVE_MEM_AVAIL)
        rm_line_u64(&l, "mem_avail", m->mem_avail);
    if (m->valid & RM_HAVE_MEM_TOTAL)
        rm_line_u64(&l, "mem_total", m->mem_total);
    if (m->valid & RM_HAVE_CG_USAGE)
        rm_line_u64(&l, "cg_use", m->cg_usage);
    if (m->valid & RM_HAVE_CG_LIMIT)
        rm_line_size(&l, "cg_lim", m->cg_limit);
    if (s->have_cg_oom0)
        rm_line_u64(&l, "cg_oom", s->cg_oom_now);
    for (i = 0; i < ntree && i < ECHO_TREE; i++) {
        char kp[16], kr[16];
        if (snprintf(kp, sizeof(kp), "tree%d_pid", (int)i) >= (int)sizeof(kp) ||
            snprintf(kr, sizeof(kr), "tree%d_rss", (int)i) >= (int)sizeof(kr))
            break;
        rm_line_u64(&l, kp, (uint64_t)tree[i]->pid);
        rm_line_u64(&l, kr, tree[i]->rss);
    }
    if (top0) {
        rm_line_u64(&l, "top0_pid", (uint64_t)top0->pid);
        rm_line_u64(&l, "top0_rss", top0->rss);
        rm_line_cstr(&l, "top0_comm", top0->comm);
    }
    /* a human summary in MiB */
    n = snprintf(text, sizeof(text), "t+%llus", (unsigned long long)((now - s->t0) / 1000000u));
    if (n > 0 && (size_t)n < sizeof(text))
        k = n;
    if (s->tree_root) {
        n = snprintf(text + k, sizeof(text) - (size_t)k, " tree %lluM/%zu procs",
                     (unsigned long long)(tree_rss >> 20), tree_n);
        if (n > 0 && (size_t)n < sizeof(text) - (size_t)k)
            k += n;
    }
    if ((m->valid & RM_HAVE_MEM_AVAIL) && (m->valid & RM_HAVE_MEM_TOTAL)) {
        n = snprintf(text + k, sizeof(text) - (size_t)k, " avail %lluM of %lluM",
                     (unsigned long long)(m->mem_avail >> 20),
                     (unsigned long long)(m->mem_total >> 20));
        if (n > 0 && (size_t)n < sizeof(text) - (size_t)k)
            k += n;
    }
    if ((m->valid & RM_HAVE_CG_USAGE) && (m->valid & RM_HAVE_CG_LIMIT) &&
        m->cg_limit != RM_NO_LIMIT) {
        n = snprintf(text + k, sizeof(text) - (size_t)k, " cgroup %lluM of %lluM",
                     (unsigned long long)(m->cg_usage >> 20),
                     (unsigned long long)(m->cg_limit >> 20));
        if (n > 0 && (size_t)n < sizeof(text) - (size_t)k)
            k += n;
    }
    rm_line_str(&l, "text", text, (size_t)k);
    rm_line_end(&l);
    /* the job log: pytest may have left a line unfinished ("t.py ..."), so
     * the record starts its own line */
    if (rm_line_write_log(2, &l) != 0) {
        /* stderr gone: nothing to tell */
    }
}

static void take_sample(sampler *s)
{
    uint64_t now = mono_usec();
    rm_sample m;
    rm_line l;
    char buf[512];
    rm_psi psi;
    rm_load load;
    int have_psi = 0, have_load = 0, nprocs = -1;
    uint64_t tree_rss = 0;
    size_t tree_n = 0, ntree = 0, ntop = 0, i, n_echo_tree = 0;
    const rm_proc *echo_tree[ECHO_TREE];
    int root_alive = s->tree_root > 0, before_end = s->child > 0 && !s->ended;

    read_probe(s, &m);
    /* a zombie's (or a reaped process's) RSS reads as 0 (or not at all):
     * the command has died, though it is not reaped yet */
    if (before_end && (m.valid & RM_HAVE_RSS) && m.rss > 0)
        s->child_rss_seen = 1;
    else if (before_end && s->child_rss_seen)
        before_end = 0;
    if (!(m.valid & RM_HAVE_RSS))
        m.valid &= ~(uint32_t)(RM_HAVE_HWM | RM_HAVE_VMS | RM_HAVE_ANON | RM_HAVE_FILE |
                               RM_HAVE_SHMEM | RM_HAVE_SWAP | RM_HAVE_THREADS);
    if ((m.valid & RM_HAVE_HWM) && m.hwm > s->root_hwm)
        s->root_hwm = m.hwm;
    if (pread_all(s->fd_psi, buf, sizeof(buf)) > 0 && rm_psi_parse(buf, &psi) == 0)
        have_psi = 1;
    if (pread_all(s->fd_load, buf, sizeof(buf)) > 0 && rm_load_parse(buf, &load) == 0)
        have_load = 1;

    if (s->have_pt) {
        int rescan = now - s->last_rescan >= RESCAN_USEC || !s->last_rescan;
        if (rescan)
            s->last_rescan = now;
        nprocs = rm_ptable_scan(&s->pt, rescan);
        if (nprocs < 0 && !s->pt_warned) {
            s->pt_warned = 1;
            event_skipped(s, "process_table", strerror(errno), 1);
        }
    }
    if (nprocs >= 0 && root_alive) {
        /* in wrap mode the root is the sampler itself (a subreaper keeps
         * orphans in its tree); it is not counted */
        ntree = rm_ptable_tree(&s->pt, s->tree_root, s->idx, TREE_LISTED + 1, &tree_rss, &tree_n);
        if (s->tree_root == (int)getpid()) {
            long self = rm_ptable_find(&s->pt, s->tree_root);
            if (self >= 0) {
                tree_rss -= s->pt.procs[self].rss;
                tree_n--;
                for (i = 0; i < ntree; i++)
                    if (s->idx[i] == (size_t)self) {
                        memmove(s->idx + i, s->idx + i + 1, (ntree - i - 1) * sizeof(size_t));
                        ntree--;
                        break;
                    }
            }
        }
        if (ntree > TREE_LISTED)
            ntree = TREE_LISTED;
        if (tree_rss > s->tree_hwm)
            s->tree_hwm = tree_rss;
        /* every member, for kernel OOM matching and vanished-worker events */
        {
            size_t k = 0, j;
            rm_ptable *t = &s->pt;
            for (j = 0; j < t->n; j++) {
                if (t->mark[j] != RM_PT_IN_TREE || t->procs[j].pid == (int)getpid())
                    continue;
                rm_oom_tree_remember(&s->tree, t->procs[j].pid);
                if (k < GONE_TRACK) {
                    s->cur[k].pid = t->procs[j].pid;
                    s->cur[k].ppid = t->procs[j].ppid;
                    s->cur[k].rss = t->procs[j].rss;
                    s->cur[k].samples = 0;
                    memcpy(s->cur[k].comm, t->procs[j].comm, sizeof(s->cur[k].comm));
                    k++;
                }
            }
            check_gone(s, k);
        }
    }

    drain_kmsg(s);
    check_memory_events(s, &m, now, before_end);
    if (have_psi)
        check_pressure(s, &psi);

    begin(s, &l, "sample");
    rm_line_u64(&l, "seq", s->seq++);
    if (s->child > 0 && (m.valid & RM_HAVE_RSS))
        rm_line_u64(&l, "pid", (uint64_t)s->child);
    rm_line_sample(&l, &m);
    put_sample_extra(&l, &m);
    if (have_psi) {
        put_hundredths(&l, "psi_some10", psi.some10);
        put_hundredths(&l, "psi_full10", psi.full10);
        rm_line_u64(&l, "psi_some_us", psi.some_total);
        rm_line_u64(&l, "psi_full_us", psi.full_total);
    }
    if (have_load) {
        put_hundredths(&l, "load1", load.l1);
        put_hundredths(&l, "load5", load.l5);
        put_hundredths(&l, "load15", load.l15);
    }
    if (nprocs >= 0)
        rm_line_u64(&l, "procs", (uint64_t)nprocs);
    for (i = 0; i < (size_t)s->o.npaths; i++) {
        uint64_t used, avail;
        char k0[16], k1[24], k2[24];
        if (rm_disk_usage(s->o.paths[i], &used, &avail) != 0)
            continue;
        if (snprintf(k0, sizeof(k0), "disk%d", (int)i) >= (int)sizeof(k0) ||
            snprintf(k1, sizeof(k1), "%s_used", k0) >= (int)sizeof(k1) ||
            snprintf(k2, sizeof(k2), "%s_free", k0) >= (int)sizeof(k2))
            continue;
        rm_line_cstr(&l, k0, s->o.paths[i]);
        rm_line_u64(&l, k1, used);
        rm_line_u64(&l, k2, avail);
    }
    if (nprocs >= 0 && root_alive) {
        rm_line_u64(&l, "tree_rss", tree_rss);
        rm_line_u64(&l, "tree_n", tree_n);
        rm_line_u64(&l, "tree_hwm", s->tree_hwm);
        for (i = 0; i < ntree; i++) {
            if (sizeof(l.buf) - l.len < ENTRY_ROOM) {
                l.truncated = 1;
                break;
            }
            put_proc(s, &l, "tree", (int)i, &s->pt.procs[s->idx[i]], now,
                     (m.valid & RM_HAVE_MEM_TOTAL) ? m.mem_total : 0);
        }
    }
    {
        size_t j;
        for (j = 0; j < ntree && j < ECHO_TREE; j++)
            echo_tree[j] = &s->pt.procs[s->idx[j]];
        n_echo_tree = nprocs >= 0 && root_alive ? j : 0;
    }
    if (nprocs >= 0 && s->o.top > 0) {
        ntop = rm_ptable_top(&s->pt, (size_t)s->o.top, s->idx);
        for (i = 0; i < ntop; i++) {
            if (sizeof(l.buf) - l.len < ENTRY_ROOM) {
                l.truncated = 1;
                break;
            }
            put_proc(s, &l, "top", (int)i, &s->pt.procs[s->idx[i]], now,
                     (m.valid & RM_HAVE_MEM_TOTAL) ? m.mem_total : 0);
        }
    }
    emit(s, &l);
    s->last = m;
    s->have_last = 1;

    if (s->o.echo > 0 && now >= s->next_echo) {
        s->next_echo = now + (uint64_t)(s->o.echo * 1e6);
        write_echo(s, &m, tree_rss, tree_n, echo_tree, n_echo_tree,
                   ntop ? &s->pt.procs[s->idx[0]] : NULL, now);
    }
}

/* ---- the head record ---------------------------------------------------- */

static void os_pretty_name(char *out, size_t cap)
{
    char buf[2048];
    int fd = open("/etc/os-release", O_RDONLY | O_CLOEXEC);
    ssize_t n = pread_all(fd, buf, sizeof(buf));
    const char *p, *e;
    out[0] = '\0';
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return;
    p = strstr(buf, "PRETTY_NAME=");
    if (!p || (p != buf && p[-1] != '\n'))
        return;
    p += strlen("PRETTY_NAME=");
    if (*p == '"')
        p++;
    e = p;
    while (*e && *e != '"' && *e != '\n')
        e++;
    if (snprintf(out, cap, "%.*s", (int)(e - p), p) < 0)
        out[0] = '\0'; /* a cut name is still useful */
}

static void write_head(sampler *s)
{
    static const struct {
        const char *env, *key;
    } ci[] = {
        {"GITHUB_RUN_ID", "run_id"},    {"GITHUB_RUN_ATTEMPT", "run_attempt"},
        {"GITHUB_JOB", "job"},          {"GITHUB_WORKFLOW", "workflow"},
        {"GITHUB_REPOSITORY", "repo"},  {"GITHUB_SHA", "sha"},
        {"RUNNER_OS", "runner_os"},     {"RUNNER_NAME", "runner_name"},
        {"RUNNER_ARCH", "runner_arch"}, {"CI", "ci"},
    };
    rm_line l;
    struct utsname u;
    rm_topo topo;
    rm_sample m;
    char osname[128];
    size_t i;

    rm_probe self, cgself;
    const rm_probe *cg = NULL;
    int have_self = 0, have_cgself = 0;

    rm_topo_read(&topo);
    memset(&m, 0, sizeof(m));
    /* the head comes before the command starts: machine and cgroup facts
     * come from a probe of the sampler itself (same cgroup as the child) */
    if (rm_probe_open(&self, 0, "") == 0) {
        have_self = 1;
        cg = &self;
        rm_probe_sample(&self, &m, RM_READ_SYSTEM | (s->cg_root ? 0 : RM_READ_CGROUP));
    }
    if (s->cg_root && rm_probe_open(&cgself, 0, s->cg_root) == 0) {
        rm_sample c;
        have_cgself = 1;
        cg = &cgself;
        memset(&c, 0, sizeof(c));
        rm_probe_sample(&cgself, &c, RM_READ_CGROUP);
        m.valid |= c.valid & (RM_HAVE_CG_LIMIT | RM_HAVE_CG_OOM);
        m.cg_limit = c.cg_limit;
        m.cg_oom_kills = c.cg_oom_kills;
    }
    if (cg && cg->cg_version && (m.valid & RM_HAVE_CG_OOM)) {
        /* the OOM kill count before the command: the run's kills are the rise */
        s->have_head_oom = 1;
        s->head_oom = m.cg_oom_kills;
        memcpy(s->head_cg_path, cg->cg_path, sizeof(s->head_cg_path));
    }

    begin(s, &l, "head");
    rm_line_cstr(&l, "tool", PROG);
    rm_line_cstr(&l, "version", RM_VERSION);
    rm_line_u64(&l, "pid", (uint64_t)getpid());
    rm_line_cstr(&l, "mode", s->mode);
    if (uname(&u) == 0) {
        rm_line_cstr(&l, "os", u.sysname);
        rm_line_cstr(&l, "kernel", u.release);
        rm_line_cstr(&l, "arch", u.machine);
    }
    os_pretty_name(osname, sizeof(osname));
    if (osname[0])
        rm_line_cstr(&l, "os_name", osname);
    if (m.valid & RM_HAVE_MEM_TOTAL)
        rm_line_u64(&l, "mem_total", m.mem_total);
    if (m.valid & RM_HAVE_SWAP_TOTAL)
        rm_line_u64(&l, "swap_total", m.swap_total);
    rm_line_u64(&l, "cg_ver", (uint64_t)(cg ? cg->cg_version : 0));
    if (cg && cg->cg_version) {
        rm_line_cstr(&l, "cg_path", cg->cg_path);
        if (m.valid & RM_HAVE_CG_LIMIT)
            rm_line_size(&l, "cg_lim", m.cg_limit);
    }
    rm_line_cstr(&l, "topo_src", topo.src);
    if (topo.packages >= 0)
        rm_line_u64(&l, "packages", (uint64_t)topo.packages);
    if (topo.cores >= 0)
        rm_line_u64(&l, "cores", (uint64_t)topo.cores);
    if (topo.pus >= 0)
        rm_line_u64(&l, "pus", (uint64_t)topo.pus);
    if (topo.numa >= 0)
        rm_line_u64(&l, "numa", (uint64_t)topo.numa);
    if (topo.cpus_allowed >= 0)
        rm_line_u64(&l, "cpus_allowed", (uint64_t)topo.cpus_allowed);
    if (topo.cpuset[0])
        rm_line_cstr(&l, "cpuset", topo.cpuset);
    if (topo.cpus_affinity >= 0)
        rm_line_u64(&l, "cpus_affinity", (uint64_t)topo.cpus_affinity);
    rm_line_usec(&l, "interval", (uint64_t)(s->o.interval * 1e6 + 0.5));
    rm_line_u64(&l, "top", (uint64_t)s->o.top);
    rm_line_cstr(&l, "proc_reader", s->have_pt ? rm_ptable_backend(&s->pt) : "none");
    if (s->have_pt)
        rm_line_cstr(&l, "proc2", s->pt.proc2_status);
    rm_line_u64(&l, "psi", (uint64_t)(s->fd_psi >= 0));
    rm_line_u64(&l, "kmsg", (uint64_t)(s->fd_kmsg >= 0));
    for (i = 0; i < sizeof(ci) / sizeof(ci[0]); i++) {
        const char *v = getenv(ci[i].env);
        if (v && *v)
            rm_line_cstr(&l, ci[i].key, v);
    }
    if (s->o.pid)
        rm_line_u64(&l, "watch", (uint64_t)s->o.pid);
    if (s->cmd_text[0])
        rm_line_cstr(&l, "cmd", s->cmd_text);
    emit(s, &l);
    if (have_self)
        rm_probe_close(&self);
    if (have_cgself)
        rm_probe_close(&cgself);
}

/* ---- the command -------------------------------------------------------- */

static void join_cmd(char *out, size_t cap, char **argv)
{
    size_t k = 0;
    int i;
    out[0] = '\0';
    for (i = 0; argv && argv[i] && k + 1 < cap; i++) {
        int n = snprintf(out + k, cap - k, "%s%s", i ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= cap - k)
            break;
        k += (size_t)n;
    }
}

/* Forks and execs the command with default signal handling. Returns the
 * pid, or -1 with *err holding exec's errno. */
static pid_t start_child(char **argv, int *err)
{
    int fds[2];
    pid_t pid;
    sigset_t all, old;
    ssize_t n;
    *err = 0;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        *err = errno;
        return -1;
    }
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid == 0) {
        size_t i;
        int e;
        for (i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
            signal(handled_signals[i], SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(fds[0]);
        if (S.have_pt)
            rm_ptable_restore_nofile(&S.pt); /* the fd limit the command would have had */
        execvp(argv[0], argv);
        e = errno;
        n = write(fds[1], &e, sizeof(e));
        (void)n;
        _exit(e == ENOENT ? EXIT_NOCMD : EXIT_NOEXEC);
    }
    if (pid < 0)
        *err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fds[1]);
    if (pid > 0) {
        int e = 0;
        do
            n = read(fds[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof(e)) {
            int st;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            *err = e;
            pid = -1;
        }
    }
    close(fds[0]);
    return pid;
}

/* 1 when the process has a handler for SIGUSR1 (status: SigCgt). Sending
 * USR1 to a process without one would kill it. */
static int catches_usr1(pid_t pid)
{
    char path[64], buf[4096];
    const char *p;
    int fd;
    ssize_t n;
    unsigned long long mask;
    if (snprintf(path, sizeof(path), "/proc/%d/status", (int)pid) >= (int)sizeof(path))
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    n = pread_all(fd, buf, sizeof(buf));
    if (fd >= 0)
        close(fd);
    if (n <= 0 || !(p = strstr(buf, "SigCgt:")))
        return 0;
    mask = strtoull(p + 7, NULL, 16);
    return (mask >> (SIGUSR1 - 1)) & 1u;
}

static void send_to_child(sampler *s, int sig)
{
    rm_line l;
    if (s->child <= 0 || s->ended)
        return;
    kill(s->child, sig);
    begin(s, &l, "event");
    rm_line_cstr(&l, "what", "forward");
    rm_line_u64(&l, "signal", (uint64_t)sig);
    if (signame(sig))
        rm_line_cstr(&l, "name", signame(sig));
    rm_line_u64(&l, "pid", (uint64_t)s->child);
    emit(s, &l);
}

/* Handles a SIGINT/SIGTERM/SIGHUP that reached the sampler. */
static void handle_stop(sampler *s, int sig, int count, uint64_t now)
{
    rm_line l;
    begin(s, &l, "event");
    rm_line_cstr(&l, "what", "signal");
    rm_line_u64(&l, "signal", (uint64_t)sig);
    if (signame(sig))
        rm_line_cstr(&l, "name", signame(sig));
    emit(s, &l);
    if (!s->stopped_by)
        s->stopped_by = sig;
    if (strcmp(s->mode, "wrap") != 0) {
        s->ended = 1; /* watch and system mode: stop sampling */
        return;
    }
    if (count > 1) {
        /* a second signal: no more waiting */
        send_to_child(s, sig);
        s->forward_sig = 0;
        s->forward_at = UINT64_MAX;
        return;
    }
    if (s->o.grace > 0 && catches_usr1(s->child)) {
        send_to_child(s, SIGUSR1);
        s->forward_sig = sig;
        s->forward_at = now + (uint64_t)(s->o.grace * 1e6);
    } else {
        send_to_child(s, sig);
        s->forward_at = UINT64_MAX;
    }
}

/* ---- waiting for the end ------------------------------------------------ */

static void reap(sampler *s)
{
    int st;
    pid_t p;
    struct rusage ru;
    /* The sampler is a subreaper: orphans of the tree become its children
     * and are reaped here too. Bounded by the number of children. */
    while ((p = wait4(-1, &st, WNOHANG, &ru)) > 0) {
        if (p == s->child) {
            s->ended = 1;
            s->have_status = 1;
            s->status = st;
            s->child_ru = ru;
            s->have_ru = 1;
            /* the kernel's exact peak of the command itself */
            if ((uint64_t)ru.ru_maxrss * 1024 > s->root_hwm)
                s->root_hwm = (uint64_t)ru.ru_maxrss * 1024;
        }
    }
}

/* Watch mode: has the watched process ended? A zombie's exit status is
 * still readable in /proc/<pid>/stat (field 52) until its parent reaps it. */
static void check_watched(sampler *s)
{
    char buf[1024];
    ssize_t n;
    const char *p;
    int field;
    if (s->child <= 0 || s->ended)
        return;
    n = pread_all(s->fd_watch_stat, buf, sizeof(buf));
    if (n <= 0) {
        s->ended = 1;
        return;
    }
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] != 'Z')
        return;
    s->ended = 1;
    for (field = 2; field < 52 && p; field++)
        p = strchr(p + 1, ' ');
    if (p) {
        long v = strtol(p + 1, NULL, 10);
        if (v >= 0 && v <= 0xffff) {
            s->have_status = 1;
            s->status = (int)v;
        }
    }
}

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* ---- the verdict -------------------------------------------------------- */

static int write_verdict(sampler *s)
{
    rm_line l;
    uint64_t now = mono_usec();
    int code = 0, sig = 0, have = s->have_status;
    char why[96] = "";
    struct rusage ru;

    if (have && WIFSIGNALED(s->status))
        sig = WTERMSIG(s->status);
    else if (have && WIFEXITED(s->status))
        code = WEXITSTATUS(s->status);

    begin(s, &l, "verdict");
    rm_line_cstr(&l, "mode", s->mode);
    if (s->child > 0)
        rm_line_u64(&l, "pid", (uint64_t)s->child);
    if (!have) {
        rm_line_cstr(&l, "end", s->child > 0 && s->ended ? "gone" : "stopped");
    } else if (sig) {
        rm_line_u64(&l, "signal", (uint64_t)sig);
        if (signame(sig))
            rm_line_cstr(&l, "name", signame(sig));
        if (WCOREDUMP(s->status))
            rm_line_u64(&l, "core", 1);
    } else {
        rm_line_u64(&l, "exit", (uint64_t)code);
    }
    if (have)
        rm_line_u64(&l, "status", (uint64_t)(sig ? 128 + sig : code));
    rm_line_usec(&l, "wall", now - s->t0);
    if (s->tree_root)
        rm_line_u64(&l, "tree_hwm", s->tree_hwm);
    if (s->root_hwm)
        rm_line_u64(&l, "root_hwm", s->root_hwm);
    /* the kernel's own figure: largest RSS of any process of the tree that
     * was waited for (exact, not sampled) */
    if (strcmp(s->mode, "wrap") == 0 && getrusage(RUSAGE_CHILDREN, &ru) == 0) {
        rm_line_u64(&l, "proc_hwm", (uint64_t)ru.ru_maxrss * 1024);
        rm_line_usec(&l, "cpu_user",
                     (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec);
        rm_line_usec(&l, "cpu_sys",
                     (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec);
    }
    if (s->have_last && (s->last.valid & RM_HAVE_CG_PEAK))
        rm_line_u64(&l, "cg_peak", s->last.cg_peak);
    if (s->have_last && (s->last.valid & RM_HAVE_CG_LIMIT))
        rm_line_size(&l, "cg_lim", s->last.cg_limit);
    if (s->have_cg_oom0)
        rm_line_u64(&l, "cg_oom", s->cg_oom_now - s->cg_oom0);
    /* OOM proof: the kernel said it killed for memory, during the run */
    if (s->have_cg_oom0 && s->cg_oom_now > s->cg_oom0)
        strcat(why, "cgroup_counter,");
    if (s->oom_kmsg_tree)
        strcat(why, "kernel_log,");
    if (why[0])
        why[strlen(why) - 1] = '\0';
    rm_line_u64(&l, "oom", (uint64_t)(why[0] != 0));
    if (why[0]) {
        rm_line_cstr(&l, "oom_evidence", why);
        /* how long before the end the newest kill was read: the report
         * tells an old kill (a worker, the run went on) from the death */
        if (s->oom_seen_at && s->oom_seen_at <= now)
            rm_line_usec(&l, "oom_age", now - s->oom_seen_at);
    } else if (sig == SIGKILL) {
        /* no proof: what the last samples before the death suggest */
        uint64_t max_age = 2 * (uint64_t)(s->o.interval * 1e6 + 0.5) + OOM_WINDOW_SLACK;
        int j = rm_oom_window_judge(&s->win, s->ended_at, max_age);
        if (j == RM_OOM_SUPPORT)
            rm_line_cstr(&l, "oom_support", "sigkill_near_limit");
        else if (j == RM_OOM_CONTRA)
            rm_line_cstr(&l, "oom_contra", "ample_memory");
    }
    if (s->oom_kmsg_tree) {
        rm_line_u64(&l, "oom_pid", (uint64_t)s->oom_kmsg.pid);
        rm_line_cstr(&l, "oom_comm", s->oom_kmsg.comm);
        if (s->oom_kmsg.have_anon_rss)
            rm_line_u64(&l, "oom_anon_rss", s->oom_kmsg.anon_rss);
    }
    if (s->stopped_by) {
        rm_line_u64(&l, "stopped_by", (uint64_t)s->stopped_by);
    }
    rm_line_u64(&l, "samples", s->seq);
    emit(s, &l);
    if (s->o.echo > 0 && rm_line_write_log(2, &l) != 0) {
        /* stderr gone (the job log): nothing to tell */
    }
    if (!have)
        return -1;
    return sig ? 128 + sig : code;
}

/* ---- --stop and the pid file ------------------------------------------- */

static int read_pidfile(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = pread_all(fd, buf, sizeof(buf));
    long v;
    char *end;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -1;
    v = strtol(buf, &end, 10);
    if (end == buf || (*end && *end != '\n') || v <= 0 || v > INT_MAX)
        return -1;
    return (int)v;
}

static int write_pidfile(const char *path)
{
    char buf[24];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    int rc;
    if (fd < 0)
        return -1;
    rc = (n > 0 && (size_t)n < sizeof(buf)) ? rm_write_all(fd, buf, (size_t)n) : -1;
    close(fd);
    return rc;
}

static int is_sampler(int pid)
{
    char path[64], buf[4096];
    int fd;
    ssize_t n;
    if (snprintf(path, sizeof(path), "/proc/%d/cmdline", pid) >= (int)sizeof(path))
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    n = pread_all(fd, buf, sizeof(buf));
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    return strstr(buf, PROG) != NULL;
}

static int do_stop(const options *o)
{
    int pid = read_pidfile(o->pidfile), i;
    if (pid < 0) {
        fprintf(stderr, PROG ": --stop: no pid in %s\n", o->pidfile);
        return EXIT_FAIL;
    }
    if (kill(pid, 0) != 0 || !is_sampler(pid)) {
        fprintf(stderr, PROG ": --stop: process %d from %s is not a running %s\n", pid, o->pidfile,
                PROG);
        return EXIT_FAIL;
    }
    if (kill(pid, SIGTERM) != 0) {
        fprintf(stderr, PROG ": --stop: kill %d: %s\n", pid, strerror(errno));
        return EXIT_FAIL;
    }
    /* wait until it is gone: its verdict is written then; bounded at
     * the grace period plus 30 s */
    for (i = 0; i < (int)(o->grace * 20) + 600; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return 0;
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, PROG ": --stop: %d still running after SIGTERM\n", pid);
    return EXIT_FAIL;
}

/* Background mode: the parent returns once the sampler runs. */
static int daemonize(int *ready_w)
{
    int fds[2];
    pid_t pid;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        char c = 0;
        ssize_t n;
        close(fds[1]);
        do
            n = read(fds[0], &c, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 && c == 'k' ? 0 : EXIT_FAIL);
    }
    close(fds[0]);
    setsid();
    *ready_w = fds[1];
    return 0;
}

/* ---- main --------------------------------------------------------------- */

/* Skips found before the head record is written, reported right after it. */
typedef struct skip_note {
    const char *item, *reason;
    int loud;
} skip_note;

/* Opens the files every sample reads (not the probe: it needs the
 * command's pid). Missing files are noted in *notes, never fatal. */
static size_t open_files(sampler *s, skip_note *notes)
{
    size_t n = 0;
    int kfd;
    const char *reader = s->o.reader;
    /* auto: the /proc reader at every interval. libproc2 re-opens and
     * parses every process's stat at every sample (about 30 us each); the
     * /proc reader preads a kept-open statm of the few processes that can
     * change the record (2 us each) and finds new ones by their pid */
    if (strcmp(reader, "auto") == 0)
        reader = "proc";
    if (rm_ptable_open(&s->pt, "", reader) == 0)
        s->have_pt = 1;
    else
        notes[n++] = (skip_note){"process_table", "the process table reader is not available", 1};
    s->fd_psi = open("/proc/pressure/memory", O_RDONLY | O_CLOEXEC);
    if (s->fd_psi < 0)
        notes[n++] = (skip_note){"psi", "/proc/pressure/memory unreadable", 0};
    s->fd_load = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (s->fd_load < 0)
        notes[n++] = (skip_note){"load", "/proc/loadavg unreadable", 0};
    /* from the end: reports written before the sampler started are not this
     * run's (their time stamps are checked too: rm_kmsg_is_new) */
    s->kmsg_t0 = mono_usec();
    kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (kfd >= 0 && lseek(kfd, 0, SEEK_END) < 0) {
        close(kfd);
        kfd = -1;
    }
    s->fd_kmsg = kfd;
    if (kfd < 0)
        notes[n++] = (skip_note){"kmsg",
                                 "/dev/kmsg unreadable: OOM kills are seen through the "
                                 "cgroup counter and exit signals only",
                                 0};
    return n;
}

static void open_probe(sampler *s)
{
    int watched = s->child > 0 ? (int)s->child : 0;
    if (rm_probe_open(&s->probe, watched, "") == 0)
        s->have_probe = 1;
    else
        event_skipped(s, "probe", strerror(errno), 1);
    if (s->cg_root && rm_probe_open(&s->cgprobe, 0, s->cg_root) == 0)
        s->have_cgprobe = 1;
    s->probe_what = RM_READ_SYSTEM | RM_READ_CGROUP | RM_READ_CG_STAT;
    if (watched)
        s->probe_what |= RM_READ_PROC | RM_READ_DETAIL;
    if (s->have_probe && s->probe.fd_meminfo < 0)
        event_skipped(s, "meminfo", "/proc/meminfo unreadable", 1);
    if ((s->have_probe || s->have_cgprobe) && !cg_probe(s)->cg_version)
        event_skipped(s, "cgroup", "no memory cgroup found for the process", 0);
}

static void close_all(sampler *s)
{
    if (s->have_probe)
        rm_probe_close(&s->probe);
    if (s->have_cgprobe)
        rm_probe_close(&s->cgprobe);
    if (s->have_pt)
        rm_ptable_close(&s->pt);
    if (s->fd_psi >= 0)
        close(s->fd_psi);
    if (s->fd_load >= 0)
        close(s->fd_load);
    if (s->fd_kmsg >= 0)
        close(s->fd_kmsg);
    if (s->pidfd >= 0)
        close(s->pidfd);
    if (s->fd_watch_stat >= 0)
        close(s->fd_watch_stat);
    if (s->log_fd >= 0)
        close(s->log_fd);
    close(s->wake_r);
    close(wake_w);
}

static void main_loop(sampler *s)
{
    uint64_t interval = (uint64_t)(s->o.interval * 1e6 + 0.5);
    s->next_sample = mono_usec();
    while (!s->ended) {
        uint64_t now = mono_usec(), until;
        struct pollfd pf[3];
        nfds_t npf = 0;
        int timeout_ms, i_pidfd = -1, i_kmsg = -1;
        char drain[64];

        while (read(s->wake_r, drain, sizeof(drain)) > 0)
            ;
        if (pending_stop) {
            int sig = pending_stop, count = stop_count;
            pending_stop = 0;
            handle_stop(s, sig, count, now);
        }
        if (pending_usr1) {
            pending_usr1 = 0;
            if (strcmp(s->mode, "wrap") == 0)
                send_to_child(s, SIGUSR1);
        }
        if (strcmp(s->mode, "wrap") == 0)
            reap(s);
        else if (strcmp(s->mode, "watch") == 0)
            check_watched(s);
        if (s->ended)
            break;
        if (s->forward_sig && now >= s->forward_at) {
            send_to_child(s, s->forward_sig);
            s->forward_sig = 0;
            s->forward_at = UINT64_MAX;
        }
        if (now >= s->next_sample) {
            take_sample(s);
            s->next_sample += interval;
            if (s->next_sample <= now)
                s->next_sample = now + interval; /* we fell behind: skip */
        }
        until = s->next_sample;
        if (s->forward_sig && s->forward_at < until)
            until = s->forward_at;
        now = mono_usec();
        timeout_ms = until > now ? (int)((until - now + 999) / 1000) : 0;
        pf[npf].fd = s->wake_r;
        pf[npf++].events = POLLIN;
        if (s->pidfd >= 0) {
            i_pidfd = (int)npf;
            pf[npf].fd = s->pidfd;
            pf[npf++].events = POLLIN;
        }
        if (s->fd_kmsg >= 0) {
            /* an OOM report is read at once: its victim is then still
             * readable in /proc (not yet reaped) to match against the tree */
            i_kmsg = (int)npf;
            pf[npf].fd = s->fd_kmsg;
            pf[npf++].events = POLLIN;
        }
        if (poll(pf, npf, timeout_ms) <= 0)
            continue;
        if (i_kmsg >= 0 && (pf[i_kmsg].revents & (POLLIN | POLLERR | POLLPRI)))
            drain_kmsg(s);
        if (i_pidfd >= 0 && (pf[i_pidfd].revents & POLLIN)) {
            check_watched(s);
            if (!s->ended) {
                /* reaped by its parent before we looked */
                s->ended = 1;
            }
        }
    }
}

int main(int argc, char **argv)
{
    sampler *s = &S;
    int refused = 0, rc, ready_w = -1;

    parse_options(argc, argv, &s->o);
    if (s->o.stop)
        return do_stop(&s->o);

    s->log_fd = s->fd_psi = s->fd_load = s->fd_kmsg = s->pidfd = s->fd_watch_stat = -1;
    s->cg_root = getenv(ENV_CGROUP_ROOT);
    if (s->cg_root && !s->cg_root[0])
        s->cg_root = NULL;
    s->tree.proc_root = "";
    s->mode = s->o.cmd ? "wrap" : s->o.pid ? "watch" : "system";
    if (gethostname(s->host, sizeof(s->host) - 1) != 0)
        memcpy(s->host, "unknown", sizeof("unknown"));
    if (!s->o.npaths) {
        const char *tmp = getenv("TMPDIR");
        s->o.paths[s->o.npaths++] = "/";
        s->o.paths[s->o.npaths++] = tmp && *tmp ? tmp : "/tmp";
    }
    join_cmd(s->cmd_text, sizeof(s->cmd_text), s->o.cmd);
    if (s->o.pid && kill(s->o.pid, 0) != 0 && errno == ESRCH) {
        fprintf(stderr, PROG ": --pid %d: no such process\n", s->o.pid);
        return EXIT_FAIL;
    }

    s->log_fd = open_log(s->o.output, &refused);
    if (s->log_fd < 0) {
        if (refused)
            fprintf(stderr,
                    PROG ": refusing to follow the symlink %s in a world-writable directory; "
                         "no log is written\n",
                    s->o.output);
        else
            fprintf(stderr, PROG ": cannot open %s: %s; no log is written\n", s->o.output,
                    strerror(errno));
        if (!s->o.cmd)
            return EXIT_FAIL; /* nothing else to do without a log */
    }
    if (install_signals(&s->wake_r) != 0) {
        fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    if (s->o.pidfile && !s->o.cmd) {
        if (daemonize(&ready_w) != 0) {
            fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
            return EXIT_FAIL;
        }
        if (s->o.echo <= 0) {
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (null >= 0) {
                dup2(null, 2);
                close(null);
            }
        }
    }
    if (s->o.pidfile) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (!s->o.cmd && null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        if (null >= 0)
            close(null);
        if (write_pidfile(s->o.pidfile) != 0)
            fprintf(stderr, PROG ": cannot write %s: %s\n", s->o.pidfile, strerror(errno));
    }
    s->t0 = mono_usec();

    {
        skip_note notes[8];
        size_t i, nnotes;
        char path[64];
        if (s->o.pid) {
            s->child = s->o.pid;
            s->tree_root = s->o.pid;
            s->tree.child = s->tree.root_pid = s->o.pid;
            s->pidfd = pidfd_of(s->child);
            if (snprintf(path, sizeof(path), "/proc/%d/stat", s->o.pid) < (int)sizeof(path))
                s->fd_watch_stat = open(path, O_RDONLY | O_CLOEXEC);
        }
        nnotes = open_files(s, notes);
        write_head(s);
        for (i = 0; i < nnotes; i++)
            event_skipped(s, notes[i].item, notes[i].reason, notes[i].loud);
    }
    if (s->o.cmd) {
        int err;
        rm_line l;
        /* orphans of the command (workers whose parent died) stay ours */
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        if (s->have_pt)
            rm_ptable_outside_now(&s->pt); /* the tree: what the sampler forks */
        s->child = start_child(s->o.cmd, &err);
        if (s->child < 0) {
            fprintf(stderr, PROG ": cannot run %s: %s\n", s->o.cmd[0], strerror(err));
            begin(s, &l, "event");
            rm_line_cstr(&l, "what", "exec_failed");
            rm_line_cstr(&l, "cmd", s->cmd_text);
            rm_line_cstr(&l, "error", strerror(err));
            emit(s, &l);
            s->child = 0;
            s->have_status = 1;
            s->status = (err == ENOENT ? EXIT_NOCMD : EXIT_NOEXEC) << 8;
            write_verdict(s);
            close_all(s);
            return err == ENOENT ? EXIT_NOCMD : EXIT_NOEXEC;
        }
        s->tree_root = (int)getpid();
        /* the sampler is a subreaper: nothing leaves its tree while alive */
        s->tree.child = (int)s->child;
        s->tree.root_pid = s->tree_root;
        s->tree.closed = 1;
        begin(s, &l, "event");
        rm_line_cstr(&l, "what", "start");
        rm_line_u64(&l, "pid", (uint64_t)s->child);
        rm_line_cstr(&l, "cmd", s->cmd_text);
        emit(s, &l);
    } else if (s->o.pid) {
        char cmd[RM_CMD_MAX];
        rm_line l;
        rm_read_cmdline("", s->o.pid, "?", cmd, sizeof(cmd));
        begin(s, &l, "event");
        rm_line_cstr(&l, "what", "watch");
        rm_line_u64(&l, "pid", (uint64_t)s->o.pid);
        rm_line_cstr(&l, "cmd", cmd);
        emit(s, &l);
    }
    open_probe(s);
    if (ready_w >= 0) {
        rc = (int)write(ready_w, "k", 1);
        (void)rc;
        close(ready_w);
    }

    main_loop(s);
    s->ended_at = mono_usec();

    /* the end: one last look, then the verdict */
    drain_kmsg(s);
    take_sample(s);
    if (s->child > 0 && s->ended) {
        rm_line l;
        begin(s, &l, "event");
        rm_line_cstr(&l, "what", "exit");
        rm_line_u64(&l, "pid", (uint64_t)s->child);
        if (s->have_status && WIFSIGNALED(s->status)) {
            rm_line_u64(&l, "signal", (uint64_t)WTERMSIG(s->status));
            if (signame(WTERMSIG(s->status)))
                rm_line_cstr(&l, "name", signame(WTERMSIG(s->status)));
        } else if (s->have_status && WIFEXITED(s->status)) {
            rm_line_u64(&l, "exit", (uint64_t)WEXITSTATUS(s->status));
        } else {
            rm_line_cstr(&l, "end", "gone");
        }
        emit(s, &l);
    }
    rc = write_verdict(s);
    if (s->o.pidfile && read_pidfile(s->o.pidfile) == (int)getpid())
        unlink(s->o.pidfile);
    if (s->log_lost)
        fprintf(stderr, PROG ": %llu records could not be written to %s\n",
                (unsigned long long)s->log_lost, s->o.output);
    close_all(s);
    if (strcmp(s->mode, "wrap") == 0)
        return rc < 0 ? EXIT_FAIL : rc;
    return 0;
}
