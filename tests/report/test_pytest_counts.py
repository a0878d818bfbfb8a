# SPDX-License-Identifier: MIT
"""How a finished run ended, read from real pytest sessions at every
verbosity: pytest -q prints its summary line without the "=" rule, -qq
prints none, and -p no:terminal has no counts at all. The answer must never
be "passed" for a run whose tests failed, and counts that nothing gave must
stay unknown, not zero."""

import textwrap

import pytest

from reporthelp import pytest_job_log, run_json

SUITE = """
    import pytest

    def test_fails():
        assert 1 == 2

    def test_passes():
        pass

    @pytest.mark.skip(reason="skipped on purpose")
    def test_skipped():
        pass
"""

PASSING = """
    import pytest

    def test_passes():
        pass

    @pytest.mark.skip(reason="skipped on purpose")
    def test_skipped():
        pass
"""


def _job_log(tmp_path, body, *args):
    """A real pytest session of body (test_suite.py) with the plugin on."""
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(body))
    return pytest_job_log(tmp_path, *args, "test_suite.py")


@pytest.mark.parametrize("verbosity", [["-q"], ["-qq"], ["-p", "no:terminal"], []])
def test_failed_run_is_failed_at_every_verbosity(tmp_path, verbosity):
    code, log = _job_log(tmp_path, SUITE, *verbosity)
    assert code == 1
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "failed", rep["verdict"]
    assert rep["verdict"]["confidence"] >= 0.9
    if verbosity != ["-p", "no:terminal"]:
        assert rep["pytest"] == {"passed": 1, "failed": 1, "errors": 0, "skipped": 1}


@pytest.mark.parametrize("verbosity", [["-q"], ["-qq"], []])
def test_passing_run_with_skips(tmp_path, verbosity):
    code, log = _job_log(tmp_path, PASSING, *verbosity)
    assert code == 0
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "passed", rep["verdict"]
    # a skipped test is not called passed: the counts are pytest's
    assert rep["pytest"] == {"passed": 1, "failed": 0, "errors": 0, "skipped": 1}


def _session_lines(tmp_path, lines):
    path = tmp_path / "job.log"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


HEAD = ("[resmon/1] head ts=2026-01-05T10:00:00.000000Z pid=10 phase=session resmon=0.1.0 "
        "role=main rss=50000000 ;")
START = ("[resmon/1] test ts=2026-01-05T10:00:01.000000Z pid=10 test=t.py::test_a "
         "phase=setup at=start rss=50000000 ;")
END = ("[resmon/1] test ts=2026-01-05T10:00:02.000000Z pid=10 test=t.py::test_a "
       "phase=teardown at=end outcome=%s rss=50000000 ;")
SUMMARY = "[resmon/1] summary ts=2026-01-05T10:00:03.000000Z pid=10 phase=session tests=1 %s;"


def test_record_without_counts_says_unknown(tmp_path):
    # a summary record that carries no counts and no exit status says the
    # session ended, not how: no verdict of passed, no counts of zero
    log = _session_lines(tmp_path, [HEAD, START, END % "failed", SUMMARY % ""])
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "unknown", rep["verdict"]
    assert rep["pytest"] is None


def test_record_without_counts_takes_the_exit_code(tmp_path):
    log = _session_lines(tmp_path, [HEAD, START, END % "passed", SUMMARY % "",
                                    "##[error]Process completed with exit code 1."])
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "failed", rep["verdict"]
    assert rep["verdict"]["confidence"] < 0.95


def test_record_exit_status_says_failed_when_counts_are_zero(tmp_path):
    # exit status 1 with no failed test counted (a failure in a session
    # fixture's teardown, --strict-markers...): not a passed run
    log = _session_lines(tmp_path, [HEAD, START, END % "passed",
                                    SUMMARY % "passed=1 failed=0 errors=0 skipped=0 exitstatus=1 "])
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "failed", rep["verdict"]


@pytest.mark.parametrize("line", [
    "3 passed in 1.0s and then some",       # more text after the duration
    "Summary: 3 passed in 2.0s",            # text before the counts
    "3 apples, 2 passed in 1.0s",           # a word that is not pytest's
    "3 passed, 1 failed in 1.0 minutes",    # not pytest's duration
    "12 passed",                            # no duration
])
def test_summary_shaped_output_is_not_a_summary(tmp_path, line):
    # program output that looks like -q's summary line is not taken for it
    log = _session_lines(tmp_path, [HEAD, START, line, END % "passed"])
    _, rep = run_json([log])
    assert rep["pytest"] is None, line
    assert rep["verdict"]["kind"] != "passed", (line, rep["verdict"])


def test_bare_summary_line_with_colour_and_duration(tmp_path):
    line = ("\x1b[31m\x1b[1m2 failed\x1b[0m, \x1b[32m5 passed\x1b[0m, \x1b[33m1 skipped\x1b[0m"
            "\x1b[31m in 61.02s (0:01:01)\x1b[0m")
    log = _session_lines(tmp_path, [HEAD, START, END % "failed", line])
    _, rep = run_json([log])
    assert rep["pytest"] == {"passed": 5, "failed": 2, "errors": 0, "skipped": 1}
    assert rep["verdict"]["kind"] == "failed"
