# SPDX-License-Identifier: MIT
"""Runs the C side of the project as part of the one test command: the C
unit tests (plain and under ASan+UBSan), the -Werror gate of the extension's
sources, and clang-format."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")


def make(*args, timeout=900):
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(["make", "-C", CSRC, "--no-print-directory", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"make {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_c_unit_tests():
    out = make("-j2", "check")
    assert "all C tests passed" in out


def test_c_unit_tests_under_asan_ubsan():
    out = make("-j2", "SAN=1", "check")
    assert "all C tests passed" in out


def test_extension_sources_build_with_werror():
    assert "compile cleanly" in make("ext-werror")


@pytest.mark.skipif(shutil.which("clang-format") is None,
                    reason="clang-format is not installed (.ci/run installs it)")
def test_clang_format():
    make("format-check")
