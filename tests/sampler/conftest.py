# SPDX-License-Identifier: MIT
"""Helpers for the resmon-sampler tests: the binary, running it, reading its log."""

import os
import subprocess
import sys

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
