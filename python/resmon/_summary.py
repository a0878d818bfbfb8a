# SPDX-License-Identifier: MIT
"""The plugin's end-of-session summary: aggregation and ASCII/Markdown output.

Input is plain data (lists, dicts, numbers, str) so that xdist workers can send
theirs to the controller through ``workeroutput``. One process's data::

    {"pid": int, "worker": str or None,
     "tests": [(nodeid, peak, growth, rss_end, dur, outcome, used, (file, line)), ...]
     "fixtures": [(name, scope, param, d_setup, peak, held, d_teardown), ...],
     "sys": {"mem_total", "min_avail", "min_avail_test", "cg_lim",
             "max_cg_use", "max_cg_use_test"},
     "lost": [records lost to the record file, to the job log]}
"""

import re

from ._core import core
from .api import format_size

# Positions in a test tuple.
T_ID, T_PEAK, T_GROWTH, T_RSS, T_DUR, T_OUTCOME, T_USED, T_LOC = range(8)
# Positions in a fixture tuple.
F_NAME, F_SCOPE, F_PARAM, F_SETUP, F_PEAK, F_HELD, F_TEARDOWN = range(7)

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
        return ascii_text(names[i], 120) if 0 <= i < len(names) else "test #%d" % i

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


class Summary:
    """Aggregates the data of one or more processes."""

    def __init__(self, processes, top=5, warn_rss=None):
        self.processes = [p for p in processes if p]
        self.top = top
        self.tests = [t for p in self.processes for t in p["tests"]]
        self.fixtures = [f for p in self.processes for f in p["fixtures"]]
        self.warn_rss = warn_rss if warn_rss is not None else self.default_warn()
        self.lost = [0, 0]  # records lost to the record file, to the job log
        for p in self.processes:
            self.add_lost(p.get("lost"))
        self.records_path = None

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

    def top_by(self, index):
        rows = [t for t in self.tests if t[index] is not None]
        rows.sort(key=lambda t: t[index], reverse=True)
        return rows[:self.top]

    def top_fixtures(self):
        rows = [f for f in self.fixtures if f[F_SETUP] is not None and f[F_SETUP] > 0]
        rows.sort(key=lambda f: f[F_SETUP], reverse=True)
        return rows[:self.top]

    def trends(self):
        """(worker, pid, trend dict or None, test ids, index of the last test
        with an RSS reading or None) per process."""
        out = []
        for p in self.processes:
            tests = p["tests"]
            have = [i for i, t in enumerate(tests) if t[T_RSS] is not None]
            out.append((p.get("worker") or "main", p["pid"], trend([t[T_RSS] for t in tests]),
                        [t[T_ID] for t in tests], have[-1] if have else None))
        return out

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

    def over_threshold(self):
        if not self.warn_rss:
            return []
        # the test's own use (its peak over its start RSS), not the
        # process's RSS: an empty test late in a big suite is not blamed
        rows = [t for t in self.tests if _used(t) is not None and _used(t) >= self.warn_rss]
        rows.sort(key=_used, reverse=True)
        return rows

    def record_fields(self):
        """Fields of the ``summary`` record."""
        f = [("tests", len(self.tests)), ("fixtures", len(self.fixtures)),
             ("processes", len(self.processes))]
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
        n_proc = len(self.processes)
        out.append("%d tests in %d process%s" % (len(self.tests), n_proc,
                                                   "" if n_proc == 1 else "es"))
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
        over = self.over_threshold()
        if over:
            out.append("%d test%s used %s or more over their start RSS" % (
                len(over), "" if len(over) == 1 else "s", format_size(self.warn_rss)))
        lost = self.lost_line()
        if lost:
            out.append(lost)
        return out

    def github_annotations(self, max_count=10):
        """``::warning`` lines for tests past the threshold (GitHub shows 10)."""
        out = []
        for t in self.over_threshold()[:max_count]:
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
