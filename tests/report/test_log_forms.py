# SPDX-License-Identifier: MIT
"""The forms a job log reaches resmon-report in, beyond GitHub's raw log: each
is made from the corpus's real job logs (tests/corpus), and must give the
answers of the log it was made from (verdict, confidence, boundary, culprit):

- stamps of whole seconds, or one stamp on every line (output captured and
  replayed at once): lines of one time keep the order they were printed in;
- UTF-16LE (Windows PowerShell 5.1's `> job.log`), with or without its BOM;
- a copy from the web page with each line's number in front of it;
- docker compose's "app-1  | " before each line.

And what tools around pytest say of its end: tox, nox, make, timeout and
Python's CalledProcessError report the signal that killed pytest while the
step exits with a code of their own; the page's "Error: " for "##[error]";
node ids with spaces; a plugin run without the sampler is not "killed" with
high confidence when nothing watched the OOM-kill counter at the end."""

import os
import re

import pytest

from reporthelp import ROOT, check_text, run, run_json

CORPUS = os.path.join(ROOT, "tests", "corpus")
SCENARIOS = sorted(n for n in os.listdir(CORPUS)
                   if os.path.exists(os.path.join(CORPUS, n, "job.log")))
STAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{7}Z ", re.M)


def _log(name):
    with open(os.path.join(CORPUS, name, "job.log"), "rb") as f:
        return f.read()


def _answers(doc):
    b, c = doc.get("boundary") or {}, doc.get("culprit") or {}
    return doc["verdict"]["kind"], doc["verdict"]["confidence"], b.get("test"), c.get("id")


def _report(tmp_path, data, name="job.log"):
    (tmp_path / name).write_bytes(data)
    p = run([name], cwd=str(tmp_path))
    check_text(p.stdout)
    return run_json([name], cwd=str(tmp_path))[1]


def _want(name):
    return _answers(run_json([os.path.join(CORPUS, name, "job.log")])[1])


def _numbered(raw, sep):
    return b"".join(b"%d%s%s" % (i, sep, line)
                    for i, line in enumerate(raw.splitlines(True), 1))


FORMS = {
    "whole_seconds": lambda raw: STAMP.sub(rb"\1Z ", raw),
    "utf16le_bom": lambda raw: b"\xff\xfe" + raw.decode("utf-8", "replace").encode("utf-16-le"),
    "utf16le": lambda raw: raw.decode("utf-8", "replace").encode("utf-16-le"),
    "numbered_tab": lambda raw: _numbered(raw, b"\t"),
    "numbered_space": lambda raw: _numbered(raw, b" "),
    "compose": lambda raw: STAMP.sub(lambda m: m.group(0) + b"app-1  | ", raw),
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_form_of_the_job_log_reads_as_the_job_log(name, form, tmp_path):
    assert _answers(_report(tmp_path, FORMS[form](_log(name)))) == _want(name)


def _plain(raw):
    """pytest's output and the runner's lines: no resmon line at all."""
    return b"".join(line for line in raw.splitlines(True) if b"[resmon/1]" not in line)


def _one_stamp(raw):
    """Every line stamped with the last line's time: replayed at once."""
    last = STAMP.findall(raw)[-1]
    return STAMP.sub(last + b".0000000Z ", raw)


@pytest.mark.parametrize("name", ["segfault_ctypes", "sigabrt", "hang_timeout_thread",
                                  "fake_markers_pass", "fail_assertions", "sigterm_outside"])
def test_lines_of_one_stamp_keep_their_order(name, tmp_path):
    # pytest's lines alone, all stamped at once: the order they were printed
    # in still names the test that crashed, and a summary a test printed is
    # not the run's
    want = _answers(_report(tmp_path, _plain(_log(name)), "plain.log"))
    got = _answers(_report(tmp_path, _one_stamp(_plain(_log(name))), "once.log"))
    assert got == want


def test_a_first_line_that_starts_with_1_is_not_a_numbered_log(tmp_path):
    # "1 passed" on line 1 but line 2 unnumbered: read as it is
    raw = b"1 passed in 0.10s\ntests/t.py::test_a PASSED\n2 passed in 0.20s\n"
    doc = _report(tmp_path, raw)
    assert doc["verdict"]["kind"] == "passed" and doc["inputs"][0]["lines"] == 3


def test_a_table_row_is_not_a_compose_prefix(tmp_path):
    # "name | value" without a replica number stays text: no "Killed" read
    raw = (b"tests/t.py::test_a PASSED\nstatus | Killed\n"
           b"======================== 1 passed in 0.10s ========================\n")
    doc = _report(tmp_path, raw)
    assert doc["verdict"]["kind"] == "passed", doc["verdict"]
    assert not [e for e in doc["verdict"]["evidence"] if e["kind"] == "killed"]


# ---- what tools around pytest say of its end ----

def _no_sampler(raw):
    """The plugin's lines and pytest's, as pytest --resmon alone leaves them."""
    drop = (b"] echo ", b"] verdict ", b"] event ", b"tool=resmon-sampler")
    return b"".join(line for line in raw.splitlines(True) if not any(d in line for d in drop))


def _wrapped(raw, lines, code):
    """The step's last line replaced by a wrapper's lines and its own code."""
    out = [l for l in raw.splitlines(True) if b"Process completed with exit code" not in l]
    stamp = STAMP.findall(raw)[-1] + b".9000000Z "
    out += [stamp + l + b"\n" for l in lines]
    out.append(stamp + b"##[error]Process completed with exit code %d.\n" % code)
    return b"".join(out)


WRAPPERS = {
    "tox": ([b"py311: exit -9 (2.30 seconds) /w/r> pytest -v pid=1234",
             b"  py311: FAIL code -9 (5.61=setup[3.31]+cmd[2.30] seconds)"], 1),
    "tox3": ([b"ERROR: InvocationError for command /w/.tox/py/bin/pytest (exited with code -9)"], 1),
    "nox": ([b"nox > Command pytest -v failed with exit code -9",
             b"nox > Session tests-3.11 failed."], 1),
    "make": ([b"make: *** [Makefile:12: test] Error 137"], 2),
    "python": ([b"subprocess.CalledProcessError: Command '['pytest']' died with "
                b"<Signals.SIGKILL: 9>."], 1),
}


@pytest.mark.parametrize("tool", sorted(WRAPPERS))
@pytest.mark.parametrize("name", ["oom_linear_leak", "flat_sigkill_outside"])
def test_a_wrapper_says_pytest_was_killed(name, tool, tmp_path):
    lines, code = WRAPPERS[tool]
    raw = _wrapped(_no_sampler(_log(name)), lines, code)
    got = _answers(_report(tmp_path, raw))
    want = _answers(_report(tmp_path, _wrapped(_no_sampler(_log(name)), [], 137), "k.log"))
    # the same death as the shell's 137, the test it cut off named
    assert got[0] in ("killed", "oom_kill") and got[0] == want[0], (got, want)
    assert got[2] == want[2] and got[2] is not None, (got, want)


@pytest.mark.parametrize("line", [b"py311: exit 1 (2.30 seconds) /w/r> pytest -v pid=1234",
                                  b"make: *** [Makefile:12: test] Error 2",
                                  b"make: *** [Makefile:12: test] Error 4294967295",
                                  b"nox > Command pytest -v failed with exit code 1"])
def test_a_wrapper_that_saw_a_plain_failure_is_no_death(line, tmp_path):
    raw = _wrapped(_no_sampler(_log("fail_assertions")), [line], 1)
    doc = _report(tmp_path, raw)
    assert doc["verdict"]["kind"] == "failed" and doc.get("boundary") is None, doc["verdict"]


def test_exit_124_without_a_summary_is_timeouts(tmp_path):
    raw = _wrapped(_plain(_log("hang_timeout_thread")), [], 124)
    raw = b"".join(l for l in raw.splitlines(True) if b"Timeout" not in l and b"+++" not in l)
    doc = _report(tmp_path, raw)
    assert doc["verdict"]["kind"] == "hang" and doc["verdict"]["confidence"] < 0.8, doc["verdict"]
    # the negative: pytest finished (its summary), then the step returned 124
    doc = _report(tmp_path, _wrapped(_log("pass_plain"), [], 124), "fin.log")
    assert doc["verdict"]["kind"] in ("passed", "failed"), doc["verdict"]


@pytest.mark.parametrize("name,kind", [("runner_shutdown", "runner_shutdown"),
                                       ("cancelled_no_output", "cancelled")])
def test_the_pages_error_prefix(name, kind, tmp_path):
    raw = _log(name).replace(b"##[error]", b"Error: ")
    assert _answers(_report(tmp_path, raw)) == _want(name)
    assert _want(name)[0] == kind


def test_a_node_id_with_spaces_is_one_test(tmp_path):
    # plain pytest -v, killed in test_flat[a b-7]: the boundary is that id
    raw = _plain(_log("flat_sigkill_outside"))
    raw = re.sub(rb"test_flat\[(\d+)\]", rb"test_flat[a b-\1]", raw)
    doc = _report(tmp_path, raw)
    assert (doc.get("boundary") or {}).get("test") == "test_suite.py::test_flat[a b-12]", doc.get(
        "boundary")
    assert not [t for t in doc["tests"] if t["id"].endswith("[a")], "a phantom test"


@pytest.mark.parametrize("name", ["oom_sudden_after_flat", "oom_fixture_setup"])
def test_without_the_sampler_a_sudden_kill_is_not_killed_with_high_confidence(name, tmp_path):
    # the plugin's head read the OOM-kill counter before the tests: nothing
    # watched it at the end, so memory to spare then proves no outside kill
    doc = _report(tmp_path, _no_sampler(_log(name)))
    v = doc["verdict"]
    assert not (v["kind"] == "killed" and v["confidence"] >= 0.8), v


def test_plugin_only_xdist_culprit_is_the_test_that_held_the_memory(tmp_path):
    # the worker that grew 450 MiB survived (the kernel killed the other,
    # which held 150 MiB); without the sampler the plugin's records say when
    # the killed worker was last alive and what the grower peaked at
    doc = _report(tmp_path, _no_sampler(_log("xdist_oom_culprit_victim")))
    assert doc["verdict"]["kind"] == "oom_kill", doc["verdict"]
    assert (doc.get("culprit") or {}).get("id") == "test_culprit.py::test_grows", doc.get("culprit")


@pytest.mark.parametrize("name,test", [("sigabrt", "test_suite.py::test_aborts"),
                                       ("segfault_ctypes", "test_suite.py::test_crash"),
                                       ("hang_job_time_limit", "test_suite.py::test_hangs")])
def test_a_log_cut_at_its_start_names_the_test_a_gasp_or_dump_names(name, test, tmp_path):
    # GitHub's page shows a long log's last lines: the test's start record
    # is gone, its last gasp or dump (test=..., phase=...) is kept
    lines = _log(name).splitlines(True)
    for keep in (50, 100):
        tail = lines[-keep:]
        if any(b"] dump " in l or b"] gasp " in l for l in tail if test.encode() in l):
            break
    else:
        pytest.fail("no gasp or dump naming the test in the log's last lines")
    assert not any(b"phase=setup at=start" in l and test.encode() in l for l in tail)
    doc = _report(tmp_path, b"".join(tail))
    assert (doc.get("boundary") or {}).get("test") == test, (doc["verdict"], doc.get("boundary"))


def test_a_summary_followed_by_more_tests_is_not_the_runs(tmp_path):
    # two pytest runs in one step: the first passed, the second was killed;
    # the first one's counts are not the run's
    raw = (b"2026-12-02T10:00:01.0000000Z tests/t.py::test_a PASSED\n"
           b"2026-12-02T10:00:02.0000000Z ======= 1 passed in 0.10s =======\n"
           b"2026-12-02T10:00:03.0000000Z tests/t.py::test_b \n"
           b"2026-12-02T10:00:09.0000000Z Killed\n"
           b"2026-12-02T10:00:09.1000000Z ##[error]Process completed with exit code 137.\n")
    (tmp_path / "job.log").write_bytes(raw)
    p = run(["job.log"], cwd=str(tmp_path))
    check_text(p.stdout)
    assert b"pytest: no final summary (tests ran after one that said 1 passed" in p.stdout
    doc = _report(tmp_path, raw)
    assert doc["verdict"]["kind"] in ("killed", "oom_kill"), doc["verdict"]
    assert (doc.get("boundary") or {}).get("test") == "tests/t.py::test_b"
