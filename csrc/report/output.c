/* SPDX-License-Identifier: MIT */
/* output.c: writes a run's analysis as text, JSON, Markdown or self-contained HTML. */
#include "report.h"
#include "../record/record.h"

#include <stdlib.h>
#include <string.h>
#ifdef RM_HAVE_CJSON
#include <cJSON.h>
#endif

/* Text output fits in this many columns. */
#define TEXT_COLUMNS 100
/* Points in the Markdown (mermaid) chart. */
#define MERMAID_POINTS 60
/* Test boundaries drawn in the HTML chart; past this, every k-th. */
#define SVG_MAX_TESTS 400
#define SVG_W 960
#define SVG_H 300
#define SVG_PAD 50
/* Processes drawn as their own RSS line. */
#define SVG_MAX_PROCS 6
/* Timeline points written to JSON. */
#define JSON_TIMELINE_MAX 512

#define SCHEMA "resmon-report/1"
#define COMPARE_SCHEMA "resmon-compare/1"

/* ---- formatting helpers ---- */

const char *rm_fmt_size(char *buf, size_t n, uint64_t v)
{
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double d = (double)v;
    int u = -1, k;
    if (v == RM_UNSET) {
        k = snprintf(buf, n, "-");
    } else if (v < 1024) {
        k = snprintf(buf, n, "%llu B", (unsigned long long)v);
    } else {
        while (d >= 1024 && u < 5) {
            d /= 1024;
            u++;
        }
        k = snprintf(buf, n, "%.1f %s", d, units[u]);
    }
    if (k < 0 || (size_t)k >= n)
        buf[0] = '\0';
    return buf;
}

static const char *fmt_delta(char *buf, size_t n, uint64_t a, uint64_t b)
{
    char tmp[32];
    int k;
    if (a == RM_UNSET || b == RM_UNSET) {
        k = snprintf(buf, n, "-");
    } else if (b >= a) {
        k = snprintf(buf, n, "+%s", rm_fmt_size(tmp, sizeof(tmp), b - a));
    } else {
        k = snprintf(buf, n, "-%s", rm_fmt_size(tmp, sizeof(tmp), a - b));
    }
    if (k < 0 || (size_t)k >= n)
        buf[0] = '\0';
    return buf;
}

static const char *fmt_signed(char *buf, size_t n, double v)
{
    char tmp[32];
    int k = snprintf(buf, n, "%s%s", v < 0 ? "-" : "+",
                     rm_fmt_size(tmp, sizeof(tmp), (uint64_t)(v < 0 ? -v : v)));
    if (k < 0 || (size_t)k >= n)
        buf[0] = '\0';
    return buf;
}

/* A test's growth in the tables: RSS at its end minus at its start; a test
 * that never ended (killed, crashed, or running when the run died) has no
 * end, so what it held at the kill, its own growth, or "-" when unknown. */
static const char *growth_cell(char *buf, size_t n, const rm_test *T)
{
    int ended = (T->finished || T->text_done) && !T->killed;
    if (!ended) /* "-" when nothing was read after its start */
        return fmt_delta(buf, n, 0, T->own_growth);
    return fmt_delta(buf, n, T->rss_start, T->rss_end);
}

/* Untrusted text as ASCII: printable bytes kept, others as \xHH; at most
 * max output bytes, then "...". */
static const char *ascii(char *out, size_t cap, const char *s, size_t max);

/* Like ascii(), but a long s keeps its end (a test's name, a file's line)
 * and loses its middle: "tests/a/...::test_x[3]". */
static const char *ascii_mid(char *out, size_t cap, const char *s, size_t max)
{
    static char all[4 * RM_ID_MAX + 8];
    size_t n, h, t;
    int k;
    if (max + 1 > cap)
        max = cap - 1;
    ascii(all, sizeof(all), s, sizeof(all) - 1);
    n = strlen(all);
    if (n <= max || max < 12)
        return ascii(out, cap, s, max);
    h = (max - 3) / 3;
    t = max - 3 - h;
    k = snprintf(out, cap, "%.*s...%s", (int)h, all, all + n - t);
    if (k < 0)
        out[0] = '\0';
    return out;
}

/* A test id in at most max columns: whole when it fits; else without the
 * directories of its file ("rv/lib/.../tests/test_dag.py::T::test_x" ->
 * ".../test_dag.py::T::test_x"), the part a reader needs; then, if still too
 * long, without the middle of that. The JSON keeps every id whole. */
static const char *ascii_id(char *out, size_t cap, const char *id, size_t max)
{
    const char *sep = strstr(id, "::"), *slash = NULL, *p;
    char *buf;
    size_t n = strlen(id);
    if (n <= max || !sep)
        return ascii_mid(out, cap, id, max);
    for (p = id; p < sep; p++)
        if (*p == '/')
            slash = p;
    if (!slash)
        return ascii_mid(out, cap, id, max);
    buf = malloc(n + 4);
    if (!buf)
        return ascii_mid(out, cap, id, max);
    memcpy(buf, "...", 3);
    memcpy(buf + 3, slash, n - (size_t)(slash - id) + 1);
    ascii_mid(out, cap, buf, max);
    free(buf);
    return out;
}

static const char *ascii(char *out, size_t cap, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0, lim = cap - 1;
    if (max + 1 < cap)
        lim = max;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        size_t need = (c >= 0x20 && c < 0x7f) ? 1 : 4;
        if (k + need > lim) {
            if (lim >= 3) {
                while (k > lim - 3)
                    k--;
                memcpy(out + k, "...", 3);
                k += 3;
            }
            break;
        }
        if (need == 1) {
            out[k++] = (char)c;
        } else {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
    return out;
}

/* Writes s escaped for HTML (and for Markdown when md): ASCII only. */
/* Writes untrusted text into HTML (md 0) or a Markdown table cell (md 1),
 * at most max bytes of it (then "..."): in HTML every markup character
 * becomes an entity; in Markdown only what Markdown reads there is escaped
 * (a backslash before | ` * _ [ ] \\ ~, and entities for & < >), so a name
 * stays readable in the raw text. Bytes outside printable ASCII: \\xHH. */
void rm_put_escaped(FILE *o, const char *s, int md, size_t max)
{
    size_t i;
    for (i = 0; s && s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            fprintf(o, "\\x%02x", c);
        else if (c == '&')
            fputs("&amp;", o);
        else if (c == '<')
            fputs("&lt;", o);
        else if (c == '>')
            fputs("&gt;", o);
        else if (!md && c == '"')
            fputs("&quot;", o);
        else if (!md && c == '\'')
            fputs("&#39;", o);
        else if (md && strchr("|`*_[]\\~", c)) {
            fputc('\\', o);
            fputc(c, o);
        } else
            fputc(c, o);
    }
    if (s && s[i])
        fputs("...", o);
}

static void put_html(FILE *o, const char *s, int md)
{
    rm_put_escaped(o, s, md, (size_t)-1);
}

int rm_parse_format(const char *s)
{
    if (strcmp(s, "text") == 0)
        return RM_FMT_TEXT;
    if (strcmp(s, "json") == 0)
        return RM_FMT_JSON;
    if (strcmp(s, "markdown") == 0 || strcmp(s, "md") == 0)
        return RM_FMT_MARKDOWN;
    if (strcmp(s, "html") == 0)
        return RM_FMT_HTML;
    return -1;
}

static const char *src_name(const rm_run *run, int src)
{
    return (src >= 0 && src < run->n_src) ? run->src[src].path : "?";
}

static const char *conf_word(double c)
{
    return c >= 0.8 ? "high" : c >= 0.5 ? "medium" : "low";
}

static const char *role_name(int r)
{
    static const char *names[] = {"context", "proves", "supports", "contradicts", "after end"};
    return (r >= 0 && r <= 4) ? names[r] : "?";
}

static const char *phase_name(int ph)
{
    static const char *names[] = {"-", "setup", "call", "teardown"};
    return (ph >= 0 && ph <= 3) ? names[ph] : "-";
}

static double secs(int64_t a, int64_t b)
{
    return (double)(b - a) / 1e6;
}

/* ---- text ---- */

static void text_inputs(FILE *o, const rm_run *run)
{
    int i;
    char a[TEXT_COLUMNS];
    uint64_t recs = 0, legacy = 0;
    for (i = 0; i < run->n_src; i++) {
        recs += run->src[i].records;
        legacy += run->src[i].legacy;
    }
    fprintf(o, "resmon-report: %d input%s, %llu lines, %llu records, %llu legacy lines\n",
            run->n_src, run->n_src == 1 ? "" : "s", (unsigned long long)run->lines_total,
            (unsigned long long)recs, (unsigned long long)legacy);
    for (i = 0; i < run->n_src; i++) {
        const rm_source *S = &run->src[i];
        fprintf(o, "  %s: %llu lines%s", ascii(a, sizeof(a), S->path, 40),
                (unsigned long long)S->lines,
                S->gz            ? " (gzip)"
                : S->zip_members ? " (zip)"
                                 : "");
        if (S->records || S->legacy)
            fprintf(o, ", %llu records, %llu legacy", (unsigned long long)S->records,
                    (unsigned long long)S->legacy);
        if (S->gh_lines)
            fprintf(o, ", GitHub job log");
        if (S->bash_blocks)
            fprintf(o, ", %llu resource blocks", (unsigned long long)S->bash_blocks);
        fputc('\n', o);
        if (S->error[0])
            fprintf(o, "    error: %s\n", ascii(a, sizeof(a), S->error, 90));
        if (S->cut_lines)
            fprintf(o, "    skipped: %llu lines longer than %d bytes were cut (first at %s:%llu)\n",
                    (unsigned long long)S->cut_lines, RM_READER_LINE_MAX,
                    ascii(a, sizeof(a), S->path, 20), (unsigned long long)S->first_cut_line);
        if (S->malformed_records)
            fprintf(o, "    skipped: fields of %llu malformed records (first at %s:%llu)\n",
                    (unsigned long long)S->malformed_records, ascii(a, sizeof(a), S->path, 30),
                    (unsigned long long)S->first_malformed_line);
        if (S->incomplete_records)
            fprintf(o, "    note: %llu records were cut (no final \" ;\")\n",
                    (unsigned long long)S->incomplete_records);
        if (S->unstamped)
            fprintf(o, "    skipped: %llu record-like lines without a ts (printed by a test?)\n",
                    (unsigned long long)S->unstamped);
        if (S->replayed)
            fprintf(o,
                    "    skipped: %llu records stamped hours from their line (another run's?), "
                    "first at line %llu\n",
                    (unsigned long long)S->replayed, (unsigned long long)S->first_replayed_line);
        if (S->unknown_version)
            fprintf(o, "    note: unknown format version %lu at line %llu (fields read anyway)\n",
                    S->unknown_version, (unsigned long long)S->unknown_version_line);
        if (S->gz_cut)
            fprintf(o, "    note: the gzip stream is truncated\n");
        if (S->cli_jobs > 1 || (S->zip_jobs > 1 && S->zip_index == 1))
            fprintf(o, "    note: the logs of several jobs, read as one run: see resmon-report "
                       "triage\n");
    }
}

/* Prints s (ASCII) indented by two spaces, wrapped at spaces to fit
 * TEXT_COLUMNS; a word longer than a line is cut. */
static void text_wrapped(FILE *o, const char *s)
{
    const int width = TEXT_COLUMNS - 2;
    size_t n = strlen(s);
    while (n > 0) {
        size_t k = n;
        if (k > (size_t)width) {
            for (k = (size_t)width; k > 0 && s[k] != ' '; k--)
                ;
            if (k == 0)
                k = (size_t)width;
        }
        fprintf(o, "  %.*s\n", (int)k, s);
        s += k;
        n -= k;
        while (n > 0 && *s == ' ') {
            s++;
            n--;
        }
    }
}

static void text_verdict(FILE *o, const rm_run *run)
{
    const rm_verdict *v = &run->verdict;
    char a[TEXT_COLUMNS], b[96], w[sizeof(v->why)], why[sizeof(v->why) + 64];
    int i, k;
    fprintf(o, "\nVERDICT  %s  (confidence %s, %.2f)\n", rm_verdict_name(v->kind),
            conf_word(v->confidence), v->confidence);
    k = snprintf(why, sizeof(why), "%s", ascii(w, sizeof(w), v->why, sizeof(w) - 1));
    /* exit code -1: unknown; Windows statuses are negative */
    if (v->exit_code != -1 && k >= 0 && (size_t)k < sizeof(why))
        k += snprintf(why + k, sizeof(why) - (size_t)k, "; exit code %ld", v->exit_code);
    if (v->signal > 0 && k >= 0 && (size_t)k < sizeof(why))
        snprintf(why + k, sizeof(why) - (size_t)k, "; signal %ld", v->signal);
    text_wrapped(o, why);
    for (i = 0; i < v->n_ev; i++) {
        const rm_evidence *e = &run->evl[v->ev[i]];
        int k = snprintf(b, sizeof(b), "%s:%llu", ascii(a, 60, src_name(run, e->src), 58),
                         (unsigned long long)e->line);
        if (k < 0 || (size_t)k >= sizeof(b))
            b[0] = '\0';
        fprintf(o, "  %-9s %-12s %s\n    > %s\n", role_name(e->role),
                rm_evidence_name((rm_evidence_kind)e->kind), b, ascii(a, sizeof(a), e->text, 94));
    }
    if (run->max_dump_threads)
        fprintf(o, "  threads in the last dump: %llu\n", (unsigned long long)run->max_dump_threads);
    if (run->crash_frame[0])
        /* a dump in a run that went on (a handled Windows exception, a
           faulthandler.dump_traceback) is not where it crashed */
        fprintf(o, "  %s: %s\n",
                v->kind == RM_V_PASSED || v->kind == RM_V_FAILED ? "dumped in" : "crashed in",
                ascii_mid(a, sizeof(a), run->crash_frame, 85));
}

/* What the boundary's test is, in words. */
static const char *boundary_words(const rm_run *run)
{
    return run->boundary_kind == RM_B_MEMORY_ERROR ? "raised MemoryError (the run went on)"
           : run->boundary_kind == RM_B_CRASHED    ? "xdist: its worker crashed while running it"
                                                   : "last test started, not finished";
}

static void text_boundary(FILE *o, const rm_run *run)
{
    char a[TEXT_COLUMNS], s1[32], s2[32];
    const rm_proc *P = run->boundary_proc >= 0 ? &run->procs[run->boundary_proc] : NULL;
    /* the fixture and mark of its process tell where a run stopped, not
       where a test that the run survived raised MemoryError */
    const rm_proc *Pstate = run->boundary_kind == RM_B_MEMORY_ERROR ? NULL : P;
    fprintf(o, "\nBOUNDARY\n");
    if (run->boundary_test >= 0) {
        const rm_test *T = &run->tests[run->boundary_test];
        const char *w = boundary_words(run);
        fprintf(o, "  %s: %s\n", w, ascii_id(a, sizeof(a), T->id, TEXT_COLUMNS - 4 - strlen(w)));
        fprintf(o, "    phase %s%s", phase_name(run->boundary_phase),
                run->boundary_at_end ? " (ended; between phases)" : "");
        if (P && P->pid)
            fprintf(o, ", pid %lld", P->pid);
        if (P && P->worker[0])
            fprintf(o, ", worker %s", P->worker);
        fprintf(o, ", started at %s:%llu\n", ascii(a, 40, src_name(run, T->src), 32),
                (unsigned long long)T->line);
    } else {
        fprintf(o, "  no test was running at the end of the log\n");
    }
    P = Pstate;
    if (P && P->fixture[0])
        fprintf(o, "  fixture %s%s (%s)\n",
                P->fixture_active ? "" : "last: ", ascii(a, 60, P->fixture, 50),
                P->fixture_scope[0] ? P->fixture_scope : "?");
    if (P && P->has_mark) {
        fprintf(o, "  last mark \"%s\" at %s:%llu", ascii(a, 50, P->mark_label, 40),
                ascii(s1, sizeof(s1), src_name(run, P->mark_src), 24),
                (unsigned long long)P->mark_line);
        if (P->mark_t && run->t_last)
            fprintf(o, ", %.1f s before the end of the log", secs(P->mark_t, run->t_last));
        fputc('\n', o);
    }
    if (run->boundary_proc >= 0 || run->boundary_rss != RM_UNSET)
        fprintf(o, "  then rss %s, available %s, threads %s\n",
                rm_fmt_size(s1, sizeof(s1), run->boundary_rss),
                rm_fmt_size(s2, sizeof(s2), run->boundary_avail),
                run->boundary_thr == RM_UNSET
                    ? "-"
                    : (snprintf(a, sizeof(a), "%llu", (unsigned long long)run->boundary_thr) > 0
                           ? a
                           : "-"));
}

static void text_culprit(FILE *o, const rm_run *run)
{
    char a[TEXT_COLUMNS], s1[32], s2[32];
    int i, victims = 0;
    if (run->culprit_test < 0) {
        if (run->verdict.kind != RM_V_OOM_KILL)
            return; /* no death of memory: no culprit to look for */
        fprintf(o, "\nCULPRIT  unknown: %s\n", ascii(a, sizeof(a), run->culprit_why, 82));
        if (run->group_tests)
            fprintf(o, "  but %d %s grew %s in all (%.0f%% of all tests' own growth):\n    %s\n",
                    run->group_tests,
                    strcmp(run->group_kind, "file") == 0 ? "tests of one file"
                                                         : "parameters of one test",
                    fmt_delta(s1, sizeof(s1), 0, run->group_growth), 100 * run->group_share,
                    ascii_id(a, sizeof(a), run->group_key, 94));
    } else {
        const rm_test *T = &run->tests[run->culprit_test];
        const rm_proc *P = T->proc >= 0 ? &run->procs[T->proc] : NULL;
        fprintf(o, "\nCULPRIT  (%s)\n", ascii(a, sizeof(a), run->culprit_why, 86));
        fprintf(o, "  %s\n", ascii_id(a, sizeof(a), T->id, 96));
        fprintf(o, "    peak %s, own growth %s",
                T->peak ? rm_fmt_size(s1, sizeof(s1), T->peak) : "-",
                fmt_delta(s2, sizeof(s2), 0, T->own_growth));
        if (T->tree_peak > T->peak)
            fprintf(o, ", process tree %s", rm_fmt_size(s1, sizeof(s1), T->tree_peak));
        if (P && P->pid)
            fprintf(o, ", pid %lld", P->pid);
        if (P && P->worker[0])
            fprintf(o, ", worker %s", P->worker);
        fprintf(o, "%s\n",
                T->killed                     ? ", killed"
                : T->finished || T->text_done ? ""
                                              : ", unfinished");
    }
    for (i = 0; i < run->n_procs; i++) {
        const rm_proc *P = &run->procs[i];
        if (P->cur_test < 0 || P->cur_test == run->culprit_test ||
            run->tests[P->cur_test].finished || run->tests[P->cur_test].text_done)
            continue;
        if (!victims++)
            fprintf(o, run->culprit_test < 0
                           ? "  unfinished at the end (the culprit may be among them):\n"
                           : "  also unfinished at the end (victims?):\n");
        fprintf(o, "    %-6s %s\n", P->worker[0] ? P->worker : "-",
                ascii_id(a, 90, run->tests[P->cur_test].id, 88));
    }
}

static void text_system(FILE *o, const rm_run *run)
{
    char s1[32], s2[32], s3[32], a[64];
    fprintf(o, "\nSYSTEM   total %s, lowest available %s",
            rm_fmt_size(s1, sizeof(s1), run->mem_total),
            rm_fmt_size(s2, sizeof(s2), run->min_avail));
    if (run->min_avail != RM_UNSET)
        fprintf(o, " (%s:%llu)", ascii(a, 40, src_name(run, run->min_avail_src), 30),
                (unsigned long long)run->min_avail_line);
    fputc('\n', o);
    if (run->cg_lim != RM_UNSET || run->cg_max)
        fprintf(o, "  cgroup limit %s, highest use %s\n", rm_fmt_size(s1, sizeof(s1), run->cg_lim),
                rm_fmt_size(s3, sizeof(s3), run->cg_max ? run->cg_max : RM_UNSET));
    if (run->cg_oom_min != RM_UNSET)
        fprintf(o, "  cgroup OOM kills %llu -> %llu in the samples",
                (unsigned long long)run->cg_oom_min, (unsigned long long)run->cg_oom_max);
    if (run->cg_oom_run != RM_UNSET)
        fprintf(o, "%s%llu during the whole run (the sampler's verdict)",
                run->cg_oom_min != RM_UNSET ? "; " : "  cgroup OOM kills: ",
                (unsigned long long)run->cg_oom_run);
    if (run->cg_oom_min != RM_UNSET || run->cg_oom_run != RM_UNSET)
        fputc('\n', o);
    if (run->samples || run->bash_samples)
        fprintf(o, "  %llu sampler samples, %llu bash-loop samples\n",
                (unsigned long long)run->samples, (unsigned long long)run->bash_samples);
    if (run->tree_hwm)
        fprintf(o, "  process tree peak %s\n", rm_fmt_size(s1, sizeof(s1), run->tree_hwm));
    if (run->has_summary && run->n_passed >= 0 && !run->summary_final)
        fprintf(o,
                "  pytest: no final summary (tests ran after one that said %ld passed, %ld "
                "failed)\n",
                run->n_passed, run->n_failed);
    else if (run->has_summary && run->n_passed >= 0)
        fprintf(o, "  pytest: %ld passed, %ld failed, %ld errors, %ld skipped\n", run->n_passed,
                run->n_failed, run->n_errors, run->n_skipped);
    else if (run->has_summary)
        fprintf(o, "  pytest: the session finished (summary record)\n");
}

static void text_tests(FILE *o, const rm_run *run, int top)
{
    int n, i, *idx = rm_tests_by_peak(run, &n);
    char a[TEXT_COLUMNS], s1[32], s2[32], s3[32], s4[32], w[16];
    if (!idx)
        return;
    fprintf(o, "\nTESTS    %d tests", run->n_tests);
    if (run->tests_over_cap)
        fprintf(o, " (cap of %d reached: %llu more not tracked)", RM_REPORT_MAX_TESTS,
                (unsigned long long)run->tests_over_cap);
    if (n > top)
        fprintf(o, ", top %d by peak", top);
    fputc('\n', o);
    if (n > 0)
        fprintf(o, "  %-10s %-11s %-10s %-10s %-7s %-5s %s\n", "peak", "growth", "min avail",
                "others", "outcome", "wrkr", "test");
    for (i = 0; i < n && i < top; i++) {
        const rm_test *T = &run->tests[idx[i]];
        const rm_proc *P = T->proc >= 0 ? &run->procs[T->proc] : NULL;
        fprintf(o, "  %-10s %-11s %-10s %-10s %-7s %-5s %s\n",
                T->peak ? rm_fmt_size(s1, sizeof(s1), T->peak) : "-",
                growth_cell(s2, sizeof(s2), T), rm_fmt_size(s3, sizeof(s3), T->min_avail),
                rm_fmt_size(s4, sizeof(s4), T->others_at_min),
                T->killed       ? "killed"
                : T->outcome[0] ? T->outcome
                                : (T->finished || T->text_done ? "done" : "running"),
                P && P->worker[0] ? ascii(w, sizeof(w), P->worker, 5) : "-",
                ascii_id(a, sizeof(a), T->id, 38));
    }
    free(idx);
}

/* One line on what the main process's trend means. */
const char *rm_trend_words(const rm_run *run, const rm_trend *T, int kill)
{
    static char buf[160];
    char a[32], b[32], id[64];
    int k;
    if (strcmp(T->cls, "leak") == 0)
        k = snprintf(buf, sizeof(buf),
                     "rising over %d tests (%s per test, %s in all): likely a leak", T->n,
                     fmt_signed(a, sizeof(a), T->slope), fmt_signed(b, sizeof(b), T->rise));
    else if (strcmp(T->cls, "steps") == 0)
        k = snprintf(buf, sizeof(buf),
                     "%d step(s) carry the rise: caches, imports or fixtures, "
                     "not a steady leak",
                     T->steps);
    else if (strcmp(T->cls, "single") == 0 && T->top_test >= 0)
        /* 47 columns of words and 2 of indent leave the id 51 of 100 */
        k = snprintf(buf, sizeof(buf), "one test carries %.0f%% of the rise, not a leak: %s",
                     T->top_share * 100, ascii_id(id, sizeof(id), run->tests[T->top_test].id, 51));
    else if (strcmp(T->cls, "single") == 0)
        k = snprintf(buf, sizeof(buf), "one test carries %.0f%% of the rise: not a leak",
                     T->top_share * 100);
    else if (strcmp(T->cls, "flat") == 0 && kill)
        k = snprintf(buf, sizeof(buf),
                     "flat before the end: one large test or the runner, not a "
                     "leak");
    else if (strcmp(T->cls, "flat") == 0)
        k = snprintf(buf, sizeof(buf), "flat: no leak");
    else if (strcmp(T->cls, "noise") == 0)
        k = snprintf(buf, sizeof(buf), "memory swings with no direction: no leak");
    else
        k = snprintf(buf, sizeof(buf), "%s", T->cls);
    return k > 0 ? buf : T->cls;
}

static void text_trend(FILE *o, const rm_run *run)
{
    int i, kill;
    char s1[32];
    if (run->n_trends == 0)
        return;
    fprintf(o, "\nTREND    RSS at the end of each test, per process (docs/report.md: trends)\n");
    for (i = 0; i < run->n_trends; i++) {
        const rm_trend *T = &run->trends[i];
        const rm_proc *P = &run->procs[T->proc];
        char s2[32];
        fprintf(o, "  %s %lld%s%s: %s over %d tests (median %s per test): %s\n",
                P->pid ? "pid" : "process", P->pid ? P->pid : (long long)T->proc,
                P->worker[0] ? " " : "", P->worker, fmt_signed(s2, sizeof(s2), T->rise), T->n,
                fmt_signed(s1, sizeof(s1), T->slope), T->cls);
    }
    kill = run->verdict.kind == RM_V_OOM_KILL || run->verdict.kind == RM_V_RUNNER_SHUTDOWN ||
           run->verdict.kind == RM_V_KILLED;
    if (strcmp(run->trends[0].cls, "too few tests") != 0)
        fprintf(o, "  %s\n", rm_trend_words(run, &run->trends[0], kill));
}

static void text_fixtures(FILE *o, const rm_run *run, int top)
{
    int n, i, shown = 0, *idx = rm_fixtures_by_retained(run, &n);
    char a[TEXT_COLUMNS], s1[32];
    if (!idx)
        return;
    for (i = 0; i < n && shown < top; i++) {
        const rm_fixture *f = &run->fix[idx[i]];
        int64_t held = 0, kept = 0;
        int have_held = rm_fixture_held(f, &held), have_kept = rm_fixture_retained(f, &kept);
        char s2[32], over[48] = "";
        if ((!have_held || held <= 0) && (!have_kept || kept <= 0))
            break;
        if (!shown++)
            fprintf(o, "\nFIXTURES that held or kept memory\n"
                       "  held        kept after teardown  fixture\n");
        if (f->held_tests > 1)
            snprintf(over, sizeof(over), ", over %llu tests", (unsigned long long)f->held_tests);
        fprintf(o, "  %-11s %-20s %s (%s)%s\n",
                have_held ? fmt_signed(s1, sizeof(s1), (double)held) : "?",
                !f->torn_down ? "not torn down"
                              : (have_kept ? fmt_signed(s2, sizeof(s2), (double)kept) : "?"),
                ascii(a, 50, f->name, 40), f->scope[0] ? f->scope : "?", over);
    }
    free(idx);
}

static void text_notes(FILE *o, const rm_run *run)
{
    if (run->procs_over_cap)
        fprintf(o, "\nnote: more than %d processes; %llu records of others ignored\n",
                RM_REPORT_MAX_PROCS, (unsigned long long)run->procs_over_cap);
    if (run->fix_over_cap)
        fprintf(o, "note: more than %d fixtures; the rest not tracked\n", RM_REPORT_MAX_FIXTURES);
    if (run->events_dropped)
        fprintf(o, "note: %llu events beyond the first %d not kept for the timeline\n",
                (unsigned long long)run->events_dropped, RM_REPORT_MAX_EVENTS);
    if (run->items_dropped)
        /* the newest are lost: they may hold the test running at the end */
        fprintf(o,
                "note: %llu records past the limit of %d (or memory) not read: the end may be "
                "missing\n",
                (unsigned long long)run->items_dropped, RM_REPORT_MAX_ITEMS);
    if (run->copies_unchecked)
        fprintf(o,
                "note: %llu records not checked for copies (no memory): a test may count twice\n",
                (unsigned long long)run->copies_unchecked);
}

static void write_text(FILE *o, const rm_run *run, int top)
{
    text_inputs(o, run);
    text_verdict(o, run);
    text_boundary(o, run);
    text_culprit(o, run);
    text_system(o, run);
    text_tests(o, run, top);
    text_trend(o, run);
    text_fixtures(o, run, top);
    text_notes(o, run);
}

/* ---- markdown ---- */

static void write_markdown(FILE *o, const rm_run *run, int top)
{
    const rm_verdict *v = &run->verdict;
    char s1[32], s2[32], s3[32];
    int i, n, *idx;
    fprintf(o, "## resmon: %s (confidence %s, %.2f)\n\n", rm_verdict_name(v->kind),
            conf_word(v->confidence), v->confidence);
    put_html(o, v->why, 1);
    fprintf(o, "\n\n");
    if (v->n_ev) {
        fprintf(o, "| evidence | role | where | line |\n|---|---|---|---|\n");
        for (i = 0; i < v->n_ev; i++) {
            const rm_evidence *e = &run->evl[v->ev[i]];
            fprintf(o, "| %s | %s | ", rm_evidence_name((rm_evidence_kind)e->kind),
                    role_name(e->role));
            put_html(o, src_name(run, e->src), 1);
            fprintf(o, ":%llu | ", (unsigned long long)e->line);
            put_html(o, e->text, 1);
            fprintf(o, " |\n");
        }
        fputc('\n', o);
    }
    if (run->boundary_test >= 0) {
        const rm_proc *P = run->boundary_proc >= 0 ? &run->procs[run->boundary_proc] : NULL;
        fprintf(o, "**Boundary**: %s: ",
                run->boundary_kind == RM_B_MEMORY_ERROR ? "raised MemoryError"
                                                        : "last test started and not finished");
        put_html(o, run->tests[run->boundary_test].id, 1);
        fprintf(o, " (phase %s", phase_name(run->boundary_phase));
        if (run->boundary_kind == RM_B_MEMORY_ERROR)
            P = NULL; /* its process's later fixture and mark are not this test's */
        if (P && P->fixture[0]) {
            fprintf(o, ", fixture ");
            put_html(o, P->fixture, 1);
        }
        fprintf(o, ")");
        if (P && P->has_mark) {
            fprintf(o, "; last mark ");
            put_html(o, P->mark_label, 1);
            if (P->mark_t && run->t_last)
                fprintf(o, " %.1f s before the end", secs(P->mark_t, run->t_last));
        }
        if (run->boundary_rss != RM_UNSET || run->boundary_avail != RM_UNSET)
            fprintf(o, "; then rss %s, available %s",
                    rm_fmt_size(s1, sizeof(s1), run->boundary_rss),
                    rm_fmt_size(s2, sizeof(s2), run->boundary_avail));
        fprintf(o, "\n\n");
    }
    if (run->culprit_test >= 0) {
        const rm_test *T = &run->tests[run->culprit_test];
        fprintf(o, "**Culprit** (");
        put_html(o, run->culprit_why, 1);
        fprintf(o, "): ");
        put_html(o, T->id, 1);
        fprintf(o, ", peak %s",
                rm_fmt_size(s1, sizeof(s1), T->peak > T->tree_peak ? T->peak : T->tree_peak));
        if (run->culprit_rule == RM_C_GROWTH && T->own_growth != RM_UNSET)
            fprintf(o, ", own growth +%s", rm_fmt_size(s2, sizeof(s2), T->own_growth));
        fprintf(o, "\n\n");
    } else if (run->verdict.kind == RM_V_OOM_KILL) {
        fprintf(o, "**Culprit**: unknown: ");
        put_html(o, run->culprit_why, 1);
        if (run->group_tests) {
            fprintf(o, "; but %d %s ", run->group_tests,
                    strcmp(run->group_kind, "file") == 0 ? "tests of" : "parameters of");
            put_html(o, run->group_key, 1);
            fprintf(o, " grew +%s in all (%.0f%% of all tests' own growth)",
                    rm_fmt_size(s2, sizeof(s2), run->group_growth), 100 * run->group_share);
        }
        fprintf(o, "\n\n");
    }
    idx = rm_tests_by_peak(run, &n);
    if (idx && n > 0) {
        fprintf(o, "| peak | growth | min available | outcome | test |\n|---|---|---|---|---|\n");
        for (i = 0; i < n && i < top; i++) {
            const rm_test *T = &run->tests[idx[i]];
            fprintf(o, "| %s | %s | %s | %s | ",
                    T->peak ? rm_fmt_size(s1, sizeof(s1), T->peak) : "-",
                    growth_cell(s2, sizeof(s2), T), rm_fmt_size(s3, sizeof(s3), T->min_avail),
                    T->outcome[0] ? T->outcome : "-");
            put_html(o, T->id, 1);
            fprintf(o, " |\n");
        }
        fputc('\n', o);
    }
    free(idx);
    for (i = 0; i < run->n_trends; i++) {
        const rm_trend *T = &run->trends[i];
        fprintf(o, "- trend pid %lld: %s per test over %d tests, R^2 %.2f: %s\n",
                run->procs[T->proc].pid, fmt_signed(s1, sizeof(s1), T->slope), T->n, T->r2, T->cls);
    }
    /* mermaid: RSS at the end of each test of the process with most tests */
    if (run->n_trends > 0 && run->trends[0].n >= 2) {
        int proc = run->trends[0].proc, cnt = run->procs[proc].n_tests_ended, step, k, first = 1;
        double *ys = calloc((size_t)cnt, sizeof(double));
        if (ys) {
            for (k = 0; k < run->n_tests; k++) {
                const rm_test *T = &run->tests[k];
                if (T->proc == proc && T->end_order >= 0 && T->end_order < cnt)
                    ys[T->end_order] = T->rss_end == RM_UNSET ? 0 : (double)T->rss_end;
            }
            step = (cnt + MERMAID_POINTS - 1) / MERMAID_POINTS;
            fprintf(o,
                    "\n```mermaid\nxychart-beta\n  title \"RSS after each test (MiB)\"\n"
                    "  x-axis \"test\" 1 --> %d\n  y-axis \"MiB\"\n  line [",
                    cnt);
            for (k = 0; k < cnt; k += step) {
                fprintf(o, "%s%.0f", first ? "" : ", ", ys[k] / 1048576.0);
                first = 0;
            }
            fprintf(o, "]\n```\n");
            free(ys);
        }
    }
}

/* ---- html ---- */

static double sx(int64_t t, int64_t t0, int64_t t1)
{
    if (t1 <= t0)
        return SVG_PAD;
    return SVG_PAD + (double)(t - t0) * (SVG_W - 2 * SVG_PAD) / (double)(t1 - t0);
}

/* Values above vmax are drawn at the top edge (the caller says so). */
static double sy(uint64_t v, uint64_t vmax)
{
    if (v > vmax)
        v = vmax;
    return SVG_H - SVG_PAD + 0 - (double)v * (SVG_H - 2 * SVG_PAD) / (double)(vmax ? vmax : 1);
}

/* The memory axis: the machine's total, or, when a cgroup limit below the
 * total applies, the range that matters for it (the larger of the limit and
 * the highest RSS or cgroup use seen, plus headroom for the limit's label).
 * Sets *cg_scale when the cgroup range is used. */
static uint64_t svg_vmax(const rm_run *run, int *cg_scale)
{
    uint64_t vmax = run->mem_total != RM_UNSET ? run->mem_total : 0, top = 0;
    int i;
    *cg_scale = run->cg_lim != RM_UNSET && run->cg_lim > 0 &&
                (run->mem_total == RM_UNSET || run->cg_lim < run->mem_total);
    for (i = 0; i < run->n_tl; i++) {
        const rm_point *p = &run->tl[i];
        if (p->rss != RM_UNSET && p->rss > top)
            top = p->rss;
        if (p->cg != RM_UNSET && p->cg > top)
            top = p->cg;
        if (!*cg_scale && p->avail != RM_UNSET && p->avail > top)
            top = p->avail;
    }
    if (*cg_scale) {
        vmax = run->cg_lim > top ? run->cg_lim : top;
        return vmax + vmax / 10;
    }
    return top > vmax ? top : vmax;
}

static void write_svg(FILE *o, const rm_run *run)
{
    static const char *colors[] = {"#d95f02", "#7570b3", "#e7298a",
                                   "#66a61e", "#e6ab02", "#a6761d"};
    int64_t t0 = run->t_first, t1 = run->t_last;
    uint64_t vmax;
    int i, p, step, cg_scale, any_cg = 0, avail_on_scale;
    char s1[32], buf_total[32];
    if (run->n_tl == 0 || t1 <= t0) {
        fprintf(o, "<p>No timed samples: no timeline to draw.</p>\n");
        return;
    }
    vmax = svg_vmax(run, &cg_scale);
    /* on the cgroup's scale, the machine's available memory is drawn only
       when it came down into that range */
    avail_on_scale = !cg_scale || (run->min_avail != RM_UNSET && run->min_avail < vmax);
    for (i = 0; i < run->n_tl && !any_cg; i++)
        any_cg = run->tl[i].cg != RM_UNSET;
    fprintf(o,
            "<svg width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    fprintf(o,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
            "stroke=\"#ccc\"/>\n",
            SVG_PAD, SVG_PAD, SVG_W - 2 * SVG_PAD, SVG_H - 2 * SVG_PAD);
    /* the memory axis: labels at 0, 1/4, 1/2, 3/4 and the top, light grid lines */
    for (i = 0; i <= 4; i++) {
        uint64_t v = vmax / 4 * (uint64_t)i;
        double y = sy(i == 4 ? vmax : v, vmax);
        if (i > 0)
            fprintf(o, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                    SVG_PAD, SVG_W - SVG_PAD, y, y);
        fprintf(o, "<text x=\"4\" y=\"%.1f\">%s</text>\n", y + 4,
                i == 0 ? "0" : rm_fmt_size(s1, sizeof(s1), i == 4 ? vmax : v));
    }
    fprintf(o, "<text x=\"%d\" y=\"%d\">0 s</text><text x=\"%d\" y=\"%d\">%.0f s</text>\n", SVG_PAD,
            SVG_H - SVG_PAD + 14, SVG_W - SVG_PAD - 40, SVG_H - SVG_PAD + 14, secs(t0, t1));
    /* test boundaries */
    step = run->n_tests > SVG_MAX_TESTS ? (run->n_tests + SVG_MAX_TESTS - 1) / SVG_MAX_TESTS : 1;
    for (i = 0; i < run->n_tests; i += step) {
        const rm_test *T = &run->tests[i];
        if (!T->t_start)
            continue;
        fprintf(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"><title>",
                sx(T->t_start, t0, t1), sx(T->t_start, t0, t1), SVG_PAD, SVG_H - SVG_PAD);
        put_html(o, T->id, 0);
        fprintf(o, "</title></line>\n");
    }
    /* the cgroup's limit, labelled, and its use */
    if (cg_scale || (run->cg_lim != RM_UNSET && run->cg_lim > 0 && run->cg_lim <= vmax)) {
        double y = sy(run->cg_lim, vmax);
        fprintf(o,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c00\" "
                "stroke-dasharray=\"6,4\"><title>cgroup memory limit</title></line>\n",
                SVG_PAD, SVG_W - SVG_PAD, y, y);
        fprintf(o,
                "<text x=\"%d\" y=\"%.1f\" fill=\"#c00\" text-anchor=\"end\">cgroup limit "
                "%s</text>\n",
                SVG_W - SVG_PAD - 4, y - 4, rm_fmt_size(s1, sizeof(s1), run->cg_lim));
    }
    if (any_cg) {
        fprintf(o, "<polyline fill=\"none\" stroke=\"#1f78b4\" stroke-width=\"1.5\" points=\"");
        for (i = 0; i < run->n_tl; i++)
            if (run->tl[i].cg != RM_UNSET)
                fprintf(o, "%.1f,%.1f ", sx(run->tl[i].t, t0, t1), sy(run->tl[i].cg, vmax));
        fprintf(o, "\"><title>cgroup memory use</title></polyline>\n");
    }
    /* available memory */
    if (avail_on_scale) {
        fprintf(o, "<polyline fill=\"none\" stroke=\"#1b9e77\" stroke-width=\"1.5\" points=\"");
        for (i = 0; i < run->n_tl; i++)
            if (run->tl[i].avail != RM_UNSET)
                fprintf(o, "%.1f,%.1f ", sx(run->tl[i].t, t0, t1), sy(run->tl[i].avail, vmax));
        fprintf(o, "\"><title>system available memory%s</title></polyline>\n",
                cg_scale ? " (drawn at the top edge where above this scale)" : "");
    }
    /* RSS per process (and -1: the sampler's process tree) */
    for (p = -1; p < run->n_procs && p < SVG_MAX_PROCS; p++) {
        int any = 0;
        for (i = 0; i < run->n_tl && !any; i++)
            any = run->tl[i].proc == p && run->tl[i].rss != RM_UNSET;
        if (!any)
            continue;
        fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                colors[(p + 1) % 6]);
        for (i = 0; i < run->n_tl; i++)
            if (run->tl[i].proc == p && run->tl[i].rss != RM_UNSET)
                fprintf(o, "%.1f,%.1f ", sx(run->tl[i].t, t0, t1), sy(run->tl[i].rss, vmax));
        if (p < 0)
            fprintf(o, "\"><title>process tree RSS (sampler)</title></polyline>\n");
        else
            fprintf(o, "\"><title>RSS of pid %lld %s</title></polyline>\n", run->procs[p].pid,
                    run->procs[p].worker);
    }
    /* events */
    for (i = 0; i < run->n_events; i++) {
        const rm_event *e = &run->events[i];
        if (!e->t || e->kind == RM_E_PYTEST_SUMMARY)
            continue;
        fprintf(o, "<circle cx=\"%.1f\" cy=\"%d\" r=\"4\" fill=\"#c00\"><title>%s at ",
                sx(e->t, t0, t1), SVG_PAD - 8, rm_evidence_name((rm_evidence_kind)e->kind));
        put_html(o, src_name(run, e->src), 0);
        fprintf(o, ":%llu</title></circle>\n", (unsigned long long)e->line);
    }
    /* legend */
    fprintf(o,
            "<text x=\"%d\" y=\"16\" fill=\"#d95f02\">RSS</text>"
            "<text x=\"%d\" y=\"16\" fill=\"#c00\">events</text>",
            SVG_PAD, SVG_PAD + 40);
    if (any_cg)
        fprintf(o, "<text x=\"%d\" y=\"16\" fill=\"#1f78b4\">cgroup use</text>", SVG_PAD + 95);
    if (avail_on_scale)
        fprintf(o, "<text x=\"%d\" y=\"16\" fill=\"#1b9e77\">system available</text>",
                SVG_PAD + 175);
    else
        fprintf(o,
                "<text x=\"%d\" y=\"16\" fill=\"#1b9e77\">system available: lowest %s of %s, "
                "above this scale (not drawn)</text>",
                SVG_PAD + 175, rm_fmt_size(s1, sizeof(s1), run->min_avail),
                rm_fmt_size(buf_total, sizeof(buf_total), run->mem_total));
    fprintf(o, "\n<text x=\"%d\" y=\"32\" fill=\"#555\">memory axis: %s</text>\n</svg>\n", SVG_PAD,
            cg_scale ? "the cgroup's range (its limit is below the machine's memory)"
                     : "the machine's memory");
}

static void write_html(FILE *o, const rm_run *run, int top)
{
    fprintf(o, "<!DOCTYPE html>\n<html><head><meta charset=\"us-ascii\">"
               "<title>resmon report</title>\n<style>body{font-family:sans-serif;margin:2em}"
               "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
               "font-size:12px}pre{background:#f4f4f4;padding:1em;overflow:auto}</style>"
               "</head><body>\n<h1>resmon: ");
    put_html(o, rm_verdict_name(run->verdict.kind), 0);
    fprintf(o, "</h1>\n");
    write_svg(o, run);
    fprintf(o, "<pre>");
    {
        /* the text report, escaped: one source of truth for the numbers */
        char *buf = NULL;
        rm_memout mo;
        FILE *m = rm_memout_open(&mo);
        if (m) {
            char *line, *nl;
            write_text(m, run, top);
            buf = rm_memout_close(&mo, NULL);
            /* line by line: put_html writes a newline as \x0a */
            for (line = buf; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                    *nl = '\0';
                put_html(o, line, 0);
                if (nl)
                    fputc('\n', o);
            }
            free(buf);
        }
    }
    fprintf(o, "</pre>\n</body></html>\n");
}

/* ---- json ---- */

#ifdef RM_HAVE_CJSON
/* 64-bit integers written exactly (cJSON keeps doubles): a raw number. */
static void j_u64(cJSON *o, const char *key, uint64_t v)
{
    char b[24];
    if (v == RM_UNSET) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    rm_fmt_u64(b, v);
    cJSON_AddItemToObject(o, key, cJSON_CreateRaw(b));
}

static void j_i64(cJSON *o, const char *key, int64_t v)
{
    char b[24];
    int k = snprintf(b, sizeof(b), "%lld", (long long)v);
    if (k > 0 && (size_t)k < sizeof(b))
        cJSON_AddItemToObject(o, key, cJSON_CreateRaw(b));
}

static void j_str(cJSON *o, const char *key, const char *s)
{
    char a[RM_ID_MAX * 4 + 8];
    cJSON_AddStringToObject(o, key, ascii(a, sizeof(a), s, sizeof(a) - 1));
}

static void j_time(cJSON *o, const char *key, int64_t t)
{
    char b[40];
    if (!t) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    rm_fmt_utc(b, t);
    cJSON_AddStringToObject(o, key, b);
}

static void j_where(cJSON *o, const rm_run *run, int src, uint64_t line)
{
    j_str(o, "file", src_name(run, src));
    j_u64(o, "line", line);
}

static cJSON *j_test(const rm_run *run, int i)
{
    const rm_test *T = &run->tests[i];
    const rm_proc *P = T->proc >= 0 ? &run->procs[T->proc] : NULL;
    cJSON *t = cJSON_CreateObject();
    j_str(t, "id", T->id);
    if (P) {
        j_i64(t, "pid", P->pid);
        j_str(t, "worker", P->worker);
    } else {
        cJSON_AddNullToObject(t, "pid");
        cJSON_AddNullToObject(t, "worker");
    }
    j_str(t, "outcome", T->outcome);
    cJSON_AddBoolToObject(t, "finished", (T->finished || T->text_done) && !T->killed);
    cJSON_AddBoolToObject(t, "killed", T->killed);
    j_i64(t, "attempt", T->attempt);
    j_str(t, "phase", phase_name(T->phase));
    j_u64(t, "rss_start", T->rss_start);
    j_u64(t, "rss_end", T->rss_end);
    if (T->rss_start != RM_UNSET && T->rss_end != RM_UNSET)
        j_i64(t, "growth", (int64_t)(T->rss_end - T->rss_start));
    else
        cJSON_AddNullToObject(t, "growth");
    j_u64(t, "peak", T->peak ? T->peak : RM_UNSET);
    j_u64(t, "tree_peak", T->tree_peak ? T->tree_peak : RM_UNSET);
    j_u64(t, "own_growth", T->own_growth);
    j_u64(t, "transient", T->transient);
    j_u64(t, "min_avail", T->min_avail);
    j_u64(t, "others", T->others_at_min);
    j_u64(t, "cg_max", T->cg_max ? T->cg_max : RM_UNSET);
    j_time(t, "start", T->t_start);
    j_time(t, "end", T->t_end);
    j_where(t, run, T->src, T->line);
    return t;
}

static cJSON *json_run(const rm_run *run, int top)
{
    cJSON *root = cJSON_CreateObject(), *a, *o;
    const rm_verdict *v = &run->verdict;
    int i, n, *idx;
    cJSON_AddStringToObject(root, "schema", SCHEMA);
    a = cJSON_AddArrayToObject(root, "inputs");
    for (i = 0; i < run->n_src; i++) {
        const rm_source *S = &run->src[i];
        o = cJSON_CreateObject();
        j_str(o, "path", S->path);
        j_u64(o, "lines", S->lines);
        j_u64(o, "bytes", S->bytes);
        j_u64(o, "records", S->records);
        j_u64(o, "legacy", S->legacy);
        cJSON_AddBoolToObject(o, "gzip", S->gz);
        cJSON_AddBoolToObject(o, "github", S->gh_lines > 0);
        j_u64(o, "gh_cli_jobs", (uint64_t)S->cli_jobs);
        j_u64(o, "zip_members", (uint64_t)S->zip_members);
        j_u64(o, "cut_lines", S->cut_lines);
        j_u64(o, "first_cut_line", S->cut_lines ? S->first_cut_line : RM_UNSET);
        j_u64(o, "malformed_records", S->malformed_records);
        j_u64(o, "unstamped_records", S->unstamped);
        j_u64(o, "replayed_records", S->replayed);
        j_u64(o, "first_malformed_line", S->malformed_records ? S->first_malformed_line : RM_UNSET);
        j_u64(o, "incomplete_records", S->incomplete_records);
        j_u64(o, "unknown_version", S->unknown_version ? S->unknown_version : RM_UNSET);
        if (S->error[0])
            j_str(o, "error", S->error);
        else
            cJSON_AddNullToObject(o, "error");
        cJSON_AddItemToArray(a, o);
    }
    o = cJSON_AddObjectToObject(root, "verdict");
    cJSON_AddStringToObject(o, "kind", rm_verdict_name(v->kind));
    cJSON_AddNumberToObject(o, "confidence", v->confidence);
    cJSON_AddStringToObject(o, "level", conf_word(v->confidence));
    cJSON_AddStringToObject(o, "why", v->why);
    if (v->exit_code != -1) /* -1: unknown; Windows statuses are negative */
        j_i64(o, "exit_code", v->exit_code);
    else
        cJSON_AddNullToObject(o, "exit_code");
    if (v->signal > 0)
        j_i64(o, "signal", v->signal);
    else
        cJSON_AddNullToObject(o, "signal");
    a = cJSON_AddArrayToObject(o, "evidence");
    for (i = 0; i < v->n_ev; i++) {
        const rm_evidence *e = &run->evl[v->ev[i]];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "kind", rm_evidence_name((rm_evidence_kind)e->kind));
        cJSON_AddStringToObject(x, "role", role_name(e->role));
        j_where(x, run, e->src, e->line);
        j_time(x, "ts", e->t);
        if (e->pid)
            j_i64(x, "pid", e->pid);
        else
            cJSON_AddNullToObject(x, "pid");
        j_str(x, "text", e->text);
        cJSON_AddItemToArray(a, x);
    }
    j_u64(o, "threads_in_dump", run->max_dump_threads ? run->max_dump_threads : RM_UNSET);
    if (run->crash_frame[0])
        j_str(o, "crash_frame", run->crash_frame);
    else
        cJSON_AddNullToObject(o, "crash_frame");

    if (run->boundary_test >= 0 || run->boundary_proc >= 0) {
        const rm_proc *P = run->boundary_proc >= 0 ? &run->procs[run->boundary_proc] : NULL;
        o = cJSON_AddObjectToObject(root, "boundary");
        static const char *const kinds[] = {"none",         "unfinished", "pytest_output",
                                            "memory_error", "mark",       "worker_crashed"};
        int mem = run->boundary_kind == RM_B_MEMORY_ERROR;
        if (run->boundary_test >= 0)
            j_str(o, "test", run->tests[run->boundary_test].id);
        else
            cJSON_AddNullToObject(o, "test");
        if (run->boundary_phase >= 1 && run->boundary_phase <= 3)
            j_str(o, "phase", phase_name(run->boundary_phase));
        else
            cJSON_AddNullToObject(o, "phase");
        cJSON_AddStringToObject(
            o, "why",
            kinds[run->boundary_kind >= 0 && run->boundary_kind <= 5 ? run->boundary_kind : 0]);
        if (P) {
            j_i64(o, "pid", P->pid);
            j_str(o, "worker", P->worker);
            if (mem) {
                cJSON_AddNullToObject(o, "fixture");
                cJSON_AddFalseToObject(o, "fixture_active");
            } else {
                j_str(o, "fixture", P->fixture);
                cJSON_AddBoolToObject(o, "fixture_active", P->fixture_active);
            }
            j_u64(o, "rss", run->boundary_rss);
            j_u64(o, "mem_avail", run->boundary_avail);
            j_u64(o, "threads", run->boundary_thr);
            if (P->has_mark && !mem) {
                cJSON *m = cJSON_AddObjectToObject(o, "last_mark");
                j_str(m, "label", P->mark_label);
                j_where(m, run, P->mark_src, P->mark_line);
                j_time(m, "ts", P->mark_t);
                if (P->mark_t && run->t_last)
                    cJSON_AddNumberToObject(m, "seconds_to_end", secs(P->mark_t, run->t_last));
                else
                    cJSON_AddNullToObject(m, "seconds_to_end");
            } else {
                cJSON_AddNullToObject(o, "last_mark");
            }
        }
    } else {
        cJSON_AddNullToObject(root, "boundary");
    }
    if (run->culprit_test >= 0)
        cJSON_AddItemToObject(root, "culprit", j_test(run, run->culprit_test));
    else
        cJSON_AddNullToObject(root, "culprit");
    j_str(root, "culprit_why", run->culprit_why);
    if (run->group_tests) {
        cJSON *g = cJSON_AddObjectToObject(root, "culprit_group");
        j_str(g, "kind", run->group_kind);
        j_str(g, "key", run->group_key);
        j_i64(g, "tests", run->group_tests);
        j_u64(g, "own_growth", run->group_growth);
        cJSON_AddNumberToObject(g, "share", run->group_share);
    } else {
        cJSON_AddNullToObject(root, "culprit_group");
    }
    if (run->runner_up >= 0)
        j_str(root, "culprit_runner_up", run->tests[run->runner_up].id);
    else
        cJSON_AddNullToObject(root, "culprit_runner_up");

    o = cJSON_AddObjectToObject(root, "system");
    j_u64(o, "mem_total", run->mem_total);
    j_u64(o, "min_avail", run->min_avail);
    if (run->min_avail != RM_UNSET)
        j_where(o, run, run->min_avail_src, run->min_avail_line);
    j_u64(o, "cg_lim", run->cg_lim);
    j_u64(o, "cg_max", run->cg_max ? run->cg_max : RM_UNSET);
    j_u64(o, "cg_oom_first", run->cg_oom_min);
    j_u64(o, "cg_oom_last", run->cg_oom_max);
    j_u64(o, "cg_oom_run", run->cg_oom_run);
    j_u64(o, "tree_hwm", run->tree_hwm ? run->tree_hwm : RM_UNSET);
    j_u64(o, "samples", run->samples);
    j_u64(o, "bash_samples", run->bash_samples);
    j_time(o, "first", run->t_first);
    j_time(o, "last", run->t_last);
    if (run->has_summary && run->n_passed >= 0) {
        cJSON *p = cJSON_AddObjectToObject(root, "pytest");
        j_i64(p, "passed", run->n_passed);
        j_i64(p, "failed", run->n_failed);
        j_i64(p, "errors", run->n_errors);
        j_i64(p, "skipped", run->n_skipped);
    } else {
        cJSON_AddNullToObject(root, "pytest");
    }

    j_u64(root, "tests_total", (uint64_t)run->n_tests);
    j_u64(root, "tests_untracked", run->tests_over_cap);
    j_u64(root, "records_dropped", run->items_dropped);
    j_u64(root, "copies_unchecked", run->copies_unchecked);
    a = cJSON_AddArrayToObject(root, "tests");
    idx = rm_tests_by_peak(run, &n);
    for (i = 0; idx && i < n && i < top; i++)
        cJSON_AddItemToArray(a, j_test(run, idx[i]));
    free(idx);

    a = cJSON_AddArrayToObject(root, "trend");
    for (i = 0; i < run->n_trends; i++) {
        const rm_trend *T = &run->trends[i];
        cJSON *x = cJSON_CreateObject();
        j_i64(x, "pid", run->procs[T->proc].pid);
        j_str(x, "worker", run->procs[T->proc].worker);
        j_i64(x, "n", T->n);
        j_i64(x, "slope_bytes_per_test", (int64_t)T->slope);
        cJSON_AddNumberToObject(x, "r2", T->r2);
        j_i64(x, "mean_rss", (int64_t)T->mean);
        j_i64(x, "rise", (int64_t)T->rise);
        j_i64(x, "steps", T->steps);
        if (T->top_test >= 0)
            j_str(x, "top_test", run->tests[T->top_test].id);
        else
            cJSON_AddNullToObject(x, "top_test");
        cJSON_AddNumberToObject(x, "top_share", T->top_share);
        cJSON_AddStringToObject(x, "class", T->cls);
        cJSON_AddItemToArray(a, x);
    }
    a = cJSON_AddArrayToObject(root, "fixtures");
    idx = rm_fixtures_by_retained(run, &n);
    for (i = 0; idx && i < n && i < top; i++) {
        const rm_fixture *f = &run->fix[idx[i]];
        cJSON *x = cJSON_CreateObject();
        int64_t r = 0;
        j_str(x, "name", f->name);
        j_str(x, "scope", f->scope);
        if (rm_fixture_retained(f, &r))
            j_i64(x, "retained", r);
        else
            cJSON_AddNullToObject(x, "retained");
        j_u64(x, "instances", f->count);
        if (rm_fixture_held(f, &r))
            j_i64(x, "held", r);
        else
            cJSON_AddNullToObject(x, "held");
        j_u64(x, "held_tests", f->held_tests ? f->held_tests : RM_UNSET);
        cJSON_AddBoolToObject(x, "torn_down", f->torn_down);
        j_u64(x, "count", f->count);
        cJSON_AddItemToArray(a, x);
    }
    free(idx);
    a = cJSON_AddArrayToObject(root, "timeline");
    {
        int step = run->n_tl > JSON_TIMELINE_MAX
                       ? (run->n_tl + JSON_TIMELINE_MAX - 1) / JSON_TIMELINE_MAX
                       : 1;
        for (i = 0; i < run->n_tl; i += step) {
            cJSON *x = cJSON_CreateObject();
            j_time(x, "ts", run->tl[i].t);
            j_u64(x, "mem_avail", run->tl[i].avail);
            j_u64(x, "rss", run->tl[i].rss);
            if (run->tl[i].proc >= 0)
                j_i64(x, "pid", run->procs[run->tl[i].proc].pid);
            else
                cJSON_AddNullToObject(x, "pid");
            cJSON_AddItemToArray(a, x);
        }
    }
    return root;
}

int rm_print_json(FILE *o, struct cJSON *root)
{
    char *s = cJSON_Print(root);
    int rc = -1;
    if (s) {
        rc = fputs(s, o) < 0 ? -1 : 0;
        fputc('\n', o);
        cJSON_free(s);
    }
    cJSON_Delete(root);
    return rc;
}
#endif

int rm_report_write(FILE *o, const rm_run *run, int format, int top)
{
    switch (format) {
    case RM_FMT_JSON:
#ifdef RM_HAVE_CJSON
        if (rm_print_json(o, json_run(run, top)))
            return -1;
        break;
#else
        fprintf(stderr, "resmon-report: JSON output needs cJSON (built without libcjson-dev)\n");
        return -1;
#endif
    case RM_FMT_MARKDOWN:
        write_markdown(o, run, top);
        break;
    case RM_FMT_HTML:
        write_html(o, run, top);
        break;
    default:
        write_text(o, run, top);
        break;
    }
    return ferror(o) ? -1 : 0;
}

/* ---- compare ---- */

typedef struct cmp_row {
    int run;  /* run where the test was first seen */
    int test; /* its index there */
    uint64_t lo, hi;
    int present;
} cmp_row;

static int cmp_rows(const void *a, const void *b)
{
    const cmp_row *x = a, *y = b;
    uint64_t dx = x->hi - x->lo, dy = y->hi - y->lo;
    if (x->present != y->present)
        return x->present - y->present; /* fewer runs first: "only in" */
    return (dx < dy) - (dx > dy);
}

/* What the runs' ends say together: the same test after a leak, the same
 * test with a flat trend (that test), or different tests (the runner). */
const char *rm_compare_words(rm_run *const *runs, int n, int same, int in_test)
{
    int i, leak = 0, flat = 0;
    for (i = 0; i < n; i++) {
        const char *c = runs[i]->n_trends ? runs[i]->trends[0].cls : "";
        leak += strcmp(c, "leak") == 0;
        flat += strcmp(c, "flat") == 0 || strcmp(c, "noise") == 0 || strcmp(c, "steps") == 0 ||
                strcmp(c, "single") == 0;
    }
    if (same && !in_test)
        return "no run stopped inside a test";
    if (same && leak == n)
        return "all runs died in the same test after a steady rise: a leak that the test "
               "tips over, not the test itself";
    if (same && flat == n)
        return "all runs died in the same test with memory flat before it: that test";
    if (same)
        return "all runs stopped at the same test";
    if (leak == n)
        return "the runs stopped at different tests after a steady rise: a leak";
    if (flat == n)
        return "the runs stopped at different tests, memory flat before: runner instability, "
               "not one test";
    return "the runs stopped at different tests: the runner or accumulated state, not one test";
}

int rm_compare_write(FILE *o, rm_run *const *runs, int n, int format, int top)
{
    cmp_row *rows = NULL;
    size_t nrows = 0, cap = 0, r;
    int i, j, k, same = 1;
    char a[TEXT_COLUMNS], s1[32], s2[32];
    const char *b0 = NULL;
    for (i = 0; i < n; i++) {
        const char *b =
            runs[i]->boundary_test >= 0 ? runs[i]->tests[runs[i]->boundary_test].id : "";
        if (i == 0)
            b0 = b;
        else if (strcmp(b, b0) != 0)
            same = 0;
        for (k = 0; k < runs[i]->n_tests; k++) {
            const char *id = runs[i]->tests[k].id;
            cmp_row row;
            int seen = 0;
            for (j = 0; j < i && !seen; j++)
                seen = rm_run_find_test(runs[j], id) >= 0;
            if (seen)
                continue;
            row.run = i;
            row.test = k;
            row.lo = RM_UNSET;
            row.hi = 0;
            row.present = 0;
            for (j = 0; j < n; j++) {
                int t = j == i ? k : rm_run_find_test(runs[j], id);
                if (t < 0)
                    continue;
                row.present++;
                if (runs[j]->tests[t].peak) {
                    if (runs[j]->tests[t].peak < row.lo)
                        row.lo = runs[j]->tests[t].peak;
                    if (runs[j]->tests[t].peak > row.hi)
                        row.hi = runs[j]->tests[t].peak;
                }
            }
            if (row.lo == RM_UNSET)
                row.lo = row.hi = 0;
            if (nrows == cap) {
                size_t nc = cap ? cap * 2 : 256;
                cmp_row *nr = realloc(rows, nc * sizeof(*nr));
                if (!nr)
                    break;
                rows = nr;
                cap = nc;
            }
            rows[nrows++] = row;
        }
    }
    if (rows)
        qsort(rows, nrows, sizeof(*rows), cmp_rows);
#ifdef RM_HAVE_CJSON
    if (format == RM_FMT_JSON) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "runs"), *t;
        int shown = 0;
        cJSON_AddStringToObject(root, "schema", COMPARE_SCHEMA);
        for (i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, json_run(runs[i], top));
        cJSON_AddBoolToObject(root, "same_boundary", same && n > 1);
        cJSON_AddStringToObject(root, "conclusion", rm_compare_words(runs, n, same, b0 && *b0));
        t = cJSON_AddArrayToObject(root, "tests");
        for (r = 0; r < nrows && shown < top; r++, shown++) {
            cJSON *x = cJSON_CreateObject(), *peaks = cJSON_AddArrayToObject(x, "peaks");
            const char *id = runs[rows[r].run]->tests[rows[r].test].id;
            j_str(x, "id", id);
            for (j = 0; j < n; j++) {
                int ti = rm_run_find_test(runs[j], id);
                char b[24];
                if (ti < 0 || !runs[j]->tests[ti].peak) {
                    cJSON_AddItemToArray(peaks, cJSON_CreateNull());
                    continue;
                }
                rm_fmt_u64(b, runs[j]->tests[ti].peak);
                cJSON_AddItemToArray(peaks, cJSON_CreateRaw(b));
            }
            j_u64(x, "delta", rows[r].hi - rows[r].lo);
            j_i64(x, "present_in", rows[r].present);
            cJSON_AddItemToArray(t, x);
        }
        free(rows);
        return rm_print_json(o, root);
    }
#endif
    if (format == RM_FMT_JSON) {
        free(rows);
        fprintf(stderr, "resmon-report: JSON output needs cJSON (built without libcjson-dev)\n");
        return -1;
    }
    if (format == RM_FMT_MARKDOWN || format == RM_FMT_HTML) {
        int html = format == RM_FMT_HTML;
        if (html)
            fprintf(o, "<!DOCTYPE html>\n<html><head><meta charset=\"us-ascii\"><title>resmon "
                       "compare</title></head><body>\n<h1>resmon: compare</h1>\n<table>\n"
                       "<tr><th>run</th><th>verdict</th><th>boundary</th><th>tests</th></tr>\n");
        else
            fprintf(o,
                    "## resmon: compare %d runs\n\n| run | verdict | boundary | tests |\n"
                    "|---|---|---|---|\n",
                    n);
        for (i = 0; i < n; i++) {
            fprintf(o, html ? "<tr><td>" : "| ");
            put_html(o, runs[i]->name, !html);
            fprintf(o, html ? "</td><td>%s</td><td>" : " | %s | ",
                    rm_verdict_name(runs[i]->verdict.kind));
            put_html(o,
                     runs[i]->boundary_test >= 0 ? runs[i]->tests[runs[i]->boundary_test].id : "-",
                     !html);
            fprintf(o, html ? "</td><td>%d</td></tr>\n" : " | %d |\n", runs[i]->n_tests);
        }
        fprintf(o,
                html ? "</table>\n<p>%s</p>\n<table>\n<tr><th>peak delta</th><th>runs</th>"
                       "<th>test</th></tr>\n"
                     : "\n%s\n\n| peak delta | runs | test |\n|---|---|---|\n",
                same && n > 1 ? "All runs stopped at the same test."
                              : "The runs did not stop at the same test.");
        for (r = 0; r < nrows && (int)r < top; r++) {
            fprintf(o, html ? "<tr><td>%s</td><td>%d/%d</td><td>" : "| %s | %d/%d | ",
                    rm_fmt_size(s1, sizeof(s1), rows[r].hi - rows[r].lo), rows[r].present, n);
            put_html(o, runs[rows[r].run]->tests[rows[r].test].id, !html);
            fprintf(o, html ? "</td></tr>\n" : " |\n");
        }
        if (html)
            fprintf(o, "</table>\n</body></html>\n");
        free(rows);
        return ferror(o) ? -1 : 0;
    }
    fprintf(o, "resmon-report compare: %d runs\n\n", n);
    fprintf(o, "  %-3s %-16s %-6s %-10s %s\n", "run", "verdict", "tests", "max peak", "stopped in");
    for (i = 0; i < n; i++) {
        uint64_t mx = 0;
        for (k = 0; k < runs[i]->n_tests; k++)
            if (runs[i]->tests[k].peak > mx)
                mx = runs[i]->tests[k].peak;
        fprintf(o, "  %-3d %-16s %-6d %-10s %s\n", i + 1, rm_verdict_name(runs[i]->verdict.kind),
                runs[i]->n_tests, mx ? rm_fmt_size(s1, sizeof(s1), mx) : "-",
                runs[i]->boundary_test >= 0
                    ? ascii_id(a, 58, runs[i]->tests[runs[i]->boundary_test].id, 56)
                    : "-");
    }
    for (i = 0; i < n; i++)
        fprintf(o, "  run %d = %s\n", i + 1, ascii(a, 90, runs[i]->name, 88));
    if (n > 1)
        fprintf(o, "\n  %s\n", rm_compare_words(runs, n, same, b0 && *b0));
    fprintf(o, "\nTESTS    largest peak differences across runs (and tests missing from some)\n");
    fprintf(o, "  %-11s %-5s", "delta", "runs");
    for (j = 0; j < n && j < 4; j++)
        fprintf(o, " %-10s", (snprintf(s2, sizeof(s2), "peak %d", j + 1) > 0) ? s2 : "");
    fprintf(o, " test\n");
    for (r = 0; r < nrows && (int)r < top; r++) {
        const char *id = runs[rows[r].run]->tests[rows[r].test].id;
        fprintf(o, "  %-11s %d/%-3d", rm_fmt_size(s1, sizeof(s1), rows[r].hi - rows[r].lo),
                rows[r].present, n);
        for (j = 0; j < n && j < 4; j++) {
            int ti = rm_run_find_test(runs[j], id);
            fprintf(o, " %-10s",
                    ti < 0 ? "absent"
                           : (runs[j]->tests[ti].peak
                                  ? rm_fmt_size(s2, sizeof(s2), runs[j]->tests[ti].peak)
                                  : "-"));
        }
        fprintf(o, " %s\n", ascii(a, sizeof(a), id, n > 2 ? 30 : 50));
    }
    free(rows);
    return ferror(o) ? -1 : 0;
}
