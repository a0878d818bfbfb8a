# SPDX-License-Identifier: MIT
"""Inputs a robustness campaign found mishandled, each with the case that
must stay as it was:

- a legacy helper line, or a record whose ts is not a time, takes GitHub's
  stamp on its line when that is well after the newest record, not the
  time of that record (minutes off); the plugin's short records (no ts by
  design) keep their writer's order; one file or split, the same answer;
- a ts that is not a time is counted as a malformed field;
- two plugin dumps of 2 threads each are 2 threads, not 4;
- records past the report's item limit are noted, not dropped in silence.
"""

import json
import os
import subprocess

from reporthelp import ROOT, check_text, run, run_json

GH = "2026-12-02T01:%02d:%02d.0000000Z "


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


LEGACY = [
    GH % (17, 0) + '[resmon/1] mark ts=2026-12-02T01:17:00.000000Z pid=100 label="start" '
                   'rss=100000000 ;',
    GH % (27, 0) + "[test_resource_debug] test:start:t.py::test_a: context=test "
                   "nodeid=t.py::test_a lifecycle=start rss_gb=0.10",
    GH % (37, 0) + "[test_resource_debug] test:end:t.py::test_a: context=test "
                   "nodeid=t.py::test_a lifecycle=end rss_gb=2.10",
    GH % (47, 0) + "[test_resource_debug] test:start:t.py::test_b: context=test "
                   "nodeid=t.py::test_b lifecycle=start rss_gb=2.10",
    GH % (57, 0) + "##[error]Process completed with exit code 137.",
]


def test_legacy_lines_take_their_own_github_time(tmp_path):
    whole = write(tmp_path, "job.log", LEGACY)
    p0 = write(tmp_path, "p0.log", LEGACY[:1])
    p1 = write(tmp_path, "p1.log", LEGACY[1:])
    for args in ([whole], [p0, p1], [p1, p0]):
        _, rep = run_json(args)
        assert rep["boundary"] and rep["boundary"]["test"] == "t.py::test_b", (args, rep)
        starts = {t["id"]: t["start"] for t in rep["tests"]}
        assert starts == {"t.py::test_a": "2026-12-02T01:27:00.000000Z",
                          "t.py::test_b": "2026-12-02T01:47:00.000000Z"}, starts


def test_bad_ts_counted_and_github_time_used(tmp_path):
    lines = [
        GH % (17, 0) + '[resmon/1] test ts=2026-12-02T01:17:00.000000Z pid=100 '
                       'test="t.py::test_a" phase=setup at=start rss=100000000 ;',
        GH % (17, 50) + '[resmon/1] test ts=2026-12-02T01:1x7:50.000000Z pid=100 '
                        'test="t.py::test_a" phase=teardown at=end outcome=passed '
                        'rss=200000000 ;',
        GH % (17, 51) + "##[error]Process completed with exit code 1.",
    ]
    whole = write(tmp_path, "job.log", lines)
    p0, p1 = write(tmp_path, "p0.log", lines[:1]), write(tmp_path, "p1.log", lines[1:])
    for args in ([whole], [p0, p1]):
        _, rep = run_json(args)
        assert rep["tests"][0]["end"] == "2026-12-02T01:17:50.000000Z", args
        assert sum(s["malformed_records"] for s in rep["inputs"]) == 1, rep["inputs"]


def test_short_records_keep_their_writers_order(tmp_path):
    # the plugin's call-start records have no ts; GitHub stamped them late
    # (a burst read at once): each still belongs to the test started before it
    lines = []
    for i in range(3):
        lines.append(GH % (0, 1 + i) + "[resmon/1] test ts=2026-12-02T01:00:%02d.000000Z pid=7 "
                     "test=t.py::test_%d phase=setup at=start rss=100 ;" % (1 + i, i))
        lines.append(GH % (0, 59) + "[resmon/1] test pid=7 phase=call at=start ;")
    lines.append(GH % (0, 59) + "======= 3 passed in 0.02s =======")
    _, rep = run_json([write(tmp_path, "job.log", lines)])
    assert {(t["outcome"], t["phase"]) for t in rep["tests"]} == {("passed", "call")}, rep["tests"]


def _dump(t, ts):
    return [
        GH % (18, t) + "[resmon/1] dump at=begin ts=2026-12-02T01:18:%02d.000000Z pid=5 "
                       "test=t.py::test_hang phase=call ;" % ts,
        GH % (18, t) + "Thread 0x00007ffa65f6a6c0 (most recent call first):",
        GH % (18, t) + '  File "/usr/lib/python3.11/threading.py", line 327 in wait',
        GH % (18, t) + "Current thread 0x00007ffa67fc8b80 (most recent call first):",
        GH % (18, t) + '  File "/w/t.py", line 18 in test_hang',
        GH % (18, t) + "[resmon/1] dump at=end ts=2026-12-02T01:18:%02d.000000Z pid=5 ;" % ts,
    ]


def test_threads_are_counted_per_dump(tmp_path):
    lines = _dump(2, 2) + _dump(3, 3) + [GH % (18, 9) + "##[error]Process completed with "
                                                       "exit code 143."]
    _, rep = run_json([write(tmp_path, "job.log", lines)])
    assert rep["verdict"]["threads_in_dump"] == 2, rep["verdict"]


def test_records_past_the_item_limit_are_noted(tmp_path):
    # a build whose limit is 50 items: the 60 marks and the test after them
    # do not fit, and the report says so (text and JSON)
    build = tmp_path / "build"
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "BUILD=%s" % build,
                    "CFLAGS=-O1 -DRM_REPORT_MAX_ITEMS=50", "%s/resmon-report" % build],
                   check=True, capture_output=True)
    lines = [GH % (20, 0) + '[resmon/1] mark ts=2026-12-02T01:20:00.%06dZ pid=9 label="m%d" '
             "rss=1 ;" % (i, i) for i in range(60)]
    lines.append(GH % (20, 1) + "[resmon/1] test ts=2026-12-02T01:20:01.000000Z pid=9 "
                 "test=t.py::test_victim phase=setup at=start rss=1 ;")
    log = write(tmp_path, "job.log", lines)
    p = subprocess.run([str(build / "resmon-report"), log], capture_output=True)
    text = check_text(p.stdout)
    assert "note: 11 records past the limit of 50 (or memory) not read" in text, text
    p = subprocess.run([str(build / "resmon-report"), "--format", "json", log],
                       capture_output=True)
    assert json.loads(p.stdout)["records_dropped"] == 11
    # the same log with the normal limit: no note, nothing dropped
    _, rep = run_json([log])
    assert rep["records_dropped"] == 0
    assert "records past the limit" not in run([log]).stdout.decode()


def test_unknown_culprit_line_fits_100_columns(tmp_path):
    # an OOM kill in a long-named test with no reading after its start: the
    # culprit line says why it is unknown within 100 columns
    tid = ("venv/lib/python3.11/site-packages/networkx/algorithms/shortest_paths/tests/"
           "test_weighted.py::TestJohnsonAlgorithm::test_graphs")
    lines = [
        GH % (49, 0) + "[resmon/1] head ts=2026-12-02T01:49:00.000000Z pid=10 phase=session "
                       "resmon=0.1.0 role=main rss=50000000 ;",
        GH % (49, 1) + '[resmon/1] test ts=2026-12-02T01:49:01.000000Z pid=10 test="%s" '
                       "phase=setup at=start rss=50000000 ;" % tid,
        GH % (49, 2) + "[resmon/1] event ts=2026-12-02T01:49:02.000000Z host=vm what=oom_kill "
                       "source=cgroup cg_oom=1 new=1 cgroup=/x ;",
        GH % (49, 3) + "##[error]Process completed with exit code 137.",
    ]
    text = check_text(run([write(tmp_path, "job.log", lines)]).stdout)
    assert "CULPRIT  unknown: the running test venv/lib/" in text, text


def test_unknown_end_does_not_clear_memory(tmp_path):
    # a log that stops without saying how the run ended: the culprit's why
    # must not claim that memory did not end it
    lines = [GH % (49, 1) + "[resmon/1] test ts=2026-12-02T01:49:01.000000Z pid=10 "
             "test=t.py::test_a phase=setup at=start rss=50000000 ;"]
    _, rep = run_json([write(tmp_path, "job.log", lines)])
    assert rep["verdict"]["kind"] == "unknown", rep["verdict"]
    assert "did not die of memory" not in rep["culprit_why"], rep["culprit_why"]
