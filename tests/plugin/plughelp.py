# SPDX-License-Identifier: MIT
"""Helpers for the plugin's tests: real pytest sessions in subprocesses."""

import os

import recordparse

# Variables that would change what the inner session does.
_SCRUB = ("RESMON", "IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG", "RESMON_RECORDS",
          "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT",
          "PYTEST_XDIST_TESTRUNUID", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "PYTEST_PLUGINS",
          "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_CURRENT_TEST")


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out_bytes = proc.stdout
        self.err_bytes = proc.stderr
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def records(self, kind=None, where="err"):
        return recordparse.records(getattr(self, where), kind)

    def __repr__(self):
        return "<rc=%s>\n--- stdout\n%s\n--- stderr\n%s" % (self.rc, self.out[-6000:],
                                                          self.err[-6000:])


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(extra)
    return env


def find_records(result, test=None, kind="test", where="err"):
    """Records of a kind (optionally of one test), as field dicts."""
    text = result if isinstance(result, str) else getattr(result, where)
    out = []
    current = {}  # pid -> the test of its last record that named one
    for k, f in recordparse.records(text, kind):
        # the job log's short call-start line names no test: it is the test
        # its process started last (as resmon-report reads it)
        if "test" in f:
            current[f.get("pid")] = f["test"]
        elif k == "test" and f.get("pid") in current:
            f = dict(f, test=current[f["pid"]], _test_from_pid=True)
        if test is None or f.get("test") == test:
            out.append(f)
    return out

