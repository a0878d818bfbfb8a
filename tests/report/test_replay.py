# SPDX-License-Identifier: MIT
"""A test that prints a saved log (another run's records, fully stamped) into the
job log must not lend that run's evidence to this one. Built from two real runs of
tests/corpus: a passing suite and an OOM-killed one whose job-log records are
printed, by a test, between the passing suite's lines."""

import datetime
import os
import re

import pytest

from reporthelp import ROOT, check_text, run, run_json

CORPUS = os.path.join(ROOT, "tests", "corpus")


def _lines(name):
    with open(os.path.join(CORPUS, name, "job.log"), encoding="utf-8") as f:
        return f.read().splitlines(True)


def _print_saved_log(tmp_path, shift):
    """pass_plain's job log with oom_linear_leak's records printed after its first
    PASSED line: each gets that line's GitHub time; their own ts is moved by
    `shift` (a function of the ts text)."""
    base = _lines("pass_plain")
    saved = [line[29:] for line in _lines("oom_linear_leak") if "[resmon/1] " in line]
    k = next(i for i, line in enumerate(base) if "PASSED" in line)
    gh = base[k][:29]
    printed = [gh + re.sub(r"ts=(\S+)", lambda m: "ts=" + shift(m.group(1), gh), line)
               for line in saved]
    path = tmp_path / "job.log"
    path.write_text("".join(base[:k + 1] + printed + base[k + 1:]), encoding="utf-8")
    return path, len(printed), gh


def _oom_evidence(doc):
    return [e for e in doc["verdict"]["evidence"] if e["kind"] in ("oom", "low_memory")]


def test_a_saved_log_from_days_ago_is_not_this_run(tmp_path):
    path, n, _ = _print_saved_log(tmp_path,
                                  lambda ts, gh: ts.replace("2026-12-02T", "2026-11-28T"))
    rc, doc = run_json([str(path)])
    assert doc["verdict"]["kind"] == "passed", doc["verdict"]
    assert not _oom_evidence(doc), doc["verdict"]["evidence"]
    assert doc["inputs"][0]["replayed_records"] == n
    assert doc["system"]["cg_oom_last"] in (0, None), doc["system"]
    out = run([str(path)]).stdout
    check_text(out)
    assert b"records stamped hours from their line" in out


def test_records_stamped_in_the_future_are_not_this_run(tmp_path):
    path, n, _ = _print_saved_log(tmp_path,
                                  lambda ts, gh: ts.replace("2026-12-02T", "2026-12-03T"))
    rc, doc = run_json([str(path)])
    assert doc["inputs"][0]["replayed_records"] == n
    assert not _oom_evidence(doc)


def test_lines_the_runner_stamped_late_still_count(tmp_path):
    # negative: the runner read these lines 5 minutes after they were written
    # (a stalled machine): they are this run's and are kept
    def five_minutes_before(ts, gh):
        t = datetime.datetime.strptime(gh[:19], "%Y-%m-%dT%H:%M:%S")
        return (t - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")

    path, n, gh = _print_saved_log(tmp_path, five_minutes_before)
    assert "ts=%s" % five_minutes_before(None, gh) in path.read_text(encoding="utf-8")
    rc, doc = run_json([str(path)])
    assert doc["inputs"][0]["replayed_records"] == 0
    # the printed run's OOM counter is read: these lines are taken as this run's
    assert doc["system"]["cg_oom_last"] == 1, doc["system"]


def test_fake_markers_stamped_days_ago_are_refused():
    # tests/corpus/fake_markers_pass: its tests print an OOM verdict, an oom_kill
    # event and a 7 GB test record stamped 2026-11-26, in a run of 2026-12-02
    rc, doc = run_json([os.path.join(CORPUS, "fake_markers_pass", "job.log")])
    assert doc["inputs"][0]["replayed_records"] == 12
    assert doc["verdict"]["kind"] == "passed"


@pytest.mark.parametrize("name", sorted(d for d in os.listdir(CORPUS)
                                        if os.path.isdir(os.path.join(CORPUS, d))
                                        and d not in ("__pycache__", "fake_markers_pass")))
def test_no_real_run_has_replayed_records(name):
    rc, doc = run_json([os.path.join(CORPUS, name, "job.log")])
    assert doc["inputs"][0]["replayed_records"] == 0
