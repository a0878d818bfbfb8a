/* SPDX-License-Identifier: MIT */
/* analyze.c: turns a run's evidence into a verdict, a boundary, a culprit and
 * trends. docs/report.md's rule table is this file's rule table: change both. */
#include "report.h"

#include "../record/trend.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Available memory at or below this share of the total is "near zero" ... */
#define LOW_AVAIL_PERCENT 5
/* ... or at or below this many bytes, whichever is larger. */
#define LOW_AVAIL_BYTES (256ull << 20)
/* A cgroup using this share of its limit (page cache that can be reclaimed
 * left out, where the sampler read it) is "at its limit". */
#define CG_NEAR_LIMIT_PERCENT 90
/* Memory to spare: this share of the machine available, and a cgroup (if
 * limited) below this share of its limit. */
#define AMPLE_AVAIL_PERCENT 20
#define AMPLE_CG_PERCENT 70
/* Readings this close to the end (or three sampling intervals, whichever is
 * longer) say what memory looked like when the run died. */
#define END_WINDOW_USEC (15ll * 1000000)
/* The newest reading must be at most this old at the end to say anything. */
#define END_STALE_USEC (120ll * 1000000)
/* A process's kernel high-water mark (the sampler's root_hwm/proc_hwm) at
 * this share of the cgroup's limit, above every reading, is memory at the
 * limit between the readings. */
#define HWM_NEAR_LIMIT_PERCENT 95
/* The last reading while the tree lived is weak evidence of memory to spare
 * when memory, growing at this many times the rate it grew into that
 * reading, would have filled what was left before the death (readings are
 * samples: an allocation loop is faster between them than their average). */
#define GROWTH_SLACK 2
/* Growth is measured against a reading at least this much older. */
#define GROWTH_MIN_USEC (250ll * 1000)

static const char *const verdict_names[RM_V_COUNT] = {
    "unknown", "passed",       "failed", "oom_kill",  "runner_shutdown", "segfault",
    "signal",  "memory_error", "hang",   "cancelled", "killed"};

static const char *const evidence_names[RM_E_COUNT] = {
    "exit_code",  "shutdown",     "segfault",     "fatal_signal", "killed",  "oom",
    "low_memory", "memory_error", "hang",         "thread_dump",  "summary", "cancelled",
    "terminated", "foreign_oom",  "worker_crash", "ample_memory"};

const char *rm_verdict_name(rm_verdict_kind k)
{
    return (unsigned)k < RM_V_COUNT ? verdict_names[k] : "unknown";
}

const char *rm_evidence_name(rm_evidence_kind k)
{
    return (unsigned)k < RM_E_COUNT ? evidence_names[k] : "?";
}

/* ---- evidence: a stable order, no copies ---- */

static const rm_run *g_run;

static int cmp_ev(const void *a, const void *b)
{
    const rm_evidence *x = a, *y = b;
    int c;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if ((c = strcmp(x->text, y->text)) != 0)
        return c;
    if ((c = strcmp(g_run->src[x->src].path, g_run->src[y->src].path)) != 0)
        return c;
    return (x->line > y->line) - (x->line < y->line);
}

/* Sorts the evidence by time and drops copies (the sampler's verdict echoed
 * into the job log and read again from its log): the same kind, time, value,
 * process and text. */
static void evidence_sort(rm_run *run)
{
    int i, k = 0;
    g_run = run;
    if (run->n_evl > 1)
        qsort(run->evl, (size_t)run->n_evl, sizeof(run->evl[0]), cmp_ev);
    for (i = 0; i < run->n_evl; i++) {
        const rm_evidence *e = &run->evl[i];
        if (k > 0) {
            const rm_evidence *p = &run->evl[k - 1];
            if (p->t == e->t && p->kind == e->kind && p->value == e->value && p->pid == e->pid &&
                strcmp(p->text, e->text) == 0) {
                run->evl[k - 1].proof |= e->proof;
                continue;
            }
        }
        run->evl[k++] = *e;
    }
    run->n_evl = k;
    /* the chart's event marks */
    run->n_events = 0;
    for (i = 0; i < run->n_evl; i++) {
        if (run->n_events == RM_REPORT_MAX_EVENTS) {
            run->events_dropped++;
            continue;
        }
        run->events[run->n_events].t = run->evl[i].t;
        run->events[run->n_events].kind = run->evl[i].kind;
        run->events[run->n_events].src = run->evl[i].src;
        run->events[run->n_events].line = run->evl[i].line;
        run->n_events++;
    }
}

/* ---- the end of the run ---- */

typedef struct {
    int final;       /* pytest's final summary was read */
    int64_t final_t; /* its time */
    int final_src;   /* its place, for inputs without times */
    uint64_t final_line;
    long final_value; /* its failures and errors, -1 unknown (a record without counts) */
    int worker_crash; /* xdist said a worker died */
    long code;        /* the step's exit code, -1 unknown */
    int code_ev;      /* its evidence, -1 */
    int64_t death_t;  /* when the run ended (the exit, else the newest time) */
    int64_t gone_t;   /* the first reading of the sampler's tree empty (or only
                         zombies) after it was last seen alive, 0 none */
    int low, ample;   /* the last readings: memory exhausted (1 the machine, 2 the
                         cgroup, 3 a process's high-water mark at the cgroup's
                         limit) / to spare */
    int low_ev, ample_ev;
    int weak;            /* the last readings had room, but the limit could have been
                            reached between the last of them and the death */
    int hwm_conflict;    /* a high-water mark at the limit, readings with room */
    int counter_watched; /* the sampler read the cgroup's OOM-kill counter */
} rm_end;

/* After pytest's final summary: by time, or by line in the same input. */
static int after_final(const rm_end *E, const rm_evidence *e)
{
    if (!E->final)
        return 0;
    if (e->t && E->final_t)
        return e->t > E->final_t;
    return e->src == E->final_src && e->line > E->final_line;
}

static int before_final(const rm_end *E, const rm_evidence *e)
{
    if (!E->final)
        return 0;
    if (e->t && E->final_t)
        return e->t < E->final_t;
    return e->src == E->final_src && e->line < E->final_line;
}

/* The final summary: the newest one, with no test started or reported after it. */
/* 1 when pid is an xdist worker's (its records name a worker). */
static int is_worker_pid(const rm_run *run, long long pid)
{
    int i;
    for (i = 0; i < run->n_procs; i++)
        if (run->procs[i].pid == pid)
            return run->procs[i].worker[0] != '\0';
    return 0;
}

/* 1 when the plugin's full records (a process that wrote test ends: not
 * the job log's short start lines alone) show a test started and not ended
 * at t: a summary then was printed inside it (pytest run in a subprocess).
 * pytest's main process only: an xdist worker killed mid-test never ends
 * its test, and its controller's summary is still the run's. */
static int test_running_at(const rm_run *run, int64_t t)
{
    enum { N = 256 };
    long long pid[N];
    int open[N], ends[N], n = 0, j;
    size_t k;
    for (k = 0; k < run->n_items; k++) {
        const rm_item *it = &run->items[k];
        int rank8 = it->type == RM_I_RECORD && it->rank == 8, rank3;
        if (!rank8 && !(it->type == RM_I_RECORD && it->rank == 3))
            continue;
        for (j = 0; j < n && pid[j] != it->pid; j++)
            ;
        if (j == n) {
            if (n == N)
                continue;
            pid[n] = it->pid;
            open[n] = ends[n] = 0;
            n++;
        }
        rank3 = !rank8;
        if (rank8)
            ends[j] = 1;
        if (it->t <= t)
            open[j] = rank3; /* setup started: open; teardown ended: closed */
    }
    for (j = 0; j < n; j++)
        if (open[j] && ends[j] && pid[j] && !is_worker_pid(run, pid[j]))
            return 1;
    return 0;
}

static void find_final(rm_run *run, rm_end *E)
{
    int i;
    int64_t last_test = 0;
    size_t k;
    const rm_evidence *best = NULL;
    for (i = 0; i < run->n_evl; i++) {
        const rm_evidence *e = &run->evl[i];
        if (e->kind == RM_E_PYTEST_SUMMARY && (!best || e->t >= best->t))
            best = e;
        if (e->kind == RM_E_WORKER_CRASH)
            E->worker_crash = 1;
    }
    if (!best)
        return;
    for (k = 0; k < run->n_items; k++) {
        const rm_item *it = &run->items[k];
        /* a test that starts after it (a test's end may: session teardown) */
        if (it->type == RM_I_TEXT_START || (it->type == RM_I_RECORD && it->rank == 3))
            if (it->t > last_test)
                last_test = it->t;
    }
    if (best->t && last_test > best->t)
        return; /* a summary printed inside a test (pytester), not the run's */
    if (best->t && test_running_at(run, best->t))
        return; /* the same, in the last test: its records say it had not ended */
    /* "!!! KeyboardInterrupt !!!" before it, or the plugin's last gasp
       before SIGINT in a process that is not an xdist worker (execnet
       interrupts workers at a normal session's end; pytest's own handler
       may fail before its banner): the summary of an interrupted run */
    for (i = 0; i < run->n_evl; i++) {
        const rm_evidence *e = &run->evl[i];
        if (e->kind == RM_E_CANCELLED && e->value == 2 &&
            (strstr(e->text, "!!!") ||
             (strstr(e->text, "last gasp") && !is_worker_pid(run, e->pid))) &&
            e->t <= best->t && e->t >= last_test &&
            (e->src == best->src ? e->line < best->line : 1))
            return;
    }
    E->final = 1;
    E->final_t = best->t;
    E->final_src = best->src;
    E->final_line = best->line;
    E->final_value = best->value;
}

/* How long before a death by another signal an OOM kill stops being its
 * cause (the run went on after it). */
#define OOM_BEFORE_OTHER_END_USEC (60 * 1000000LL)
/* rm_evidence.proof of a kernel OOM line older than the sampler: not the
 * run's (other ruled-out evidence has -1: the run went on after it) */
#define OOM_BEFORE_RUN (-2)
/* A worker's crash or the kernel's line within this of an OOM kill's
 * (estimated) time is that kill's; a test that starts this long after it
 * shows that the run went on. */
#define OOM_NEAR_USEC (5 * 1000000LL)
#define OOM_WENT_ON_USEC (1000000LL)
/* The same for a record or a sample: its own clock, no runner's stamp's lag. */
#define OOM_ALIVE_USEC (100000LL)

/* When the newest OOM kill with proof happened: its event (the kernel's
 * line, the counter's rise), not the sampler's verdict that sums them up
 * at the end (which says nothing of when); the end when only that. */
static int64_t newest_oom_kill_t(const rm_run *run)
{
    int64_t t = 0, seen = 0, summary = 0;
    int i;
    for (i = 0; i < run->n_evl; i++) {
        const rm_evidence *e = &run->evl[i];
        if (e->kind != RM_E_OOM || e->proof <= 0 || !e->t)
            continue;
        if (strncmp(e->text, "the sampler ", 12) == 0)
            summary = e->t > summary ? e->t : summary;
        else if (e->test) /* a record that read the count later: "by then" */
            seen = e->t > seen ? e->t : seen;
        else if (e->t > t)
            t = e->t;
    }
    return t ? t : seen ? seen : summary;
}

/* The pid of the command the sampler ran (its newest word on it), 0. */
static long long command_pid(const rm_run *run)
{
    int i;
    for (i = run->n_evl - 1; i >= 0; i--)
        if (run->evl[i].pid && strstr(run->evl[i].text, "the sampler saw the command"))
            return run->evl[i].pid;
    return 0;
}

/* 1 when pid is one of pytest's processes: it wrote the plugin's records
 * (a head at least), or it is the command the sampler ran. */
static int pytest_pid(const rm_run *run, long long pid)
{
    int k;
    for (k = 0; k < run->n_procs; k++)
        if (run->procs[k].plugin && run->procs[k].pid == pid)
            return 1;
    for (k = 0; k < run->n_head_pids; k++)
        if (run->head_pids[k] == pid)
            return 1;
    return pid && pid == command_pid(run);
}

/* 1 when the OOM kill at kill_t spared the run: the kernel named a process
 * that is not one of the run's (a test's child; the plugin's records name
 * pytest's processes), or tests started after it and no worker crashed near
 * it (a child, a service beside pytest). 0 when it killed pytest or a
 * worker, or nothing says. */
static int oom_spared_the_run(const rm_run *run, int64_t kill_t)
{
    int i, k, named = 0, ours = 0, plugin = 0;
    long long cmd = command_pid(run);
    if (!kill_t)
        return 0;
    for (i = 0; i < run->n_procs; i++)
        if (run->procs[i].plugin)
            plugin = 1; /* the plugin's records name pytest's processes */
    plugin |= run->n_head_pids > 0;
    for (i = 0; i < run->n_evl; i++) {
        const rm_evidence *e = &run->evl[i];
        int64_t d = e->t > kill_t ? e->t - kill_t : kill_t - e->t;
        if (!e->t || d > OOM_NEAR_USEC)
            continue;
        if (e->kind == RM_E_WORKER_CRASH)
            return 0;
        if (e->kind == RM_E_OOM && e->pid > 0 && e->victim && e->proof != 0 &&
            e->proof != OOM_BEFORE_RUN) {
            named = 1;
            ours |= pytest_pid(run, e->pid);
        }
    }
    if (ours)
        return 0;
    if (named && plugin)
        return 1;
    /* pytest lived on after it: the command the sampler ran read alive, or
       pytest's main process (not an xdist worker) writing records */
    for (k = 0; cmd && k < run->n_tree; k++)
        if (run->tree[k].pid == cmd && run->tree[k].rss > 0 &&
            run->tree[k].t > kill_t + OOM_ALIVE_USEC)
            return 1;
    for (k = 0; k < run->n_procs; k++)
        if (run->procs[k].plugin && !run->procs[k].worker[0] &&
            run->procs[k].last_t > kill_t + OOM_ALIVE_USEC)
            return 1;
    for (i = 0; i < (int)run->n_items; i++) {
        const rm_item *it = &run->items[i];
        if ((it->type == RM_I_TEXT_START && it->t > kill_t + OOM_WENT_ON_USEC) ||
            (it->type == RM_I_RECORD && it->rank == 3 && it->t > kill_t + OOM_ALIVE_USEC))
            return 1;
    }
    return 0;
}

/* The POSIX signal a Windows exit status stands for (an NTSTATUS as a
 * negative exit code: 0xC0000005 is -1073741819), or -1. */
static int windows_status_signal(long code)
{
    switch (code) {
    case -1073741819: /* 0xC0000005 access violation */
    case -1073741571: /* 0xC00000FD stack overflow */
        return 11;
    case -1073740791: /* 0xC0000409 fail fast (abort(), a buffer overrun) */
        return 6;
    case -1073741795: /* 0xC000001D illegal instruction */
        return 4;
    case -1073741676: /* 0xC0000094 integer divide by zero */
        return 8;
    default:
        return -1;
    }
}

/* The step's exit code: the runner's line, else the sampler's verdict (an
 * exit code, or a signal as 128 + its number); the newest of each. */
static void find_exit(rm_run *run, rm_end *E)
{
    int i, best = -1, best_rank = 0;
    E->code = -1;
    E->code_ev = -1;
    for (i = 0; i < run->n_evl; i++) {
        const rm_evidence *e = &run->evl[i];
        int sampler = strstr(e->text, "the sampler saw the command") != NULL, rank;
        if (before_final(E, e) && !sampler)
            continue; /* the step's end, printed before pytest's final summary: a test printed it */
        if (e->kind == RM_E_EXIT_CODE)
            rank = sampler ? 1 : 2;
        else if (sampler && e->value > 0)
            rank = 1;
        else
            continue;
        if (rank > best_rank || (rank == best_rank && e->t >= run->evl[best].t)) {
            best = i;
            best_rank = rank;
        }
    }
    if (best >= 0) {
        const rm_evidence *e = &run->evl[best];
        E->code = e->kind == RM_E_EXIT_CODE ? e->value : 128 + e->value;
        E->code_ev = best;
        E->death_t = e->t;
    }
    if (!E->death_t)
        E->death_t = run->t_last;
}

/* A reading: 1 the machine out of memory, 2 the cgroup at its limit (page
 * cache left out: without the sampler's cg_inactive_file, a full cgroup
 * may be only cache, so it is no evidence either way), 0 not. */
static int reading_low(const rm_sysread *x)
{
    uint64_t lim = LOW_AVAIL_BYTES;
    if (x->total != RM_UNSET && x->total / 100 * LOW_AVAIL_PERCENT > lim)
        lim = x->total / 100 * LOW_AVAIL_PERCENT;
    if (x->avail != RM_UNSET && x->avail <= lim)
        return 1;
    if (x->cg_lim != RM_UNSET && x->cg_lim && x->cg_use != RM_UNSET && x->cg_file != RM_UNSET) {
        uint64_t use = x->cg_file < x->cg_use ? x->cg_use - x->cg_file : 0;
        if (use >= x->cg_lim / 100 * CG_NEAR_LIMIT_PERCENT)
            return 2;
    }
    return 0;
}

/* 1 memory to spare, 0 not, -1 cannot tell (a cgroup fuller than
 * AMPLE_CG_PERCENT with its page cache unknown). */
static int reading_ample(const rm_sysread *x)
{
    if (x->avail == RM_UNSET || x->total == RM_UNSET || x->total == 0)
        return 0;
    if (x->avail < x->total / 100 * AMPLE_AVAIL_PERCENT)
        return 0;
    if (x->cg_lim != RM_UNSET && x->cg_lim && x->cg_use != RM_UNSET) {
        uint64_t use = x->cg_use;
        if (x->cg_file != RM_UNSET && x->cg_file < use)
            use -= x->cg_file;
        if (use > x->cg_lim / 100 * AMPLE_CG_PERCENT)
            return x->cg_file == RM_UNSET ? -1 : 0;
    }
    return 1;
}

/* When the sampler's tree was found gone: the first of its readings (the
 * timeline, sorted; proc -1) whose tree held no memory (no process left, or
 * only zombies) after the newest one whose tree held some. 0 when the tree
 * lives at the end, or was never seen alive (a sampler that cannot read it). */
static int64_t tree_gone(const rm_run *run)
{
    int i;
    int64_t gone = 0;
    for (i = run->n_tl - 1; i >= 0; i--) {
        const rm_point *p = &run->tl[i];
        if (p->proc >= 0 || p->rss == RM_UNSET)
            continue;
        if (p->rss > 0)
            return gone;
        gone = p->t;
    }
    return 0;
}

/* The highest RSS any reading saw (a process's, or the sampler's tree). */
static uint64_t max_reading_rss(const rm_run *run)
{
    uint64_t m = 0;
    int i;
    for (i = 0; i < run->n_tl; i++)
        if (run->tl[i].rss != RM_UNSET && run->tl[i].rss > m)
            m = run->tl[i].rss;
    return m;
}

/* A cgroup reading's use, its inactive page cache left out when read. */
static uint64_t cg_used(const rm_sysread *x, int less_cache)
{
    if (less_cache && x->cg_file != RM_UNSET && x->cg_file < x->cg_use)
        return x->cg_use - x->cg_file;
    return x->cg_use;
}

/* Whether memory, growing GROWTH_SLACK times as fast as it grew into the
 * newest live reading x[0] (against live readings at least GROWTH_MIN_USEC
 * older), would have filled what x[0] left before the end: then x[0] says
 * little of memory at the death. *rate: the growth (bytes/s) that does it. */
static int could_fill(const rm_sysread *const *x, int n, int64_t end, double *rate)
{
    const rm_sysread *z = x[0];
    double gap, cg_rate = 0, m_rate = 0;
    int i;
    if (!end || end <= z->t)
        return 0;
    gap = (double)(end - z->t) / 1e6;
    for (i = 1; i < n; i++) {
        const rm_sysread *y = x[i];
        double dt = (double)(z->t - y->t) / 1e6, r;
        if (z->t - y->t < GROWTH_MIN_USEC)
            continue;
        if (z->cg_use != RM_UNSET && y->cg_use != RM_UNSET) {
            int both = z->cg_file != RM_UNSET && y->cg_file != RM_UNSET;
            r = ((double)cg_used(z, both) - (double)cg_used(y, both)) / dt;
            if (r > cg_rate)
                cg_rate = r;
        }
        if (z->avail != RM_UNSET && y->avail != RM_UNSET) {
            r = ((double)y->avail - (double)z->avail) / dt;
            if (r > m_rate)
                m_rate = r;
        }
    }
    if (cg_rate > 0 && z->cg_lim != RM_UNSET && z->cg_lim && z->cg_use != RM_UNSET) {
        uint64_t use = cg_used(z, 1);
        double room = use < z->cg_lim ? (double)(z->cg_lim - use) : 0;
        if (GROWTH_SLACK * cg_rate * gap >= room) {
            *rate = cg_rate;
            return 2;
        }
    }
    if (m_rate > 0 && z->avail != RM_UNSET) {
        uint64_t lim = LOW_AVAIL_BYTES;
        double room;
        if (z->total != RM_UNSET && z->total / 100 * LOW_AVAIL_PERCENT > lim)
            lim = z->total / 100 * LOW_AVAIL_PERCENT;
        room = z->avail > lim ? (double)(z->avail - lim) : 0;
        if (GROWTH_SLACK * m_rate * gap >= room) {
            *rate = m_rate;
            return 1;
        }
    }
    return 0;
}

/* A process's kernel high-water mark (the sampler's root_hwm/proc_hwm) at
 * the cgroup's limit and above every reading: memory reached the limit
 * between readings. Its evidence index (cited at the sampler's verdict),
 * -1 none. */
static int hwm_at_limit(rm_run *run)
{
    uint64_t hwm = run->root_hwm > run->proc_hwm ? run->root_hwm : run->proc_hwm;
    char msg[RM_SNIP_MAX], a[32], b[32];
    int i, at = -1, k;
    if (!hwm || run->cg_lim == RM_UNSET || !run->cg_lim ||
        hwm < run->cg_lim / 100 * HWM_NEAR_LIMIT_PERCENT || hwm <= max_reading_rss(run))
        return -1;
    for (i = run->n_evl - 1; i >= 0 && at < 0; i--)
        if (strstr(run->evl[i].text, "the sampler saw the command"))
            at = i;
    k = snprintf(msg, sizeof(msg),
                 "peak RSS %s (kernel high-water mark) between readings; the cgroup's limit %s",
                 rm_fmt_size(a, sizeof(a), hwm), rm_fmt_size(b, sizeof(b), run->cg_lim));
    if (at >= 0)
        return rm_run_evidence(run, RM_E_LOW_MEMORY, run->evl[at].src, run->evl[at].line,
                               run->evl[at].t, run->evl[at].pid, 0, msg, k > 0 ? (size_t)k : 0);
    return rm_run_evidence(run, RM_E_LOW_MEMORY, run->n_last ? run->last[0].src : 0, 0,
                           run->n_last ? run->last[0].t : run->t_last, 0, 0, msg,
                           k > 0 ? (size_t)k : 0);
}

/* What the newest readings before the end say about memory. Only readings
 * taken while the watched tree lived count: one at or after the exit, or
 * once the sampler found the tree gone, shows memory the death freed. */
static void judge_end_readings(rm_run *run, rm_end *E)
{
    int64_t window = END_WINDOW_USEC, end;
    int i, n = 0, recent = 0, ample = 0, unsure = 0, fill = 0, hwm_ev;
    const rm_sysread *alive[RM_LAST_READS];
    double rate = 0;
    char msg[RM_SNIP_MAX], a[32], b[32], c[32];
    E->low_ev = E->ample_ev = -1;
    E->gone_t = tree_gone(run);
    end = E->gone_t;
    if (E->code_ev >= 0 && E->death_t && (!end || E->death_t < end))
        end = E->death_t;
    /* the counter watched up to the end: the sampler's verdict counts the
       run's kills, or a sample of it near the end (a head reads it before
       the tests: that says nothing of the end) */
    E->counter_watched =
        run->cg_oom_run != RM_UNSET ||
        (run->cg_oom_t && (!end || end <= run->cg_oom_t || end - run->cg_oom_t <= END_STALE_USEC));
    for (i = 0; i < run->n_last; i++) {
        rm_sysread *x = &run->last[i];
        if (x->total == RM_UNSET)
            x->total = run->mem_total;
        if ((!end || x->t < end) && n < RM_END_READS)
            alive[n++] = x; /* the newest live ones: the rest are after the death */
    }
    if (!end)
        end = E->death_t;
    if (n >= 2 && 3 * (alive[0]->t - alive[1]->t) > window)
        window = 3 * (alive[0]->t - alive[1]->t);
    if (n && end && end - alive[0]->t > END_STALE_USEC)
        n = 0; /* the newest live reading is too old to say anything */
    for (i = 0; i < n; i++) {
        const rm_sysread *x = alive[i];
        int low;
        if (alive[0]->t - x->t > window)
            continue;
        recent++;
        low = reading_low(x);
        if (low && !E->low) {
            int k;
            E->low = low;
            if (low == 2)
                k = snprintf(msg, sizeof(msg), "the cgroup used %s of its %s limit",
                             rm_fmt_size(a, sizeof(a), cg_used(x, 1)),
                             rm_fmt_size(b, sizeof(b), x->cg_lim));
            else if (x->total != RM_UNSET)
                k = snprintf(msg, sizeof(msg), "the machine had %s of %s available",
                             rm_fmt_size(a, sizeof(a), x->avail),
                             rm_fmt_size(b, sizeof(b), x->total));
            else
                k = snprintf(msg, sizeof(msg), "the machine had %s available",
                             rm_fmt_size(a, sizeof(a), x->avail));
            E->low_ev = rm_run_evidence(run, RM_E_LOW_MEMORY, x->src, x->line, x->t, 0, 0, msg,
                                        k > 0 ? (size_t)k : 0);
        }
        switch (reading_ample(x)) {
        case 1:
            ample++;
            break;
        case -1:
            unsure++;
            break;
        default:
            break;
        }
    }
    /* ample only when every recent reading that can tell had memory to spare,
       the newest among them (a cgroup at 90 % of its limit, its page cache
       unknown, is no room to spare), and memory could not have filled the
       rest before the death */
    if (ample && ample + unsure == recent && !E->low && reading_ample(alive[0]) == 1) {
        const rm_sysread *x = alive[0];
        double before = end > x->t ? (double)(end - x->t) / 1e6 : 0.0;
        int k;
        fill = could_fill(alive, n, end, &rate);
        if (fill)
            k = snprintf(msg, sizeof(msg),
                         "%s of %s available%s, %.1f s before the end; growing %s/s, %s could "
                         "have run out by then",
                         rm_fmt_size(a, sizeof(a), x->avail), rm_fmt_size(b, sizeof(b), x->total),
                         x->cg_lim != RM_UNSET ? " and the cgroup below its limit" : ", no limit",
                         before, rm_fmt_size(c, sizeof(c), (uint64_t)rate),
                         fill == 2 ? "the cgroup" : "the machine");
        else
            k = snprintf(msg, sizeof(msg), "%s of %s available%s, %.1f s before the end",
                         rm_fmt_size(a, sizeof(a), x->avail), rm_fmt_size(b, sizeof(b), x->total),
                         x->cg_lim != RM_UNSET ? " and the cgroup below its limit" : ", no limit",
                         before);
        E->ample_ev = rm_run_evidence(run, RM_E_AMPLE_MEMORY, x->src, x->line, x->t, 0, 0, msg,
                                      k > 0 ? (size_t)k : 0);
        if (fill)
            E->weak = 1;
        else
            E->ample = 1;
    }
    /* a process's peak at the cgroup's limit, unseen by any reading: no
       memory to spare; against readings that had some, it is a conflict */
    if (!E->low && (hwm_ev = hwm_at_limit(run)) >= 0) {
        E->low = 3;
        E->low_ev = hwm_ev;
        if (E->ample) {
            E->ample = 0;
            E->hwm_conflict = 1;
        }
        E->weak = 0;
    }
    /* the sampler judged its own last samples (with the cgroup's page cache) */
    for (i = 0; i < run->n_evl && !E->low && !E->ample && !E->weak; i++)
        if (run->evl[i].kind == RM_E_AMPLE_MEMORY && strstr(run->evl[i].text, "sampler")) {
            E->ample = 1;
            E->ample_ev = i;
        }
    /* a low_memory event or the sampler's "SIGKILL near a limit" near the end */
    for (i = 0; i < run->n_evl && !E->low; i++) {
        const rm_evidence *e = &run->evl[i];
        if (e->kind == RM_E_LOW_MEMORY && (!E->death_t || !e->t || E->death_t - e->t <= window) &&
            !E->ample) {
            E->low = 1;
            E->low_ev = i;
        }
    }
}

static void add_ev(rm_verdict *v, int i, rm_run *run, int role)
{
    int k;
    if (i < 0 || v->n_ev >= (int)(sizeof(v->ev) / sizeof(v->ev[0])))
        return;
    for (k = 0; k < v->n_ev; k++)
        if (v->ev[k] == i)
            return;
    v->ev[v->n_ev++] = i;
    if (role != RM_R_CONTEXT || run->evl[i].role == RM_R_CONTEXT)
        run->evl[i].role = role;
}

/* The newest live piece of evidence of a kind whose value is not skip_value
 * (-1 none); live(): of any value. */
static int live_but(const rm_run *run, int kind, long skip_value)
{
    int i;
    for (i = run->n_evl - 1; i >= 0; i--)
        if (run->evl[i].kind == kind && run->evl[i].role != RM_R_AFTER_END &&
            run->evl[i].proof >= 0 && run->evl[i].value != skip_value)
            return i;
    return -1;
}

/* The newest evidence of a kind that came after pytest's summary, -1. */
static int live_after(const rm_run *run, int kind)
{
    int i;
    for (i = run->n_evl - 1; i >= 0; i--)
        if (run->evl[i].kind == kind && run->evl[i].role == RM_R_AFTER_END)
            return i;
    return -1;
}

static int live(const rm_run *run, int kind)
{
    return live_but(run, kind, LONG_MIN);
}

static void set(rm_verdict *v, rm_verdict_kind k, double conf, const char *text)
{
    int n;
    v->kind = k;
    v->confidence = conf;
    n = snprintf(v->why, sizeof(v->why), "%s", text);
    if (n < 0)
        v->why[0] = '\0';
}

/* Marks evidence that cannot have ended the run: after the final summary
 * (a shutdown after success), before it (the run went on), or a kernel OOM
 * line older than the sampler. proof < 0 marks "ruled out". */
static void rule_out(rm_run *run, const rm_end *E)
{
    int i, oom_before = 0;
    uint64_t counter_before = 0; /* the OOM-kill count read before the summary */
    for (i = 0; i < run->n_evl; i++) {
        const rm_evidence *e = &run->evl[i];
        if (e->kind == RM_E_OOM && e->proof > 0 && before_final(E, e)) {
            oom_before = 1;
            if (e->counter > counter_before)
                counter_before = e->counter;
        }
    }
    for (i = 0; i < run->n_evl; i++) {
        rm_evidence *e = &run->evl[i];
        int death = e->kind == RM_E_SEGV || e->kind == RM_E_FATAL_SIGNAL ||
                    e->kind == RM_E_KILLED || e->kind == RM_E_TERMINATED ||
                    e->kind == RM_E_CANCELLED || e->kind == RM_E_SHUTDOWN || e->kind == RM_E_OOM ||
                    e->kind == RM_E_LOW_MEMORY || e->kind == RM_E_HANG;
        if (!death)
            continue;
        if (after_final(E, e) && e->kind == RM_E_OOM && oom_before &&
            ((e->counter && e->counter <= counter_before) ||
             (!e->counter && strncmp(e->text, "the sampler ", 12) == 0))) {
            /* the sampler read, after the summary, a count that the
               records had read before it (it reads once a second), or
               summed up kills seen before it: no kill after the end */
            e->proof = -1;
        } else if (after_final(E, e)) {
            e->role = RM_R_AFTER_END;
        } else if (e->kind == RM_E_OOM && run->sampler_t0 && e->t && e->t < run->sampler_t0) {
            e->proof = OOM_BEFORE_RUN; /* the kernel's log from before the run */
        } else if (before_final(E, e) && !E->worker_crash && e->kind != RM_E_HANG) {
            e->proof = -1; /* the run went on after it: a test printed it, or a child died */
        }
    }
}

/* A reading while the test of a crashed xdist worker ran that shows memory
 * exhausted (the cgroup within CG_NEAR_LIMIT_PERCENT of its limit, or the
 * machine low): its evidence index, -1 none. */
static int crash_window_low(rm_run *run)
{
    const rm_test *T;
    int64_t end;
    int i;
    char msg[RM_SNIP_MAX], a[32], b[32];
    if (run->crashed_test < 0)
        return -1;
    T = &run->tests[run->crashed_test];
    end = T->t_end ? T->t_end : run->t_last;
    for (i = 0; i < run->n_tl; i++) {
        const rm_point *p = &run->tl[i];
        int k;
        if (p->t < T->t_start || p->t > end)
            continue;
        if (run->cg_lim != RM_UNSET && p->cg != RM_UNSET &&
            p->cg >= run->cg_lim / 100 * CG_NEAR_LIMIT_PERCENT)
            k = snprintf(msg, sizeof(msg), "the cgroup used %s of its %s limit while it ran",
                         rm_fmt_size(a, sizeof(a), p->cg), rm_fmt_size(b, sizeof(b), run->cg_lim));
        else if (p->avail != RM_UNSET && p->avail <= LOW_AVAIL_BYTES)
            k = snprintf(msg, sizeof(msg), "the machine had %s available while it ran",
                         rm_fmt_size(a, sizeof(a), p->avail));
        else
            continue;
        return rm_run_evidence(run, RM_E_LOW_MEMORY, run->min_avail_src, 0, p->t, 0, 0, msg,
                               k > 0 ? (size_t)k : 0);
    }
    return -1;
}

/* A run that finished: the OOM kills its records saw while tests ran (a
 * child a test started, a worker xdist replaced), the first few, said as
 * context that names the test. Returns how many were added. */
static int oom_in_tests(rm_run *run, const rm_end *E, rm_verdict *v)
{
    int i, n = 0;
    for (i = 0; i < run->n_evl && n < 3; i++) {
        const rm_evidence *e = &run->evl[i];
        if (e->kind == RM_E_OOM && e->test && !after_final(E, e)) {
            add_ev(v, i, run, RM_R_CONTEXT);
            n++;
        }
    }
    return n;
}

/* The newest OOM kill with proof during the run (not after its end), -1. */
static int oom_any(const rm_run *run)
{
    int i;
    for (i = run->n_evl - 1; i >= 0; i--)
        if (run->evl[i].kind == RM_E_OOM && run->evl[i].proof != 0 &&
            run->evl[i].proof != OOM_BEFORE_RUN && run->evl[i].role != RM_R_AFTER_END)
            return i;
    return -1;
}

/* The runner's "The operation was canceled." after pytest's summary, -1. */
static int runner_cancel(const rm_run *run)
{
    int k = live_after(run, RM_E_CANCELLED);
    return k >= 0 && strstr(run->evl[k].text, "canceled") ? k : -1;
}

/* pytest finished (its summary), then the step died of a signal: an OOM
 * kill after the summary (pytest's exit, a later command of the step), the
 * runner's shutdown or cancel, a kill. That ended the job, whatever the
 * tests did; the summary stays, as what pytest said. */
static void died_after_summary(rm_run *run, rm_verdict *v, const rm_end *E)
{
    const char *tests = v->kind == RM_V_PASSED   ? "pytest had finished without failures"
                        : v->kind == RM_V_FAILED ? "pytest had finished with failures"
                                                 : "pytest had finished";
    char why[sizeof(v->why)];
    int i, k = -1, n;
    long sig = v->signal;
    rm_verdict_kind kind;
    double conf;
    for (i = run->n_evl - 1; i >= 0 && k < 0 && sig == 9; i--)
        if (run->evl[i].kind == RM_E_OOM && run->evl[i].role == RM_R_AFTER_END &&
            run->evl[i].proof > 0)
            k = i; /* an OOM kill sends SIGKILL: it explains no other signal */
    if (k >= 0) {
        kind = RM_V_OOM_KILL;
        conf = 0.9;
        n = snprintf(why, sizeof(why),
                     "the kernel OOM-killed a process after pytest's summary (%s)", tests);
        sig = 9;
    } else if ((k = live(run, RM_E_SHUTDOWN)) >= 0 || (k = live_after(run, RM_E_SHUTDOWN)) >= 0) {
        kind = RM_V_RUNNER_SHUTDOWN;
        conf = 0.9;
        n = snprintf(why, sizeof(why), "the runner was shut down after pytest's summary (%s)",
                     tests);
    } else if ((k = runner_cancel(run)) >= 0 || sig == 2) {
        kind = RM_V_CANCELLED;
        conf = 0.9;
        n = snprintf(why, sizeof(why), "the job was cancelled after pytest's summary (%s)", tests);
    } else if (sig == 9) {
        kind = RM_V_KILLED;
        conf = 0.7;
        n = snprintf(why, sizeof(why), "SIGKILL after pytest's summary, no OOM kill read (%s)",
                     tests);
    } else {
        kind = RM_V_SIGNAL;
        conf = 0.7;
        n = snprintf(why, sizeof(why), "signal %ld after pytest's summary (%s)", sig, tests);
    }
    for (i = 0; i < v->n_ev; i++) /* what proved the verdict it replaces */
        if (run->evl[v->ev[i]].role == RM_R_PROVES)
            run->evl[v->ev[i]].role = RM_R_CONTEXT;
    if (n < 0)
        why[0] = '\0';
    set(v, kind, conf, why);
    run->after_summary = 1;
    v->signal = sig > 0 ? sig : v->signal;
    add_ev(v, k, run, RM_R_PROVES);
    add_ev(v, E->code_ev, run, RM_R_SUPPORTS);
    if (k >= 0) /* listed already as "after end": it is the proof now */
        run->evl[k].role = RM_R_PROVES;
}

static void verdict(rm_run *run)
{
    rm_verdict *v = &run->verdict;
    rm_end E;
    int i, oom = -1, k;
    long code;
    memset(v, 0, sizeof(*v));
    memset(&E, 0, sizeof(E));
    find_final(run, &E);
    find_exit(run, &E);
    judge_end_readings(run, &E);
    rule_out(run, &E);
    code = E.code;
    v->exit_code = code;
    v->signal = code > 128 && code < 160 ? code - 128 : windows_status_signal(code);

    if (run->lines_nonblank == 0) {
        set(v, RM_V_CANCELLED, 0.7, "the inputs hold no output at all");
        return;
    }
    /* OOM proof: the cgroup's counter rose, or a kernel line named the tree */
    for (i = run->n_evl - 1; i >= 0; i--)
        if (run->evl[i].kind == RM_E_OOM && run->evl[i].proof > 0 &&
            run->evl[i].role != RM_R_AFTER_END) {
            oom = i;
            break;
        }
    if (oom < 0 && run->cg_oom_min != RM_UNSET && run->cg_oom_max > run->cg_oom_min) {
        oom = rm_run_evidence(run, RM_E_OOM, run->last[0].src, run->last[0].line, run->last[0].t, 0,
                              (long)(run->cg_oom_max - run->cg_oom_min),
                              "the samples show the cgroup's OOM-kill counter rise", 51);
        if (oom >= 0)
            run->evl[oom].proof = 1;
    }

    run->kill_t = oom >= 0 && run->evl[oom].t ? run->evl[oom].t : E.death_t;
    run->finished_run = E.final && !E.worker_crash;
    run->summary_final = E.final;
    if (E.final && !E.worker_crash) {
        /* pytest finished: its summary is proof of how; what came after it
           (a slow teardown interrupted, the runner stopping) is not a death */
        int bad = E.final_value > 0 || run->n_failed > 0 || run->n_errors > 0;
        int counted = E.final_value >= 0 || run->n_failed >= 0;
        for (i = 0; i < run->n_evl; i++)
            if (run->evl[i].role == RM_R_AFTER_END)
                add_ev(v, i, run, RM_R_AFTER_END);
        if (!counted && (code < 0 || code > 128)) {
            /* pytest -qq, or its terminal plugin off: the session ended,
               and nothing read says whether a test failed (a signal after
               the end says nothing of the tests either) */
            set(v, RM_V_UNKNOWN, 0.3,
                "pytest finished, but no input says whether tests failed (no pytest summary "
                "line, no exit code; the summary record has no counts)");
        } else if (!counted) {
            set(v, code ? RM_V_FAILED : RM_V_PASSED, 0.9,
                code ? "pytest finished and the step exited with an error (no pytest counts read)"
                     : "pytest finished and the step exited with 0 (no pytest counts read)");
        } else if (run->memerr_test >= 0 && bad) {
            set(v, RM_V_MEMORY_ERROR, 0.9, "a test failed with MemoryError; pytest finished");
            add_ev(v, live(run, RM_E_MEMORY_ERROR), run, RM_R_PROVES);
        } else if (bad && (k = live_but(run, RM_E_HANG, HANG_DUMP_ONLY)) >= 0) {
            /* a timeout that failed a test, not a slow test's stack dump */
            set(v, RM_V_HANG, 0.85, "a test timed out; pytest finished");
            add_ev(v, k, run, RM_R_PROVES);
        } else {
            set(v, bad ? RM_V_FAILED : RM_V_PASSED, 0.95,
                bad ? "pytest finished with failures" : "pytest finished without failures");
        }
        if (counted && run->has_summary && !run->n_passed && !run->n_failed && !run->n_errors &&
            !run->n_skipped && !run->n_other) {
            /* pytest exits 5: no test ran (none collected, all deselected,
               xdist's workers all crashed at collection) */
            /* the kills were before the summary (ruled out): oom_any's time */
            if ((k = oom_any(run)) >= 0 && !oom_spared_the_run(run, run->evl[k].t)) {
                set(v, RM_V_OOM_KILL, 0.9,
                    "pytest ran no tests, and processes of the run were OOM-killed (xdist's "
                    "workers at collection?)");
                add_ev(v, k, run, RM_R_PROVES);
                oom = -1;
            } else {
                set(v, RM_V_FAILED, 0.9,
                    "pytest ran no tests (none collected, or all deselected: pytest exits 5)");
            }
        }
        for (i = run->n_evl - 1; i >= 0; i--)
            if (run->evl[i].kind == RM_E_PYTEST_SUMMARY) {
                add_ev(v, i, run, RM_R_PROVES);
                break;
            }
        if (E.code_ev >= 0 && v->signal > 0)
            died_after_summary(run, v, &E);
        if (oom_in_tests(run, &E, v) == 0 && oom >= 0)
            add_ev(v, oom, run, RM_R_CONTEXT);
        add_ev(v, E.code_ev, run, RM_R_CONTEXT);
        return;
    }
    if (oom >= 0 && ((code > 128 && code != 137 && E.death_t &&
                      E.death_t - newest_oom_kill_t(run) > OOM_BEFORE_OTHER_END_USEC) ||
                     oom_spared_the_run(run, newest_oom_kill_t(run)))) {
        /* an OOM kill (an xdist worker's, the run went on) long before the
           step ended of another signal (a job timeout's SIGTERM), or one
           that spared the run (a test's child, a service beside pytest):
           not what ended it; said as context */
        add_ev(v, oom, run, RM_R_CONTEXT);
        oom = -1;
    }
    if (oom >= 0) {
        set(v, RM_V_OOM_KILL, 0.97,
            strstr(run->evl[oom].text, "kernel")
                ? "the kernel OOM-killed a process of the run"
                : "the cgroup's OOM-kill counter rose during the run");
        if (v->signal > 0 && v->signal != 9) {
            /* a worker's OOM kill, then the step ended by another signal
               (xdist hung, the job's timeout): the kill is the cause */
            char tail[64];
            snprintf(tail, sizeof(tail), "; the step then ended by signal %ld", v->signal);
            strncat(v->why, tail, sizeof(v->why) - strlen(v->why) - 1);
        } else {
            v->signal = 9;
        }
        add_ev(v, oom, run, RM_R_PROVES);
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        add_ev(v, E.low_ev, run, RM_R_SUPPORTS);
        add_ev(v, live(run, RM_E_KILLED), run, RM_R_SUPPORTS);
        return;
    }
    if ((k = live(run, RM_E_SHUTDOWN)) >= 0) {
        set(v, RM_V_RUNNER_SHUTDOWN, 0.95, "the runner was shut down");
        v->signal = 15;
        add_ev(v, k, run, RM_R_PROVES);
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        add_ev(v, live(run, RM_E_TERMINATED), run, RM_R_SUPPORTS);
        return;
    }
    if ((k = live(run, RM_E_SEGV)) >= 0 || code == 139 || windows_status_signal(code) == 11) {
        set(v, RM_V_SEGFAULT, k >= 0 ? 0.95 : 0.7, "a process died of SIGSEGV");
        v->signal = 11;
        add_ev(v, k, run, RM_R_PROVES);
        add_ev(v, E.code_ev, run, k >= 0 ? RM_R_SUPPORTS : RM_R_PROVES);
        add_ev(v, live(run, RM_E_THREAD_DUMP), run, RM_R_SUPPORTS);
        return;
    }
    if ((k = live(run, RM_E_FATAL_SIGNAL)) >= 0) {
        set(v, RM_V_SIGNAL, 0.9, "a process died of a fatal signal");
        v->signal = run->evl[k].value;
        add_ev(v, k, run, RM_R_PROVES);
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        add_ev(v, live(run, RM_E_THREAD_DUMP), run, RM_R_SUPPORTS);
        return;
    }
    if (code == 137 || (k = live(run, RM_E_KILLED)) >= 0) {
        int killed = live(run, RM_E_KILLED);
        v->signal = 9;
        if ((E.low || run->cg_oom_run == 0) && E.counter_watched &&
            run->cg_oom_max == run->cg_oom_min &&
            (run->cg_oom_run == RM_UNSET || run->cg_oom_run == 0) && !E.ample) {
            /* memory was short, but the cgroup's OOM-kill counter, which the
               sampler read to the end, did not move: it counts every OOM
               kill of a process in the group, the machine's OOM killer's too */
            set(v, RM_V_KILLED, 0.7,
                E.low == 2   ? "killed from outside: the cgroup was full, but its OOM-kill counter "
                               "did not rise"
                : E.low == 3 ? "killed from outside: a process reached the cgroup's limit, but its "
                               "OOM-kill counter did not rise"
                : E.low      ? "killed from outside: memory was short near the end, but the "
                               "cgroup's OOM-kill counter did not rise"
                             : "killed from outside: the cgroup's OOM-kill counter, which the "
                               "sampler read after the death, did not rise");
            add_ev(v, E.low_ev, run, RM_R_CONTRADICTS);
        } else if (E.hwm_conflict) {
            /* a peak at the limit between readings (a sudden allocation), or
               long before the end; the last readings had room */
            set(v, RM_V_OOM_KILL, 0.4,
                "SIGKILL; a process's peak reached the cgroup's limit between readings, but the "
                "last readings had memory to spare: OOM is likely, not proven");
            add_ev(v, E.low_ev, run, RM_R_SUPPORTS);
            add_ev(v, E.ample_ev, run, RM_R_CONTRADICTS);
        } else if (E.low && !E.ample) {
            set(v, RM_V_OOM_KILL, 0.75,
                E.low == 3 ? "SIGKILL, and a process's peak reached the cgroup's limit; no OOM "
                             "counter or kernel line proves it"
                           : "SIGKILL with memory exhausted; no OOM counter or kernel line proves "
                             "it");
            add_ev(v, E.low_ev, run, RM_R_SUPPORTS);
        } else if (E.ample) {
            int none = E.counter_watched && run->cg_oom_max == run->cg_oom_min &&
                       (run->cg_oom_run == RM_UNSET || run->cg_oom_run == 0);
            set(v, RM_V_KILLED, none ? 0.85 : 0.65,
                none ? "killed from outside: memory to spare, no OOM kill counted"
                : E.counter_watched
                    ? "killed from outside: memory to spare at the end (an OOM kill before it "
                      "spared the run)"
                    : "killed from outside: memory to spare at the end");
            add_ev(v, E.ample_ev, run, RM_R_PROVES);
        } else if (E.weak) {
            set(v, RM_V_OOM_KILL, 0.4,
                "SIGKILL; the last reading while the run lived had room, but memory grew fast "
                "enough to fill it before the death: OOM is likely, not proven");
            add_ev(v, E.ample_ev, run, RM_R_CONTEXT);
        } else {
            set(v, RM_V_OOM_KILL, 0.4,
                "SIGKILL, no memory readings near the end: OOM is likely, not proven");
        }
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        add_ev(v, killed, run, RM_R_SUPPORTS);
        return;
    }
    if ((code == 143 || live(run, RM_E_TERMINATED) >= 0) && (k = live(run, RM_E_CANCELLED)) >= 0 &&
        strstr(run->evl[k].text, "canceled")) {
        /* the runner's cancel: its SIGINT, then SIGTERM, ended the step */
        set(v, RM_V_CANCELLED, 0.9, "the job was cancelled");
        add_ev(v, k, run, RM_R_PROVES);
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        return;
    }
    if (code == 143 || (k = live(run, RM_E_TERMINATED)) >= 0) {
        int term = live(run, RM_E_TERMINATED);
        set(v, RM_V_SIGNAL, code == 143 && term >= 0 ? 0.75 : 0.6,
            "SIGTERM, not the runner's shutdown: a cancel, a timeout or a person");
        v->signal = 15;
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        add_ev(v, term, run, RM_R_SUPPORTS);
        return;
    }
    if (v->signal > 0 && v->signal != 2) {
        set(v, RM_V_SIGNAL, 0.6, "the exit code says a signal ended the step");
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        return;
    }
    if ((k = live(run, RM_E_HANG)) >= 0) {
        set(v, RM_V_HANG, live(run, RM_E_THREAD_DUMP) >= 0 ? 0.9 : 0.8,
            "a timeout or watchdog fired");
        add_ev(v, k, run, RM_R_PROVES);
        add_ev(v, live(run, RM_E_THREAD_DUMP), run, RM_R_SUPPORTS);
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        return;
    }
    if (run->memerr_test >= 0) {
        set(v, RM_V_MEMORY_ERROR, 0.85, "a test failed with MemoryError");
        add_ev(v, live(run, RM_E_MEMORY_ERROR), run, RM_R_PROVES);
        add_ev(v, E.low_ev, run, RM_R_SUPPORTS);
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        return;
    }
    if ((k = live(run, RM_E_CANCELLED)) >= 0 || v->signal == 2) {
        set(v, RM_V_CANCELLED, k >= 0 && strstr(run->evl[k].text, "canceled") ? 0.9 : 0.7,
            "the job was cancelled (or interrupted)");
        add_ev(v, k, run, RM_R_PROVES);
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        return;
    }
    if (E.final) { /* a worker crashed, and pytest finished */
        int bad = run->n_failed > 0 || run->n_errors > 0 || code > 0;
        int low = crash_window_low(run);
        if (low >= 0) {
            set(v, RM_V_OOM_KILL, 0.7,
                "an xdist worker died while memory was at its limit (no OOM proof read)");
            add_ev(v, live(run, RM_E_WORKER_CRASH), run, RM_R_SUPPORTS);
            add_ev(v, low, run, RM_R_SUPPORTS);
            return;
        }
        set(v, bad ? RM_V_FAILED : RM_V_PASSED, 0.6,
            bad ? "pytest finished with failures after an xdist worker crashed (cause unknown)"
                : "pytest finished without failures after an xdist worker crashed");
        add_ev(v, live(run, RM_E_WORKER_CRASH), run, RM_R_SUPPORTS);
        return;
    }
    if (code == 0) {
        set(v, RM_V_PASSED, 0.6, "the step exited with 0 (no pytest summary read)");
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        return;
    }
    if (code == 124) {
        /* GNU timeout's status when its limit ended the command (with
           --signal=KILL the shell sees 137); a program may return 124 too */
        set(v, RM_V_HANG, 0.6,
            "the step exited with 124, timeout(1)'s code when its time limit ended the command "
            "(no pytest summary read)");
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        return;
    }
    if (code > 0) {
        set(v, RM_V_FAILED, 0.6, "the step exited non-zero (no pytest summary read)");
        add_ev(v, E.code_ev, run, RM_R_SUPPORTS);
        return;
    }
    set(v, RM_V_UNKNOWN, 0.2, "the log ends without saying how the run ended");
    add_ev(v, E.low_ev, run, RM_R_CONTEXT);
    add_ev(v, live(run, RM_E_THREAD_DUMP), run, RM_R_CONTEXT);
}

/* pytest's final summary counts no skipped, xfailed or xpassed test: every
 * ended test that no line called failed or error passed (the job log's
 * short lines carry no outcome; pytest -q prints none per test). */
static void outcomes_from_summary(rm_run *run)
{
    int i;
    if (!run->finished_run || run->n_skipped != 0 || run->n_other != 0)
        return;
    for (i = 0; i < run->n_tests; i++) {
        rm_test *T = &run->tests[i];
        if (T->killed)
            continue;
        if (!T->finished && !T->text_done)
            T->text_done = 1; /* the run finished: so did its last test */
        if (!T->outcome[0])
            memcpy(T->outcome, "passed", 7);
    }
}

/* ---- boundary: the test that was running when the run died ---- */

static void boundary_from_proc(rm_run *run, int pi, int kind)
{
    const rm_proc *P = &run->procs[pi];
    run->boundary_proc = pi;
    run->boundary_kind = kind;
    run->boundary_phase = P->phase;
    run->boundary_at_end = P->at_end;
    run->boundary_rss = P->rss;
    run->boundary_avail = P->avail;
    run->boundary_thr = P->thr;
}

static int unfinished(const rm_test *T)
{
    return !T->finished && !T->text_done;
}

/* The run did not finish (or the log does not say it did): a test may have
 * been cut off. */
static int died(const rm_verdict *v)
{
    return v->kind != RM_V_PASSED && v->kind != RM_V_FAILED && v->kind != RM_V_MEMORY_ERROR;
}

/* pytest did not finish (no summary) and the step failed: a test may
 * have been cut off (os._exit in a test, a crash without a message). */
static int cut_off(const rm_run *run)
{
    return !run->finished_run && run->verdict.kind == RM_V_FAILED && run->verdict.exit_code > 0;
}

static void boundary(rm_run *run)
{
    int i, best = -1;
    run->boundary_rss = run->boundary_avail = run->boundary_thr = RM_UNSET;
    if (run->verdict.kind == RM_V_MEMORY_ERROR && run->memerr_test >= 0) {
        run->boundary_test = run->memerr_test;
        run->boundary_kind = RM_B_MEMORY_ERROR;
        run->boundary_proc = run->memerr_proc;
        run->boundary_phase =
            run->memerr_phase ? run->memerr_phase : run->tests[run->memerr_test].phase;
        run->boundary_rss = run->memerr_rss;
        run->boundary_avail = run->memerr_avail;
        run->boundary_thr = run->memerr_thr;
        return;
    }
    if ((!died(&run->verdict) && run->crashed_test < 0 && !cut_off(run)) || run->after_summary)
        return;
    /* a process that evidence names as dead, running a test */
    for (i = 0; i < run->n_procs; i++) {
        const rm_proc *P = &run->procs[i];
        if (!P->died || P->cur_test < 0 || !unfinished(&run->tests[P->cur_test]))
            continue;
        if (best < 0 || P->last_t > run->procs[best].last_t)
            best = i;
    }
    /* xdist's word on which test the crashed worker ran: when no process
       is known dead, or when the run itself did not die (a worker did) */
    if (run->crashed_test >= 0 && (best < 0 || !died(&run->verdict))) {
        rm_test *T = &run->tests[run->crashed_test];
        run->boundary_test = run->crashed_test;
        run->boundary_kind = RM_B_CRASHED;
        run->boundary_phase = T->phase;
        T->killed = 1;
        if (T->proc >= 0)
            boundary_from_proc(run, T->proc, RM_B_CRASHED);
        return;
    }
    if (!died(&run->verdict) && !cut_off(run))
        return;
    if (best < 0)
        for (i = 0; i < run->n_procs; i++) {
            const rm_proc *P = &run->procs[i];
            if (P->cur_test < 0 || !unfinished(&run->tests[P->cur_test]))
                continue;
            if (best < 0 || P->last_t > run->procs[best].last_t)
                best = i;
        }
    if (best >= 0) {
        run->boundary_test = run->procs[best].cur_test;
        run->tests[run->boundary_test].killed = run->verdict.kind != RM_V_UNKNOWN;
        boundary_from_proc(run, best, RM_B_UNFINISHED);
        return;
    }
    /* pytest -v printed an id without an outcome: the newest such */
    for (i = 0; i < run->n_tests; i++) {
        const rm_test *T = &run->tests[i];
        if (T->text_started && unfinished(T) &&
            (best < 0 || T->t_text > run->tests[best].t_text ||
             (T->t_text == run->tests[best].t_text && T->order > run->tests[best].order)))
            best = i;
    }
    if (best >= 0) {
        run->boundary_test = best;
        run->boundary_kind = RM_B_TEXT;
        run->boundary_phase = run->tests[best].phase;
        run->tests[best].killed = run->verdict.kind != RM_V_UNKNOWN;
        return;
    }
    /* no test unfinished: the process with the newest mark, if any */
    for (i = 0; i < run->n_procs; i++)
        if (run->procs[i].has_mark && (best < 0 || run->procs[i].mark_t > run->procs[best].mark_t))
            best = i;
    if (best >= 0)
        boundary_from_proc(run, best, RM_B_MARK);
}

/* ---- each test's own memory ---- */

/* Test processes: those that ran a test. */
static int test_procs(const rm_run *run)
{
    int i, procs = 0;
    for (i = 0; i < run->n_procs; i++)
        procs += run->procs[i].n_tests_ended > 0 || run->procs[i].cur_test >= 0;
    return procs;
}

static int cmp_point(const void *a, const void *b)
{
    const rm_point *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    if (x->avail != y->avail)
        return x->avail < y->avail ? -1 : 1;
    if (x->rss != y->rss)
        return x->rss < y->rss ? -1 : 1;
    if (x->cg != y->cg)
        return x->cg < y->cg ? -1 : 1;
    return x->proc - y->proc;
}

static void credit(const rm_run *run, rm_test *T, uint64_t rss, int64_t t)
{
    if (run->kill_t && t <= run->kill_t && t >= T->kill_rss_t) {
        T->kill_rss = rss;
        T->kill_rss_t = t;
    }
    if (T->tree_first == RM_UNSET) {
        T->tree_first = rss;
        T->tree_first_t = t;
    }
    if (rss > T->tree_peak)
        T->tree_peak = rss;
    if (!T->finished && t >= T->last_t) {
        T->last_rss = rss;
        T->last_t = t;
    }
}

/* The killed process was last seen alive at its newest tree reading or
 * record: the kill came after it, so what the others held then is what they
 * held at the kill (the OOM proof read from the sampler's verdict only says
 * "by the end"; another process's record that read the counter's rise, only
 * "by then"). */
static void refine_kill_time(rm_run *run)
{
    long long pid;
    int64_t seen = 0;
    int i;
    if (run->boundary_proc < 0 || !run->kill_t)
        return;
    pid = run->procs[run->boundary_proc].pid;
    if (run->procs[run->boundary_proc].died)
        seen = run->procs[run->boundary_proc].last_t;
    for (i = 0; pid && i < run->n_tree; i++)
        if (run->tree[i].pid == pid && run->tree[i].t > seen)
            seen = run->tree[i].t;
    if (seen && seen < run->kill_t)
        run->kill_t = seen;
}

/* One test process: the sampler's whole tree is that process (and its
 * children), so the tree's RSS while each test ran counts for the test. */
static void tree_peaks_one(rm_run *run)
{
    int i;
    for (i = 0; i < run->n_tests; i++) {
        rm_test *T = &run->tests[i];
        int64_t end = T->t_end ? T->t_end : run->t_last;
        int lo = 0, hi = run->n_tl, k;
        if (!T->t_start)
            continue;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (run->tl[mid].t < T->t_start)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (k = lo; k < run->n_tl && run->tl[k].t <= end; k++) {
            if (run->tl[k].proc >= 0)
                continue;
            if (run->tl[k].rss != RM_UNSET) {
                credit(run, T, run->tl[k].rss, run->tl[k].t);
                if (run->tl[k].rss > T->peak) /* the tree is this process (and its children) */
                    T->peak = run->tl[k].rss;
            }
            if (run->tl[k].cg != RM_UNSET && run->tl[k].cg > T->cg_max)
                T->cg_max = run->tl[k].cg;
        }
    }
}

static int cmp_tree(const void *a, const void *b)
{
    const rm_tree_point *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    return (x->rss > y->rss) - (x->rss < y->rss);
}

static const rm_run *g_by_start;

static int cmp_start(const void *a, const void *b)
{
    const rm_test *x = &g_by_start->tests[*(const int *)a];
    const rm_test *y = &g_by_start->tests[*(const int *)b];
    if (x->t_start != y->t_start)
        return x->t_start < y->t_start ? -1 : 1;
    return x->order - y->order;
}

/* Several test processes (xdist workers): each process the sampler listed in
 * its tree is matched by pid to the process the records came from, and each
 * reading is credited to the test that process was running at that time. */
static void tree_peaks_per_process(rm_run *run)
{
    int *order, n, i, k = 0;
    if (run->n_tree == 0 || run->n_tests == 0)
        return;
    order = malloc(sizeof(int) * (size_t)run->n_tests);
    if (!order)
        return;
    qsort(run->tree, (size_t)run->n_tree, sizeof(run->tree[0]), cmp_tree);
    while (k < run->n_tree) {
        long long pid = run->tree[k].pid;
        int e = k, pi = -1, j;
        while (e < run->n_tree && run->tree[e].pid == pid)
            e++;
        for (i = 0; i < run->n_procs; i++)
            if (run->procs[i].pid == pid) {
                pi = i;
                break;
            }
        n = 0;
        if (pi >= 0)
            for (i = 0; i < run->n_tests; i++)
                if (run->tests[i].proc == pi && run->tests[i].t_start)
                    order[n++] = i;
        g_by_start = run;
        if (n > 1)
            qsort(order, (size_t)n, sizeof(int), cmp_start);
        for (j = -1; n > 0 && k < e; k++) {
            const rm_tree_point *p = &run->tree[k];
            rm_test *T;
            int64_t end;
            while (j + 1 < n && run->tests[order[j + 1]].t_start <= p->t)
                j++;
            if (j < 0)
                continue;
            T = &run->tests[order[j]];
            end =
                T->t_end ? T->t_end : (j + 1 < n ? run->tests[order[j + 1]].t_start : run->t_last);
            if (p->t > end)
                continue;
            credit(run, T, p->rss, p->t);
            if (p->rss > T->peak) /* the sampler read this test's own process */
                T->peak = p->rss;
        }
        k = e;
    }
    free(order);
}

/* What each instance held when the run was killed: one that had ended
 * before, what it kept (its RSS at its end minus at its start); one that was
 * running then, its process's newest reading up to the kill (sampler tree,
 * records, the kernel's line, a last gasp, the kernel's own peak of a single
 * test process) minus its start. The peak over the start is kept apart
 * (transient). */
static void own_growth(rm_run *run)
{
    int i, procs = test_procs(run);
    uint64_t before_max = 0;
    /* the largest reading of any ended test: a kernel peak above it
       happened after them, in the test that was running */
    for (i = 0; i < run->n_tests; i++) {
        const rm_test *T = &run->tests[i];
        if (T->finished && T->peak > before_max)
            before_max = T->peak;
        if (T->finished && T->tree_peak > before_max)
            before_max = T->tree_peak;
    }
    for (i = 0; i < run->n_tests; i++) {
        rm_test *T = &run->tests[i];
        uint64_t base = T->rss_start != RM_UNSET ? T->rss_start : T->tree_first;
        uint64_t top = T->peak > T->tree_peak ? T->peak : T->tree_peak;
        int ended = (T->finished || T->text_done) && !T->killed;
        /* its process died while it ran (a kernel line's anon-rss, a gasp):
           whatever the kill's estimated time and xdist's outcome line say */
        int at_kill = (run->kill_t && T->t_start && T->t_start <= run->kill_t &&
                       (!ended || !T->t_end || T->t_end >= run->kill_t)) ||
                      T->death_rss != RM_UNSET;
        if (base == RM_UNSET)
            continue;
        if (top)
            T->transient = top > base ? top - base : 0;
        if (ended && !at_kill) {
            if (T->rss_end != RM_UNSET)
                T->own_growth = T->rss_end > base ? T->rss_end - base : 0;
            continue;
        }
        /* running at the kill */
        top = RM_UNSET;
        if (T->kill_rss != RM_UNSET && T->kill_rss_t > T->t_start)
            top = T->kill_rss;
        if (!ended && T->last_rss != RM_UNSET && T->last_t > T->t_start &&
            (top == RM_UNSET || T->last_rss > top))
            top = T->last_rss;
        if (T->death_rss != RM_UNSET && (top == RM_UNSET || T->death_rss > top))
            top = T->death_rss;
        if (T->killed && procs <= 1) {
            uint64_t k = run->root_hwm > run->proc_hwm ? run->root_hwm : run->proc_hwm;
            if (k > before_max && k > base && (top == RM_UNSET || k > top))
                top = k;
        }
        if (top == RM_UNSET && ended && T->rss_end != RM_UNSET) {
            /* ended after the kill, never read during it: its peak is what
               it may have held then (a test that took 450 MiB and freed it
               at its end), its end's RSS what it held at least */
            top = T->rss_end;
            if (T->peak != RM_UNSET && T->peak > top)
                top = T->peak;
        }
        if (top != RM_UNSET) {
            if (top > T->peak)
                T->peak = top; /* the reading its growth comes from */
            T->own_growth = top > base ? top - base : 0;
            if (T->transient == RM_UNSET || T->own_growth > T->transient)
                T->transient = T->own_growth;
        }
    }
}

/* What all instances of test i's id held at the kill (i is the newest). */
static uint64_t id_growth(const rm_run *run, int i)
{
    uint64_t sum = 0;
    int k;
    for (k = i; k >= 0; k = run->tests[k].same_id)
        if (run->tests[k].own_growth != RM_UNSET)
            sum += run->tests[k].own_growth;
    return sum;
}

/* A group's key in a test id: the test function without its parameters
 * ("f.py::T::test_x[big-3]" -> "f.py::T::test_x"), or its file ("f.py"). */
enum { GROUP_FUNCTION, GROUP_FILE };

static size_t group_len(const char *id, int level)
{
    const char *p = strstr(id, "::");
    if (level == GROUP_FILE)
        return p ? (size_t)(p - id) : strlen(id);
    p = strchr(p ? p : id, '[');
    return p ? (size_t)(p - id) : strlen(id);
}

static const rm_run *g_group_run;
static int g_group_level;

static int cmp_group(const void *a, const void *b)
{
    const char *x = g_group_run->tests[*(const int *)a].id;
    const char *y = g_group_run->tests[*(const int *)b].id;
    size_t nx = group_len(x, g_group_level), ny = group_len(y, g_group_level);
    int c = memcmp(x, y, nx < ny ? nx : ny);
    if (c)
        return c;
    return nx < ny ? -1 : nx > ny;
}

/* The group at one level whose tests kept most of the growth, when it is
 * concentrated there (RM_GROUP_*): 1 and run->group_* set, else 0. idx
 * holds the n ids (each counted once: its newest instance, with all
 * instances' growth). */
static int group_at(rm_run *run, int *idx, int n, int level)
{
    int i, top_n = 0;
    uint64_t total = 0, top = 0, g;
    const char *top_id = NULL;
    size_t k;
    g_group_run = run;
    g_group_level = level;
    qsort(idx, (size_t)n, sizeof(int), cmp_group);
    for (i = 0; i < n;) {
        const char *id = run->tests[idx[i]].id;
        int j = i;
        g = 0;
        while (j < n && cmp_group(&idx[i], &idx[j]) == 0)
            g += id_growth(run, idx[j++]);
        total += g;
        if (g > top) {
            top = g;
            top_n = j - i;
            top_id = id;
        }
        i = j;
    }
    if (!top_id || top_n < 2 || top < RM_CULPRIT_MIN_GROWTH ||
        (double)top < RM_GROUP_SHARE * (double)total ||
        (double)top / (double)total < RM_GROUP_CONCENTRATION * (double)top_n / (double)n)
        return 0;
    k = group_len(top_id, level);
    if (k >= sizeof(run->group_key))
        k = sizeof(run->group_key) - 1;
    memcpy(run->group_key, top_id, k);
    run->group_key[k] = '\0';
    run->group_kind = level == GROUP_FILE ? "file" : "function";
    run->group_tests = top_n;
    run->group_growth = top;
    run->group_share = (double)top / (double)total;
    return 1;
}

/* With no single culprit: the tests that kept most of the growth together,
 * the parameters of one test function first, else the tests of one file.
 * ids: the n newest instances (culprit_one's list; sorted here). */
static void culprit_group(rm_run *run, int *ids, int n)
{
    if (n >= 2 && !group_at(run, ids, n, GROUP_FUNCTION))
        group_at(run, ids, n, GROUP_FILE);
}

static void why_culprit(rm_run *run, const char *fmt, const char *a, const char *b)
{
    int k = snprintf(run->culprit_why, sizeof(run->culprit_why), fmt, a, b);
    if (k < 0)
        run->culprit_why[0] = '\0';
}

/* A culprit only for a run that died of memory, and only when one test's own
 * growth stands out: at least RM_CULPRIT_MIN_GROWTH and RM_CULPRIT_LEAD
 * times the next. Otherwise none, with the reason. */
static void culprit_one(rm_run *run, const int *ids, int n)
{
    int i, j, best = -1, second = -1;
    char a[32], b[32];
    run->culprit_test = run->runner_up = -1;
    run->culprit_rule = RM_C_NONE;
    if (run->verdict.kind == RM_V_MEMORY_ERROR && run->memerr_test >= 0) {
        run->culprit_test = run->memerr_test;
        run->culprit_rule = RM_C_MEMORY_ERROR;
        why_culprit(run, "it raised the MemoryError", "", "");
        return;
    }
    if (run->after_summary) {
        why_culprit(run, "the kill came after pytest's summary: no test was running", "", "");
        return;
    }
    if (run->verdict.kind != RM_V_OOM_KILL) {
        why_culprit(run,
                    run->verdict.kind == RM_V_UNKNOWN
                        ? "how the run ended is not known, so not that memory ended it"
                        : "the run did not die of memory",
                    "", "");
        return;
    }
    /* instances of one id (a rerun, a re-run on a new worker) count together:
       the test, not the attempt, is the culprit; the newest stands for them */
    for (j = 0; j < n; j++) {
        i = ids[j];
        if (id_growth(run, i) == 0)
            continue;
        if (best < 0 || id_growth(run, i) > id_growth(run, best)) {
            second = best;
            best = i;
        } else if (second < 0 || id_growth(run, i) > id_growth(run, second)) {
            second = i;
        }
    }
    /* a rise over many tests: the leak, not one test, filled memory, when
       it rose by more than any one test grew (a slow drift of a few MiB
       beside a test that took a GiB is not what filled it) */
    for (i = 0; i < run->n_trends; i++)
        if (strcmp(run->trends[i].cls, "leak") == 0 &&
            (best < 0 || run->trends[i].rise >= (double)id_growth(run, best))) {
            why_culprit(run, "memory rose over %s tests (a leak, +%s in all): no single test",
                        (snprintf(a, sizeof(a), "%d", run->trends[i].n) > 0 ? a : "many"),
                        rm_fmt_size(b, sizeof(b),
                                    (uint64_t)(run->trends[i].rise > 0 ? run->trends[i].rise : 0)));
            return;
        }
    /* the test its process was running at death must have a known growth */
    for (i = 0; i < run->n_tests; i++) {
        const rm_test *T = &run->tests[i];
        if (T->killed && T->own_growth == RM_UNSET) {
            why_culprit(run,
                        "the running test %.120s has no reading after it started (the "
                        "sampling or echo interval is too coarse)",
                        T->id, "");
            return;
        }
    }
    run->runner_up = second;
    if (best < 0) {
        why_culprit(run, "no test's own memory is known", "", "");
        return;
    }
    if (id_growth(run, best) < RM_CULPRIT_MIN_GROWTH) {
        why_culprit(run, "no test grew by %s or more (the largest: +%s)",
                    rm_fmt_size(a, sizeof(a), RM_CULPRIT_MIN_GROWTH),
                    rm_fmt_size(b, sizeof(b), id_growth(run, best)));
        return;
    }
    if (second >= 0 &&
        (double)id_growth(run, best) < RM_CULPRIT_LEAD * (double)id_growth(run, second)) {
        why_culprit(run, "no test stands out: the two largest grew +%s and +%s",
                    rm_fmt_size(a, sizeof(a), id_growth(run, best)),
                    rm_fmt_size(b, sizeof(b), id_growth(run, second)));
        return;
    }
    run->culprit_test = best;
    run->culprit_rule = RM_C_GROWTH;
    why_culprit(run, "its own growth (+%s) is the largest, the next +%s",
                rm_fmt_size(a, sizeof(a), id_growth(run, best)),
                second >= 0 ? rm_fmt_size(b, sizeof(b), id_growth(run, second)) : "0 B");
}

/* The culprit test, else the group of tests that kept the memory. Both
 * look at each id once: its newest instance (with all instances' growth). */
static void culprit(rm_run *run)
{
    int *ids = malloc(sizeof(int) * ((size_t)run->n_tests + 1)), n = 0, i;
    char *newer = calloc((size_t)run->n_tests + 1, 1);
    run->group_tests = 0;
    if (!ids || !newer) {
        free(ids);
        free(newer);
        run->culprit_test = run->runner_up = -1;
        run->culprit_rule = RM_C_NONE;
        why_culprit(run, "out of memory", "", "");
        return;
    }
    for (i = 0; i < run->n_tests; i++)
        if (run->tests[i].same_id >= 0)
            newer[run->tests[i].same_id] = 1;
    for (i = 0; i < run->n_tests; i++)
        if (!newer[i] && run->tests[i].id)
            ids[n++] = i;
    free(newer);
    culprit_one(run, ids, n);
    if (run->culprit_test < 0 && run->verdict.kind == RM_V_OOM_KILL && !run->after_summary)
        culprit_group(run, ids, n);
    free(ids);
}

/* ---- trends: one analysis (csrc/record/trend.c), per test process ---- */

static const rm_run *g_end_run;

static int cmp_end(const void *a, const void *b)
{
    const rm_test *x = &g_end_run->tests[*(const int *)a];
    const rm_test *y = &g_end_run->tests[*(const int *)b];
    return x->end_order - y->end_order;
}

static void trends(rm_run *run)
{
    int order[RM_REPORT_MAX_PROCS], n = 0, i, j, *idx;
    double *y;
    if (run->n_tests == 0)
        return;
    idx = malloc(sizeof(int) * (size_t)run->n_tests);
    y = malloc(sizeof(double) * (size_t)run->n_tests);
    if (!idx || !y) {
        free(idx);
        free(y);
        return;
    }
    for (i = 0; i < run->n_procs; i++)
        if (run->procs[i].n_tests_ended > 0)
            order[n++] = i;
    /* most tests first, then by pid (insertion sort: at most RM_REPORT_MAX_PROCS) */
    for (i = 1; i < n; i++)
        for (j = i; j > 0; j--) {
            const rm_proc *A = &run->procs[order[j]], *B = &run->procs[order[j - 1]];
            int t;
            if (A->n_tests_ended < B->n_tests_ended ||
                (A->n_tests_ended == B->n_tests_ended && A->pid >= B->pid))
                break;
            t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    run->n_trends = 0;
    for (i = 0; i < n && run->n_trends < (int)(sizeof(run->trends) / sizeof(run->trends[0])); i++) {
        rm_trend *T = &run->trends[run->n_trends];
        rm_trend_result r;
        int m = 0, k;
        for (k = 0; k < run->n_tests; k++)
            if (run->tests[k].proc == order[i] && run->tests[k].end_order >= 0 &&
                run->tests[k].rss_end != RM_UNSET)
                idx[m++] = k;
        g_end_run = run;
        if (m > 1)
            qsort(idx, (size_t)m, sizeof(int), cmp_end);
        for (k = 0; k < m; k++)
            y[k] = (double)run->tests[idx[k]].rss_end;
        rm_trend_analyze(y, (size_t)m, &r);
        memset(T, 0, sizeof(*T));
        T->proc = order[i];
        T->n = r.n;
        T->slope = r.slope;
        T->r2 = r.r2;
        T->mean = r.level;
        T->rise = r.rise;
        T->steps = r.steps;
        T->top_share = r.top_share;
        T->top_test = r.top_index >= 0 && r.top_index < m ? idx[r.top_index] : -1;
        T->cls = rm_trend_name(r.cls);
        run->n_trends++;
    }
    free(idx);
    free(y);
}

/* Thins the chart's points to RM_REPORT_TIMELINE, keeping each span's
 * extremes (lowest available, highest RSS and cgroup use). */
static void thin_timeline(rm_run *run)
{
    int per, i, k = 0;
    if (run->n_tl <= RM_REPORT_TIMELINE)
        return;
    per = (run->n_tl + RM_REPORT_TIMELINE - 1) / RM_REPORT_TIMELINE;
    for (i = 0; i < run->n_tl; i += per) {
        rm_point a = run->tl[i];
        int j;
        for (j = i + 1; j < i + per && j < run->n_tl; j++) {
            const rm_point *b = &run->tl[j];
            if (b->avail != RM_UNSET && (a.avail == RM_UNSET || b->avail < a.avail))
                a.avail = b->avail;
            if (b->rss != RM_UNSET && (a.rss == RM_UNSET || b->rss > a.rss)) {
                a.rss = b->rss;
                a.proc = b->proc;
            }
            if (b->cg != RM_UNSET && (a.cg == RM_UNSET || b->cg > a.cg))
                a.cg = b->cg;
        }
        run->tl[k++] = a;
    }
    run->n_tl = k;
}

/* The sampler's verdict names the first process the kernel OOM-killed and
 * its anonymous RSS then: with the job log alone (no kernel line folded),
 * that process died, and its running test held that much. */
static void verdict_victim(rm_run *run)
{
    int i;
    for (i = 0; run->oom_pid && i < run->n_procs; i++) {
        rm_proc *P = &run->procs[i];
        if (P->pid != run->oom_pid)
            continue;
        P->died = 1;
        if (run->oom_anon_rss != RM_UNSET && P->death_rss == RM_UNSET) {
            P->death_rss = run->oom_anon_rss;
            if (P->cur_test >= 0)
                run->tests[P->cur_test].death_rss = run->oom_anon_rss;
        }
    }
}

void rm_run_analyze(rm_run *run)
{
    int i;
    rm_run_fold(run);
    verdict_victim(run);
    evidence_sort(run);
    g_run = run;
    if (run->n_tl > 1)
        qsort(run->tl, (size_t)run->n_tl, sizeof(run->tl[0]), cmp_point);
    verdict(run);
    boundary(run);
    outcomes_from_summary(run);
    refine_kill_time(run);
    if (test_procs(run) <= 1)
        tree_peaks_one(run);
    else
        tree_peaks_per_process(run);
    own_growth(run);
    trends(run);
    culprit(run);
    /* the tree's peak: the largest of every reading */
    for (i = 0; i < run->n_tests; i++) {
        if (run->tests[i].peak > run->tree_hwm && test_procs(run) <= 1)
            run->tree_hwm = run->tests[i].peak;
    }
    if (run->root_hwm > run->tree_hwm)
        run->tree_hwm = run->root_hwm;
    thin_timeline(run);
}

static const rm_run *g_sort_run;

static int cmp_peak(const void *a, const void *b)
{
    const rm_test *x = &g_sort_run->tests[*(const int *)a];
    const rm_test *y = &g_sort_run->tests[*(const int *)b];
    if (x->peak != y->peak)
        return x->peak < y->peak ? 1 : -1;
    return x->order - y->order;
}

int *rm_tests_by_peak(const rm_run *run, int *n)
{
    int *idx = malloc(sizeof(int) * (size_t)(run->n_tests ? run->n_tests : 1)), i;
    if (!idx) {
        *n = 0;
        return NULL;
    }
    for (i = 0; i < run->n_tests; i++)
        idx[i] = i;
    g_sort_run = run;
    qsort(idx, (size_t)run->n_tests, sizeof(int), cmp_peak);
    *n = run->n_tests;
    return idx;
}

int rm_fixture_retained(const rm_fixture *f, int64_t *out)
{
    if (!f->n_kept)
        return 0;
    *out = f->kept_max;
    return 1;
}

int rm_fixture_held(const rm_fixture *f, int64_t *out)
{
    if (!f->n_held)
        return 0;
    *out = f->held_max;
    return 1;
}

/* What a fixture stands for in the ranking: the most one instance held
 * while alive, or kept after its teardown, whichever is larger. */
static int64_t fixture_weight(const rm_fixture *f)
{
    int64_t held = 0, kept = 0;
    rm_fixture_held(f, &held);
    rm_fixture_retained(f, &kept);
    return held > kept ? held : kept;
}

static int cmp_retained(const void *a, const void *b)
{
    const rm_fixture *fa = &g_sort_run->fix[*(const int *)a],
                     *fb = &g_sort_run->fix[*(const int *)b];
    int64_t x = fixture_weight(fa), y = fixture_weight(fb);
    if (x != y)
        return x < y ? 1 : -1;
    return strcmp(fa->key, fb->key);
}

int *rm_fixtures_by_retained(const rm_run *run, int *n)
{
    int *idx = malloc(sizeof(int) * (size_t)(run->n_fix ? run->n_fix : 1)), i, k = 0;
    if (!idx) {
        *n = 0;
        return NULL;
    }
    for (i = 0; i < run->n_fix; i++)
        if (run->fix[i].n_held || run->fix[i].n_kept)
            idx[k++] = i;
    g_sort_run = run;
    qsort(idx, (size_t)k, sizeof(int), cmp_retained);
    *n = k;
    return idx;
}
