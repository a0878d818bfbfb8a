/* SPDX-License-Identifier: MIT */
/* report.h: resmon-report's internal model: one run's evidence, its analysis and its outputs. */
#ifndef RM_REPORT_H
#define RM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "../record/compat.h"
#include "../record/parse.h"

/* Distinct tests kept per run. Aggregates live in a hash table; tests past
 * the cap are counted and the report says so. */
#ifndef RM_REPORT_MAX_TESTS
#define RM_REPORT_MAX_TESTS 50000
#endif

/* Processes (pid or xdist worker) tracked per run. */
#ifndef RM_REPORT_MAX_PROCS
#define RM_REPORT_MAX_PROCS 256
#endif

/* Fixtures (name, scope, param) tracked per run. */
#ifndef RM_REPORT_MAX_FIXTURES
#define RM_REPORT_MAX_FIXTURES 4096
#endif

/* Points a chart shows: every reading is kept (up to RM_REPORT_READINGS),
 * sorted, then thinned to this many, keeping each span's extremes. */
#ifndef RM_REPORT_TIMELINE
#define RM_REPORT_TIMELINE 4096
#endif

/* Readings kept: chart points, and the sampler tree's per-process RSS
 * (treeI_pid/treeI_rss of each sample, which credit each worker's growth to
 * the test it was running). Past this, readings are counted and dropped. */
#ifndef RM_REPORT_READINGS
#define RM_REPORT_READINGS (1 << 21)
#endif

/* Order-dependent lines kept for the fold (records of tests, fixtures...). */
#ifndef RM_REPORT_MAX_ITEMS
#define RM_REPORT_MAX_ITEMS (1 << 22)
#endif

/* Events kept for the timeline and the evidence list. */
#ifndef RM_REPORT_MAX_EVENTS
#define RM_REPORT_MAX_EVENTS 256
#endif

/* Pieces of evidence kept (every occurrence, in reading order). */
#ifndef RM_REPORT_MAX_EVIDENCE
#define RM_REPORT_MAX_EVIDENCE 2048
#endif

/* A culprit's own growth is at least this (less is noise: imports, caches)
 * and at least RM_CULPRIT_LEAD times the next largest. */
#define RM_CULPRIT_MIN_GROWTH (32ull << 20)
#define RM_CULPRIT_LEAD 1.5
/* A group of tests (one test function's parameters, else one file) is named
 * when no single test is: together at least RM_CULPRIT_MIN_GROWTH, at least
 * RM_GROUP_SHARE of all tests' own growth, and at least RM_GROUP_CONCENTRATION
 * times its share of the tests (a suite of one file, or a leak spread
 * evenly, names no group). */
#define RM_GROUP_SHARE 0.6
#define RM_GROUP_CONCENTRATION 2.0

/* Bytes kept of a test id, fixture name or label (longer ones are cut). */
#define RM_ID_MAX 512
/* Bytes kept of a line quoted as evidence. */
#define RM_SNIP_MAX 160

/* Sentinel for an unknown size. */
#define RM_UNSET UINT64_MAX

/* Verdicts, most severe first where several apply. */
typedef enum {
    RM_V_UNKNOWN = 0,
    RM_V_PASSED,
    RM_V_FAILED,
    RM_V_OOM_KILL,
    RM_V_RUNNER_SHUTDOWN,
    RM_V_SEGFAULT,
    RM_V_SIGNAL, /* another fatal signal: abort, bus error, ... */
    RM_V_MEMORY_ERROR,
    RM_V_HANG,
    RM_V_CANCELLED,
    RM_V_KILLED, /* SIGKILL that the evidence does not tie to memory: from outside */
    RM_V_COUNT
} rm_verdict_kind;

/* Kinds of evidence a line can give. */
typedef enum {
    RM_E_EXIT_CODE = 0,  /* "Process completed with exit code N" / verdict exit= */
    RM_E_SHUTDOWN,       /* runner shutdown message, sigterm event */
    RM_E_SEGV,           /* "Segmentation fault", fatal SIGSEGV */
    RM_E_FATAL_SIGNAL,   /* "Fatal Python error: Aborted", gasp with another signal */
    RM_E_KILLED,         /* shell's "Killed", sampler verdict signal=9 */
    RM_E_OOM,            /* event what=oom_kill, sampler oom>0, cgroup counter rose */
    RM_E_LOW_MEMORY,     /* available memory near zero or cgroup near its limit */
    RM_E_MEMORY_ERROR,   /* MemoryError */
    RM_E_HANG,           /* Timeout lines, event what=hang, job time limit */
    RM_E_THREAD_DUMP,    /* faulthandler / dump records */
    RM_E_PYTEST_SUMMARY, /* "=== 3 passed, 1 failed in 2.0s ===" or summary record */
    RM_E_CANCELLED,      /* "The operation was canceled." */
    RM_E_TERMINATED,     /* gasp SIGTERM, shell "Terminated" */
    RM_E_FOREIGN_OOM,    /* a kernel OOM kill of a process outside the watched tree */
    RM_E_WORKER_CRASH,   /* xdist: "worker 'gw0' crashed while running 'id'" */
    RM_E_AMPLE_MEMORY,   /* the last readings before the end show memory to spare */
    RM_E_COUNT
} rm_evidence_kind;

/* How a piece of evidence bears on the verdict. */
typedef enum {
    RM_R_CONTEXT = 0, /* said for the record, decides nothing */
    RM_R_PROVES,      /* proof: the verdict may be "high" */
    RM_R_SUPPORTS,    /* points to the verdict, proves nothing alone */
    RM_R_CONTRADICTS, /* points away from it */
    RM_R_AFTER_END    /* came after pytest's final summary: not a cause of death */
} rm_role;

/* One piece of evidence: its kind, where it was read (file:line), the
 * process it is about (pid, 0 unknown), its time, and what it says. Every
 * occurrence is kept (up to RM_REPORT_MAX_EVIDENCE), so the verdict is the
 * same for any order of the inputs. */
/* rm_evidence.value of a hang that is only a stack dump (faulthandler's
 * "Timeout (0:05:00)!"): the test may have gone on and passed. */
#define HANG_DUMP_ONLY 1

typedef struct rm_evidence {
    int kind; /* rm_evidence_kind */
    int role; /* rm_role, set by the analysis */
    int src;
    uint64_t line;
    int64_t t; /* usec since the epoch, 0 unknown */
    long long pid;
    long value;       /* exit code, signal number, failed count... */
    int proof;        /* the record itself is proof (a cgroup counter, a kernel line of the tree) */
    int test;         /* 1 + the index of the test it happened in (an OOM kill a record's
                         counter shows), 0 none */
    uint64_t counter; /* an OOM kill of a cgroup counter: the count after the rise, 0 unknown */
    int victim;       /* an OOM kill: pid is the process the kernel killed */
    char text[RM_SNIP_MAX];
} rm_evidence;

/* One instance of a test: a test id run once in one process (an xdist
 * worker that replaced a crashed one, or a rerun, makes another instance). */
typedef struct rm_test {
    char *id;
    int proc;         /* index into procs, -1 unknown (pytest's text alone) */
    int attempt;      /* 1, 2, ... for the same id in the same process */
    int same_id;      /* the previous instance of the same id, -1 none */
    int order;        /* index of creation (the time order of the fold) */
    int end_order;    /* order of its end within its process, -1 not ended */
    int finished;     /* a record said its teardown ended */
    int text_done;    /* pytest's output printed its outcome */
    int text_started; /* pytest -v printed its id without an outcome */
    int killed;       /* the analysis: it was running when its process died */
    int crashed;      /* xdist: its worker died while running it (never ended) */
    int phase;        /* last phase seen: 0 none, 1 setup, 2 call, 3 teardown */
    int src;
    uint64_t line;
    int64_t t_start, t_end, t_text;
    uint64_t rss_start, rss_end, peak, min_avail, others_at_min, cg_max;
    uint64_t tree_peak;  /* largest sampler tree RSS while it ran (0 unknown): the
                            test's own process when the sampler listed it (several
                            test processes), else the whole tree (one) */
    uint64_t tree_first; /* that RSS at the first sample while it ran (RM_UNSET) */
    int64_t tree_first_t;
    uint64_t last_rss; /* newest RSS read of its process while it ran (RM_UNSET) */
    int64_t last_t;
    uint64_t death_rss; /* its process's RSS at death (kernel line, gasp), RM_UNSET */
    uint64_t kill_rss;  /* its process's newest reading at the kill (RM_UNSET) */
    int64_t kill_rss_t;
    uint64_t own_growth; /* analysis: what it added and still held at its end (or
                            at death), RM_UNSET unknown */
    uint64_t transient;  /* analysis: its peak over its start (RM_UNSET unknown) */
    char outcome[12];
} rm_test;

typedef struct rm_proc {
    long long pid;
    char worker[16];
    int cur_test; /* index into tests, -1 none */
    int phase;    /* 1 setup, 2 call, 3 teardown */
    int at_end;   /* the phase has ended */
    int died;     /* evidence names this process as killed or crashed */
    char fixture[128];
    char fixture_scope[16];
    int fixture_active;
    /* last mark */
    int has_mark;
    char mark_label[128];
    int mark_src;
    uint64_t mark_line;
    int64_t mark_t;
    /* last values seen from this process */
    int64_t last_t;
    uint64_t rss, hwm, avail, thr, cg_use;
    uint64_t cg_oom; /* the cgroup's OOM-kill counter its newest record read (RM_UNSET) */
    uint64_t peak_rss;
    uint64_t death_rss; /* RSS at death: the kernel's anon-rss, a gasp (RM_UNSET) */
    int n_tests_ended;
    int plugin; /* it wrote the plugin's records: a pytest process (main, controller, worker) */
} rm_proc;

/* A fixture (name, scope, param), summarised over its instances; each
 * instance is one setup to its teardown in one process. */
typedef struct rm_fixture {
    char *key; /* name, scope, param */
    char name[128];
    char scope[16];
    uint64_t count;      /* instances set up */
    uint64_t n_held;     /* instances whose setup growth is known */
    int64_t held_max;    /* most one setup added */
    uint64_t n_kept;     /* instances whose teardown is known */
    int64_t kept_max;    /* most one instance left behind after its teardown */
    uint64_t held_tests; /* tests it lived through (the plugin's held=), 0 unknown */
    int torn_down;
} rm_fixture;

/* A fixture instance between its setup and its teardown (analysis state). */
typedef struct rm_fix_open {
    int fix, proc;
    uint64_t before; /* RSS before its setup (RM_UNSET) */
    int64_t held;    /* its setup's growth */
    int has_held;
} rm_fix_open;

typedef struct rm_point {
    int64_t t;
    uint64_t avail; /* RM_UNSET unknown */
    uint64_t rss;   /* RM_UNSET unknown */
    uint64_t cg;    /* cgroup use, RM_UNSET unknown */
    int proc;
} rm_point;

/* One process of the sampler's tree at one sample. */
typedef struct rm_tree_point {
    int64_t t;
    long long pid;
    uint64_t rss;
} rm_tree_point;

/* A whole-system reading: the newest few are kept to judge the end. */
typedef struct rm_sysread {
    int64_t t;
    uint64_t total, avail, cg_use, cg_file, cg_lim;
    int src;
    uint64_t line;
} rm_sysread;
/* Newest readings kept: room for readings taken after the tree died (the
 * sampler's last samples, records of workers that outlived a killed
 * controller) besides the RM_END_READS newest live ones the verdict reads. */
#define RM_LAST_READS 16
#define RM_END_READS 4

/* An input line whose effect depends on order (a test, fixture, mark,
 * gasp, event or summary record, or a test named by pytest's output):
 * kept, sorted by time, de-duplicated and folded after all inputs are read. */
typedef struct rm_item {
    int64_t t;
    long long pid;
    uint64_t ident; /* hash of what makes it this record: copies share it */
    uint32_t rank;  /* order of records of one process within one microsecond */
    uint32_t off, len;
    int src;
    uint64_t line;
    int type;  /* RM_I_* */
    int named; /* it names what it is about (test, fixture, label): copies can be told */
} rm_item;

enum {
    RM_I_RECORD = 0, /* a record line from its tag */
    RM_I_TEXT_START, /* pytest -v printed an id: "id" (worker in the arena after it) */
    RM_I_TEXT_DONE,  /* pytest printed an outcome: "outcome id" */
    RM_I_MEMERR      /* "FAILED id - ...MemoryError" */
};

/* How the culprit was chosen. */
enum {
    RM_C_NONE = 0,    /* no culprit: see culprit_why */
    RM_C_GROWTH,      /* the test instance whose own growth stood out */
    RM_C_MEMORY_ERROR /* it raised the MemoryError of the verdict */
};

/* Why the boundary names a test. */
enum {
    RM_B_NONE = 0,
    RM_B_UNFINISHED,   /* a test started and not finished (records, legacy lines) */
    RM_B_TEXT,         /* pytest -v printed a node id without an outcome */
    RM_B_MEMORY_ERROR, /* the run ended normally; this test raised MemoryError */
    RM_B_MARK,         /* no test: the process with the newest mark */
    RM_B_CRASHED       /* xdist said the worker crashed while running it */
};

typedef struct rm_event {
    int64_t t;
    int kind; /* rm_evidence_kind */
    int src;
    uint64_t line;
} rm_event;

typedef struct rm_source {
    char *path;
    uint64_t lines, bytes, records, legacy, gh_lines, pytest_lines, bash_blocks;
    uint64_t cut_lines, malformed_records, incomplete_records;
    uint64_t unstamped; /* verdict/gasp/dump/event/summary/head lines without a ts: not trusted */
    uint64_t
        replayed; /* GitHub lines whose record's ts is hours before or minutes after the line */
    uint64_t first_replayed_line;
    uint64_t first_cut_line, first_malformed_line;
    unsigned long unknown_version;
    uint64_t unknown_version_line;
    int gz, gz_cut;
    /* gh run view --log: whether another job's lines follow the first's
       (the jobs of a run, read as one) */
    int cli_jobs;      /* 0 not that format, 1 one job, 2 more */
    uint64_t cli_cur;  /* the hash of the job whose lines are read now */
    int cli_decided;   /* its first line was read: it decides cli_jobs 0 or 1 */
    int zip_members;   /* from a zip archive (GitHub's log archive) of that many logs */
    int zip_jobs;      /* jobs in it: its top level's logs, else the folders of steps' logs */
    int zip_index;     /* which of them this source is, from 1 */
    int numbered;      /* each line starts with its number ("12<TAB>", a page's copy):
                          1 line 1 did, 2 lines 1 and 2 did, 0 not */
    int64_t clock;     /* newest time read in it: the time of lines that carry none */
    int64_t text_t;    /* the time given to its newest text line */
    int64_t rec_clock; /* newest record ts in it: the time of records that carry none
                          (a runner's line stamps can lag the records' own) */
    char error[256];
} rm_source;

/* Multi-line state of the text classifiers. */
typedef struct rm_textstate {
    int bash_block;   /* lines left in a "==== [...] Resource Usage ====" block */
    int bash_section; /* 1 df, 2 free, 3 ps */
    int in_dump;      /* inside a faulthandler thread dump */
    uint64_t dump_threads;
    int after_current; /* lines left to capture of the current thread's stack */
    int64_t bash_t;    /* time of the current bash block */
    int frame_is_test; /* crash_frame is a frame of a test function */
} rm_textstate;

typedef struct rm_verdict {
    rm_verdict_kind kind;
    double confidence;
    long exit_code; /* -1 unknown */
    long signal;    /* -1 unknown */
    char why[256];
    int n_ev;
    int ev[12]; /* indexes into run->evl, strongest first */
} rm_verdict;

typedef struct rm_trend {
    int proc;
    int n;
    double slope, r2, mean, rise;
    int steps, top_test; /* top_test: the test of the largest jump, -1 */
    double top_share;
    const char *cls; /* rm_trend_name(): "leak", "steps", "single", "flat", ... */
} rm_trend;

typedef struct rm_run {
    char name[256];
    rm_source *src;
    int n_src;
    uint64_t lines_total, lines_nonblank;
    uint64_t seed; /* keys the hash tables: crafted ids cannot collide on purpose */
    /* test instances */
    rm_test *tests;
    int n_tests, cap_tests;
    int *slots;    /* open addressing over (id, process): index+1, 0 empty */
    int *id_slots; /* over the id alone: the newest instance */
    unsigned n_slots;
    uint64_t tests_over_cap;
    /* processes */
    rm_proc procs[RM_REPORT_MAX_PROCS];
    int n_procs;
    uint64_t procs_over_cap;
    /* fixtures */
    rm_fixture *fix;
    int *fix_slots; /* fix[] by key: index + 1, open addressing (fold.c) */
    int n_fix;
    uint64_t fix_over_cap;
    rm_fix_open *fopen;
    int n_fopen, cap_fopen;
    /* order-dependent lines, folded after reading */
    rm_item *items;
    size_t n_items, cap_items;
    char *arena;
    size_t arena_len, arena_cap;
    uint64_t items_dropped, copies;
    /* records the copy table could not hold (out of memory): their copies may count twice */
    uint64_t copies_unchecked;
    uint64_t after_death; /* lines of orphans after the watched command died, set aside */
    /* system */
    uint64_t mem_total, min_avail, cg_lim, cg_max, cg_oom_min, cg_oom_max;
    int64_t cg_oom_t; /* the newest sample or echo of the OOM-kill counter (0 none) */
    int64_t mem_total_t, cg_lim_t;
    uint64_t cg_oom_run; /* OOM kills during the run, from the sampler's verdict */
    int min_avail_src;
    uint64_t min_avail_line;
    int64_t min_avail_t;
    uint64_t samples, bash_samples, max_threads, tree_hwm, root_hwm, proc_hwm;
    rm_sysread last[RM_LAST_READS]; /* newest whole-system readings, newest first */
    int n_last;
    int64_t sampler_t0; /* the sampler's start (its head or start event), 0 unknown */
    /* the plugin's head: pytest's rootdir and the directory it was started in,
       when they differ (terminal lines give ids relative to the latter) */
    char id_root[1024], id_cwd[1024];
    int has_sampler_verdict;
    long long oom_pid;       /* the sampler's verdict: the first OOM-killed pid of the tree (0) */
    long long head_pids[64]; /* pids of the plugin's heads: pytest's processes */
    int n_head_pids;
    uint64_t oom_anon_rss;   /* and its anonymous RSS when killed (RM_UNSET) */
    int64_t t_first, t_last; /* first and last time seen */
    /* pytest counts from the summary line or record (the newest) */
    long n_passed, n_failed, n_errors, n_skipped;
    long n_other;      /* xfailed, xpassed */
    int finished_run;  /* analysis: pytest's final summary was read, no worker crashed */
    int after_summary; /* the step died after pytest's summary: no test ran then */
    int summary_final; /* the summary counted is pytest's final one (no test after it) */
    int has_summary, summary_from_record;
    int64_t summary_t;
    /* faulthandler: the innermost frame of the current thread, threads dumped */
    char crash_frame[RM_SNIP_MAX];
    uint64_t max_dump_threads;
    /* evidence: every occurrence, in reading order */
    rm_evidence *evl;
    int n_evl, cap_evl;
    uint64_t evl_dropped;
    rm_event events[RM_REPORT_MAX_EVENTS];
    int n_events;
    uint64_t events_dropped;
    /* every reading for the chart (sorted, then thinned to RM_REPORT_TIMELINE) */
    rm_point *tl;
    int n_tl, cap_tl;
    uint64_t tl_dropped;
    /* the sampler's per-process tree RSS */
    rm_tree_point *tree;
    int n_tree, cap_tree;
    uint64_t tree_dropped;
    /* the first MemoryError tied to a test: the plugin's event what=memory_error
       (test, phase, values), else pytest's "FAILED id - ...MemoryError" */
    int memerr_test; /* -1 none */
    int memerr_proc;
    int memerr_phase;
    int memerr_from_record;
    int64_t memerr_t;
    uint64_t memerr_rss, memerr_avail, memerr_thr;
    /* xdist: "worker 'gw0' crashed while running 'id'" */
    int crashed_test;
    rm_textstate ts;
    /* analysis */
    rm_verdict verdict;
    int boundary_test; /* test index, -1 */
    int boundary_proc;
    int boundary_kind;  /* RM_B_* */
    int boundary_phase; /* 0 none, 1 setup, 2 call, 3 teardown */
    int boundary_at_end;
    uint64_t boundary_rss, boundary_avail, boundary_thr;
    int64_t kill_t; /* when the run (or a worker) was killed: the culprit is who held memory then */
    int culprit_test;
    int culprit_rule;      /* RM_C_*: how the culprit was chosen */
    char culprit_why[200]; /* why there is none, or how it stood out */
    int runner_up;         /* the next largest grower, -1 */
    /* no single culprit, but the tests of one group kept most of the growth
       (the parameters of one test function; else one file: a leaky module
       or fixture): its key, its tests, their growth and its share of all
       tests' growth; group_tests 0 when none */
    char group_key[160];    /* the file, or the test function without parameters */
    const char *group_kind; /* "file" or "function" */
    int group_tests;
    uint64_t group_growth;
    double group_share;
    rm_trend trends[8];
    int n_trends;
} rm_run;

/* ingest.c */
rm_run *rm_run_new(const char *name);
void rm_run_free(rm_run *run);
/* Adds an input; returns its index. */
int rm_run_add_source(rm_run *run, const char *path);
/* Feeds one line (without '\n') of input src. */
void rm_run_line(rm_run *run, int src, uint64_t lineno, const char *line, size_t len,
                 unsigned flags);
/* Reads a whole file ("-" is stdin) line by line. Returns 0, or -1 when it
 * could not be opened or read (the message is in the source's error). */
int rm_run_ingest(rm_run *run, const char *path);

/* Shared by ingest.c and fold.c. */
int rm_val_eq(const rm_field *f, const char *lit);
uint64_t rm_get_u64(const rm_rec *r, const char *key);
int rm_phase_code(const rm_field *f); /* 1 setup, 2 call, 3 teardown, 0 other */
uint64_t rm_siphash(uint64_t k0, uint64_t k1, const void *s, size_t n);
long rm_signal_number(const char *v, size_t n);
rm_evidence_kind rm_signal_evidence(long sig);
void rm_timeline_add(rm_run *run, int64_t t, uint64_t avail, uint64_t rss, uint64_t cg, int proc);
void rm_see_avail(rm_run *run, int src, uint64_t line, int64_t t, uint64_t avail);
/* The keys of a record the fold reads (fold.c); ingest keeps these only. */
extern const char *const rm_fold_keys[];
extern const size_t rm_fold_n_keys;

int rm_item_push(rm_run *run, int type, int64_t t, long long pid, uint32_t rank, uint64_t ident,
                 int src, uint64_t line, const char *data, size_t len);

/* fold.c */
/* Folds the order-dependent lines in time order (rm_run_analyze calls it). */
void rm_run_fold(rm_run *run);
/* Adds a piece of evidence; returns its index, -1 when the list is full. */
int rm_run_evidence(rm_run *run, rm_evidence_kind kind, int src, uint64_t line, int64_t t,
                    long long pid, long value, const char *text, size_t tlen);

/* analyze.c */
void rm_run_analyze(rm_run *run);
const char *rm_verdict_name(rm_verdict_kind k);
const char *rm_evidence_name(rm_evidence_kind k);
/* Indexes of tests sorted by peak (descending); caller frees. */
int *rm_tests_by_peak(const rm_run *run, int *n);
/* Indexes of fixtures sorted by retained bytes (descending); caller frees. */
int *rm_fixtures_by_retained(const rm_run *run, int *n);
/* Retained bytes of a fixture (signed), and whether it is known. */
/* Bytes a fixture's setup added (held while it lived); 0 when unknown. */
int rm_fixture_held(const rm_fixture *f, int64_t *out);
int rm_fixture_retained(const rm_fixture *f, int64_t *out);
/* Looks a test up by id; -1 when absent. */
int rm_run_find_test(const rm_run *run, const char *id);

/* output.c */
enum { RM_FMT_TEXT, RM_FMT_JSON, RM_FMT_MARKDOWN, RM_FMT_HTML };
/* Writes the report of one run. top: rows in tables. Returns 0 or -1 (I/O). */
int rm_report_write(FILE *out, const rm_run *run, int format, int top);
/* Writes a comparison of several runs. */
int rm_compare_write(FILE *out, rm_run *const *runs, int n, int format, int top);
/* Untrusted text into HTML (md 0) or a Markdown cell (md 1), at most max bytes. */
void rm_put_escaped(FILE *o, const char *s, int md, size_t max);
/* Prints a cJSON document and a newline, then frees it; 0 or -1 (I/O). */
struct cJSON;
int rm_print_json(FILE *o, struct cJSON *root);
/* "text", "json", "markdown"/"md", "html" -> RM_FMT_*, -1 otherwise. */
int rm_parse_format(const char *s);
/* One line on what a trend means (static buffer). */
const char *rm_trend_words(const rm_run *run, const rm_trend *T, int kill);
/* The conclusion of a comparison. */
const char *rm_compare_words(rm_run *const *runs, int n, int same, int in_test);
/* Formats a size as "1.5 GiB" (binary units, ASCII). */
const char *rm_fmt_size(char *buf, size_t n, uint64_t v);

/* history.c: "resmon-report history add|check|show" (docs/history.md); argv[0] is
 * "history". Returns the exit code. */
int rm_history_main(int argc, char **argv);

/* triage.c: "resmon-report triage" (docs/triage.md): the jobs of one workflow
 * run, each analysed as one run, failures grouped by root cause across jobs. */
typedef struct rm_triage rm_triage;
rm_triage *rm_triage_new(void);
void rm_triage_free(rm_triage *t);
/* Reads one input: a `gh run view --log` stream, a job's raw log (job NULL:
 * named after the file), or a file of job `job` (any of them, or the
 * sampler's log, records). Returns 0, or -1 when it could not be opened. */
int rm_triage_ingest(rm_triage *t, const char *job, const char *path);
/* The same for bytes in memory (name stands for the file name). */
int rm_triage_feed(rm_triage *t, const char *job, const char *name, const char *data, size_t size);
/* Analyses (once) and writes the triage. Returns 0 or -1 (I/O). */
int rm_triage_write(FILE *out, rm_triage *t, int format);
/* 0 every job passed, 1 one failed or died, 3 none failed but one is unknown. */
int rm_triage_status(rm_triage *t);
/* argv[0] is "triage". Returns the exit code. */
int rm_triage_main(int argc, char **argv);

#endif
