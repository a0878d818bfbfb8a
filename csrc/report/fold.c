/* SPDX-License-Identifier: MIT */
/* fold.c: sorts the order-dependent lines of all inputs by time, drops the
 * copies (the plugin writes each record to the job log and to its file), and
 * folds them into test instances, processes and fixture instances. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

/* The fold's own parse buffer. */
static rm_rec g_frec;

/* The fields the fold reads from a record: ingest keeps only these of each
 * record it holds for the fold (tests/report/test_fold_keys.py checks that
 * every key this file asks for is here). */
const char *const rm_fold_keys[] = {
    "anon_rss", "at",   "cg_use",    "context",   "d_rss",     "held",   "hwm",     "in_tree",
    "key",      "kind", "label",     "lifecycle", "mem_avail", "name",   "nodeid",  "outcome",
    "param",    "peak", "phase",     "pid",       "result",    "rss",    "scope",   "signal",
    "source",   "test", "test_peak", "thr",       "what",      "worker", "attempt", "cg_oom"};
const size_t rm_fold_n_keys = sizeof(rm_fold_keys) / sizeof(rm_fold_keys[0]);

static void copy_str(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n && k + 1 < cap; i++)
        dst[k++] = s[i];
    dst[k] = '\0';
}

/* ---- test instances ---- */

/* An id too long to keep is cut in its middle, keeping both ends, with a
 * hash of the whole id between them, so two cut ids never look alike. The
 * hash key is fixed: the report shows it. Returns the length. */
static size_t norm_id(const char *id, size_t n, char out[RM_ID_MAX])
{
    size_t head, tail;
    int k;
    n = strnlen(id, n); /* an id ends at an (escaped) NUL byte */
    if (n < RM_ID_MAX) {
        memcpy(out, id, n);
        out[n] = '\0';
        return n;
    }
    head = (RM_ID_MAX - 1 - 24) / 2;
    tail = RM_ID_MAX - 1 - 24 - head;
    memcpy(out, id, head);
    k = snprintf(out + head, 25, "...#%016llx...",
                 (unsigned long long)rm_siphash(0x7265736d6f6e6964ull, 0x63757420696473ull, id, n));
    if (k != 23)
        return 0;
    memcpy(out + head + 23, id + n - tail - 1, tail + 1);
    out[RM_ID_MAX - 1] = '\0';
    return strlen(out);
}

static uint64_t id_hash(const rm_run *run, const char *id, size_t n, int proc, int by_id)
{
    return rm_siphash(run->seed, by_id ? 0 : (uint64_t)(proc + 2), id, n);
}

/* The newest instance of id in process proc, or (by_id) in any; -1 none. */
static int find(const rm_run *run, const char *id, size_t n, int proc, int by_id)
{
    const int *tab = by_id ? run->id_slots : run->slots;
    unsigned mask = run->n_slots - 1, i = (unsigned)id_hash(run, id, n, proc, by_id) & mask;
    for (;; i = (i + 1) & mask) {
        const rm_test *T;
        if (tab[i] == 0)
            return -1;
        T = &run->tests[tab[i] - 1];
        if ((by_id || T->proc == proc) && strlen(T->id) == n && memcmp(T->id, id, n) == 0)
            return tab[i] - 1;
    }
}

/* Makes ti the newest instance under its key in one table. */
static void put(rm_run *run, int ti, int by_id)
{
    int *tab = by_id ? run->id_slots : run->slots;
    const rm_test *T = &run->tests[ti];
    size_t n = strlen(T->id);
    unsigned mask = run->n_slots - 1, i = (unsigned)id_hash(run, T->id, n, T->proc, by_id) & mask;
    for (;; i = (i + 1) & mask) {
        const rm_test *U;
        if (tab[i] == 0)
            break;
        U = &run->tests[tab[i] - 1];
        if ((by_id || U->proc == T->proc) && strcmp(U->id, T->id) == 0)
            break;
    }
    tab[i] = ti + 1;
}

static int new_instance(rm_run *run, const char *id, size_t n, int proc, int attempt)
{
    rm_test *T;
    if (run->n_tests >= RM_REPORT_MAX_TESTS)
        return -1; /* the caller counts the test once (at its start) */
    if (run->n_tests == run->cap_tests) {
        int cap = run->cap_tests ? run->cap_tests * 2 : 256;
        rm_test *nt = realloc(run->tests, sizeof(*nt) * (size_t)cap);
        if (!nt)
            return -1;
        run->tests = nt;
        run->cap_tests = cap;
    }
    T = &run->tests[run->n_tests];
    memset(T, 0, sizeof(*T));
    T->id = malloc(n + 1);
    if (!T->id)
        return -1;
    memcpy(T->id, id, n);
    T->id[n] = '\0';
    T->proc = proc;
    T->attempt = attempt;
    T->same_id = find(run, id, n, 0, 1);
    T->order = run->n_tests;
    T->end_order = -1;
    T->rss_start = T->rss_end = T->min_avail = T->others_at_min = RM_UNSET;
    T->tree_first = T->own_growth = T->transient = T->last_rss = T->death_rss = RM_UNSET;
    T->kill_rss = RM_UNSET;
    run->n_tests++;
    put(run, run->n_tests - 1, 0);
    put(run, run->n_tests - 1, 1);
    return run->n_tests - 1;
}

/* The instance a record of process pi is about. A setup that starts again
 * in the same process (a rerun) begins a new instance; an instance known
 * only from pytest's text is claimed by the first process that names it. */
static int record_test(rm_run *run, const char *raw, size_t rawn, int pi, int setup_start)
{
    char id[RM_ID_MAX];
    size_t n = norm_id(raw, rawn, id);
    int ti;
    if (n == 0)
        return -1;
    ti = find(run, id, n, pi, 0);
    if (ti < 0 && pi >= 0) {
        int k = find(run, id, n, 0, 1);
        if (k >= 0 && run->tests[k].proc < 0) {
            run->tests[k].proc = pi;
            put(run, k, 0);
            ti = k;
        }
    }
    if (ti >= 0 && setup_start && (run->tests[ti].phase > 0 || run->tests[ti].finished))
        ti = new_instance(run, id, n, pi, run->tests[ti].attempt + 1);
    else if (ti < 0)
        ti = new_instance(run, id, n, pi, 1);
    if (ti < 0 && setup_start)
        run->tests_over_cap++; /* counts tests, not their records */
    return ti;
}

/* Appends a path's segments to the absolute path out[0..*k), resolving "."
 * and ".." (the root's ".." is the root); -1 when it would not fit in cap. */
static int path_push(char *out, size_t *k, size_t cap, const char *p, size_t n)
{
    size_t i = 0, e;
    for (; i < n; i = e + 1) {
        for (e = i; e < n && p[e] != '/'; e++)
            ;
        if (e - i == 2 && p[i] == '.' && p[i + 1] == '.') {
            while (*k > 0 && out[*k - 1] != '/')
                (*k)--;
            if (*k > 0)
                (*k)--; /* its slash */
        } else if (e > i && !(e - i == 1 && p[i] == '.')) {
            if (*k + 1 + (e - i) >= cap)
                return -1;
            out[(*k)++] = '/';
            memcpy(out + *k, p + i, e - i);
            *k += e - i;
        }
    }
    out[*k] = '\0';
    return 0;
}

/* pytest prints a test's id relative to the directory it was started in
 * (config.cwd_relative_nodeid: "test_x.py::t", "../../lib/t.py::t"); the
 * records carry the node id, relative to the rootdir ("sub/test_x.py::t").
 * With both directories from the plugin's head, the printed id is turned
 * back into the node id; 0 when it cannot be (no head, or outside the
 * rootdir: pytest then prints such a path in full, and so does the id). */
static size_t rebase_id(const rm_run *run, const char *raw, size_t n, char *out, size_t cap)
{
    char full[2048];
    const char *sep = memmem(raw, n, "::", 2);
    size_t pn = sep ? (size_t)(sep - raw) : n, k = 0, rl = strlen(run->id_root);
    if (!run->id_root[0] || pn == 0)
        return 0;
    if (raw[0] != '/' && path_push(full, &k, sizeof(full), run->id_cwd, strlen(run->id_cwd)))
        return 0;
    if (path_push(full, &k, sizeof(full), raw, pn))
        return 0;
    while (rl > 1 && run->id_root[rl - 1] == '/')
        rl--;
    if (rl == 1) /* the rootdir is "/" */
        rl = 0;
    if (k <= rl || memcmp(full, run->id_root, rl) != 0 || full[rl] != '/')
        return 0;
    k -= rl + 1;
    if (k + (n - pn) >= cap)
        return 0;
    memmove(out, full + rl + 1, k);
    memcpy(out + k, raw + pn, n - pn);
    out[k + n - pn] = '\0';
    return k + n - pn;
}

/* The instance pytest's text names: on that xdist worker when it says which.
 * printed: the id is one pytest printed (relative to where it started). */
static int text_instance(rm_run *run, const char *raw, size_t rawn, const char *w, size_t wn,
                         int start, int printed)
{
    char id[RM_ID_MAX], based[RM_ID_MAX * 2];
    size_t n, bn = printed ? rebase_id(run, raw, rawn, based, sizeof(based)) : 0;
    int ti, k;
    if (bn) {
        raw = based;
        rawn = bn;
    }
    n = norm_id(raw, rawn, id);
    if (n == 0)
        return -1;
    ti = find(run, id, n, 0, 1);
    if (wn)
        for (k = ti; k >= 0; k = run->tests[k].same_id) {
            const rm_test *T = &run->tests[k];
            if (T->proc >= 0 && strlen(run->procs[T->proc].worker) == wn &&
                memcmp(run->procs[T->proc].worker, w, wn) == 0)
                return k;
        }
    if (ti >= 0 && start && run->tests[ti].text_done && run->tests[ti].proc < 0)
        ti = new_instance(run, id, n, -1, run->tests[ti].attempt + 1);
    else if (ti < 0 && (ti = new_instance(run, id, n, -1, 1)) < 0 && !start)
        run->tests_over_cap++; /* an outcome line: once per test */
    return ti;
}

int rm_run_find_test(const rm_run *run, const char *id)
{
    char buf[RM_ID_MAX];
    size_t n = norm_id(id, strlen(id), buf);
    return n ? find(run, buf, n, 0, 1) : -1;
}

/* Finds or adds the process with this pid (0 unknown) and worker. */
static int proc_index(rm_run *run, long long pid, const char *worker, size_t wlen)
{
    int i;
    char w[16];
    copy_str(w, sizeof(w), worker ? worker : "", worker ? wlen : 0);
    for (i = 0; i < run->n_procs; i++) {
        rm_proc *p = &run->procs[i];
        if (pid ? p->pid == pid : (p->pid == 0 && strcmp(p->worker, w) == 0)) {
            if (!p->worker[0] && w[0])
                memcpy(p->worker, w, sizeof(w));
            return i;
        }
    }
    if (run->n_procs >= RM_REPORT_MAX_PROCS) {
        run->procs_over_cap++;
        return -1;
    }
    {
        rm_proc *p = &run->procs[run->n_procs];
        memset(p, 0, sizeof(*p));
        p->pid = pid;
        memcpy(p->worker, w, sizeof(w));
        p->cur_test = -1;
        p->rss = p->hwm = p->avail = p->thr = p->cg_use = p->death_rss = p->cg_oom = RM_UNSET;
        return run->n_procs++;
    }
}

static int find_proc(const rm_run *run, long long pid)
{
    int i;
    for (i = 0; pid && i < run->n_procs; i++)
        if (run->procs[i].pid == pid)
            return i;
    return -1;
}

static void test_end(rm_run *run, int ti, uint64_t rss, int64_t t)
{
    rm_test *T = &run->tests[ti];
    if (T->finished)
        return;
    T->finished = 1;
    T->t_end = t;
    if (rss != RM_UNSET)
        T->rss_end = rss;
    if (T->proc < 0)
        return;
    T->end_order = run->procs[T->proc].n_tests_ended++;
    if (run->procs[T->proc].cur_test == ti)
        run->procs[T->proc].cur_test = -1;
}

/* Folds the sample values of a record into the test it belongs to. */
static void test_values(rm_run *run, int ti, int64_t t, uint64_t rss, uint64_t hwm, uint64_t avail,
                        uint64_t cg)
{
    rm_test *T = &run->tests[ti];
    uint64_t peak = rss;
    if (hwm != RM_UNSET && (peak == RM_UNSET || hwm > peak))
        peak = hwm;
    if (peak != RM_UNSET && peak > T->peak)
        T->peak = peak;
    if (rss != RM_UNSET) {
        if (T->rss_start == RM_UNSET)
            T->rss_start = rss;
        if (!T->finished) {
            T->rss_end = rss;
            T->last_rss = rss;
            T->last_t = t;
        }
    }
    if (avail != RM_UNSET && (T->min_avail == RM_UNSET || avail < T->min_avail)) {
        T->min_avail = avail;
        if (run->mem_total != RM_UNSET && rss != RM_UNSET && run->mem_total >= avail + rss)
            T->others_at_min = run->mem_total - avail - rss;
    }
    if (cg != RM_UNSET && cg > T->cg_max)
        T->cg_max = cg;
}

/* ---- fixtures: one instance from its setup to its teardown, per process ---- */

/* Slots of the fixtures' index: a power of two, twice the most fixtures kept. */
#define FIX_SLOTS 8192
_Static_assert(FIX_SLOTS >= 2 * RM_REPORT_MAX_FIXTURES && (FIX_SLOTS & (FIX_SLOTS - 1)) == 0,
               "FIX_SLOTS: a power of two, at least twice RM_REPORT_MAX_FIXTURES");

static int fixture_get(rm_run *run, const char *name, size_t nl, const char *scope, size_t sl,
                       const char *param, size_t pl)
{
    char key[RM_ID_MAX];
    unsigned h;
    int k = snprintf(key, sizeof(key), "%.*s|%.*s|%.*s", (int)(nl > 200 ? 200 : nl), name,
                     (int)(sl > 15 ? 15 : sl), scope, (int)(pl > 200 ? 200 : pl), param);
    rm_fixture *f;
    if (k < 0 || (size_t)k >= sizeof(key))
        return -1;
    /* by a keyed hash of the key: thousands of names (a parametrized
       fixture per test) cost a lookup each, not a scan */
    if (!run->fix_slots && !(run->fix_slots = calloc(FIX_SLOTS, sizeof(int))))
        return -1;
    h = (unsigned)rm_siphash(run->seed, 0x666978ull, key, (size_t)k) & (FIX_SLOTS - 1);
    for (; run->fix_slots[h]; h = (h + 1) & (FIX_SLOTS - 1))
        if (strcmp(run->fix[run->fix_slots[h] - 1].key, key) == 0)
            return run->fix_slots[h] - 1;
    if (run->n_fix >= RM_REPORT_MAX_FIXTURES) {
        run->fix_over_cap++;
        return -1;
    }
    if ((run->n_fix & (run->n_fix - 1)) == 0) {
        size_t cap = run->n_fix ? (size_t)run->n_fix * 2 : 16;
        rm_fixture *nf = realloc(run->fix, sizeof(*nf) * cap);
        if (!nf)
            return -1;
        run->fix = nf;
    }
    f = &run->fix[run->n_fix];
    memset(f, 0, sizeof(*f));
    f->key = strdup(key);
    if (!f->key)
        return -1;
    copy_str(f->name, sizeof(f->name), name, nl);
    copy_str(f->scope, sizeof(f->scope), scope, sl);
    run->fix_slots[h] = run->n_fix + 1;
    return run->n_fix++;
}

/* The newest open instance of fixture fi in process pi; add: 0 find, 1 find
 * or open one, 2 open one. */
static rm_fix_open *fix_open(rm_run *run, int fi, int pi, int add)
{
    int i;
    for (i = run->n_fopen - 1; add < 2 && i >= 0; i--)
        if (run->fopen[i].fix == fi && run->fopen[i].proc == pi)
            return &run->fopen[i];
    if (!add)
        return NULL;
    if (run->n_fopen == run->cap_fopen) {
        int cap = run->cap_fopen ? run->cap_fopen * 2 : 32;
        rm_fix_open *n;
        if (cap > 1 << 16)
            return NULL;
        n = realloc(run->fopen, sizeof(*n) * (size_t)cap);
        if (!n)
            return NULL;
        run->fopen = n;
        run->cap_fopen = cap;
    }
    memset(&run->fopen[run->n_fopen], 0, sizeof(run->fopen[0]));
    run->fopen[run->n_fopen].before = RM_UNSET;
    run->fopen[run->n_fopen].fix = fi;
    run->fopen[run->n_fopen].proc = pi;
    run->fix[fi].count++;
    return &run->fopen[run->n_fopen++];
}

/* at: 1 setup start, 2 setup end, 3 teardown start, 4 teardown end. The
 * growth of a setup (d_rss, else RSS after minus before) is what the
 * instance held; what its teardown did not give back, it kept. Both are
 * measured within one instance, never across instances or processes. */
static void fixture_event(rm_run *run, int pi, const char *name, size_t nl, const char *scope,
                          size_t sl, const char *param, size_t pl, int at, uint64_t rss,
                          int64_t d_rss, int has_d)
{
    int fi = fixture_get(run, name, nl, scope, sl, param, pl);
    rm_fixture *f;
    rm_fix_open *o;
    if (pi >= 0) {
        rm_proc *P = &run->procs[pi];
        copy_str(P->fixture, sizeof(P->fixture), name, nl);
        copy_str(P->fixture_scope, sizeof(P->fixture_scope), scope, sl);
        P->fixture_active = (at == 1 || at == 3);
    }
    if (fi < 0)
        return;
    f = &run->fix[fi];
    switch (at) {
    case 1:
        o = fix_open(run, fi, pi, 2);
        if (o)
            o->before = rss;
        break;
    case 2:
        o = fix_open(run, fi, pi, 0);
        if (!o || o->has_held)
            o = fix_open(run, fi, pi, 2);
        if (!o)
            break;
        if (has_d) {
            o->held = d_rss;
            o->has_held = 1;
        } else if (!o->has_held && o->before != RM_UNSET && rss != RM_UNSET) {
            o->held = (int64_t)(rss - o->before);
            o->has_held = 1;
        }
        if (o->has_held) {
            if (!f->n_held || o->held > f->held_max)
                f->held_max = o->held;
            f->n_held++;
        }
        o->before = RM_UNSET;
        break;
    case 3:
        o = fix_open(run, fi, pi, 0);
        if (o)
            o->before = rss; /* now: RSS before the teardown */
        break;
    case 4:
        o = fix_open(run, fi, pi, 0);
        f->torn_down = 1;
        if (o) {
            if (!has_d && o->before != RM_UNSET && rss != RM_UNSET) {
                d_rss = (int64_t)(rss - o->before);
                has_d = 1;
            }
            if (o->has_held && has_d) {
                int64_t kept = o->held + d_rss;
                if (!f->n_kept || kept > f->kept_max)
                    f->kept_max = kept;
                f->n_kept++;
            }
            *o = run->fopen[--run->n_fopen];
        }
        break;
    default:
        break;
    }
}

static int fixture_at(const rm_field *at)
{
    if (rm_val_eq(at, "setup_start") || rm_val_eq(at, "setup:start"))
        return 1;
    if (rm_val_eq(at, "setup") || rm_val_eq(at, "setup_end") || rm_val_eq(at, "setup:end"))
        return 2;
    if (rm_val_eq(at, "teardown_start") || rm_val_eq(at, "teardown:start"))
        return 3;
    if (rm_val_eq(at, "teardown") || rm_val_eq(at, "teardown_end") || rm_val_eq(at, "teardown:end"))
        return 4;
    return 0;
}

/* ---- one record ---- */

/* A process's records read its cgroup's OOM-kill counter (cg_oom): a rise
 * between two of them is a kill in the group meanwhile, proof as good as
 * the sampler's, and it names the test that ran (a child a test started,
 * an xdist worker, seen by a process that lived on). */
static void counter_rise(rm_run *run, const rm_item *it, int pi, int ti, uint64_t now)
{
    rm_proc *P = &run->procs[pi];
    uint64_t was = P->cg_oom;
    char msg[RM_SNIP_MAX];
    int k, n;
    P->cg_oom = now;
    if (was == RM_UNSET || now <= was)
        return;
    if (ti >= 0) {
        const char *id = run->tests[ti].id, *name = strrchr(id, ':');
        name = name ? name + 1 : id;
        n = snprintf(msg, sizeof(msg),
                     "the cgroup's OOM-kill counter rose (%llu -> %llu) while %.60s ran",
                     (unsigned long long)was, (unsigned long long)now, name);
    } else {
        n = snprintf(msg, sizeof(msg),
                     "the cgroup's OOM-kill counter rose (%llu -> %llu) between tests",
                     (unsigned long long)was, (unsigned long long)now);
    }
    k = rm_run_evidence(run, RM_E_OOM, it->src, it->line, it->t, it->pid, (long)(now - was), msg,
                        n > 0 ? (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1 : 0);
    if (k >= 0) {
        run->evl[k].proof = 1;
        run->evl[k].test = ti + 1;
        run->evl[k].counter = now;
    }
}

static void mark_death(rm_run *run, int pi, uint64_t rss)
{
    rm_proc *P = &run->procs[pi];
    P->died = 1;
    if (rss != RM_UNSET)
        P->death_rss = rss;
    if (P->cur_test >= 0 && rss != RM_UNSET)
        run->tests[P->cur_test].death_rss = rss;
}

static void oom_event(rm_run *run, const rm_item *it, const rm_rec *r)
{
    const rm_field *src = rm_rec_get(r, "source"), *in = rm_rec_get(r, "in_tree");
    int64_t pid = 0;
    int k;
    if (rm_rec_i64(r, "pid", &pid) != 0)
        pid = 0;
    if (rm_val_eq(src, "cgroup")) {
        k = rm_run_evidence(run, RM_E_OOM, it->src, it->line, it->t, 0, 1,
                            "the cgroup's OOM-kill counter rose", 34);
        if (k >= 0) {
            run->evl[k].proof = 1;
            if ((run->evl[k].counter = rm_get_u64(r, "cg_oom")) == RM_UNSET)
                run->evl[k].counter = 0;
        }
    } else if (rm_val_eq(in, "0")) {
        rm_run_evidence(run, RM_E_FOREIGN_OOM, it->src, it->line, it->t, pid, 1,
                        "the kernel OOM-killed a process outside the watched tree", 56);
    } else {
        uint64_t anon = rm_get_u64(r, "anon_rss");
        int pi = find_proc(run, pid);
        k = rm_run_evidence(run, RM_E_OOM, it->src, it->line, it->t, pid, 1,
                            "the kernel OOM-killed a process of the watched tree", 51);
        if (k >= 0) {
            run->evl[k].proof = rm_val_eq(in, "1");
            run->evl[k].victim = pid > 0 && run->evl[k].proof; /* the kernel's own pid */
        }
        if (pi >= 0)
            mark_death(run, pi, anon);
    }
}

static void event(rm_run *run, const rm_item *it, const rm_rec *r, int pi, int ti)
{
    const rm_field *what = rm_rec_get(r, "what"), *f;
    int64_t t = it->t;
    if (rm_val_eq(what, "oom_kill")) {
        oom_event(run, it, r);
    } else if (rm_val_eq(what, "start")) {
        if (t && (!run->sampler_t0 || t < run->sampler_t0))
            run->sampler_t0 = t;
    } else if (rm_val_eq(what, "signal") && (f = rm_rec_get(r, "signal")) != NULL) {
        long sig = rm_signal_number(f->val, f->val_len);
        if (sig == 15 || sig == 1)
            rm_run_evidence(run, RM_E_TERMINATED, it->src, it->line, t, it->pid, sig,
                            "the sampler received SIGTERM (runner shutdown or cancel)", 56);
        else if (sig == 2)
            rm_run_evidence(run, RM_E_CANCELLED, it->src, it->line, t, it->pid, sig,
                            "the sampler received SIGINT (cancel)", 36);
    } else if (rm_val_eq(what, "low_memory")) {
        if (rm_val_eq(rm_rec_get(r, "at"), "start") || !rm_rec_get(r, "at"))
            rm_run_evidence(run, RM_E_LOW_MEMORY, it->src, it->line, t, 0, 0,
                            "low_memory event (sampler)", 26);
    } else if (rm_val_eq(what, "sigterm")) {
        rm_run_evidence(run, RM_E_TERMINATED, it->src, it->line, t, it->pid, 15,
                        "SIGTERM received (sigterm event)", 32);
    } else if (rm_val_eq(what, "memory_error")) {
        rm_run_evidence(run, RM_E_MEMORY_ERROR, it->src, it->line, t, it->pid, 0,
                        "MemoryError event", 17);
        /* the first one (the fold runs in time order) names the test */
        if (ti >= 0 && !run->memerr_from_record) {
            run->memerr_test = ti;
            run->memerr_proc = pi;
            run->memerr_phase = rm_phase_code(rm_rec_get(r, "phase"));
            run->memerr_from_record = 1;
            run->memerr_t = t;
            run->memerr_rss = rm_get_u64(r, "rss");
            run->memerr_avail = rm_get_u64(r, "mem_avail");
            run->memerr_thr = rm_get_u64(r, "thr");
        }
    } else if (rm_val_eq(what, "hang")) {
        rm_run_evidence(run, RM_E_HANG, it->src, it->line, t, it->pid, 0, "hang event (watchdog)",
                        21);
    } else if (rm_val_eq(what, "threads") && rm_get_u64(r, "thr") != RM_UNSET) {
        rm_run_evidence(run, RM_E_THREAD_DUMP, it->src, it->line, t, it->pid,
                        (long)rm_get_u64(r, "thr"), "threads event", 13);
    }
}

static void legacy(rm_run *run, const rm_item *it, const rm_rec *r, int pi, int ti, uint64_t rss)
{
    const rm_field *ctx = rm_rec_get(r, "context"), *lc = rm_rec_get(r, "lifecycle");
    if (rm_val_eq(ctx, "test") && ti >= 0 && pi >= 0) {
        rm_proc *P = &run->procs[pi];
        if (rm_val_eq(lc, "start")) {
            P->cur_test = ti;
            P->phase = 2;
            P->at_end = 0;
            if (!run->tests[ti].phase)
                run->tests[ti].phase = 2;
        } else if (rm_val_eq(lc, "end")) {
            test_end(run, ti, rss, it->t);
        }
    } else if (rm_val_eq(ctx, "fixture")) {
        const rm_field *fk = rm_rec_get(r, "kind"), *fs = rm_rec_get(r, "scope");
        const rm_field *fkey = rm_rec_get(r, "key");
        fixture_event(run, pi, fk ? fk->val : "?", fk ? fk->val_len : 1, fs ? fs->val : "",
                      fs ? fs->val_len : 0, fkey ? fkey->val : "", fkey ? fkey->val_len : 0,
                      fixture_at(lc), rss, 0, 0);
    } else if (pi >= 0) {
        rm_proc *P = &run->procs[pi];
        P->has_mark = 1;
        copy_str(P->mark_label, sizeof(P->mark_label), r->label, r->label_len);
        P->mark_src = it->src;
        P->mark_line = it->line;
        P->mark_t = it->t;
    }
}

static void test_record(rm_run *run, const rm_item *it, const rm_rec *r, int pi, int ti,
                        uint64_t rss)
{
    const rm_field *at = rm_rec_get(r, "at"), *oc = rm_rec_get(r, "outcome");
    int ph = rm_phase_code(rm_rec_get(r, "phase"));
    rm_test *T = &run->tests[ti];
    rm_proc *P = pi >= 0 ? &run->procs[pi] : NULL;
    if (!oc)
        oc = rm_rec_get(r, "result");
    if (oc && oc->val_len && !(rm_val_eq(oc, "passed") && T->outcome[0]))
        copy_str(T->outcome, sizeof(T->outcome), oc->val, oc->val_len);
    if (ph)
        T->phase = ph;
    if (rm_val_eq(at, "start")) {
        /* a process starts its next test only when the previous one ended:
           with the job log's start lines alone, that start is its end */
        if (ph == 1 && P && P->cur_test >= 0 && P->cur_test != ti &&
            !run->tests[P->cur_test].finished)
            test_end(run, P->cur_test, rss, it->t);
        if (P) {
            P->cur_test = ti;
            P->phase = ph;
            P->at_end = 0;
            if (ph == 1) { /* a fixture named from now on is this test's own */
                P->fixture_active = 0;
                P->fixture[0] = P->fixture_scope[0] = '\0';
            }
        }
        if (ph == 1 && rss != RM_UNSET)
            T->rss_start = rss;

    } else if (rm_val_eq(at, "end")) {
        if (P) {
            P->cur_test = ti;
            P->phase = ph;
            P->at_end = 1;
        }
        if (ph == 3 || ph == 0)
            test_end(run, ti, rss, it->t);
    }
}

/* copy: the same record read again with another time (the plugin samples
 * the job log's line and the record file's line apart): its values count,
 * it changes no state. */
static void fold_record(rm_run *run, const rm_item *it, const rm_rec *r, int copy)
{
    const rm_field *f_test = rm_rec_get(r, "test"), *f_worker = rm_rec_get(r, "worker"), *f;
    const char *kind = r->kind;
    uint64_t rss = rm_get_u64(r, "rss"), hwm = rm_get_u64(r, "hwm"),
             avail = rm_get_u64(r, "mem_avail");
    uint64_t thr = rm_get_u64(r, "thr"), cg = rm_get_u64(r, "cg_use"), oom;
    int pi = -1, ti = -1, is_legacy = r->type == RM_PARSE_LEGACY, is_test = !strcmp(kind, "test");
    int64_t t = it->t;
    /* the plugin's interval peaks; at a test's start they belong to the
     * interval before it, so only rss counts there */
    if ((is_test && rm_val_eq(rm_rec_get(r, "at"), "start")) || !strcmp(kind, "gasp") ||
        !strcmp(kind, "dump")) {
        /* at a test's start the interval peak is the one before it; a crash
           handler's hwm is the process's lifetime peak, not this test's */
        hwm = RM_UNSET;
    } else {
        uint64_t pk = rm_get_u64(r, "peak"), tp = rm_get_u64(r, "test_peak");
        if (pk != RM_UNSET && (hwm == RM_UNSET || pk > hwm))
            hwm = pk;
        if (tp != RM_UNSET && (hwm == RM_UNSET || tp > hwm))
            hwm = tp;
    }
    if (!strcmp(kind, "event") && rm_val_eq(rm_rec_get(r, "what"), "oom_kill")) {
        oom_event(run, it, r); /* its pid is the killed process, not a writer */
        return;
    }
    if (it->pid || f_worker || is_legacy)
        pi = proc_index(run, it->pid, f_worker ? f_worker->val : NULL,
                        f_worker ? f_worker->val_len : 0);
    if (!f_test && is_legacy && rm_val_eq(rm_rec_get(r, "context"), "test"))
        f_test = rm_rec_get(r, "nodeid");
    if (f_test && f_test->val_len) {
        int setup_start = (is_test && rm_val_eq(rm_rec_get(r, "at"), "start") &&
                           rm_phase_code(rm_rec_get(r, "phase")) == 1) ||
                          (is_legacy && rm_val_eq(rm_rec_get(r, "lifecycle"), "start"));
        ti = record_test(run, f_test->val, f_test->val_len, pi, setup_start && !copy);
    } else if (pi >= 0) {
        ti = run->procs[pi].cur_test;
    }
    if (pi >= 0) {
        rm_proc *P = &run->procs[pi];
        if (t >= P->last_t)
            P->last_t = t;
        if (!P->plugin && !is_legacy && strcmp(kind, "sample") != 0 && strcmp(kind, "echo") != 0 &&
            strcmp(kind, "event") != 0 && strcmp(kind, "verdict") != 0)
            P->plugin = 1; /* a record only the plugin writes */
        if (rss != RM_UNSET) {
            P->rss = rss;
            if (rss > P->peak_rss)
                P->peak_rss = rss;
        }
        if (hwm != RM_UNSET) {
            P->hwm = hwm;
            if (hwm > P->peak_rss)
                P->peak_rss = hwm;
        }
        if (avail != RM_UNSET)
            P->avail = avail;
        if (thr != RM_UNSET)
            P->thr = thr;
        if (cg != RM_UNSET)
            P->cg_use = cg;
        if (ti >= 0 && run->tests[ti].proc < 0)
            run->tests[ti].proc = pi;
        if (ti >= 0 && !is_test && f_test &&
            (P->cur_test < 0 || (P->cur_test != ti && run->tests[P->cur_test].finished))) {
            /* a gasp or a dump names the test its process runs, whose start
               was not read (a log cut at its start): it is the current one */
            int ph = rm_phase_code(rm_rec_get(r, "phase"));
            P->cur_test = ti;
            P->at_end = 0;
            if (ph)
                P->phase = run->tests[ti].phase = ph;
        }
        if (ti >= 0 && ti == P->cur_test && !is_test) {
            int ph = rm_phase_code(rm_rec_get(r, "phase"));
            if (ph && ph != P->phase) {
                P->phase = ph;
                P->at_end = 0;
            }
        }
    }
    rm_timeline_add(run, t, avail, rss, cg, pi);
    if (ti >= 0) {
        rm_test *T = &run->tests[ti];
        if (T->src == 0 && T->line == 0) {
            T->src = it->src;
            T->line = it->line;
        }
        if (T->t_start == 0)
            T->t_start = t;
        test_values(run, ti, t, rss, hwm, avail, cg);
    }
    if (copy)
        return;
    if (pi >= 0 && !is_legacy && (oom = rm_get_u64(r, "cg_oom")) != RM_UNSET)
        counter_rise(run, it, pi, ti, oom);

    if (is_legacy) {
        legacy(run, it, r, pi, ti, rss);
    } else if (is_test) {
        if (ti >= 0)
            test_record(run, it, r, pi, ti, rss);
    } else if (!strcmp(kind, "fixture")) {
        const rm_field *nm = rm_rec_get(r, "name"), *sc = rm_rec_get(r, "scope");
        const rm_field *pa = rm_rec_get(r, "param");
        int64_t d = 0;
        int has_d = rm_rec_i64(r, "d_rss", &d) == 0, fi;
        uint64_t held;
        if (!nm)
            return;
        fixture_event(run, pi, nm->val, nm->val_len, sc ? sc->val : "", sc ? sc->val_len : 0,
                      pa ? pa->val : "", pa ? pa->val_len : 0, fixture_at(rm_rec_get(r, "at")), rss,
                      d, has_d);
        if (rm_rec_u64(r, "held", &held) == 0 &&
            (fi = fixture_get(run, nm->val, nm->val_len, sc ? sc->val : "", sc ? sc->val_len : 0,
                              pa ? pa->val : "", pa ? pa->val_len : 0)) >= 0 &&
            held > run->fix[fi].held_tests)
            run->fix[fi].held_tests = held;
    } else if (!strcmp(kind, "mark")) {
        if (pi >= 0) {
            rm_proc *P = &run->procs[pi];
            const rm_field *lb = rm_rec_get(r, "label");
            P->has_mark = 1;
            copy_str(P->mark_label, sizeof(P->mark_label), lb ? lb->val : "", lb ? lb->val_len : 0);
            P->mark_src = it->src;
            P->mark_line = it->line;
            P->mark_t = t;
        }
    } else if (!strcmp(kind, "gasp")) {
        f = rm_rec_get(r, "signal");
        if (f) {
            long sig = rm_signal_number(f->val, f->val_len);
            char msg[96];
            int k = snprintf(msg, sizeof(msg), "last gasp before signal %ld", sig);
            if (k < 0 || (size_t)k >= sizeof(msg))
                k = 0;
            if (sig > 0) {
                rm_run_evidence(run, rm_signal_evidence(sig), it->src, it->line, t, it->pid, sig,
                                msg, (size_t)k);
                if (pi >= 0 && sig != 2)
                    mark_death(run, pi, rss);
            }
        }
    } else if (!strcmp(kind, "event")) {
        event(run, it, r, pi, ti);
    } else if (!strcmp(kind, "dump")) {
        if (rm_val_eq(rm_rec_get(r, "at"), "begin"))
            rm_run_evidence(run, RM_E_THREAD_DUMP, it->src, it->line, t, it->pid,
                            (long)(thr == RM_UNSET ? 0 : thr), "thread dump", 11);
    }
}

/* ---- a test named by pytest's text ---- */

static void fold_text(rm_run *run, const rm_item *it)
{
    const char *s = run->arena + it->off, *tab1, *tab2;
    size_t n = it->len;
    int ti;
    rm_test *T;
    tab1 = memchr(s, '\t', n);
    tab2 = tab1 ? memchr(tab1 + 1, '\t', (size_t)(s + n - tab1 - 1)) : NULL;
    if (!tab2)
        return;
    /* xdist's crash line names the node id itself; pytest's lines print it
       relative to where pytest was started */
    ti = text_instance(run, tab2 + 1, (size_t)(s + n - tab2 - 1), tab1 + 1,
                       (size_t)(tab2 - tab1 - 1), it->type == RM_I_TEXT_START,
                       !(tab1 - s == 7 && memcmp(s, "crashed", 7) == 0));
    if (ti < 0)
        return;
    T = &run->tests[ti];
    if (T->src == 0 && T->line == 0) {
        T->src = it->src;
        T->line = it->line;
    }
    if (it->type == RM_I_TEXT_START) {
        T->text_started = 1;
        T->t_text = it->t;
    } else if (it->type == RM_I_MEMERR) {
        if (!run->memerr_from_record && run->memerr_test < 0) {
            run->memerr_test = ti;
            run->memerr_proc = T->proc;
            run->memerr_t = it->t;
        }
    } else {
        size_t on = (size_t)(tab1 - s);
        if (on == 7 && memcmp(s, "crashed", 7) == 0) {
            /* xdist's word that the worker died while running it */
            run->crashed_test = ti;
            if (T->proc >= 0)
                run->procs[T->proc].died = 1;
            /* not "running", and not ended: each crashed worker's test says
               so, whatever pytest's FAILED line for it says later */
            T->crashed = 1;
            T->text_done = 0; /* a FAILED line for it may come first: same time */
            copy_str(T->outcome, sizeof(T->outcome), "crashed", 7);
            return;
        }
        if (T->crashed)
            return;
        if (!T->outcome[0] || !(on == 6 && memcmp(s, "passed", 6) == 0))
            copy_str(T->outcome, sizeof(T->outcome), s, on);
        T->text_done = 1;
    }
}

/* ---- sorting and folding ---- */

static const rm_run *g_sort;

static int cmp_item(const void *a, const void *b)
{
    const rm_item *x = a, *y = b;
    int c;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->type != y->type)
        return x->type - y->type;
    if (x->ident != y->ident)
        return x->ident < y->ident ? -1 : 1;
    if (x->len != y->len) /* of two copies, the fuller first */
        return x->len > y->len ? -1 : 1;
    c = strcmp(g_sort->src[x->src].path, g_sort->src[y->src].path);
    if (c)
        return c;
    return (x->line > y->line) - (x->line < y->line);
}

/* Copies of one record written a moment apart (the plugin's job-log line and
 * its record-file line sample separately) are one record: the same process,
 * identity and rank within COPY_WINDOW_USEC of the first of them.
 *
 * The fold reads the items in time order, so only the records of the last
 * COPY_WINDOW_USEC can still have a copy to come, and all of them must be
 * remembered, whatever else (other workers, other records) comes between two
 * copies: a table that forgot one would fold its copy as a new instance (a
 * test counted twice, a re-run that never happened). Two hash tables, each
 * one window of time wide, hold them: the current window's records and the
 * previous window's. When the time moves on by one window the older table
 * is emptied (a new generation: O(1)) and takes the new window; a jump of
 * more empties both. A record is a copy when the current table holds its
 * key (the same window: less than COPY_WINDOW_USEC before), or the previous
 * table holds it at most COPY_WINDOW_USEC before. So memory follows the
 * records of two windows, never evicting one of them, and each record costs
 * O(1) amortised. */
#define COPY_WINDOW_USEC 50000
/* a table's first size (slots, a power of two: 32 KiB) */
#define COPY_MIN_SLOTS 1024
/* a table never grows past this: twice the items a run keeps (and never
   below its first size), so only a failed allocation leaves records
   unchecked (copies_unchecked says how many) */
#define COPY_MAX_SLOTS                                                                             \
    ((size_t)RM_REPORT_MAX_ITEMS * 2 > COPY_MIN_SLOTS ? (size_t)RM_REPORT_MAX_ITEMS * 2            \
                                                      : (size_t)COPY_MIN_SLOTS)

typedef struct {
    long long pid;
    uint64_t ident;
    int64_t t;
    uint32_t rank;
    uint32_t gen; /* the table's generation when written: another is an empty slot */
} copy_ent;

typedef struct {
    copy_ent *e; /* NULL until the first record */
    size_t mask; /* slots - 1 */
    size_t n;    /* entries of this generation */
    uint32_t gen;
    int64_t window; /* the window of time it holds (t / COPY_WINDOW_USEC, floored) */
} copy_tab;

static uint64_t copy_hash(uint64_t seed, long long pid, uint64_t ident, uint32_t rank)
{
    /* keyed by the run's seed: crafted ids cannot pile into one chain */
    uint64_t h = seed ^ ident ^ ((uint64_t)pid * 0x9e3779b97f4a7c15ull) ^
                 ((uint64_t)rank << 40 | (uint64_t)rank);
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

static void copy_clear(copy_tab *c)
{
    c->n = 0;
    if (++c->gen == 0) { /* wrapped: old generations would come back */
        if (c->e)
            memset(c->e, 0, sizeof(c->e[0]) * (c->mask + 1));
        c->gen = 1;
    }
}

static copy_ent *copy_find(const copy_tab *c, uint64_t h, const rm_item *it)
{
    size_t i;
    if (!c->e)
        return NULL;
    /* the load stays below 7/8: an empty slot ends every probe */
    for (i = h & c->mask; c->e[i].gen == c->gen; i = (i + 1) & c->mask) {
        const copy_ent *e = &c->e[i];
        if (e->ident == it->ident && e->pid == it->pid && e->rank == it->rank)
            return &c->e[i];
    }
    return NULL;
}

/* Doubles c (or makes its first slots), keeping this generation's entries.
 * 0 done, -1 at COPY_MAX_SLOTS or out of memory (c unchanged). */
static int copy_grow(copy_tab *c, uint64_t seed)
{
    size_t slots = c->e ? 2 * (c->mask + 1) : COPY_MIN_SLOTS, i, j;
    copy_ent *ne;
    if (slots > COPY_MAX_SLOTS || !(ne = calloc(slots, sizeof(*ne))))
        return -1;
    for (i = 0; c->e && i <= c->mask; i++) {
        const copy_ent *e = &c->e[i];
        if (e->gen != c->gen)
            continue;
        j = copy_hash(seed, e->pid, e->ident, e->rank) & (slots - 1);
        while (ne[j].gen)
            j = (j + 1) & (slots - 1);
        ne[j] = *e;
        ne[j].gen = 1;
    }
    free(c->e);
    c->e = ne;
    c->mask = slots - 1;
    c->gen = 1;
    return 0;
}

/* Remembers it (its key not in c). 0 done, -1 not remembered. */
static int copy_put(copy_tab *c, uint64_t seed, uint64_t h, const rm_item *it)
{
    size_t i;
    /* grow at half full; if that fails, fill up to 7/8 before giving up */
    if ((!c->e || 2 * (c->n + 1) > c->mask + 1) && copy_grow(c, seed) != 0 &&
        (!c->e || 8 * (c->n + 1) > 7 * (c->mask + 1)))
        return -1;
    for (i = h & c->mask; c->e[i].gen == c->gen; i = (i + 1) & c->mask)
        ;
    c->e[i].pid = it->pid;
    c->e[i].ident = it->ident;
    c->e[i].rank = it->rank;
    c->e[i].t = it->t;
    c->e[i].gen = c->gen;
    c->n++;
    return 0;
}

static int64_t copy_window(int64_t t)
{
    int64_t w = t / COPY_WINDOW_USEC;
    return t % COPY_WINDOW_USEC < 0 ? w - 1 : w;
}

/* 1 when it is a copy of a record read before it (items in time order). */
static int near_copy(rm_run *run, copy_tab tab[2], const rm_item *it)
{
    int64_t w = copy_window(it->t);
    uint64_t h = copy_hash(run->seed, it->pid, it->ident, it->rank);
    copy_ent *e;
    if (w != tab[0].window) {
        if (w == tab[0].window + 1) { /* the current window becomes the previous */
            copy_tab prev = tab[0];
            tab[0] = tab[1];
            tab[1] = prev;
        } else { /* nothing held is within the window any more */
            copy_clear(&tab[1]);
            tab[1].window = w - 1;
        }
        copy_clear(&tab[0]);
        tab[0].window = w;
    }
    if ((e = copy_find(&tab[0], h, it)) != NULL) {
        if (it->t - e->t <= COPY_WINDOW_USEC)
            return 1;
        e->t = it->t; /* not in time order: a new first copy */
        return 0;
    }
    e = copy_find(&tab[1], h, it);
    if (e && it->t - e->t <= COPY_WINDOW_USEC)
        return 1;
    if (copy_put(&tab[0], run->seed, h, it) != 0)
        run->copies_unchecked++;
    return 0;
}

void rm_run_fold(rm_run *run)
{
    size_t i;
    const rm_item *prev = NULL;
    copy_tab copies[2];
    int64_t death = 0, last = 0;
    int k;
    memset(copies, 0, sizeof(copies));
    copies[0].window = copies[1].window = INT64_MIN; /* the first record starts a window */
    /* the watched command died by a signal when the sampler said so: what
       its orphans (xdist workers) wrote after that is not the run's state.
       The newest such word counts: a forged older one cannot cut the run. */
    for (k = 0; k < run->n_evl; k++) {
        const rm_evidence *e = &run->evl[k];
        if (e->t >= last && strstr(e->text, "the sampler saw the command")) {
            last = e->t;
            death = strstr(e->text, "command die") ? e->t : 0;
        }
    }
    g_sort = run;
    if (run->n_items > 1)
        qsort(run->items, run->n_items, sizeof(run->items[0]), cmp_item);
    for (i = 0; i < run->n_items; i++) {
        const rm_item *it = &run->items[i];
        /* the same record read twice (job log and record file): once */
        if (prev && prev->t == it->t && prev->pid == it->pid && prev->rank == it->rank &&
            prev->type == it->type && prev->ident == it->ident) {
            run->copies++;
            continue;
        }
        prev = it;
        if (death && it->t > death) {
            run->after_death++;
            continue;
        }
        if (it->type == RM_I_RECORD) {
            int copy = it->t && it->named && near_copy(run, copies, it);
            run->copies += (uint64_t)copy;
            if (rm_rec_unpack(run->arena + it->off, it->len, &g_frec) != RM_PARSE_NONE)
                fold_record(run, it, &g_frec, copy);
        } else {
            fold_text(run, it);
        }
    }
    free(copies[0].e);
    free(copies[1].e);
}
