/* SPDX-License-Identifier: MIT */
/* test_trend.c: unit tests of the trend analysis (leak, steps, single, noise, flat). */
#include "check.h"
#include "../../csrc/record/trend.c"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1024.0 * 1024.0)
#define MAXN 50000

static double ys[MAXN];

/* xorshift64: the same series on every machine */
static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* approximately standard normal (Irwin-Hall), without libm */
static double gauss(void)
{
    double s = 0;
    int i;
    for (i = 0; i < 12; i++)
        s += uniform();
    return s - 6;
}

static rm_trend_result run(size_t n)
{
    rm_trend_result r;
    memset(&r, 0xa5, sizeof(r)); /* every field must be written */
    rm_trend_analyze(ys, n, &r);
    return r;
}

/* One line per case on stdout (make check hides it; a failing run shows it). */
static void show(const char *what, const rm_trend_result *r)
{
    printf("%-28s %-13s n=%d slope=%.2f MiB r2=%.2f rise=%.1f MiB steady=%.1f MiB steps=%d "
           "top=%d share=%.2f noise=%.2f MiB dir=%.2f\n",
           what, rm_trend_name(r->cls), r->n, r->slope / MiB, r->r2, r->rise / MiB, r->steady / MiB,
           r->steps, r->top_index, r->top_share, r->noise / MiB, r->direction);
}

static rm_trend_result linear(const char *what, size_t n, double base, double per_test,
                              double noise)
{
    size_t i;
    rm_trend_result r;
    for (i = 0; i < n; i++)
        ys[i] = base + per_test * (double)i + noise * gauss();
    r = run(n);
    show(what, &r);
    return r;
}

static void test_leaks(void)
{
    rm_trend_result r;
    int n;

    /* the demo's leak: 20 MiB kept by each test, 8 to 10 tests */
    for (n = 5; n <= 10; n++) {
        r = linear("20 MiB/test", (size_t)n, 150 * MiB, 20 * MiB, 0);
        CHECK(r.cls == RM_TREND_LEAK);
        CHECK(r.n == n);
        CHECK(r.slope > 19.9 * MiB && r.slope < 20.1 * MiB);
        CHECK(r.rise > 20 * MiB * (n - 1) - MiB && r.rise < 20 * MiB * (n - 1) + MiB);
        CHECK(r.r2 > 0.99);
        CHECK(r.steps == 0 && r.top_index == -1 && r.top_share == 0);
    }
    /* the same with allocator noise of 1 MiB */
    r = linear("20 MiB/test, noise 1 MiB", 10, 150 * MiB, 20 * MiB, 1 * MiB);
    CHECK(r.cls == RM_TREND_LEAK);
    /* 1 MiB per test over 500 tests, noise 5 MiB: the slope is found */
    r = linear("1 MiB/test, noise 5 MiB", 500, 300 * MiB, 1 * MiB, 5 * MiB);
    CHECK(r.cls == RM_TREND_LEAK);
    CHECK(r.slope > 0.9 * MiB && r.slope < 1.1 * MiB);
    CHECK(r.rise > 450 * MiB && r.rise < 550 * MiB);
    /* ... and with noise 10 MiB */
    r = linear("1 MiB/test, noise 10 MiB", 500, 300 * MiB, 1 * MiB, 10 * MiB);
    CHECK(r.cls == RM_TREND_LEAK);
    /* 50,000 tests, 4 KiB each (195 MiB), noise 2 MiB: bounded time */
    r = linear("4 KiB/test over 50000", MAXN, 300 * MiB, 4096, 2 * MiB);
    CHECK(r.cls == RM_TREND_LEAK);
    CHECK(r.slope > 3500 && r.slope < 4700);
}

static void test_leak_in_part_of_the_run(void)
{
    rm_trend_result r;
    size_t i;
    /* 6 flat tests, then 6 tests keeping 20 MiB each: a leak, not steps */
    for (i = 0; i < 12; i++)
        ys[i] = 100 * MiB + (i < 6 ? 0 : 20 * MiB * (double)(i - 5));
    r = run(12);
    show("flat, then 20 MiB/test", &r);
    CHECK(r.cls == RM_TREND_LEAK);
    /* 100 flat, 100 leaking 2 MiB each, 100 flat, small noise */
    for (i = 0; i < 300; i++)
        ys[i] = 100 * MiB + 0.3 * MiB * gauss() +
                (i < 100   ? 0
                 : i < 200 ? 2 * MiB * (double)(i - 99)
                           : 200 * MiB);
    r = run(300);
    show("leak in the middle third", &r);
    CHECK(r.cls == RM_TREND_LEAK);
}

static void test_warm_up_is_not_a_leak(void)
{
    rm_trend_result r;
    size_t i;
    double level = 80 * MiB;
    /* imports and caches: 1-5 MiB in each of the first 40 tests, then flat */
    for (i = 0; i < 300; i++) {
        if (i > 0 && i <= 40)
            level += (1 + 4 * uniform()) * MiB;
        ys[i] = level + 0.5 * MiB * gauss();
    }
    r = run(300);
    show("warm-up, then flat", &r);
    CHECK(r.cls == RM_TREND_STEPS);
    /* the leak that starts in the last fifth of the run is one */
    for (i = 0; i < 300; i++)
        ys[i] = 100 * MiB + (i < 240 ? 0 : 3 * MiB * (double)(i - 239)) + 0.5 * MiB * gauss();
    r = run(300);
    show("leak in the last fifth", &r);
    CHECK(r.cls == RM_TREND_LEAK);
    /* a big import early, then a steady leak: a leak (the jump is reported) */
    for (i = 0; i < 60; i++)
        ys[i] = 100 * MiB + (i >= 2 ? 300 * MiB : 0) + 3 * MiB * (double)i + MiB * gauss();
    r = run(60);
    show("import, then leak", &r);
    CHECK(r.cls == RM_TREND_LEAK);
    CHECK(r.top_index == 2 && r.top_share > 0.5);
}

static void test_after_a_release(void)
{
    /* the demo: a class fixture holds 200 MiB over three tests and is freed,
     * five tests keep 20 MiB each, one keeps 150 MiB, two keep nothing */
    static const double demo[] = {234, 234, 34, 34, 54, 74, 94, 114, 134, 284, 284, 284};
    rm_trend_result r;
    size_t i, n = sizeof(demo) / sizeof(demo[0]);
    for (i = 0; i < n; i++)
        ys[i] = demo[i] * MiB;
    r = run(n);
    show("demo suite", &r);
    CHECK(r.cls == RM_TREND_LEAK);
    CHECK(r.start_index == 2 && r.released == 200 * MiB && r.n == 10);
    CHECK(r.top_index == 9);
    /* a release, then nothing: the whole run's verdict stands */
    for (i = 0; i < 10; i++)
        ys[i] = (i < 5 ? 500 : 100) * MiB;
    r = run(10);
    show("release, then flat", &r);
    CHECK(r.cls == RM_TREND_FALLING && r.start_index == 0 && r.released == 0 && r.n == 10);
    /* a leak, a release in its second half: judged on the whole run */
    for (i = 0; i < 20; i++)
        ys[i] = 100 * MiB + 20 * MiB * (double)i - (i >= 15 ? 250 * MiB : 0);
    r = run(20);
    show("leak, late release", &r);
    CHECK(r.start_index == 0 && r.released == 0);
}

static void test_steps(void)
{
    rm_trend_result r;
    size_t i;
    /* two steps of 200 MiB, flat between: steps, not a leak */
    for (i = 0; i < 10; i++)
        ys[i] = 100 * MiB + (i >= 3 ? 200 * MiB : 0) + (i >= 6 ? 200 * MiB : 0);
    r = run(10);
    show("two steps", &r);
    CHECK(r.cls == RM_TREND_STEPS);
    CHECK(r.steps == 2);
    CHECK(r.top_index == 3);
    CHECK(r.top_share > 0.49 && r.top_share < 0.51);
    CHECK(r.rise > 399 * MiB && r.rise < 401 * MiB);
    /* the same over 200 tests with noise */
    for (i = 0; i < 200; i++)
        ys[i] =
            100 * MiB + (i >= 60 ? 130 * MiB : 0) + (i >= 130 ? 120 * MiB : 0) + 2 * MiB * gauss();
    r = run(200);
    show("two steps, noise", &r);
    CHECK(r.cls == RM_TREND_STEPS);
    CHECK(r.steps == 2 && r.top_index == 60);
    /* three steps (lazy import, cache, fixture) */
    for (i = 0; i < 40; i++)
        ys[i] = 80 * MiB + (i >= 2 ? 60 * MiB : 0) + (i >= 15 ? 90 * MiB : 0) +
                (i >= 31 ? 70 * MiB : 0) + 0.5 * MiB * gauss();
    r = run(40);
    show("three steps", &r);
    CHECK(r.cls == RM_TREND_STEPS);
    CHECK(r.steps == 3 && r.top_index == 15);
}

static void test_single(void)
{
    rm_trend_result r;
    size_t i;
    /* one test keeps 400 MiB: single */
    for (i = 0; i < 10; i++)
        ys[i] = 100 * MiB + (i >= 5 ? 400 * MiB : 0);
    r = run(10);
    show("single", &r);
    CHECK(r.cls == RM_TREND_SINGLE);
    CHECK(r.top_index == 5 && r.top_share > 0.99);
    /* the last test, over a long run with noise: not smoothed away */
    for (i = 0; i < 300; i++)
        ys[i] = 100 * MiB + (i == 299 ? 300 * MiB : 0) + MiB * gauss();
    r = run(300);
    show("single, last test", &r);
    CHECK(r.cls == RM_TREND_SINGLE);
    CHECK(r.top_index == 299);
    /* one big test beside two small steps */
    for (i = 0; i < 20; i++)
        ys[i] = 100 * MiB + (i >= 4 ? 40 * MiB : 0) + (i >= 9 ? 300 * MiB : 0) +
                (i >= 15 ? 40 * MiB : 0);
    r = run(20);
    show("single among steps", &r);
    CHECK(r.cls == RM_TREND_SINGLE);
    CHECK(r.top_index == 9);
}

static void test_flat_and_noise(void)
{
    rm_trend_result r;
    size_t i;
    r = linear("flat, noise 2 MiB", 50, 300 * MiB, 0, 2 * MiB);
    CHECK(r.cls == RM_TREND_FLAT);
    r = linear("flat, noise 1 MiB, n=10", 10, 300 * MiB, 0, 1 * MiB);
    CHECK(r.cls == RM_TREND_FLAT);
    /* constant: flat */
    for (i = 0; i < 20; i++)
        ys[i] = 123 * MiB;
    r = run(20);
    CHECK(r.cls == RM_TREND_FLAT && r.rise == 0 && r.slope == 0 && r.r2 == 0);
    /* a small steady rise (16 MiB) is below the minimum */
    r = linear("2 MiB/test x 9", 9, 100 * MiB, 2 * MiB, 0);
    CHECK(r.cls == RM_TREND_FLAT);
    /* large random swings, no direction */
    for (i = 0; i < 60; i++)
        ys[i] = 300 * MiB + 200 * MiB * (uniform() - 0.5);
    r = run(60);
    show("uniform +-100 MiB", &r);
    CHECK(r.cls == RM_TREND_NOISE);
    r = linear("gaussian 80 MiB, n=12", 12, 400 * MiB, 0, 80 * MiB);
    CHECK(r.cls == RM_TREND_NOISE);
    /* a cache filled and emptied over and over, ending higher */
    for (i = 0; i < 30; i++)
        ys[i] = 100 * MiB + ((i / 3) % 2 ? 300 * MiB : 0);
    r = run(30);
    show("oscillating 300 MiB", &r);
    CHECK(r.cls == RM_TREND_NOISE);
    /* one transient spike in the middle: no rise */
    for (i = 0; i < 20; i++)
        ys[i] = 100 * MiB + (i == 10 ? 500 * MiB : 0);
    r = run(20);
    show("spike", &r);
    CHECK(r.cls == RM_TREND_FLAT || r.cls == RM_TREND_NOISE);
    CHECK(r.cls != RM_TREND_LEAK);
}

static void test_not_leak_negatives(void)
{
    /* none of the shapes that are not a leak is called one, over many seeds */
    int seed, bad = 0;
    size_t i;
    for (seed = 0; seed < 200; seed++) {
        rm_trend_result r;
        /* two steps at random places, small noise */
        size_t a = 1 + (size_t)(uniform() * 12), b = a + 3 + (size_t)(uniform() * 12);
        for (i = 0; i < 30; i++)
            ys[i] = 200 * MiB + (i >= a ? 150 * MiB : 0) + (i >= b ? 150 * MiB : 0) + MiB * gauss();
        r = run(30);
        bad += r.cls != RM_TREND_STEPS;
        /* pure noise */
        for (i = 0; i < 30; i++)
            ys[i] = 200 * MiB + 3 * MiB * gauss();
        r = run(30);
        bad += r.cls != RM_TREND_FLAT;
        /* a leak with noise */
        for (i = 0; i < 30; i++)
            ys[i] = 200 * MiB + 5 * MiB * (double)i + 2 * MiB * gauss();
        r = run(30);
        bad += r.cls != RM_TREND_LEAK;
    }
    if (bad)
        fprintf(stderr, "randomized: %d misclassified of 600\n", bad);
    CHECK(bad == 0);
}

static void test_falling(void)
{
    rm_trend_result r = linear("falling 30 MiB/test", 10, 900 * MiB, -30 * MiB, 1 * MiB);
    CHECK(r.cls == RM_TREND_FALLING);
    CHECK(r.rise < -250 * MiB && r.slope < -29 * MiB);
}

static void test_edges(void)
{
    rm_trend_result r;
    double nan = NAN, inf = INFINITY;
    size_t i;

    rm_trend_analyze(NULL, 0, &r);
    CHECK(r.cls == RM_TREND_TOO_FEW && r.n == 0 && r.top_index == -1 && r.start_index == -1);
    rm_trend_analyze(ys, 0, &r);
    CHECK(r.cls == RM_TREND_TOO_FEW && r.n == 0);
    rm_trend_analyze(ys, 3, NULL); /* no crash */
    ys[0] = ys[1] = 100 * MiB;
    r = run(1);
    CHECK(r.cls == RM_TREND_TOO_FEW && r.n == 1);
    r = run(2);
    CHECK(r.cls == RM_TREND_TOO_FEW && r.n == 2);
    for (i = 0; i < 4; i++)
        ys[i] = 100 * MiB * (double)(i + 1);
    r = run(4);
    CHECK(r.cls == RM_TREND_TOO_FEW && r.n == 4);

    /* NaN, inf and absurd values are skipped, indices stay the caller's */
    for (i = 0; i < 10; i++)
        ys[i] = 100 * MiB + 20 * MiB * (double)i;
    ys[2] = nan;
    ys[5] = inf;
    ys[7] = -inf;
    r = run(10);
    show("leak with NaN/inf", &r);
    CHECK(r.n == 7 && r.cls == RM_TREND_LEAK && r.start_index == 0);
    for (i = 0; i < 10; i++)
        ys[i] = nan;
    r = run(10);
    CHECK(r.cls == RM_TREND_TOO_FEW && r.n == 0);
    for (i = 0; i < 10; i++)
        ys[i] = 100 * MiB + (i >= 6 ? 400 * MiB : 0);
    ys[0] = nan;
    ys[4] = 1e300;
    r = run(10);
    CHECK(r.start_index == 1);
    CHECK(r.n == 8 && r.cls == RM_TREND_SINGLE && r.top_index == 6);
    /* huge but allowed values: no overflow to inf/NaN */
    for (i = 0; i < 10; i++)
        ys[i] = (i % 2 ? 1 : -1) * RM_TREND_MAX_ABS;
    r = run(10);
    CHECK(r.n == 10 && r.cls == RM_TREND_NOISE);
    CHECK(r.r2 == r.r2 && r.slope == r.slope && r.rise == r.rise);
    for (i = 0; i < 10; i++)
        ys[i] = RM_TREND_MAX_ABS * (double)i / 10;
    r = run(10);
    CHECK(r.cls == RM_TREND_LEAK);

    CHECK(strcmp(rm_trend_name(RM_TREND_TOO_FEW), "too few tests") == 0);
    CHECK(strcmp(rm_trend_name(RM_TREND_FLAT), "flat") == 0);
    CHECK(strcmp(rm_trend_name(RM_TREND_LEAK), "leak") == 0);
    CHECK(strcmp(rm_trend_name(RM_TREND_STEPS), "steps") == 0);
    CHECK(strcmp(rm_trend_name(RM_TREND_SINGLE), "single") == 0);
    CHECK(strcmp(rm_trend_name(RM_TREND_FALLING), "falling") == 0);
    CHECK(strcmp(rm_trend_name(RM_TREND_NOISE), "noise") == 0);
    CHECK(strcmp(rm_trend_name((rm_trend_class)99), "unknown") == 0);
}

static void test_random_input_is_safe(void)
{
    /* any values, any length: fields stay in their ranges (ASan/UBSan run this) */
    static const double odd[] = {0, -1, 1e300, -1e300, RM_TREND_MAX_ABS, -RM_TREND_MAX_ABS, 1e-300};
    int round, bad = 0;
    for (round = 0; round < 3000; round++) {
        size_t n = (size_t)(uniform() * 120), i;
        rm_trend_result r;
        for (i = 0; i < n; i++) {
            double u = uniform();
            if (u < 0.05)
                ys[i] = NAN;
            else if (u < 0.1)
                ys[i] = odd[(size_t)(uniform() * 7)];
            else if (u < 0.3)
                ys[i] = (double)(round % 7) * 100 * MiB; /* ties */
            else
                ys[i] = uniform() * 1000 * MiB * (round % 3 ? 1 : 1e6);
        }
        r = run(n);
        bad += r.n < 0 || (size_t)r.n > n || r.top_index < -1 || r.top_index >= (int)n;
        bad += !(r.top_share >= 0 && r.top_share <= 1) || !(r.direction >= 0 && r.direction <= 1);
        bad += r.slope != r.slope || r.rise != r.rise || r.r2 != r.r2 || r.steps < 0;
        bad += strcmp(rm_trend_name(r.cls), "unknown") == 0;
        bad += (r.n < RM_TREND_MIN_POINTS) != (r.cls == RM_TREND_TOO_FEW);
        bad += r.start_index < -1 || r.start_index >= (int)n || r.released < 0;
        bad += r.top_index != -1 && r.top_index <= r.start_index;
    }
    CHECK(bad == 0);
}

int main(void)
{
    test_leaks();
    test_leak_in_part_of_the_run();
    test_warm_up_is_not_a_leak();
    test_after_a_release();
    test_steps();
    test_single();
    test_flat_and_noise();
    test_not_leak_negatives();
    test_falling();
    test_edges();
    test_random_input_is_safe();
    return check_done("test_trend");
}
