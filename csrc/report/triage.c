/* SPDX-License-Identifier: MIT */
/* triage.c: `resmon-report triage`: the jobs of one workflow run, each analysed as
 * resmon-report analyses one run, their failures grouped by root cause across jobs
 * and listed in the order to fix them (docs/triage.md). */
#include "report.h"
#include "../record/record.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#ifdef RM_HAVE_CJSON
#include <cJSON.h>
#endif

/* Jobs in one triage: a workflow's matrix rarely has more than a few dozen;
 * each job holds one rm_run (about 1.3 MiB before any input). Lines of
 * further jobs are counted and dropped. */
#define TRI_MAX_JOBS 256
/* Inputs (files) on one command line. */
#define TRI_MAX_INPUTS 1024
/* Failures kept per job (pytest's FAILED/ERROR lines, deaths, pip errors). */
#define TRI_MAX_FAILS 2048
/* pytest FAILURES/ERRORS sections kept per job (their E lines and locations). */
#define TRI_MAX_SECS 2048
/* Packages whose version is kept per job. */
#define TRI_MAX_PKGS 4096
/* Bytes of a line looked at once ANSI colour is removed: pytest's lines of
 * interest are one message each; a longer one is cut. */
#define TRI_LINE_MAX 4096
/* Bytes kept of a message or an E line. */
#define TRI_MSG_MAX 240
/* Bytes kept of a normalised signature. */
#define TRI_SIG_MAX 160
/* Bytes kept of a file name in a location. */
#define TRI_FILE_MAX 200
/* Locations kept per section: the first ones (the test's own frames) and the last. */
#define TRI_LOCS 4
/* Tests and jobs a text or Markdown group lists before "and N more". */
#define TRI_LIST_MAX 8
/* Text output fits in this many columns. */
#define TRI_COLUMNS 100

#define TRI_SCHEMA "resmon-triage/1"

/* Root-cause categories, in the order of their names in the JSON. */
enum {
    C_ENCODING = 0,
    C_MEMORY_ERROR,
    C_OOM_KILL,
    C_SEGFAULT,
    C_RUNNER_SHUTDOWN,
    C_CANCELLED,
    C_TIMEOUT,
    C_DEPENDENCY,
    C_TOLERANCE,
    C_ASSERTION,
    C_ERROR,
    C_OTHER,
    C_COUNT
};

static const char *const cat_names[C_COUNT] = {
    "encoding", "memory_error", "oom_kill",  "segfault",  "runner_shutdown", "cancelled",
    "timeout",  "dependency",   "tolerance", "assertion", "error",           "other"};

/* The order of fixes (docs/triage.md): platform encoding, then infrastructure
 * (imports, fixtures and collection, timeouts), then resource deaths, then the
 * code's own assertions, then what only follows from another job (cancelled).
 * Version drift, which is not a failure category, comes before all. */
static const int fix_order[C_COUNT] = {
    [C_ENCODING] = 0,  [C_DEPENDENCY] = 1,   [C_ERROR] = 2,    [C_TIMEOUT] = 3,
    [C_OOM_KILL] = 4,  [C_MEMORY_ERROR] = 5, [C_SEGFAULT] = 6, [C_RUNNER_SHUTDOWN] = 7,
    [C_TOLERANCE] = 8, [C_ASSERTION] = 9,    [C_OTHER] = 10,   [C_CANCELLED] = 11};

static const char *const stage_of[C_COUNT] = {[C_ENCODING] = "encoding",
                                              [C_DEPENDENCY] = "infrastructure",
                                              [C_ERROR] = "infrastructure",
                                              [C_TIMEOUT] = "infrastructure",
                                              [C_OOM_KILL] = "resource death",
                                              [C_MEMORY_ERROR] = "resource death",
                                              [C_SEGFAULT] = "resource death",
                                              [C_RUNNER_SHUTDOWN] = "resource death",
                                              [C_TOLERANCE] = "code",
                                              [C_ASSERTION] = "code",
                                              [C_OTHER] = "code",
                                              [C_CANCELLED] = "consequence"};

static const char *const cat_hint[C_COUNT] = {
    [C_ENCODING] = "non-ASCII output on a cp1252 console: print ASCII or set "
                   "PYTHONIOENCODING=utf-8",
    [C_MEMORY_ERROR] = "a test ran out of memory in Python: make its data smaller or free "
                       "what earlier tests kept",
    [C_OOM_KILL] = "", /* built from the job: boundary and culprit */
    [C_SEGFAULT] = "a native crash: run the test alone under faulthandler and compare the "
                   "native libraries' versions",
    [C_RUNNER_SHUTDOWN] = "the runner was stopped or killed from outside: rerun; if it "
                          "repeats, look at memory and disk near the end",
    [C_CANCELLED] = "cancelled (fail-fast or by hand): fix the other jobs' failures, then rerun",
    [C_TIMEOUT] = "a test hit a time limit: read its thread dump for a hang, then the limit",
    [C_DEPENDENCY] = "an import or a package API differs: pin the versions the passing jobs "
                     "use, or install what is missing",
    [C_TOLERANCE] = "numbers differ beyond the tolerance: compare numeric libraries' versions "
                    "across jobs before widening rtol/atol",
    [C_ASSERTION] = "the code's own assertion: fix the code or the test",
    [C_ERROR] = "setup or collection failed before the test ran: fix the fixture or import "
                "it names",
    [C_OTHER] = "read the example line"};

/* What a failure line is. */
enum {
    K_FAILED = 0, /* "FAILED id - reason" */
    K_ERROR,      /* "ERROR id - reason": setup, teardown, collection */
    K_DEATH,      /* the job's verdict: a kill, a crash, a cancel */
    K_STEP        /* a step's own error line (pip's resolver) */
};

/* Words of a failure's text that point at a category (bits). */
enum {
    H_CODEC = 1u << 0,      /* "codec can't encode", "'charmap' codec" */
    H_TOLERANCE = 1u << 1,  /* "Not equal to tolerance", "Max absolute difference", ... */
    H_DEPENDENCY = 1u << 2, /* "No module named", "cannot import name", "but you have" */
    H_TIMEOUT = 1u << 3     /* pytest-timeout's "Timeout >" and "+++ Timeout +++" */
};

static const struct {
    const char *word;
    unsigned bit;
} hit_words[] = {
    {"codec can't encode", H_CODEC},
    {"codec can't decode", H_CODEC},
    {"'charmap' codec", H_CODEC},
    {"Not equal to tolerance", H_TOLERANCE},
    {"not almost equal", H_TOLERANCE},
    {"Mismatched elements", H_TOLERANCE},
    {"Max absolute difference", H_TOLERANCE},
    {"Max relative difference", H_TOLERANCE},
    {"max diff", H_TOLERANCE},
    {"allclose", H_TOLERANCE},
    {"are not close", H_TOLERANCE},
    {"Tensor-likes are not close", H_TOLERANCE},
    {"\xc2\xb1", H_TOLERANCE}, /* pytest.approx's "1.0 +- 1e-06" */
    {"No module named", H_DEPENDENCY},
    {"cannot import name", H_DEPENDENCY},
    {"DLL load failed", H_DEPENDENCY},
    {"VersionConflict", H_DEPENDENCY},
    {"DistributionNotFound", H_DEPENDENCY},
    {"but you have", H_DEPENDENCY},
    {"Timeout >", H_TIMEOUT},
    {"+++ Timeout +++", H_TIMEOUT},
};

/* A file:line where a failure happened. */
typedef struct tri_loc {
    char file[TRI_FILE_MAX];
    long line;
} tri_loc;

/* One "____ title ____" section of pytest's FAILURES or ERRORS: its E lines
 * (the first, the last that names an exception type, and the lines after
 * those when they carry no message), the words it holds, its locations. */
typedef struct tri_sec {
    char *key; /* "F:TestC.test_x", "E:test_x" (setup/teardown), "C:tests/t.py" */
    char exc[64];
    char e_first[TRI_MSG_MAX], e_first_next[TRI_MSG_MAX];
    char e_typed[TRI_MSG_MAX], e_typed_next[TRI_MSG_MAX];
    int first_alone, typed_alone; /* "Type:" with its message on the next E line */
    unsigned hits;
    tri_loc locs[TRI_LOCS];
    int n_locs;
    uint64_t log_line; /* its first E line, else its title */
    int used;          /* joined to a FAILED/ERROR line */
} tri_sec;

typedef struct tri_fail {
    char *test; /* NULL: the job itself (a death with no test named, a step) */
    int kind;   /* K_* */
    int category;
    unsigned hits;
    char reason[TRI_MSG_MAX];  /* the text after " - " of the FAILED line */
    char message[TRI_MSG_MAX]; /* one line: "Type: message" */
    char sig[TRI_SIG_MAX];
    tri_loc loc;
    uint64_t log_line;
    /* set by analyse(): */
    int tid;       /* the test's id in the triage's table of test names, -1 none */
    int first;     /* the first failure of its test in its job (one id may fail and error) */
    int only_some; /* its test failed on some of the jobs that ran tests, not all */
} tri_fail;

typedef struct tri_pkg {
    char name[64];
    char ver[48];
} tri_pkg;

enum { OS_UNKNOWN = 0, OS_LINUX, OS_WINDOWS, OS_MACOS };
static const char *const os_names[] = {"unknown", "linux", "windows", "macos"};

/* A hash table of ids: (string, tag) -> id, the ids in the order they were added.
 * Keyed with the triage's random seed, so crafted names cannot be made to
 * collide (as the report's own tables, ingest.c). Keys are not copied. */
typedef struct tri_tab {
    const char **keys; /* id -> key */
    int *tags;         /* id -> tag */
    int n, cap;
    int *slots;     /* id + 1, 0 empty; linear probing */
    size_t n_slots; /* a power of two, at least twice n */
    uint64_t k0, k1;
} tri_tab;

typedef struct tri_job {
    char name[256];
    rm_run *run;
    int os, os_from_log;
    int log_src;      /* the run's source for this job's log lines, -1 none yet */
    uint64_t n_lines; /* log lines seen: the job's own line numbers */
    /* pytest text state */
    int section;  /* 0 none, 1 FAILURES, 2 ERRORS */
    int cur_sec;  /* -1 none */
    int pip_list; /* 0 none, 1 header seen, 2 in the rows */
    tri_fail *fails;
    int n_fails, cap_fails;
    uint64_t fails_dropped, fails_ignored;
    unsigned *fail_slots; /* hash of (kind, id) -> index+1 */
    tri_sec *secs;
    int n_secs, cap_secs;
    uint64_t secs_dropped;
    tri_pkg *pkgs;
    int n_pkgs, cap_pkgs;
    tri_tab pkg_tab; /* package names -> index of pkgs */
    uint64_t pkgs_dropped;
    char *svg; /* the job's memory chart (HTML output), NULL none */
} tri_job;

#define FAIL_SLOTS 4096 /* power of two, 2 x TRI_MAX_FAILS */

typedef struct tri_input {
    const char *path;
    tri_job *job;        /* the job of lines without a gh prefix, NULL until known */
    int explicit_job;    /* given as JOB=path: its lines form their own source */
    int src;             /* that source, -1 */
    tri_job *last_gh;    /* the job of the newest gh line of this input */
    unsigned member_seq; /* a zip archive: the member whose job is default_name */
    char default_name[256];
} tri_input;

struct rm_triage {
    tri_job *jobs[TRI_MAX_JOBS];
    tri_tab job_tab;                  /* job names -> index of job_by_id */
    tri_job *job_by_id[TRI_MAX_JOBS]; /* jobs in the order they were created */
    uint64_t seed;
    int n_jobs;
    uint64_t jobs_dropped;
    tri_job *last; /* the job of the previous line (most lines follow their job's) */
    /* the cross-job analysis */
    int analysed;
    struct tri_group *groups;
    int n_groups, cap_groups;
    tri_tab test_tab;   /* test ids of all failures -> tid */
    unsigned *tid_mark; /* tid -> the mark of the last listing that saw it */
    unsigned mark;
    char errors[1024]; /* inputs that could not be read */
};

typedef struct tri_group {
    int category;
    const char *sig;
    int *members; /* pairs (job, fail) */
    int n_members, cap_members;
    unsigned job_mask_n; /* distinct jobs */
    int os_specific;
    unsigned os_set; /* bits 1 << OS_* */
} tri_group;

/* ---- small helpers ---- */

/* snprintf for text that may be cut on purpose (messages, names): returns
 * the bytes written, always below cap, so appending with it never overruns. */
static size_t tri_fmt(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static size_t tri_fmt(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (cap == 0)
        return 0;
    va_start(ap, fmt);
    k = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    if (k < 0) {
        dst[0] = '\0';
        return 0;
    }
    return (size_t)k < cap ? (size_t)k : cap - 1;
}

static int starts(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(s, lit, l) == 0;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

/* Copies at most cap-1 bytes and terminates. */
static void copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Does s start with GitHub's timestamp ("2026-11-26T10:04:31.1234567Z"),
 * after an optional UTF-8 BOM? */
static int is_stamp(const char *s, size_t n)
{
    if (n >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb &&
        (unsigned char)s[2] == 0xbf) {
        s += 3;
        n -= 3;
    }
    return n >= 11 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) &&
           s[4] == '-' && is_digit(s[5]) && is_digit(s[6]) && s[7] == '-' && is_digit(s[8]) &&
           is_digit(s[9]) && s[10] == 'T';
}

/* The text after a BOM and a timestamp ("...Z "), if any. */
static size_t after_stamp(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb &&
        (unsigned char)s[2] == 0xbf)
        i = 3;
    if (!is_stamp(s + i, n - i))
        return i;
    for (size_t k = i + 11; k < n && k < i + 40; k++)
        if (s[k] == 'Z') {
            k++;
            return k < n && s[k] == ' ' ? k + 1 : k;
        }
    return i;
}

/* Copies s without ANSI escape sequences and a final CR, at most cap-1 bytes. */
static size_t clean(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n && k + 1 < cap; i++) {
        if (s[i] == 0x1b) {
            if (i + 1 < n && s[i + 1] == '[') {
                size_t j = i + 2;
                while (j < n && j < i + 32 && !((unsigned char)s[j] >= '@' && s[j] <= '~'))
                    j++;
                i = j;
            } else {
                i++;
            }
            continue;
        }
        dst[k++] = s[i];
    }
    while (k > 0 && (dst[k - 1] == '\r' || dst[k - 1] == ' '))
        k--;
    dst[k] = '\0';
    return k;
}

/* An exception type at the start of a message ("ValueError: x", "a.b.Err: x",
 * "Failed: Timeout"): its length, 0 when there is none. */
static size_t exc_len(const char *s, size_t n)
{
    size_t i = 0;
    int upper = 0;
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    while (i < n && i < 63 && (is_alnum(s[i]) || s[i] == '.')) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            upper = 1;
        i++;
    }
    if (!upper || i >= n || s[i] != ':' || s[i - 1] == '.')
        return 0;
    /* exception classes are CamelCase: numpy's "ACTUAL:" is not one */
    {
        size_t b = i, k;
        int up = 0, low = 0;
        while (b > 0 && s[b - 1] != '.')
            b--;
        while (b < i && s[b] == '_') /* numpy's _ArrayMemoryError */
            b++;
        for (k = b; k < i; k++) {
            up |= s[k] >= 'A' && s[k] <= 'Z';
            low |= s[k] >= 'a' && s[k] <= 'z';
        }
        if (!up || !low || !(s[b] >= 'A' && s[b] <= 'Z'))
            return 0;
    }
    if (i + 1 < n && s[i + 1] != ' ')
        return 0;
    return i;
}

/* The last dotted component of an exception type. */
static const char *base_name(const char *exc)
{
    const char *d = strrchr(exc, '.');
    return d ? d + 1 : exc;
}

static unsigned hits_of(const char *s, size_t n)
{
    unsigned h = 0;
    size_t i;
    for (i = 0; i < sizeof(hit_words) / sizeof(hit_words[0]); i++)
        if (!(h & hit_words[i].bit) && memmem(s, n, hit_words[i].word, strlen(hit_words[i].word)))
            h |= hit_words[i].bit;
    return h;
}

static void tab_init(tri_tab *t, uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    t->k0 = seed;
    t->k1 = seed * 0x9e3779b97f4a7c15ull + 0x7f4a7c159e3779b9ull;
}

static void tab_free(tri_tab *t)
{
    free(t->keys);
    free(t->tags);
    free(t->slots);
    t->keys = NULL;
    t->tags = NULL;
    t->slots = NULL;
    t->n = t->cap = 0;
    t->n_slots = 0;
}

static size_t tab_slot(const tri_tab *t, const char *s, int tag)
{
    return (size_t)rm_siphash(t->k0 ^ (uint64_t)(unsigned)tag, t->k1, s, strlen(s)) &
           (t->n_slots - 1);
}

/* Doubles the slots: 0, or -1 out of memory (the table is unchanged). */
static int tab_grow(tri_tab *t)
{
    size_t n = t->n_slots ? t->n_slots * 2 : 64, i;
    int *ns = calloc(n, sizeof(int)), *old = t->slots, id;
    if (!ns)
        return -1;
    t->slots = ns;
    t->n_slots = n;
    for (id = 0; id < t->n; id++) {
        for (i = tab_slot(t, t->keys[id], t->tags[id]); ns[i]; i = (i + 1) & (n - 1))
            ;
        ns[i] = id + 1;
    }
    free(old);
    return 0;
}

/* The id of (s, tag), -1 absent. */
static int tab_find(const tri_tab *t, const char *s, int tag)
{
    size_t i;
    int k;
    if (t->n_slots == 0)
        return -1;
    for (i = tab_slot(t, s, tag); (k = t->slots[i]) != 0; i = (i + 1) & (t->n_slots - 1))
        if (t->tags[k - 1] == tag && strcmp(t->keys[k - 1], s) == 0)
            return k - 1;
    return -1;
}

/* The id of (s, tag); when it is new and add, s (kept, not copied) gets the
 * next id. -1: absent, or out of memory. */
static int tab_id(tri_tab *t, const char *s, int tag, int add)
{
    size_t i;
    int k;
    if (t->n_slots == 0 && !add)
        return -1;
    if ((size_t)t->n * 2 + 2 > t->n_slots && add && tab_grow(t) != 0)
        return -1;
    for (i = tab_slot(t, s, tag); (k = t->slots[i]) != 0; i = (i + 1) & (t->n_slots - 1))
        if (t->tags[k - 1] == tag && strcmp(t->keys[k - 1], s) == 0)
            return k - 1;
    if (!add)
        return -1;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 64;
        const char **nk = realloc(t->keys, sizeof(*nk) * (size_t)cap);
        int *nt;
        if (!nk)
            return -1;
        t->keys = nk;
        nt = realloc(t->tags, sizeof(*nt) * (size_t)cap);
        if (!nt)
            return -1;
        t->tags = nt;
        t->cap = cap;
    }
    t->keys[t->n] = s;
    t->tags[t->n] = tag;
    t->slots[i] = t->n + 1;
    return t->n++;
}

/* ---- jobs ---- */

static void job_free(tri_job *J)
{
    int i;
    if (!J)
        return;
    for (i = 0; i < J->n_fails; i++)
        free(J->fails[i].test);
    for (i = 0; i < J->n_secs; i++)
        free(J->secs[i].key);
    free(J->fails);
    free(J->fail_slots);
    free(J->secs);
    free(J->pkgs);
    tab_free(&J->pkg_tab);
    free(J->svg);
    rm_run_free(J->run);
    free(J);
}

static int os_of_name(const char *s)
{
    char low[256];
    size_t i, n = strlen(s);
    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (i = 0; i < n; i++)
        low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    low[n] = '\0';
    if (strstr(low, "windows") || strstr(low, "win32") || strstr(low, "win64"))
        return OS_WINDOWS;
    if (strstr(low, "macos") || strstr(low, "darwin") || strstr(low, "osx") || strstr(low, "mac-"))
        return OS_MACOS;
    if (strstr(low, "ubuntu") || strstr(low, "linux") || strstr(low, "debian") ||
        strstr(low, "fedora"))
        return OS_LINUX;
    return OS_UNKNOWN;
}

/* The job named name (created when new); NULL past TRI_MAX_JOBS. */
static tri_job *job_get(rm_triage *T, const char *raw, size_t n)
{
    tri_job *J;
    char name[sizeof(J->name)];
    size_t k;
    int i;
    if (n >= sizeof(J->name))
        n = sizeof(J->name) - 1;
    /* a name is a C string: a NUL byte in it stands as '?' */
    for (k = 0; k < n; k++)
        name[k] = raw[k] ? raw[k] : '?';
    name[n] = '\0';
    if (T->last && strcmp(T->last->name, name) == 0)
        return T->last;
    i = tab_id(&T->job_tab, name, 0, 0);
    if (i >= 0)
        return T->last = T->job_by_id[i];
    if (T->n_jobs >= TRI_MAX_JOBS) {
        T->jobs_dropped++;
        return NULL;
    }
    J = calloc(1, sizeof(*J));
    if (!J)
        return NULL;
    memcpy(J->name, name, n);
    J->name[n] = '\0';
    J->run = rm_run_new(J->name);
    J->fail_slots = calloc(FAIL_SLOTS, sizeof(unsigned));
    if (!J->run || !J->fail_slots) {
        job_free(J);
        return NULL;
    }
    J->log_src = -1;
    J->cur_sec = -1;
    J->os = os_of_name(J->name);
    tab_init(&J->pkg_tab, J->run->seed);
    i = tab_id(&T->job_tab, J->name, 0, 1);
    if (i < 0) {
        job_free(J);
        return NULL;
    }
    T->job_by_id[i] = J;
    T->jobs[T->n_jobs++] = J;
    return T->last = J;
}

static int job_log_src(tri_job *J)
{
    if (J->log_src < 0)
        J->log_src = rm_run_add_source(J->run, J->name);
    return J->log_src;
}

/* ---- failures and sections ---- */

static tri_fail *fail_add(tri_job *J, int kind, const char *test, size_t tn)
{
    tri_fail *F;
    unsigned h = 0, i;
    if (test) {
        h = (unsigned)rm_siphash(J->run->seed ^ (uint64_t)(unsigned)kind, J->run->seed, test, tn);
        for (i = 0; i < FAIL_SLOTS; i++) {
            unsigned s = J->fail_slots[(h + i) & (FAIL_SLOTS - 1)];
            if (!s)
                break;
            F = &J->fails[s - 1];
            if (F->kind == kind && strlen(F->test) == tn && memcmp(F->test, test, tn) == 0)
                return F; /* a copy (the same summary twice) */
        }
    }
    if (J->n_fails >= TRI_MAX_FAILS) {
        J->fails_dropped++;
        return NULL;
    }
    if (J->n_fails == J->cap_fails) {
        int cap = J->cap_fails ? J->cap_fails * 2 : 16;
        tri_fail *nf = realloc(J->fails, sizeof(*nf) * (size_t)cap);
        if (!nf) {
            J->fails_dropped++;
            return NULL;
        }
        J->fails = nf;
        J->cap_fails = cap;
    }
    F = &J->fails[J->n_fails];
    memset(F, 0, sizeof(*F));
    F->kind = kind;
    if (test) {
        F->test = dup_n(test, tn);
        if (!F->test) {
            J->fails_dropped++;
            return NULL;
        }
        for (i = 0; i < FAIL_SLOTS; i++) {
            unsigned *s = &J->fail_slots[(h + i) & (FAIL_SLOTS - 1)];
            if (!*s) {
                *s = (unsigned)J->n_fails + 1;
                break;
            }
        }
    }
    J->n_fails++;
    return F;
}

static tri_sec *sec_add(tri_job *J, const char *key, size_t kn, uint64_t log_line)
{
    tri_sec *S;
    if (J->n_secs >= TRI_MAX_SECS) {
        J->secs_dropped++;
        return NULL;
    }
    if (J->n_secs == J->cap_secs) {
        int cap = J->cap_secs ? J->cap_secs * 2 : 8;
        tri_sec *ns = realloc(J->secs, sizeof(*ns) * (size_t)cap);
        if (!ns)
            return NULL;
        J->secs = ns;
        J->cap_secs = cap;
    }
    S = &J->secs[J->n_secs];
    memset(S, 0, sizeof(*S));
    S->key = dup_n(key, kn);
    if (!S->key)
        return NULL;
    S->log_line = log_line;
    J->n_secs++;
    return S;
}

/* "____ title ____" inside FAILURES or ERRORS: a new section. */
static void sec_title(tri_job *J, const char *s, size_t n, uint64_t log_line)
{
    char key[TRI_MSG_MAX + 4];
    size_t a = 0, b = n, k;
    tri_sec *S;
    while (a < n && (s[a] == '_' || s[a] == ' '))
        a++;
    while (b > a && (s[b - 1] == '_' || s[b - 1] == ' '))
        b--;
    J->cur_sec = -1;
    if (b <= a) /* "_ _ _ _" between the entries of one traceback */
        return;
    s += a;
    n = b - a;
    if (starts(s, n, "ERROR at setup of ") || starts(s, n, "ERROR at teardown of ")) {
        size_t skip = s[9] == 's' ? 18 : 21;
        k = (size_t)tri_fmt(key, sizeof(key), "E:%.*s", (int)(n - skip), s + skip);
    } else if (starts(s, n, "ERROR collecting ")) {
        k = (size_t)tri_fmt(key, sizeof(key), "C:%.*s", (int)(n - 17), s + 17);
    } else {
        k = (size_t)tri_fmt(key, sizeof(key), "F:%.*s", (int)n, s);
    }
    if (k >= sizeof(key))
        k = sizeof(key) - 1;
    S = sec_add(J, key, k, log_line);
    if (S)
        J->cur_sec = (int)(S - J->secs);
}

/* "path:N: what" (a traceback entry's location): 1 and the parts, else 0. */
static int location(const char *s, size_t n, size_t *path_len, long *line, size_t *what)
{
    size_t i, lim = n < 400 ? n : 400;
    if (n == 0 || s[0] == ' ' || s[0] == '>' || (s[0] == 'E' && n > 1 && s[1] == ' '))
        return 0;
    for (i = 1; i < lim; i++) {
        if (s[i] == ' ')
            return 0;
        if (s[i] == ':' && i + 1 < n && is_digit(s[i + 1])) {
            size_t j = i + 1;
            long v = 0;
            while (j < n && is_digit(s[j]) && j < i + 10)
                v = v * 10 + (s[j++] - '0');
            if (j < n && s[j] == ':' && (j + 1 == n || s[j + 1] == ' ')) {
                *path_len = i;
                *line = v;
                *what = j + 2 < n ? j + 2 : n;
                return 1;
            }
        }
    }
    return 0;
}

static void sec_line(tri_job *J, const char *s, size_t n, uint64_t log_line)
{
    tri_sec *S = J->cur_sec >= 0 ? &J->secs[J->cur_sec] : NULL;
    size_t pl, what;
    long ln;
    if (!S)
        return;
    if (n >= 2 && s[0] == 'E' && s[1] == ' ') {
        size_t a = 1, el;
        while (a < n && s[a] == ' ')
            a++;
        S->hits |= hits_of(s, n);
        el = exc_len(s + a, n - a);
        if (!S->e_first[0]) {
            copy(S->e_first, sizeof(S->e_first), s + a, n - a);
            S->log_line = log_line;
            S->first_alone = el && el + 1 >= n - a; /* "AssertionError:" alone */
        } else if (S->first_alone && !S->e_first_next[0]) {
            copy(S->e_first_next, sizeof(S->e_first_next), s + a, n - a);
        }
        if (el) {
            copy(S->e_typed, sizeof(S->e_typed), s + a, n - a);
            S->e_typed_next[0] = '\0';
            S->typed_alone = el + 1 >= n - a;
        } else if (S->typed_alone && !S->e_typed_next[0]) {
            copy(S->e_typed_next, sizeof(S->e_typed_next), s + a, n - a);
        }
        return;
    }
    if (location(s, n, &pl, &ln, &what)) {
        tri_loc *L;
        size_t w = n - what;
        if (S->n_locs < TRI_LOCS)
            L = &S->locs[S->n_locs++];
        else
            L = &S->locs[TRI_LOCS - 1];
        copy(L->file, sizeof(L->file), s, pl);
        L->line = ln;
        /* the last entry names the exception type; short tracebacks say "in func" */
        if (w > 0 && !starts(s + what, w, "in ")) {
            size_t k = 0;
            while (k < w && (is_alnum(s[what + k]) || s[what + k] == '.'))
                k++;
            if (k == w)
                copy(S->exc, sizeof(S->exc), s + what, w);
        }
    }
}

/* "FAILED id - reason" / "ERROR id - reason" of pytest's short summary. */
static void summary_line(tri_job *J, int kind, const char *s, size_t n, uint64_t log_line)
{
    size_t i, id_end = n;
    tri_fail *F;
    const char *r = NULL;
    size_t rn = 0;
    for (i = 0; i + 2 < n; i++)
        if (s[i] == ' ' && s[i + 1] == '-' && s[i + 2] == ' ') {
            id_end = i;
            r = s + i + 3;
            rn = n - i - 3;
            break;
        }
    if (id_end == 0)
        return;
    /* a node id: "path::name", or a path alone for a collection error */
    if (!memmem(s, id_end, "::", 2) &&
        !(id_end > 3 && memcmp(s + id_end - 3, ".py", 3) == 0 && !memchr(s, ' ', id_end)))
        return;
    F = fail_add(J, kind, s, id_end);
    if (!F)
        return;
    if (r && !F->reason[0])
        copy(F->reason, sizeof(F->reason), r, rn);
    if (!F->log_line)
        F->log_line = log_line;
}

/* ---- versions ---- */

/* pip's normalised name: lower case, runs of - _ . as one '-'. */
static size_t norm_pkg(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n && k + 1 < cap; i++) {
        char c = s[i];
        if (c == '-' || c == '_' || c == '.') {
            if (k > 0 && dst[k - 1] != '-')
                dst[k++] = '-';
            continue;
        }
        dst[k++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    while (k > 0 && dst[k - 1] == '-')
        k--;
    dst[k] = '\0';
    return k;
}

static int pkg_name_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > 60 || !is_alnum(s[0]))
        return 0;
    for (i = 0; i < n; i++)
        if (!(is_alnum(s[i]) || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

static int ver_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > 46 || !is_digit(s[0]))
        return 0;
    for (i = 0; i < n; i++)
        if (!(is_alnum(s[i]) || s[i] == '.' || s[i] == '+' || s[i] == '-' || s[i] == '!'))
            return 0;
    return 1;
}

static void pkg_set(tri_job *J, const char *name, size_t nn, const char *ver, size_t vn)
{
    char key[64];
    int i;
    if (!pkg_name_ok(name, nn) || !ver_ok(ver, vn))
        return;
    norm_pkg(key, sizeof(key), name, nn);
    i = tab_find(&J->pkg_tab, key, 0);
    if (i < 0) {
        i = J->n_pkgs;
        if (J->n_pkgs >= TRI_MAX_PKGS) {
            J->pkgs_dropped++;
            return;
        }
        if (J->n_pkgs == J->cap_pkgs) {
            int cap = J->cap_pkgs ? J->cap_pkgs * 2 : 32, m;
            tri_pkg *np = realloc(J->pkgs, sizeof(*np) * (size_t)cap);
            if (!np)
                return;
            J->pkgs = np;
            J->cap_pkgs = cap;
            for (m = 0; m < J->pkg_tab.n; m++) /* the table's keys are the names */
                J->pkg_tab.keys[m] = J->pkgs[m].name;
        }
        tri_fmt(J->pkgs[i].name, sizeof(J->pkgs[i].name), "%s", key);
        if (tab_id(&J->pkg_tab, J->pkgs[i].name, 0, 1) != i)
            return;
        J->n_pkgs++;
    }
    copy(J->pkgs[i].ver, sizeof(J->pkgs[i].ver), ver, vn);
}

/* "Successfully installed a-1.0 b_c-2.0rc1": name and version split at the
 * last '-' followed by a digit. */
static void pip_installed(tri_job *J, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t a, b, d = 0;
        while (i < n && s[i] == ' ')
            i++;
        a = i;
        while (i < n && s[i] != ' ')
            i++;
        b = i;
        for (size_t k = a; k + 1 < b; k++)
            if (s[k] == '-' && is_digit(s[k + 1]))
                d = k;
        if (d > a)
            pkg_set(J, s + a, d - a, s + d + 1, b - d - 1);
    }
}

/* "name==version" (pip freeze, uv's " + name==version"). */
static void pin_line(tri_job *J, const char *s, size_t n)
{
    const char *eq = memmem(s, n, "==", 2);
    if (eq && !memchr(s, ' ', n))
        pkg_set(J, s, (size_t)(eq - s), eq + 2, n - (size_t)(eq - s) - 2);
}

/* pip list: "Package    Version" / "---------- -------" / "name  1.0 [location]". */
static void pip_list_line(tri_job *J, const char *s, size_t n)
{
    size_t a = 0, b, c, d;
    if (J->pip_list == 1) {
        J->pip_list = (n > 0 && s[0] == '-') ? 2 : 0;
        return;
    }
    while (a < n && s[a] != ' ')
        a++;
    b = a;
    while (b < n && s[b] == ' ')
        b++;
    c = b;
    while (c < n && s[c] != ' ')
        c++;
    d = c;
    while (d < n && s[d] == ' ')
        d++;
    if (a == 0 || b == a || c == b || !pkg_name_ok(s, a) || !ver_ok(s + b, c - b)) {
        J->pip_list = 0;
        return;
    }
    pkg_set(J, s, a, s + b, c - b);
}

/* ---- one line ---- */

/* pytest's "platform linux -- Python 3.11.7, pytest-8.0.0, ..." names the OS. */
static void platform_line(tri_job *J, const char *s, size_t n)
{
    int os = OS_UNKNOWN;
    if (starts(s, n, "platform linux"))
        os = OS_LINUX;
    else if (starts(s, n, "platform win32") || starts(s, n, "platform cygwin"))
        os = OS_WINDOWS;
    else if (starts(s, n, "platform darwin"))
        os = OS_MACOS;
    if (os != OS_UNKNOWN && !J->os_from_log) {
        J->os_from_log = os;
        if (J->os == OS_UNKNOWN)
            J->os = os;
    }
}

/* pip's resolver errors: a step failed on dependencies, with no test. */
static void pip_error(tri_job *J, const char *s, size_t n, uint64_t log_line)
{
    tri_fail *F;
    if (!(memmem(s, n, "but you have", 12) || memmem(s, n, "No matching distribution", 24) ||
          memmem(s, n, "Could not find a version", 24) || memmem(s, n, "ResolutionImpossible", 20)))
        return;
    if (J->n_fails >= TRI_MAX_FAILS) {
        J->fails_dropped++;
        return;
    }
    F = fail_add(J, K_STEP, NULL, 0);
    if (!F)
        return;
    F->category = C_DEPENDENCY;
    copy(F->message, sizeof(F->message), s, n);
    F->log_line = log_line;
}

/* What triage reads from one line of a job's text (the report reads the rest). */
static void tri_text(tri_job *J, const char *line, size_t len, uint64_t log_line)
{
    char buf[TRI_LINE_MAX];
    size_t off = after_stamp(line, len), n;
    const char *s = line + off;
    size_t sn = len - off;
    unsigned char c0;
    while (sn >= 2 && s[0] == 0x1b && s[1] == '[') {
        size_t i = 2;
        while (i < sn && i < 32 && !((unsigned char)s[i] >= '@' && s[i] <= '~'))
            i++;
        s += i + 1 < sn ? i + 1 : sn;
        sn -= i + 1 < sn ? i + 1 : sn;
    }
    if (sn == 0)
        return;
    c0 = (unsigned char)s[0];
    /* cheap filter: the lines of interest start with one of these, or are a
       section's lines, a pip list's rows, or a short "name==version" */
    if (!J->section && !J->pip_list && !strchr("=FESRpP ", c0)) {
        if (sn < 100 && memchr(s, '=', sn))
            pin_line(J, s, sn);
        return;
    }
    if (c0 == '\0')
        return;
    /* indented lines matter only as uv's " + name==version" (a traceback's
       source lines are indented too: the bulk of a FAILURES section) */
    if (c0 == ' ' && !J->pip_list && !(sn > 3 && (s[1] == '+' || s[1] == '~') && s[2] == ' '))
        return;
    if (J->section && !J->pip_list && c0 != 'E' && c0 != '_' && c0 != '=' && c0 != '>' &&
        !memchr(s, ':', sn < 400 ? sn : 400))
        return; /* neither an E line, a title, a separator nor a location */
    n = clean(buf, sizeof(buf), s, sn);
    if (n == 0) {
        if (J->pip_list)
            J->pip_list = 0;
        return;
    }
    s = buf;
    if (J->pip_list) {
        pip_list_line(J, s, n);
        if (J->pip_list)
            return;
    }
    if (s[0] == '=' && n > 4 && s[1] == '=' && s[n - 1] == '=') {
        J->cur_sec = -1;
        if (memmem(s, n, " FAILURES ", 10))
            J->section = 1;
        else if (memmem(s, n, " ERRORS ", 8))
            J->section = 2;
        else
            J->section = 0;
        return;
    }
    if (J->section) {
        if (s[0] == '_' && n > 4 && s[1] == '_' && s[n - 1] == '_')
            sec_title(J, s, n, log_line);
        else
            sec_line(J, s, n, log_line);
        return;
    }
    switch (s[0]) {
    case 'F':
        if (starts(s, n, "FAILED ")) {
            summary_line(J, K_FAILED, s + 7, n - 7, log_line);
            return;
        }
        break;
    case 'E':
        if (starts(s, n, "ERROR: ")) {
            pip_error(J, s, n, log_line);
            return;
        }
        if (starts(s, n, "ERROR ")) {
            summary_line(J, K_ERROR, s + 6, n - 6, log_line);
            return;
        }
        break;
    case 'S':
        if (starts(s, n, "Successfully installed ")) {
            pip_installed(J, s + 23, n - 23);
            return;
        }
        break;
    case 'R':
        /* "Requirement already satisfied: numpy in ./lib (from x) (1.26.4)" */
        if (starts(s, n, "Requirement already satisfied: ") && s[n - 1] == ')') {
            const char *p = s + 31, *in = memmem(p, n - 31, " in ", 4);
            size_t k = n - 1;
            while (k > 31 && s[k - 1] != '(')
                k--;
            if (in && k > 31) {
                size_t nl = (size_t)(in - p), j = 0;
                while (j < nl && (is_alnum(p[j]) || p[j] == '-' || p[j] == '.'))
                    j++;
                pkg_set(J, p, j, s + k, n - 1 - k);
            }
            return;
        }
        break;
    case 'P':
        if (starts(s, n, "Package ") && memmem(s, n, " Version", 8)) {
            J->pip_list = 1;
            return;
        }
        break;
    case 'p':
        if (starts(s, n, "platform ")) {
            platform_line(J, s, n);
            return;
        }
        break;
    case ' ':
        /* uv: " + numpy==2.0.0", " ~ numpy==2.0.0" */
        if (n > 4 && (s[1] == '+' || s[1] == '~') && s[2] == ' ')
            pin_line(J, s + 3, n - 3);
        return;
    default:
        break;
    }
    /* pip freeze's "name==version", whatever letter the name starts with
       ("pytest==8.0", "PyYAML==6.0", "SQLAlchemy==2.0") */
    if (n < 100 && memchr(s, '=', n))
        pin_line(J, s, n);
}

/* ---- inputs ---- */

rm_triage *rm_triage_new(void)
{
    rm_triage *T = calloc(1, sizeof(rm_triage));
    if (T) {
        T->seed = rm_random_seed();
        tab_init(&T->job_tab, T->seed);
        tab_init(&T->test_tab, T->seed ^ 0x5bd1e9955bd1e995ull);
    }
    return T;
}

void rm_triage_free(rm_triage *T)
{
    int i;
    if (!T)
        return;
    for (i = 0; i < T->n_jobs; i++)
        job_free(T->jobs[i]);
    for (i = 0; i < T->n_groups; i++)
        free(T->groups[i].members);
    free(T->groups);
    tab_free(&T->job_tab);
    tab_free(&T->test_tab);
    free(T->tid_mark);
    free(T);
}

/* A job's name from a file name: the base name without .gz, .log or .txt. */
static void name_from_path(char *dst, size_t cap, const char *path)
{
    const char *b = strrchr(path, '/');
    size_t n;
    b = b ? b + 1 : path;
    n = strlen(b);
    if (n > 3 && strcmp(b + n - 3, ".gz") == 0)
        n -= 3;
    if (n > 4 && (memcmp(b + n - 4, ".log", 4) == 0 || memcmp(b + n - 4, ".txt", 4) == 0))
        n -= 4;
    if (n == 0 || strcmp(path, "-") == 0) {
        b = "stdin";
        n = 5;
    }
    copy(dst, cap, b, n);
}

/* A job's name from its log in GitHub's log archive: "3_test (ubuntu).txt"
 * is job "test (ubuntu)", and so is a step's log "test (ubuntu)/2_Run.txt". */
static void name_from_member(char *dst, size_t cap, const char *member)
{
    const char *b = member, *slash = strchr(member, '/');
    size_t n;
    if (slash) {
        copy(dst, cap, member, (size_t)(slash - member));
        return;
    }
    while (*b >= '0' && *b <= '9')
        b++;
    b = *b == '_' && b > member ? b + 1 : member;
    n = strlen(b);
    if (n > 4 && memcmp(b + n - 4, ".txt", 4) == 0)
        n -= 4;
    copy(dst, cap, b, n);
}

/* One line of an input: routed to its job, read by the job's run and by triage. */
static void input_line(rm_triage *T, tri_input *in, uint64_t lineno, const char *line, size_t len,
                       unsigned flags)
{
    tri_job *J = NULL;
    const char *body = line;
    size_t blen = len;
    int gh = 0;
    if (!is_stamp(line, len)) {
        const char *t1 = memchr(line, '\t', len);
        if (t1 && t1 > line) {
            size_t r1 = len - (size_t)(t1 + 1 - line);
            const char *t2 = memchr(t1 + 1, '\t', r1);
            if (t2) {
                size_t r2 = len - (size_t)(t2 + 1 - line);
                if (is_stamp(t2 + 1, r2)) {
                    J = job_get(T, line, (size_t)(t1 - line));
                    if (!J)
                        return;
                    in->last_gh = J;
                    body = t2 + 1;
                    blen = r2;
                    gh = 1;
                }
            }
        }
    }
    if (!gh) {
        if (in->explicit_job)
            J = in->job;
        else if (in->last_gh)
            J = in->last_gh; /* a stray line in a gh stream: the job before it */
        else {
            if (!in->job)
                in->job = job_get(T, in->default_name, strlen(in->default_name));
            J = in->job;
        }
        if (!J)
            return;
    }
    if (in->explicit_job && !gh) {
        rm_run_line(J->run, in->src, lineno, body, blen, flags);
        tri_text(J, body, blen, lineno);
        return;
    }
    J->n_lines++;
    rm_run_line(J->run, job_log_src(J), J->n_lines, body, blen, flags);
    tri_text(J, body, blen, J->n_lines);
}

static void append_error(rm_triage *T, const char *path, const char *err)
{
    size_t k = strlen(T->errors);
    int w =
        tri_fmt(T->errors + k, sizeof(T->errors) - k, "%s%.200s: %.200s", k ? "; " : "", path, err);
    if (w < 0 || (size_t)w >= sizeof(T->errors) - k)
        T->errors[k] = '\0';
}

static int input_open(rm_triage *T, tri_input *in, const char *job, const char *path)
{
    memset(in, 0, sizeof(*in));
    in->path = path;
    in->src = -1;
    if (job) {
        in->explicit_job = 1;
        in->job = job_get(T, job, strlen(job));
        if (!in->job)
            return -1;
        in->src = rm_run_add_source(in->job->run, path);
        if (in->src < 0)
            return -1;
    } else {
        name_from_path(in->default_name, sizeof(in->default_name), path);
    }
    return 0;
}

/* An input with no line at all is a job that never started (a cancelled
 * step leaves no log): the job exists, with nothing in it. */
static void input_close(rm_triage *T, tri_input *in, uint64_t lines)
{
    if (lines == 0 && !in->explicit_job && !in->job) {
        in->job = job_get(T, in->default_name, strlen(in->default_name));
        if (in->job)
            job_log_src(in->job);
    }
}

int rm_triage_ingest(rm_triage *T, const char *job, const char *path)
{
    rm_reader *rd = malloc(sizeof(*rd));
    tri_input in;
    rm_textstate saved;
    const char *line;
    size_t len;
    unsigned flags;
    int r;
    if (!rd)
        return -1;
    if (input_open(T, &in, job, path) != 0) {
        append_error(T, path, "too many jobs, or out of memory");
        free(rd);
        return -1;
    }
    if (in.explicit_job) { /* its own multi-line state, as resmon-report gives each file */
        saved = in.job->run->ts;
        memset(&in.job->run->ts, 0, sizeof(saved));
    }
    if (rm_reader_open(rd, path) != 0) {
        append_error(T, path, rd->err);
        if (in.explicit_job) {
            tri_fmt(in.job->run->src[in.src].error, sizeof(in.job->run->src[0].error), "%s",
                    rd->err);
            in.job->run->ts = saved;
        }
        free(rd);
        return -1;
    }
    while ((r = rm_reader_next(rd, &line, &len, &flags)) == 1) {
        if (rd->zip_jobs > 1 && !in.explicit_job && rd->member_seq != in.member_seq) {
            /* GitHub's log archive: each top-level file is a job's log */
            char name[sizeof(in.default_name)];
            in.member_seq = rd->member_seq;
            name_from_member(name, sizeof(name), rd->member);
            if (strcmp(name, in.default_name) != 0) { /* a step's log: its job's */
                memcpy(in.default_name, name, sizeof(name));
                in.job = NULL;
                in.last_gh = NULL;
            }
        }
        input_line(T, &in, rd->lineno, line, len, flags);
    }
    if (r < 0)
        append_error(T, path, rd->err);
    input_close(T, &in, rd->lineno);
    if (in.explicit_job) {
        rm_source *S = &in.job->run->src[in.src];
        S->bytes = rd->bytes;
        S->gz = rd->gz == 1;
        S->zip_members = rd->zip_members;
        S->zip_jobs = rd->zip_jobs;
        S->gz_cut = rd->gz_cut;
        in.job->run->ts = saved;
    }
    rm_reader_close(rd);
    free(rd);
    return 0; /* a read error mid-file leaves the lines before it (T->errors says so) */
}

int rm_triage_feed(rm_triage *T, const char *job, const char *name, const char *data, size_t size)
{
    tri_input in;
    size_t start = 0;
    uint64_t lineno = 0;
    if (input_open(T, &in, job, name) != 0)
        return -1;
    while (start < size) {
        const char *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size;
        input_line(T, &in, ++lineno, data + start, end - start, 0);
        start = end + 1;
    }
    input_close(T, &in, lineno);
    return 0;
}

/* ---- the analysis ---- */

/* Masks what differs between occurrences of one cause: numbers, hex
 * addresses, paths and quoted values. */
static void signature(char *dst, size_t cap, const char *s)
{
    size_t i = 0, k = 0, n = strlen(s), body = exc_len(s, n);
    /* Scans that failed from i fail from every later start they cover too
       (a suffix of a token is no path; no closing quote after i is none after
       a later quote either), so each is remembered: one pass, never n^2. */
    size_t no_path_before = 0;
    int unclosed[2] = {0, 0}; /* ' and " */
    int space = 0;
    /* the exception type stays as it is; in the message, digits inside words
       are numbers too ("float64", "blk_0001") */
    if (body) {
        copy(dst, cap, s, body);
        k = strlen(dst);
        i = body;
    }
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (k + 1 < cap)                                                                           \
            dst[k++] = (c);                                                                        \
    } while (0)
#define PUTS(lit)                                                                                  \
    do {                                                                                           \
        const char *p_ = (lit);                                                                    \
        while (*p_)                                                                                \
            PUT(*p_++);                                                                            \
    } while (0)
    while (i < n && k + 1 < cap) {
        unsigned char c = (unsigned char)s[i];
        int prev = i > 0 ? (unsigned char)s[i - 1] : ' ';
        if (c == ' ' || c == '\t') {
            space = 1;
            i++;
            continue;
        }
        if (space && k > 0)
            PUT(' ');
        space = 0;
        /* a quoted value: a quote after a non-word character, to its match */
        if ((c == '\'' || c == '"') && !is_alnum(prev) && !unclosed[c == '"']) {
            size_t j = i + 1;
            while (j < n && !((unsigned char)s[j] == c && (j + 1 == n || !is_alnum(s[j + 1]))))
                j++;
            if (j < n) {
                PUT((char)c);
                PUT('?');
                PUT((char)c);
                i = j + 1;
                continue;
            }
            unclosed[c == '"'] = 1;
        }
        if (c == '(') { /* a shape or tuple of numbers: "(4194304, 8388608)", "(7,)" */
            size_t j = i + 1;
            while (j < n && (is_digit(s[j]) || s[j] == ',' || s[j] == ' ' || s[j] == '.'))
                j++;
            if (j < n && s[j] == ')' && j > i + 1 && is_digit(s[i + 1])) {
                PUTS("(#)");
                i = j + 1;
                continue;
            }
        }
        if (c == '0' && i + 2 < n && (s[i + 1] == 'x' || s[i + 1] == 'X') && !is_alnum(prev)) {
            i += 2;
            while (i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                             (s[i] >= 'A' && s[i] <= 'F')))
                i++;
            PUTS("0x?");
            continue;
        }
        if ((!is_alnum(prev) || i == 0) && i >= no_path_before) {
            /* a path: a token with a / or \ and a letter */
            size_t j = i;
            int sep = 0, letter = 0;
            while (j < n && s[j] != ' ' && s[j] != '\'' && s[j] != '"' && s[j] != ',' &&
                   s[j] != '(' && s[j] != ')' && s[j] != '[' && s[j] != ']') {
                if (s[j] == '/' || s[j] == '\\')
                    sep = 1;
                else if ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))
                    letter = 1;
                j++;
            }
            if (sep && letter && j - i > 2 && (s[j - 1] != ':' || j - i > 3)) {
                PUTS("<path>");
                if (s[j - 1] == ':')
                    PUT(':');
                i = j;
                continue;
            }
            no_path_before = j;
        }
        if (is_digit(c) && (!is_alnum(prev) || i >= body)) {
            while (i < n && is_digit(s[i]))
                i++;
            if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1]))
                for (i++; i < n && is_digit(s[i]); i++)
                    ;
            if (i + 1 < n && (s[i] == 'e' || s[i] == 'E') &&
                (is_digit(s[i + 1]) ||
                 (i + 2 < n && (s[i + 1] == '-' || s[i + 1] == '+') && is_digit(s[i + 2])))) {
                i += 2;
                while (i < n && is_digit(s[i]))
                    i++;
            }
            PUT('#');
            continue;
        }
        PUT(c < 0x20 || c >= 0x7f ? '?' : (char)c);
        i++;
    }
    dst[k] = '\0';
#undef PUT
#undef PUTS
}

static int category_of(const tri_fail *F)
{
    char exc[64] = "";
    const char *b, *msg = F->message;
    size_t el = exc_len(msg, strlen(msg));
    if (el)
        copy(exc, sizeof(exc), msg, el);
    b = base_name(exc);
    msg += el ? el + 1 : 0;
    while (*msg == ' ')
        msg++;
    if (!strcmp(b, "UnicodeEncodeError") || !strcmp(b, "UnicodeDecodeError") ||
        !strcmp(b, "UnicodeError") || !strcmp(b, "UnicodeTranslateError") || (F->hits & H_CODEC))
        return C_ENCODING;
    if (el >= 11 && !strcmp(b + strlen(b) - 11, "MemoryError"))
        return C_MEMORY_ERROR;
    if (!strcmp(b, "ImportError") || !strcmp(b, "ModuleNotFoundError") ||
        !strcmp(b, "VersionConflict") || !strcmp(b, "ContextualVersionConflict") ||
        !strcmp(b, "DistributionNotFound") || !strcmp(b, "PackageNotFoundError") ||
        (!strcmp(b, "AttributeError") && starts(msg, strlen(msg), "module '")) ||
        (!el && (F->hits & H_DEPENDENCY)))
        return C_DEPENDENCY;
    if ((!strcmp(b, "Failed") && starts(msg, strlen(msg), "Timeout")) ||
        !strcmp(b, "TimeoutError") || !strcmp(b, "TimeoutExpired") || !strcmp(b, "Timeout") ||
        (F->hits & H_TIMEOUT))
        return C_TIMEOUT;
    if ((!el || !strcmp(b, "AssertionError")) && (F->hits & H_TOLERANCE))
        return C_TOLERANCE;
    if (F->kind == K_ERROR)
        return C_ERROR;
    if (!strcmp(b, "AssertionError") || starts(F->message, strlen(F->message), "assert "))
        return C_ASSERTION;
    return C_OTHER;
}

/* The section a FAILED/ERROR line's id belongs to: its key. */
static void sec_key_of(char *dst, size_t cap, int kind, const char *id)
{
    const char *c = strstr(id, "::");
    size_t k = 0;
    if (!c) {
        tri_fmt(dst, cap, "C:%s", id);
        return;
    }
    dst[k++] = kind == K_ERROR ? 'E' : 'F';
    dst[k++] = ':';
    for (c += 2; *c && k + 1 < cap; c++) {
        if (c[0] == ':' && c[1] == ':') {
            dst[k++] = '.';
            c++;
        } else {
            dst[k++] = *c;
        }
    }
    dst[k] = '\0';
}

static int cmp_sec(const void *a, const void *b)
{
    return strcmp(((const tri_sec *)a)->key, ((const tri_sec *)b)->key);
}

/* Does a location's file name the test's file (either may be absolute, or
 * written with backslashes)? */
static int same_file(const char *loc, const char *test)
{
    size_t ln = strlen(loc), tn;
    const char *c = strstr(test, "::");
    tn = c ? (size_t)(c - test) : strlen(test);
    if (tn == 0 || ln == 0)
        return 0;
    while (ln > 0 && tn > 0) {
        char a = loc[ln - 1], b = test[tn - 1];
        if (a == '\\')
            a = '/';
        if (b == '\\')
            b = '/';
        if (a != b)
            return 0;
        ln--;
        tn--;
    }
    return (ln == 0 || loc[ln - 1] == '/' || loc[ln - 1] == '\\') &&
           (tn == 0 || test[tn - 1] == '/');
}

/* A location in the test's own file is written as the test id writes that
 * file (relative, with '/'), whatever the traceback said (absolute, '\\'). */
static void loc_as_test(tri_fail *F)
{
    const char *c;
    if (!F->test || !F->loc.file[0] || !same_file(F->loc.file, F->test))
        return;
    c = strstr(F->test, "::");
    copy(F->loc.file, sizeof(F->loc.file), F->test, c ? (size_t)(c - F->test) : strlen(F->test));
}

/* Fills a failure's message, location and words from its section. */
static void from_section(tri_fail *F, tri_sec *S)
{
    const char *line = S->e_first, *next = S->e_first_next;
    char msg[TRI_MSG_MAX * 2 + 2];
    int i, best = -1;
    S->used = 1;
    F->hits |= S->hits;
    if (S->exc[0] && S->e_typed[0] && starts(S->e_typed, strlen(S->e_typed), S->exc)) {
        line = S->e_typed;
        next = S->e_typed_next;
    }
    if (line[0]) {
        size_t el = exc_len(line, strlen(line));
        if (el && el + 1 >= strlen(line) && next[0])
            tri_fmt(msg, sizeof(msg), "%.*s: %s", (int)el, line, next);
        else if (!el && S->exc[0] && strcmp(base_name(S->exc), "AssertionError") == 0)
            tri_fmt(msg, sizeof(msg), "AssertionError: %s", line);
        else if (!el && S->exc[0])
            tri_fmt(msg, sizeof(msg), "%s: %s", S->exc, line);
        else
            tri_fmt(msg, sizeof(msg), "%s", line);
        copy(F->message, sizeof(F->message), msg, strlen(msg));
        F->log_line = S->log_line;
    }
    for (i = 0; i < S->n_locs; i++)
        if (F->test && same_file(S->locs[i].file, F->test))
            best = i;
    if (best < 0 && S->n_locs > 0)
        best = S->n_locs - 1;
    if (best >= 0)
        F->loc = S->locs[best];
    loc_as_test(F);
}

/* `File "/x/tests/t.py", line 12 in test_a` (faulthandler) as a location. */
static void loc_from_frame(tri_loc *L, const char *fr)
{
    const char *a = strstr(fr, "File \""), *b, *l;
    if (!a)
        return;
    a += 6;
    b = strchr(a, '"');
    if (!b)
        return;
    l = strstr(b, ", line ");
    copy(L->file, sizeof(L->file), a, (size_t)(b - a));
    L->line = l ? strtol(l + 7, NULL, 10) : 0;
}

static int has_category(const tri_job *J, int c)
{
    int i;
    for (i = 0; i < J->n_fails; i++)
        if (J->fails[i].category == c)
            return 1;
    return 0;
}

static const char *signal_name(long s)
{
    switch (s) {
    case 4:
        return "SIGILL";
    case 6:
        return "SIGABRT";
    case 7:
        return "SIGBUS";
    case 8:
        return "SIGFPE";
    case 9:
        return "SIGKILL";
    case 11:
        return "SIGSEGV";
    case 15:
        return "SIGTERM";
    default:
        return "a signal";
    }
}

/* The job's death as a failure: the report's verdict, its boundary test. */
static void death(tri_job *J)
{
    const rm_run *run = J->run;
    const rm_verdict *v = &run->verdict;
    int c = -1, ti = run->boundary_test;
    const char *sig = NULL;
    char msg[TRI_MSG_MAX];
    tri_fail *F;
    switch (v->kind) {
    case RM_V_OOM_KILL:
        c = C_OOM_KILL;
        sig = "killed by the OOM killer";
        break;
    case RM_V_SEGFAULT:
        c = C_SEGFAULT;
        sig = "Segmentation fault";
        break;
    case RM_V_SIGNAL:
        c = C_SEGFAULT;
        sig = NULL; /* "fatal signal SIGABRT" */
        break;
    case RM_V_RUNNER_SHUTDOWN:
        c = C_RUNNER_SHUTDOWN;
        sig = "the runner received a shutdown signal";
        break;
    case RM_V_KILLED:
        c = C_RUNNER_SHUTDOWN;
        sig = "killed from outside (SIGKILL, not memory)";
        break;
    case RM_V_CANCELLED:
        c = C_CANCELLED;
        sig = "cancelled";
        break;
    case RM_V_HANG:
        c = C_TIMEOUT;
        sig = "hang: a time limit fired";
        break;
    case RM_V_MEMORY_ERROR:
        c = C_MEMORY_ERROR;
        sig = "MemoryError";
        ti = run->memerr_test;
        break;
    case RM_V_FAILED:
        if (J->n_fails > 0)
            return;
        c = C_OTHER;
        sig = "the job failed without a failing test";
        break;
    default:
        return;
    }
    if (has_category(J, c))
        return;
    if (v->kind == RM_V_HANG && has_category(J, C_TIMEOUT))
        return;
    F = ti >= 0 ? fail_add(J, K_DEATH, run->tests[ti].id, strlen(run->tests[ti].id))
                : fail_add(J, K_DEATH, NULL, 0);
    if (!F)
        return;
    F->category = c;
    if (v->kind == RM_V_SEGFAULT || v->kind == RM_V_SIGNAL) {
        char s2[64];
        tri_fmt(s2, sizeof(s2), "fatal signal %s", signal_name(v->signal > 0 ? v->signal : 11));
        if (v->kind == RM_V_SIGNAL)
            tri_fmt(F->sig, sizeof(F->sig), "%s", s2);
        if (run->max_dump_threads)
            tri_fmt(msg, sizeof(msg), "%s (%llu threads in the dump): %s",
                    v->kind == RM_V_SEGFAULT ? "Segmentation fault" : s2,
                    (unsigned long long)run->max_dump_threads, v->why);
        else
            tri_fmt(msg, sizeof(msg), "%s: %s",
                    v->kind == RM_V_SEGFAULT ? "Segmentation fault" : s2, v->why);
        if (run->crash_frame[0])
            loc_from_frame(&F->loc, run->crash_frame);
        loc_as_test(F);
    } else {
        tri_fmt(msg, sizeof(msg), "%s", v->why);
    }
    copy(F->message, sizeof(F->message), msg, strlen(msg));
    if (sig)
        tri_fmt(F->sig, sizeof(F->sig), "%s", sig);
    if (v->n_ev > 0) {
        const rm_evidence *e = &run->evl[v->ev[0]];
        if (e->src == J->log_src)
            F->log_line = e->line;
    }
}

/* Per job: the report's analysis, then its failures joined to their sections
 * and classified. */
static void analyse_job(tri_job *J)
{
    int i;
    char key[TRI_MSG_MAX + 8];
    if (J->log_src < 0 && J->run->n_src == 0)
        job_log_src(J);
    rm_run_analyze(J->run);
    if (J->run->verdict.kind == RM_V_PASSED && J->n_fails > 0) {
        /* the job passed: FAILED lines came from an inner session (pytester) or a print */
        J->fails_ignored = (uint64_t)J->n_fails;
        for (i = 0; i < J->n_fails; i++)
            free(J->fails[i].test);
        J->n_fails = 0;
        return;
    }
    if (J->n_secs > 1)
        qsort(J->secs, (size_t)J->n_secs, sizeof(tri_sec), cmp_sec);
    for (i = 0; i < J->n_fails; i++) {
        tri_fail *F = &J->fails[i];
        tri_sec probe, *S;
        if (!F->test || (F->kind != K_FAILED && F->kind != K_ERROR))
            continue;
        sec_key_of(key, sizeof(key), F->kind, F->test);
        probe.key = key;
        S = J->n_secs ? bsearch(&probe, J->secs, (size_t)J->n_secs, sizeof(tri_sec), cmp_sec)
                      : NULL;
        /* an error at setup may be reported with the test's FAILED key too */
        while (S && S > J->secs && strcmp(S[-1].key, key) == 0 && S[-1].used)
            S--;
        if (S)
            from_section(F, S);
        if (!F->message[0] && F->reason[0]) {
            const char *r = F->reason;
            if (starts(r, strlen(r), "assert "))
                tri_fmt(F->message, sizeof(F->message), "AssertionError: %.200s", r);
            else
                copy(F->message, sizeof(F->message), r, strlen(r));
        }
        F->hits |= hits_of(F->reason, strlen(F->reason));
    }
    /* sections with no FAILED/ERROR line (pytest ran without -r) */
    for (i = 0; i < J->n_secs; i++) {
        tri_sec *S = &J->secs[i];
        tri_fail *F;
        if (S->used)
            continue;
        F = fail_add(J, S->key[0] == 'F' ? K_FAILED : K_ERROR, S->key + 2, strlen(S->key + 2));
        if (F && !F->message[0])
            from_section(F, S);
    }
    for (i = 0; i < J->n_fails; i++) {
        tri_fail *F = &J->fails[i];
        if (F->kind != K_DEATH && F->kind != K_STEP)
            F->category = category_of(F);
    }
    death(J);
    for (i = 0; i < J->n_fails; i++) {
        tri_fail *F = &J->fails[i];
        if (!F->message[0])
            tri_fmt(F->message, sizeof(F->message), "%s",
                    F->kind == K_ERROR ? "error (no message)" : "failed (no message)");
        if (!F->sig[0]) {
            char first[TRI_MSG_MAX];
            const char *nl = strchr(F->message, '\n');
            copy(first, sizeof(first), F->message,
                 nl ? (size_t)(nl - F->message) : strlen(F->message));
            signature(F->sig, sizeof(F->sig), first);
        }
    }
}

static int cmp_group(const void *a, const void *b)
{
    const tri_group *x = a, *y = b;
    if (fix_order[x->category] != fix_order[y->category])
        return fix_order[x->category] - fix_order[y->category];
    if (x->n_members != y->n_members)
        return y->n_members - x->n_members;
    return strcmp(x->sig, y->sig);
}

static int group_add_member(tri_group *G, int job, int fail)
{
    if (G->n_members * 2 + 2 > G->cap_members) {
        int cap = G->cap_members ? G->cap_members * 2 : 8;
        int *nm = realloc(G->members, sizeof(int) * (size_t)cap);
        if (!nm)
            return -1;
        G->members = nm;
        G->cap_members = cap;
    }
    G->members[G->n_members * 2] = job;
    G->members[G->n_members * 2 + 1] = fail;
    G->n_members++;
    return 0;
}

static int ran_tests(const tri_job *J);

static unsigned all_os(const rm_triage *T)
{
    unsigned m = 0;
    int i;
    for (i = 0; i < T->n_jobs; i++)
        if (T->jobs[i]->os != OS_UNKNOWN && ran_tests(T->jobs[i]))
            m |= 1u << T->jobs[i]->os;
    return m;
}

static int cmp_job(const void *a, const void *b)
{
    return strcmp((*(tri_job *const *)a)->name, (*(tri_job *const *)b)->name);
}

/* Each failure's test id, whether it is the first of its test in its job, and
 * whether its test failed on only some of the jobs that ran tests (`only_in`):
 * a test counts the jobs that ran tests and failed it, once per job. */
static void tests_across_jobs(rm_triage *T)
{
    int j, i, n_ran = 0, *last_job, *n_failed;
    for (j = 0; j < T->n_jobs; j++) {
        tri_job *J = T->jobs[j];
        n_ran += ran_tests(J) != 0;
        for (i = 0; i < J->n_fails; i++) {
            tri_fail *F = &J->fails[i];
            F->tid = F->test ? tab_id(&T->test_tab, F->test, 0, 1) : -1;
            F->first = 1;
            F->only_some = 0;
        }
    }
    last_job = malloc(sizeof(int) * (size_t)(T->test_tab.n + 1));
    n_failed = calloc((size_t)T->test_tab.n + 1, sizeof(int));
    T->tid_mark = calloc((size_t)T->test_tab.n + 1, sizeof(unsigned));
    if (!last_job || !n_failed) {
        free(last_job);
        free(n_failed);
        return;
    }
    for (i = 0; i < T->test_tab.n; i++)
        last_job[i] = -1;
    for (j = 0; j < T->n_jobs; j++) {
        tri_job *J = T->jobs[j];
        for (i = 0; i < J->n_fails; i++) {
            tri_fail *F = &J->fails[i];
            if (F->tid < 0)
                continue;
            if (last_job[F->tid] == j) {
                F->first = 0;
                continue;
            }
            last_job[F->tid] = j;
            if (ran_tests(J))
                n_failed[F->tid]++;
        }
    }
    /* not failed on every other job that ran tests: with the job's own
     * failure counted when it ran tests, that is fewer than all that ran */
    for (j = 0; j < T->n_jobs; j++) {
        tri_job *J = T->jobs[j];
        for (i = 0; i < J->n_fails; i++) {
            tri_fail *F = &J->fails[i];
            F->only_some = F->tid >= 0 && n_ran >= 2 && n_failed[F->tid] < n_ran;
        }
    }
    free(last_job);
    free(n_failed);
}

static void analyse(rm_triage *T)
{
    int j, i, g;
    unsigned every_os;
    tri_tab group_tab;
    if (T->analysed)
        return;
    T->analysed = 1;
    /* jobs by name: the triage is the same for any order of the inputs */
    if (T->n_jobs > 1)
        qsort(T->jobs, (size_t)T->n_jobs, sizeof(T->jobs[0]), cmp_job);
    for (j = 0; j < T->n_jobs; j++)
        analyse_job(T->jobs[j]);
    tests_across_jobs(T);
    /* groups: (category, signature), in job order then line order (so a
     * group's members are in job order: group_list relies on it) */
    tab_init(&group_tab, T->seed ^ 0x27d4eb2f165667c5ull);
    for (j = 0; j < T->n_jobs; j++) {
        tri_job *J = T->jobs[j];
        for (i = 0; i < J->n_fails; i++) {
            tri_fail *F = &J->fails[i];
            g = tab_id(&group_tab, F->sig, F->category, 0);
            if (g < 0) {
                if (T->n_groups == T->cap_groups) {
                    int cap = T->cap_groups ? T->cap_groups * 2 : 16;
                    tri_group *ng = realloc(T->groups, sizeof(*ng) * (size_t)cap);
                    if (!ng)
                        continue;
                    T->groups = ng;
                    T->cap_groups = cap;
                }
                g = tab_id(&group_tab, F->sig, F->category, 1);
                if (g < 0)
                    continue;
                /* ids are given in order: g is the next group */
                memset(&T->groups[g], 0, sizeof(T->groups[g]));
                T->groups[g].category = F->category;
                T->groups[g].sig = F->sig;
                T->n_groups++;
            }
            group_add_member(&T->groups[g], j, i);
        }
    }
    tab_free(&group_tab);
    every_os = all_os(T);
    for (g = 0; g < T->n_groups; g++) {
        tri_group *G = &T->groups[g];
        unsigned m = 0;
        for (i = 0; i < G->n_members; i++) {
            int os = T->jobs[G->members[2 * i]]->os;
            if (os != OS_UNKNOWN)
                m |= 1u << os;
        }
        G->os_set = m;
        /* several OSes ran, and this cause showed on some of them only */
        G->os_specific = m && (every_os & (every_os - 1)) && m != every_os;
    }
    if (T->n_groups > 1)
        qsort(T->groups, (size_t)T->n_groups, sizeof(tri_group), cmp_group);
}

/* ---- cross-job views ---- */

/* Jobs whose list of failures is complete: pytest printed its summary. A job
 * that died before has failures but no complete list to compare. */
static int ran_tests(const tri_job *J)
{
    return J->run->has_summary;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The packages whose versions differ between jobs, sorted (caller frees). */
static const char **drift(const rm_triage *T, int *n_out)
{
    const char **names = NULL, **ver0 = NULL;
    char *differs = NULL;
    int n = 0, j, i, id;
    tri_tab tab;
    tab_init(&tab, T->seed ^ 0x165667b19e3779f9ull);
    for (j = 0; j < T->n_jobs; j++)
        for (i = 0; i < T->jobs[j]->n_pkgs; i++)
            tab_id(&tab, T->jobs[j]->pkgs[i].name, 0, 1);
    ver0 = calloc((size_t)tab.n + 1, sizeof(*ver0));
    differs = calloc((size_t)tab.n + 1, 1);
    names = malloc(sizeof(*names) * ((size_t)tab.n + 1));
    if (!ver0 || !differs || !names) {
        free(names);
        names = NULL;
        goto out;
    }
    /* listed when two jobs give two versions: one differs from the first seen */
    for (j = 0; j < T->n_jobs; j++) {
        const tri_job *J = T->jobs[j];
        for (i = 0; i < J->n_pkgs; i++) {
            const tri_pkg *P = &J->pkgs[i];
            id = tab_find(&tab, P->name, 0);
            if (id < 0)
                continue;
            if (!ver0[id])
                ver0[id] = P->ver;
            else if (!differs[id] && strcmp(ver0[id], P->ver) != 0) {
                differs[id] = 1;
                names[n++] = tab.keys[id];
            }
        }
    }
    if (n > 1)
        qsort(names, (size_t)n, sizeof(*names), cmp_str);
out:
    free(ver0);
    free(differs);
    tab_free(&tab);
    *n_out = n;
    return names;
}

static const char *pkg_ver(const tri_job *J, const char *name)
{
    int i = tab_find(&J->pkg_tab, name, 0);
    return i >= 0 ? J->pkgs[i].ver : NULL;
}

/* The one-line hint of a group (buf when built from the job). */
static const char *hint_of(const rm_triage *T, const tri_group *G, char *buf, size_t cap)
{
    const tri_job *J = T->jobs[G->members[0]];
    const rm_run *run = J->run;
    int w;
    if (G->category != C_OOM_KILL)
        return cat_hint[G->category];
    if (run->culprit_test >= 0) {
        const rm_test *C = &run->tests[run->culprit_test];
        char sz[32];
        w = tri_fmt(
            buf, cap, "killed at %s; culprit %s (own growth %s): fix its memory use",
            run->boundary_test >= 0 ? run->tests[run->boundary_test].id : "(unknown)", C->id,
            C->own_growth != RM_UNSET ? rm_fmt_size(sz, sizeof(sz), C->own_growth) : "unknown");
    } else if (run->group_tests) {
        char sz[32];
        w = tri_fmt(buf, cap, "killed at %s; no single culprit, but %d tests of %s grew %s in all",
                    run->boundary_test >= 0 ? run->tests[run->boundary_test].id : "(unknown)",
                    run->group_tests, run->group_key,
                    rm_fmt_size(sz, sizeof(sz), run->group_growth));
    } else {
        w = tri_fmt(buf, cap, "killed at %s; no culprit: %s",
                    run->boundary_test >= 0 ? run->tests[run->boundary_test].id : "(unknown)",
                    run->culprit_why[0] ? run->culprit_why : "no test's growth stood out");
    }
    if (w < 0)
        buf[0] = '\0';
    return buf;
}

/* ---- text ---- */

/* Bytes cut_text writes at most, its NUL included (cols is at most TRI_COLUMNS). */
#define CUT_MAX (TRI_COLUMNS * 4 + 8)

/* s as ASCII (\xHH for other bytes), cut to at most cols columns with "...",
 * into tmp[CUT_MAX]. */
static void cut_text(char *tmp, const char *s, int cols)
{
    size_t k = 0, i;
    int used = 0, cut = 0;
    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        int w = (c >= 0x20 && c < 0x7f) ? 1 : 4;
        if (used + w > cols) {
            cut = 1;
            break;
        }
        if (w == 1) {
            tmp[k++] = (char)c;
        } else {
            tri_fmt(tmp + k, 5, "\\x%02x", c);
            k += 4;
        }
        used += w;
    }
    if (cut) {
        while (k > 0 && used > cols - 3) {
            /* drop whole escapes or characters to make room for "..." */
            if (k >= 4 && tmp[k - 4] == '\\' && tmp[k - 3] == 'x') {
                k -= 4;
                used -= 4;
            } else {
                k--;
                used--;
            }
        }
        memcpy(tmp + k, "...", 3);
        k += 3;
    }
    tmp[k] = '\0';
}

/* Writes s as cut_text gives it. */
static void put_cut(FILE *o, const char *s, int cols)
{
    char tmp[CUT_MAX];
    cut_text(tmp, s, cols);
    fputs(tmp, o);
}

/* Prints "<indent><label><text>\n" within TRI_COLUMNS. */
static void tline(FILE *o, const char *lead, const char *text)
{
    int l = (int)strlen(lead);
    fputs(lead, o);
    put_cut(o, text, TRI_COLUMNS - l > 8 ? TRI_COLUMNS - l : 8);
    fputc('\n', o);
}

static const char *level_of(double c)
{
    return c >= 0.8 ? "high" : c >= 0.5 ? "medium" : "low";
}

static void count_str(char *b, size_t cap, long v)
{
    if (v < 0)
        tri_fmt(b, cap, "-");
    else
        tri_fmt(b, cap, "%ld", v);
}

/* Starts a listing of distinct tests (member_dup). */
static void new_listing(rm_triage *T)
{
    if (++T->mark == 0 && T->tid_mark) { /* wrapped: forget every old mark */
        memset(T->tid_mark, 0, sizeof(unsigned) * (size_t)T->test_tab.n);
        T->mark = 1;
    }
}

/* Was member m's job (jobs) or test (else) named by an earlier member of G
 * in this listing? Members are in job order, so a job repeats only right
 * after itself; a test is marked in tid_mark. */
static int member_dup(rm_triage *T, const tri_group *G, int m, int jobs)
{
    const tri_fail *F;
    if (jobs)
        return m > 0 && G->members[2 * (m - 1)] == G->members[2 * m];
    F = &T->jobs[G->members[2 * m]]->fails[G->members[2 * m + 1]];
    if (!F->test || F->tid < 0 || !T->tid_mark)
        return 0;
    if (T->tid_mark[F->tid] == T->mark)
        return 1;
    T->tid_mark[F->tid] = T->mark;
    return 0;
}

/* Lists up to TRI_LIST_MAX names of a group ("a, b, and 3 more"). */
static void group_list(char *out, size_t cap, rm_triage *T, const tri_group *G, int jobs,
                       int *count)
{
    size_t k = 0;
    int i, shown = 0, total = 0;
    out[0] = '\0';
    new_listing(T);
    for (i = 0; i < G->n_members; i++) {
        int j = G->members[2 * i], f = G->members[2 * i + 1];
        const char *name = jobs ? T->jobs[j]->name : T->jobs[j]->fails[f].test;
        if (!name || member_dup(T, G, i, jobs))
            continue;
        total++;
        if (shown < TRI_LIST_MAX && k + strlen(name) + 3 < cap) {
            int w = tri_fmt(out + k, cap - k, "%s%s", shown ? ", " : "", name);
            if (w > 0 && (size_t)w < cap - k)
                k += (size_t)w;
            shown++;
        }
    }
    if (total > shown && k + 24 < cap)
        tri_fmt(out + k, cap - k, ", and %d more", total - shown);
    *count = total;
}

static void os_list(char *out, size_t cap, unsigned set)
{
    size_t k = 0;
    int os;
    out[0] = '\0';
    for (os = OS_LINUX; os <= OS_MACOS; os++)
        if (set & (1u << os)) {
            int w = tri_fmt(out + k, cap - k, "%s%s", k ? "+" : "", os_names[os]);
            if (w > 0 && (size_t)w < cap - k)
                k += (size_t)w;
        }
}

static const tri_fail *example(const rm_triage *T, const tri_group *G, const tri_job **Jout)
{
    *Jout = T->jobs[G->members[0]];
    return &T->jobs[G->members[0]]->fails[G->members[1]];
}

static void write_text(FILE *o, rm_triage *T)
{
    char b[1024], c1[16], c2[16], c3[16], lead[64];
    int j, i, g, n_drift, n_fail = 0, step = 1;
    const char **dr = drift(T, &n_drift);
    for (j = 0; j < T->n_jobs; j++)
        n_fail += T->jobs[j]->n_fails;
    tri_fmt(b, sizeof(b), "%d jobs, %d failures in %d groups, %d packages drift", T->n_jobs, n_fail,
            T->n_groups, n_drift);
    tline(o, "resmon-report triage: ", b);
    fprintf(o, "\njobs\n");
    fprintf(o, "  %-30s %-8s %-16s %-6s %6s %6s %6s\n", "job", "os", "verdict", "level", "passed",
            "failed", "errors");
    for (j = 0; j < T->n_jobs; j++) {
        const tri_job *J = T->jobs[j];
        const rm_run *run = J->run;
        char name[40];
        count_str(c1, sizeof(c1), run->n_passed);
        count_str(c2, sizeof(c2), run->n_failed);
        count_str(c3, sizeof(c3), run->n_errors);
        {
            char cut[CUT_MAX];
            cut_text(cut, J->name, 30); /* at most 30 bytes: it fits name */
            copy(name, sizeof(name), cut, strlen(cut));
        }
        fprintf(o, "  %-30s %-8s %-16s %-6s %6s %6s %6s\n", name, os_names[J->os],
                rm_verdict_name(run->verdict.kind), level_of(run->verdict.confidence), c1, c2, c3);
        tline(o, "      why: ", run->verdict.why);
        if (run->boundary_test >= 0)
            tline(o, "      boundary: ", run->tests[run->boundary_test].id);
        if (run->culprit_test >= 0)
            tline(o, "      culprit: ", run->tests[run->culprit_test].id);
        if (J->fails_ignored) {
            tri_fmt(b, sizeof(b),
                    "%llu FAILED/ERROR lines ignored: pytest's final summary says it passed",
                    (unsigned long long)J->fails_ignored);
            tline(o, "      note: ", b);
        }
        if (J->fails_dropped || J->secs_dropped) {
            tri_fmt(b, sizeof(b), "%llu failures and %llu sections past the limits not kept",
                    (unsigned long long)J->fails_dropped, (unsigned long long)J->secs_dropped);
            tline(o, "      note: ", b);
        }
    }

    fprintf(o, "\norder of fixes\n");
    if (n_drift) {
        tri_fmt(b, sizeof(b), "%d. version drift: %d packages differ between jobs", step++,
                n_drift);
        tline(o, "  ", b);
        for (i = 0; i < n_drift; i++) {
            size_t k = 0;
            int w = tri_fmt(b, sizeof(b), "%s:", dr[i]);
            k = w > 0 ? (size_t)w : 0;
            for (j = 0; j < T->n_jobs && k < sizeof(b); j++) {
                const char *v = pkg_ver(T->jobs[j], dr[i]);
                if (!v)
                    continue;
                w = tri_fmt(b + k, sizeof(b) - k, " %s=%s", T->jobs[j]->name, v);
                if (w > 0)
                    k += (size_t)w;
            }
            tline(o, "       ", b);
        }
        tline(o, "     hint: ",
              "install the same versions on every job (a constraints or lock file), then rerun");
    }
    for (g = 0; g < T->n_groups; g++) {
        const tri_group *G = &T->groups[g];
        const tri_job *EJ;
        const tri_fail *E = example(T, G, &EJ);
        char osl[32], tests[700], jobs[700];
        int nt, nj;
        group_list(tests, sizeof(tests), T, G, 0, &nt);
        group_list(jobs, sizeof(jobs), T, G, 1, &nj);
        os_list(osl, sizeof(osl), G->os_set);
        tri_fmt(b, sizeof(b), "%d. %s (%s)%s%s%s: %s", step, cat_names[G->category],
                stage_of[G->category], G->os_specific ? ", " : "", G->os_specific ? osl : "",
                G->os_specific ? " only" : "", G->sig);
        tline(o, "  ", b);
        tri_fmt(lead, sizeof(lead), "     tests (%d): ", nt);
        tline(o, lead, nt ? tests : "(none named)");
        tri_fmt(lead, sizeof(lead), "     jobs (%d): ", nj);
        tline(o, lead, jobs);
        if (E->loc.file[0])
            tri_fmt(b, sizeof(b), "%s:%ld (%s, log line %llu)", E->loc.file, E->loc.line, EJ->name,
                    (unsigned long long)E->log_line);
        else
            tri_fmt(b, sizeof(b), "(%s, log line %llu)", EJ->name, (unsigned long long)E->log_line);
        tline(o, "     example: ", b);
        tline(o, "              ", E->message);
        tline(o, "     hint: ", hint_of(T, G, b, sizeof(b)));
        step++;
    }
    if (step == 1)
        fprintf(o, "  nothing to fix: no failure and no version drift\n");

    {
        int any = 0;
        for (j = 0; j < T->n_jobs; j++) {
            const tri_job *J = T->jobs[j];
            for (i = 0; i < J->n_fails; i++) {
                const char *t = J->fails[i].test;
                if (!t || !J->fails[i].first || !J->fails[i].only_some)
                    continue;
                if (!any++)
                    fprintf(o, "\nfailed on some jobs only\n");
                tri_fmt(lead, sizeof(lead), "  ");
                tri_fmt(b, sizeof(b), "%s: %s", J->name, t);
                tline(o, lead, b);
            }
        }
    }
    if (T->jobs_dropped) {
        tri_fmt(b, sizeof(b), "%llu lines of jobs past %d not read",
                (unsigned long long)T->jobs_dropped, TRI_MAX_JOBS);
        tline(o, "note: ", b);
    }
    if (T->errors[0])
        tline(o, "not read: ", T->errors);
    free(dr);
}

/* ---- markdown and html ---- */

static void write_markdown(FILE *o, rm_triage *T, int html)
{
    char b[1024], c1[16], c2[16], c3[16];
    int j, i, g, n_drift, step = 1;
    const char **dr = drift(T, &n_drift);
    const char *td = html ? "<td>" : "| ", *tde = html ? "</td>" : " ";
#define ROW_START() fputs(html ? "<tr>" : "", o)
#define ROW_END() fputs(html ? "</tr>\n" : "|\n", o)
#define CELL(text, max)                                                                            \
    do {                                                                                           \
        fputs(td, o);                                                                              \
        rm_put_escaped(o, (text), !html, (max));                                                   \
        fputs(tde, o);                                                                             \
    } while (0)
    if (html)
        fputs("<h2>resmon triage</h2>\n<h3>Jobs</h3>\n<table>\n<tr><th>job</th><th>os</th>"
              "<th>verdict</th><th>passed</th><th>failed</th><th>errors</th><th>boundary</th>"
              "<th>culprit</th></tr>\n",
              o);
    else
        fputs("## resmon triage\n\n### Jobs\n\n| job | os | verdict | passed | failed | errors "
              "| boundary | culprit |\n|---|---|---|---:|---:|---:|---|---|\n",
              o);
    for (j = 0; j < T->n_jobs; j++) {
        const rm_run *run = T->jobs[j]->run;
        ROW_START();
        CELL(T->jobs[j]->name, 200);
        CELL(os_names[T->jobs[j]->os], 16);
        tri_fmt(b, sizeof(b), "%s (%s)", rm_verdict_name(run->verdict.kind),
                level_of(run->verdict.confidence));
        CELL(b, 64);
        count_str(c1, sizeof(c1), run->n_passed);
        count_str(c2, sizeof(c2), run->n_failed);
        count_str(c3, sizeof(c3), run->n_errors);
        CELL(c1, 16);
        CELL(c2, 16);
        CELL(c3, 16);
        CELL(run->boundary_test >= 0 ? run->tests[run->boundary_test].id : "", 200);
        CELL(run->culprit_test >= 0 ? run->tests[run->culprit_test].id : "", 200);
        ROW_END();
    }
    fputs(html ? "</table>\n<h3>Order of fixes</h3>\n<table>\n<tr><th>#</th><th>category</th>"
                 "<th>cause</th><th>tests</th><th>jobs</th><th>example</th><th>hint</th></tr>\n"
               : "\n### Order of fixes\n\n| # | category | cause | tests | jobs | example | "
                 "hint |\n|---:|---|---|---|---|---|---|\n",
          o);
    if (n_drift) {
        size_t k = 0;
        b[0] = '\0';
        for (i = 0; i < n_drift && k + 64 < sizeof(b); i++) {
            int w = tri_fmt(b + k, sizeof(b) - k, "%s%s", i ? ", " : "", dr[i]);
            if (w > 0)
                k += (size_t)w;
        }
        ROW_START();
        tri_fmt(c1, sizeof(c1), "%d", step++);
        CELL(c1, 16);
        CELL("version drift", 32);
        CELL(b, 600);
        CELL("", 1);
        CELL("", 1);
        CELL("see the versions table", 64);
        CELL("install the same versions on every job, then rerun", 200);
        ROW_END();
    }
    for (g = 0; g < T->n_groups; g++) {
        const tri_group *G = &T->groups[g];
        const tri_job *EJ;
        const tri_fail *E = example(T, G, &EJ);
        char tests[700], jobs[700], osl[32], ex[600];
        int nt, nj;
        group_list(tests, sizeof(tests), T, G, 0, &nt);
        group_list(jobs, sizeof(jobs), T, G, 1, &nj);
        os_list(osl, sizeof(osl), G->os_set);
        ROW_START();
        tri_fmt(c1, sizeof(c1), "%d", step++);
        CELL(c1, 16);
        tri_fmt(b, sizeof(b), "%s%s%s%s", cat_names[G->category], G->os_specific ? " (" : "",
                G->os_specific ? osl : "", G->os_specific ? " only)" : "");
        CELL(b, 64);
        CELL(G->sig, TRI_SIG_MAX);
        CELL(tests, sizeof(tests));
        CELL(jobs, sizeof(jobs));
        if (E->loc.file[0])
            tri_fmt(ex, sizeof(ex), "%s:%ld: %s", E->loc.file, E->loc.line, E->message);
        else
            tri_fmt(ex, sizeof(ex), "%s line %llu: %s", EJ->name, (unsigned long long)E->log_line,
                    E->message);
        CELL(ex, sizeof(ex));
        CELL(hint_of(T, G, b, sizeof(b)), 300);
        ROW_END();
    }
    if (html)
        fputs("</table>\n", o);
    if (n_drift) {
        fputs(html ? "<h3>Versions that differ</h3>\n<table>\n<tr><th>package</th>"
                   : "\n### Versions that differ\n\n| package |",
              o);
        for (j = 0; j < T->n_jobs; j++) {
            fputs(html ? "<th>" : " ", o);
            rm_put_escaped(o, T->jobs[j]->name, !html, 200);
            fputs(html ? "</th>" : " |", o);
        }
        fputs(html ? "</tr>\n" : "\n|---|", o);
        if (!html) {
            for (j = 0; j < T->n_jobs; j++)
                fputs("---|", o);
            fputs("\n", o);
        }
        for (i = 0; i < n_drift; i++) {
            ROW_START();
            CELL(dr[i], 64);
            for (j = 0; j < T->n_jobs; j++) {
                const char *v = pkg_ver(T->jobs[j], dr[i]);
                CELL(v ? v : "", 48);
            }
            ROW_END();
        }
        if (html)
            fputs("</table>\n", o);
    }
    {
        int any = 0;
        for (j = 0; j < T->n_jobs; j++) {
            const tri_job *J = T->jobs[j];
            for (i = 0; i < J->n_fails; i++) {
                const char *t = J->fails[i].test;
                if (!t || !J->fails[i].first || !J->fails[i].only_some)
                    continue;
                if (!any++)
                    fputs(html ? "<h3>Failed on some jobs only</h3>\n<ul>\n"
                               : "\n### Failed on some jobs only\n\n",
                          o);
                fputs(html ? "<li>" : "- ", o);
                rm_put_escaped(o, J->name, !html, 200);
                fputs(": ", o);
                rm_put_escaped(o, t, !html, 400);
                fputs(html ? "</li>\n" : "\n", o);
            }
        }
        if (any && html)
            fputs("</ul>\n", o);
    }
    free(dr);
#undef ROW_START
#undef ROW_END
#undef CELL
}

/* The memory chart of one job, as resmon-report's HTML draws it (an inline SVG). */
static char *job_svg(const tri_job *J)
{
    char *buf = NULL, *a, *z, *svg = NULL;
    rm_memout mo;
    FILE *m;
    if (J->run->n_tl == 0)
        return NULL;
    m = rm_memout_open(&mo);
    if (!m)
        return NULL;
    rm_report_write(m, J->run, RM_FMT_HTML, 1);
    buf = rm_memout_close(&mo, NULL);
    if (!buf)
        return NULL;
    a = strstr(buf, "<svg");
    z = a ? strstr(a, "</svg>") : NULL;
    if (a && z)
        svg = dup_n(a, (size_t)(z + 6 - a));
    free(buf);
    return svg;
}

static void write_html(FILE *o, rm_triage *T)
{
    int j;
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"ascii\"><title>resmon triage</title>\n"
          "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;font-size:90%}"
          "</style></head><body>\n",
          o);
    write_markdown(o, T, 1);
    fputs("<h3>Memory per job</h3>\n", o);
    for (j = 0; j < T->n_jobs; j++) {
        tri_job *J = T->jobs[j];
        fputs("<h4>", o);
        rm_put_escaped(o, J->name, 0, 200);
        fputs("</h4>\n", o);
        if (!J->svg)
            J->svg = job_svg(J);
        if (J->svg) {
            fputs(J->svg, o);
            fputs("\n", o);
        } else {
            fputs("<p>no memory readings in this job's logs (the sampler's log, its --echo "
                  "lines or the plugin's records give them)</p>\n",
                  o);
        }
    }
    fputs("</body></html>\n", o);
}

/* ---- json ---- */

#ifdef RM_HAVE_CJSON
/* untrusted bytes as ASCII: \xHH for the others (as resmon-report's JSON);
 * buf holds J_ESC_MAX bytes */
#define J_ESC_MAX 2048
static const char *j_esc(char *buf, const char *s)
{
    size_t k = 0, i;
    for (i = 0; s[i] && k + 5 < J_ESC_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            buf[k++] = (char)c;
        } else {
            tri_fmt(buf + k, 5, "\\x%02x", c);
            k += 4;
        }
    }
    buf[k] = '\0';
    return buf;
}

static cJSON *j_str(const char *s)
{
    char buf[J_ESC_MAX];
    return cJSON_CreateString(j_esc(buf, s));
}

/* Adds item under a job's name as a key, escaped as jobs[].name is, so that
 * the two can be joined (and the key is ASCII, valid JSON whatever the name). */
static void j_add_job_key(cJSON *o, const char *job, cJSON *item)
{
    char buf[J_ESC_MAX];
    cJSON_AddItemToObject(o, j_esc(buf, job), item);
}

static void j_add_str(cJSON *o, const char *key, const char *s)
{
    if (s)
        cJSON_AddItemToObject(o, key, j_str(s));
    else
        cJSON_AddNullToObject(o, key);
}

static void j_add_count(cJSON *o, const char *key, long v)
{
    if (v >= 0)
        cJSON_AddNumberToObject(o, key, (double)v);
    else
        cJSON_AddNullToObject(o, key);
}

/* verdict, boundary and culprit exactly as resmon-report's JSON gives them */
static void j_report_parts(cJSON *jo, const tri_job *J)
{
    char *buf = NULL;
    rm_memout mo;
    FILE *m = rm_memout_open(&mo);
    cJSON *rep = NULL;
    static const char *const keys[] = {"verdict", "boundary", "culprit"};
    size_t i;
    if (m) {
        rm_report_write(m, J->run, RM_FMT_JSON, 1);
        buf = rm_memout_close(&mo, NULL);
        if (buf)
            rep = cJSON_Parse(buf);
    }
    free(buf);
    for (i = 0; i < 3; i++) {
        cJSON *x = rep ? cJSON_DetachItemFromObjectCaseSensitive(rep, keys[i]) : NULL;
        if (x)
            cJSON_AddItemToObject(jo, keys[i], x);
        else
            cJSON_AddNullToObject(jo, keys[i]);
    }
    cJSON_Delete(rep);
}

static cJSON *j_fail(const tri_fail *F)
{
    cJSON *x = cJSON_CreateObject();
    j_add_str(x, "test", F->test);
    cJSON_AddStringToObject(x, "category", cat_names[F->category]);
    j_add_str(x, "signature", F->sig);
    j_add_str(x, "message", F->message);
    j_add_str(x, "file", F->loc.file[0] ? F->loc.file : NULL);
    if (F->loc.file[0])
        cJSON_AddNumberToObject(x, "line", (double)F->loc.line);
    else
        cJSON_AddNullToObject(x, "line");
    return x;
}

static int write_json(FILE *o, rm_triage *T)
{
    cJSON *root = cJSON_CreateObject(), *a, *x;
    char b[1024];
    int j, i, g, n_drift;
    const char **dr = drift(T, &n_drift);
    cJSON_AddStringToObject(root, "schema", TRI_SCHEMA);
    a = cJSON_AddArrayToObject(root, "jobs");
    for (j = 0; j < T->n_jobs; j++) {
        const tri_job *J = T->jobs[j];
        cJSON *jo = cJSON_CreateObject(), *c, *fa;
        j_add_str(jo, "name", J->name);
        cJSON_AddStringToObject(jo, "os", os_names[J->os]);
        j_report_parts(jo, J);
        c = cJSON_AddObjectToObject(jo, "counts");
        j_add_count(c, "passed", J->run->n_passed);
        j_add_count(c, "failed", J->run->n_failed);
        j_add_count(c, "errors", J->run->n_errors);
        j_add_count(c, "skipped", J->run->n_skipped);
        fa = cJSON_AddArrayToObject(jo, "failures");
        for (i = 0; i < J->n_fails; i++)
            cJSON_AddItemToArray(fa, j_fail(&J->fails[i]));
        cJSON_AddItemToArray(a, jo);
    }
    a = cJSON_AddArrayToObject(root, "groups");
    for (g = 0; g < T->n_groups; g++) {
        const tri_group *G = &T->groups[g];
        const tri_job *EJ;
        const tri_fail *E = example(T, G, &EJ);
        cJSON *go = cJSON_CreateObject(), *ta, *ja, *ex, *oa;
        int m, os;
        cJSON_AddStringToObject(go, "category", cat_names[G->category]);
        j_add_str(go, "signature", G->sig);
        ta = cJSON_AddArrayToObject(go, "tests");
        ja = cJSON_AddArrayToObject(go, "jobs");
        new_listing(T);
        for (m = 0; m < G->n_members; m++) {
            int jj = G->members[2 * m], ff = G->members[2 * m + 1];
            const char *t = T->jobs[jj]->fails[ff].test;
            if (t && !member_dup(T, G, m, 0))
                cJSON_AddItemToArray(ta, j_str(t));
            if (!member_dup(T, G, m, 1))
                cJSON_AddItemToArray(ja, j_str(T->jobs[jj]->name));
        }
        ex = cJSON_AddObjectToObject(go, "example");
        j_add_str(ex, "job", EJ->name);
        j_add_str(ex, "test", E->test);
        j_add_str(ex, "message", E->message);
        j_add_str(ex, "file", E->loc.file[0] ? E->loc.file : NULL);
        if (E->loc.file[0])
            cJSON_AddNumberToObject(ex, "line", (double)E->loc.line);
        else
            cJSON_AddNullToObject(ex, "line");
        if (E->log_line)
            cJSON_AddNumberToObject(ex, "log_line", (double)E->log_line);
        else
            cJSON_AddNullToObject(ex, "log_line");
        j_add_str(go, "hint", hint_of(T, G, b, sizeof(b)));
        cJSON_AddBoolToObject(go, "os_specific", G->os_specific);
        oa = cJSON_AddArrayToObject(go, "os");
        for (os = OS_LINUX; os <= OS_MACOS; os++)
            if (G->os_set & (1u << os))
                cJSON_AddItemToArray(oa, cJSON_CreateString(os_names[os]));
        cJSON_AddItemToArray(a, go);
    }
    x = cJSON_AddObjectToObject(root, "only_in");
    for (j = 0; j < T->n_jobs; j++) {
        const tri_job *J = T->jobs[j];
        cJSON *ta = NULL;
        for (i = 0; i < J->n_fails; i++) {
            const char *t = J->fails[i].test;
            if (!t || !J->fails[i].first || !J->fails[i].only_some)
                continue;
            if (!ta) {
                ta = cJSON_CreateArray();
                j_add_job_key(x, J->name, ta);
            }
            cJSON_AddItemToArray(ta, j_str(t));
        }
    }
    a = cJSON_AddArrayToObject(root, "versions");
    for (i = 0; i < n_drift; i++) {
        cJSON *p = cJSON_CreateObject(), *bj;
        j_add_str(p, "package", dr[i]);
        bj = cJSON_AddObjectToObject(p, "by_job");
        for (j = 0; j < T->n_jobs; j++) {
            const char *v = pkg_ver(T->jobs[j], dr[i]);
            if (v)
                j_add_job_key(bj, T->jobs[j]->name, j_str(v));
        }
        cJSON_AddItemToArray(a, p);
    }
    free(dr);
    return rm_print_json(o, root);
}
#endif

int rm_triage_write(FILE *o, rm_triage *T, int format)
{
    analyse(T);
    switch (format) {
    case RM_FMT_JSON:
#ifdef RM_HAVE_CJSON
        if (write_json(o, T))
            return -1;
        break;
#else
        fprintf(stderr, "resmon-report: JSON output needs cJSON (built without libcjson-dev)\n");
        return -1;
#endif
    case RM_FMT_MARKDOWN:
        write_markdown(o, T, 0);
        break;
    case RM_FMT_HTML:
        write_html(o, T);
        break;
    default:
        write_text(o, T);
        break;
    }
    return ferror(o) ? -1 : 0;
}

/* 0 every job passed, 1 a job failed or died, 3 none failed but one is unknown. */
int rm_triage_status(rm_triage *T)
{
    int j, unknown = 0;
    analyse(T);
    for (j = 0; j < T->n_jobs; j++) {
        int k = T->jobs[j]->run->verdict.kind;
        if (k == RM_V_UNKNOWN)
            unknown = 1;
        else if (k != RM_V_PASSED)
            return 1;
    }
    return unknown || T->n_jobs == 0 ? 3 : 0;
}

/* ---- command line ---- */

static void triage_usage(FILE *o)
{
    fprintf(o, "usage: resmon-report triage [options] INPUT...\n"
               "INPUT is the output of `gh run view RUN --log` (JOB<TAB>STEP<TAB>line), one job's\n"
               "raw log (the job is the file name without .gz/.log/.txt), or JOB=PATH: a file of\n"
               "job JOB (its raw log, the sampler's log, the plugin's records); plain or gzip;\n"
               "'-' reads standard input.\n"
               "options:\n"
               "  -f, --format FMT   text (default), json, markdown, html\n"
               "  -o, --output PATH  write there instead of standard output\n"
               "      --exit-zero    exit 0 whenever the triage was written\n"
               "  -h, --help         this help\n"
               "exit: 0 every job passed, 1 a job failed or died, 2 usage or I/O error,\n"
               "      3 no job failed but how one ended is unknown\n");
}

/* "JOB=path": job and path when path is a file and the whole argument is not. */
static const char *job_arg(const char *a, char *job, size_t cap)
{
    const char *eq = strchr(a, '=');
    FILE *f;
    if (!eq || eq == a || (size_t)(eq - a) >= cap)
        return NULL;
    f = fopen(a, "r");
    if (f) { /* a file whose name holds '=' */
        fclose(f);
        return NULL;
    }
    copy(job, cap, a, (size_t)(eq - a));
    return eq + 1;
}

int rm_triage_main(int argc, char **argv)
{
    int format = RM_FMT_TEXT, exit_zero = 0, i, ok = 0, n_in = 0, stdin_used = 0, rc, w;
    const char *out_path = NULL;
    rm_triage *T;
    FILE *out = stdout;
    if (argc > TRI_MAX_INPUTS + 16) {
        fprintf(stderr, "resmon-report triage: at most %d inputs\n", TRI_MAX_INPUTS);
        return 2;
    }
    T = rm_triage_new();
    if (!T)
        return 2;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            triage_usage(stdout);
            rm_triage_free(T);
            return 0;
        } else if ((strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0) && i + 1 < argc) {
            format = rm_parse_format(argv[++i]);
        } else if (strncmp(a, "--format=", 9) == 0) {
            format = rm_parse_format(a + 9);
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
            out_path = argv[++i];
        } else if (strcmp(a, "--exit-zero") == 0) {
            exit_zero = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "resmon-report triage: unknown option '%s'\n", a);
            triage_usage(stderr);
            rm_triage_free(T);
            return 2;
        } else {
            continue;
        }
        if (format < 0) {
            fprintf(stderr, "resmon-report triage: unknown format '%s'\n", argv[i]);
            rm_triage_free(T);
            return 2;
        }
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *path;
        char job[256];
        if (a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0 || strcmp(a, "-o") == 0 ||
                strcmp(a, "--output") == 0)
                i++;
            continue;
        }
        n_in++;
        path = job_arg(a, job, sizeof(job));
        if (strcmp(path ? path : a, "-") == 0 && stdin_used++) {
            fprintf(stderr, "resmon-report triage: standard input can be read only once\n");
            continue;
        }
        if (rm_triage_ingest(T, path ? job : NULL, path ? path : a) == 0)
            ok++;
        else
            fprintf(stderr, "resmon-report triage: %s: could not be read in full\n", a);
    }
    if (n_in == 0 || !ok) {
        fprintf(stderr, n_in ? "resmon-report triage: no input could be read\n"
                             : "resmon-report triage: no input (use '-' for standard input)\n");
        if (!n_in)
            triage_usage(stderr);
        rm_triage_free(T);
        return 2;
    }
    if (out_path) {
        out = fopen(out_path, "wb"); /* "b": the same bytes on Windows */
        if (!out) {
            perror(out_path);
            rm_triage_free(T);
            return 2;
        }
    }
    w = rm_triage_write(out, T, format);
    rc = rm_triage_status(T);
    if (fflush(out) != 0 || w != 0)
        rc = 2;
    if (out != stdout && fclose(out) != 0)
        rc = 2;
    if (rc == 2)
        fprintf(stderr, "resmon-report triage: the triage could not be written\n");
    rm_triage_free(T);
    return rc == 2 ? 2 : exit_zero ? 0 : rc;
}
