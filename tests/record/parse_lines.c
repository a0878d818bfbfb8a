/* SPDX-License-Identifier: MIT */
/* parse_lines.c: prints what the line reader and rm_parse_line find in a log (for Python tests). */
#include "record/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints a value with every byte outside [!-~] and '\' as \xHH, so one
 * output line is one record whatever the value holds. */
static void put_escaped(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x20 && c < 0x7f && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
}

/* Usage: parse_lines FILE [GZ_FLOOR]. Prints "LINENO KIND key=value ..."
 * for each record or legacy line, then one "end" line with the reader's
 * counters and its error. Exits 0, 1 when the reader stopped with an error,
 * 2 when the file cannot be opened. */
int main(int argc, char **argv)
{
    static rm_reader r;
    static rm_rec rec;
    const char *line;
    size_t len;
    unsigned flags, k;
    unsigned long long lines = 0;
    int rc;
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: parse_lines FILE [GZ_FLOOR]\n");
        return 2;
    }
    if (rm_reader_open(&r, argv[1]) != 0) {
        fprintf(stderr, "parse_lines: %s: %s\n", argv[1], r.err);
        return 2;
    }
    if (argc == 3)
        r.gz_floor = strtoull(argv[2], NULL, 10);
    while ((rc = rm_reader_next(&r, &line, &len, &flags)) == 1) {
        lines++;
        if (rm_parse_line(line, len, &rec) == RM_PARSE_NONE)
            continue;
        printf("%llu %s", (unsigned long long)r.lineno, rec.kind);
        for (k = 0; k < rec.n_fields; k++) {
            printf(" %s=", rec.f[k].key);
            put_escaped(rec.f[k].val, rec.f[k].val_len);
        }
        putchar('\n');
    }
    printf("end lines=%llu gz=%d gz_capped=%d gz_cut=%d gz_out=%llu rc=%d err=", lines, r.gz,
           r.gz_capped, r.gz_cut, (unsigned long long)r.gz_out, rc);
    put_escaped(r.err, strlen(r.err));
    putchar('\n');
    rm_reader_close(&r);
    return rc < 0 ? 1 : 0;
}
