/* SPDX-License-Identifier: MIT */
/* check.h: the few lines every C test of resmon shares: CHECK and the exit. */
#ifndef RM_TEST_CHECK_H
#define RM_TEST_CHECK_H

#include <stdio.h>

static int failures;

/* Counts a failed condition and says where; the test goes on. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* The exit status of a test program: 0 when every CHECK held. */
static inline int check_done(const char *name)
{
    if (failures) {
        fprintf(stderr, "%s: %d failure(s)\n", name, failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

#endif
