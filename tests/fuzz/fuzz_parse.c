/* SPDX-License-Identifier: MIT */
/* fuzz_parse.c: libFuzzer target over the record parser, the writer and the line reader alone. */
#include "parse_checks.h"

/* Built without the report (tests/fuzz/test_fuzz.py compiles it with
 * csrc/record only), so the parser is fuzzed whatever state the report is
 * in; fuzz_report.c runs the same checks and the whole report. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_check_line(data, size);
    fz_check_writer(data, size);
    fz_check_reader(data, size);
    return 0;
}
