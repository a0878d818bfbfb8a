# SPDX-License-Identifier: MIT
"""No single culprit, but a group: when a real OOM kill ends a suite whose
memory was kept by the tests of one file (a leaky module or fixture), the
report names that file; when the growth is spread over the suite, when the
suite is one file, or when the run did not die of memory, it names none."""

import glob
import json
import os
import subprocess
import sys
import textwrap

import pytest

from memcg import enter_fn, memory_cgroup
from reporthelp import ROOT, report_bin, run, run_json

MiB = 1 << 20

FLAT = """
import pytest

@pytest.mark.parametrize("i", range(%d))
def test_flat(i):
    pass
"""

KEEP = """
import time

KEEP = []


def keep(mib):
    block = bytearray(mib << 20)
    for k in range(0, len(block), 4096):
        block[k] = 1
    KEEP.append(block)
    time.sleep(0.05)
"""


def leaky(n, mib):
    """A file of n test functions (not parameters of one) that each keep
    mib MiB."""
    return KEEP + "".join("\n\ndef test_keeps_%d():\n    keep(%d)\n" % (i, mib) for i in range(n))


def _tool(name):
    from resmon import _tools
    return _tools.tool_path(name)


def _run(tmp_path, files, limit):
    """Runs the suite under the sampler in a memory cgroup of limit bytes;
    returns (exit code, the report's JSON of all three inputs). The inputs
    stay in tmp_path: job.log, sampler.log, records.log."""
    for name, body in files.items():
        (tmp_path / name).write_text(textwrap.dedent(body))
    env = dict(os.environ)
    for k in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "RESMON", "RESMON_RECORDS"):
        env.pop(k, None)
    sampler_log, records = tmp_path / "sampler.log", tmp_path / "records.log"
    job = tmp_path / "job.log"
    cmd = [_tool("resmon-sampler"), "-q", "-i", "0.1", "-o", str(sampler_log), "--",
           sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--resmon",
           "--resmon-records", str(records)] + sorted(files)
    with memory_cgroup("resmon_group", limit) as cg, open(job, "wb") as out:
        p = subprocess.run(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                           timeout=600, preexec_fn=enter_fn(cg))
    _, doc = run_json([str(job), str(sampler_log), str(records)])
    return p.returncode, doc


def test_leaky_file_is_named(tmp_path):
    # 20 flat tests, then a file whose tests each keep 20 MiB until the
    # kernel kills the process, then 20 flat tests that never run
    code, doc = _run(tmp_path, {"test_a_flat.py": FLAT % 20, "test_b_leaky.py": leaky(60, 20),
                                "test_c_flat.py": FLAT % 20}, 300 * MiB)
    assert code == 137, doc["verdict"]
    assert doc["verdict"]["kind"] == "oom_kill"
    # every test of the file kept the same: no single culprit
    assert doc["culprit"] is None, doc["culprit"]
    group = doc["culprit_group"]
    assert group is not None, doc["culprit_why"]
    assert (group["kind"], group["key"]) == ("file", "test_b_leaky.py")
    assert group["tests"] >= 5 and group["own_growth"] >= 100 * MiB
    assert group["share"] >= 0.6
    # triage of the same job gives the same account in its one-line hint
    p = subprocess.run([report_bin(), "triage", "--format", "json"] +
                       ["job=%s" % (tmp_path / f) for f in ("job.log", "sampler.log", "records.log")],
                       capture_output=True, timeout=120)
    (g,) = json.loads(p.stdout)["groups"]
    assert g["category"] == "oom_kill"
    assert "no single culprit, but" in g["hint"] and "test_b_leaky.py" in g["hint"], g["hint"]


def test_parameters_of_one_test_are_named(tmp_path):
    # two parameters of one test each take 140 MiB and keep it, 10 MiB per
    # 0.15 s (the sampler reads every 0.1 s, so a late reading is still close):
    # the second is killed after about as much; they grew
    # alike, so no single culprit, but the test function is named (its file
    # holds flat tests too)
    body = KEEP + FLAT % 20 + """

@pytest.mark.parametrize("size", ["big", "bigger"])
def test_model(size):
    for _ in range(14):
        keep(10)
        time.sleep(0.1)
"""
    code, doc = _run(tmp_path, {"test_model.py": body, "test_z_flat.py": FLAT % 20}, 300 * MiB)
    assert code == 137, doc["verdict"]
    assert doc["verdict"]["kind"] == "oom_kill"
    assert doc["culprit"] is None, doc["culprit"]
    group = doc["culprit_group"]
    assert group is not None, doc["culprit_why"]
    assert (group["kind"], group["key"]) == ("function", "test_model.py::test_model")
    assert group["tests"] == 2


def test_growth_spread_over_the_suite_names_no_file(tmp_path):
    # three files whose tests all keep memory alike: the suite leaks, no
    # file stands out
    files = {"test_%s.py" % n: leaky(12, 8) for n in ("a", "b", "c", "d")}
    code, doc = _run(tmp_path, files, 300 * MiB)
    assert code == 137, doc["verdict"]
    assert doc["verdict"]["kind"] == "oom_kill"
    assert doc["culprit_group"] is None, doc["culprit_group"]


def test_leaky_file_in_a_passing_run_is_no_culprit(tmp_path):
    # the same leaky file, but the limit holds: no death of memory, no culprit
    code, doc = _run(tmp_path, {"test_a_flat.py": FLAT % 10, "test_b_leaky.py": leaky(5, 20),
                                "test_c_flat.py": FLAT % 10}, 600 * MiB)
    assert code == 0, doc["verdict"]
    assert doc["verdict"]["kind"] == "passed"
    assert doc["culprit"] is None and doc["culprit_group"] is None


CORPUS = os.path.join(ROOT, "tests", "corpus")


@pytest.mark.parametrize("name", sorted(
    os.path.basename(d) for d in glob.glob(os.path.join(CORPUS, "*")) if os.path.isdir(d)
    and os.path.exists(os.path.join(d, "job.log"))))
def test_corpus_names_a_group_only_where_one_file_kept_the_memory(name):
    # every corpus suite is one file: no group anywhere (a suite of one
    # file says nothing a group could add), and none for runs that did not
    # die of memory
    d = os.path.join(CORPUS, name)
    inputs = [os.path.join(d, f) for f in ("job.log", "ci_resource_monitor.log", "records.log")
              if os.path.exists(os.path.join(d, f))]
    _, doc = run_json(inputs)
    ids = {t["id"].split("::")[0] for t in doc["tests"]}
    if len(ids) <= 1 or doc["verdict"]["kind"] != "oom_kill":
        assert doc["culprit_group"] is None, (name, doc["culprit_group"])


def test_each_crashed_worker_says_crashed(tmp_path):
    # two xdist workers died, each while running a test: the newest is the
    # boundary (killed), the other is "crashed", not "running"; a test that
    # ended on a third worker keeps its own outcome
    def rec(ts, pid, worker, test, phase, at, extra=""):
        return ("2026-01-05T10:00:%02d.0000000Z [resmon/1] test ts=2026-01-05T10:00:%02d.000000Z "
                "pid=%d worker=%s test=\"%s\" phase=%s at=%s rss=50000000 %s;"
                % (ts, ts, pid, worker, test, phase, at, extra))
    lines = [
        rec(1, 11, "gw0", "t.py::test_a", "setup", "start"),
        rec(2, 12, "gw1", "t.py::test_b", "setup", "start"),
        rec(3, 13, "gw2", "t.py::test_c", "setup", "start"),
        rec(4, 13, "gw2", "t.py::test_c", "teardown", "end", "outcome=passed "),
        "2026-01-05T10:00:05.0000000Z [gw0] node down: Not properly terminated",
        "2026-01-05T10:00:05.1000000Z worker 'gw0' crashed while running 't.py::test_a'",
        "2026-01-05T10:00:07.0000000Z [gw1] node down: Not properly terminated",
        "2026-01-05T10:00:07.1000000Z worker 'gw1' crashed while running 't.py::test_b'",
        "2026-01-05T10:00:08.0000000Z ##[error]Process completed with exit code 1.",
    ]
    # pytest's FAILED lines for the crashed tests, at the same second as
    # xdist's crash lines: whichever the report folds first, the test crashed
    failed = ["2026-01-05T10:00:07.1000000Z FAILED t.py::test_%s - worker 'gw%d' crashed" % (x, k)
              for k, x in enumerate("ab")]
    path = tmp_path / "before.log"
    path.write_text("\n".join(lines[:-1] + failed + lines[-1:]) + "\n")
    _, doc = run_json([str(path)])
    assert {t["id"]: t["outcome"] for t in doc["tests"]} == {
        "t.py::test_a": "crashed", "t.py::test_b": "crashed", "t.py::test_c": "passed"}
    assert doc["boundary"]["test"] == "t.py::test_b", doc["boundary"]
    path = tmp_path / "job.log"
    path.write_text("\n".join(failed + lines) + "\n")
    _, doc = run_json([str(path)])
    outcome = {t["id"]: t["outcome"] for t in doc["tests"]}
    # the run did not die (pytest's exit code 1), a worker did: xdist names it
    assert doc["boundary"]["test"] == "t.py::test_b", doc["boundary"]
    assert outcome["t.py::test_a"] == "crashed", outcome
    assert outcome["t.py::test_c"] == "passed", outcome
    text = run([str(path)]).stdout.decode("ascii")
    row = next(line for line in text.splitlines() if line.endswith("t.py::test_a"))
    assert " crashed " in row and "+0 B" not in row, row  # nothing read after its start


def _leak_then(tmp_path, big_mib):
    """40 tests that each keep 3 MiB (a steady leak of 120 MiB), then a test
    that takes big_mib more and is OOM-killed (the cgroup's counter rises)."""
    def stamp(sec):
        return "2026-01-05T10:%02d:%02d" % (sec // 60, sec % 60)

    def line(sec, body):
        return "%s.0000000Z [resmon/1] %s ts=%s.000000Z pid=10 %s ;" % (
            stamp(sec), body.split(" ", 1)[0], stamp(sec), body.split(" ", 1)[1])

    lines, rss, sec = [], 100 << 20, 1
    lines.append(line(sec, "head phase=session resmon=0.1.0 pytest=9.0 role=main mem_total=8000000000"))
    for i in range(40):
        lines.append(line(sec, "test test=t_leak.py::test_%d phase=setup at=start rss=%d" % (i, rss)))
        rss += 3 << 20
        lines.append(line(sec + 1, "test test=t_leak.py::test_%d phase=teardown at=end outcome=passed "
                                   "rss=%d cg_use=%d cg_lim=2000000000 cg_oom=0" % (i, rss, rss)))
        sec += 2
    lines.append(line(sec, "test test=t_big.py::test_big phase=setup at=start rss=%d" % rss))
    big = rss + (big_mib << 20)
    lines.append(line(sec + 1, "mark test=t_big.py::test_big phase=call label=x rss=%d hwm=%d "
                               "cg_use=2000000000 cg_lim=2000000000 cg_oom=1" % (big, big)))
    lines.append("%s.0000000Z ##[error]Process completed with exit code 137." % stamp(sec + 2))
    path = tmp_path / "job.log"
    path.write_text("\n".join(lines) + "\n")
    _, doc = run_json([str(path)])
    assert doc["verdict"]["kind"] == "oom_kill", doc["verdict"]
    return doc


def test_a_test_larger_than_the_leak_is_the_culprit(tmp_path):
    # a drift of 120 MiB over 40 tests beside one test that took 1 GiB: the
    # drift did not fill the cgroup, the test did
    doc = _leak_then(tmp_path, 1024)
    assert any(t["class"] == "leak" for t in doc["trend"]), doc["trend"]
    assert doc["culprit"] is not None and doc["culprit"]["id"] == "t_big.py::test_big", \
        doc["culprit_why"]


def test_a_leak_larger_than_any_test_is_no_single_culprit(tmp_path):
    # the same drift beside a test that took 40 MiB: the leak is the reason
    doc = _leak_then(tmp_path, 40)
    assert any(t["class"] == "leak" for t in doc["trend"]), doc["trend"]
    assert doc["culprit"] is None and "a leak" in doc["culprit_why"], doc["culprit_why"]
