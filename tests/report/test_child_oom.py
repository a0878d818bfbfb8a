# SPDX-License-Identifier: MIT
"""An OOM kill inside a run that went on: a test's child process killed by the
kernel in the run's memory cgroup (tests/corpus/child_oom_pass, recorded for
real). The run passed, so the kill is context, never the verdict; it happened
while a test ran, so the report names that test, and the sampler reading the
counter a second later, after pytest's summary, is no kill "after the end"."""

import os
import re

import pytest

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


def _without_kmsg(text):
    """As a sampler that cannot read /dev/kmsg (dmesg_restrict, not root)
    logs it: no kernel OOM line, no victim in its verdict."""
    out = []
    for line in text.splitlines(True):
        if "source=kmsg" in line:
            continue
        for key in ("oom_pid", "oom_comm", "oom_anon_rss"):
            line = re.sub(r" %s=\S+" % key, "", line)
        line = line.replace("oom_evidence=cgroup_counter,kernel_log", "oom_evidence=cgroup_counter")
        out.append(line)
    return "".join(out)


@pytest.mark.parametrize("kmsg", [True, False])
@pytest.mark.parametrize("files", [FILES, ("job.log",)])
def test_a_childs_oom_kill_then_sigterm_is_the_sigterm(tmp_path, kmsg, files):
    # the child's kill spared pytest, which lived on until the SIGTERM: by
    # the kernel's victim when it is read, else by pytest's own records and
    # samples after the kill
    for name in FILES:
        with open(os.path.join(CORPUS, "child_oom_then_sigterm", name)) as f:
            text = f.read()
        (tmp_path / name).write_text(text if kmsg else _without_kmsg(text))
    v = run_json([str(tmp_path / f) for f in files], cwd=str(tmp_path))[1]["verdict"]
    assert (v["kind"], v["signal"]) == ("signal", 15), v
    assert any(e["kind"] == "oom" and e["role"] == "context" for e in v["evidence"]), v


@pytest.mark.parametrize("kmsg", [True, False])
def test_pytest_killed_by_oom_is_still_the_verdict(tmp_path, kmsg):
    # the negative: pytest's own OOM kill, with or without the kernel's line
    for name in FILES:
        with open(os.path.join(CORPUS, "oom_sudden_after_flat", name)) as f:
            text = f.read()
        (tmp_path / name).write_text(text if kmsg else _without_kmsg(text))
    v = run_json([str(tmp_path / f) for f in FILES], cwd=str(tmp_path))[1]["verdict"]
    assert v["kind"] == "oom_kill" and v["confidence"] >= 0.9, v


def test_a_victim_that_wrote_only_its_head_is_pytest(tmp_path):
    # xdist's controller writes its head and then no record until its
    # summary: the kernel naming it is pytest's death, not a child's
    job = (
        "2026-12-02T10:00:00.0000000Z [resmon/1] head ts=2026-12-02T10:00:00.000000Z pid=500 "
        "run=1.1 phase=session resmon=0.1.0 python=3.11.7 pytest=8.3.0 os=linux role=controller ;\n"
        "2026-12-02T10:00:01.0000000Z [resmon/1] test ts=2026-12-02T10:00:01.000000Z pid=501 "
        "worker=gw0 test=t.py::test_a phase=setup at=start rss=100000000 ;\n"
        "2026-12-02T10:00:02.0000000Z [resmon/1] test ts=2026-12-02T10:00:02.000000Z pid=501 "
        "worker=gw0 test=t.py::test_b phase=setup at=start rss=100000000 ;\n"
        "2026-12-02T10:00:09.0000000Z [resmon/1] event ts=2026-12-02T10:00:09.000000Z "
        "what=oom_kill source=kmsg pid=500 comm=python in_tree=1 anon_rss=300000000 ;\n"
        "2026-12-02T10:00:09.1000000Z [resmon/1] event ts=2026-12-02T10:00:09.100000Z "
        "what=oom_kill source=cgroup cg_oom=1 new=1 cgroup=/x ;\n"
        "2026-12-02T10:00:12.0000000Z [resmon/1] test ts=2026-12-02T10:00:12.000000Z pid=501 "
        "worker=gw0 test=t.py::test_c phase=setup at=start rss=100000000 ;\n"
        "2026-12-02T10:00:13.0000000Z ##[error]Process completed with exit code 137.\n")
    (tmp_path / "job.log").write_text(job)
    v = run_json([str(tmp_path / "job.log")], cwd=str(tmp_path))[1]["verdict"]
    assert v["kind"] == "oom_kill" and v["confidence"] >= 0.9, v


def test_no_test_ran_and_a_childs_oom_kill_is_failed(tmp_path):
    # exit 5 (all deselected) while a collection hook's child was
    # OOM-killed: pytest ran no test, and no process of pytest's died
    lines = open(os.path.join(CORPUS, "no_tests_ran", "job.log")).read().splitlines(True)
    at = next(i for i, l in enumerate(lines) if "deselected" in l)
    stamp = lines[at][:28]
    ts = stamp[:26] + "Z"
    lines[at:at] = [
        "%s [resmon/1] event ts=%s what=oom_kill source=kmsg pid=99999 comm=python "
        "in_tree=1 anon_rss=300000000 ;\n" % (stamp, ts),
        "%s [resmon/1] event ts=%s what=oom_kill source=cgroup cg_oom=1 new=1 cgroup=/x ;\n"
        % (stamp, ts)]
    (tmp_path / "job.log").write_text("".join(lines))
    v = run_json([str(tmp_path / "job.log")], cwd=str(tmp_path))[1]["verdict"]
    assert v["kind"] == "failed", v
