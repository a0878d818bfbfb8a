/* SPDX-License-Identifier: MIT */
/* ingest.c: reads inputs line by line. What does not depend on order (samples,
 * the sampler's verdict, evidence found in text) is folded at once; what does
 * (the records of tests, fixtures, marks, crashes, and the tests pytest names)
 * is kept as items that fold.c sorts by time and folds after every input is
 * read, so the report is the same for any order or split of the inputs. */
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
/* Bytes kept of the arena that holds the items' lines (4 GiB: offsets are 32-bit). */
#define ARENA_MAX 0xffffffffu

/* Most a record's ts may differ from its GitHub line's time. */
#define TS_SKEW_USEC (600ll * 1000000)
/* A GitHub job runs 6 hours at most (hosted runners): a record stamped
 * longer before its line, or TS_SKEW_USEC after it, was not written then. */
#define REPLAY_USEC (6ll * 3600 * 1000000)

/* One parse buffer per process: records are parsed one at a time. */
static rm_rec g_rec;

/* ---- keyed hashing (SipHash-1-3) -------------------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

/* The 8 bytes at p as a little-endian word: one load where the machine is
 * little-endian (the hash is printed in cut ids, so it must not depend on
 * the machine). */
static uint64_t load_le64(const unsigned char *p)
{
    uint64_t m;
    memcpy(&m, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    m = __builtin_bswap64(m);
#endif
    return m;
}

/* SipHash-1-3 of s under the key (k0, k1): with a random key, ids crafted to
 * collide in the tables cannot be made without knowing it. */
uint64_t rm_siphash(uint64_t k0, uint64_t k1, const void *s, size_t n)
{
    const unsigned char *p = s;
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    uint64_t m, b = (uint64_t)n << 56;
    size_t i, k;
    for (i = 0; i + 8 <= n; i += 8) {
        m = load_le64(p + i);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (k = 0; i + k < n; k++)
        b |= (uint64_t)p[i + k] << (8 * k);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

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
    run->id_slots = calloc(run->n_slots, sizeof(int));
    if (!run->slots || !run->id_slots) {
        free(run->slots);
        free(run->id_slots);
        free(run);
        return NULL;
    }
    run->seed = rm_random_seed();
    run->mem_total = run->min_avail = run->cg_lim = RM_UNSET;
    run->cg_max = 0;
    run->cg_oom_min = run->cg_oom_max = run->cg_oom_run = RM_UNSET;
    run->oom_anon_rss = RM_UNSET;
    run->boundary_test = run->boundary_proc = run->culprit_test = run->runner_up = -1;
    run->memerr_test = run->memerr_proc = run->crashed_test = -1;
    run->memerr_rss = run->memerr_avail = run->memerr_thr = RM_UNSET;
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
    free(run->id_slots);
    free(run->fix);
    free(run->fix_slots);
    free(run->fopen);
    free(run->src);
    free(run->tree);
    free(run->tl);
    free(run->evl);
    free(run->items);
    free(run->arena);
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

int rm_run_evidence(rm_run *run, rm_evidence_kind kind, int src, uint64_t line, int64_t t,
                    long long pid, long value, const char *text, size_t tlen)
{
    rm_evidence *e;
    if (run->n_evl >= RM_REPORT_MAX_EVIDENCE) {
        run->evl_dropped++;
        return -1;
    }
    if (run->n_evl == run->cap_evl) {
        int cap = run->cap_evl ? run->cap_evl * 2 : 64;
        rm_evidence *ne = realloc(run->evl, sizeof(*ne) * (size_t)cap);
        if (!ne) {
            run->evl_dropped++;
            return -1;
        }
        run->evl = ne;
        run->cap_evl = cap;
    }
    e = &run->evl[run->n_evl];
    memset(e, 0, sizeof(*e));
    e->kind = (int)kind;
    e->src = src;
    e->line = line;
    e->t = t;
    e->pid = pid;
    e->value = value;
    snip(e->text, sizeof(e->text), text, tlen);
    return run->n_evl++;
}

static int evidence(rm_run *run, rm_evidence_kind kind, int src, uint64_t line, int64_t t,
                    long value, const char *text, size_t tlen)
{
    return rm_run_evidence(run, kind, src, line, t, 0, value, text, tlen);
}

static int evidence_str(rm_run *run, rm_evidence_kind kind, int src, uint64_t line, int64_t t,
                        long long pid, long value, const char *text)
{
    return rm_run_evidence(run, kind, src, line, t, pid, value, text, strlen(text));
}

int rm_val_eq(const rm_field *f, const char *lit)
{
    return f && f->val_len == strlen(lit) && memcmp(f->val, lit, f->val_len) == 0;
}

uint64_t rm_get_u64(const rm_rec *r, const char *key)
{
    uint64_t v;
    return rm_rec_u64(r, key, &v) == 0 ? v : RM_UNSET;
}

long rm_signal_number(const char *v, size_t n)
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

rm_evidence_kind rm_signal_evidence(long sig)
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

/* ---- readings (order-free: kept, then sorted by the analysis) ---- */

static void *grow(void *p, int *cap, size_t size, int min)
{
    int c = *cap ? *cap * 2 : min;
    void *np;
    if (c > RM_REPORT_READINGS)
        c = RM_REPORT_READINGS;
    if (c <= *cap)
        return NULL;
    np = realloc(p, size * (size_t)c);
    if (np)
        *cap = c;
    return np;
}

void rm_timeline_add(rm_run *run, int64_t t, uint64_t avail, uint64_t rss, uint64_t cg, int proc)
{
    rm_point *p;
    if (t == 0 || (avail == RM_UNSET && rss == RM_UNSET && cg == RM_UNSET))
        return;
    if (run->n_tl == run->cap_tl) {
        rm_point *np = grow(run->tl, &run->cap_tl, sizeof(*np), 1024);
        if (!np) {
            run->tl_dropped++;
            return;
        }
        run->tl = np;
    }
    p = &run->tl[run->n_tl++];
    p->t = t;
    p->avail = avail;
    p->rss = rss;
    p->cg = cg;
    p->proc = proc;
}

/* Keeps the RSS of each process of the sampler's tree (treeI_pid, treeI_rss)
 * at this sample. */
static void tree_add(rm_run *run, const rm_rec *r, int64_t t)
{
    int i;
    if (t == 0)
        return;
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
        if (rm_rec_u64(r, kr, &rss) != 0 || pid <= 0 || rss == 0)
            continue; /* RSS 0: a zombie, already dead (no reading of its memory) */
        if (run->n_tree == run->cap_tree) {
            rm_tree_point *nt = grow(run->tree, &run->cap_tree, sizeof(*nt), 1024);
            if (!nt) {
                run->tree_dropped++;
                continue;
            }
            run->tree = nt;
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

/* The lowest available memory: ties go to the earlier reading, then to the
 * input whose path sorts first, so the order of the inputs does not matter. */
void rm_see_avail(rm_run *run, int src, uint64_t line, int64_t t, uint64_t avail)
{
    int better;
    if (avail == RM_UNSET)
        return;
    better = run->min_avail == RM_UNSET || avail < run->min_avail;
    if (!better && avail == run->min_avail) {
        int c = strcmp(run->src[src].path, run->src[run->min_avail_src].path);
        better = t < run->min_avail_t ||
                 (t == run->min_avail_t && (c < 0 || (c == 0 && line < run->min_avail_line)));
    }
    if (better) {
        run->min_avail = avail;
        run->min_avail_src = src;
        run->min_avail_line = line;
        run->min_avail_t = t;
    }
}

/* Keeps the newest RM_LAST_READS whole-system readings (newest first). */
static void see_sysread(rm_run *run, const rm_sysread *x)
{
    int i, at;
    if (x->t == 0)
        return;
    for (i = 0; i < run->n_last; i++)
        if (run->last[i].t == x->t) {
            /* a copy of the same reading (the echo of a sample, a record in the
               job log and in its file): cite the input whose path sorts first */
            rm_sysread *y = &run->last[i];
            int c = strcmp(run->src[x->src].path, run->src[y->src].path);
            if (c < 0 || (c == 0 && x->line < y->line)) {
                y->src = x->src;
                y->line = x->line;
            }
            return;
        }
    for (at = 0; at < run->n_last && run->last[at].t > x->t; at++)
        ;
    if (at >= RM_LAST_READS)
        return;
    if (run->n_last < RM_LAST_READS)
        run->n_last++;
    memmove(&run->last[at + 1], &run->last[at],
            sizeof(run->last[0]) * (size_t)(run->n_last - 1 - at));
    run->last[at] = *x;
}

/* ---- items: lines whose effect depends on order ---- */

/* FNV-1a, unkeyed: an item's identity must not depend on the run's seed, since
 * it orders items that share a time. */
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull;
}

int rm_item_push(rm_run *run, int type, int64_t t, long long pid, uint32_t rank, uint64_t ident,
                 int src, uint64_t line, const char *data, size_t len)
{
    rm_item *it;
    if (run->n_items >= RM_REPORT_MAX_ITEMS || run->arena_len + len > ARENA_MAX) {
        run->items_dropped++;
        return -1;
    }
    if (run->n_items == run->cap_items) {
        size_t cap = run->cap_items ? run->cap_items * 2 : 1024;
        rm_item *ni = realloc(run->items, sizeof(*ni) * cap);
        if (!ni) {
            run->items_dropped++;
            return -1;
        }
        run->items = ni;
        run->cap_items = cap;
    }
    if (run->arena_len + len > run->arena_cap) {
        size_t cap = run->arena_cap ? run->arena_cap : 65536;
        char *na;
        while (cap < run->arena_len + len)
            cap *= 2;
        if (cap > ARENA_MAX)
            cap = ARENA_MAX;
        na = realloc(run->arena, cap);
        if (!na) {
            run->items_dropped++;
            return -1;
        }
        run->arena = na;
        run->arena_cap = cap;
    }
    memcpy(run->arena + run->arena_len, data, len);
    it = &run->items[run->n_items++];
    it->t = t;
    it->pid = pid;
    it->rank = rank;
    it->ident = ident;
    it->off = (uint32_t)run->arena_len;
    it->len = (uint32_t)len;
    it->src = src;
    it->line = line;
    it->type = type;
    it->named = 0;
    run->arena_len += len;
    return 0;
}

int rm_phase_code(const rm_field *f)
{
    if (rm_val_eq(f, "setup"))
        return 1;
    if (rm_val_eq(f, "call"))
        return 2;
    if (rm_val_eq(f, "teardown"))
        return 3;
    return 0;
}

/* Kinds whose effect depends on the order they are read in. */
static int ordered_kind(const rm_rec *r)
{
    const char *k = r->kind;
    return r->type == RM_PARSE_LEGACY || strcmp(k, "test") == 0 || strcmp(k, "fixture") == 0 ||
           strcmp(k, "mark") == 0 || strcmp(k, "gasp") == 0 || strcmp(k, "dump") == 0 ||
           strcmp(k, "event") == 0;
}

/* Keeps a record for the fold. Its identity is what a copy of it shares with
 * the original (the plugin writes a record both to the job log and to its
 * file, the job log's copy maybe shorter): kind, time, process and the fields
 * that name what it is about. */
static void keep_record(rm_run *run, int src, uint64_t line, const rm_rec *r, int64_t t)
{
    static const char *const keys[] = {"test",      "phase",   "at",     "name",   "scope",
                                       "param",     "what",    "label",  "signal", "source",
                                       "lifecycle", "context", "nodeid", "key",    "attempt"};
    static rm_keyset fold_keys, ident_keys;
    static char pack[RM_PARSE_VALUES_MAX + RM_PARSE_MAX_FIELDS * 3 + RM_PARSE_KEY_MAX * 2 + 16];
    uint64_t h = fnv(14695981039346656037ull, r->kind, strlen(r->kind));
    int64_t pid = 0;
    uint32_t rank = 0;
    size_t i, n;
    if (rm_rec_i64(r, "pid", &pid) != 0)
        pid = 0;
    h = fnv(h, r->label, r->label_len);
    if (!ident_keys.n)
        rm_keyset_init(&ident_keys, keys, sizeof(keys) / sizeof(keys[0]));
    for (i = 0; i < ident_keys.n; i++) {
        uint32_t tag = ident_keys.tags[i];
        const rm_field *f = rm_rec_find(r, keys[i], tag);
        if (f)
            h = fnv(fnv(h, keys[i], tag & 0xff), f->val, f->val_len);
    }
    if (strcmp(r->kind, "test") == 0)
        rank = 1 + 2 * (uint32_t)rm_phase_code(rm_rec_get(r, "phase")) +
               (rm_val_eq(rm_rec_get(r, "at"), "end") ? 1u : 0u);
    /* the fields the fold reads, parsed: the fold does not parse it again */
    if (!fold_keys.n)
        rm_keyset_init(&fold_keys, rm_fold_keys, rm_fold_n_keys);
    n = rm_rec_pack(r, &fold_keys, pack, sizeof(pack));
    if (n == 0) {
        run->items_dropped++;
        return;
    }
    if (rm_item_push(run, RM_I_RECORD, t, (long long)pid, rank, h, src, line, pack, n) == 0)
        run->items[run->n_items - 1].named =
            rm_rec_get(r, "test") || rm_rec_get(r, "name") || rm_rec_get(r, "label");
}

/* Keeps a test named by pytest's output: "OUTCOME\tWORKER\tID" in the arena. */
static void keep_text_test(rm_run *run, int type, int src, uint64_t line, int64_t t,
                           const char *outcome, size_t on, const char *worker, size_t wn,
                           const char *id, size_t idn)
{
    char buf[RM_ID_MAX * 2 + 64];
    size_t k = 0, i;
    if (on > 16)
        on = 16;
    if (wn > 15)
        wn = 15;
    if (idn > sizeof(buf) - 40)
        idn = sizeof(buf) - 40; /* ids this long are cut again, the same way */
    for (i = 0; i < on; i++)
        buf[k++] =
            (char)(outcome[i] >= 'A' && outcome[i] <= 'Z' ? outcome[i] - 'A' + 'a' : outcome[i]);
    buf[k++] = '\t';
    memcpy(buf + k, worker, wn);
    k += wn;
    buf[k++] = '\t';
    memcpy(buf + k, id, idn);
    k += idn;
    /* rank: lines of one time (a burst GitHub stamped at once, a log with
       whole seconds or none) keep the order they were printed in */
    rm_item_push(run, type, t, 0, (uint32_t)line,
                 fnv(fnv(14695981039346656037ull, buf, k), "text", 4), src, line, buf, k);
    run->src[src].pytest_lines++;
}

/* ---- records read at once ---- */

/* How long after the newest record of its input a record without a ts of
 * its own may be stamped by GitHub and still be that writer's next line. */
#define UNSTAMPED_LAG_USEC 1000000

/* The record's own time: ts=, else the newest record time of its input or
 * GitHub's prefix (see below), else the newest time of its input. */
static int64_t record_time(const rm_rec *r, const rm_source *S, int stamped, int64_t v)
{
    if (stamped) {
        /* in a GitHub log a record's own time is within minutes of its
           line's: one far from it was printed by something else (a test) */
        if (r->has_gh_ts && (v - r->gh_ts_usec > TS_SKEW_USEC || r->gh_ts_usec - v > TS_SKEW_USEC))
            return r->gh_ts_usec;
        return v;
    }
    /* no time of its own. The plugin's short records (a call's start) are
       the next line of the writer whose newest record came just before:
       that record's time keeps their order, whatever GitHub's stamp says.
       A legacy helper line or a record whose ts is not a time has no such
       writer: GitHub's stamp is its time when it is well after that record
       (a legacy line minutes after the sampler's last echo) */
    if (r->has_gh_ts && (!S->rec_clock || ((r->type == RM_PARSE_LEGACY || rm_rec_get(r, "ts")) &&
                                           r->gh_ts_usec > S->rec_clock + UNSTAMPED_LAG_USEC)))
        return r->gh_ts_usec;
    if (S->rec_clock)
        return S->rec_clock;
    return S->clock;
}

static void sampler_verdict(rm_run *run, int src, uint64_t line, const rm_rec *r, int64_t t)
{
    const rm_field *f = rm_rec_get(r, "signal"), *ev = rm_rec_get(r, "oom_evidence");
    int64_t ex, pid = 0;
    uint64_t u;
    if (rm_rec_i64(r, "pid", &pid) != 0)
        pid = 0;
    run->has_sampler_verdict = 1;
    {
        int64_t op;
        if (rm_rec_i64(r, "oom_pid", &op) == 0 && op > 0) {
            run->oom_pid = op;
            run->oom_anon_rss = rm_get_u64(r, "oom_anon_rss");
        }
    }
    if ((u = rm_get_u64(r, "tree_hwm")) != RM_UNSET && u > run->tree_hwm)
        run->tree_hwm = u;
    if ((u = rm_get_u64(r, "root_hwm")) != RM_UNSET && u > run->root_hwm)
        run->root_hwm = u;
    if ((u = rm_get_u64(r, "proc_hwm")) != RM_UNSET && u > run->proc_hwm)
        run->proc_hwm = u;
    if ((u = rm_get_u64(r, "cg_oom")) != RM_UNSET)
        run->cg_oom_run = u; /* the verdict counts the run's kills, after the last sample */
    if (f && !rm_val_eq(f, "0") && !rm_val_eq(f, "none")) {
        long sig = rm_signal_number(f->val, f->val_len);
        if (sig > 0)
            evidence_str(run, rm_signal_evidence(sig), src, line, t, pid, sig,
                         "the sampler saw the command die by a signal");
    } else if (rm_rec_i64(r, "exit", &ex) == 0) {
        evidence_str(run, RM_E_EXIT_CODE, src, line, t, pid, (long)ex,
                     "the sampler saw the command exit");
    }
    /* oom=1 is proof only for what proves: the cgroup's counter or a kernel
       line of the tree (older samplers also wrote it for a SIGKILL near a
       limit, which is support) */
    if (ev && (memmem(ev->val, ev->val_len, "cgroup_counter", 14) ||
               memmem(ev->val, ev->val_len, "kernel_log", 10))) {
        /* the newest kill's time, when the sampler said how long before
           its end it read it (oom_age): with the job log alone, the only
           time an old kill (a worker's, the run went on) has */
        uint64_t age;
        int64_t kt = t;
        int k;
        if (t && rm_rec_usec(r, "oom_age", &age) == 0 && age < (uint64_t)t)
            kt = t - (int64_t)age;
        k = evidence_str(run, RM_E_OOM, src, line, kt, pid, 1,
                         memmem(ev->val, ev->val_len, "cgroup_counter", 14)
                             ? "the sampler saw the cgroup's OOM-kill counter rise"
                             : "the sampler read a kernel OOM kill of the watched tree");
        if (k >= 0) {
            run->evl[k].proof = 1;
            /* one kill in the run: the kernel's line named its victim */
            if (run->oom_pid && rm_get_u64(r, "cg_oom") == 1) {
                run->evl[k].pid = run->oom_pid;
                run->evl[k].victim = 1;
            }
        }
    } else if (rm_val_eq(rm_rec_get(r, "oom_contra"), "ample_memory")) {
        evidence_str(run, RM_E_AMPLE_MEMORY, src, line, t, pid, 0,
                     "the sampler's last samples had memory to spare (page cache left out)");
    } else if ((ev && memmem(ev->val, ev->val_len, "sigkill_near_limit", 18)) ||
               rm_val_eq(rm_rec_get(r, "oom_support"), "sigkill_near_limit")) {
        evidence_str(run, RM_E_LOW_MEMORY, src, line, t, pid, 0,
                     "the sampler saw a SIGKILL near a memory limit");
    }
}

/* The plugin's head of the process that prints pytest's lines (main or
 * controller): its rootdir and invocation directory, absolute, when they
 * differ. The first such head counts. */
static void id_base(rm_run *run, const rm_rec *r)
{
    const rm_field *root = rm_rec_get(r, "rootdir"), *cwd = rm_rec_get(r, "invocation_dir");
    const rm_field *role = rm_rec_get(r, "role");
    if (run->id_root[0] || !root || !cwd || !role || rm_val_eq(role, "worker"))
        return;
    if (root->val_len == 0 || root->val[0] != '/' || root->val_len >= sizeof(run->id_root) ||
        cwd->val_len == 0 || cwd->val[0] != '/' || cwd->val_len >= sizeof(run->id_cwd) ||
        memchr(root->val, '\0', root->val_len) || memchr(cwd->val, '\0', cwd->val_len))
        return;
    memcpy(run->id_root, root->val, root->val_len);
    run->id_root[root->val_len] = '\0';
    memcpy(run->id_cwd, cwd->val, cwd->val_len);
    run->id_cwd[cwd->val_len] = '\0';
}

/* A sample, an echo line or a head: whole-system readings. */
static void reading(rm_run *run, int src, uint64_t line, const rm_rec *r, int64_t t)
{
    uint64_t avail = rm_get_u64(r, "mem_avail"), total = rm_get_u64(r, "mem_total");
    uint64_t cg = rm_get_u64(r, "cg_use"), cg_lim = rm_get_u64(r, "cg_lim"),
             cg_oom = rm_get_u64(r, "cg_oom");
    uint64_t tree = rm_get_u64(r, "tree_rss"), thr = rm_get_u64(r, "thr"), u;
    rm_sysread x;
    if (r->kind[0] != 'h') /* echo lines list tree members too (job log alone) */
        run->samples++;
    if (total != RM_UNSET && t >= run->mem_total_t) {
        run->mem_total = total;
        run->mem_total_t = t;
    }
    if (cg_lim != RM_UNSET && t >= run->cg_lim_t) {
        run->cg_lim = cg_lim;
        run->cg_lim_t = t;
    }
    if (cg != RM_UNSET && cg > run->cg_max)
        run->cg_max = cg;
    if (thr != RM_UNSET && thr > run->max_threads)
        run->max_threads = thr;
    if ((u = rm_get_u64(r, "tree_hwm")) != RM_UNSET && u > run->tree_hwm)
        run->tree_hwm = u;
    if (cg_oom != RM_UNSET) {
        if (t > run->cg_oom_t && strcmp(r->kind, "head") != 0)
            run->cg_oom_t = t; /* a head reads it before the tests: not watching */
        if (run->cg_oom_min == RM_UNSET || cg_oom < run->cg_oom_min)
            run->cg_oom_min = cg_oom;
        if (run->cg_oom_max == RM_UNSET || cg_oom > run->cg_oom_max)
            run->cg_oom_max = cg_oom;
    }
    rm_see_avail(run, src, line, t, avail);
    rm_timeline_add(run, t, avail, tree, cg, -1);
    if (r->kind[0] == 'h') {
        /* the sampler's head (the plugin's has pytest=): the run's start */
        int64_t hp;
        if (!rm_rec_get(r, "pytest") && t && (!run->sampler_t0 || t < run->sampler_t0))
            run->sampler_t0 = t;
        /* the plugin's head names a pytest process (main, controller,
           worker), though it may write no other record */
        if (rm_rec_get(r, "pytest") && rm_rec_i64(r, "pid", &hp) == 0 && hp > 0 &&
            run->n_head_pids < (int)(sizeof(run->head_pids) / sizeof(run->head_pids[0])))
            run->head_pids[run->n_head_pids++] = hp;
        id_base(run, r);
        return;
    }
    tree_add(run, r, t);
    memset(&x, 0, sizeof(x));
    x.t = t;
    x.total = total;
    x.avail = avail;
    x.cg_use = cg;
    x.cg_lim = cg_lim;
    x.cg_file = rm_get_u64(r, "cg_inactive_file");
    if (x.cg_file == RM_UNSET)
        x.cg_file = rm_get_u64(r, "cg_file");
    x.src = src;
    x.line = line;
    see_sysread(run, &x);
}

/* The plugin's summary record: the newest summary gives pytest's counts.
 * A record without them (pytest's terminal plugin off, or a plugin that
 * does not write them) says the session ended, not how: its counts stay
 * unknown (-1), never zero, and its exit status, when it has one, tells
 * failures from none. */
static void summary_record(rm_run *run, int src, uint64_t line, const rm_rec *r, int64_t t)
{
    int64_t v, st;
    long p, f, e, sk, bad;
    /* the newest summary counts; at the same time, pytest's own line */
    if (run->has_summary &&
        (t < run->summary_t || (t == run->summary_t && !run->summary_from_record)))
        return;
    p = rm_rec_i64(r, "passed", &v) == 0 ? (long)v : -1;
    f = rm_rec_i64(r, "failed", &v) == 0 ? (long)v : -1;
    e = (rm_rec_i64(r, "errors", &v) == 0 || rm_rec_i64(r, "error", &v) == 0) ? (long)v : -1;
    sk = rm_rec_i64(r, "skipped", &v) == 0 ? (long)v : -1;
    run->has_summary = 1;
    run->summary_from_record = 1;
    run->summary_t = t;
    if (p < 0 && f < 0 && e < 0 && sk < 0) {
        run->n_passed = run->n_failed = run->n_errors = run->n_skipped = run->n_other = -1;
    } else {
        run->n_passed = p < 0 ? 0 : p;
        run->n_failed = f < 0 ? 0 : f;
        run->n_errors = e < 0 ? 0 : e;
        run->n_skipped = sk < 0 ? 0 : sk;
        /* xfailed and xpassed: unknown unless the record says */
        run->n_other = rm_rec_i64(r, "xfailed", &v) == 0 ? (long)v : -1;
        if (run->n_other >= 0 && rm_rec_i64(r, "xpassed", &v) == 0)
            run->n_other += (long)v;
    }
    /* the evidence's value: failures and errors; -1 when unknown */
    bad = run->n_failed >= 0 ? run->n_failed + run->n_errors : -1;
    if (rm_rec_i64(r, "exitstatus", &st) == 0 && bad <= 0)
        bad = st != 0 ? 1 : 0; /* 1 failed, 2 interrupted, 3 internal, 4 usage, 5 no tests */
    evidence_str(run, RM_E_PYTEST_SUMMARY, src, line, t, 0, bad, "session summary record");
}

static void record(rm_run *run, int src, uint64_t line, const rm_rec *r)
{
    rm_source *S = &run->src[src];
    const rm_field *f_ts = rm_rec_get(r, "ts");
    int64_t v = 0;
    int stamped = f_ts && rm_parse_utc(f_ts->val, f_ts->val_len, &v) == f_ts->val_len;
    int64_t t = record_time(r, S, stamped, v);
    const char *kind = r->kind;
    if (r->type == RM_PARSE_LEGACY)
        S->legacy++;
    else
        S->records++;
    if (r->flags & RM_REC_UNKNOWN_VERSION && !S->unknown_version) {
        S->unknown_version = r->version;
        S->unknown_version_line = line;
    }
    if ((r->flags & (RM_REC_MALFORMED | RM_REC_OVERFLOW)) || (f_ts && !stamped)) {
        /* a ts that is not a time is a malformed field too */
        if (!S->malformed_records)
            S->first_malformed_line = line;
        S->malformed_records++;
    }
    if (r->flags & RM_REC_INCOMPLETE)
        S->incomplete_records++;
    /* every writer of these kinds stamps them: one without a ts is text that
       looks like a record (a test's message pytest printed at a line start) */
    if (!f_ts && (!strcmp(kind, "verdict") || !strcmp(kind, "gasp") || !strcmp(kind, "dump") ||
                  !strcmp(kind, "event") || !strcmp(kind, "summary") || !strcmp(kind, "head"))) {
        S->unstamped++;
        return;
    }
    /* a copy of an older log printed into this one (a test that prints a
       saved log): its records are another run's, whatever they say */
    if (stamped && r->has_gh_ts &&
        (r->gh_ts_usec - v > REPLAY_USEC || v - r->gh_ts_usec > TS_SKEW_USEC)) {
        if (!S->replayed)
            S->first_replayed_line = line;
        S->replayed++;
        return;
    }
    see_time(run, t);
    if (t > S->clock)
        S->clock = t;
    if (f_ts && t > S->rec_clock)
        S->rec_clock = t;
    if (strcmp(kind, "sample") == 0 || strcmp(kind, "echo") == 0 || strcmp(kind, "head") == 0) {
        reading(run, src, line, r, t);
        return;
    }
    if (strcmp(kind, "dump") == 0 && rm_val_eq(rm_rec_get(r, "at"), "begin"))
        run->ts.dump_threads = 0; /* the plugin's dump: its threads follow */
    if (strcmp(kind, "verdict") == 0) {
        sampler_verdict(run, src, line, r, t);
        return;
    }
    if (strcmp(kind, "summary") == 0) {
        summary_record(run, src, line, r, t);
        return;
    }
    if (ordered_kind(r)) {
        uint64_t avail = rm_get_u64(r, "mem_avail"), cg = rm_get_u64(r, "cg_use");
        keep_record(run, src, line, r, t);
        if (avail != RM_UNSET || cg != RM_UNSET) { /* a test process's view of memory */
            rm_sysread x;
            memset(&x, 0, sizeof(x));
            x.t = t;
            x.total = rm_get_u64(r, "mem_total");
            x.avail = avail;
            x.cg_use = cg;
            x.cg_lim = rm_get_u64(r, "cg_lim");
            x.cg_file = rm_get_u64(r, "cg_inactive_file");
            x.src = src;
            x.line = line;
            see_sysread(run, &x);
        }
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
            rm_see_avail(run, src, line, run->ts.bash_t ? run->ts.bash_t : t, avail);
            rm_timeline_add(run, run->ts.bash_t ? run->ts.bash_t : t, avail, RM_UNSET, RM_UNSET,
                            -1);
            {
                rm_sysread x;
                memset(&x, 0, sizeof(x));
                x.t = run->ts.bash_t ? run->ts.bash_t : t;
                x.total = total;
                x.avail = avail;
                x.cg_use = x.cg_lim = x.cg_file = RM_UNSET;
                x.src = src;
                x.line = line;
                see_sysread(run, &x);
            }
        }
    }
}

/* Keeps a pytest outcome (or a start: outcome NULL) of a test named in plain
 * output, for the fold. */
static void text_test(rm_run *run, int src, uint64_t line, int64_t t, const char *id, size_t n,
                      const char *outcome, size_t on, const char *worker, size_t wn)
{
    keep_text_test(run, on ? RM_I_TEXT_DONE : RM_I_TEXT_START, src, line, t, outcome, on, worker,
                   wn, id, n);
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

/* The length of the node id at s: its first word; but when that word opens
 * a parametrization it does not close (an id with a space, "test_x[a b]",
 * "test_f[[resmon/1] x]"), up to the "]" that closes it before a space or
 * the end; else the first word. */
static size_t id_len(const char *s, size_t n)
{
    const char *sp = memchr(s, ' ', n);
    size_t w = sp ? (size_t)(sp - s) : n, lim = n < 4096 ? n : 4096, i;
    int depth = 0;
    for (i = 0; i < w; i++)
        depth += s[i] == '[' ? 1 : s[i] == ']' ? -1 : 0;
    if (!sp || depth <= 0)
        return w;
    for (i = w; i < lim; i++) {
        depth += s[i] == '[' ? 1 : s[i] == ']' ? -1 : 0;
        if (depth == 0 && s[i] == ']' && (i + 1 == n || s[i + 1] == ' '))
            return i + 1;
    }
    return w;
}

/* "tests/x.py::test_a PASSED [ 10%]", "tests/x.py::test_a " (started), and
 * "[gw0] [ 10%] PASSED tests/x.py::test_a". Returns 1 when handled. */
static int pytest_line(rm_run *run, int src, uint64_t line, int64_t t, const char *s, size_t n)
{
    const char *sp, *cc;
    size_t idl, i;
    if (n > 4 && s[0] == '[' && s[1] == 'g' && s[2] == 'w') {
        /* xdist: "[gwN] [ NN%] OUTCOME id" (the counter padded with spaces:
           "[  5%]", "[ 98%]", "[100%]") or "[gwN] OUTCOME id" */
        const char *wend = memchr(s, ']', n < 24 ? n : 24), *out;
        size_t p, ow;
        if (!wend)
            return 0;
        p = (size_t)(wend - s) + 1;
        while (p < n && s[p] == ' ')
            p++;
        if (p < n && s[p] == '[') {
            const char *pend = memchr(s + p, ']', n - p < 8 ? n - p : 8);
            if (!pend || pend[-1] != '%')
                return 0;
            p = (size_t)(pend - s) + 1;
            while (p < n && s[p] == ' ')
                p++;
        }
        out = s + p;
        ow = outcome_word(out, n - p);
        if (!ow)
            return 0;
        p += ow;
        while (p < n && s[p] == ' ')
            p++;
        idl = id_len(s + p, n - p);
        if (idl < 4 || !memmem(s + p, idl, "::", 2))
            return 0;
        text_test(run, src, line, t, s + p, idl, out, ow, s + 1, (size_t)(wend - s) - 1);
        return 1;
    }
    /* "PASSED id": -rA's summary, or xdist's "[gwN] [ NN%] " cut from its
       outcome by another process's line */
    {
        size_t ow = outcome_word(s, n), p = ow;
        if (ow) {
            while (p < n && s[p] == ' ')
                p++;
            idl = id_len(s + p, n - p);
            cc = idl >= 4 ? memmem(s + p, idl, "::", 2) : NULL;
            if (!cc || !memmem(s + p, (size_t)(cc - (s + p)), ".py", 3))
                return 0;
            text_test(run, src, line, t, s + p, idl, s, ow, "", 0);
            return 1;
        }
    }
    /* the first word must hold "::" and look like a path */
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_' ||
          s[0] == '.' || s[0] == '/'))
        return 0;
    sp = memchr(s, ' ', n);
    idl = id_len(s, n);
    cc = memmem(s, idl, "::", 2);
    if (!cc || cc == s || idl < 4 || memmem(s, (size_t)(cc - s), ".py", 3) == NULL)
        return 0;
    if (!sp || idl == n) {
        /* a bare node id: pytest --collect-only, not a result */
        return 0;
    }
    i = idl;
    while (i < n && s[i] == ' ')
        i++;
    {
        size_t ow = outcome_word(s + i, n - i);
        if (ow) {
            text_test(run, src, line, t, s, idl, s + i, ow, "", 0);
            return 1;
        }
    }
    /* "id " with nothing or other output after it: the test started */
    text_test(run, src, line, t, s, idl, NULL, 0, "", 0);
    return 0; /* the rest of the line may hold more evidence */
}

/* "=== 3 passed, 1 failed, 2 errors in 2.01s ===" */
static int pytest_summary(rm_run *run, int src, uint64_t line, int64_t t, const char *s, size_t n,
                          int bare)
{
    const char *in;
    size_t b = 0, e = n, i;
    long num = -1, passed = -1, failed = -1, errors = -1, skipped = -1, other = 0;
    while (b < e && (s[b] == '=' || s[b] == ' '))
        b++;
    while (e > b && (s[e - 1] == '=' || s[e - 1] == ' '))
        e--;
    if ((!bare && b < 3) || e - b < 6)
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
            else if (starts(w, rest, "xfailed") || starts(w, rest, "xpassed"))
                other += num;
            num = -1;
        } else {
            num = -1;
        }
    }
    if (passed < 0 && failed < 0 && errors < 0 && skipped < 0 &&
        !memmem(s + b, e - b, "no tests ran", 12) && !memmem(s + b, e - b, "deselected", 10))
        return 0;
    evidence(run, RM_E_PYTEST_SUMMARY, src, line, t,
             (failed < 0 ? 0 : failed) + (errors < 0 ? 0 : errors), s, n);
    /* the newest summary counts; at the same time, pytest's own line */
    if (run->has_summary && t < run->summary_t)
        return 1;
    run->has_summary = 1;
    run->summary_from_record = 0;
    run->summary_t = t;
    run->n_passed = passed < 0 ? 0 : passed;
    run->n_failed = failed < 0 ? 0 : failed;
    run->n_errors = errors < 0 ? 0 : errors;
    run->n_skipped = skipped < 0 ? 0 : skipped;
    run->n_other = other;
    return 1;
}

/* Words of pytest's summary line, as "N word" parts. */
static int summary_word(const char *w, size_t n)
{
    static const char *const words[] = {"passed",  "failed",   "error",   "errors",
                                        "skipped", "xfailed",  "xpassed", "deselected",
                                        "warning", "warnings", "rerun",   "reruns"};
    size_t i;
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
            return 1;
    return 0;
}

/* pytest -q's summary line has no "=" around it: "3 passed, 1 failed in
 * 2.01s (0:00:02)", "no tests ran in 0.01s". Program output can print
 * anything, so the whole line must have that shape: "N word" parts from
 * pytest's own words, then " in " and a duration, then the end of the line
 * or pytest's "(H:MM:SS)". */
static int pytest_summary_bare(rm_run *run, int src, uint64_t line, int64_t t, const char *s,
                               size_t n)
{
    const char *in = NULL;
    size_t i = 0, k;
    if (starts(s, n, "no tests ran in ")) {
        in = s + 12;
    } else {
        for (;;) {
            size_t d = i, w;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == d || i - d > 9 || i >= n || s[i] != ' ')
                return 0;
            w = ++i;
            while (i < n && s[i] >= 'a' && s[i] <= 'z')
                i++;
            if (!summary_word(s + w, i - w))
                return 0;
            if (starts(s + i, n - i, ", ")) {
                i += 2;
                continue;
            }
            if (!starts(s + i, n - i, " in "))
                return 0;
            in = s + i;
            break;
        }
    }
    k = (size_t)(in - s) + 4;
    i = k;
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
        i++;
    if (i == k || i >= n || s[i] != 's')
        return 0;
    i++;
    if (i < n && !(starts(s + i, n - i, " (") && s[n - 1] == ')' && n - i <= 16))
        return 0;
    return pytest_summary(run, src, line, t, s, n, 1);
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

/* An exit code: digits, or on Windows a negative NTSTATUS as GitHub prints
 * it ("-1073741819", an access violation) or its unsigned form
 * ("3221225477", read as the same negative number). -1 when not a 32-bit
 * number (and for -1 itself: unknown). */
static long parse_long(const char *s, size_t n)
{
    long long v = 0;
    size_t i = 0;
    int neg = n > 0 && s[0] == '-';
    for (i = neg; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (i - neg == 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (i == (size_t)neg || v > 4294967295LL)
        return -1;
    if (neg)
        v = -v;
    else if (v > 2147483647LL)
        v -= 4294967296LL; /* 0xC0000005 as Windows' signed status */
    return v < -2147483648LL ? -1 : (long)v;
}

/* A text line is no older than a record before it in its file, when that
 * record's ts is at most this far after the line's own stamp. */
#define TEXT_AFTER_RECORD_USEC (2ll * 1000000)

/* Bytes of a coloured line kept once its ANSI sequences are taken out. */
#define PLAIN_MAX 4096

/* Copies s without its ANSI CSI sequences (pytest --color=yes puts them
 * inside its summary line); returns the new length. */
static size_t strip_ansi(char *out, const char *s, size_t n)
{
    size_t i = 0, k = 0;
    while (i < n && k < PLAIN_MAX) {
        /* the run up to the next escape, copied at once */
        const char *e = memchr(s + i, 0x1b, n - i);
        size_t run = (e ? (size_t)(e - s) : n) - i;
        if (run > PLAIN_MAX - k)
            run = PLAIN_MAX - k;
        memcpy(out + k, s + i, run);
        k += run;
        i += run;
        if (i >= n || k >= PLAIN_MAX)
            break;
        if (i + 1 < n && s[i + 1] == '[') {
            for (i += 2; i < n && !(s[i] >= '@' && s[i] <= '~'); i++)
                ;
            i++;
        } else {
            out[k++] = s[i++];
        }
    }
    return k;
}

/* 1 when the first word of s (after spaces; it ends at a space or a colon,
 * within FIRST_WORD_MAX) is an exception name ending in "MemoryError":
 * "MemoryError", "MemoryError: ...", "numpy._core._exceptions._ArrayMemoryError: ...". */
static int memory_error_word(const char *s, size_t n)
{
    size_t b = 0, e;
    const char *sp, *co;
    while (b < n && b < FIRST_WORD_MAX && s[b] == ' ')
        b++;
    e = n - b < FIRST_WORD_MAX ? n : b + FIRST_WORD_MAX;
    if ((sp = memchr(s + b, ' ', e - b)) != NULL)
        e = (size_t)(sp - s);
    if ((co = memchr(s + b, ':', e - b)) != NULL)
        e = (size_t)(co - s);
    return e - b >= 11 && memcmp(s + e - 11, "MemoryError", 11) == 0 &&
           (e == n || s[e] == ':' || s[e] == ' ');
}

/* faulthandler's first line of a crash: "Fatal Python error: <what>" (POSIX)
 * or "Windows fatal exception: <what>" (Windows, where the exception codes
 * are read as the POSIX signal that means the same: an access violation or
 * a stack overflow is a SIGSEGV). A Windows code faulthandler shows only as
 * "code 0x..." (a COM error, a C++ exception) is often handled and the
 * process goes on: its dump is counted, nothing is claimed. */
typedef struct {
    const char *prefix, *what;
    rm_evidence_kind kind;
    int sig;
} crash_line;

static const crash_line crash_lines[] = {
    {"Fatal Python error: ", "Segmentation fault", RM_E_SEGV, 11},
    {"Fatal Python error: ", "Aborted", RM_E_FATAL_SIGNAL, 6},
    {"Fatal Python error: ", "Bus error", RM_E_FATAL_SIGNAL, 7},
    {"Fatal Python error: ", "Floating point exception", RM_E_FATAL_SIGNAL, 8},
    {"Fatal Python error: ", "Illegal instruction", RM_E_FATAL_SIGNAL, 4},
    {"Windows fatal exception: ", "access violation", RM_E_SEGV, 11},
    {"Windows fatal exception: ", "stack overflow", RM_E_SEGV, 11},
    {"Windows fatal exception: ", "illegal instruction", RM_E_FATAL_SIGNAL, 4},
    {"Windows fatal exception: ", "int divide by zero", RM_E_FATAL_SIGNAL, 8},
    {"Windows fatal exception: ", "float divide by zero", RM_E_FATAL_SIGNAL, 8},
    {"Windows fatal exception: ", "float overflow", RM_E_FATAL_SIGNAL, 8},
    {"Windows fatal exception: ", "page error", RM_E_FATAL_SIGNAL, 7},
};
#define N_CRASH_LINES (sizeof(crash_lines) / sizeof(crash_lines[0]))

/* A line that starts with faulthandler's prefix m ("Fatal Python error: ...",
 * "Windows fatal exception: ..."): a dump follows; a known crash is evidence. */
static void fatal_error(rm_run *run, int src, uint64_t line, int64_t t, const char *m, size_t mn,
                        const char *s, size_t n)
{
    size_t i;
    run->ts.in_dump = 1;
    run->ts.dump_threads = 0;
    for (i = 0; i < N_CRASH_LINES; i++) {
        size_t pl = strlen(crash_lines[i].prefix);
        if (starts(m, mn, crash_lines[i].prefix) && starts(m + pl, mn - pl, crash_lines[i].what)) {
            evidence(run, crash_lines[i].kind, src, line, t, crash_lines[i].sig, s, n);
            return;
        }
    }
}

/* The signal a tool that ran pytest says its command died of: tox ("py311:
 * exit -9 (2.30 seconds) ...", "  py311: FAIL code -9 (...)", tox 3's
 * "ERROR: InvocationError for command ... (exited with code -9)"), nox
 * ("nox > Command pytest ... failed with exit code -9"), make ("make: ***
 * [Makefile:12: test] Error 137"), Python ("subprocess.CalledProcessError:
 * Command '...' died with <Signals.SIGKILL: 9>."). A negative code is
 * Python's signal, 128 + N a shell's. The wrapper exits with a code of its
 * own (tox 1, make 2, timeout 124), so this line is what tells how pytest
 * ended, as the shell's "Killed" does. 0 when s is none of these. */
static long wrapper_signal(const char *s, size_t n)
{
    const char *p = NULL, *c;
    size_t b = 0, k;
    long code;
    while (b < n && b < 8 && s[b] == ' ')
        b++;
    k = n - b < 64 ? n - b : 64;
    if (starts(s, n, "make") && (p = memmem(s, n, "] Error ", 8)) != NULL)
        p += 8;
    else if (starts(s, n, "nox > Command ") && (p = memmem(s, n, " failed with exit code ", 23)))
        p += 23;
    else if (starts(s, n, "ERROR: InvocationError ") &&
             (p = memmem(s, n, "(exited with code ", 18)))
        p += 18;
    else if (starts(s, n, "subprocess.CalledProcessError: ") &&
             (p = memmem(s, n, "died with <Signals.SIG", 22)) &&
             (p = memchr(p, ':', n - (size_t)(p - s))))
        p += 2;
    else if ((c = memchr(s + b, ':', k)) != NULL) {
        size_t r = n - (size_t)(c - s);
        if (starts(c, r, ": exit -"))
            p = c + 7;
        else if (starts(c, r, ": FAIL code -"))
            p = c + 12;
    }
    if (!p || p >= s + n)
        return 0;
    code = parse_long(p, n - (size_t)(p - s));
    if (code == -1 && !((size_t)(p - s) + 1 < n && p[0] == '-' && p[1] == '1'))
        return 0; /* not a number (parse_long's -1) */
    if (code < 0 && code > -64)
        return -code;
    if (code > 128 && code < 128 + 64 && (p[-1] != '-'))
        return code - 128;
    if (code > 0 && code < 64 && (p[-1] == ' ' || p[-1] == '(') && memmem(s, n, "Signals.SIG", 11))
        return code;
    return 0;
}

/* The runner's own error, after its "##[error]" or "Error: " (skip bytes):
 * the step's exit code, a shutdown, a cancel, the job's time limit. 1 when
 * it was one. */
static int runner_error(rm_run *run, int src, uint64_t line, int64_t t, const char *s, size_t n,
                        size_t skip)
{
    const char *m = s + skip;
    size_t mn = n - skip;
    if (starts(m, mn, "Process completed with exit code "))
        evidence(run, RM_E_EXIT_CODE, src, line, t, parse_long(m + 33, mn - 33), s, n);
    else if (starts(m, mn, "The runner has received a shutdown signal"))
        evidence(run, RM_E_SHUTDOWN, src, line, t, 15, s, n);
    else if (starts(m, mn, "The operation was canceled"))
        evidence(run, RM_E_CANCELLED, src, line, t, 0, s, n);
    else if (memmem(m, mn, "exceeded the maximum execution time", 35))
        evidence(run, RM_E_HANG, src, line, t, 0, s, n);
    else
        return 0;
    return 1;
}

/* Where faulthandler's crash line starts when it is glued to the line pytest
 * left open: "id " (-v prints the id, then the outcome when the test ends)
 * or a run of progress letters (-q). 0 when it is not such a line: a known
 * crash's words must end the line, and anything else before it (a message
 * that quotes faulthandler) does not count. */
static size_t glued_fatal(const char *s, size_t n)
{
    size_t i, k, p = 0;
    char last = n ? s[n - 1] : 0;
    if (n < 28 || !(last >= 'a' && last <= 'z'))
        return 0; /* every crash's words end in a lowercase letter */
    for (i = 0; i < N_CRASH_LINES; i++) {
        size_t wl = strlen(crash_lines[i].what), pl = strlen(crash_lines[i].prefix);
        if (n > pl + wl && memcmp(s + n - wl, crash_lines[i].what, wl) == 0 &&
            memcmp(s + n - wl - pl, crash_lines[i].prefix, pl) == 0) {
            p = n - wl - pl;
            break;
        }
    }
    if (p == 0)
        return 0;
    for (k = 0; k < p && memchr(".FEsxX", s[k], 6); k++)
        ;
    if (k == p)
        return p; /* -q: "..F.Fatal Python error: ..." */
    if (p > 1 && s[p - 1] == ' ' && !memchr(s, ' ', p - 1) && memmem(s, p - 1, "::", 2))
        return p; /* -v: "tests/x.py::test_a Fatal Python error: ..." */
    return 0;
}

static void text(rm_run *run, int src, uint64_t line, int64_t t, const char *s, size_t n)
{
    static char plain[PLAIN_MAX];
    if (memchr(s, 0x1b, n)) {
        n = strip_ansi(plain, s, n);
        s = plain;
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
    if (!starts(s, n, "Fatal Python error: ") && !starts(s, n, "Windows fatal exception: ")) {
        size_t p = glued_fatal(s, n);
        if (p) {
            if (s[p - 1] == ' ')
                pytest_line(run, src, line, t, s, p); /* "id ": the test that was running */
            fatal_error(run, src, line, t, s + p, n - p, s, n);
            return;
        }
    }
    switch (s[0]) {
    case '!':
        /* pytest's "!!!! KeyboardInterrupt !!!!" / "!!!! Interrupted: ... !!!!" */
        if (n > 20 && s[1] == '!' &&
            (memmem(s, n, " KeyboardInterrupt ", 19) || memmem(s, n, " Interrupted: ", 14)))
            evidence(run, RM_E_CANCELLED, src, line, t, 2, s, n);
        return;
    case '#':
        if (starts(s, n, "##[error]"))
            runner_error(run, src, line, t, s, n, 9);
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
            pytest_summary(run, src, line, t, s, n, 0);
        return;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
    case 'n':
        if (n > 10 && pytest_summary_bare(run, src, line, t, s, n))
            return;
        break;
    case 'F':
        if (starts(s, n, "Fatal Python error: ")) {
            fatal_error(run, src, line, t, s, n, s, n);
            return;
        }
        if (starts(s, n, "FAILED ") || starts(s, n, "ERROR ")) {
            size_t b = s[0] == 'F' ? 7 : 6;
            size_t idl = id_len(s + b, n - b);
            if (memmem(s + b, idl, "::", 2)) {
                text_test(run, src, line, t, s + b, idl, s, b - 1, "", 0);
                /* "FAILED id - MemoryError: ...": the test, not the phase;
                   the plugin's event, when there is one, says more. Only
                   the exception's name counts, not the word in a message
                   ("Failed: DID NOT RAISE MemoryError") */
                const char *msg = s + b + idl + 3;
                size_t mn = n - b - idl - 3;
                if (s[0] == 'F' && n - b - idl > 3 && memcmp(msg - 3, " - ", 3) == 0) {
                    if (starts(msg, mn, "Failed: Timeout"))
                        evidence(run, RM_E_HANG, src, line, t, 0, s, n); /* pytest-timeout */
                    if (memory_error_word(msg, mn)) {
                        evidence(run, RM_E_MEMORY_ERROR, src, line, t, 0, s, n);
                        keep_text_test(run, RM_I_MEMERR, src, line, t, "", 0, "", 0, s + b, idl);
                    }
                }
            }
            return;
        }
        break;
    case 'W':
        if (starts(s, n, "Windows fatal exception: ")) {
            fatal_error(run, src, line, t, s, n, s, n);
            return;
        }
        break;
    case 'T':
        if (starts(s, n, "Thread 0x")) {
            run->ts.dump_threads++;
            if (run->ts.dump_threads > run->max_dump_threads)
                run->max_dump_threads = run->ts.dump_threads;
            return;
        }
        if (starts(s, n, "Timeout (") || starts(s, n, "Timeout:")) {
            /* faulthandler's dump_traceback_later (pytest's
               faulthandler_timeout): a slow test's stacks; it may go on
               and pass (HANG_DUMP_ONLY), so it proves no failure a hang */
            evidence(run, RM_E_HANG, src, line, t, HANG_DUMP_ONLY, s, n);
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
        /* the web page shows "##[error]" as "Error: " (a copied log) */
        if (starts(s, n, "Error: ") && runner_error(run, src, line, t, s, n, 7))
            return;
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
    if ((s[0] >= 'a' && s[0] <= 'z') || s[0] == ' ' || s[0] == 'E') {
        long sig = wrapper_signal(s, n);
        if (sig > 0) {
            evidence(run, rm_signal_evidence(sig), src, line, t, sig, s, n);
            return;
        }
    }
    /* an exception's line, bare or in pytest's traceback ("E       ..."):
     * pytest-timeout's signal method failing the test ("Failed: Timeout
     * (>5.0s) from pytest-timeout."), or MemoryError as the first word
     * ("MemoryError", "numpy.core._exceptions._ArrayMemoryError: ...") */
    {
        size_t b = 0;
        if (s[0] == 'E' && n > 1 && s[1] == ' ')
            for (b = 1; b < n && b < FIRST_WORD_MAX && s[b] == ' '; b++)
                ;
        if (starts(s + b, n - b, "Failed: Timeout")) {
            evidence(run, RM_E_HANG, src, line, t, 0, s, n);
            return;
        }
        if (memory_error_word(s + b, n - b)) {
            evidence(run, RM_E_MEMORY_ERROR, src, line, t, 0, s, n);
            return;
        }
    }
    /* xdist: "[gw0] node down: ..." then "worker 'gw0' crashed while running 'id'" */
    {
        const char *c =
            n > 40 && s[n - 1] == '\'' ? memmem(s, n, "crashed while running '", 23) : NULL;
        const char *w = c ? memmem(s, (size_t)(c - s), "worker '", 8) : NULL;
        if (c && w) {
            const char *we = memchr(w + 8, '\'', (size_t)(c - w - 8));
            size_t wn = we ? (size_t)(we - w - 8) : 0;
            evidence(run, RM_E_WORKER_CRASH, src, line, t, 0, s, n);
            keep_text_test(run, RM_I_TEXT_DONE, src, line, t, "crashed", 7, w + 8, wn, c + 23,
                           (size_t)(s + n - 1 - (c + 23)));
            return;
        }
    }
    pytest_line(run, src, line, t, s, n);
}

/* "12<TAB>" or "12 " at the start of line 12: its length, else 0. */
static size_t own_number(const char *s, size_t n, uint64_t lineno)
{
    uint64_t v = 0;
    size_t i;
    for (i = 0; i < n && i < 20 && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (i == 0 || i >= n || v != lineno || (s[i] != '\t' && s[i] != ' '))
        return 0;
    return i + 1;
}

/* A line of gh run view --log: which job it is of (the first name is kept,
 * a second one marks a file of several jobs). */
static void cli_job(rm_source *S, const char *job, size_t n)
{
    uint64_t h = fnv(14695981039346656037ull, job, n);
    if (!S->cli_jobs) {
        S->cli_jobs = 1;
        S->cli_cur = h;
    } else if (h != S->cli_cur) { /* another job: its own times, not after the last one's */
        S->cli_jobs = 2;
        S->cli_cur = h;
        S->text_t = 0;
    }
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
    if (flags & RM_READ_CUT) {
        if (!S->cut_lines)
            S->first_cut_line = lineno;
        S->cut_lines++;
    }
    if (len == 0 || (len == 1 && line[0] == '\r'))
        return; /* an empty line: nothing to read (a file of newlines is fast) */
    /* a log copied from a page with its line numbers: lines 1 and 2 say */
    if (lineno <= 2 || S->numbered == 2) {
        size_t k = own_number(line, len, lineno);
        if (lineno <= 2)
            S->numbered = k && (lineno == 1 || S->numbered == 1) ? (int)lineno : 0;
        if (k && S->numbered) {
            line += k;
            len -= k;
        }
    }
    /* gh run view --log prefixes every line: its first line says whether
       this file is in that form (else a tab is text) */
    g_rec.cli_ok = !S->cli_decided || S->cli_jobs;
    S->cli_decided = 1;
    type = rm_parse_line(line, len, &g_rec);
    body = g_rec.body_off;
    if (g_rec.job_len)
        cli_job(S, line, g_rec.job_len);
    if (g_rec.has_gh_ts) {
        S->gh_lines++;
        see_time(run, g_rec.gh_ts_usec);
        if (g_rec.gh_ts_usec > S->clock)
            S->clock = g_rec.gh_ts_usec;
    }
    /* a line without a time of its own happened after the newest one read:
       1 us after it, so that pytest's "PASSED id" sorts after the records
       that share that time (a record without a ts takes the newest time
       too: the test's call-start record written just before the outcome) */
    t = g_rec.has_gh_ts ? g_rec.gh_ts_usec : S->clock ? S->clock + 1 : 0;
    if (t) {
        /* lines of one time (a burst GitHub stamped at once, stamps of whole
           seconds) keep their order: a text line comes after the line before
           it, and after the records before it when their clock is near (a
           coarse stamp is older than the record it follows) */
        if (S->rec_clock > t && S->rec_clock - t < TEXT_AFTER_RECORD_USEC)
            t = S->rec_clock + 1;
        if (t <= S->text_t)
            t = S->text_t + 1;
        S->text_t = t;
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

/* A zip archive (GitHub's log archive): each log in it is a source of its
 * own, "archive.zip/0_test.txt", its lines numbered from 1. The first takes
 * over the archive's source; another is added. 0, or -1 (lines go on to
 * the source before). */
static int member_source(rm_run *run, int *si, const char *path, const rm_reader *rd, int add,
                         uint64_t prev_bytes)
{
    char name[512];
    int k = snprintf(name, sizeof(name), "%s/%s", path, rd->member), n;
    rm_source *S;
    if (k < 0)
        return -1;
    if (add) {
        run->src[*si].bytes = prev_bytes;
        if ((n = rm_run_add_source(run, name)) < 0)
            return -1;
        *si = n;
    } else {
        char *p = strdup(name);
        if (!p)
            return -1;
        free(run->src[*si].path);
        run->src[*si].path = p;
    }
    S = &run->src[*si];
    S->zip_members = rd->zip_members;
    S->zip_jobs = rd->zip_jobs;
    S->zip_index = (int)rd->member_seq;
    return 0;
}

int rm_run_ingest(rm_run *run, const char *path)
{
    static rm_reader rd; /* 256 KiB: one reader at a time */
    int si = rm_run_add_source(run, path), r;
    unsigned seq = 0;
    uint64_t base = 0, base_bytes = 0;
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
    S->gz = rd.gz == 1;
    memset(&run->ts, 0, sizeof(run->ts));
    while ((r = rm_reader_next(&rd, &line, &len, &flags)) == 1) {
        /* the member's first line is counted in rd.bytes already */
        uint64_t start = rd.bytes >= len + 1 ? rd.bytes - len - 1 : 0;
        if (rd.member_seq != seq &&
            member_source(run, &si, path, &rd, seq != 0, start - base_bytes) == 0) {
            seq = rd.member_seq;
            base = rd.lineno - 1;
            base_bytes = start;
        }
        rm_run_line(run, si, rd.lineno - base, line, len, flags);
    }
    S = &run->src[si];
    S->bytes = rd.bytes - base_bytes;
    S->gz_cut = rd.gz_cut;
    if (r < 0) {
        int k = snprintf(S->error, sizeof(S->error), "%.200s (after line %llu)", rd.err,
                         (unsigned long long)rd.lineno);
        (void)k;
    }
    rm_reader_close(&rd);
    return r < 0 ? -1 : 0;
}
