# SPDX-License-Identifier: MIT
"""_resmon.trend: the one trend analysis (csrc/record/trend.c) as Python sees it."""

import math
import random
import time

import pytest

from resmon import _resmon

MiB = 1 << 20
KEYS = {"class", "n", "slope", "r2", "rise", "steps", "top_index", "top_share"}


def test_linear_leak():
    t = _resmon.trend([150 * MiB + 20 * MiB * i for i in range(10)])
    assert KEYS <= set(t), t
    assert t["class"] == "leak", t
    assert t["n"] == 10
    assert t["slope"] == pytest.approx(20 * MiB)
    assert t["rise"] == pytest.approx(180 * MiB)
    assert t["r2"] == pytest.approx(1.0)
    assert (t["steps"], t["top_index"], t["top_share"]) == (0, -1, 0.0)


def test_noisy_leak_over_many_tests():
    rnd = random.Random(7)
    t = _resmon.trend([300 * MiB + MiB * i + rnd.gauss(0, 5 * MiB) for i in range(500)])
    assert t["class"] == "leak", t
    assert 0.9 * MiB < t["slope"] < 1.1 * MiB


def test_two_steps_are_not_a_leak():
    t = _resmon.trend([100 * MiB] * 3 + [300 * MiB] * 3 + [500 * MiB] * 4)
    assert t["class"] == "steps", t
    assert t["steps"] == 2 and t["top_index"] == 3
    assert t["top_share"] == pytest.approx(0.5)


def test_single_test():
    t = _resmon.trend([100 * MiB] * 5 + [500 * MiB] * 5)
    assert t["class"] == "single", t
    assert t["top_index"] == 5 and t["top_share"] == pytest.approx(1.0)


def test_leak_after_a_fixture_is_freed():
    # the demo's shape: a class fixture of 200 MiB freed after three tests,
    # then five tests keep 20 MiB each and one keeps 150 MiB
    t = _resmon.trend([v * MiB for v in (234, 234, 34, 34, 54, 74, 94, 114, 134, 284, 284, 284)])
    assert t["class"] == "leak", t
    assert (t["start_index"], t["released"], t["n"]) == (2, 200 * MiB, 10), t
    assert t["top_index"] == 9, t


def test_flat_noise_falling():
    rnd = random.Random(3)
    assert _resmon.trend([300 * MiB + rnd.gauss(0, MiB) for _ in range(40)])["class"] == "flat"
    noisy = _resmon.trend([300 * MiB + rnd.uniform(-100, 100) * MiB for _ in range(60)])
    assert noisy["class"] == "noise", noisy
    falling = _resmon.trend([900 * MiB - 30 * MiB * i for i in range(10)])
    assert falling["class"] == "falling" and falling["rise"] < 0, falling


def test_too_few_and_missing_readings():
    for values in ([], [1.0], [1.0, 2.0], [MiB] * 4, [None] * 20, [math.nan] * 9):
        t = _resmon.trend(values)
        assert t["class"] == "too few tests", (values, t)
        assert t["top_index"] == -1
    # None and NaN are skipped; top_index is still an index into the input
    values = [100 * MiB] * 10 + [500 * MiB] * 5
    values[2] = None
    values[4] = math.nan
    values[7] = math.inf
    t = _resmon.trend(values)
    assert t["n"] == 12 and t["class"] == "single" and t["top_index"] == 10, t


def test_accepts_any_iterable_of_numbers():
    gen = (100 * MiB + 20 * MiB * i for i in range(10))
    assert _resmon.trend(gen)["class"] == "leak"
    assert _resmon.trend(tuple(range(0, 200 * MiB, 20 * MiB)))["class"] == "leak"


def test_bad_input_raises():
    with pytest.raises(TypeError):
        _resmon.trend(5)
    with pytest.raises(TypeError):
        _resmon.trend([1.0, "2"])
    with pytest.raises(OverflowError):
        _resmon.trend([1.0, 10 ** 400])


def test_50000_tests_are_quick():
    rnd = random.Random(1)
    values = [300 * MiB + 4096 * i + rnd.gauss(0, 2 * MiB) for i in range(50000)]
    start = time.perf_counter()
    t = _resmon.trend(values)
    assert time.perf_counter() - start < 2.0
    assert t["class"] == "leak" and t["n"] == 50000, t


def _summary_line(rss):
    from resmon import _summary
    tests = [("t.py::test_%d" % i, r, 0, r, 0.1, "passed") for i, r in enumerate(rss)]
    summary = _summary.Summary([{"pid": 7, "worker": None, "tests": tests, "fixtures": [],
                                 "sys": {}}])
    lines = [l for l in summary.lines() if l.startswith("leak trend (main, pid 7): ")]
    assert len(lines) == 1, summary.lines()
    return lines[0].split(": ", 1)[1]


def test_summary_words_per_class():
    assert _summary_line([100 * MiB + 20 * MiB * i for i in range(10)]) == (
        "rising steadily over 10 tests: likely leak (+20.00 MiB per test, +180.00 MiB in all)")
    assert _summary_line([100 * MiB] * 3 + [300 * MiB] * 3 + [500 * MiB] * 4) == (
        "2 steps (largest at t.py::test_3): not a steady leak (+400.00 MiB over 10 tests)")
    assert _summary_line([100 * MiB] * 5 + [500 * MiB] * 5) == (
        "one test (t.py::test_5) accounts for 100% of the rise (+400.00 MiB over 10 tests)")
    assert _summary_line([100 * MiB] * 10) == "flat: no leak trend (+0 B over 10 tests)"
    assert _summary_line([100 * MiB] * 3) == "too few tests for a trend (n=3)"
    assert _summary_line([900 * MiB - 30 * MiB * i for i in range(10)]) == (
        "falling (-270.00 MiB over 10 tests)")
    assert "likely leak" in _summary_line(
        [v * MiB for v in (234, 234, 34, 34, 54, 74, 94, 114, 134, 284, 284, 284)])
    assert _summary_line([(100 + (300 if i % 2 else 0)) * MiB for i in range(20)]) == (
        "swings with no direction over 20 tests: no leak trend")


def test_summary_without_the_c_core_says_unknown(monkeypatch):
    from resmon import _summary
    monkeypatch.setattr(_summary, "core", None)
    assert _summary_line([100 * MiB + 20 * MiB * i for i in range(10)]) == (
        "unknown (the C core resmon._resmon is not available)")
