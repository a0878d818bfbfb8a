/* SPDX-License-Identifier: MIT */
/* trend.h: one memory-trend analysis (leak, steps, single test, noise) shared
 * by resmon-report and the pytest plugin's summary. Pure C, no dependencies.
 *
 * Input: the RSS of one process at the end of each test, in test order.
 * The analysis (constants below):
 *   1. Points not finite or beyond +-RM_TREND_MAX_ABS are skipped (a
 *      skipped test still counts as a position for the slope); fewer than
 *      RM_TREND_MIN_POINTS left: RM_TREND_TOO_FEW.
 *   2. Increments d[i] = y[i+1] - y[i]: their median m is the drift per
 *      test, noise = 1.4826 * MAD(d). A jump is an increment whose excess
 *      d - m reaches thr = max(RM_TREND_JUMP_SIGMAS * noise,
 *      RM_TREND_JUMP_MIN_FRAC * min_rise) and that the levels around it
 *      confirm (medians of up to RM_TREND_JUMP_WINDOW points on each side
 *      differ by thr, same sign). z, the steady part, is y less the jumps'
 *      excess.
 *   3. rise = smoothed last minus first of z plus the jumps' excess. The
 *      ends are the first and last of RM_TREND_BLOCKS blocks, each a median
 *      with the slope taken out inside the block. When jumps are more than
 *      a quarter of the increments they are no outliers (a series going up
 *      and down in turn): rise is then the smoothed ends of y itself.
 *   4. min_rise = max(RM_TREND_MIN_RISE, RM_TREND_MIN_RISE_FRAC * median of
 *      y). A rise counts when |rise| >= min_rise and >= RM_TREND_SNR times
 *      its standard error (from the noise). direction = |rise| / the path
 *      length of y through its block levels.
 *   5. The class, first match:
 *      LEAK when the steady part alone counts (its error also carries that
 *      of each jump taken out), goes one way (rise_z >=
 *      RM_TREND_MIN_DIRECTION * its path) and still rises over the second
 *      half of the run (by RM_TREND_TAIL_SHARE of rise_z);
 *      FLAT when the rise does not count, or NOISE when besides the spread
 *      around the slope (1.4826 * MAD) reaches RM_TREND_NOISE_FRAC *
 *      min_rise; NOISE when direction < RM_TREND_MIN_DIRECTION;
 *      FALLING when rise < 0;
 *      SINGLE when one upward jump carries RM_TREND_SINGLE_SHARE of rise;
 *      STEPS when 1 to RM_TREND_MAX_STEPS groups of consecutive upward
 *      jumps, each carrying RM_TREND_STEP_MIN_SHARE of rise, together carry
 *      RM_TREND_STEPS_SHARE of it, and runs of RM_TREND_LEAK_RUN or more
 *      consecutive jumps (a sustained rise) carry less than half;
 *      LEAK when y still rises over its second half by RM_TREND_TAIL_SHARE
 *      of rise (the rise is spread over many jumps or long runs of them);
 *      STEPS otherwise, with steps = 0: it rose, then leveled off (warm-up,
 *      caches filling).
 *   6. A run whose class is not LEAK, STEPS or SINGLE but that has a large
 *      release (a downward jump of min_rise or more, e.g. a class fixture
 *      torn down) with at least half of the run after it is judged again
 *      from the test after the last such release; when that part rises,
 *      its result is the result (start_index and released say so).
 *
 * Cost: O(n log n) time (heapsort: no quadratic worst case) and one
 * allocation of 40 bytes per point, freed before returning. */
#ifndef RM_TREND_H
#define RM_TREND_H

#include <stddef.h>

/* Fewest points with a verdict: fewer cannot tell a leak from one jump. */
#ifndef RM_TREND_MIN_POINTS
#define RM_TREND_MIN_POINTS 5
#endif
/* Most points analysed; a longer series is analysed over its last
 * RM_TREND_MAX_POINTS entries (bounds memory to ~40 MiB). */
#ifndef RM_TREND_MAX_POINTS
#define RM_TREND_MAX_POINTS (1 << 20)
#endif
/* Values beyond +-2^60 bytes (1 EiB) are not RSS: skipped, like NaN. */
#define RM_TREND_MAX_ABS 1152921504606846976.0
/* A rise below this many bytes is never a trend, however steady: smaller
 * growth is within what allocators and imports do in a normal suite. */
#define RM_TREND_MIN_RISE (32.0 * 1024 * 1024)
/* ... nor below this share of the process's median RSS. */
#define RM_TREND_MIN_RISE_FRAC 0.10
/* An increment is a jump when it is this many noise units (1.4826 * MAD of
 * the increments) away from the median increment: 4 sigma is crossed by
 * Gaussian noise about once in 16,000 tests. */
#define RM_TREND_JUMP_SIGMAS 4.0
/* ... and at least this share of the minimum rise (8 MiB at the floor), so
 * that page-level jitter of a noiseless series is never a jump. */
#define RM_TREND_JUMP_MIN_FRAC 0.25
/* A jump is also a shift of level: the median of up to this many points
 * after it minus that of as many before (stopping at the neighbouring
 * jumps, less one increment of drift) passes the same threshold, so that
 * one noisy reading does not pass for a jump. */
#define RM_TREND_JUMP_WINDOW 5
/* A rise counts when it is this many times its standard error. */
#define RM_TREND_SNR 3.0
/* |rise| / path length below this: the series swings more than it moves. */
#define RM_TREND_MIN_DIRECTION 0.4
/* Spread (1.4826 * MAD around the trend) of this share of the minimum rise
 * makes a series without a trend "noise" rather than "flat". */
#define RM_TREND_NOISE_FRAC 0.5
/* One jump carrying this share of the rise: RM_TREND_SINGLE. */
#define RM_TREND_SINGLE_SHARE 0.6
/* Groups of consecutive jumps, each carrying RM_TREND_STEP_MIN_SHARE of the
 * rise, that together carry RM_TREND_STEPS_SHARE of it ... */
#define RM_TREND_STEP_MIN_SHARE 0.1
#define RM_TREND_STEPS_SHARE 0.6
/* ... being at most this many: RM_TREND_STEPS ("a few discrete jumps"). */
#define RM_TREND_MAX_STEPS 5
/* This many consecutive rising tests are a sustained rise, not a step. */
#define RM_TREND_LEAK_RUN 4
/* A leak still rises over the second half of the run by this share of
 * its rise (a straight line: 0.5); a rise that stopped earlier (warm-up,
 * caches filling) is "steps". */
#define RM_TREND_TAIL_SHARE 0.2
/* Blocks for smoothing the ends and measuring the path length. */
#define RM_TREND_BLOCKS 10

typedef enum {
    RM_TREND_TOO_FEW = 0, /* fewer than RM_TREND_MIN_POINTS points */
    RM_TREND_FLAT,        /* no rise beyond noise */
    RM_TREND_LEAK,        /* a steady rise spread over many tests: likely a leak */
    RM_TREND_STEPS,  /* the rise comes from a few discrete jumps (caches, lazy imports, fixtures) */
    RM_TREND_SINGLE, /* one test accounts for most of the rise */
    RM_TREND_FALLING,
    RM_TREND_NOISE /* large swings with no direction */
} rm_trend_class;

typedef struct {
    rm_trend_class cls;
    int n; /* points judged (finite, within +-RM_TREND_MAX_ABS, from start_index on) */
    /* bytes per test: the median of the slopes between points n/2 apart
     * (Theil-Sen restricted to pairs half the run apart: robust to a
     * quarter of odd points, O(n log n)); positions are indices in y */
    double slope;
    double r2;   /* R^2 of the least-squares line (for reference only) */
    double rise; /* last minus first (smoothed, see above), bytes */
    /* groups of consecutive upward jumps, each carrying RM_TREND_STEP_MIN_SHARE
     * of the rise, when together they carry RM_TREND_STEPS_SHARE of it; else 0 */
    int steps;
    /* index in y of the test that made the largest upward jump (its reading
     * minus the one before it), -1 none */
    int top_index;
    /* that jump's excess over the drift / rise, 0..1 (0 when rise <= 0) */
    double top_share;
    /* added fields */
    double level;     /* median of the points, bytes */
    double min_rise;  /* the minimum rise applied, bytes */
    double noise;     /* 1.4826 * MAD of the increments, bytes */
    double steady;    /* the rise without the jumps, bytes */
    double direction; /* |rise| / path length, 0..1 */
    /* index in y of the first point judged: the first usable one, or (step
     * 6) the test that made the last large release; -1 when none is usable */
    int start_index;
    double released; /* bytes that release freed (step 6), else 0 */
} rm_trend_result;

/* y: RSS (bytes) of one process at the end of each test, in test order.
 * Fills *out (never fails: n = 0, too few usable points or out of memory
 * give RM_TREND_TOO_FEW; out of memory also out->n = 0). Reentrant and
 * thread-safe; y is not modified. */
void rm_trend_analyze(const double *y, size_t n, rm_trend_result *out);

/* "too few tests", "flat", "leak", "steps", "single", "falling", "noise";
 * "unknown" for a value outside the enum. Static strings. */
const char *rm_trend_name(rm_trend_class c);

#endif
