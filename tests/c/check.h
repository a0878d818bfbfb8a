/* SPDX-License-Identifier: MIT */
/* check.h: the few lines every C test of resmon shares: CHECK and the exit. */
#ifndef RM_TEST_CHECK_H
#define RM_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int failures;

/* A fake /proc or cgroup tree's root: a fresh directory under $TMPDIR (else
 * /tmp). A fixed name could hold a tree left by an earlier run whose pid was
 * the same. Exits when it cannot be made. */
static char root[256] __attribute__((unused));

static inline void make_root(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(root, sizeof(root), "%s/rm_test_%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (n < 0 || (size_t)n >= sizeof(root) || !mkdtemp(root)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Removes the current fake tree. */
static inline void remove_root(void)
{
    char rm[400];
    int rc;
    snprintf(rm, sizeof(rm), "rm -rf '%s'", root);
    rc = system(rm);
    (void)rc;
}

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
