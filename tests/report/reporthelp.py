# SPDX-License-Identifier: MIT
"""Helpers for resmon-report's tests: build the tool, run it, read its JSON."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "report", "data")
GOLDEN = os.path.join(ROOT, "tests", "report", "golden")
_built = {}


def report_bin():
    """resmon-report built from the current sources (make is incremental)."""
    if "bin" not in _built:
        subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "../build/c/resmon-report"],
                       check=True, capture_output=True)
        _built["bin"] = os.path.join(ROOT, "build", "c", "resmon-report")
    return _built["bin"]


def run(args, cwd=DATA, stdin=None, timeout=120):
    """Runs resmon-report; returns the CompletedProcess (bytes)."""
    return subprocess.run([report_bin()] + list(args), cwd=cwd, input=stdin,
                          capture_output=True, timeout=timeout)


def run_json(args, cwd=DATA, stdin=None):
    p = run(["--format", "json"] + list(args), cwd=cwd, stdin=stdin)
    assert p.returncode in (0, 1, 3), p.stderr.decode("ascii", "replace")
    return p.returncode, json.loads(p.stdout.decode("ascii"))


def check_text(out):
    """Text output is ASCII and at most 100 columns."""
    text = out.decode("ascii")
    for line in text.splitlines():
        assert len(line) <= 100, line
    return text


def pytest_job_log(cwd, *args):
    """Runs a real pytest session with the plugin on (--resmon) in cwd; its
    stdout and stderr are the job log, cwd/job.log. The suite's environment
    is the test's, without the settings that would change the session.
    Returns (pytest's exit code, the log's path)."""
    env = dict(os.environ)
    for k in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "RESMON", "RESMON_RECORDS"):
        env.pop(k, None)
    log = os.path.join(str(cwd), "job.log")
    with open(log, "wb") as out:
        p = subprocess.run([sys.executable, "-m", "pytest", "--resmon", "-p", "no:cacheprovider",
                            *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                           timeout=300)
    return p.returncode, log
