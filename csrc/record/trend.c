/* SPDX-License-Identifier: MIT */
/* trend.c: classifies a process's RSS over a test run (leak, steps, single
 * test, falling, noise, flat); the method and its constants are in trend.h. */
#include "trend.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

/* 1.4826 * MAD estimates the standard deviation of Gaussian noise. */
#define MAD_TO_SIGMA 1.4826
/* Variance of a median over that of a mean for Gaussian noise: pi / 2. */
#define MEDIAN_VAR_FACTOR 1.5707963267948966

static double absd(double v)
{
    return v < 0 ? -v : v;
}

static int usable(double v)
{
    /* false for NaN and +-inf too */
    return v >= -RM_TREND_MAX_ABS && v <= RM_TREND_MAX_ABS;
}

static void sift_down(double *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        double t;
        if (child >= n)
            return;
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (!(a[child] > a[root]))
            return;
        t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Heapsort, ascending: O(n log n) in the worst case, in place, no malloc.
 * The values are finite (usable() filtered them). */
static void sort_doubles(double *a, size_t n)
{
    size_t i;
    if (n < 2)
        return;
    for (i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (i = n - 1; i > 0; i--) {
        double t = a[0];
        a[0] = a[i];
        a[i] = t;
        sift_down(a, 0, i);
    }
}

/* Median of a[0..n) (n > 0); sorts a. */
static double median(double *a, size_t n)
{
    sort_doubles(a, n);
    if (n % 2)
        return a[n / 2];
    return a[n / 2 - 1] / 2 + a[n / 2] / 2;
}

/* Median of |a[i] - center| (n > 0); overwrites a. */
static double mad(double *a, size_t n, double center)
{
    size_t i;
    for (i = 0; i < n; i++)
        a[i] = absd(a[i] - center);
    return median(a, n);
}

/* A series and where its points stand: v[i] is at position pos[i] (the
 * test's index, counted from the first usable point). */
typedef struct {
    const double *v;
    const double *pos;
    size_t n;
} series;

/* Median slope of the pairs h = n/2 points apart (n >= 2); w: scratch. */
static double pair_slope(series s, double *w)
{
    size_t h = s.n / 2, i;
    for (i = 0; i + h < s.n; i++)
        w[i] = (s.v[i + h] - s.v[i]) / (s.pos[i + h] - s.pos[i]);
    return median(w, s.n - h);
}

/* Median of v - slope * pos over points [lo, hi) (lo < hi); w: scratch. */
static double detrended_median(series s, size_t lo, size_t hi, double slope, double *w)
{
    size_t i;
    for (i = lo; i < hi; i++)
        w[i - lo] = s.v[i] - slope * s.pos[i];
    return median(w, hi - lo);
}

/* Level of the series over points [lo, hi): the detrended median, put back
 * on the line at `at` (a position). */
static double level_at(series s, size_t lo, size_t hi, double slope, double at, double *w)
{
    return detrended_median(s, lo, hi, slope, w) + slope * at;
}

/* Points [lo, hi) of block b of `blocks` equal blocks. */
static void block(size_t n, size_t blocks, size_t b, size_t *lo, size_t *hi)
{
    *lo = b * n / blocks;
    *hi = (b + 1) * n / blocks;
}

/* R^2 of the least-squares line through (pos, v): centered sums, values
 * taken relative to the first (a constant series gives exactly 0). */
static double least_squares_r2(series s)
{
    double mean_x = 0, mean_y = 0, sxx = 0, sxy = 0, syy = 0, r2;
    size_t i;
    for (i = 0; i < s.n; i++) {
        mean_x += s.pos[i];
        mean_y += s.v[i] - s.v[0];
    }
    mean_x /= (double)s.n;
    mean_y /= (double)s.n;
    for (i = 0; i < s.n; i++) {
        double dx = s.pos[i] - mean_x, dy = s.v[i] - s.v[0] - mean_y;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if (!(sxx > 0) || !(syy > 0))
        return 0;
    r2 = (sxy / sxx) * (sxy / syy);
    return r2 > 1 ? 1 : r2 < 0 ? 0 : r2;
}

/* Path length of the series through its block levels (each taken at its
 * block's center), from the first position to the last. */
static double path_length(series s, size_t blocks, double slope, double *w)
{
    double prev = level_at(s, 0, s.n / blocks, slope, 0, w), path = 0, level;
    size_t b, lo, hi;
    for (b = 0; b < blocks; b++) {
        block(s.n, blocks, b, &lo, &hi);
        level = level_at(s, lo, hi, slope, (s.pos[lo] + s.pos[hi - 1]) / 2, w);
        path += absd(level - prev);
        prev = level;
    }
    block(s.n, blocks, blocks - 1, &lo, &hi);
    level = level_at(s, lo, hi, slope, s.pos[s.n - 1], w);
    return path + absd(level - prev);
}

/* The work arrays of one analysis: one allocation. */
typedef struct {
    double *x;    /* the usable points, in order */
    double *pos;  /* their positions: index in the caller's y minus first */
    double *z;    /* x with the jumps' excess removed */
    double *ex;   /* ex[i]: excess of the jump between x[i] and x[i+1], 0 none */
    double *w;    /* scratch for sorting */
    size_t first; /* index in the caller's y of x[0] */
} work;

/* Does a rise of v bytes count, given its standard error squared? */
static int counts(double v, double min_rise, double se2)
{
    return absd(v) >= min_rise && v * v >= RM_TREND_SNR * RM_TREND_SNR * se2;
}

/* The level shift between x[i] and x[i+1] less the drift m between them:
 * the median of up to RM_TREND_JUMP_WINDOW points after minus that of as
 * many before, neither window crossing the previous candidate jump (prev,
 * or SIZE_MAX) or the next one (ex[j] != 0, not yet judged). Not
 * detrended by m over the windows: m is the median increment, not the
 * local slope (a flat stretch next to a leak), and a steady drift only
 * makes an upward shift look larger. */
static double level_shift(const work *k, size_t n, size_t i, size_t prev, double m)
{
    double before[RM_TREND_JUMP_WINDOW], after[RM_TREND_JUMP_WINDOW];
    size_t nb = 0, na = 0, j;
    for (j = i + 1; j-- > 0 && nb < RM_TREND_JUMP_WINDOW && (prev == SIZE_MAX || j > prev);)
        before[nb++] = k->x[j];
    for (j = i + 1; j < n && na < RM_TREND_JUMP_WINDOW; j++) {
        after[na++] = k->x[j];
        if (j < n - 1 && k->ex[j] != 0)
            break; /* x[j] is the last point before the next candidate */
    }
    /* nb, na >= 1: x[i] and x[i+1] are always in */
    return median(after, na) - median(before, nb) - m * (k->pos[i + 1] - k->pos[i]);
}

/* Classifies k->x[0..n) (n >= RM_TREND_MIN_POINTS) into *out. */
static void analyze(const work *k, size_t n, rm_trend_result *out)
{
    double *x = k->x, *z = k->z, *ex = k->ex, *w = k->w, last = k->pos[n - 1];
    series xs = {k->x, k->pos, n}, zs = {k->z, k->pos, n};
    size_t nd = n - 1, i, lo, hi, blocks = n < RM_TREND_BLOCKS ? n : RM_TREND_BLOCKS;
    double m, thr, cum = 0, jumps = 0, sz, path, path_z, rise_z, rise, se2, mid, tail, tail_z;
    double spread, top_e = 0, sustained = 0, run_sum = 0;
    size_t top_i = 0, run_len = 0, n_runs = 0, n_jumps = 0, prev_cand = SIZE_MAX;
    int have_top = 0, steady_leak, trusted;

    for (i = 0; i < n; i++)
        w[i] = x[i];
    out->level = median(w, n);
    out->min_rise = RM_TREND_MIN_RISE;
    if (RM_TREND_MIN_RISE_FRAC * absd(out->level) > out->min_rise)
        out->min_rise = RM_TREND_MIN_RISE_FRAC * absd(out->level);

    /* increments per test (a skipped test makes one increment span two):
     * their median is the steady drift, their MAD the noise */
    for (i = 0; i < nd; i++)
        w[i] = (x[i + 1] - x[i]) / (k->pos[i + 1] - k->pos[i]);
    m = median(w, nd);
    for (i = 0; i < nd; i++)
        w[i] = (x[i + 1] - x[i]) / (k->pos[i + 1] - k->pos[i]);
    out->noise = MAD_TO_SIGMA * mad(w, nd, m);
    thr = RM_TREND_JUMP_SIGMAS * out->noise;
    if (RM_TREND_JUMP_MIN_FRAC * out->min_rise > thr)
        thr = RM_TREND_JUMP_MIN_FRAC * out->min_rise;

    /* candidate jumps: increments far from the drift */
    for (i = 0; i < nd; i++) {
        double e = x[i + 1] - x[i] - m * (k->pos[i + 1] - k->pos[i]);
        ex[i] = absd(e) >= thr ? e : 0;
    }
    /* a candidate is a jump when the levels on either side differ as much
     * (else it was one noisy reading); z: the series without the jumps'
     * excess over the drift */
    z[0] = x[0];
    for (i = 0; i < nd; i++) {
        if (ex[i] != 0) {
            double shift = level_shift(k, n, i, prev_cand, m);
            prev_cand = i;
            if (absd(shift) >= thr && (shift > 0) == (ex[i] > 0)) {
                n_jumps++;
                cum += ex[i];
                jumps += ex[i];
            } else {
                ex[i] = 0;
            }
        }
        z[i + 1] = x[i + 1] - cum;
    }

    out->slope = pair_slope(xs, w);
    out->r2 = least_squares_r2(xs);
    sz = pair_slope(zs, w);

    /* the rise: smoothed ends of the steady part, plus the jumps. Jumps
     * are outliers only when they are at most a quarter of the increments;
     * otherwise the median increment is no drift (a series alternating up
     * and down) and the rise is the smoothed ends of the series itself. */
    block(n, blocks, blocks - 1, &lo, &hi);
    trusted = 4 * n_jumps <= nd;
    if (trusted) {
        rise_z = level_at(zs, lo, hi, sz, last, w) - level_at(zs, 0, n / blocks, sz, 0, w);
        rise = rise_z + jumps;
    } else {
        rise = level_at(xs, lo, hi, out->slope, last, w) -
               level_at(xs, 0, n / blocks, out->slope, 0, w);
        rise_z = rise;
    }
    out->steady = rise_z;
    out->rise = rise;
    path = path_length(xs, blocks, out->slope, w);
    out->direction = path > 0 ? absd(rise) / path : 0;
    if (out->direction > 1)
        out->direction = 1;
    /* standard error (squared) of the smoothed rise: two medians of
     * n/blocks points with level noise noise/sqrt(2) each */
    se2 = MEDIAN_VAR_FACTOR * out->noise * out->noise / (double)(n / blocks);
    /* what y and z still rose over the second half: from a block around the
     * middle to the end */
    lo = n / 2 - n / blocks / 2;
    hi = lo + n / blocks;
    mid = (k->pos[lo] + k->pos[hi - 1]) / 2;
    tail = -level_at(xs, lo, hi, out->slope, mid, w);
    tail_z = -level_at(zs, lo, hi, sz, mid, w);
    block(n, blocks, blocks - 1, &lo, &hi);
    tail += level_at(xs, lo, hi, out->slope, last, w);
    tail_z += level_at(zs, lo, hi, sz, last, w);
    path_z = path_length(zs, blocks, sz, w);

    /* upward jumps: the largest, and runs of consecutive ones */
    for (i = 0; i <= nd; i++) {
        if (i < nd && ex[i] > 0) {
            if (ex[i] > top_e) {
                top_e = ex[i];
                top_i = i;
                have_top = 1;
            }
            run_sum += ex[i];
            run_len++;
            continue;
        }
        if (run_len) {
            w[n_runs++] = run_sum; /* n_runs <= i: w[0..i) is free */
            if (run_len >= RM_TREND_LEAK_RUN)
                sustained += run_sum;
        }
        run_sum = 0;
        run_len = 0;
    }
    if (have_top) {
        double at = (double)k->first + k->pos[top_i + 1];
        out->top_index = at <= (double)INT_MAX ? (int)at : -1;
        out->top_share = rise > 0 ? top_e / rise : 0;
        if (out->top_share > 1)
            out->top_share = 1;
    }
    if (rise > 0) {
        /* groups that each carry RM_TREND_STEP_MIN_SHARE of the rise */
        double carried = 0;
        int c = 0;
        for (i = 0; i < n_runs; i++)
            if (w[i] >= RM_TREND_STEP_MIN_SHARE * rise) {
                carried += w[i];
                c++;
            }
        out->steps = carried >= RM_TREND_STEPS_SHARE * rise ? c : 0;
    }

    /* a steady leak: the rise without the jumps counts, goes one way and
     * goes on to the end; jumps up or down (fixtures torn down) do not
     * hide it, even when they leave the run lower than it began. Each jump
     * taken out of z leaves the error of its size in z, one increment's
     * noise: a random walk over the jumps, n_jumps * noise^2, counted
     * twice (the noise estimate is rough, and fixtures set up and torn
     * down in turn must not add up to a leak). */
    steady_leak =
        trusted && rise_z > 0 &&
        counts(rise_z, out->min_rise, se2 + 2 * (double)n_jumps * out->noise * out->noise) &&
        rise_z >= RM_TREND_MIN_DIRECTION * path_z && tail_z >= RM_TREND_TAIL_SHARE * rise_z;
    if (!steady_leak && !counts(rise, out->min_rise, se2)) {
        /* no trend: noise when it swings as much as a trend would move */
        for (i = 0; i < n; i++)
            w[i] = x[i] - out->slope * k->pos[i];
        spread = median(w, n);
        for (i = 0; i < n; i++)
            w[i] = x[i] - out->slope * k->pos[i];
        spread = MAD_TO_SIGMA * mad(w, n, spread);
        out->cls = spread >= RM_TREND_NOISE_FRAC * out->min_rise ? RM_TREND_NOISE : RM_TREND_FLAT;
    } else if (steady_leak) {
        out->cls = RM_TREND_LEAK;
    } else if (out->direction < RM_TREND_MIN_DIRECTION) {
        out->cls = RM_TREND_NOISE; /* moved, but swung more than it moved */
    } else if (rise < 0) {
        out->cls = RM_TREND_FALLING;
    } else if (out->top_share >= RM_TREND_SINGLE_SHARE) {
        out->cls = RM_TREND_SINGLE;
    } else if (out->steps >= 1 && out->steps <= RM_TREND_MAX_STEPS && sustained < rise / 2) {
        out->cls = RM_TREND_STEPS;
    } else if (tail >= RM_TREND_TAIL_SHARE * rise) {
        out->cls = RM_TREND_LEAK; /* many jumps, or long runs of them */
    } else {
        out->cls = RM_TREND_STEPS; /* rose, then leveled off */
    }
}

static void reset(rm_trend_result *out)
{
    out->cls = RM_TREND_TOO_FEW;
    out->n = 0;
    out->slope = out->r2 = out->rise = out->top_share = 0;
    out->steps = 0;
    out->top_index = -1;
    out->level = out->min_rise = out->noise = out->steady = out->direction = 0;
    out->start_index = -1;
    out->released = 0;
}

static int rising(rm_trend_class c)
{
    return c == RM_TREND_LEAK || c == RM_TREND_STEPS || c == RM_TREND_SINGLE;
}

/* A run that is not rising as a whole but has a large release (a drop of
 * the minimum rise or more, e.g. a class fixture torn down) with at least
 * half of the run after it: when the part after the last such release
 * rises, that is the verdict (a leak after a fixture was freed is still a
 * leak). k's positions are rebased; out holds the whole-run result. */
static void after_release(work *k, size_t n, rm_trend_result *out)
{
    size_t i, cut = 0, need = (n + 1) / 2;
    double drop = 0, base;
    rm_trend_result part;
    work s = *k;

    if (rising(out->cls) || out->cls == RM_TREND_TOO_FEW)
        return;
    if (need < RM_TREND_MIN_POINTS)
        need = RM_TREND_MIN_POINTS;
    for (i = 0; i + 1 < n; i++)
        if (k->ex[i] <= -out->min_rise && n - (i + 1) >= need) {
            cut = i + 1;
            drop = k->x[i] - k->x[i + 1];
        }
    if (!cut)
        return;
    s.x = k->x + cut;
    s.pos = k->pos + cut;
    base = s.pos[0];
    for (i = 0; i < n - cut; i++)
        s.pos[i] -= base;
    s.first = k->first + (size_t)base;
    reset(&part);
    part.n = (int)(n - cut);
    analyze(&s, n - cut, &part);
    if (!rising(part.cls))
        return;
    *out = part;
    out->start_index = s.first <= INT_MAX ? (int)s.first : -1;
    out->released = drop;
}

void rm_trend_analyze(const double *y, size_t n, rm_trend_result *out)
{
    size_t first = 0, used = 0, i, j;
    work k;
    double *mem;

    if (!out)
        return;
    reset(out);
    if (!y || n == 0)
        return;
    if (n > RM_TREND_MAX_POINTS)
        first = n - RM_TREND_MAX_POINTS;
    for (i = first; i < n; i++)
        if (usable(y[i]) && used++ == 0 && i <= INT_MAX)
            out->start_index = (int)i;
    out->n = (int)used; /* used <= RM_TREND_MAX_POINTS */
    if (used < RM_TREND_MIN_POINTS)
        return;
    mem = malloc(used * 5 * sizeof(double));
    if (!mem) {
        reset(out);
        return;
    }
    k.x = mem;
    k.pos = k.x + used;
    k.z = k.pos + used;
    k.ex = k.z + used;
    k.w = k.ex + used;
    k.first = 0;
    for (i = first, j = 0; i < n; i++)
        if (usable(y[i])) {
            if (j == 0)
                k.first = i;
            k.x[j] = y[i];
            k.pos[j++] = (double)(i - k.first);
        }
    analyze(&k, used, out);
    after_release(&k, used, out);
    free(mem);
}

const char *rm_trend_name(rm_trend_class c)
{
    switch (c) {
    case RM_TREND_TOO_FEW:
        return "too few tests";
    case RM_TREND_FLAT:
        return "flat";
    case RM_TREND_LEAK:
        return "leak";
    case RM_TREND_STEPS:
        return "steps";
    case RM_TREND_SINGLE:
        return "single";
    case RM_TREND_FALLING:
        return "falling";
    case RM_TREND_NOISE:
        return "noise";
    }
    return "unknown";
}
