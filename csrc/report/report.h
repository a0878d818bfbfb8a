/* SPDX-License-Identifier: MIT */
/* report.h: resmon-report's internal model: one run's evidence, its analysis and its outputs. */
#ifndef RM_REPORT_H
#define RM_REPORT_H

#include <stdint.h>
#include <stdio.h>

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

/* Points kept for charts; when full, neighbours merge (min available, max
 * RSS) so the extremes survive. */
#ifndef RM_REPORT_TIMELINE
#define RM_REPORT_TIMELINE 4096
#endif

/* Per-process RSS readings kept from the sampler's tree (treeI_pid/treeI_rss
 * of each sample): they credit each worker's growth to the test it was
 * running. When full, every other sample is dropped (and then only every
 * second sample is kept), so peaks between kept samples may be missed. */
#ifndef RM_REPORT_TREE_POINTS
#define RM_REPORT_TREE_POINTS 131072
#endif

/* Events kept for the timeline and the evidence list. */
#ifndef RM_REPORT_MAX_EVENTS
#define RM_REPORT_MAX_EVENTS 256
#endif

/* With several test processes, the culprit is the test whose own process grew
 * most while it ran, by at least this much (less is noise: imports, caches). */
#define RM_CULPRIT_MIN_GROWTH (32ull << 20)

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
    RM_E_COUNT
} rm_evidence_kind;

typedef struct rm_evidence {
    int seen;
    uint64_t count;
    int src;       /* input index of the last occurrence */
    uint64_t line; /* its line */
    int64_t t;     /* its time (usec since epoch), 0 unknown */
    long value;    /* exit code, signal number, failed count... */
    char text[RM_SNIP_MAX];
} rm_evidence;

typedef struct rm_test {
    char *id;
    int proc; /* index into procs, -1 unknown */
    int order;
    int end_order; /* order of its end within its process, -1 not ended */
    int finished;  /* a record said its teardown ended */
    int text_done; /* pytest's output printed its outcome */
    int phase;     /* last phase seen: 0 none, 1 setup, 2 call, 3 teardown */
    int src;
    uint64_t line;
    int64_t t_start, t_end;
    uint64_t rss_start, rss_end, peak, min_avail, others_at_min, cg_max;
    uint64_t tree_peak;  /* largest sampler tree RSS while it ran (0 unknown): the
                            test's own process when the sampler listed it (several
                            test processes), else the whole tree (one) */
    uint64_t tree_first; /* that RSS at the first sample while it ran (RM_UNSET) */
    int64_t tree_first_t;
    uint64_t own_growth; /* analysis: its own process's growth while it ran,
                            peak minus RSS at its start (RM_UNSET unknown) */
    char outcome[12];
} rm_test;

typedef struct rm_proc {
    long long pid;
    char worker[16];
    int cur_test;      /* index into tests, -1 none */
    int phase;         /* 1 setup, 2 call, 3 teardown */
    int at_end;        /* the phase has ended */
    int64_t rec_t;     /* ts of the newest own record read (copies are skipped) */
    uint64_t rec_hash; /* and its hash */
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
    uint64_t peak_rss;
    int n_tests_ended;
    /* least squares of rss at the end of each test against its index */
    double sx, sy, sxx, sxy, syy;
} rm_proc;

typedef struct rm_fixture {
    char *key; /* name, scope, param */
    char name[128];
    char scope[16];
    uint64_t before_setup, after_setup, before_teardown, after_teardown;
    uint64_t count;
    uint64_t held_tests; /* tests it lived through (the plugin's held=), 0 unknown */
    int torn_down;
} rm_fixture;

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

/* How the culprit was chosen. */
enum {
    RM_C_PEAK = 0,    /* the largest peak near the end (one test process) */
    RM_C_GROWTH,      /* its own process grew most near the end (several) */
    RM_C_MEMORY_ERROR /* it raised the MemoryError of the verdict */
};

/* Why the boundary names a test. */
enum {
    RM_B_NONE = 0,
    RM_B_UNFINISHED,   /* a test started and not finished (records, legacy lines) */
    RM_B_TEXT,         /* pytest -v printed a node id without an outcome */
    RM_B_MEMORY_ERROR, /* the run ended normally; this test raised MemoryError */
    RM_B_MARK          /* no test: the process with the newest mark */
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
    uint64_t first_cut_line, first_malformed_line;
    unsigned long unknown_version;
    uint64_t unknown_version_line;
    int gz, gz_cut;
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
    int ev[8]; /* rm_evidence_kind, strongest first */
} rm_verdict;

typedef struct rm_trend {
    int proc;
    int n;
    double slope, r2, mean;
    const char *cls; /* "rising", "flat", "falling", "too few tests" */
} rm_trend;

typedef struct rm_run {
    char name[256];
    rm_source *src;
    int n_src;
    uint64_t lines_total, lines_nonblank;
    /* tests */
    rm_test *tests;
    int n_tests, cap_tests;
    int *slots; /* open addressing: index+1, 0 empty */
    unsigned n_slots;
    uint64_t tests_over_cap;
    /* processes */
    rm_proc procs[RM_REPORT_MAX_PROCS];
    int n_procs;
    uint64_t procs_over_cap;
    /* fixtures */
    rm_fixture *fix;
    int n_fix;
    uint64_t fix_over_cap;
    /* system */
    uint64_t mem_total, min_avail, cg_lim, cg_max, cg_oom_first, cg_oom_last;
    uint64_t cg_oom_run; /* OOM kills during the run, from the sampler's verdict */
    int min_avail_src;
    uint64_t min_avail_line;
    int64_t min_avail_t;
    uint64_t samples, bash_samples, max_threads, tree_hwm;
    int has_cg_oom;
    int64_t t_first, t_last; /* first and last time seen */
    int last_src;
    uint64_t last_line;
    /* pytest counts from the summary line or record */
    long n_passed, n_failed, n_errors, n_skipped;
    int has_summary;
    /* plain pytest -v output: the last test printed without an outcome */
    int text_test;
    int text_test_src;
    uint64_t text_test_line;
    /* faulthandler: the innermost frame of the current thread, threads dumped */
    char crash_frame[RM_SNIP_MAX];
    uint64_t max_dump_threads;
    /* evidence */
    rm_evidence ev[RM_E_COUNT];
    rm_event events[RM_REPORT_MAX_EVENTS];
    int n_events;
    uint64_t events_dropped;
    /* chart */
    rm_point tl[RM_REPORT_TIMELINE];
    int n_tl;
    unsigned tl_stride, tl_skip;
    /* the sampler's per-process tree RSS */
    rm_tree_point *tree;
    int n_tree, cap_tree;
    unsigned tree_stride, tree_skip;
    uint64_t tree_dropped;
    /* the first MemoryError tied to a test: the plugin's event what=memory_error
       (test, phase, values), else pytest's "FAILED id - ...MemoryError" */
    int memerr_test; /* -1 none */
    int memerr_proc;
    int memerr_phase;
    int memerr_from_record;
    int64_t memerr_t;
    uint64_t memerr_rss, memerr_avail, memerr_thr;
    rm_textstate ts;
    /* analysis */
    rm_verdict verdict;
    int boundary_test; /* test index, -1 */
    int boundary_proc;
    int boundary_kind;  /* RM_B_* */
    int boundary_phase; /* 0 none, 1 setup, 2 call, 3 teardown */
    int boundary_at_end;
    uint64_t boundary_rss, boundary_avail, boundary_thr;
    int culprit_test;
    int culprit_rule; /* RM_C_*: how the culprit was chosen */
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
/* Formats a size as "1.5 GiB" (binary units, ASCII). */
const char *rm_fmt_size(char *buf, size_t n, uint64_t v);

#endif
