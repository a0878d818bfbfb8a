# SPDX-License-Identifier: MIT
"""The installed console scripts start the C tools without importing resmon."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYDIR = os.path.join(ROOT, "python")
BIN = os.path.join(PYDIR, "resmon", "_bin")

# what pip writes for a [project.scripts] entry (see .venv/bin/resmon-report)
SCRIPT = """import sys
from _resmon_launch import {func}
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit({func}())
"""


def _script(tmp_path, func):
    path = tmp_path / func
    path.write_text(SCRIPT.format(func=func))
    return str(path)


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESMON")}
    env["PYTHONPATH"] = PYDIR
    env.update(extra)
    return env


def test_pyproject_scripts_use_the_launcher():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    scripts = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^resmon-report = "_resmon_launch:report_main"$', scripts, re.M), scripts
    assert re.search(r'^resmon-sampler = "_resmon_launch:sampler_main"$', scripts, re.M), scripts
    assert re.search(r'^py-modules = \["_resmon_launch"\]$', text, re.M)


@pytest.mark.skipif(not os.access(os.path.join(BIN, "resmon-report"), os.X_OK),
                    reason="the tools are not built here")
def test_report_script_execs_the_binary_without_importing_resmon(tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", _script(tmp_path, "report_main"),
                           "--version"], capture_output=True, text=True, env=_env(),
                          timeout=60)
    assert proc.returncode == 0, proc
    assert proc.stdout.startswith("resmon-report "), proc.stdout  # the C tool answered
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")]
    assert "_resmon_launch" in imported, proc.stderr
    assert not [m for m in imported if m == "resmon" or m.startswith("resmon.")], imported


def test_missing_tool_says_why_with_127(tmp_path):
    proc = subprocess.run([sys.executable, _script(tmp_path, "sampler_main"), "--help"],
                          capture_output=True, text=True, timeout=60,
                          env=_env(RESMON_BIN_DIR=str(tmp_path / "nowhere")))
    assert proc.returncode == 127, proc
    assert "resmon-sampler is not installed at" in proc.stderr, proc.stderr
    assert "RESMON_BIN_DIR points to a directory without it" in proc.stderr, proc.stderr
