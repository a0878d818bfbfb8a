/* SPDX-License-Identifier: MIT */
/* fuzz_report.c: libFuzzer target over the record parser, the line reader and the whole report. */
#include "record/parse.h"
#include "report/report.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static rm_rec rec;

/* Every accessor on the parse of the whole input as one line. */
static void parse_once(const uint8_t *data, size_t size)
{
    uint64_t u;
    int64_t i;
    unsigned k;
    if (rm_parse_line((const char *)data, size, &rec) == RM_PARSE_NONE)
        return;
    for (k = 0; k < rec.n_fields; k++) {
        /* every field is inside the buffer and NUL-terminated */
        if (rec.f[k].key < rec.buf ||
            rec.f[k].val + rec.f[k].val_len >= rec.buf + sizeof(rec.buf) ||
            rec.f[k].val[rec.f[k].val_len] != '\0')
            __builtin_trap();
    }
    (void)rm_rec_u64(&rec, "rss", &u);
    (void)rm_rec_i64(&rec, "d_rss", &i);
    (void)rm_rec_usec(&rec, "mono", &u);
}

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
    parse_once(data, size);

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
