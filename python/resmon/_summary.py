# SPDX-License-Identifier: MIT
"""The plugin's end-of-session summary: aggregation and ASCII/Markdown output.

A process folds each test into a ``Tally`` when its numbers are complete: a
count, bounded top lists and the RSS series the trend reads (8 bytes a test in
an array, no Python object kept per test), so the summary costs the same per
test at 500 and at 50,000 tests. Input to ``Summary`` is plain data (lists,
dicts, numbers, str) so that xdist workers can send theirs to the controller
through ``workeroutput``. One process's data::

    {"pid": int, "worker": str or None,
     "tally": Tally.data(): {"n", "by_peak", "by_growth", "by_used", "over",
                             "warn", "trend", "names", "last"},
     "fixtures": [(name, scope, param, d_setup, peak, held, d_teardown), ...],
     "n_fixtures": int,
     "sys": {"mem_total", "min_avail", "min_avail_test", "cg_lim",
             "max_cg_use", "max_cg_use_test"},
     "lost": [records lost to the record file, to the job log]}

A row of the top lists is ``(nodeid, peak, growth, rss_end, dur, outcome, used,
(file, line))``. Instead of "tally", a process may give every test as rows in
"tests" (the form before Tally; folded here).
"""

import heapq
import re
from array import array

from ._core import core
from .api import format_size

# Positions in a test tuple.
T_ID, T_PEAK, T_GROWTH, T_RSS, T_DUR, T_OUTCOME, T_USED, T_LOC = range(8)
# Positions in a fixture tuple.
F_NAME, F_SCOPE, F_PARAM, F_SETUP, F_PEAK, F_HELD, F_TEARDOWN = range(7)

#: ::warning annotations printed at most (GitHub shows 10 per step).
ANNOTATIONS_MAX = 10

_UNSAFE = re.compile(r"[^\x20-\x7e]")


def ascii_text(text, limit=200):
    """Printable ASCII rendering of any text: escapes, never trusts."""
    text = _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), str(text))
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return text


def trend(points):
    """The trend of RSS at the end of each test, in run order (None: no
    reading): the dict of ``_resmon.trend``, the analysis resmon-report uses
    too (csrc/record/trend.h). None when the C core is missing: there is no
    second implementation to disagree with it."""
    if core is None or not hasattr(core, "trend"):
        return None
    return core.trend(points)


def _signed_size(n):
    return ("+" if n >= 0 else "-") + format_size(abs(int(round(n))))


def trend_verdict(t, names=(), last=None):
    """Words for a trend dict (see trend()); names[i] is the id of test i,
    last the index of the last test with a reading."""
    if t is None:
        return "unknown (the C core resmon._resmon is not available)"
    cls, n, rise = t["class"], t["n"], t["rise"]

    def name(i):
        if isinstance(names, dict):
            text = names.get(i)
        else:
            text = names[i] if 0 <= i < len(names) else None
        return ascii_text(text, 120) if text is not None else "test #%d" % i

    span = max((last if last is not None else n - 1) - max(t.get("start_index", 0), 0), 1)
    over = "%s over %d tests" % (_signed_size(rise), n)
    if cls == "leak":
        # the steady part when it is a trend by itself: jumps and releases aside
        steady = t.get("steady", rise)
        per_test = (steady if steady >= t.get("min_rise", 0) else rise) / span
        words = "rising steadily over %d tests: likely leak (%s per test, %s in all)" % (
            n, _signed_size(per_test), _signed_size(rise))
        if t["top_index"] >= 0 and t["top_share"] >= 0.25:
            words += "; %s alone added %.0f%% of it" % (name(t["top_index"]), 100 * t["top_share"])
    elif cls == "steps" and t["steps"] < 1:
        words = "rose, then leveled off: not a steady leak (%s)" % over
    elif cls == "steps":
        words = "%d step%s (largest at %s): not a steady leak (%s)" % (
            t["steps"], "" if t["steps"] == 1 else "s", name(t["top_index"]), over)
    elif cls == "single":
        words = "one test (%s) accounts for %.0f%% of the rise (%s)" % (
            name(t["top_index"]), 100 * t["top_share"], over)
    elif cls == "falling":
        return "falling (%s)" % over
    elif cls == "noise":
        return "swings with no direction over %d tests: no leak trend" % n
    elif cls == "flat":
        return "flat: no leak trend (%s)" % over
    else:
        return "too few tests for a trend (n=%d)" % n
    if t.get("released", 0) > 0:
        words += " (counted from %s on, after it freed %s)" % (
            name(t["start_index"]), format_size(int(t["released"])))
    return words


def _heap_add(heap, size, value, seq, row):
    """Keeps the `size` largest (value, earlier first) in a min-heap of
    (value, -seq, row)."""
    if len(heap) < size:
        heapq.heappush(heap, (value, -seq, row))
    elif size > 0 and value > heap[0][0]:  # a tie keeps the earlier test
        heapq.heapreplace(heap, (value, -seq, row))


def _row(nodeid, peak, growth, rss, dur, outcome, used, loc):
    """A row of the top lists; loc is pytest's report location (file,
    0-based line, domain) or a row's (file, 1-based line)."""
    if loc and len(loc) == 3:
        loc = (loc[0], loc[1] + 1) if loc[1] is not None else None
    elif loc:
        loc = tuple(loc)
    return (nodeid, peak, growth, rss, dur, outcome, used, loc or None)


def _ranked(heap):
    """The rows of a heap, largest first, ties in run order."""
    return [e[2] for e in sorted(heap, reverse=True)]


class Tally:
    """One process's tests, folded in one at a time (``add``) when a test's
    numbers are complete. Keeps a count, the top rows by peak (skipped tests
    left out: they hold the process's memory, not their own), by growth and
    by own use (those at or over ``warn_rss``, for the annotations), and the
    RSS after each test for the trend: bounded Python objects whatever the
    number of tests."""

    def __init__(self, top=5, warn_rss=None):
        self.top = top
        self.keep_used = max(top, ANNOTATIONS_MAX)
        self.warn_rss = warn_rss
        self.n = 0
        self.ids = []  # test ids in run order: the trend names two of them
        self.rss = array("q")  # RSS after each test, -1: no reading
        self.by_peak = []  # heaps of (value, -seq, row)
        self.by_growth = []
        self.by_used = []
        self.over = 0  # tests with used >= warn_rss

    def add(self, nodeid, peak, growth, rss, dur, outcome, used, loc):
        """One test. loc is pytest's report location (file, 0-based line,
        domain) or (file, line) already 1-based when from a row."""
        seq = self.n
        self.n = seq + 1
        self.ids.append(nodeid)
        self.rss.append(-1 if rss is None else rss)
        row = None
        top = self.top
        if peak is not None and outcome != "skipped":
            h = self.by_peak
            if len(h) < top or (top > 0 and peak > h[0][0]):
                row = _row(nodeid, peak, growth, rss, dur, outcome, used, loc)
                _heap_add(h, top, peak, seq, row)
        if growth is not None:
            h = self.by_growth
            if len(h) < top or (top > 0 and growth > h[0][0]):
                row = row or _row(nodeid, peak, growth, rss, dur, outcome, used, loc)
                _heap_add(h, top, growth, seq, row)
        warn = self.warn_rss
        if warn and used is not None and used >= warn:
            self.over += 1
            row = row or _row(nodeid, peak, growth, rss, dur, outcome, used, loc)
            _heap_add(self.by_used, self.keep_used, used, seq, row)

    def add_row(self, t):
        """A row in the T_ layout (older data: 6 to 8 fields)."""
        self.add(t[T_ID], t[T_PEAK], t[T_GROWTH], t[T_RSS], t[T_DUR], t[T_OUTCOME],
                 t[T_USED] if len(t) > T_USED else None, t[T_LOC] if len(t) > T_LOC else None)

    def data(self):
        """Plain data for Summary (and for xdist's workeroutput): the trend
        is computed here, where the series is, and only the two test names it
        may cite travel."""
        n = self.n
        points = [None if v < 0 else v for v in self.rss]
        last = None
        for i in range(n - 1, -1, -1):
            if points[i] is not None:
                last = i
                break
        t = trend(points)
        names = []
        if t is not None:
            for key in ("top_index", "start_index"):
                i = t.get(key)
                if isinstance(i, int) and 0 <= i < n:
                    names.append((i, self.ids[i]))
        return {"n": n, "by_peak": _ranked(self.by_peak), "by_growth": _ranked(self.by_growth),
                "by_used": _ranked(self.by_used), "over": self.over, "warn": self.warn_rss,
                "trend": t, "names": names, "last": last}


class Summary:
    """Aggregates the data of one or more processes (each a Tally's data),
    plus the xdist workers that crashed before sending theirs."""

    def __init__(self, processes, top=5, warn_rss=None, crashed=()):
        self.processes = [p for p in processes if p]
        self.top = top
        self.warn_rss = warn_rss if warn_rss is not None else self.default_warn()
        self.tallies = [self._tally(p) for p in self.processes]
        #: (worker, crashed test id, tests it ran or None) per crashed worker
        self.crashed = list(crashed)
        self.tests = sum(t["n"] for t in self.tallies) + sum(c[2] or 1 for c in self.crashed)
        self.n_fixtures = sum(p.get("n_fixtures", len(p.get("fixtures", ())))
                              for p in self.processes)
        self.fixtures = [f for p in self.processes for f in p.get("fixtures", ())]
        self.lost = [0, 0]  # records lost to the record file, to the job log
        for p in self.processes:
            self.add_lost(p.get("lost"))
        self.records_path = None

    def _tally(self, p):
        if "tally" in p:
            return p["tally"]
        tally = Tally(self.top, self.warn_rss)  # every test as a row: fold them here
        for t in p.get("tests", ()):
            tally.add_row(t)
        return tally.data()

    def add_lost(self, lost):
        if lost:
            self.lost = [self.lost[0] + lost[0], self.lost[1] + lost[1]]

    # ---- numbers ----

    def limit(self):
        """(bytes, what) of the tightest memory limit seen, or (None, None)."""
        cg = [p["sys"].get("cg_lim") for p in self.processes if p["sys"].get("cg_lim")]
        if cg:
            return min(cg), "cgroup limit"
        total = [p["sys"].get("mem_total") for p in self.processes if p["sys"].get("mem_total")]
        if total:
            return max(total), "machine memory"
        return None, None

    def default_warn(self):
        lim, _ = self.limit()
        return lim // 2 if lim else None

    def _merged(self, key, index, count):
        rows = [r for t in self.tallies for r in t[key] if r[index] is not None]
        rows.sort(key=lambda r: r[index], reverse=True)  # stable: ties in process, run order
        return rows[:count]

    def top_by(self, index):
        """The top tests by peak (T_PEAK, skipped tests left out) or growth (T_GROWTH)."""
        return self._merged("by_peak" if index == T_PEAK else "by_growth", index, self.top)

    def top_fixtures(self):
        rows = [f for f in self.fixtures if f[F_SETUP] is not None and f[F_SETUP] > 0]
        rows.sort(key=lambda f: f[F_SETUP], reverse=True)
        return rows[:self.top]

    def trends(self):
        """(worker, pid, trend dict or None, {index: test id}, index of the
        last test with an RSS reading or None) per process."""
        return [(p.get("worker") or "main", p["pid"], t["trend"], dict(t["names"]), t["last"])
                for p, t in zip(self.processes, self.tallies)]

    def headroom(self):
        """Lines about how close the run came to the memory limit."""
        lines = []
        cg = [p["sys"] for p in self.processes if p["sys"].get("cg_lim")]
        if cg:
            s = max(cg, key=lambda s: s.get("max_cg_use") or 0)
            lim, use = s["cg_lim"], s.get("max_cg_use")
            if use is not None:
                lines.append("cgroup limit %s, highest usage %s at %s: headroom %s (%.0f%%)" % (
                    format_size(lim), format_size(use), ascii_text(s.get("max_cg_use_test") or "-"),
                    format_size(lim - use), 100.0 * (lim - use) / lim))
        mach = [p["sys"] for p in self.processes if p["sys"].get("min_avail") is not None]
        if mach:
            s = min(mach, key=lambda s: s["min_avail"])
            total = s.get("mem_total")
            lines.append("machine memory %s, lowest available %s at %s (%s)" % (
                format_size(total), format_size(s["min_avail"]),
                ascii_text(s.get("min_avail_test") or "-"),
                "%.0f%% free" % (100.0 * s["min_avail"] / total) if total else "?"))
        return lines

    def over_count(self):
        """Tests that used warn_rss or more over their start RSS."""
        if not self.warn_rss:
            return 0
        n = 0
        for t in self.tallies:
            # a process that counted with another threshold: its kept rows
            n += t["over"] if t.get("warn") == self.warn_rss else len(self._over_rows([t]))
        return n

    def _over_rows(self, tallies):
        return [r for t in tallies for r in t["by_used"]
                if _used(r) is not None and _used(r) >= self.warn_rss]

    def over_threshold(self, count=ANNOTATIONS_MAX):
        """The tests (at most count) with the most own use at or over warn_rss."""
        if not self.warn_rss:
            return []
        # the test's own use (its peak over its start RSS), not the
        # process's RSS: an empty test late in a big suite is not blamed
        rows = self._over_rows(self.tallies)
        rows.sort(key=_used, reverse=True)
        return rows[:count]

    def crash_lines(self):
        out = []
        for worker, nodeid, count in self.crashed:
            ran = ("%d test%s counted above" % (count, "" if count == 1 else "s")
                   if count else "its tests counted above as far as the controller saw them")
            out.append("worker %s crashed while running %s (%s; its numbers were lost with it)"
                       % (ascii_text(worker, 40), ascii_text(nodeid or "?"), ran))
        return out

    def record_fields(self):
        """Fields of the ``summary`` record."""
        f = [("tests", self.tests), ("fixtures", self.n_fixtures),
             ("processes", len(self.processes) + len(self.crashed))]
        peak = self.top_by(T_PEAK)
        if peak:
            f += [("max_peak", peak[0][T_PEAK]), ("max_peak_test", peak[0][T_ID])]
        growth = self.top_by(T_GROWTH)
        if growth:
            f += [("max_growth", growth[0][T_GROWTH]), ("max_growth_test", growth[0][T_ID])]
        fix = self.top_fixtures()
        if fix:
            f += [("max_fixture", fix[0][F_SETUP]), ("max_fixture_name", fix[0][F_NAME])]
        tr = [t for t in self.trends() if t[2] is not None and t[2]["class"] != "too few tests"]
        if tr:
            w = max(tr, key=lambda t: t[2]["slope"])
            f += [("slope", int(round(w[2]["slope"]))), ("slope_r2", "%.3f" % w[2]["r2"]),
                  ("slope_n", w[2]["n"]), ("slope_worker", w[0])]
        lim, what = self.limit()
        if lim:
            f.append(("limit", lim))
        if self.lost[0]:
            f.append(("lost_records", self.lost[0]))
        if self.lost[1]:
            f.append(("lost_out", self.lost[1]))
        return f

    def lost_line(self):
        """The line about records that failed writes lost, or None."""
        rec, out = self.lost
        if not rec and not out:
            return None
        parts = []
        if rec:
            parts.append("%d to the record file%s" % (
                rec, " " + ascii_text(self.records_path) if self.records_path else ""))
        if out:
            parts.append("%d to the job log" % out)
        return "records lost to failed writes: %s" % ", ".join(parts)

    # ---- text ----

    def lines(self):
        out = []
        n_proc = len(self.processes) + len(self.crashed)
        out.append("%d tests in %d process%s" % (self.tests, n_proc,
                                                   "" if n_proc == 1 else "es"))
        out.extend(self.crash_lines())
        peak = self.top_by(T_PEAK)
        if peak:
            out.append("top %d tests by peak RSS:" % len(peak))
            for t in peak:
                out.append("  %12s  %s" % (format_size(t[T_PEAK]), ascii_text(t[T_ID])))
        growth = [t for t in self.top_by(T_GROWTH) if t[T_GROWTH] > 0]
        if growth:
            out.append("top %d tests by RSS growth (kept after the test: next test's start - its start):"
                       % len(growth))
            for t in growth:
                out.append("  %12s  %s" % ("+" + format_size(t[T_GROWTH]), ascii_text(t[T_ID])))
        fix = self.top_fixtures()
        if fix:
            out.append("fixtures that retained most (RSS growth over setup):")
            for f in fix:
                name = f[F_NAME] + ("[%s]" % f[F_PARAM] if f[F_PARAM] is not None else "")
                freed = ("freed %s at teardown" % format_size(-f[F_TEARDOWN])
                         if f[F_TEARDOWN] is not None else "not torn down")
                out.append("  %12s  %-8s %s  held over %d test%s, %s" % (
                    "+" + format_size(f[F_SETUP]), f[F_SCOPE], ascii_text(name, 80), f[F_HELD],
                    "" if f[F_HELD] == 1 else "s", freed))
        for worker, pid, t, names, last in self.trends():
            out.append("leak trend (%s, pid %d): %s" % (worker, pid, trend_verdict(t, names, last)))
        out.extend("headroom: " + line for line in self.headroom())
        over = self.over_count()
        if over:
            out.append("%d test%s used %s or more over their start RSS" % (
                over, "" if over == 1 else "s", format_size(self.warn_rss)))
        lost = self.lost_line()
        if lost:
            out.append(lost)
        return out

    def github_annotations(self, max_count=ANNOTATIONS_MAX):
        """``::warning`` lines for tests past the threshold (GitHub shows 10)."""
        out = []
        for t in self.over_threshold(max_count):
            msg = "%s used %s over its start RSS (threshold %s): peak %s, growth %s" % (
                ascii_text(t[T_ID], 300), format_size(_used(t)), format_size(self.warn_rss),
                format_size(t[T_PEAK]), format_size(t[T_GROWTH]))
            where = ""
            loc = t[T_LOC] if len(t) > T_LOC else None
            if loc and loc[0]:
                where = "file=%s,line=%d," % (gh_property(loc[0]), int(loc[1] or 1))
            out.append("::warning %stitle=resmon memory::%s" % (where, gh_escape(msg)))
        return out

    def markdown(self):
        out = ["### resmon: memory per test", ""]
        peak = self.top_by(T_PEAK)
        if peak:
            out += ["| test | peak RSS | growth | duration | outcome |",
                    "|---|---:|---:|---:|---|"]
            for t in peak:
                out.append("| `%s` | %s | %s | %.2f s | %s |" % (
                    md_escape(t[T_ID]), format_size(t[T_PEAK]), format_size(t[T_GROWTH]),
                    t[T_DUR] or 0.0, t[T_OUTCOME]))
            out.append("")
        fix = self.top_fixtures()
        if fix:
            out += ["| fixture | scope | retained | tests held |", "|---|---|---:|---:|"]
            for f in fix:
                out.append("| `%s` | %s | %s | %d |" % (md_escape(f[F_NAME]), f[F_SCOPE],
                                                       format_size(f[F_SETUP]), f[F_HELD]))
            out.append("")
        for line in self.crash_lines():
            out.append("- " + md_escape(line))
        for line in self.lines():
            if line.startswith(("leak trend", "headroom")):
                out.append("- " + md_escape(line))
        out.append("")
        return "\n".join(out) + "\n"


def gh_escape(text):
    """Escapes a GitHub workflow command's message."""
    return ascii_text(text, 1000).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_property(text):
    """Escapes a GitHub workflow command's property value (file=...)."""
    return gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def _used(t):
    return t[T_USED] if len(t) > T_USED else None


def md_escape(text):
    return ascii_text(text, 200).replace("|", "\\|").replace("`", "'")
