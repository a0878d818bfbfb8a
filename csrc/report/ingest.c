/* SPDX-License-Identifier: MIT */
/* ingest.c: reads inputs line by line and folds every record and telling log line into a run. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

/* Lines of an old bash-loop "Resource Usage" block read after its header. */
#define BASH_BLOCK_LINES 60
/* Bytes of a line searched for a shell job-control message. */
#define SHELL_SCAN_MAX 400
/* Bytes of a line's first word checked for "...MemoryError". */
#define FIRST_WORD_MAX 128
/* Tree members a sample record may list (treeI_*): the sampler writes 12. */
#define RM_TREE_MEMBERS 32

/* One parse buffer per process: records are parsed one at a time. */
static rm_rec g_rec;

rm_run *rm_run_new(const char *name)
{
    rm_run *run = calloc(1, sizeof(*run));
    int k;
    if (!run)
        return NULL;
    k = snprintf(run->name, sizeof(run->name), "%s", name ? name : "");
    if (k < 0)
        run->name[0] = '\0';
    run->n_slots = 1;
    while (run->n_slots < 2u * RM_REPORT_MAX_TESTS)
        run->n_slots <<= 1;
    run->slots = calloc(run->n_slots, sizeof(int));
    if (!run->slots) {
        free(run);
        return NULL;
    }
    run->mem_total = run->min_avail = run->cg_lim = RM_UNSET;
    run->cg_max = 0;
    run->cg_oom_first = run->cg_oom_last = run->cg_oom_run = RM_UNSET;
    run->tl_stride = 1;
    run->boundary_test = run->boundary_proc = run->culprit_test = -1;
    run->text_test = -1;
    run->memerr_test = run->memerr_proc = -1;
    run->memerr_rss = run->memerr_avail = run->memerr_thr = RM_UNSET;
    run->tree_stride = 1;
    run->n_passed = run->n_failed = run->n_errors = run->n_skipped = -1;
    return run;
}

void rm_run_free(rm_run *run)
{
    int i;
    if (!run)
        return;
    for (i = 0; i < run->n_tests; i++)
        free(run->tests[i].id);
    for (i = 0; i < run->n_fix; i++)
        free(run->fix[i].key);
    for (i = 0; i < run->n_src; i++)
        free(run->src[i].path);
    free(run->tests);
    free(run->slots);
    free(run->fix);
    free(run->src);
    free(run->tree);
    free(run);
}

int rm_run_add_source(rm_run *run, const char *path)
{
    rm_source *s = realloc(run->src, sizeof(*s) * (size_t)(run->n_src + 1));
    if (!s)
        return -1;
    run->src = s;
    s = &run->src[run->n_src];
    memset(s, 0, sizeof(*s));
    s->path = strdup(path);
    if (!s->path)
        return -1;
    return run->n_src++;
}

/* ---- small helpers ---- */

static int starts(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(s, lit, l) == 0;
}

static void copy_str(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n && k + 1 < cap; i++)
        dst[k++] = s[i];
    dst[k] = '\0';
}

/* Copies a line for quoting as evidence: printable ASCII only. */
static void snip(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0x1b) { /* drop ANSI sequences */
            i++;
            if (i < n && s[i] == '[')
                while (i + 1 < n && !((s[i + 1] >= '@' && s[i + 1] <= '~') && s[i + 1] != '['))
                    i++;
            i++;
            continue;
        }
        dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    while (k > 0 && (dst[k - 1] == ' ' || dst[k - 1] == '\r'))
        k--;
    dst[k] = '\0';
}

static void evidence(rm_run *run, rm_evidence_kind kind, int src, uint64_t line, int64_t t,
                     long value, const char *text, size_t tlen)
{
    rm_evidence *e = &run->ev[kind];
    e->seen = 1;
    e->count++;
    e->src = src;
    e->line = line;
    e->t = t;
    e->value = value;
    snip(e->text, sizeof(e->text), text, tlen);
    if (run->n_events < RM_REPORT_MAX_EVENTS) {
        rm_event *ev = &run->events[run->n_events++];
        ev->t = t;
        ev->kind = kind;
        ev->src = src;
        ev->line = line;
    } else {
        run->events_dropped++;
    }
}

static void evidence_str(rm_run *run, rm_evidence_kind kind, int src, uint64_t line, int64_t t,
                         long value, const char *text)
{
    evidence(run, kind, src, line, t, value, text, strlen(text));
}

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Finds or adds a test; -1 when the table is full. */
static int test_index(rm_run *run, const char *id, size_t n, int add)
{
    uint32_t h;
    unsigned mask = run->n_slots - 1, i;
    if (n >= RM_ID_MAX)
        n = RM_ID_MAX - 1;
    n = strnlen(id, n); /* an id is cut at an (escaped) NUL byte */
    if (n == 0)
        return -1;
    h = hash(id, n);
    for (i = h & mask;; i = (i + 1) & mask) {
        int k = run->slots[i];
        rm_test *t;
        if (k == 0)
            break;
        t = &run->tests[k - 1];
        if (strlen(t->id) == n && memcmp(t->id, id, n) == 0)
            return k - 1;
    }
    if (!add)
        return -1;
    if (run->n_tests >= RM_REPORT_MAX_TESTS) {
        run->tests_over_cap++;
        return -1;
    }
    if (run->n_tests == run->cap_tests) {
        int cap = run->cap_tests ? run->cap_tests * 2 : 256;
        rm_test *nt = realloc(run->tests, sizeof(*nt) * (size_t)cap);
        if (!nt)
            return -1;
        run->tests = nt;
        run->cap_tests = cap;
    }
    {
        rm_test *t = &run->tests[run->n_tests];
        memset(t, 0, sizeof(*t));
        t->id = malloc(n + 1);
        if (!t->id)
            return -1;
        memcpy(t->id, id, n);
        t->id[n] = '\0';
        t->proc = -1;
        t->order = run->n_tests;
        t->end_order = -1;
        t->rss_start = t->rss_end = t->min_avail = RM_UNSET;
        t->others_at_min = RM_UNSET;
        t->peak = 0;
        t->tree_first = t->own_growth = RM_UNSET;
        run->slots[i] = ++run->n_tests;
        return run->n_tests - 1;
    }
}

int rm_run_find_test(const rm_run *run, const char *id)
{
    return test_index((rm_run *)run, id, strlen(id), 0);
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
        p->rss = p->hwm = p->avail = p->thr = p->cg_use = RM_UNSET;
        return run->n_procs++;
    }
}

static void timeline_add(rm_run *run, int64_t t, uint64_t avail, uint64_t rss, uint64_t cg,
                         int proc)
{
    rm_point *p;
    if (t == 0 || (avail == RM_UNSET && rss == RM_UNSET && cg == RM_UNSET))
        return;
    if (run->n_tl > 0 && run->tl_skip + 1 < run->tl_stride) {
        /* merge into the last point, keeping the extremes */
        p = &run->tl[run->n_tl - 1];
        run->tl_skip++;
        if (avail != RM_UNSET && (p->avail == RM_UNSET || avail < p->avail))
            p->avail = avail;
        if (rss != RM_UNSET && (p->rss == RM_UNSET || rss > p->rss)) {
            p->rss = rss;
            p->proc = proc;
        }
        if (cg != RM_UNSET && (p->cg == RM_UNSET || cg > p->cg))
            p->cg = cg;
        return;
    }
    if (run->n_tl == RM_REPORT_TIMELINE) {
        int i;
        for (i = 0; i + 1 < run->n_tl; i += 2) {
            rm_point a = run->tl[i], b = run->tl[i + 1];
            if (b.avail != RM_UNSET && (a.avail == RM_UNSET || b.avail < a.avail))
                a.avail = b.avail;
            if (b.rss != RM_UNSET && (a.rss == RM_UNSET || b.rss > a.rss)) {
                a.rss = b.rss;
                a.proc = b.proc;
            }
            if (b.cg != RM_UNSET && (a.cg == RM_UNSET || b.cg > a.cg))
                a.cg = b.cg;
            run->tl[i / 2] = a;
        }
        run->n_tl /= 2;
        run->tl_stride *= 2;
    }
    run->tl_skip = 0;
    p = &run->tl[run->n_tl++];
    p->t = t;
    p->avail = avail;
    p->rss = rss;
    p->cg = cg;
    p->proc = proc;
}

/* Keeps the RSS of each process of the sampler's tree (treeI_pid, treeI_rss)
 * at this sample. Bounded: when the table is full, every other sample is
 * dropped and from then on only every second one is kept. */
static void tree_add(rm_run *run, const rm_rec *r, int64_t t)
{
    int i;
    if (t == 0)
        return;
    if (run->tree_skip + 1 < run->tree_stride) {
        run->tree_skip++;
        run->tree_dropped++;
        return;
    }
    run->tree_skip = 0;
    for (i = 0; i < RM_TREE_MEMBERS; i++) {
        char kp[16], kr[16];
        int64_t pid;
        uint64_t rss;
        int a = snprintf(kp, sizeof(kp), "tree%d_pid", i),
            b = snprintf(kr, sizeof(kr), "tree%d_rss", i);
        if (a < 0 || (size_t)a >= sizeof(kp) || b < 0 || (size_t)b >= sizeof(kr))
            return;
        if (rm_rec_i64(r, kp, &pid) != 0)
            break; /* members are numbered from 0 without gaps */
        if (rm_rec_u64(r, kr, &rss) != 0 || pid <= 0)
            continue;
        if (run->n_tree == RM_REPORT_TREE_POINTS) {
            /* drop every other sample (points of one sample share their t) */
            int k, w = 0, group = -1;
            int64_t last = 0;
            for (k = 0; k < run->n_tree; k++) {
                if (k == 0 || run->tree[k].t != last) {
                    group++;
                    last = run->tree[k].t;
                }
                if (group % 2 == 0)
                    run->tree[w++] = run->tree[k];
            }
            run->tree_dropped += (uint64_t)(run->n_tree - w);
            run->n_tree = w;
            run->tree_stride *= 2;
        }
        if (run->n_tree == run->cap_tree) {
            int cap = run->cap_tree ? run->cap_tree * 2 : 1024;
            rm_tree_point *nt;
            if (cap > RM_REPORT_TREE_POINTS)
                cap = RM_REPORT_TREE_POINTS;
            nt = realloc(run->tree, sizeof(*nt) * (size_t)cap);
            if (!nt)
                return;
            run->tree = nt;
            run->cap_tree = cap;
        }
        run->tree[run->n_tree].t = t;
        run->tree[run->n_tree].pid = (long long)pid;
        run->tree[run->n_tree].rss = rss;
        run->n_tree++;
    }
}

static void see_time(rm_run *run, int64_t t)
{
    if (t == 0)
        return;
    if (run->t_first == 0 || t < run->t_first)
        run->t_first = t;
    if (t > run->t_last)
        run->t_last = t;
}

static void see_avail(rm_run *run, int src, uint64_t line, int64_t t, uint64_t avail)
{
    if (avail == RM_UNSET)
        return;
    if (run->min_avail == RM_UNSET || avail < run->min_avail) {
        run->min_avail = avail;
        run->min_avail_src = src;
        run->min_avail_line = line;
        run->min_avail_t = t;
    }
}

static long signal_number(const char *v, size_t n)
{
    static const struct {
        const char *name;
        int num;
    } names[] = {{"SIGHUP", 1},   {"SIGINT", 2},   {"SIGQUIT", 3},  {"SIGILL", 4},
                 {"SIGABRT", 6},  {"SIGBUS", 7},   {"SIGFPE", 8},   {"SIGKILL", 9},
                 {"SIGSEGV", 11}, {"SIGTERM", 15}, {"SIGUSR1", 10}, {"SIGUSR2", 12}};
    size_t i;
    long num = 0;
    if (n == 0)
        return -1;
    if (n <= 4) {
        for (i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                break;
            num = num * 10 + (v[i] - '0');
        }
        if (i == n)
            return num;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == n && memcmp(names[i].name, v, n) == 0)
            return names[i].num;
    return -1;
}

/* Evidence kind for a fatal signal number. */
static rm_evidence_kind signal_evidence(long sig)
{
    if (sig == 11)
        return RM_E_SEGV;
    if (sig == 9)
        return RM_E_KILLED;
    if (sig == 15 || sig == 1)
        return RM_E_TERMINATED;
    if (sig == 2)
        return RM_E_CANCELLED;
    return RM_E_FATAL_SIGNAL;
}

static int phase_code(const rm_field *f)
{
    if (!f)
        return 0;
    if (f->val_len == 5 && memcmp(f->val, "setup", 5) == 0)
        return 1;
    if (f->val_len == 4 && memcmp(f->val, "call", 4) == 0)
        return 2;
    if (f->val_len == 8 && memcmp(f->val, "teardown", 8) == 0)
        return 3;
    return 0;
}

static int val_eq(const rm_field *f, const char *lit)
{
    return f && f->val_len == strlen(lit) && memcmp(f->val, lit, f->val_len) == 0;
}

static uint64_t get_u64(const rm_rec *r, const char *key)
{
    uint64_t v;
    return rm_rec_u64(r, key, &v) == 0 ? v : RM_UNSET;
}

/* ---- tests ---- */

static void test_end(rm_run *run, int ti, uint64_t rss, int64_t t)
{
    rm_test *T = &run->tests[ti];
    rm_proc *P;
    if (T->finished)
        return;
    T->finished = 1;
    T->t_end = t;
    if (rss != RM_UNSET)
        T->rss_end = rss;
    if (T->proc < 0)
        return;
    P = &run->procs[T->proc];
    T->end_order = P->n_tests_ended++;
    if (T->rss_end != RM_UNSET) {
        double x = T->end_order, y = (double)T->rss_end;
        P->sx += x;
        P->sy += y;
        P->sxx += x * x;
        P->sxy += x * y;
        P->syy += y * y;
    }
    if (P->cur_test == ti)
        P->cur_test = -1;
}

/* Folds the sample values of a record into the test it belongs to. */
static void test_values(rm_run *run, int ti, uint64_t rss, uint64_t hwm, uint64_t avail,
                        uint64_t cg, uint64_t total)
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
        if (!T->finished)
            T->rss_end = rss;
    }
    if (avail != RM_UNSET && (T->min_avail == RM_UNSET || avail < T->min_avail)) {
        T->min_avail = avail;
        if (total != RM_UNSET && rss != RM_UNSET && total >= avail + rss)
            T->others_at_min = total - avail - rss;
    }
    if (cg != RM_UNSET && cg > T->cg_max)
        T->cg_max = cg;
}

/* ---- fixtures ---- */

static rm_fixture *fixture_get(rm_run *run, const char *name, size_t nl, const char *scope,
                               size_t sl, const char *param, size_t pl)
{
    char key[RM_ID_MAX];
    int i, k = snprintf(key, sizeof(key), "%.*s|%.*s|%.*s", (int)(nl > 200 ? 200 : nl), name,
                        (int)(sl > 15 ? 15 : sl), scope, (int)(pl > 200 ? 200 : pl), param);
    rm_fixture *f;
    if (k < 0 || (size_t)k >= sizeof(key))
        return NULL;
    /* fixtures are few: a linear scan from the newest */
    for (i = run->n_fix - 1; i >= 0; i--)
        if (strcmp(run->fix[i].key, key) == 0)
            return &run->fix[i];
    if (run->n_fix >= RM_REPORT_MAX_FIXTURES) {
        run->fix_over_cap++;
        return NULL;
    }
    if ((run->n_fix & (run->n_fix - 1)) == 0) {
        size_t cap = run->n_fix ? (size_t)run->n_fix * 2 : 16;
        rm_fixture *nf = realloc(run->fix, sizeof(*nf) * cap);
        if (!nf)
            return NULL;
        run->fix = nf;
    }
    f = &run->fix[run->n_fix];
    memset(f, 0, sizeof(*f));
    f->key = strdup(key);
    if (!f->key)
        return NULL;
    copy_str(f->name, sizeof(f->name), name, nl);
    copy_str(f->scope, sizeof(f->scope), scope, sl);
    f->before_setup = f->after_setup = f->before_teardown = f->after_teardown = RM_UNSET;
    run->n_fix++;
    return f;
}

/* at: 1 setup start, 2 setup end, 3 teardown start, 4 teardown end. */
static void fixture_event(rm_run *run, rm_proc *P, const char *name, size_t nl, const char *scope,
                          size_t sl, const char *param, size_t pl, int at, uint64_t rss,
                          int64_t d_rss, int has_d)
{
    rm_fixture *f = fixture_get(run, name, nl, scope, sl, param, pl);
    if (P) {
        copy_str(P->fixture, sizeof(P->fixture), name, nl);
        copy_str(P->fixture_scope, sizeof(P->fixture_scope), scope, sl);
        P->fixture_active = (at == 1 || at == 3);
    }
    if (!f)
        return;
    switch (at) {
    case 1:
        f->count++;
        f->before_setup = rss;
        break;
    case 2:
        f->after_setup = rss;
        if (has_d && rss != RM_UNSET && (d_rss < 0 || (uint64_t)d_rss <= rss) &&
            f->before_setup == RM_UNSET)
            f->before_setup = rss - (uint64_t)d_rss;
        if (f->count == 0)
            f->count = 1;
        break;
    case 3:
        f->before_teardown = rss;
        break;
    case 4:
        f->after_teardown = rss;
        f->torn_down = 1;
        if (has_d && rss != RM_UNSET && f->before_teardown == RM_UNSET &&
            (d_rss > 0 || (uint64_t)(-d_rss) <= UINT64_MAX - rss))
            f->before_teardown = rss - (uint64_t)d_rss;
        break;
    default:
        break;
    }
}

static int fixture_at(const rm_field *at)
{
    if (val_eq(at, "setup_start") || val_eq(at, "setup:start"))
        return 1;
    if (val_eq(at, "setup") || val_eq(at, "setup_end") || val_eq(at, "setup:end"))
        return 2;
    if (val_eq(at, "teardown_start") || val_eq(at, "teardown:start"))
        return 3;
    if (val_eq(at, "teardown") || val_eq(at, "teardown_end") || val_eq(at, "teardown:end"))
        return 4;
    return 0;
}

/* ---- records ---- */

/* Kinds a test process writes itself (the plugin and the crash handlers). */
static int own_kind(const char *kind)
{
    return strcmp(kind, "test") == 0 || strcmp(kind, "fixture") == 0 || strcmp(kind, "mark") == 0 ||
           strcmp(kind, "gasp") == 0 || strcmp(kind, "dump") == 0;
}

/* FNV-1a over a record's keys and values: tells a copy from another record
   written in the same microsecond. */
static uint64_t rec_hash(const rm_rec *r)
{
    uint64_t h = 14695981039346656037ULL;
    unsigned i;
    size_t k;
    for (i = 0; i < r->n_fields; i++) {
        const rm_field *f = &r->f[i];
        for (k = 0; f->key[k]; k++)
            h = (h ^ (unsigned char)f->key[k]) * 1099511628211ULL;
        h = (h ^ '=') * 1099511628211ULL;
        for (k = 0; k < f->val_len; k++)
            h = (h ^ (unsigned char)f->val[k]) * 1099511628211ULL;
        h = (h ^ ' ') * 1099511628211ULL;
    }
    return h;
}

static void record(rm_run *run, int src, uint64_t line, const rm_rec *r)
{
    rm_source *S = &run->src[src];
    const rm_field *f_test = rm_rec_get(r, "test"), *f_worker = rm_rec_get(r, "worker");
    const rm_field *f_ts = rm_rec_get(r, "ts"), *f;
    int64_t t = r->has_gh_ts ? r->gh_ts_usec : 0, pid = 0;
    uint64_t rss = get_u64(r, "rss"), hwm = get_u64(r, "hwm"), avail = get_u64(r, "mem_avail");
    uint64_t total = get_u64(r, "mem_total"), thr = get_u64(r, "thr"), cg = get_u64(r, "cg_use");
    uint64_t cg_lim = get_u64(r, "cg_lim"), cg_oom = get_u64(r, "cg_oom"), u;
    int pi = -1, ti = -1, is_legacy = r->type == RM_PARSE_LEGACY, stale = 0;
    const char *kind = r->kind;
    /* the plugin's interval peaks; at a test's start they belong to the
     * interval before it, so only rss counts there */
    if (strcmp(kind, "test") == 0 && val_eq(rm_rec_get(r, "at"), "start")) {
        hwm = RM_UNSET;
    } else {
        uint64_t pk = get_u64(r, "peak"), tp = get_u64(r, "test_peak");
        if (pk != RM_UNSET && (hwm == RM_UNSET || pk > hwm))
            hwm = pk;
        if (tp != RM_UNSET && (hwm == RM_UNSET || tp > hwm))
            hwm = tp;
    }

    if (is_legacy)
        S->legacy++;
    else
        S->records++;
    if (r->flags & RM_REC_UNKNOWN_VERSION && !S->unknown_version) {
        S->unknown_version = r->version;
        S->unknown_version_line = line;
    }
    if (r->flags & (RM_REC_MALFORMED | RM_REC_OVERFLOW)) {
        if (!S->malformed_records)
            S->first_malformed_line = line;
        S->malformed_records++;
    }
    if (r->flags & RM_REC_INCOMPLETE)
        S->incomplete_records++;
    if (f_ts) {
        int64_t v;
        if (rm_parse_utc(f_ts->val, f_ts->val_len, &v) == f_ts->val_len)
            t = v;
    }
    see_time(run, t);
    if (rm_rec_i64(r, "pid", &pid) != 0)
        pid = 0;
    if (total != RM_UNSET)
        run->mem_total = total;
    see_avail(run, src, line, t, avail);
    if (cg_lim != RM_UNSET)
        run->cg_lim = cg_lim;
    if (cg != RM_UNSET && cg > run->cg_max)
        run->cg_max = cg;
    if (thr != RM_UNSET && thr > run->max_threads)
        run->max_threads = thr;
    if (cg_oom != RM_UNSET && strcmp(kind, "verdict") == 0)
        run->cg_oom_run = cg_oom; /* the verdict counts the run's kills, after the last sample */
    if (cg_oom != RM_UNSET && strcmp(kind, "verdict") != 0) { /* verdict: a difference */
        if (run->cg_oom_first == RM_UNSET)
            run->cg_oom_first = cg_oom;
        if (run->cg_oom_last != RM_UNSET && cg_oom > run->cg_oom_last)
            evidence_str(run, RM_E_OOM, src, line, t, (long)cg_oom,
                         "the cgroup's OOM-kill counter rose");
        run->cg_oom_last = cg_oom;
    }

    if (strcmp(kind, "sample") == 0 || strcmp(kind, "echo") == 0 || strcmp(kind, "head") == 0) {
        uint64_t tree = get_u64(r, "tree_rss");
        if (kind[0] != 'h')
            run->samples++;
        timeline_add(run, t, avail, tree, cg, -1);
        if (kind[0] != 'h') /* echo lines list tree members too (job log alone) */
            tree_add(run, r, t);
        return;
    }
    if (strcmp(kind, "verdict") == 0) {
        uint64_t oom = get_u64(r, "oom");
        int64_t ex;
        if ((u = get_u64(r, "tree_hwm")) != RM_UNSET)
            run->tree_hwm = u;
        f = rm_rec_get(r, "signal");
        if (f && !val_eq(f, "0") && !val_eq(f, "none")) {
            long sig = signal_number(f->val, f->val_len);
            if (sig > 0)
                evidence_str(run, signal_evidence(sig), src, line, t, sig,
                             "the sampler saw the command die by a signal");
        } else if (rm_rec_i64(r, "exit", &ex) == 0) {
            evidence_str(run, RM_E_EXIT_CODE, src, line, t, (long)ex,
                         "the sampler saw the command exit");
        }
        if (oom != RM_UNSET && oom > 0)
            evidence_str(run, RM_E_OOM, src, line, t, (long)oom,
                         "the sampler counted OOM kills during the run");
        return;
    }

    /* records that describe a process */
    if (pid || f_worker || is_legacy)
        pi =
            proc_index(run, pid, f_worker ? f_worker->val : NULL, f_worker ? f_worker->val_len : 0);
    /* The plugin writes each record to the job log and to its record file,
       and files are read one after the other: a record of the process's own
       (test, fixture, mark, gasp, dump) older than the newest one read, or
       the same again, is such a copy (or the fuller original of one). Its
       values count, but it must not move the process's current test, phase,
       fixture, mark or last values back. The sampler's events carry the
       command's pid: not checked. */
    if (pi >= 0 && !is_legacy && t && own_kind(kind)) {
        rm_proc *P = &run->procs[pi];
        uint64_t h = rec_hash(r);
        if (t < P->rec_t || (t == P->rec_t && h == P->rec_hash)) {
            stale = 1;
        } else {
            P->rec_t = t;
            P->rec_hash = h;
        }
    }
    if (f_test && f_test->val_len)
        ti = test_index(run, f_test->val, f_test->val_len, 1);
    else if (pi >= 0)
        ti = run->procs[pi].cur_test;
    if (pi >= 0 && stale) {
        rm_proc *P = &run->procs[pi];
        if (rss != RM_UNSET && rss > P->peak_rss)
            P->peak_rss = rss;
        if (hwm != RM_UNSET && hwm > P->peak_rss)
            P->peak_rss = hwm;
        if (ti >= 0 && run->tests[ti].proc < 0)
            run->tests[ti].proc = pi;
    } else if (pi >= 0) {
        rm_proc *P = &run->procs[pi];
        if (t)
            P->last_t = t;
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
        if (ti >= 0 && ti == P->cur_test && strcmp(kind, "test") != 0) {
            int ph = phase_code(rm_rec_get(r, "phase"));
            if (ph && ph != P->phase) {
                P->phase = ph;
                P->at_end = 0;
            }
        }
    }
    timeline_add(run, t, avail, rss, cg, pi);
    if (ti >= 0) {
        if (run->tests[ti].src == 0 && run->tests[ti].line == 0) {
            run->tests[ti].src = src;
            run->tests[ti].line = line;
        }
        if (run->tests[ti].t_start == 0)
            run->tests[ti].t_start = t;
        test_values(run, ti, rss, hwm, avail, cg, run->mem_total);
    }

    if (is_legacy) {
        const rm_field *ctx = rm_rec_get(r, "context"), *lc = rm_rec_get(r, "lifecycle");
        rm_proc *P = pi >= 0 ? &run->procs[pi] : NULL;
        if (val_eq(ctx, "test") && ti >= 0 && P) {
            if (val_eq(lc, "start")) {
                P->cur_test = ti;
                P->phase = 2;
                P->at_end = 0;
            } else if (val_eq(lc, "end")) {
                test_end(run, ti, rss, t);
            }
        } else if (val_eq(ctx, "fixture")) {
            const rm_field *fk = rm_rec_get(r, "kind"), *fs = rm_rec_get(r, "scope");
            const rm_field *fkey = rm_rec_get(r, "key");
            fixture_event(run, P, fk ? fk->val : "?", fk ? fk->val_len : 1, fs ? fs->val : "",
                          fs ? fs->val_len : 0, fkey ? fkey->val : "", fkey ? fkey->val_len : 0,
                          fixture_at(lc), rss, 0, 0);
        } else if (P) {
            P->has_mark = 1;
            copy_str(P->mark_label, sizeof(P->mark_label), r->label, r->label_len);
            P->mark_src = src;
            P->mark_line = line;
            P->mark_t = t;
        }
        return;
    }

    if (strcmp(kind, "test") == 0) {
        const rm_field *at = rm_rec_get(r, "at"), *oc = rm_rec_get(r, "outcome");
        int ph = phase_code(rm_rec_get(r, "phase"));
        rm_proc *P = pi >= 0 && !stale ? &run->procs[pi] : NULL;
        if (ti < 0)
            return;
        if (!oc)
            oc = rm_rec_get(r, "result");
        if (oc && oc->val_len && !(val_eq(oc, "passed") && run->tests[ti].outcome[0]))
            copy_str(run->tests[ti].outcome, sizeof(run->tests[ti].outcome), oc->val, oc->val_len);
        if (ph && !stale)
            run->tests[ti].phase = ph;
        if (val_eq(at, "start")) {
            if (P) {
                P->cur_test = ti;
                P->phase = ph;
                P->at_end = 0;
                if (ph == 1)
                    P->fixture_active = 0;
            }
            if (ph == 1 && rss != RM_UNSET)
                run->tests[ti].rss_start = rss;
        } else if (val_eq(at, "end")) {
            if (P) {
                P->cur_test = ti;
                P->phase = ph;
                P->at_end = 1;
            }
            if (ph == 3 || ph == 0)
                test_end(run, ti, rss, t);
        }
        return;
    }
    if (strcmp(kind, "fixture") == 0) {
        const rm_field *nm = rm_rec_get(r, "name"), *sc = rm_rec_get(r, "scope");
        const rm_field *pa = rm_rec_get(r, "param");
        int64_t d = 0;
        int has_d = rm_rec_i64(r, "d_rss", &d) == 0;
        if (!nm)
            return;
        uint64_t held;
        rm_fixture *f;
        fixture_event(run, pi >= 0 && !stale ? &run->procs[pi] : NULL, nm->val, nm->val_len,
                      sc ? sc->val : "", sc ? sc->val_len : 0, pa ? pa->val : "",
                      pa ? pa->val_len : 0, fixture_at(rm_rec_get(r, "at")), rss, d, has_d);
        if (rm_rec_u64(r, "held", &held) == 0 &&
            (f = fixture_get(run, nm->val, nm->val_len, sc ? sc->val : "", sc ? sc->val_len : 0,
                             pa ? pa->val : "", pa ? pa->val_len : 0)))
            f->held_tests = held;
        return;
    }
    if (strcmp(kind, "mark") == 0) {
        if (pi >= 0 && !stale) {
            rm_proc *P = &run->procs[pi];
            const rm_field *lb = rm_rec_get(r, "label");
            P->has_mark = 1;
            copy_str(P->mark_label, sizeof(P->mark_label), lb ? lb->val : "", lb ? lb->val_len : 0);
            P->mark_src = src;
            P->mark_line = line;
            P->mark_t = t;
        }
        return;
    }
    if (strcmp(kind, "gasp") == 0) {
        f = rm_rec_get(r, "signal");
        if (f) {
            long sig = signal_number(f->val, f->val_len);
            char msg[96];
            int k = snprintf(msg, sizeof(msg), "last gasp before signal %ld", sig);
            if (k < 0 || (size_t)k >= sizeof(msg))
                msg[0] = '\0';
            if (sig > 0)
                evidence_str(run, signal_evidence(sig), src, line, t, sig, msg);
        }
        return;
    }
    if (strcmp(kind, "event") == 0) {
        const rm_field *what = rm_rec_get(r, "what");
        if (val_eq(what, "oom_kill"))
            evidence_str(run, RM_E_OOM, src, line, t, 1, "OOM-kill event");
        else if (val_eq(what, "signal") && (f = rm_rec_get(r, "signal")) != NULL) {
            long sig = signal_number(f->val, f->val_len);
            if (sig == 15 || sig == 1)
                evidence_str(run, RM_E_SHUTDOWN, src, line, t, sig,
                             "the sampler received SIGTERM (runner shutdown or cancel)");
            else if (sig == 2)
                evidence_str(run, RM_E_CANCELLED, src, line, t, sig,
                             "the sampler received SIGINT (cancel)");
        } else if (val_eq(what, "low_memory"))
            evidence_str(run, RM_E_LOW_MEMORY, src, line, t, 0, "low_memory event (sampler)");
        else if (val_eq(what, "sigterm"))
            evidence_str(run, RM_E_SHUTDOWN, src, line, t, 15, "SIGTERM received (sigterm event)");
        else if (val_eq(what, "memory_error")) {
            evidence_str(run, RM_E_MEMORY_ERROR, src, line, t, 0, "MemoryError event");
            /* the first one (by time) names the test and phase that raised it */
            if (ti >= 0 && (!run->memerr_from_record || (t && t < run->memerr_t))) {
                run->memerr_test = ti;
                run->memerr_proc = pi;
                run->memerr_phase = phase_code(rm_rec_get(r, "phase"));
                run->memerr_from_record = 1;
                run->memerr_t = t;
                run->memerr_rss = rss;
                run->memerr_avail = avail;
                run->memerr_thr = thr;
            }
        } else if (val_eq(what, "hang"))
            evidence_str(run, RM_E_HANG, src, line, t, 0, "hang event (watchdog)");
        else if (val_eq(what, "threads") && thr != RM_UNSET)
            evidence_str(run, RM_E_THREAD_DUMP, src, line, t, (long)thr, "threads event");
        return;
    }
    if (strcmp(kind, "dump") == 0) {
        if (val_eq(rm_rec_get(r, "at"), "begin"))
            evidence_str(run, RM_E_THREAD_DUMP, src, line, t, (long)(thr == RM_UNSET ? 0 : thr),
                         "thread dump");
        return;
    }
    if (strcmp(kind, "summary") == 0) {
        int64_t v;
        run->has_summary = 1;
        if (rm_rec_i64(r, "passed", &v) == 0)
            run->n_passed = (long)v;
        if (rm_rec_i64(r, "failed", &v) == 0)
            run->n_failed = (long)v;
        if (rm_rec_i64(r, "errors", &v) == 0 || rm_rec_i64(r, "error", &v) == 0)
            run->n_errors = (long)v;
        if (rm_rec_i64(r, "skipped", &v) == 0)
            run->n_skipped = (long)v;
        evidence_str(run, RM_E_PYTEST_SUMMARY, src, line, t,
                     (run->n_failed > 0 ? run->n_failed : 0) +
                         (run->n_errors > 0 ? run->n_errors : 0),
                     "session summary record");
        return;
    }
}

/* ---- plain text: job logs, pytest output, bash-loop logs ---- */

/* Parses "15Gi", "3.2G", "970Mi", "0B", "512K" as bytes; RM_UNSET if not. */
static uint64_t human_size(const char *s, size_t n)
{
    double v = 0, scale = 1;
    size_t i = 0;
    int frac = 0, any = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            any = 1;
            if (frac) {
                scale /= 10;
                v += (c - '0') * scale;
            } else {
                v = v * 10 + (c - '0');
            }
        } else if (c == '.' && !frac) {
            frac = 1;
        } else {
            break;
        }
    }
    if (!any)
        return RM_UNSET;
    if (i < n) {
        static const char units[] = "BKMGTP";
        const char *u = memchr(units, s[i], 6);
        if (!u)
            return RM_UNSET;
        for (int k = 0; k < (int)(u - units); k++)
            v *= 1024;
        i++;
        if (i < n && s[i] == 'i')
            i++;
        if (i < n && s[i] == 'B')
            i++;
    }
    if (i != n || v > 1.8e19)
        return RM_UNSET;
    return (uint64_t)(v + 0.5);
}

/* Splits a line into at most max words; returns the count. */
static int words(const char *s, size_t n, const char **w, size_t *wl, int max)
{
    int k = 0;
    size_t i = 0;
    while (i < n && k < max) {
        size_t b;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= n)
            break;
        b = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        w[k] = s + b;
        wl[k] = i - b;
        k++;
    }
    return k;
}

static void bash_line(rm_run *run, int src, uint64_t line, int64_t t, const char *s, size_t n)
{
    const char *w[8];
    size_t wl[8];
    int k;
    run->ts.bash_block--;
    if (starts(s, n, "Filesystem")) {
        run->ts.bash_section = 1;
        return;
    }
    k = words(s, n, w, wl, 8);
    if (k >= 6 && wl[0] == 5 && memcmp(w[0], "total", 5) == 0) {
        run->ts.bash_section = 2;
        return;
    }
    if (k >= 2 && wl[0] == 3 && memcmp(w[0], "PID", 3) == 0) {
        run->ts.bash_section = 3;
        return;
    }
    if (run->ts.bash_section == 2 && k >= 7 && wl[0] == 4 && memcmp(w[0], "Mem:", 4) == 0) {
        uint64_t total = human_size(w[1], wl[1]), avail = human_size(w[6], wl[6]);
        if (total != RM_UNSET && run->mem_total == RM_UNSET)
            run->mem_total = total;
        if (avail != RM_UNSET) {
            run->bash_samples++;
            see_avail(run, src, line, run->ts.bash_t ? run->ts.bash_t : t, avail);
            timeline_add(run, run->ts.bash_t ? run->ts.bash_t : t, avail, RM_UNSET, RM_UNSET, -1);
        }
    }
}

/* Records a pytest outcome or start for a test named in plain output. */
static void text_test(rm_run *run, int src, uint64_t line, const char *id, size_t n,
                      const char *outcome, size_t on)
{
    int ti = test_index(run, id, n, 1);
    rm_test *T;
    if (ti < 0)
        return;
    T = &run->tests[ti];
    if (T->src == 0 && T->line == 0) {
        T->src = src;
        T->line = line;
    }
    run->src[src].pytest_lines++;
    if (on) {
        char oc[12];
        size_t i;
        copy_str(oc, sizeof(oc), outcome, on);
        for (i = 0; oc[i]; i++)
            oc[i] = (char)(oc[i] >= 'A' && oc[i] <= 'Z' ? oc[i] - 'A' + 'a' : oc[i]);
        if (!T->outcome[0] || strcmp(oc, "passed") != 0)
            memcpy(T->outcome, oc, sizeof(oc));
        T->text_done = 1;
        if (run->text_test == ti)
            run->text_test = -1;
    } else {
        run->text_test = ti;
        run->text_test_src = src;
        run->text_test_line = line;
    }
}

static size_t outcome_word(const char *s, size_t n)
{
    static const char *words_[] = {"PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"};
    size_t i;
    for (i = 0; i < sizeof(words_) / sizeof(words_[0]); i++) {
        size_t l = strlen(words_[i]);
        if (n >= l && memcmp(s, words_[i], l) == 0 && (n == l || s[l] == ' '))
            return l;
    }
    return 0;
}

/* "tests/x.py::test_a PASSED [ 10%]", "tests/x.py::test_a " (started), and
 * "[gw0] [ 10%] PASSED tests/x.py::test_a". Returns 1 when handled. */
static int pytest_line(rm_run *run, int src, uint64_t line, const char *s, size_t n)
{
    const char *sp, *cc;
    size_t idl, i;
    if (n > 4 && s[0] == '[' && s[1] == 'g' && s[2] == 'w') {
        /* xdist: [gwN] [ NN%] OUTCOME id */
        const char *w[4];
        size_t wl[4];
        int k = words(s, n, w, wl, 4), o;
        if (k < 3)
            return 0;
        o = (k >= 4 && w[1][0] == '[') ? 3 : 2;
        if (o == 3 && wl[1] == 1) /* "[ 10%]" splits into "[" and "10%]" */
            o = 3;
        for (i = 1; (int)i < k; i++)
            if (outcome_word(w[i], wl[i]) == wl[i])
                break;
        if ((int)i + 1 >= k)
            return 0;
        cc = memmem(w[i + 1], (size_t)(s + n - w[i + 1]), "::", 2);
        if (!cc)
            return 0;
        sp = memchr(w[i + 1], ' ', (size_t)(s + n - w[i + 1]));
        idl = sp ? (size_t)(sp - w[i + 1]) : (size_t)(s + n - w[i + 1]);
        (void)o;
        text_test(run, src, line, w[i + 1], idl, w[i], wl[i]);
        return 1;
    }
    /* the first word must hold "::" and look like a path */
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_' ||
          s[0] == '.' || s[0] == '/'))
        return 0;
    sp = memchr(s, ' ', n);
    idl = sp ? (size_t)(sp - s) : n;
    cc = memmem(s, idl, "::", 2);
    if (!cc || cc == s || idl < 4 || memmem(s, (size_t)(cc - s), ".py", 3) == NULL)
        return 0;
    if (!sp) {
        /* a bare node id: pytest --collect-only, not a result */
        return 0;
    }
    i = idl;
    while (i < n && s[i] == ' ')
        i++;
    {
        size_t ow = outcome_word(s + i, n - i);
        if (ow) {
            text_test(run, src, line, s, idl, s + i, ow);
            return 1;
        }
    }
    /* "id " with nothing or other output after it: the test started */
    text_test(run, src, line, s, idl, NULL, 0);
    return 0; /* the rest of the line may hold more evidence */
}

/* "=== 3 passed, 1 failed, 2 errors in 2.01s ===" */
static int pytest_summary(rm_run *run, int src, uint64_t line, int64_t t, const char *s, size_t n)
{
    const char *in;
    size_t b = 0, e = n, i;
    long num = -1, passed = -1, failed = -1, errors = -1, skipped = -1;
    while (b < e && (s[b] == '=' || s[b] == ' '))
        b++;
    while (e > b && (s[e - 1] == '=' || s[e - 1] == ' '))
        e--;
    if (b < 3 || e - b < 6)
        return 0;
    in = memmem(s + b, e - b, " in ", 4);
    if (!in || !(in[4] >= '0' && in[4] <= '9'))
        return 0;
    for (i = b; i < (size_t)(in - s); i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            num = (num < 0 ? 0 : num) * 10 + (c - '0');
            if (num > 100000000)
                num = 100000000;
        } else if (c == ' ' && num >= 0) {
            const char *w = s + i + 1;
            size_t rest = (size_t)(in - w);
            if (starts(w, rest, "passed"))
                passed = num;
            else if (starts(w, rest, "failed"))
                failed = num;
            else if (starts(w, rest, "error"))
                errors = num;
            else if (starts(w, rest, "skipped"))
                skipped = num;
            num = -1;
        } else {
            num = -1;
        }
    }
    if (passed < 0 && failed < 0 && errors < 0 && skipped < 0 &&
        !memmem(s + b, e - b, "no tests ran", 12) && !memmem(s + b, e - b, "deselected", 10))
        return 0;
    run->has_summary = 1;
    run->n_passed = passed < 0 ? 0 : passed;
    run->n_failed = failed < 0 ? 0 : failed;
    run->n_errors = errors < 0 ? 0 : errors;
    run->n_skipped = skipped < 0 ? 0 : skipped;
    evidence(run, RM_E_PYTEST_SUMMARY, src, line, t, run->n_failed + run->n_errors, s, n);
    return 1;
}

/* Scans a shell's job-control message: "...: line 3:  4321 Killed  python". */
static void shell_message(rm_run *run, int src, uint64_t line, int64_t t, const char *s, size_t n)
{
    size_t m = n < SHELL_SCAN_MAX ? n : SHELL_SCAN_MAX;
    if (!memmem(s, m, ": line ", 7))
        return;
    if (memmem(s, m, " Killed", 7))
        evidence(run, RM_E_KILLED, src, line, t, 9, s, n);
    else if (memmem(s, m, " Segmentation fault", 19))
        evidence(run, RM_E_SEGV, src, line, t, 11, s, n);
    else if (memmem(s, m, " Terminated", 11))
        evidence(run, RM_E_TERMINATED, src, line, t, 15, s, n);
    else if (memmem(s, m, " Aborted", 8))
        evidence(run, RM_E_FATAL_SIGNAL, src, line, t, 6, s, n);
}

static long parse_long(const char *s, size_t n)
{
    long v = 0;
    size_t i;
    for (i = 0; i < n && s[i] >= '0' && s[i] <= '9' && i < 9; i++)
        v = v * 10 + (s[i] - '0');
    return i ? v : -1;
}

static void text(rm_run *run, int src, uint64_t line, int64_t t, const char *s, size_t n)
{
    size_t i;
    /* skip leading ANSI sequences */
    while (n >= 2 && s[0] == 0x1b && s[1] == '[') {
        for (i = 2; i < n && i < 32 && !(s[i] >= '@' && s[i] <= '~'); i++)
            ;
        if (i >= n)
            return;
        s += i + 1;
        n -= i + 1;
    }
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n == 0)
        return;
    if (run->ts.bash_block > 0 && s[0] != '=') {
        bash_line(run, src, line, t, s, n);
        return;
    }
    if (run->ts.after_current > 0) {
        run->ts.after_current--;
        /* the innermost frame, or better the innermost frame of a test */
        if (starts(s, n, "  File ") && !run->ts.frame_is_test) {
            int is_test = memmem(s, n, " in test", 8) != NULL;
            if (!run->crash_frame[0] || is_test)
                snip(run->crash_frame, sizeof(run->crash_frame), s + 2, n - 2);
            run->ts.frame_is_test = is_test;
        }
    }
    switch (s[0]) {
    case '#':
        if (starts(s, n, "##[error]")) {
            const char *m = s + 9;
            size_t mn = n - 9;
            if (starts(m, mn, "Process completed with exit code "))
                evidence(run, RM_E_EXIT_CODE, src, line, t, parse_long(m + 33, mn - 33), s, n);
            else if (starts(m, mn, "The runner has received a shutdown signal"))
                evidence(run, RM_E_SHUTDOWN, src, line, t, 15, s, n);
            else if (starts(m, mn, "The operation was canceled"))
                evidence(run, RM_E_CANCELLED, src, line, t, 0, s, n);
            else if (memmem(m, mn, "exceeded the maximum execution time", 35))
                evidence(run, RM_E_HANG, src, line, t, 0, s, n);
        }
        return;
    case '=':
        if (n > 20 && starts(s, n, "==== [") && memmem(s, n, "] Resource Usage", 16)) {
            int64_t bt = 0;
            size_t k = rm_parse_utc(s + 6, n - 6, &bt);
            run->ts.bash_block = BASH_BLOCK_LINES;
            run->ts.bash_section = 0;
            run->ts.bash_t = k ? bt : t;
            run->src[src].bash_blocks++;
            see_time(run, run->ts.bash_t);
            return;
        }
        if (n > 10 && s[n - 1] == '=')
            pytest_summary(run, src, line, t, s, n);
        return;
    case 'F':
        if (starts(s, n, "Fatal Python error: ")) {
            const char *m = s + 20;
            size_t mn = n - 20;
            run->ts.in_dump = 1;
            run->ts.dump_threads = 0;
            if (starts(m, mn, "Segmentation fault"))
                evidence(run, RM_E_SEGV, src, line, t, 11, s, n);
            else if (starts(m, mn, "Aborted"))
                evidence(run, RM_E_FATAL_SIGNAL, src, line, t, 6, s, n);
            else if (starts(m, mn, "Bus error"))
                evidence(run, RM_E_FATAL_SIGNAL, src, line, t, 7, s, n);
            else if (starts(m, mn, "Floating point exception"))
                evidence(run, RM_E_FATAL_SIGNAL, src, line, t, 8, s, n);
            else if (starts(m, mn, "Illegal instruction"))
                evidence(run, RM_E_FATAL_SIGNAL, src, line, t, 4, s, n);
            return;
        }
        if (starts(s, n, "FAILED ") || starts(s, n, "ERROR ")) {
            size_t b = s[0] == 'F' ? 7 : 6;
            const char *sp = memchr(s + b, ' ', n - b);
            size_t idl = sp ? (size_t)(sp - s) - b : n - b;
            if (memmem(s + b, idl, "::", 2)) {
                text_test(run, src, line, s + b, idl, s, b - 1);
                /* "FAILED id - MemoryError: ...": the test, not the phase;
                   the plugin's event, when there is one, says more */
                if (s[0] == 'F' && !run->memerr_from_record && run->memerr_test < 0 &&
                    memmem(s + b + idl, n - b - idl, "MemoryError", 11)) {
                    int ti = test_index(run, s + b, idl, 0);
                    if (ti >= 0) {
                        run->memerr_test = ti;
                        run->memerr_proc = run->tests[ti].proc;
                        run->memerr_t = t;
                    }
                }
            }
            return;
        }
        if (starts(s, n, "Failed: Timeout"))
            evidence(run, RM_E_HANG, src, line, t, 0, s, n);
        break;
    case 'T':
        if (starts(s, n, "Thread 0x")) {
            run->ts.dump_threads++;
            if (run->ts.dump_threads > run->max_dump_threads)
                run->max_dump_threads = run->ts.dump_threads;
            return;
        }
        if (starts(s, n, "Timeout (") || starts(s, n, "Timeout:")) {
            evidence(run, RM_E_HANG, src, line, t, 0, s, n);
            run->ts.dump_threads = 0;
            return;
        }
        break;
    case 'C':
        if (starts(s, n, "Current thread 0x")) {
            run->ts.dump_threads++;
            if (run->ts.dump_threads > run->max_dump_threads)
                run->max_dump_threads = run->ts.dump_threads;
            run->ts.after_current = 40;
            run->ts.frame_is_test = 0;
            run->crash_frame[0] = '\0';
            return;
        }
        break;
    case 'S':
        if (starts(s, n, "Segmentation fault")) {
            evidence(run, RM_E_SEGV, src, line, t, 11, s, n);
            return;
        }
        break;
    case 'K':
        if (n == 6 && memcmp(s, "Killed", 6) == 0) {
            evidence(run, RM_E_KILLED, src, line, t, 9, s, n);
            return;
        }
        break;
    case 'E':
        if (starts(s, n, "Error: Process completed with exit code ")) {
            evidence(run, RM_E_EXIT_CODE, src, line, t, parse_long(s + 40, n - 40), s, n);
            return;
        }
        break;
    case '+':
        if (n > 10 && memmem(s, n < 80 ? n : 80, " Timeout ", 9)) {
            evidence(run, RM_E_HANG, src, line, t, 0, s, n);
            return;
        }
        break;
    case '/':
    case 'b':
    case 's':
        shell_message(run, src, line, t, s, n);
        break;
    default:
        break;
    }
    /* MemoryError as the first word: "MemoryError", "E   MemoryError: ...",
     * "numpy.core._exceptions._ArrayMemoryError: Unable to allocate" */
    {
        size_t b = 0, e;
        if (s[0] == 'E' && n > 1 && s[1] == ' ')
            b = 1;
        while (b < n && b < FIRST_WORD_MAX && s[b] == ' ')
            b++;
        for (e = b; e < n && e - b < FIRST_WORD_MAX && s[e] != ' ' && s[e] != ':'; e++)
            ;
        if (e - b >= 11 && memcmp(s + e - 11, "MemoryError", 11) == 0 &&
            (e == n || s[e] == ':' || s[e] == ' ')) {
            evidence(run, RM_E_MEMORY_ERROR, src, line, t, 0, s, n);
            return;
        }
    }
    pytest_line(run, src, line, s, n);
}

void rm_run_line(rm_run *run, int src, uint64_t lineno, const char *line, size_t len,
                 unsigned flags)
{
    rm_source *S = &run->src[src];
    int type;
    size_t body, end, i;
    int64_t t;
    run->lines_total++;
    S->lines = lineno;
    run->last_src = src;
    run->last_line = lineno;
    if (flags & RM_READ_CUT) {
        if (!S->cut_lines)
            S->first_cut_line = lineno;
        S->cut_lines++;
    }
    type = rm_parse_line(line, len, &g_rec);
    body = g_rec.body_off;
    t = g_rec.has_gh_ts ? g_rec.gh_ts_usec : 0;
    if (g_rec.has_gh_ts) {
        S->gh_lines++;
        see_time(run, t);
    }
    for (i = body; i < len; i++)
        if (line[i] != ' ' && line[i] != '\r' && line[i] != '\t')
            break;
    if (i < len)
        run->lines_nonblank++;
    end = type == RM_PARSE_NONE ? len : g_rec.tag_off;
    if (end > body)
        text(run, src, lineno, t, line + body, end - body);
    if (type != RM_PARSE_NONE)
        record(run, src, lineno, &g_rec);
}

int rm_run_ingest(rm_run *run, const char *path)
{
    static rm_reader rd; /* 256 KiB: one reader at a time */
    int si = rm_run_add_source(run, path), r;
    rm_source *S;
    const char *line;
    size_t len;
    unsigned flags;
    if (si < 0)
        return -1;
    S = &run->src[si];
    if (rm_reader_open(&rd, path) != 0) {
        int k = snprintf(S->error, sizeof(S->error), "%s", rd.err);
        (void)k;
        return -1;
    }
    S->gz = rd.gz;
    memset(&run->ts, 0, sizeof(run->ts));
    while ((r = rm_reader_next(&rd, &line, &len, &flags)) == 1)
        rm_run_line(run, si, rd.lineno, line, len, flags);
    S = &run->src[si];
    S->bytes = rd.bytes;
    S->gz_cut = rd.gz_cut;
    if (r < 0) {
        int k = snprintf(S->error, sizeof(S->error), "%.200s (after line %llu)", rd.err,
                         (unsigned long long)rd.lineno);
        (void)k;
    }
    rm_reader_close(&rd);
    return r < 0 ? -1 : 0;
}
