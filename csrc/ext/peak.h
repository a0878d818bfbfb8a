/* SPDX-License-Identifier: MIT */
/* peak.h: per-interval RSS peaks that leave the kernel's high-water mark alone. */
#ifndef RM_PEAK_H
#define RM_PEAK_H

#include "../probe/probe.h"

/* reset_peak() starts an interval; Sample.peak (and a record's hwm) is the
 * resident peak of the interval that is open. By default nothing is reset
 * in the kernel, so VmHWM, getrusage's ru_maxrss and what a parent's wait4
 * (/usr/bin/time -v) reports stay the process's real lifetime peak:
 *  - when the kernel's lifetime high-water mark rose during the interval,
 *    the interval's peak is that mark (exact);
 *  - otherwise it is the highest RSS seen by samples and by a poller thread
 *    that reads /proc/self/statm every 10 ms, every 1 ms while RSS moves
 *    (sample.c; RESMON_PEAK_POLL_MS sets the 10 ms, 0 turns the poller off).
 * RESMON_PEAK_RESET=clear_refs opts in to the old behaviour (the kernel's
 * counter is reset at each interval, exact but visible to other tools);
 * the lifetime peak is then kept here before every reset and written as
 * hwm_life by emit(). Linux only; elsewhere the probe's reset is used. */

/* Replaces s->hwm by the open interval's peak (GIL held; s was just read
 * with RM_READ_PROC). No-op when no interval is open. */
void rm_peak_fold(rm_sample *s);

/* Opens a new interval (GIL held). raw is a sample with RM_READ_PROC taken
 * just now and not folded (its hwm is the kernel's), so that a phase
 * boundary that samples anyway reads statm once; NULL: read one here.
 * Returns 0, or -1 with errno set. */
int rm_peak_reset(const rm_sample *raw);

/* The lifetime peak the kernel's counter lost to clear_refs resets, or 0
 * when the kernel's counter was never reset (GIL held). */
uint64_t rm_peak_lost(void);

#endif
