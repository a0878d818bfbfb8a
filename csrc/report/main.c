/* SPDX-License-Identifier: MIT */
/* main.c: resmon-report's command line: read logs, analyse them, write one report. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#define VERSION "0.1.0"
/* Rows in the tables unless --top says otherwise. */
#define DEFAULT_TOP 20
/* Most runs one "compare" takes. */
#define MAX_RUNS 64

/* Exit codes (docs/report.md). */
enum {
    RC_PASSED = 0,  /* report written; the run passed */
    RC_FAILURE = 1, /* report written; the run failed or died */
    RC_USAGE = 2,   /* bad arguments, no readable input, or the report not written */
    RC_UNKNOWN = 3  /* report written; how the run ended is unknown */
};

static void usage(FILE *o)
{
    fprintf(o,
            "usage: resmon-report [options] FILE...           one run, from any mix of logs\n"
            "       resmon-report compare [options] RUN...    several runs; RUN is a file or\n"
            "                                                 files joined with ','\n"
            "       resmon-report history add|check|show ...  runs in a database, a per-test\n"
            "                                                 regression gate (history --help)\n"
            "       resmon-report triage [options] INPUT...   a workflow run's jobs, failures\n"
            "                                                 grouped by cause (triage --help)\n"
            "FILE is a sampler log, a CI job log, pytest output or a record file, plain or\n"
            "gzip; '-' reads standard input.\n"
            "options:\n"
            "  -f, --format FMT   text (default), json, markdown, html\n"
            "  -o, --output PATH  write the report there instead of standard output\n"
            "  -n, --top N        rows in tables (default %d)\n"
            "      --exit-zero    exit 0 whenever the report was written\n"
            "  -h, --help         this help;  --version  the version\n"
            "exit: 0 passed, 1 the run failed or died, 2 usage or I/O error, 3 unknown\n",
            DEFAULT_TOP);
}

/* Reads the comma-separated files of one run. Returns the number read. */
static int ingest_all(rm_run *run, char *spec, int split, int *stdin_used)
{
    int ok = 0;
    char *save = NULL, *p = split ? strtok_r(spec, ",", &save) : spec;
    for (; p; p = split ? strtok_r(NULL, ",", &save) : NULL) {
        if (strcmp(p, "-") == 0) {
            if ((*stdin_used)++) {
                fprintf(stderr, "resmon-report: standard input can be read only once\n");
                continue;
            }
        }
        if (rm_run_ingest(run, p) == 0) {
            ok++;
        } else {
            fprintf(stderr, "resmon-report: %s: %s\n", p, run->src[run->n_src - 1].error);
            /* a read error mid-file still leaves its lines in the run */
            if (run->src[run->n_src - 1].lines)
                ok++;
        }
        if (!split)
            break;
    }
    return ok;
}

static int exit_for(const rm_run *run)
{
    switch (run->verdict.kind) {
    case RM_V_PASSED:
        return RC_PASSED;
    case RM_V_UNKNOWN:
        return RC_UNKNOWN;
    default:
        return RC_FAILURE;
    }
}

int main(int argc, char **argv)
{
    int format = RM_FMT_TEXT, top = DEFAULT_TOP, exit_zero = 0, compare = 0, i, n_in = 0;
    int stdin_used = 0, rc = RC_PASSED, worst = RC_PASSED;
    const char *out_path = NULL;
    char **inputs = calloc((size_t)argc + 1, sizeof(char *));
    rm_run *runs[MAX_RUNS];
    int n_runs = 0;
    FILE *out = stdout;

    if (!inputs)
        return RC_USAGE;
    rm_stdio_binary(); /* on Windows: no "\r\n" in a report, no text-mode stdin */
    if (argc > 1 && strcmp(argv[1], "history") == 0) {
        free(inputs);
        return rm_history_main(argc - 1, argv + 1);
    }
    if (argc > 1 && strcmp(argv[1], "triage") == 0) {
        free(inputs);
        return rm_triage_main(argc - 1, argv + 1);
    }
    i = 1;
    if (argc > 1 && strcmp(argv[1], "compare") == 0) {
        compare = 1;
        i = 2;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(inputs);
            return RC_PASSED;
        } else if (strcmp(a, "--version") == 0) {
            printf("resmon-report %s (record format %d, zlib %s, cJSON %s)\n", VERSION, 1,
                   rm_reader_has_gzip() ? "yes" : "no",
#ifdef RM_HAVE_CJSON
                   "yes"
#else
                   "no"
#endif
            );
            free(inputs);
            return RC_PASSED;
        } else if ((strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0) && i + 1 < argc) {
            format = rm_parse_format(argv[++i]);
            if (format < 0) {
                fprintf(stderr, "resmon-report: unknown format '%s'\n", argv[i]);
                free(inputs);
                return RC_USAGE;
            }
        } else if (strncmp(a, "--format=", 9) == 0) {
            format = rm_parse_format(a + 9);
            if (format < 0) {
                fprintf(stderr, "resmon-report: unknown format '%s'\n", a + 9);
                free(inputs);
                return RC_USAGE;
            }
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
            out_path = argv[++i];
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--top") == 0) && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1000000) {
                fprintf(stderr, "resmon-report: --top wants a number from 1 to 1000000\n");
                free(inputs);
                return RC_USAGE;
            }
            top = (int)v;
        } else if (strcmp(a, "--exit-zero") == 0) {
            exit_zero = 1;
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                inputs[n_in++] = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "resmon-report: unknown option '%s'\n", a);
            usage(stderr);
            free(inputs);
            return RC_USAGE;
        } else {
            inputs[n_in++] = argv[i];
        }
    }
    if (n_in == 0 || (compare && n_in < 2) || (compare && n_in > MAX_RUNS)) {
        fprintf(stderr,
                compare ? "resmon-report: compare wants 2 to %d runs\n"
                        : "resmon-report: no input (use '-' for standard input)\n",
                MAX_RUNS);
        usage(stderr);
        free(inputs);
        return RC_USAGE;
    }

    if (!compare) {
        rm_run *run = rm_run_new("run");
        int ok = 0;
        if (!run) {
            free(inputs);
            return RC_USAGE;
        }
        for (i = 0; i < n_in; i++)
            ok += ingest_all(run, inputs[i], 0, &stdin_used);
        if (!ok) {
            fprintf(stderr, "resmon-report: no input could be read\n");
            rm_run_free(run);
            free(inputs);
            return RC_USAGE;
        }
        rm_run_analyze(run);
        runs[n_runs++] = run;
        worst = exit_for(run);
    } else {
        for (i = 0; i < n_in; i++) {
            rm_run *run = rm_run_new(inputs[i]);
            char *spec = strdup(inputs[i]);
            int ok;
            if (!run || !spec) {
                free(spec);
                rm_run_free(run);
                rc = RC_USAGE;
                break;
            }
            ok = ingest_all(run, spec, 1, &stdin_used);
            free(spec);
            if (!ok) {
                fprintf(stderr, "resmon-report: run %s: no input could be read\n", inputs[i]);
                rm_run_free(run);
                rc = RC_USAGE;
                break;
            }
            rm_run_analyze(run);
            runs[n_runs++] = run;
            {
                int e = exit_for(run);
                if (e == RC_FAILURE || (e == RC_UNKNOWN && worst == RC_PASSED))
                    worst = e;
            }
        }
    }

    if (rc == RC_PASSED && out_path) {
        out = fopen(out_path, "wb"); /* "b": the same bytes on Windows */
        if (!out) {
            perror(out_path);
            rc = RC_USAGE;
        }
    }
    if (rc == RC_PASSED) {
        int w = compare ? rm_compare_write(out, runs, n_runs, format, top)
                        : rm_report_write(out, runs[0], format, top);
        if (fflush(out) != 0 || w != 0)
            rc = RC_USAGE;
        if (out != stdout && fclose(out) != 0)
            rc = RC_USAGE;
        if (rc != RC_PASSED)
            fprintf(stderr, "resmon-report: the report could not be written\n");
    }
    for (i = 0; i < n_runs; i++)
        rm_run_free(runs[i]);
    free(inputs);
    if (rc != RC_PASSED)
        return rc;
    return exit_zero ? RC_PASSED : worst;
}
