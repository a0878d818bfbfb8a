/* SPDX-License-Identifier: MIT */
/* fuzz_triage.c: libFuzzer target over resmon-report triage: routing of gh lines, per-job
 * pytest parsing, signatures, versions and every output format. */
#include "report/report.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rm_triage *t = rm_triage_new();
    FILE *o;
    int f;
    size_t half = size / 2;
    if (!t)
        return 0;
    /* the bytes as a gh stream or a job log named by its file, then as a file of job "j" */
    rm_triage_feed(t, NULL, "fuzz.log", (const char *)data, size);
    rm_triage_feed(t, "j", "side.log", (const char *)data + half, size - half);
    o = fopen("/dev/null", "w");
    if (o) {
        for (f = RM_FMT_TEXT; f <= RM_FMT_HTML; f++)
            rm_triage_write(o, t, f);
        fclose(o);
    }
    (void)rm_triage_status(t);
    rm_triage_free(t);
    return 0;
}
