# SPDX-License-Identifier: MIT
"""Job logs as real pytest sessions print them, with and without the plugin,
read by resmon-report. Each case was found on a real suite (networkx, numpy):

- a FAILED line that only mentions MemoryError ("DID NOT RAISE MemoryError")
  is an ordinary failure, not a memory error;
- faulthandler's "Fatal Python error: ..." glued to the line pytest left
  open (-v prints the id, -q progress letters) is still the crash;
- xdist's "[gwN] [ NN%] PASSED id" (the counter padded with spaces) gives
  the test's outcome when the job log is all that survived;
- the trend's "one test carries the rise" line fits 100 columns.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from reporthelp import check_text, run, run_json

ENV_DROP = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "RESMON", "RESMON_RECORDS",
            "PYTEST_CURRENT_TEST")


def write_log(tmp_path, lines):
    """lines as tmp_path/job.log; returns its path."""
    path = tmp_path / "job.log"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def session(tmp_path, body, *args, columns=None, plugin=False):
    """A real pytest session of body in tmp_path; stdout+stderr is the job
    log. Returns (exit code, the log's path)."""
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    if columns:
        env["COLUMNS"] = str(columns)
    log = tmp_path / "job.log"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, "test_suite.py"]
    if plugin:
        cmd.insert(3, "--resmon")
    with open(log, "wb") as out:
        p = subprocess.run(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                           timeout=300)
    return p.returncode, str(log)


MENTIONS_MEMORY_ERROR = """
    import pytest

    def test_did_not_raise():
        with pytest.raises(MemoryError):
            pass

    def test_message_mentions_it():
        assert "no MemoryError" in "ok"

    def test_passes():
        pass
"""

RAISES_MEMORY_ERROR = """
    def test_passes():
        pass

    def test_out_of_memory():
        raise MemoryError("cannot allocate 128 TiB")
"""


@pytest.mark.parametrize("plugin", [False, True])
def test_failed_line_that_mentions_memory_error_is_a_failure(tmp_path, plugin):
    # wide columns: pytest prints the short summary's messages whole
    code, log = session(tmp_path, MENTIONS_MEMORY_ERROR, "-rA", columns=250, plugin=plugin)
    assert code == 1
    text = open(log).read()
    assert "DID NOT RAISE" in text and "MemoryError" in text  # the trap is in the log
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "failed", rep["verdict"]
    assert not any(e["kind"] == "memory_error" for e in rep["verdict"]["evidence"])


@pytest.mark.parametrize("plugin", [False, True])
def test_test_that_raised_memory_error_is_named(tmp_path, plugin):
    code, log = session(tmp_path, RAISES_MEMORY_ERROR, "-rA", columns=250, plugin=plugin)
    assert code == 1
    _, rep = run_json([log])
    v = rep["verdict"]
    assert v["kind"] == "memory_error", v
    # the proof is cited, and it is about the test that raised it
    cited = [e for e in v["evidence"] if e["kind"] == "memory_error"]
    assert cited and cited[0]["role"] == "proves"
    assert rep["boundary"]["test"] == "test_suite.py::test_out_of_memory"


SEGFAULT = """
    import ctypes

    def test_before():
        pass

    def test_crash_here():
        ctypes.string_at(0)

    def test_after():
        pass
"""


@pytest.mark.parametrize("verbosity", ["-v", "-q"])
def test_faulthandler_line_glued_to_pytest_line(tmp_path, verbosity):
    code, log = session(tmp_path, SEGFAULT, verbosity)
    assert code == -11 or code == 139 or code < 0, code
    text = open(log).read()
    glued = [ln for ln in text.splitlines()
             if "Fatal Python error: Segmentation fault" in ln]
    assert glued and not glued[0].startswith("Fatal"), glued  # what the case is about
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "segfault", rep["verdict"]
    assert rep["verdict"]["confidence"] >= 0.9
    if verbosity == "-v":
        assert rep["boundary"]["test"] == "test_suite.py::test_crash_here"


def test_quoted_fatal_error_mid_line_is_not_a_crash(tmp_path):
    # the same words inside other text (a message, a test that prints them)
    # do not make a crash: only pytest's open line may precede them
    lines = [
        "test_suite.py::test_a PASSED",
        "log: Fatal Python error: Segmentation fault",
        "test_suite.py::test_b prints Fatal Python error: Segmentation fault",
        "==== 2 passed in 0.10s ====",
    ]
    path = write_log(tmp_path, lines)
    _, rep = run_json([path])
    assert rep["verdict"]["kind"] == "passed", rep["verdict"]


XDIST_SUITE = """
    import pytest

    @pytest.mark.parametrize("i", range(40))
    def test_many(i):
        pass

    def test_fails():
        assert False
"""


def test_xdist_outcomes_from_the_job_log_alone(tmp_path):
    pytest.importorskip("xdist")
    code, log = session(tmp_path, XDIST_SUITE, "-v", "-n", "2", plugin=True)
    assert code == 1
    text = open(log).read()
    assert "[gw0] [  " in text or "[gw1] [  " in text  # padded counters
    _, rep = run_json(["-n", "1000", log])
    outcomes = {t["id"]: t["outcome"] for t in rep["tests"]}
    assert len(outcomes) == 41
    assert outcomes["test_suite.py::test_fails"] == "failed"
    assert sum(1 for o in outcomes.values() if o == "passed") == 40, outcomes
    assert all(t["finished"] for t in rep["tests"])


def test_xdist_line_parsing_without_records(tmp_path):
    # the text alone: every counter width, a cut line ("[gw1] [ 79%] " then
    # "PASSED id" on the next), and lines that only look alike
    lines = [
        "[gw0] [  5%] PASSED tests/test_a.py::test_one ",
        "[gw1] [ 50%] FAILED tests/test_a.py::test_two ",
        "[gw0] [100%] SKIPPED tests/test_a.py::test_three ",
        "[gw1] [ 79%] ",
        "PASSED tests/test_a.py::test_four ",
        "[gw0] PASSED tests/test_a.py::test_five",
        "[gw1] [ 60%] PASSED not an id",
        "PASSED tests but no id",
    ]
    path = write_log(tmp_path, lines)
    _, rep = run_json(["-n", "100", path])
    got = {t["id"]: t["outcome"] for t in rep["tests"]}
    assert got == {"tests/test_a.py::test_one": "passed", "tests/test_a.py::test_two": "failed",
                   "tests/test_a.py::test_three": "skipped",
                   "tests/test_a.py::test_four": "passed",
                   "tests/test_a.py::test_five": "passed"}, got


def test_single_test_trend_line_fits_100_columns(tmp_path):
    # one long-named test carries the whole rise: the line names its file
    # and test, dropping directories, within 100 columns
    long_id = ("venv/lib/python3.11/site-packages/networkx/algorithms/approximation/tests/"
               "test_density.py::test_fista_big_dataset")
    lines = ["[resmon/1] head ts=2026-01-05T10:00:00.000000Z pid=10 phase=session "
             "resmon=0.1.0 role=main rss=50000000 ;"]
    for i in range(30):
        tid = long_id if i == 15 else "tests/test_x.py::test_%d" % i
        before = 50_000_000 + (400_000_000 if i > 15 else 0)
        after = 50_000_000 + (400_000_000 if i >= 15 else 0)
        lines.append("[resmon/1] test ts=2026-01-05T10:00:%02d.000000Z pid=10 test=\"%s\" "
                     "phase=setup at=start rss=%d ;" % (i + 1, tid, before))
        lines.append("[resmon/1] test ts=2026-01-05T10:00:%02d.500000Z pid=10 test=\"%s\" "
                     "phase=teardown at=end outcome=passed rss=%d peak=%d ;"
                     % (i + 1, tid, after, after))
    path = write_log(tmp_path, lines)
    text = check_text(run([path]).stdout)
    carried = [ln for ln in text.splitlines() if "one test carries" in ln]
    assert carried == ["  one test carries 100% of the rise, not a leak: "
                       ".../test_density.py::test_fista_big_dataset"], text


WIN_DUMP = ["", "Current thread 0x00001d4c (most recent call first):",
            '  File "C:\\a\\tests\\test_x.py", line 9 in test_crash',
            '  File "C:\\a\\site-packages\\_pytest\\python.py", line 157 in pytest_pyfunc_call']


@pytest.mark.parametrize("first", [
    "Windows fatal exception: access violation",
    "tests/test_x.py::test_crash Windows fatal exception: access violation",
    "..Windows fatal exception: stack overflow",
])
def test_windows_crash_is_a_segfault(tmp_path, first):
    # faulthandler on Windows: the exception's name, then the same dump
    lines = ["tests/test_x.py::test_a PASSED", first, *WIN_DUMP,
             "##[error]Process completed with exit code 1."]
    path = write_log(tmp_path, lines)
    _, rep = run_json([path])
    assert rep["verdict"]["kind"] == "segfault", rep["verdict"]
    assert rep["verdict"]["confidence"] >= 0.9
    text = check_text(run([path]).stdout)
    assert "crashed in: File" in text and "test_crash" in text


def test_windows_exception_the_run_survived_is_no_crash(tmp_path):
    # a COM error or C++ exception shows as "code 0x...": often handled, and
    # here the run went on and passed; the dump is shown, not called a crash
    lines = ["tests/test_x.py::test_a PASSED",
             "Windows fatal exception: code 0x8001010d", *WIN_DUMP,
             "tests/test_x.py::test_b PASSED",
             "log: Windows fatal exception: access violation in a message",
             "===== 2 passed in 1.00s ====="]
    path = write_log(tmp_path, lines)
    _, rep = run_json([path])
    assert rep["verdict"]["kind"] == "passed", rep["verdict"]
    text = check_text(run([path]).stdout)
    assert "dumped in: File" in text and "crashed in" not in text


@pytest.mark.parametrize("code,kind,signal", [
    ("-1073741819", "segfault", 11),  # 0xC0000005, an access violation, as pwsh prints it
    ("3221225477", "segfault", 11),   # the same status, unsigned
    ("-1073741571", "segfault", 11),  # 0xC00000FD, a stack overflow
    ("-1073740791", "signal", 6),     # 0xC0000409, fail fast (abort)
    ("1", "failed", None),            # an ordinary failure exit: no signal
])
def test_windows_exit_status(tmp_path, code, kind, signal):
    # a Windows job killed by a crash without faulthandler's lines: the
    # runner's exit code alone (medium confidence at most, as 139 alone)
    path = write_log(tmp_path, ["tests/test_x.py::test_a PASSED", "tests/test_x.py::test_b ",
                                "##[error]Process completed with exit code %s." % code])
    _, rep = run_json([path])
    v = rep["verdict"]
    assert (v["kind"], v["signal"]) == (kind, signal), v
    assert v["confidence"] < 0.8
    assert v["exit_code"] == (int(code) - (1 << 32) if int(code) >= 1 << 31 else int(code))


SLOW_AND_FAILING = """
    import time

    def test_slow_but_passes():
        time.sleep(2.5)

    def test_unrelated_failure():
        assert 1 == 2
"""

TIMES_OUT = """
    import time

    def test_passes():
        pass

    def test_hangs():
        time.sleep(60)
"""


def test_timeout_failure_is_a_hang(tmp_path):
    # pytest-timeout's signal method (its default on Linux) fails the test
    # with "Failed: Timeout" and the run goes on to its summary
    pytest.importorskip("pytest_timeout")
    code, log = session(tmp_path, TIMES_OUT, "-v", "-p", "timeout", "--timeout", "2",
                        "--timeout-method", "signal", plugin=True)
    assert code == 1
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "hang", rep["verdict"]
    proves = [e for e in rep["verdict"]["evidence"] if e["kind"] == "hang"]
    assert proves and "Timeout" in proves[0]["text"]


def test_slow_test_dump_is_no_hang_when_another_test_failed(tmp_path):
    # pytest's faulthandler_timeout dumps the stacks of a slow test, which
    # then passes; another test fails: a failure, not a hang
    code, log = session(tmp_path, SLOW_AND_FAILING, "-v", "-o", "faulthandler_timeout=1",
                        plugin=True)
    assert code == 1
    assert "Timeout (0:00:01)!" in open(log).read()  # the dump is in the log
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "failed", rep["verdict"]


INTERRUPTED = """
    import os, signal

    def test_a():
        pass

    def test_interrupted():
        os.kill(os.getpid(), signal.SIGINT)

    def test_after():
        pass
"""


def test_sigint_before_the_summary_is_an_interrupted_run(tmp_path):
    # pytest prints a summary of the tests run so far ("1 passed") after a
    # KeyboardInterrupt: not a passed run. Without pytest's banner too (its
    # handler can fail before printing it), the plugin's last gasp tells.
    code, log = session(tmp_path, INTERRUPTED, "-v", plugin=True)
    assert code == 2
    text = open(log).read()
    assert "KeyboardInterrupt" in text and "[resmon/1] gasp " in text
    _, rep = run_json([log])
    assert rep["verdict"]["kind"] == "cancelled", rep["verdict"]
    (tmp_path / "no_banner").mkdir()
    no_banner = write_log(tmp_path / "no_banner",
                          [ln for ln in text.splitlines() if "!!!!!!" not in ln])
    _, rep = run_json([no_banner])
    assert rep["verdict"]["kind"] == "cancelled", rep["verdict"]
