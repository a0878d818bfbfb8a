# SPDX-License-Identifier: MIT
"""The run_pytest fixture: a real pytest session in a subprocess."""

import subprocess
import sys
import textwrap

import pytest

from plughelp import Result, clean_env


@pytest.fixture
def run_pytest(tmp_path):
    """run_pytest(files={name: source}, args=[...], env={...}, python=...) ->
    Result of ``python -m pytest`` run in tmp_path (a fresh rootdir)."""

    def run(files, args=(), env=None, python=sys.executable, timeout=240, ini="[pytest]\n"):
        for name, source in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source), encoding="utf-8")
        if ini is not None and "pytest.ini" not in files:
            (tmp_path / "pytest.ini").write_text(ini)
        cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:benchmark"]
        cmd += list(args)
        proc = subprocess.run(cmd, cwd=str(tmp_path), env=clean_env(**(env or {})),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return Result(proc)

    return run
