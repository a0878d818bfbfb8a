/* SPDX-License-Identifier: MIT */
/* fuzz_report.c: libFuzzer target over the parser, the writer, the line reader and the report. */
#include "parse_checks.h"
#include "report/report.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void report_all(rm_run *run)
{
    FILE *o = fopen("/dev/null", "w");
    int f;
    rm_run_analyze(run);
    if (!o)
        return;
    for (f = RM_FMT_TEXT; f <= RM_FMT_HTML; f++)
        rm_report_write(o, run, f, 5);
    {
        rm_run *runs[2] = {run, run};
        rm_compare_write(o, runs, 2, RM_FMT_TEXT, 5);
        rm_compare_write(o, runs, 2, RM_FMT_JSON, 5);
    }
    fclose(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rm_run *run;
    size_t start = 0, line = 0;
    /* the parser, the writer and the reader alone (parse_checks.h) */
    fz_check_line(data, size);
    fz_check_writer(data, size);
    fz_check_reader(data, size);

    /* the ingest, line by line as the reader would give them */
    run = rm_run_new("fuzz");
    if (!run)
        return 0;
    rm_run_add_source(run, "fuzz");
    while (start <= size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size;
        if (end > start || nl)
            rm_run_line(run, 0, ++line, (const char *)data + start, end - start, 0);
        if (!nl)
            break;
        start = end + 1;
    }
    report_all(run);
    rm_run_free(run);

    /* the same bytes through the file reader (gzip when they start with 1f 8b) */
    {
        int fd = memfd_create("fuzz", 0);
        char path[64];
        if (fd >= 0) {
            if (write(fd, data, size) == (ssize_t)size &&
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd) < (int)sizeof(path)) {
                run = rm_run_new("fuzz-file");
                if (run) {
                    rm_run_ingest(run, path);
                    report_all(run);
                    rm_run_free(run);
                }
            }
            close(fd);
        }
    }
    return 0;
}
