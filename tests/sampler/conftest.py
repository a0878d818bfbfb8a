# SPDX-License-Identifier: MIT
"""Helpers for the resmon-sampler tests: the binary, running it, reading its log."""

import os
import selectors
import subprocess
import sys
import time

import pytest

from recordparse import parse_record


def sampler_path():
    try:
        from resmon._tools import tool_path
    except ImportError:  # the package is not importable: use the make build
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        return os.path.join(root, "build", "c", "resmon-sampler")
    return tool_path("resmon-sampler")


@pytest.fixture(scope="session")
def sampler():
    path = sampler_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"resmon-sampler is not built at {path}: run "
                    "`python setup.py build_ext --inplace` or `make -C csrc`")
    return path


def read_log(path):
    """Every record of a sampler log as (kind, fields); asserts each line is
    a complete record (the sampler writes nothing else)."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    for line in data.decode("ascii").splitlines():
        if not line:
            continue
        rec = parse_record(line)
        assert rec is not None, f"not a record: {line!r}"
        assert rec[1]["_complete"], f"incomplete record: {line!r}"
        out.append(rec)
    return out


def of_kind(recs, kind, **match):
    return [f for k, f in recs if k == kind and all(f.get(a) == str(b) for a, b in match.items())]


def one(recs, kind, **match):
    found = of_kind(recs, kind, **match)
    assert len(found) == 1, f"expected one {kind} {match}, got {found}"
    return found[0]


def py(code):
    """A command line running a Python snippet."""
    return [sys.executable, "-c", code]


def run(sampler, args, timeout=60, **kw):
    return subprocess.run([sampler] + list(args), capture_output=True, text=True,
                          timeout=timeout, **kw)


def records_so_far(path):
    """The complete records of a log a sampler is still writing (a line
    being written is left for the next look)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in data.decode("ascii").split("\n")[:-1]:
        rec = parse_record(line) if line else None
        if rec is not None and rec[1]["_complete"]:
            out.append(rec)
    return out


def wait_for(what, cond, timeout=60.0, proc=None):
    """Polls cond() until it returns something true and returns that; fails
    after timeout seconds, or at once when proc (a Popen) has ended."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the sampler ended (status {proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.05)


def wait_for_records(log, what, cond, timeout=60.0, proc=None):
    """Polls the log until cond(records) is true; returns the records."""
    def look():
        recs = records_so_far(log)
        return recs if cond(recs) else None
    return wait_for(what, look, timeout, proc)


def started_pid(log, proc, timeout=60.0):
    """The command's pid from the start event of a wrap-mode log."""
    recs = wait_for_records(log, "start event", lambda r: of_kind(r, "event", what="start"),
                            timeout, proc)
    return int(of_kind(recs, "event", what="start")[0]["pid"])


def read_line(proc, timeout=60.0):
    """One line of the sampler's stdout (the command's), without hanging."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            pytest.fail(f"no output from the command within {timeout} s")
    finally:
        sel.close()
    return proc.stdout.readline()
