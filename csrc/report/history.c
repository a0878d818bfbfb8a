/* SPDX-License-Identifier: MIT */
/* history.c: resmon-report history add|check|show: runs stored in a database, and a per-test
 * memory regression gate against a baseline of earlier runs (docs/history.md). */
#include "history.h"
#include "report.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Exit codes (docs/history.md). */
enum {
    HX_OK = 0,      /* stored; no regression; shown */
    HX_REGRESS = 1, /* check: a test grew past the thresholds */
    HX_USAGE = 2    /* usage, input, database or missing backend */
};

/* Baseline runs one check compares with at most (last:N). */
#define H_MAX_BASE 100
/* Runs "show" lists unless --runs says otherwise, and at most. */
#define H_SHOW_RUNS 30
#define H_SHOW_MAX 1000
/* Tests "show" charts when none is named: the largest peaks of the newest run. */
#define H_SHOW_TOP 5
/* Tests one "show" takes by name. */
#define H_SHOW_TESTS 32
/* Bytes of an identity field (run id, job, branch...). */
#define H_FIELD 128
/* Stored test ids and names: printable ASCII, other bytes as \xHH, so cut to this. */
#define H_NAME_MAX (RM_ID_MAX * 4 + 1)
/* Unknown value. */
#define HNULL INT64_MIN

static const char *const metric_names[3] = {"peak", "used", "growth"};

/* ---- small helpers ---- */

/* printable ASCII; other bytes and the backslash as \xHH (docs/history.md) */
static void clean(char *dst, size_t n, const char *src)
{
    size_t o = 0;
    for (; *src && o + 5 < n; src++) {
        unsigned char c = (unsigned char)*src;
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            dst[o++] = (char)c;
        } else {
            int k = snprintf(dst + o, n - o, "\\x%02x", c);
            if (k < 0 || (size_t)k >= n - o)
                break;
            o += (size_t)k;
        }
    }
    dst[o] = '\0';
}

static void copy_field(char *dst, const char *src)
{
    clean(dst, H_FIELD, src ? src : "");
}

static int64_t to_i64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : HNULL;
}

static const char *num(char *buf, size_t n, int64_t v)
{
    int k;
    if (v == HNULL)
        return NULL;
    k = snprintf(buf, n, "%" PRId64, v);
    return k > 0 && (size_t)k < n ? buf : NULL;
}

static int64_t u2i(uint64_t v)
{
    return v == RM_UNSET || v > (uint64_t)INT64_MAX ? HNULL : (int64_t)v;
}

/* "1.5 GiB"; a signed value gets its sign. */
static const char *size_str(char *buf, size_t n, int64_t v)
{
    char s[24];
    int k;
    if (v == HNULL)
        return "-";
    rm_fmt_size(s, sizeof(s), (uint64_t)(v < 0 ? -v : v));
    k = snprintf(buf, n, "%s%s", v < 0 ? "-" : "", s);
    return k > 0 && (size_t)k < n ? buf : "?";
}

static const char *utc(char *buf, size_t n, int64_t usec)
{
    time_t t;
    struct tm tm;
    if (usec == HNULL || usec <= 0)
        return "-";
    t = (time_t)(usec / 1000000);
    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        return "-";
    return buf;
}

/* JSON time: "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" as the report writes it. */
static void j_time(FILE *o, int64_t usec)
{
    time_t t;
    struct tm tm;
    char b[32];
    if (usec == HNULL || usec <= 0) {
        fputs("null", o);
        return;
    }
    t = (time_t)(usec / 1000000);
    if (!gmtime_r(&t, &tm) || strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        fputs("null", o);
        return;
    }
    fprintf(o, "\"%s.%06dZ\"", b, (int)(usec % 1000000));
}

/* Parses "16MiB", "16 MiB", "16M", "1.5GB", "1048576": bytes, or -1. */
static int64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end), mul = 1;
    if (end == s || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    switch (toupper((unsigned char)*end)) {
    case '\0':
    case 'B':
        break;
    case 'K':
        mul = 1024.0;
        break;
    case 'M':
        mul = 1024.0 * 1024;
        break;
    case 'G':
        mul = 1024.0 * 1024 * 1024;
        break;
    case 'T':
        mul = 1024.0 * 1024 * 1024 * 1024;
        break;
    default:
        return -1;
    }
    if (*end && *end != 'B' && *end != 'b') {
        const char *u = end + 1;
        if (*u == 'i' || *u == 'I')
            u++;
        if (*u == 'B' || *u == 'b')
            u++;
        if (*u)
            return -1;
    }
    if (v * mul > 9e18)
        return -1;
    return (int64_t)(v * mul);
}

/* Writes s as a JSON string (ASCII: the stored names are already clean). */
static void j_str(FILE *o, const char *s)
{
    fputc('"', o);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(o, "\\u%04x", c);
        else
            fputc(c, o);
    }
    fputc('"', o);
}

static void j_num(FILE *o, int64_t v)
{
    if (v == HNULL)
        fputs("null", o);
    else
        fprintf(o, "%" PRId64, v);
}

/* ---- the run being added or checked ---- */

typedef struct hident {
    char run[H_FIELD], repo[H_FIELD], job[H_FIELD], commit[H_FIELD], branch[H_FIELD];
    char os[H_FIELD], python[H_FIELD], resmon[H_FIELD], host[H_FIELD];
} hident;

/* Keeps the smallest non-empty candidate, so the order of inputs does not matter. */
static void offer(char *dst, const char *v, size_t n)
{
    char tmp[H_FIELD];
    size_t i;
    if (!v || !*v)
        return;
    if (n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    for (i = 0; tmp[i]; i++)
        if (tmp[i] < 0x20 || tmp[i] > 0x7e) {
            char c[H_FIELD];
            clean(c, sizeof(c), tmp);
            memcpy(tmp, c, sizeof(tmp));
            break;
        }
    if (!*dst || strcmp(tmp, dst) < 0)
        memcpy(dst, tmp, sizeof(tmp));
}

static void offer_field(char *dst, const rm_rec *r, const char *key, int lower)
{
    const rm_field *f = rm_rec_get(r, key);
    char tmp[H_FIELD];
    size_t n, i;
    if (!f)
        return;
    n = f->val_len < sizeof(tmp) - 1 ? f->val_len : sizeof(tmp) - 1;
    memcpy(tmp, f->val, n);
    tmp[n] = '\0';
    for (i = 0; lower && i < n; i++)
        tmp[i] = (char)tolower((unsigned char)tmp[i]);
    offer(dst, tmp, strlen(tmp));
}

/* Reads the identity from head records: the plugin's (run, os, python,
 * resmon) and the sampler's (run_id, run_attempt, job, sha, repo). */
static void scan_identity(const char *path, hident *plug, hident *samp)
{
    static rm_reader rd; /* 256 KiB: one at a time */
    static rm_rec rec;
    const char *line;
    size_t len;
    unsigned flags;
    if (rm_reader_open(&rd, path) != 0)
        return;
    rec.cli_ok = 1; /* a head in a gh run view --log file too */
    while (rm_reader_next(&rd, &line, &len, &flags) == 1) {
        size_t look = len < 200 ? len : 200;
        if (!memmem(line, look, "] head ", 7) ||
            rm_parse_line(line, len, &rec) != RM_PARSE_RECORD || strcmp(rec.kind, "head") != 0)
            continue;
        if (rm_rec_get(&rec, "python")) {
            offer_field(plug->run, &rec, "run", 0);
            offer_field(plug->os, &rec, "os", 1);
            offer_field(plug->python, &rec, "python", 0);
            offer_field(plug->resmon, &rec, "resmon", 0);
            offer_field(plug->host, &rec, "host", 0);
        } else {
            const rm_field *id = rm_rec_get(&rec, "run_id"), *at = rm_rec_get(&rec, "run_attempt");
            if (id) {
                char r[H_FIELD];
                int k = snprintf(r, sizeof(r), "%.*s%s%.*s",
                                 (int)(id->val_len > 60 ? 60 : id->val_len), id->val, at ? "." : "",
                                 at ? (int)(at->val_len > 20 ? 20 : at->val_len) : 0,
                                 at ? at->val : "");
                if (k > 0 && (size_t)k < sizeof(r))
                    offer(samp->run, r, strlen(r));
            }
            offer_field(samp->job, &rec, "job", 0);
            offer_field(samp->commit, &rec, "sha", 0);
            offer_field(samp->repo, &rec, "repo", 0);
            offer_field(samp->os, &rec, "os", 1);
            offer_field(samp->resmon, &rec, "version", 0);
            offer_field(samp->host, &rec, "host", 0);
        }
    }
    rm_reader_close(&rd);
}

typedef struct hopts {
    const char *db, *run, *commit, *branch, *job, *repo, *baseline, *out_path;
    int format; /* RM_FMT_* */
    double pct;
    int64_t min_inc;
    int runs;
    const char *tests[H_SHOW_TESTS];
    int n_tests;
    char **files;
    int n_files;
} hopts;

typedef struct hrun {
    rm_run *run;
    hident id;
    char content[32]; /* content_id() */
    char key[H_FIELD * 6 + 32];
} hrun;

static const char *first_env(const char *a, const char *b, const char *c)
{
    const char *v = a ? getenv(a) : NULL;
    if ((!v || !*v) && b)
        v = getenv(b);
    if ((!v || !*v) && c)
        v = getenv(c);
    return v && *v ? v : NULL;
}

/* A run id from the run's content when nothing names it: the same records
 * give the same id, in any order. */
static void content_id(const rm_run *run, char *out, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    int i, k;
    for (i = 0; i < run->n_tests; i++) {
        const rm_test *T = &run->tests[i];
        uint64_t x = rm_siphash(0x686973746f7279ull, (uint64_t)T->t_start, T->id, strlen(T->id));
        h += x * 0xff51afd7ed558ccdull ^ (uint64_t)T->attempt;
    }
    h ^= (uint64_t)run->t_first * 31 + (uint64_t)run->n_tests;
    k = snprintf(out, n, "auto-%016" PRIx64, h);
    (void)k;
}

/* Spools standard input to a file that can be read twice; returns its path. */
static const char *spool_stdin(char *path, size_t n)
{
    FILE *f = tmpfile();
    char buf[65536];
    size_t got;
    int k;
    if (!f)
        return NULL;
    while ((got = fread(buf, 1, sizeof(buf), stdin)) > 0)
        if (fwrite(buf, 1, got, f) != got)
            return NULL;
    if (fflush(f) != 0)
        return NULL;
    k = snprintf(path, n, "/proc/self/fd/%d", fileno(f));
    return k > 0 && (size_t)k < n ? path : NULL; /* f stays open until exit */
}

/* Reads and analyses FILE... as one run, and names it. */
static int load_run(const hopts *o, hrun *h)
{
    hident plug, samp;
    int i, ok = 0;
    char spool[64];
    memset(h, 0, sizeof(*h));
    memset(&plug, 0, sizeof(plug));
    memset(&samp, 0, sizeof(samp));
    h->run = rm_run_new("run");
    if (!h->run)
        return -1;
    for (i = 0; i < o->n_files; i++) {
        const char *p = o->files[i];
        if (strcmp(p, "-") == 0 && !(p = spool_stdin(spool, sizeof(spool)))) {
            fprintf(stderr, "resmon-report history: cannot read standard input\n");
            continue;
        }
        if (rm_run_ingest(h->run, p) == 0 || h->run->src[h->run->n_src - 1].lines)
            ok++;
        else
            fprintf(stderr, "resmon-report history: %s: %s\n", o->files[i],
                    h->run->src[h->run->n_src - 1].error);
        scan_identity(p, &plug, &samp);
    }
    if (!ok) {
        fprintf(stderr, "resmon-report history: no input could be read\n");
        return -1;
    }
    rm_run_analyze(h->run);
    /* options first, then the records, then the CI's environment */
    copy_field(h->id.run, o->run ? o->run : plug.run[0] ? plug.run : samp.run);
    content_id(h->run, h->content, sizeof(h->content));
    if (!h->id.run[0])
        copy_field(h->id.run, h->content);
    copy_field(h->id.job, o->job        ? o->job
                          : samp.job[0] ? samp.job
                                        : first_env("GITHUB_JOB", "CI_JOB_NAME", NULL));
    copy_field(h->id.commit, o->commit        ? o->commit
                             : samp.commit[0] ? samp.commit
                                              : first_env("GITHUB_SHA", "CI_COMMIT_SHA", NULL));
    copy_field(h->id.branch,
               o->branch ? o->branch
                         : first_env("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"));
    copy_field(h->id.repo, o->repo ? o->repo
                           : samp.repo[0]
                               ? samp.repo
                               : first_env("GITHUB_REPOSITORY", "CI_PROJECT_PATH", NULL));
    copy_field(h->id.os, plug.os[0] ? plug.os : samp.os);
    copy_field(h->id.python, plug.python);
    copy_field(h->id.resmon, plug.resmon[0] ? plug.resmon : samp.resmon);
    copy_field(h->id.host, plug.host[0] ? plug.host : samp.host);
    {
        /* two pytest sessions of one CI job share the run id: the content tells them apart */
        int k = snprintf(h->key, sizeof(h->key), "%s|%s|%s|%s|%s|%s", h->id.run, h->id.repo,
                         h->id.job, h->id.os, h->id.python, h->content);
        if (k < 0 || (size_t)k >= sizeof(h->key))
            return -1;
    }
    return 0;
}

/* Per-instance figures, as stored. */
typedef struct hfig {
    int64_t peak, used, own, growth, dur;
} hfig;

static hfig figures(const rm_test *T)
{
    hfig f;
    f.peak = T->peak ? u2i(T->peak) : HNULL;
    f.used = u2i(T->transient);
    f.own = u2i(T->own_growth);
    f.growth = T->rss_start != RM_UNSET && T->rss_end != RM_UNSET
                   ? (int64_t)T->rss_end - (int64_t)T->rss_start
                   : HNULL;
    f.dur = T->t_start && T->t_end && T->t_end >= T->t_start ? T->t_end - T->t_start : HNULL;
    return f;
}

static int64_t limit_of(int64_t total, int64_t cg_lim)
{
    if (cg_lim != HNULL && cg_lim > 0 && (total == HNULL || cg_lim < total))
        return cg_lim;
    return total;
}

/* ---- add ---- */

static int store(hdb *db, const hrun *h, int *already)
{
    const rm_run *run = h->run;
    hres r;
    char b[16][32], now_s[32], run_ref[32], conf[32];
    const char *p[24];
    int i, k;
    int64_t max_peak = HNULL, now = (int64_t)time(NULL) * 1000000;
    static const char *const stage_cols[] = {"inst",       "name",    "attempt", "worker",
                                             "pid",        "outcome", "peak",    "used",
                                             "own_growth", "growth",  "duration"};
    static const char *const fix_cols[] = {"run",       "fixture", "name",    "scope",
                                           "instances", "held",    "retained"};
    *already = 0;
    for (i = 0; i < run->n_tests; i++) {
        int64_t pk = run->tests[i].peak ? u2i(run->tests[i].peak) : HNULL;
        if (pk != HNULL && (max_peak == HNULL || pk > max_peak))
            max_peak = pk;
    }
    if (hdb_begin_write(db) != 0)
        return -1;
    p[0] = h->key;
    if (hdb_query(db, "SELECT id FROM resmon_runs WHERE run_key = ?1", 1, p, &r) != 0)
        goto error;
    if (r.rows) {
        hres_free(&r);
        hdb_rollback(db);
        *already = 1;
        return 0;
    }
    hres_free(&r);
    k = snprintf(conf, sizeof(conf), "%.3f", run->verdict.confidence);
    (void)k;
    p[0] = h->key;
    p[1] = h->id.run;
    p[2] = h->id.repo;
    p[3] = h->id.job;
    p[4] = h->id.commit;
    p[5] = h->id.branch;
    p[6] = h->id.os;
    p[7] = h->id.python;
    p[8] = h->id.resmon;
    p[9] = h->id.host;
    p[10] = rm_verdict_name(run->verdict.kind);
    p[11] = conf;
    p[12] = num(b[0], sizeof(b[0]), run->t_first ? run->t_first : HNULL);
    p[13] = num(b[1], sizeof(b[1]), run->t_last ? run->t_last : HNULL);
    p[14] = num(now_s, sizeof(now_s), now);
    p[15] = num(b[2], sizeof(b[2]), u2i(run->mem_total));
    p[16] = num(b[3], sizeof(b[3]), u2i(run->cg_lim));
    p[17] = num(b[4], sizeof(b[4]), u2i(run->min_avail));
    p[18] = num(b[5], sizeof(b[5]), run->cg_max ? u2i(run->cg_max) : HNULL);
    p[19] = num(b[6], sizeof(b[6]), max_peak);
    p[20] = num(b[7], sizeof(b[7]), run->n_tests);
    if (hdb_query(db,
                  "INSERT INTO resmon_runs (run_key, run_id, repo, job, commit_sha, branch, os, "
                  "python, resmon, host, verdict, confidence, started, ended, added, mem_total, "
                  "cg_lim, min_avail, cg_max, max_peak, tests) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                  "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
                  21, p, NULL) != 0)
        goto error;
    p[0] = h->key;
    if (hdb_query(db, "SELECT id FROM resmon_runs WHERE run_key = ?1", 1, p, &r) != 0)
        goto error;
    if (r.rows != 1 || !hres_val(&r, 0, 0)) {
        hres_free(&r);
        goto error;
    }
    k = snprintf(run_ref, sizeof(run_ref), "%s", hres_val(&r, 0, 0));
    hres_free(&r);
    if (k < 0 || (size_t)k >= sizeof(run_ref))
        goto error;

    /* tests: staged, then their ids and rows in two statements */
    if (hdb_exec(db, "CREATE TEMP TABLE IF NOT EXISTS resmon_stage (inst INTEGER, name TEXT, "
                     "attempt INTEGER, worker TEXT, pid BIGINT, outcome TEXT, peak BIGINT, "
                     "used BIGINT, own_growth BIGINT, growth BIGINT, duration BIGINT);"
                     "DELETE FROM resmon_stage") != 0)
        goto error;
    if (hdb_bulk_begin(db, "resmon_stage", stage_cols, 11) != 0)
        goto error;
    for (i = 0; i < run->n_tests; i++) {
        const rm_test *T = &run->tests[i];
        const rm_proc *P = T->proc >= 0 ? &run->procs[T->proc] : NULL;
        hfig f = figures(T);
        char name[H_NAME_MAX], worker[64];
        const char *v[11];
        clean(name, sizeof(name), T->id);
        clean(worker, sizeof(worker), P ? P->worker : "");
        v[0] = num(b[0], sizeof(b[0]), i);
        v[1] = name;
        v[2] = num(b[1], sizeof(b[1]), T->attempt);
        v[3] = P && P->worker[0] ? worker : NULL;
        v[4] = num(b[2], sizeof(b[2]), P && P->pid ? P->pid : HNULL);
        v[5] = T->outcome[0] ? T->outcome : NULL;
        v[6] = num(b[3], sizeof(b[3]), f.peak);
        v[7] = num(b[4], sizeof(b[4]), f.used);
        v[8] = num(b[5], sizeof(b[5]), f.own);
        v[9] = num(b[6], sizeof(b[6]), f.growth);
        v[10] = num(b[7], sizeof(b[7]), f.dur);
        if (hdb_bulk_row(db, v) != 0) {
            hdb_bulk_end(db);
            goto error;
        }
    }
    if (hdb_bulk_end(db) != 0)
        goto error;
    p[0] = run_ref;
    if (hdb_exec(db, "INSERT INTO resmon_test_ids (name) SELECT DISTINCT name FROM resmon_stage "
                     "WHERE true ON CONFLICT (name) DO NOTHING") != 0 ||
        hdb_query(db,
                  "INSERT INTO resmon_tests (run, inst, test, attempt, worker, pid, outcome, peak, "
                  "used, own_growth, growth, duration) SELECT CAST(?1 AS BIGINT), s.inst, n.id, "
                  "s.attempt, s.worker, s.pid, s.outcome, s.peak, s.used, s.own_growth, s.growth, "
                  "s.duration FROM resmon_stage s JOIN resmon_test_ids n ON n.name = s.name",
                  1, p, NULL) != 0 ||
        hdb_exec(db, "DELETE FROM resmon_stage") != 0)
        goto error;

    if (run->n_fix) {
        if (hdb_bulk_begin(db, "resmon_fixtures", fix_cols, 7) != 0)
            goto error;
        for (i = 0; i < run->n_fix; i++) {
            const rm_fixture *F = &run->fix[i];
            char key[RM_ID_MAX * 4], name[512], scope[64];
            int64_t held = HNULL, kept = HNULL, x;
            const char *v[7];
            if (rm_fixture_held(F, &x))
                held = x;
            if (rm_fixture_retained(F, &x))
                kept = x;
            clean(key, sizeof(key), F->key);
            clean(name, sizeof(name), F->name);
            clean(scope, sizeof(scope), F->scope);
            v[0] = run_ref;
            v[1] = key;
            v[2] = name;
            v[3] = scope;
            v[4] = num(b[0], sizeof(b[0]), (int64_t)F->count);
            v[5] = num(b[1], sizeof(b[1]), held);
            v[6] = num(b[2], sizeof(b[2]), kept);
            if (hdb_bulk_row(db, v) != 0) {
                hdb_bulk_end(db);
                goto error;
            }
        }
        if (hdb_bulk_end(db) != 0)
            goto error;
    }
    if (hdb_commit(db) != 0)
        goto error;
    return 0;
error:
    hdb_rollback(db);
    return -1;
}

/* ---- check ---- */

/* A test id's figures in one run: the largest over its instances. */
typedef struct hcur {
    char *name;
    int64_t v[3];
    int n_base;    /* its rows in the baseline runs (0: a new test) */
    int64_t *base; /* 3 x N values (HNULL where a run lacks it) */
} hcur;

typedef struct hmap {
    hcur *items;
    int n, cap;
    int *slots;
    unsigned n_slots;
} hmap;

static uint64_t name_hash(const char *s)
{
    return rm_siphash(0x686973746f7279ull, 0x6d6170ull, s, strlen(s));
}

/* The entry for name; add: create it. Returns its index, or -1. */
static int map_get(hmap *m, const char *name, int add)
{
    unsigned i;
    if (m->n_slots == 0 || (unsigned)m->n * 2 >= m->n_slots) {
        unsigned ns = m->n_slots ? m->n_slots * 2 : 1024, j;
        int *sl;
        if (!add && m->n_slots)
            goto look;
        sl = calloc(ns, sizeof(int));
        if (!sl)
            return -1;
        for (j = 0; j < (unsigned)m->n; j++) {
            unsigned s = (unsigned)name_hash(m->items[j].name) & (ns - 1);
            while (sl[s])
                s = (s + 1) & (ns - 1);
            sl[s] = (int)j + 1;
        }
        free(m->slots);
        m->slots = sl;
        m->n_slots = ns;
    }
look:
    i = (unsigned)name_hash(name) & (m->n_slots - 1);
    while (m->slots[i]) {
        if (strcmp(m->items[m->slots[i] - 1].name, name) == 0)
            return m->slots[i] - 1;
        i = (i + 1) & (m->n_slots - 1);
    }
    if (!add)
        return -1;
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 256;
        hcur *ni = realloc(m->items, (size_t)cap * sizeof(*ni));
        if (!ni)
            return -1;
        m->items = ni;
        m->cap = cap;
    }
    memset(&m->items[m->n], 0, sizeof(hcur));
    m->items[m->n].name = strdup(name);
    if (!m->items[m->n].name)
        return -1;
    m->items[m->n].v[0] = m->items[m->n].v[1] = m->items[m->n].v[2] = HNULL;
    m->slots[i] = m->n + 1;
    return m->n++;
}

static void map_free(hmap *m)
{
    int i;
    for (i = 0; i < m->n; i++) {
        free(m->items[i].name);
        free(m->items[i].base);
    }
    free(m->items);
    free(m->slots);
}

static void take_max(int64_t *dst, int64_t v)
{
    if (v != HNULL && (*dst == HNULL || v > *dst))
        *dst = v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* One test's finding. */
typedef struct hfind {
    int item, metric;
    int64_t base, now, inc, spread;
    int n;
} hfind;

static int cmp_find(const void *a, const void *b)
{
    const hfind *x = a, *y = b;
    if (x->inc != y->inc)
        return x->inc < y->inc ? 1 : -1;
    return x->item - y->item;
}

typedef struct hbrun {
    char ref[32], run_id[H_FIELD], commit[H_FIELD], branch[H_FIELD];
} hbrun;

/* Chooses the baseline runs; returns how many (0 none), -1 on error. */
static int pick_baseline(hdb *db, const hopts *o, const hrun *h, hbrun *out, char *desc, size_t dn)
{
    const char *spec = o->baseline ? o->baseline : "last:5", *p[8];
    char lim[16];
    hres r;
    int n = 5, i, k, np;
    const char *sql;
    if (strncmp(spec, "last:", 5) == 0) {
        char *end;
        long v = strtol(spec + 5, &end, 10);
        if (*end || v < 1 || v > H_MAX_BASE) {
            fprintf(stderr, "resmon-report history: --baseline last:N wants N from 1 to %d\n",
                    H_MAX_BASE);
            return -2;
        }
        n = (int)v;
    } else if (strncmp(spec, "branch:", 7) == 0 && spec[7]) {
        /* n stays 5 */
    } else if (strncmp(spec, "run:", 4) == 0 && spec[4]) {
        n = 1;
    } else {
        fprintf(stderr, "resmon-report history: --baseline wants last:N, branch:NAME or run:ID\n");
        return -2;
    }
    k = snprintf(lim, sizeof(lim), "%d", n);
    (void)k;
    p[0] = h->id.repo;
    p[1] = h->id.job;
    p[2] = h->id.os;
    p[3] = h->id.python;
    p[4] = h->key;
    p[5] = lim;
    np = 6;
    if (spec[0] == 'l') {
        sql = "SELECT id, run_id, commit_sha, branch FROM resmon_runs WHERE verdict = 'passed' "
              "AND repo = ?1 AND job = ?2 AND os = ?3 AND python = ?4 AND run_key <> ?5 "
              "ORDER BY started DESC, id DESC LIMIT CAST(?6 AS INTEGER)";
        k = snprintf(desc, dn, "the last %d passing runs of job '%.60s', %.30s, Python %.30s", n,
                     h->id.job, h->id.os[0] ? h->id.os : "-", h->id.python[0] ? h->id.python : "-");
    } else if (spec[0] == 'b') {
        p[6] = spec + 7;
        np = 7;
        sql = "SELECT id, run_id, commit_sha, branch FROM resmon_runs WHERE verdict = 'passed' "
              "AND repo = ?1 AND job = ?2 AND os = ?3 AND python = ?4 AND run_key <> ?5 "
              "AND branch = ?7 ORDER BY started DESC, id DESC LIMIT CAST(?6 AS INTEGER)";
        k = snprintf(desc, dn,
                     "the last %d passing runs of branch '%.60s', job '%.60s', %.30s, Python %.30s",
                     n, spec + 7, h->id.job, h->id.os[0] ? h->id.os : "-",
                     h->id.python[0] ? h->id.python : "-");
    } else {
        p[6] = spec + 4;
        np = 7;
        /* the run of that id with this job, OS and Python first */
        sql = "SELECT id, run_id, commit_sha, branch FROM resmon_runs WHERE run_id = ?7 "
              "AND run_key <> ?5 ORDER BY CASE WHEN repo = ?1 AND job = ?2 AND os = ?3 AND "
              "python = ?4 THEN 0 ELSE 1 END, id DESC LIMIT CAST(?6 AS INTEGER)";
        k = snprintf(desc, dn, "run %.100s", spec + 4);
    }
    (void)k;
    if (hdb_query(db, sql, np, p, &r) != 0)
        return -1;
    for (i = 0; i < r.rows && i < H_MAX_BASE; i++) {
        k = snprintf(out[i].ref, sizeof(out[i].ref), "%s", hres_val(&r, i, 0));
        copy_field(out[i].run_id, hres_val(&r, i, 1));
        copy_field(out[i].commit, hres_val(&r, i, 2));
        copy_field(out[i].branch, hres_val(&r, i, 3));
    }
    hres_free(&r);
    return i;
}

static int load_baseline(hdb *db, hmap *m, const hbrun *br, int nb)
{
    char *sql;
    size_t cap = 256 + (size_t)nb * 24, n;
    hres r;
    int i, k;
    sql = malloc(cap);
    if (!sql)
        return -1;
    k = snprintf(sql, cap,
                 "SELECT t.run, n.name, t.peak, t.used, t.growth FROM resmon_tests t JOIN "
                 "resmon_test_ids n ON n.id = t.test WHERE t.run IN (");
    n = (size_t)k;
    for (i = 0; i < nb; i++) {
        k = snprintf(sql + n, cap - n, "%s%lld", i ? ", " : "", strtoll(br[i].ref, NULL, 10));
        if (k < 0 || (size_t)k >= cap - n) {
            free(sql);
            return -1;
        }
        n += (size_t)k;
    }
    /* no GROUP BY: sorting 250,000 names costs the server more than the
       client's max over the rare reruns */
    k = snprintf(sql + n, cap - n, ")");
    if (k < 0 || (size_t)k >= cap - n || hdb_query(db, sql, 0, NULL, &r) != 0) {
        free(sql);
        return -1;
    }
    free(sql);
    for (i = 0; i < r.rows; i++) {
        const char *ref = hres_val(&r, i, 0), *name = hres_val(&r, i, 1);
        int j, which = -1, it, mtr;
        hcur *c;
        if (!ref || !name)
            continue;
        for (j = 0; j < nb; j++)
            if (strcmp(br[j].ref, ref) == 0)
                which = j;
        if (which < 0 || (it = map_get(m, name, 0)) < 0)
            continue; /* not in this run: gone tests are counted, not compared */
        c = &m->items[it];
        if (!c->base) {
            c->base = malloc(sizeof(int64_t) * 3 * (size_t)nb);
            if (!c->base) {
                hres_free(&r);
                return -1;
            }
            for (j = 0; j < 3 * nb; j++)
                c->base[j] = HNULL;
        }
        c->n_base++;
        for (mtr = 0; mtr < 3; mtr++) /* the largest over the run's instances */
            take_max(&c->base[mtr * nb + which], to_i64(hres_val(&r, i, 2 + mtr)));
    }
    hres_free(&r);
    return 0;
}

/* A test regresses in a metric when it rose past the percentage and the
 * minimum and past the spread of its own baseline runs. */
static int judge(const hopts *o, const hcur *c, int nb, int mtr, hfind *f)
{
    int64_t vals[H_MAX_BASE], med, inc;
    int k = 0, j;
    if (c->v[mtr] == HNULL || !c->base)
        return 0;
    for (j = 0; j < nb; j++)
        if (c->base[mtr * nb + j] != HNULL)
            vals[k++] = c->base[mtr * nb + j];
    if (!k)
        return 0;
    qsort(vals, (size_t)k, sizeof(vals[0]), cmp_i64);
    med = k % 2 ? vals[k / 2] : vals[k / 2 - 1] + (vals[k / 2] - vals[k / 2 - 1]) / 2;
    inc = c->v[mtr] - med;
    f->metric = mtr;
    f->base = med;
    f->now = c->v[mtr];
    f->inc = inc;
    f->spread = vals[k - 1] - vals[0];
    f->n = k;
    if (inc <= o->min_inc || inc <= f->spread)
        return 0;
    if (med > 0 && (double)inc <= o->pct / 100.0 * (double)med)
        return 0;
    return 1;
}

static void pct_str(char *buf, size_t n, const hfind *f)
{
    int k;
    if (f->base > 0)
        k = snprintf(buf, n, "+%.0f%%", 100.0 * (double)f->inc / (double)f->base);
    else
        k = snprintf(buf, n, "new growth");
    (void)k;
}

static int cmd_check(const hopts *o)
{
    hrun h;
    hdb *db = NULL;
    hmap m;
    hbrun *br = NULL;
    hfind *finds = NULL;
    int *news = NULL;
    int i, nb, n_find = 0, n_new = 0, missing = 0, rc = HX_USAGE, compared = 0;
    char err[600], desc[512];
    FILE *out = stdout;
    memset(&m, 0, sizeof(m));
    memset(&h, 0, sizeof(h));
    if (load_run(o, &h) != 0)
        goto done;
    db = hdb_open(o->db, 0, &missing, err, sizeof(err));
    if (!db && missing) {
        printf("resmon history check: no history at %s yet: nothing to compare, no regression\n",
               o->db);
        rc = HX_OK;
        goto done;
    }
    if (!db) {
        fprintf(stderr, "resmon-report history: %s\n", err);
        goto done;
    }
    br = calloc(H_MAX_BASE, sizeof(*br));
    if (!br)
        goto done;
    nb = pick_baseline(db, o, &h, br, desc, sizeof(desc));
    if (nb < 0) {
        if (nb == -1)
            fprintf(stderr, "resmon-report history: %s\n", hdb_errmsg(db));
        goto done;
    }
    /* this run, per test id */
    for (i = 0; i < h.run->n_tests; i++) {
        char name[H_NAME_MAX];
        hfig f = figures(&h.run->tests[i]);
        int it;
        clean(name, sizeof(name), h.run->tests[i].id);
        it = map_get(&m, name, 1);
        if (it < 0)
            goto done;
        take_max(&m.items[it].v[0], f.peak);
        take_max(&m.items[it].v[1], f.used);
        take_max(&m.items[it].v[2], f.growth);
    }
    if (nb > 0 && load_baseline(db, &m, br, nb) != 0) {
        fprintf(stderr, "resmon-report history: %s\n", hdb_errmsg(db));
        goto done;
    }
    finds = calloc((size_t)m.n * 3 + 1, sizeof(*finds));
    news = calloc((size_t)m.n + 1, sizeof(int));
    if (!finds || !news)
        goto done;
    for (i = 0; i < m.n; i++) {
        int mtr;
        if (nb > 0 && !m.items[i].n_base) {
            news[n_new++] = i;
            continue;
        }
        if (nb > 0)
            compared++;
        for (mtr = 0; mtr < 3; mtr++) {
            hfind f;
            memset(&f, 0, sizeof(f));
            if (judge(o, &m.items[i], nb, mtr, &f)) {
                f.item = i;
                finds[n_find++] = f;
            }
        }
    }
    qsort(finds, (size_t)n_find, sizeof(*finds), cmp_find);
    if (o->out_path && !(out = fopen(o->out_path, "wb"))) {
        perror(o->out_path);
        goto done;
    }
    if (o->format == RM_FMT_JSON) {
        fprintf(out, "{\"schema\": \"resmon-history-check/1\", \"run\": {\"run_id\": ");
        j_str(out, h.id.run);
        fprintf(out, ", \"job\": ");
        j_str(out, h.id.job);
        fprintf(out, ", \"os\": ");
        j_str(out, h.id.os);
        fprintf(out, ", \"python\": ");
        j_str(out, h.id.python);
        fprintf(out, ", \"commit\": ");
        j_str(out, h.id.commit);
        fprintf(out, ", \"branch\": ");
        j_str(out, h.id.branch);
        fprintf(out, ", \"verdict\": ");
        j_str(out, rm_verdict_name(h.run->verdict.kind));
        fprintf(out, "},\n \"baseline\": {\"spec\": ");
        j_str(out, o->baseline ? o->baseline : "last:5");
        fprintf(out, ", \"runs\": [");
        for (i = 0; i < nb; i++) {
            fprintf(out, "%s{\"run_id\": ", i ? ", " : "");
            j_str(out, br[i].run_id);
            fprintf(out, ", \"commit\": ");
            j_str(out, br[i].commit);
            fprintf(out, ", \"branch\": ");
            j_str(out, br[i].branch);
            fputc('}', out);
        }
        fprintf(out,
                "]},\n \"fail_on_increase_pct\": %g, \"min_increase\": %" PRId64
                ", \"compared\": %d,\n \"regressions\": [",
                o->pct, o->min_inc, compared);
        for (i = 0; i < n_find; i++) {
            fprintf(out, "%s\n  {\"id\": ", i ? "," : "");
            j_str(out, m.items[finds[i].item].name);
            fprintf(out,
                    ", \"metric\": \"%s\", \"baseline\": %" PRId64 ", \"now\": %" PRId64
                    ", \"increase\": %" PRId64 ", \"spread\": %" PRId64 ", \"runs\": %d}",
                    metric_names[finds[i].metric], finds[i].base, finds[i].now, finds[i].inc,
                    finds[i].spread, finds[i].n);
        }
        fprintf(out, "],\n \"new\": [");
        for (i = 0; i < n_new; i++) {
            fprintf(out, "%s\n  {\"id\": ", i ? "," : "");
            j_str(out, m.items[news[i]].name);
            fprintf(out, ", \"peak\": ");
            j_num(out, m.items[news[i]].v[0]);
            fputc('}', out);
        }
        fprintf(out, "]}\n");
    } else {
        char s1[32], s2[32], s3[32], s4[32], pc[32];
        fprintf(out, "resmon history check: run %s (%s, job '%s', %s, Python %s)\n", h.id.run,
                rm_verdict_name(h.run->verdict.kind), h.id.job, h.id.os[0] ? h.id.os : "-",
                h.id.python[0] ? h.id.python : "-");
        if (nb == 0) {
            fprintf(out, "no baseline: %s found none; nothing to compare, no regression\n", desc);
        } else {
            int col = 2;
            fprintf(out, "baseline: %s: %d run%s, newest first:\n ", desc, nb, nb == 1 ? "" : "s");
            for (i = 0; i < nb; i++) {
                char item[H_FIELD + 16];
                int k = snprintf(item, sizeof(item), " %.60s%s%.8s%s", br[i].run_id,
                                 br[i].commit[0] ? " " : "", br[i].commit, i + 1 < nb ? "," : "");
                if (k < 0)
                    continue;
                if (col > 2 && col + k > 98) {
                    fprintf(out, "\n ");
                    col = 2;
                }
                fputs(item, out);
                col += k;
            }
            fprintf(out,
                    "\ngate: a test fails when its peak, used or growth rose by more than "
                    "%g%%\n      and %s and the spread of its own baseline runs\n",
                    o->pct, size_str(s1, sizeof(s1), o->min_inc));
            fprintf(out, "compared %d test%s\n", compared, compared == 1 ? "" : "s");
        }
        if (n_find) {
            fprintf(out, "\nREGRESSIONS  %d\n", n_find);
            for (i = 0; i < n_find; i++) {
                const hfind *f = &finds[i];
                pct_str(pc, sizeof(pc), f);
                fprintf(out, "  %s\n    %-6s %s -> %s  (+%s, %s; spread %s over %d run%s)\n",
                        m.items[f->item].name, metric_names[f->metric],
                        size_str(s1, sizeof(s1), f->base), size_str(s2, sizeof(s2), f->now),
                        size_str(s3, sizeof(s3), f->inc), pc, size_str(s4, sizeof(s4), f->spread),
                        f->n, f->n == 1 ? "" : "s");
            }
        } else if (nb > 0) {
            fprintf(out, "\nno regression\n");
        }
        if (n_new) {
            fprintf(out, "\nNEW  %d test%s not in the baseline (listed, not failed)\n", n_new,
                    n_new == 1 ? "" : "s");
            for (i = 0; i < n_new; i++)
                fprintf(out, "  %s  peak %s\n", m.items[news[i]].name,
                        size_str(s1, sizeof(s1), m.items[news[i]].v[0]));
        }
    }
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        fprintf(stderr, "resmon-report history: the result could not be written\n");
        out = stdout;
        goto done;
    }
    out = stdout;
    rc = n_find ? HX_REGRESS : HX_OK;
done:
    if (out != stdout)
        fclose(out);
    free(finds);
    free(news);
    free(br);
    map_free(&m);
    hdb_close(db);
    if (h.run)
        rm_run_free(h.run);
    return rc;
}

/* ---- show ---- */

typedef struct hsrun {
    char ref[32], run_id[H_FIELD], commit[H_FIELD], branch[H_FIELD], verdict[32];
    int64_t started, limit, used, headroom, max_peak;
} hsrun;

typedef struct hstest {
    char name[H_NAME_MAX];
    int64_t (*v)[4]; /* per run: peak used growth duration */
} hstest;

static void svg_chart(FILE *o, const char *title, const char *unit, double div, int n, int k,
                      const int64_t *series, const char *const *labels)
{
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c",
                                         "#9467bd", "#ff7f0e", "#8c564b"};
    const int W = 720, H = 220, L = 60, R = 10, T = 24, B = 24;
    int64_t hi = 0;
    int i, s;
    for (i = 0; i < n * k; i++)
        if (series[i] != HNULL && series[i] > hi)
            hi = series[i];
    if (hi <= 0)
        hi = 1;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">\n", W, H);
    fprintf(o, "<text x=\"%d\" y=\"16\" font-size=\"13\">", L);
    rm_put_escaped(o, title, 0, (size_t)-1);
    fprintf(o, "</text>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", L,
            H - B, W - R, H - B);
    fprintf(o, "<text x=\"2\" y=\"%d\" font-size=\"11\">%.0f %s</text>\n", T + 4, (double)hi / div,
            unit);
    fprintf(o, "<text x=\"2\" y=\"%d\" font-size=\"11\">0</text>\n", H - B);
    for (s = 0; s < k; s++) {
        fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                colors[s % 6]);
        for (i = 0; i < n; i++) {
            int64_t v = series[s * n + i];
            double x = L + (n > 1 ? (double)(W - L - R) * i / (n - 1) : (W - L - R) / 2.0);
            double y;
            if (v == HNULL)
                continue;
            y = (H - B) - (double)(H - B - T) * (double)(v < 0 ? 0 : v) / (double)hi;
            fprintf(o, "%.1f,%.1f ", x, y);
        }
        fprintf(o, "\"><title>");
        rm_put_escaped(o, labels[s], 0, (size_t)-1);
        fprintf(o, "</title></polyline>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">",
                L + 8, T + 14 + 13 * s, colors[s % 6]);
        rm_put_escaped(o, labels[s], 0, (size_t)-1);
        fprintf(o, "</text>\n");
    }
    fprintf(o, "</svg>\n");
}

static void mermaid(FILE *o, const char *title, int n, int k, const int64_t *series)
{
    int i, s;
    fprintf(o, "```mermaid\nxychart-beta\n  title \"%s\"\n  x-axis [", title);
    for (i = 0; i < n; i++)
        fprintf(o, "%s\"#%d\"", i ? ", " : "", i + 1);
    fprintf(o, "]\n  y-axis \"MiB\"\n");
    for (s = 0; s < k; s++) {
        fprintf(o, "  line [");
        for (i = 0; i < n; i++) {
            int64_t v = series[s * n + i];
            fprintf(o, "%s%.1f", i ? ", " : "", v == HNULL ? 0.0 : (double)v / 1048576.0);
        }
        fprintf(o, "]\n");
    }
    fprintf(o, "```\n\n");
}

/* The text table of runs fits 100 columns whatever its cells hold: each column
 * is as wide as its widest cell (sizes like "-1005.9 MiB" included), and the
 * run, branch and commit columns give way, in that order, down to 4. */
#define RUN_COLS 10
static const int col_cap[RUN_COLS] = {4, 16, 14, 7, 12, 12, 11, 11, 11, 11};

static void text_row(FILE *out, const char *const cells[RUN_COLS], const int width[RUN_COLS])
{
    int c;
    for (c = 0; c < RUN_COLS; c++) {
        if (c >= 6) /* sizes, right-aligned */
            fprintf(out, " %*.*s", width[c], width[c], cells[c]);
        else
            fprintf(out, " %-*.*s", width[c], width[c], cells[c]);
    }
    fputc('\n', out);
}

/* The cells of run i's row (bufs holds their text); text: headroom without
 * its percentage, the start to the minute. */
static void run_cells(const hsrun *R, int i, int text, char bufs[6][48],
                      const char *cells[RUN_COLS])
{
    int k = snprintf(bufs[0], 48, "%d", i + 1);
    (void)k;
    size_str(bufs[1], 48, R->headroom);
    if (!text && R->headroom != HNULL && R->limit != HNULL && R->limit > 0) {
        char hs[48];
        memcpy(hs, bufs[1], sizeof(hs));
        k = snprintf(bufs[1], 48, "%.24s (%.0f%%)", hs,
                     100.0 * (double)R->headroom / (double)R->limit);
    }
    cells[0] = bufs[0];
    cells[1] = utc(bufs[2], 48, R->started);
    if (text && strlen(cells[1]) > 16)
        bufs[2][16] = '\0'; /* to the minute */
    cells[2] = R->run_id;
    cells[3] = R->commit;
    cells[4] = R->branch;
    cells[5] = R->verdict;
    cells[6] = size_str(bufs[3], 48, R->limit);
    cells[7] = size_str(bufs[4], 48, R->used);
    cells[8] = bufs[1];
    cells[9] = size_str(bufs[5], 48, R->max_peak);
}

static void text_widths(const hsrun *runs, int nr, int width[RUN_COLS])
{
    static const char *const head[RUN_COLS] = {"#",        "started (UTC)", "run",   "commit",
                                               "branch",   "verdict",       "limit", "used max",
                                               "headroom", "max peak"};
    static const int give[] = {2, 4, 3}; /* run, branch, commit */
    int i, c, total = 0;
    for (c = 0; c < RUN_COLS; c++)
        width[c] = (int)strlen(head[c]);
    for (i = 0; i < nr; i++) {
        const char *cells[RUN_COLS];
        char bufs[6][48];
        run_cells(&runs[i], i, 1, bufs, cells);
        for (c = 0; c < RUN_COLS; c++) {
            int w = (int)strlen(cells[c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (c = 0; c < RUN_COLS; c++) {
        if (width[c] > col_cap[c])
            width[c] = col_cap[c];
        total += width[c] + 1;
    }
    for (i = 0; i < 3 && total > 99; i++) { /* one leading space, 100 columns */
        int cut = total - 99, room = width[give[i]] - 4;
        if (room > 0) {
            cut = cut < room ? cut : room;
            width[give[i]] -= cut;
            total -= cut;
        }
    }
}

static void show_write(FILE *out, const hopts *o, const hsrun *runs, int nr, const hstest *tests,
                       int nt)
{
    char s1[32], s2[32], s3[32];
    int width[RUN_COLS];
    int i, t, md = o->format == RM_FMT_MARKDOWN, html = o->format == RM_FMT_HTML;
    if (o->format == RM_FMT_JSON) {
        fprintf(out, "{\"schema\": \"resmon-history-show/1\", \"runs\": [");
        for (i = 0; i < nr; i++) {
            const hsrun *R = &runs[i];
            fprintf(out, "%s\n  {\"run_id\": ", i ? "," : "");
            j_str(out, R->run_id);
            fprintf(out, ", \"commit\": ");
            j_str(out, R->commit);
            fprintf(out, ", \"branch\": ");
            j_str(out, R->branch);
            fprintf(out, ", \"verdict\": ");
            j_str(out, R->verdict);
            fprintf(out, ", \"started\": ");
            j_time(out, R->started);
            fprintf(out, ", \"limit\": ");
            j_num(out, R->limit);
            fprintf(out, ", \"used_max\": ");
            j_num(out, R->used);
            fprintf(out, ", \"headroom\": ");
            j_num(out, R->headroom);
            fprintf(out, ", \"max_peak\": ");
            j_num(out, R->max_peak);
            fputc('}', out);
        }
        fprintf(out, "],\n \"tests\": [");
        for (t = 0; t < nt; t++) {
            fprintf(out, "%s\n  {\"id\": ", t ? "," : "");
            j_str(out, tests[t].name);
            fprintf(out, ", \"runs\": [");
            for (i = 0; i < nr; i++) {
                fprintf(out, "%s{\"peak\": ", i ? ", " : "");
                j_num(out, tests[t].v[i][0]);
                fprintf(out, ", \"used\": ");
                j_num(out, tests[t].v[i][1]);
                fprintf(out, ", \"growth\": ");
                j_num(out, tests[t].v[i][2]);
                fprintf(out, ", \"duration_us\": ");
                j_num(out, tests[t].v[i][3]);
                fputc('}', out);
            }
            fprintf(out, "]}");
        }
        fprintf(out, "]}\n");
        return;
    }
    if (html)
        fprintf(out, "<!DOCTYPE html>\n<html><head><meta charset=\"ascii\"><title>resmon "
                     "history</title>\n<style>body{font-family:sans-serif}td,th{padding:2px 8px;"
                     "text-align:right}td:first-child{text-align:left}</style></head><body>\n"
                     "<h1>resmon history</h1>\n");
    else if (md)
        fprintf(out, "## resmon history\n\n");
    else
        fprintf(out, "resmon history: %d run%s, oldest first\n", nr, nr == 1 ? "" : "s");
    if (nr && (md || html)) {
        int64_t *hs = malloc(sizeof(int64_t) * (size_t)nr);
        const char *lab[1] = {"headroom"};
        if (hs) {
            for (i = 0; i < nr; i++)
                hs[i] = runs[i].headroom;
            if (md)
                mermaid(out, "Headroom against the memory limit (MiB), oldest run first", nr, 1,
                        hs);
            else
                svg_chart(out, "Headroom against the memory limit, oldest run first", "MiB",
                          1048576.0, nr, 1, hs, lab);
            free(hs);
        }
    }
    /* the runs' table */
    memset(width, 0, sizeof(width));
    if (html)
        fprintf(out, "<h2>Runs</h2>\n<table>\n<tr><th>#</th><th>started (UTC)</th><th>run</th>"
                     "<th>commit</th><th>branch</th><th>verdict</th><th>limit</th><th>used "
                     "max</th><th>headroom</th><th>largest test peak</th></tr>\n");
    else if (md)
        fprintf(out, "| # | started (UTC) | run | commit | branch | verdict | limit | used max | "
                     "headroom | largest test peak |\n|---|---|---|---|---|---|---|---|---|---|\n");
    else
        text_widths(runs, nr, width);
    if (!html && !md) {
        static const char *const head[10] = {"#",        "started (UTC)", "run",   "commit",
                                             "branch",   "verdict",       "limit", "used max",
                                             "headroom", "max peak"};
        fprintf(out, "\nRUNS  headroom: the limit (cgroup limit below the machine's memory, else "
                     "the machine's)\n      minus the most used (cgroup use, or total - lowest "
                     "available)\n ");
        text_row(out, head, width);
    }
    for (i = 0; i < nr; i++) {
        const char *cells[RUN_COLS];
        char bufs[6][48];
        int c;
        run_cells(&runs[i], i, !html && !md, bufs, cells);
        if (html || md) {
            fputs(html ? "<tr>" : "|", out);
            for (c = 0; c < 10; c++) {
                fputs(html ? "<td>" : " ", out);
                if (c == 3) {
                    char sh[9]; /* a short commit */
                    size_t n = strnlen(cells[c], sizeof(sh) - 1);
                    memcpy(sh, cells[c], n);
                    sh[n] = '\0';
                    rm_put_escaped(out, sh, md, (size_t)-1);
                } else {
                    rm_put_escaped(out, cells[c], md, (size_t)-1);
                }
                fputs(html ? "</td>" : " |", out);
            }
            fputs(html ? "</tr>\n" : "\n", out);
        } else {
            fputc(' ', out);
            text_row(out, cells, width);
        }
    }
    if (html)
        fprintf(out, "</table>\n");
    for (t = 0; t < nt; t++) {
        const hstest *T = &tests[t];
        if (html) {
            int64_t *ser = malloc(sizeof(int64_t) * 3 * (size_t)(nr ? nr : 1));
            const char *lab[3] = {"peak", "used", "growth"};
            fprintf(out, "<h2>");
            rm_put_escaped(out, T->name, 0, (size_t)-1);
            fprintf(out, "</h2>\n");
            if (ser && nr) {
                for (i = 0; i < nr; i++) {
                    ser[i] = T->v[i][0];
                    ser[nr + i] = T->v[i][1];
                    ser[2 * nr + i] = T->v[i][2];
                }
                svg_chart(out, "peak, used and growth per run, oldest first", "MiB", 1048576.0, nr,
                          3, ser, lab);
            }
            free(ser);
            fprintf(out, "<table>\n<tr><th>#</th><th>run</th><th>commit</th><th>peak</th><th>"
                         "used</th><th>growth</th><th>duration</th></tr>\n");
        } else if (md) {
            int64_t *ser = malloc(sizeof(int64_t) * (size_t)(nr ? nr : 1));
            fprintf(out, "\n### ");
            rm_put_escaped(out, T->name, 1, (size_t)-1);
            fprintf(out, "\n\n");
            if (ser && nr) {
                for (i = 0; i < nr; i++)
                    ser[i] = T->v[i][0];
                mermaid(out, "Peak RSS (MiB), oldest run first", nr, 1, ser);
            }
            free(ser);
            fprintf(out, "| # | run | commit | peak | used | growth | duration |\n"
                         "|---|---|---|---|---|---|---|\n");
        } else {
            fprintf(out, "\nTEST  %s\n  %-3s %-14s %-8s %10s %10s %10s %10s\n", T->name, "#", "run",
                    "commit", "peak", "used", "growth", "duration");
        }
        for (i = 0; i < nr; i++) {
            char dur[32], idx[16];
            int k = snprintf(idx, sizeof(idx), "%d", i + 1);
            if (T->v[i][0] == HNULL && T->v[i][3] == HNULL && T->v[i][2] == HNULL)
                continue; /* not in that run */
            if (T->v[i][3] != HNULL)
                k = snprintf(dur, sizeof(dur), "%.3fs", (double)T->v[i][3] / 1e6);
            else
                k = snprintf(dur, sizeof(dur), "-");
            (void)k;
            size_str(s1, sizeof(s1), T->v[i][0]);
            size_str(s2, sizeof(s2), T->v[i][1]);
            size_str(s3, sizeof(s3), T->v[i][2]);
            if (html || md) {
                const char *cells[7] = {idx, runs[i].run_id, runs[i].commit, s1, s2, s3, dur};
                char sh[9];
                int c;
                k = snprintf(sh, sizeof(sh), "%.8s", runs[i].commit);
                cells[2] = sh;
                fputs(html ? "<tr>" : "|", out);
                for (c = 0; c < 7; c++) {
                    fputs(html ? "<td>" : " ", out);
                    rm_put_escaped(out, cells[c], md, (size_t)-1);
                    fputs(html ? "</td>" : " |", out);
                }
                fputs(html ? "</tr>\n" : "\n", out);
            } else {
                fprintf(out, "  %-3s %-14.14s %-8.8s %10s %10s %10s %10s\n", idx, runs[i].run_id,
                        runs[i].commit, s1, s2, s3, dur);
            }
        }
        if (html)
            fprintf(out, "</table>\n");
    }
    if (html)
        fprintf(out, "</body></html>\n");
}

static int cmd_show(const hopts *o)
{
    hdb *db = NULL;
    hres r;
    hsrun *runs = NULL;
    hstest *tests = NULL;
    char err[600], *in = NULL;
    const char *p[2];
    int i, t, nr = 0, nt = 0, missing = 0, rc = HX_USAGE, k;
    size_t cap, n;
    FILE *out = stdout;
    char lim[16];
    memset(&r, 0, sizeof(r));
    db = hdb_open(o->db, 0, &missing, err, sizeof(err));
    if (!db) {
        fprintf(stderr, "resmon-report history: %s\n", missing ? "no such database" : err);
        if (missing)
            fprintf(stderr, "  (%s)\n", o->db);
        return HX_USAGE;
    }
    k = snprintf(lim, sizeof(lim), "%d", o->runs);
    (void)k;
    p[0] = lim;
    p[1] = o->job;
    if (hdb_query(db,
                  o->job ? "SELECT id, run_id, commit_sha, branch, verdict, started, mem_total, "
                           "cg_lim, min_avail, cg_max, max_peak FROM resmon_runs WHERE job = ?2 "
                           "ORDER BY started DESC, id DESC LIMIT CAST(?1 AS INTEGER)"
                         : "SELECT id, run_id, commit_sha, branch, verdict, started, mem_total, "
                           "cg_lim, min_avail, cg_max, max_peak FROM resmon_runs ORDER BY "
                           "started DESC, id DESC LIMIT CAST(?1 AS INTEGER)",
                  o->job ? 2 : 1, p, &r) != 0)
        goto dberr;
    nr = r.rows;
    runs = calloc((size_t)(nr ? nr : 1), sizeof(*runs));
    if (!runs)
        goto done;
    for (i = 0; i < nr; i++) {
        hsrun *R = &runs[nr - 1 - i]; /* oldest first */
        int64_t total = to_i64(hres_val(&r, i, 6)), cgl = to_i64(hres_val(&r, i, 7));
        int64_t avail = to_i64(hres_val(&r, i, 8)), cgm = to_i64(hres_val(&r, i, 9));
        k = snprintf(R->ref, sizeof(R->ref), "%s", hres_val(&r, i, 0));
        copy_field(R->run_id, hres_val(&r, i, 1));
        copy_field(R->commit, hres_val(&r, i, 2));
        copy_field(R->branch, hres_val(&r, i, 3));
        k = snprintf(R->verdict, sizeof(R->verdict), "%s",
                     hres_val(&r, i, 4) ? hres_val(&r, i, 4) : "");
        R->started = to_i64(hres_val(&r, i, 5));
        R->max_peak = to_i64(hres_val(&r, i, 10));
        R->limit = limit_of(total, cgl);
        R->used = HNULL;
        if (R->limit != HNULL && R->limit == cgl && cgl != total)
            R->used = cgm;
        else if (total != HNULL && avail != HNULL)
            R->used = total - avail;
        if (R->used == HNULL)
            R->used = R->max_peak;
        R->headroom = R->limit != HNULL && R->used != HNULL ? R->limit - R->used : HNULL;
    }
    hres_free(&r);
    /* which tests: those named, else the largest peaks of the newest run */
    tests = calloc(H_SHOW_TESTS, sizeof(*tests));
    if (!tests)
        goto done;
    if (o->n_tests) {
        for (t = 0; t < o->n_tests; t++)
            clean(tests[nt++].name, H_NAME_MAX, o->tests[t]);
    } else if (nr) {
        p[0] = runs[nr - 1].ref;
        if (hdb_query(db,
                      "SELECT n.name, max(t.peak) AS pk FROM resmon_tests t JOIN resmon_test_ids n "
                      "ON n.id = t.test WHERE t.run = CAST(?1 AS BIGINT) AND t.peak IS NOT NULL "
                      "GROUP BY n.name ORDER BY pk DESC, n.name LIMIT 5",
                      1, p, &r) != 0)
            goto dberr;
        for (i = 0; i < r.rows && nt < H_SHOW_TOP; i++)
            k = snprintf(tests[nt++].name, H_NAME_MAX, "%s", hres_val(&r, i, 0));
        hres_free(&r);
    }
    cap = 64 + (size_t)nr * 24;
    in = malloc(cap);
    if (!in)
        goto done;
    n = 0;
    for (i = 0; i < nr; i++) {
        k = snprintf(in + n, cap - n, "%s%lld", i ? ", " : "", strtoll(runs[i].ref, NULL, 10));
        if (k < 0 || (size_t)k >= cap - n)
            goto done;
        n += (size_t)k;
    }
    for (t = 0; t < nt; t++) {
        char *sql;
        size_t sl = n + 400;
        tests[t].v = malloc(sizeof(*tests[t].v) * (size_t)(nr ? nr : 1));
        sql = malloc(sl);
        if (!tests[t].v || !sql) {
            free(sql);
            goto done;
        }
        for (i = 0; i < nr; i++)
            tests[t].v[i][0] = tests[t].v[i][1] = tests[t].v[i][2] = tests[t].v[i][3] = HNULL;
        if (!nr) {
            free(sql);
            continue;
        }
        k = snprintf(sql, sl,
                     "SELECT t.run, max(t.peak), max(t.used), max(t.growth), max(t.duration) FROM "
                     "resmon_tests t WHERE t.test = (SELECT id FROM resmon_test_ids WHERE name = "
                     "?1) AND t.run IN (%s) GROUP BY t.run",
                     in);
        p[0] = tests[t].name;
        if (k < 0 || (size_t)k >= sl || hdb_query(db, sql, 1, p, &r) != 0) {
            free(sql);
            goto dberr;
        }
        free(sql);
        for (i = 0; i < r.rows; i++) {
            int j, c;
            for (j = 0; j < nr; j++)
                if (hres_val(&r, i, 0) && strcmp(runs[j].ref, hres_val(&r, i, 0)) == 0)
                    for (c = 0; c < 4; c++)
                        tests[t].v[j][c] = to_i64(hres_val(&r, i, 1 + c));
        }
        hres_free(&r);
    }
    if (o->out_path && !(out = fopen(o->out_path, "wb"))) {
        perror(o->out_path);
        goto done;
    }
    show_write(out, o, runs, nr, tests, nt);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        fprintf(stderr, "resmon-report history: the result could not be written\n");
        out = stdout;
        goto done;
    }
    out = stdout;
    rc = HX_OK;
    goto done;
dberr:
    fprintf(stderr, "resmon-report history: %s\n", hdb_errmsg(db));
done:
    if (out != stdout)
        fclose(out);
    hres_free(&r);
    if (tests)
        for (t = 0; t < H_SHOW_TESTS; t++)
            free(tests[t].v);
    free(tests);
    free(runs);
    free(in);
    hdb_close(db);
    return rc;
}

/* ---- add, the command ---- */

static int cmd_add(const hopts *o)
{
    hrun h;
    hdb *db;
    char err[600];
    int already = 0, rc;
    if (load_run(o, &h) != 0) {
        if (h.run)
            rm_run_free(h.run);
        return HX_USAGE;
    }
    db = hdb_open(o->db, 1, NULL, err, sizeof(err));
    if (!db) {
        fprintf(stderr, "resmon-report history: %s\n", err);
        rm_run_free(h.run);
        return HX_USAGE;
    }
    rc = store(db, &h, &already);
    if (rc != 0)
        fprintf(stderr, "resmon-report history: %s\n", hdb_errmsg(db));
    else if (already)
        printf("resmon history: run %s (job '%s') is already stored: nothing changed\n", h.id.run,
               h.id.job);
    else
        printf("resmon history: stored run %s (job '%s', %s, %d test instances, %d fixtures)\n",
               h.id.run, h.id.job, rm_verdict_name(h.run->verdict.kind), h.run->n_tests,
               h.run->n_fix);
    hdb_close(db);
    rm_run_free(h.run);
    return rc ? HX_USAGE : HX_OK;
}

/* ---- the command line ---- */

static void usage(FILE *o)
{
    fprintf(o, "usage: resmon-report history add --db DB [--run ID] [--commit SHA] [--branch B]\n"
               "                                 [--job NAME] [--repo R] FILE...\n"
               "       resmon-report history check --db DB [--baseline last:N|branch:B|run:ID]\n"
               "                                 [--fail-on-increase PCT] [--min-increase SIZE]\n"
               "                                 [identity options] [-f text|json] FILE...\n"
               "       resmon-report history show --db DB [--job NAME] [--runs N]\n"
               "                                 [-f text|json|markdown|html] [TEST...]\n"
               "DB is a SQLite file, or postgresql://... (libpq connection URI).\n"
               "check defaults: --baseline last:5 --fail-on-increase 20%% --min-increase 16MiB\n"
               "  -o, --output PATH  write there instead of standard output\n"
               "exit: 0 stored / no regression / shown, 1 check found a regression,\n"
               "      2 usage, input or database error, or a database backend not built in\n");
}

int rm_history_main(int argc, char **argv)
{
    hopts o;
    const char *verb;
    int i, (*cmd)(const hopts *) = NULL;
    char **files;
    const char *missing;
    memset(&o, 0, sizeof(o));
    o.pct = 20;
    o.min_inc = 16ll << 20;
    o.runs = H_SHOW_RUNS;
    o.format = RM_FMT_TEXT;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? HX_USAGE : HX_OK;
    }
    verb = argv[1];
    if (strcmp(verb, "add") == 0)
        cmd = cmd_add;
    else if (strcmp(verb, "check") == 0)
        cmd = cmd_check;
    else if (strcmp(verb, "show") == 0)
        cmd = cmd_show;
    if (!cmd) {
        fprintf(stderr, "resmon-report history: unknown command '%s'\n", verb);
        usage(stderr);
        return HX_USAGE;
    }
    files = calloc((size_t)argc + 1, sizeof(char *));
    if (!files)
        return HX_USAGE;
    o.files = files;
    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && ++i)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(files);
            return HX_OK;
        } else if (OPT("--db")) {
            o.db = v;
        } else if (OPT("--run")) {
            o.run = v;
        } else if (OPT("--commit")) {
            o.commit = v;
        } else if (OPT("--branch")) {
            o.branch = v;
        } else if (OPT("--job")) {
            o.job = v;
        } else if (OPT("--repo")) {
            o.repo = v;
        } else if (OPT("--baseline")) {
            o.baseline = v;
        } else if (OPT("-o") || OPT("--output")) {
            o.out_path = v;
        } else if (OPT("--fail-on-increase")) {
            char *end;
            o.pct = strtod(v, &end);
            if (end == v || (*end && strcmp(end, "%") != 0) || o.pct < 0) {
                fprintf(stderr, "resmon-report history: --fail-on-increase wants a percentage "
                                "like 20%%\n");
                free(files);
                return HX_USAGE;
            }
        } else if (OPT("--min-increase")) {
            o.min_inc = parse_size(v);
            if (o.min_inc < 0) {
                fprintf(stderr, "resmon-report history: --min-increase wants a size like 16MiB\n");
                free(files);
                return HX_USAGE;
            }
        } else if (OPT("--runs")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > H_SHOW_MAX) {
                fprintf(stderr, "resmon-report history: --runs wants 1 to %d\n", H_SHOW_MAX);
                free(files);
                return HX_USAGE;
            }
            o.runs = (int)n;
        } else if (OPT("-f") || OPT("--format")) {
            o.format = strcmp(v, "text") == 0                               ? RM_FMT_TEXT
                       : strcmp(v, "json") == 0                             ? RM_FMT_JSON
                       : strcmp(v, "markdown") == 0 || strcmp(v, "md") == 0 ? RM_FMT_MARKDOWN
                       : strcmp(v, "html") == 0                             ? RM_FMT_HTML
                                                                            : -1;
            if (o.format < 0 || (cmd == cmd_check && o.format > RM_FMT_JSON) || cmd == cmd_add) {
                fprintf(stderr, "resmon-report history: format '%s' is not for %s\n", v, verb);
                free(files);
                return HX_USAGE;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "resmon-report history: unknown option or missing value '%s'\n", a);
            usage(stderr);
            free(files);
            return HX_USAGE;
        } else if (cmd == cmd_show) {
            if (o.n_tests >= H_SHOW_TESTS) {
                fprintf(stderr, "resmon-report history: show takes at most %d tests\n",
                        H_SHOW_TESTS);
                free(files);
                return HX_USAGE;
            }
            o.tests[o.n_tests++] = a;
        } else {
            files[o.n_files++] = argv[i];
        }
#undef OPT
    }
    if (!o.db || (cmd != cmd_show && o.n_files == 0)) {
        fprintf(stderr, "resmon-report history %s: %s\n", verb,
                !o.db ? "--db DB is required" : "no input FILE");
        usage(stderr);
        free(files);
        return HX_USAGE;
    }
    missing = hdb_missing_backend(o.db);
    if (missing) {
        fprintf(stderr,
                "resmon-report history: this resmon-report was built without %s support; "
                "install %s\n",
                hdb_is_pg_spec(o.db) ? "PostgreSQL" : "SQLite", missing);
        free(files);
        return HX_USAGE;
    }
    i = cmd(&o);
    free(files);
    return i;
}
