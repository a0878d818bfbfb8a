# SPDX-License-Identifier: MIT
"""csrc/probe/darwin.c cannot be compiled here; check it against SDK stand-ins.

`make -C csrc darwin-syntax` runs the C compiler with -fsyntax-only and the
header stand-ins in tests/probe/darwin_stubs, so a change to probe.h that
darwin.c does not follow, or a typo in a field name, fails on Linux CI.
"""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_darwin_probe_compiles_against_sdk_stubs():
    proc = subprocess.run(
        ["make", "-C", os.path.join(ROOT, "csrc"), "darwin-syntax"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout.decode("ascii", "replace")
