# SPDX-License-Identifier: MIT
"""An OOM kill inside a run that went on: a test's child process killed by the
kernel in the run's memory cgroup (tests/corpus/child_oom_pass, recorded for
real). The run passed, so the kill is context, never the verdict; it happened
while a test ran, so the report names that test, and the sampler reading the
counter a second later, after pytest's summary, is no kill "after the end"."""

import os

from reporthelp import ROOT, run_json

CORPUS = os.path.join(ROOT, "tests", "corpus")
FILES = ("ci_resource_monitor.log", "job.log", "records.log")


def _verdict(name, files=FILES):
    return run_json([os.path.join(CORPUS, name, f) for f in files], cwd=CORPUS)[1]["verdict"]


def test_a_childs_oom_kill_names_the_test_it_ran_in():
    v = _verdict("child_oom_pass")
    assert v["kind"] == "passed", v
    ooms = [e for e in v["evidence"] if e["kind"] == "oom"]
    assert ooms and all(e["role"] == "context" for e in ooms), v["evidence"]
    assert any("(0 -> 1) while test_child_is_oom_killed ran" in e["text"] for e in ooms), ooms
    assert not [e for e in v["evidence"] if e["role"] == "after end"], v["evidence"]


def test_no_oom_kill_no_oom_evidence():
    # the negative: a passing run without a kill cites no OOM at all
    v = _verdict("near_limit_pass")
    assert v["kind"] == "passed", v
    assert not [e for e in v["evidence"] if e["kind"] == "oom"], v["evidence"]


def test_a_kill_that_ended_the_run_is_still_the_verdict():
    # the records' counter is proof like the sampler's; a run that died of
    # the kill keeps its oom_kill verdict
    v = _verdict("oom_linear_leak")
    assert v["kind"] == "oom_kill" and v["confidence"] >= 0.9, v
