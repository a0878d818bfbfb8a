/* SPDX-License-Identifier: MIT */
/* analyze.c: turns a run's evidence into a verdict, a boundary, a culprit and trends. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

/* Available memory below this share of the total counts as "near zero". */
#define LOW_AVAIL_PERCENT 5
/* ... or below this many bytes, whichever is larger. */
#define LOW_AVAIL_BYTES (256ull << 20)
/* A cgroup above this share of its limit counts as "at its limit". */
#define CG_NEAR_LIMIT_PERCENT 95
/* Fewest tests with an RSS for a trend to be judged. */
#define TREND_MIN_TESTS 5
/* A trend is "rising" when R^2 reaches this and the rise over the run is
 * at least TREND_MIN_RISE bytes and TREND_MIN_RISE_PERCENT of the mean. */
#define TREND_MIN_R2 0.5
#define TREND_MIN_RISE (32ull << 20)
#define TREND_MIN_RISE_PERCENT 10
/* Tests that ended this close to the end of the log are culprit candidates. */
#define CULPRIT_WINDOW_USEC (60ll * 1000000)

static const char *const verdict_names[RM_V_COUNT] = {
    "unknown",  "passed", "failed",       "oom_kill", "runner_shutdown",
    "segfault", "signal", "memory_error", "hang",     "cancelled"};

static const char *const evidence_names[RM_E_COUNT] = {
    "exit_code", "shutdown",   "segfault",     "fatal_signal", "killed",
    "oom",       "low_memory", "memory_error", "hang",         "thread_dump",
    "summary",   "cancelled",  "terminated"};

const char *rm_verdict_name(rm_verdict_kind k)
{
    return (unsigned)k < RM_V_COUNT ? verdict_names[k] : "unknown";
}

const char *rm_evidence_name(rm_evidence_kind k)
{
    return (unsigned)k < RM_E_COUNT ? evidence_names[k] : "?";
}

static void why(rm_verdict *v, const char *s)
{
    int k = snprintf(v->why, sizeof(v->why), "%s", s);
    if (k < 0)
        v->why[0] = '\0';
}

static void add_ev(rm_verdict *v, const rm_run *run, rm_evidence_kind e)
{
    int i;
    if (!run->ev[e].seen || v->n_ev >= (int)(sizeof(v->ev) / sizeof(v->ev[0])))
        return;
    for (i = 0; i < v->n_ev; i++)
        if (v->ev[i] == (int)e)
            return;
    v->ev[v->n_ev++] = (int)e;
}

static void set(rm_verdict *v, rm_verdict_kind k, double conf, const char *text)
{
    v->kind = k;
    v->confidence = conf;
    why(v, text);
}

/* Evidence that the run carried on after it (a crash string printed by a
 * test that survived) does not end the run: it counts only when it is not
 * followed by pytest's summary in the same input. */
static int live(const rm_run *run, rm_evidence_kind e)
{
    const rm_evidence *x = &run->ev[e], *s = &run->ev[RM_E_PYTEST_SUMMARY];
    if (!x->seen)
        return 0;
    if (s->seen && s->src == x->src && s->line > x->line)
        return 0;
    return 1;
}

static int low_memory(rm_run *run)
{
    int low = 0;
    if (run->min_avail != RM_UNSET) {
        uint64_t lim = LOW_AVAIL_BYTES;
        if (run->mem_total != RM_UNSET && run->mem_total / 100 * LOW_AVAIL_PERCENT > lim)
            lim = run->mem_total / 100 * LOW_AVAIL_PERCENT;
        if (run->min_avail <= lim)
            low = 1;
    }
    if (run->cg_lim != RM_UNSET && run->cg_lim > 0 && run->cg_max != 0 &&
        run->cg_max >= run->cg_lim / 100 * CG_NEAR_LIMIT_PERCENT)
        low = 1;
    if (low && !run->ev[RM_E_LOW_MEMORY].seen) {
        rm_evidence *e = &run->ev[RM_E_LOW_MEMORY];
        int k;
        e->seen = 1;
        e->count = 1;
        e->src = run->min_avail_src;
        e->line = run->min_avail_line;
        e->t = run->min_avail_t;
        k = snprintf(e->text, sizeof(e->text), "%s",
                     run->min_avail != RM_UNSET ? "available memory fell near zero"
                                                : "the cgroup reached its memory limit");
        (void)k;
    }
    return low;
}

static void verdict(rm_run *run)
{
    rm_verdict *v = &run->verdict;
    long code = run->ev[RM_E_EXIT_CODE].seen ? run->ev[RM_E_EXIT_CODE].value : -1;
    int low = low_memory(run);
    memset(v, 0, sizeof(*v));
    v->exit_code = code;
    v->signal = -1;
    if (code > 128 && code < 160)
        v->signal = code - 128;

    if (run->lines_nonblank == 0) {
        set(v, RM_V_CANCELLED, 0.9, "the inputs hold no output at all");
        return;
    }
    if (live(run, RM_E_OOM)) {
        set(v, RM_V_OOM_KILL, low || code == 137 || live(run, RM_E_KILLED) ? 0.97 : 0.9,
            "an OOM kill was recorded");
        v->signal = 9;
        add_ev(v, run, RM_E_OOM);
        add_ev(v, run, RM_E_EXIT_CODE);
        add_ev(v, run, RM_E_KILLED);
        add_ev(v, run, RM_E_LOW_MEMORY);
        return;
    }
    if (live(run, RM_E_SHUTDOWN)) {
        set(v, RM_V_RUNNER_SHUTDOWN, 0.95, "the runner was shut down");
        v->signal = 15;
        add_ev(v, run, RM_E_SHUTDOWN);
        add_ev(v, run, RM_E_EXIT_CODE);
        add_ev(v, run, RM_E_TERMINATED);
        return;
    }
    if (live(run, RM_E_SEGV) || code == 139) {
        set(v, RM_V_SEGFAULT, live(run, RM_E_SEGV) ? 0.95 : 0.8, "a process died of SIGSEGV");
        v->signal = 11;
        add_ev(v, run, RM_E_SEGV);
        add_ev(v, run, RM_E_EXIT_CODE);
        add_ev(v, run, RM_E_THREAD_DUMP);
        return;
    }
    if (live(run, RM_E_FATAL_SIGNAL)) {
        set(v, RM_V_SIGNAL, 0.9, "a process died of a fatal signal");
        v->signal = run->ev[RM_E_FATAL_SIGNAL].value;
        add_ev(v, run, RM_E_FATAL_SIGNAL);
        add_ev(v, run, RM_E_EXIT_CODE);
        add_ev(v, run, RM_E_THREAD_DUMP);
        return;
    }
    if (code == 137 || live(run, RM_E_KILLED)) {
        set(v, RM_V_OOM_KILL, low ? 0.85 : 0.6,
            low ? "SIGKILL while memory was exhausted"
                : "SIGKILL (exit 137) without memory evidence: OOM is the usual cause");
        v->signal = 9;
        add_ev(v, run, RM_E_EXIT_CODE);
        add_ev(v, run, RM_E_KILLED);
        add_ev(v, run, RM_E_LOW_MEMORY);
        return;
    }
    if (code == 143 || live(run, RM_E_TERMINATED)) {
        set(v, RM_V_RUNNER_SHUTDOWN, code == 143 && live(run, RM_E_TERMINATED) ? 0.8 : 0.6,
            "SIGTERM without the runner's shutdown message");
        v->signal = 15;
        add_ev(v, run, RM_E_EXIT_CODE);
        add_ev(v, run, RM_E_TERMINATED);
        return;
    }
    if (v->signal > 0 && v->signal != 2) {
        set(v, RM_V_SIGNAL, 0.6, "the exit code says a signal ended the step");
        add_ev(v, run, RM_E_EXIT_CODE);
        return;
    }
    if (run->ev[RM_E_HANG].seen) {
        set(v, RM_V_HANG, run->ev[RM_E_THREAD_DUMP].seen ? 0.9 : 0.8,
            "a timeout or watchdog fired");
        add_ev(v, run, RM_E_HANG);
        add_ev(v, run, RM_E_THREAD_DUMP);
        add_ev(v, run, RM_E_EXIT_CODE);
        return;
    }
    if (run->ev[RM_E_MEMORY_ERROR].seen) {
        set(v, RM_V_MEMORY_ERROR, 0.85, "Python raised MemoryError");
        add_ev(v, run, RM_E_MEMORY_ERROR);
        add_ev(v, run, RM_E_LOW_MEMORY);
        add_ev(v, run, RM_E_PYTEST_SUMMARY);
        add_ev(v, run, RM_E_EXIT_CODE);
        return;
    }
    if (run->ev[RM_E_CANCELLED].seen || live(run, RM_E_CANCELLED)) {
        set(v, RM_V_CANCELLED, 0.8, "the job was cancelled");
        add_ev(v, run, RM_E_CANCELLED);
        add_ev(v, run, RM_E_EXIT_CODE);
        return;
    }
    if (run->has_summary) {
        int bad = run->n_failed > 0 || run->n_errors > 0 || (code > 0 && code != 5);
        set(v, bad ? RM_V_FAILED : RM_V_PASSED, 0.9,
            bad ? "pytest finished with failures" : "pytest finished without failures");
        add_ev(v, run, RM_E_PYTEST_SUMMARY);
        add_ev(v, run, RM_E_EXIT_CODE);
        return;
    }
    if (code == 0) {
        set(v, RM_V_PASSED, 0.7, "the step exited with 0");
        add_ev(v, run, RM_E_EXIT_CODE);
        return;
    }
    if (code > 0) {
        set(v, RM_V_FAILED, 0.6, "the step exited non-zero");
        add_ev(v, run, RM_E_EXIT_CODE);
        return;
    }
    set(v, RM_V_UNKNOWN, 0.2, "the log ends without saying how the run ended");
    add_ev(v, run, RM_E_LOW_MEMORY);
    add_ev(v, run, RM_E_THREAD_DUMP);
}

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

static void boundary(rm_run *run)
{
    int i, best = -1;
    run->boundary_rss = run->boundary_avail = run->boundary_thr = RM_UNSET;
    /* The run ended normally after a MemoryError (the verdict says so): no
       test is left unfinished, the one that raised it is where it broke. */
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
    for (i = 0; i < run->n_procs; i++) {
        const rm_proc *P = &run->procs[i];
        if (P->cur_test < 0 || run->tests[P->cur_test].finished)
            continue;
        if (best < 0 || P->last_t > run->procs[best].last_t)
            best = i;
    }
    if (best >= 0) {
        run->boundary_test = run->procs[best].cur_test;
        boundary_from_proc(run, best, RM_B_UNFINISHED);
        return;
    }
    if (run->text_test >= 0 && !run->tests[run->text_test].finished &&
        !run->tests[run->text_test].text_done) {
        run->boundary_test = run->text_test;
        run->boundary_kind = RM_B_TEXT;
        run->boundary_phase = run->tests[run->text_test].phase;
        return;
    }
    /* no test unfinished: the process with the newest mark, if any */
    for (i = 0; i < run->n_procs; i++)
        if (run->procs[i].has_mark && (best < 0 || run->procs[i].mark_t > run->procs[best].mark_t))
            best = i;
    if (best >= 0)
        boundary_from_proc(run, best, RM_B_MARK);
}

/* Test processes: those that ran a test. */
static int test_procs(const rm_run *run)
{
    int i, procs = 0;
    for (i = 0; i < run->n_procs; i++)
        procs += run->procs[i].n_tests_ended > 0 || run->procs[i].cur_test >= 0;
    return procs;
}

/* One test process: the sampler's whole tree is that process (and its
 * children), so the tree's RSS while each test ran counts for the test
 * (the timeline is sorted). */
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
            if (run->tl[k].proc >= 0 || run->tl[k].rss == RM_UNSET)
                continue;
            if (T->tree_first == RM_UNSET)
                T->tree_first = run->tl[k].rss;
            if (run->tl[k].rss > T->tree_peak)
                T->tree_peak = run->tl[k].rss;
        }
    }
}

static int cmp_tree(const void *a, const void *b)
{
    const rm_tree_point *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
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
 * its tree (treeI_pid) is matched by pid to the process the plugin's records
 * came from, and each reading is credited to the test that process was running
 * at that time, so a worker killed before it wrote a record of its growth is
 * still seen growing in its own test. */
static void tree_peaks_per_process(rm_run *run)
{
    int *order, n, i, k = 0;
    if (run->n_tree == 0 || run->n_tests == 0)
        return;
    order = malloc(sizeof(int) * (size_t)run->n_tests);
    if (!order)
        return;
    /* tests with a process and a start, by process then start time */
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
        qsort(order, (size_t)n, sizeof(int), cmp_start);
        /* both sorted by time: one pass */
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
            if (T->tree_first == RM_UNSET) {
                T->tree_first = p->rss;
                T->tree_first_t = p->t;
            }
            if (p->rss > T->tree_peak)
                T->tree_peak = p->rss;
            /* the sampler read this test's own process: its peak too */
            if (p->rss > T->peak)
                T->peak = p->rss;
        }
        k = e;
    }
    free(order);
}

/* Growth of each test's own process while it ran: the highest RSS seen
 * (records and sampler) minus the RSS at its start (its first record, else
 * the first sample). */
static void own_growth(rm_run *run)
{
    int i;
    for (i = 0; i < run->n_tests; i++) {
        rm_test *T = &run->tests[i];
        uint64_t base = T->rss_start != RM_UNSET ? T->rss_start : T->tree_first;
        uint64_t top = T->peak > T->tree_peak ? T->peak : T->tree_peak;
        if (T->rss_end != RM_UNSET && T->rss_end > top)
            top = T->rss_end;
        T->own_growth = base == RM_UNSET || top == 0 ? RM_UNSET : (top > base ? top - base : 0);
    }
}

static void culprit(rm_run *run)
{
    int i, best = -1, procs = test_procs(run), by_growth = 0;
    uint64_t best_score = 0;
    int64_t since = run->t_last ? run->t_last - CULPRIT_WINDOW_USEC : 0;
    if (run->t_last && run->t_first && (run->t_last - run->t_first) / 10 > CULPRIT_WINDOW_USEC)
        since = run->t_last - (run->t_last - run->t_first) / 10;
    /* MemoryError: the allocation that failed never showed in any RSS; the
       test that asked for it is the culprit (a leak before it shows in the
       trend) */
    if (run->verdict.kind == RM_V_MEMORY_ERROR && run->memerr_test >= 0) {
        run->culprit_test = run->memerr_test;
        run->culprit_rule = RM_C_MEMORY_ERROR;
        return;
    }
    /* Several test processes: a test that merely ran on a large worker, or
       was running when the kill came, is not the one that drove memory up;
       the test whose own process grew is. Used when any candidate's growth
       is known. */
    if (procs > 1)
        for (i = 0; i < run->n_tests && !by_growth; i++) {
            const rm_test *T = &run->tests[i];
            by_growth =
                T->own_growth != RM_UNSET &&
                (!(T->finished || T->text_done) || !run->t_last || !T->t_end || T->t_end >= since);
        }
    for (i = 0; i < run->n_tests; i++) {
        const rm_test *T = &run->tests[i];
        int near_end =
            !(T->finished || T->text_done) || !run->t_last || !T->t_end || T->t_end >= since;
        /* one test process: the sampler's tree is that process (and its
         * children), so its RSS while the test ran counts too */
        uint64_t score = T->peak;
        if (procs <= 1 && T->tree_peak > score)
            score = T->tree_peak;
        if (by_growth)
            score = T->own_growth != RM_UNSET && T->own_growth >= RM_CULPRIT_MIN_GROWTH
                        ? T->own_growth
                        : 0;
        if (score == 0 || !near_end)
            continue;
        if (best < 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    run->culprit_test = best;
    run->culprit_rule = by_growth ? RM_C_GROWTH : RM_C_PEAK;
}

static void trends(rm_run *run)
{
    int order[RM_REPORT_MAX_PROCS], n = 0, i, j;
    for (i = 0; i < run->n_procs; i++)
        if (run->procs[i].n_tests_ended > 0)
            order[n++] = i;
    /* most tests first (insertion sort: at most RM_REPORT_MAX_PROCS) */
    for (i = 1; i < n; i++)
        for (j = i;
             j > 0 && run->procs[order[j]].n_tests_ended > run->procs[order[j - 1]].n_tests_ended;
             j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    run->n_trends = 0;
    for (i = 0; i < n && run->n_trends < (int)(sizeof(run->trends) / sizeof(run->trends[0])); i++) {
        const rm_proc *P = &run->procs[order[i]];
        rm_trend *T = &run->trends[run->n_trends];
        double cnt = 0, den, num, vy;
        int k;
        /* count of tests that gave an rss at their end */
        for (k = 0; k < run->n_tests; k++)
            if (run->tests[k].proc == order[i] && run->tests[k].end_order >= 0 &&
                run->tests[k].rss_end != RM_UNSET)
                cnt++;
        T->proc = order[i];
        T->n = (int)cnt;
        T->slope = T->r2 = T->mean = 0;
        if (cnt < 2) {
            T->cls = "too few tests";
            run->n_trends++;
            continue;
        }
        den = cnt * P->sxx - P->sx * P->sx;
        num = cnt * P->sxy - P->sx * P->sy;
        vy = cnt * P->syy - P->sy * P->sy;
        T->mean = P->sy / cnt;
        if (den > 0)
            T->slope = num / den;
        T->r2 = (den > 0 && vy > 0) ? (num * num) / (den * vy) : 0;
        if (T->r2 > 1)
            T->r2 = 1;
        if (cnt < TREND_MIN_TESTS) {
            T->cls = "too few tests";
        } else {
            double rise = T->slope * (cnt - 1), min_rise = (double)TREND_MIN_RISE;
            if (T->mean * TREND_MIN_RISE_PERCENT / 100 > min_rise)
                min_rise = T->mean * TREND_MIN_RISE_PERCENT / 100;
            if (T->r2 >= TREND_MIN_R2 && rise >= min_rise)
                T->cls = "rising";
            else if (T->r2 >= TREND_MIN_R2 && -rise >= min_rise)
                T->cls = "falling";
            else
                T->cls = "flat";
        }
        run->n_trends++;
    }
}

static int cmp_point(const void *a, const void *b)
{
    const rm_point *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

void rm_run_analyze(rm_run *run)
{
    qsort(run->tl, (size_t)run->n_tl, sizeof(run->tl[0]), cmp_point);
    verdict(run);
    boundary(run);
    if (test_procs(run) <= 1)
        tree_peaks_one(run);
    else
        tree_peaks_per_process(run);
    own_growth(run);
    culprit(run);
    trends(run);
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
    if (f->before_setup == RM_UNSET)
        return 0;
    if (f->torn_down && f->after_teardown != RM_UNSET) {
        *out = (int64_t)(f->after_teardown - f->before_setup);
        return 1;
    }
    if (f->after_setup != RM_UNSET) {
        *out = (int64_t)(f->after_setup - f->before_setup);
        return 1;
    }
    return 0;
}

int rm_fixture_held(const rm_fixture *f, int64_t *out)
{
    if (f->before_setup == RM_UNSET || f->after_setup == RM_UNSET)
        return 0;
    *out = (int64_t)(f->after_setup - f->before_setup);
    return 1;
}

/* What a fixture stands for in the ranking: what it held while alive, or
 * what stayed after its teardown, whichever is larger. */
static int64_t fixture_weight(const rm_fixture *f)
{
    int64_t held = 0, kept = 0;
    rm_fixture_held(f, &held);
    rm_fixture_retained(f, &kept);
    return held > kept ? held : kept;
}

static int cmp_retained(const void *a, const void *b)
{
    int64_t x = fixture_weight(&g_sort_run->fix[*(const int *)a]);
    int64_t y = fixture_weight(&g_sort_run->fix[*(const int *)b]);
    if (x != y)
        return x < y ? 1 : -1;
    return *(const int *)a - *(const int *)b;
}

int *rm_fixtures_by_retained(const rm_run *run, int *n)
{
    int *idx = malloc(sizeof(int) * (size_t)(run->n_fix ? run->n_fix : 1)), i, k = 0;
    if (!idx) {
        *n = 0;
        return NULL;
    }
    for (i = 0; i < run->n_fix; i++) {
        int64_t r;
        if (rm_fixture_retained(&run->fix[i], &r))
            idx[k++] = i;
    }
    g_sort_run = run;
    qsort(idx, (size_t)k, sizeof(int), cmp_retained);
    *n = k;
    return idx;
}
