# SPDX-License-Identifier: MIT
"""A small job log: two short lines per test, each at a line start, at most
200 bytes per test on average; the job log alone still names the boundary,
the phase and the RSS of a SIGKILLed test (issue 12, item 5)."""

import re
import subprocess

import recordparse
from plughelp import find_records

MANY = {"test_many.py": """
    import pytest

    @pytest.mark.parametrize("i", range(300))
    def test_trivial(i):
        pass
"""}

KILLED = {"test_kill.py": """
    import os
    import signal

    import pytest

    @pytest.mark.parametrize("i", range(5))
    def test_before(i):
        pass

    @pytest.fixture
    def fx():
        yield 1

    def test_killed(fx):
        os.kill(os.getpid(), signal.SIGKILL)

    def test_never():
        pass
"""}


def test_two_short_lines_per_test_under_200_bytes(run_pytest):
    res = run_pytest(MANY, ["-q", "--resmon"])
    assert res.rc == 0, res
    err = res.err_bytes.decode("ascii")
    recs = recordparse.records(err)
    tests = [f for k, f in recs if k == "test"]
    assert len(tests) == 2 * 300
    # every record starts a line
    for line in err.splitlines():
        assert "[resmon/1]" not in line or line.startswith("[resmon/1]"), line
    # short lines: no full sample
    assert not any("mem_avail" in f or "hwm" in f for f in tests)
    per_test = sum(len(line) + 2 for line in err.splitlines()
                   if line.startswith("[resmon/1] test ")) / 300.0
    assert per_test <= 200, per_test


def test_job_log_alone_names_the_killed_test_and_phase(run_pytest, tmp_path):
    res = run_pytest(KILLED, ["-q", "--resmon"])
    assert res.rc == -9, res
    recs = find_records(res, test="test_kill.py::test_killed")
    assert [(r["phase"], r["at"]) for r in recs] == [("setup", "start"), ("call", "start")]
    assert int(recs[0]["rss"]) > 0
    from resmon import _tools
    log = tmp_path / "job.log"
    log.write_bytes(res.out_bytes + res.err_bytes)
    # the installed package's tool, built with the extension
    proc = subprocess.run([_tools.tool_path("resmon-report"), str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)
    text = proc.stdout.decode("ascii", "replace")
    assert re.search(r"last test started, not finished: test_kill.py::test_killed\n\s+"
                     r"phase call, pid \d+", text), text
    assert re.search(r"then rss [\d.]+ MiB", text), text
