# SPDX-License-Identifier: MIT
"""Phases are recorded when they happen, with pytest-rerunfailures,
pytest-timeout and --lf; each rerun is its own attempt (issue 12, item 2)."""

import signal
import subprocess
import sys

import pytest

from plughelp import Result, clean_env, find_records

pytest.importorskip("pytest_rerunfailures")

RERUN_THEN_DIE = """
import os, signal, time

def test_ok():
    pass

def test_flaky_then_dies(tmp_path_factory):
    # attempt 1 fails; attempt 2 dies in its body
    marker = os.path.join(os.environ["STATE_DIR"], "attempted")
    if not os.path.exists(marker):
        open(marker, "w").close()
        assert 0, "first attempt fails"
    os.kill(os.getpid(), signal.SIG{sig})
    time.sleep(5)
"""


def _run(tmp_path, files, args, timeout=120):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly"] + list(args),
                          cwd=str(tmp_path), env=clean_env(STATE_DIR=str(tmp_path)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return Result(proc)


@pytest.mark.parametrize("sig", ["KILL", "TERM"])
def test_rerun_killed_in_body_is_recorded_in_call(tmp_path, sig):
    rec = tmp_path / "rec.log"
    res = _run(tmp_path, {"test_rerun.py": RERUN_THEN_DIE.format(sig=sig)},
               ["-p", "no:cacheprovider", "--reruns", "2", "--resmon", "--resmon-records",
                str(rec)])
    assert res.rc == -getattr(signal, "SIG" + sig), res
    nodeid = "test_rerun.py::test_flaky_then_dies"
    # the job log alone: attempt 2 started its setup, then its body
    log = [(r["phase"], r["at"], r.get("attempt")) for r in find_records(res, test=nodeid)]
    assert log[:2] == [("setup", "start", None), ("call", "start", None)], log
    assert log[-2:] == [("setup", "start", "2"), ("call", "start", None)], log
    # the first attempt ended (failed) before the rerun started
    recs = find_records(rec.read_text("ascii"), test=nodeid)
    ends = [r for r in recs if r["phase"] == "teardown" and r["at"] == "end"]
    assert [r["outcome"] for r in ends] == ["failed"], ends
    starts = [r.get("attempt") for r in recs if r["phase"] == "setup" and r["at"] == "start"]
    assert starts == [None, "2"], starts
    assert recs[-1]["phase"] == "call", recs[-1]
    if sig == "TERM":
        gasps = find_records(res, kind="gasp")
        assert gasps and gasps[-1]["test"] == nodeid and gasps[-1]["phase"] == "call", gasps


def test_rerun_attempts_each_recorded(tmp_path):
    files = {"test_flaky.py": """
import itertools
counter = itertools.count()

def test_flaky():
    assert next(counter) >= 2

def test_after():
    pass
"""}
    rec = tmp_path / "rec.log"
    res = _run(tmp_path, files, ["-p", "no:cacheprovider", "--reruns", "3", "--resmon",
                                 "--resmon-records", str(rec)])
    assert res.rc == 0, res
    recs = find_records(rec.read_text("ascii"), test="test_flaky.py::test_flaky")
    seq = [(r["phase"], r["at"], r.get("attempt"), r.get("outcome")) for r in recs]
    assert seq == [
        ("setup", "start", None, None), ("call", "start", None, None),
        ("call", "end", None, "failed"), ("teardown", "end", None, "failed"),
        ("setup", "start", "2", None), ("call", "start", None, None),
        ("call", "end", None, "failed"), ("teardown", "end", None, "failed"),
        ("setup", "start", "3", None), ("call", "start", None, None),
        ("call", "end", None, "passed"), ("teardown", "end", None, "passed"),
    ], seq
    after = find_records(rec.read_text("ascii"), test="test_flaky.py::test_after")
    assert after[0].get("attempt") is None


def test_timeout_thread_method_dies_in_call(tmp_path):
    pytest.importorskip("pytest_timeout")
    files = {"test_hang.py": """
import time
import pytest

def test_first():
    pass

@pytest.mark.timeout(1, method="thread")
def test_hangs():
    time.sleep(30)
"""}
    res = _run(tmp_path, files, ["-p", "no:cacheprovider", "--resmon"])
    assert res.rc != 0 and "Timeout" in res.out + res.err, res
    recs = find_records(res, test="test_hang.py::test_hangs")
    assert [(r["phase"], r["at"]) for r in recs] == [("setup", "start"), ("call", "start")], recs


def test_timeout_signal_method_fails_in_call(tmp_path):
    pytest.importorskip("pytest_timeout")
    files = {"test_hang.py": """
import time
import pytest

@pytest.mark.timeout(1, method="signal")
def test_hangs():
    time.sleep(30)
"""}
    rec = tmp_path / "rec.log"
    res = _run(tmp_path, files, ["-p", "no:cacheprovider", "--resmon", "--resmon-markers=all",
                                 "--resmon-records", str(rec)])
    assert res.rc == 1, res
    recs = find_records(rec.read_text("ascii"), test="test_hang.py::test_hangs")
    seq = [(r["phase"], r["at"], r.get("outcome")) for r in recs]
    assert seq == [("setup", "start", None), ("call", "start", None),
                   ("call", "end", "failed"), ("teardown", "end", "failed")], seq


def test_last_failed_records_only_the_rerun_tests(tmp_path):
    files = {"test_lf.py": """
import os

def test_passes():
    pass

def test_fails_once():
    assert os.environ.get("SECOND") == "1"
"""}
    first = _run(tmp_path, files, ["--resmon"])
    assert first.rc == 1, first
    rec = tmp_path / "rec.log"
    proc = subprocess.run([sys.executable, "-m", "pytest", "--lf", "--resmon",
                           "--resmon-records", str(rec)], cwd=str(tmp_path),
                          env=clean_env(SECOND="1"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120)
    res = Result(proc)
    assert res.rc == 0 and "1 passed" in res.out and "run-last-failure" in res.out, res
    recs = find_records(rec.read_text("ascii"))
    assert {r["test"] for r in recs} == {"test_lf.py::test_fails_once"}, recs
    seq = [(r["phase"], r["at"], r.get("outcome")) for r in recs]
    assert seq == [("setup", "start", None), ("call", "start", None),
                   ("call", "end", "passed"), ("teardown", "end", "passed")], seq
