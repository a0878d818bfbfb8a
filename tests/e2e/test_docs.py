# SPDX-License-Identifier: MIT
"""The user-facing docs say what the tools really accept: every option in the
man pages and the example workflow exists, and every option of --help is in
the man page."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from e2ehelp import tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = ["resmon-sampler", "resmon-report"]
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _help(name):
    p = subprocess.run([tool(name), "--help"], capture_output=True, timeout=30)
    return p.stdout.decode("ascii") + p.stderr.decode("ascii")


def _man(name):
    with open(os.path.join(ROOT, "docs", "man", name + ".1")) as f:
        return f.read().replace("\\-", "-").replace("\\fB", "").replace("\\fR", "")


@pytest.mark.parametrize("name", TOOLS)
def test_man_page_and_help_list_the_same_options(name):
    in_help = set(OPTION.findall(_help(name)))
    man = _man(name)
    options_section = man[man.index(".SH OPTIONS"):man.index(".SH EXIT STATUS")]
    in_man = set(OPTION.findall(options_section))
    assert in_help - {"--"} <= in_man, in_help - in_man
    assert in_man <= in_help, in_man - in_help


@pytest.mark.parametrize("name", TOOLS)
def test_man_page_renders_without_warnings(name):
    if shutil.which("man") is None:
        pytest.skip("man is not installed (Debian: apt-get install man-db)")
    p = subprocess.run(["man", "--warnings", "-l", os.path.join(ROOT, "docs", "man", name + ".1")],
                       capture_output=True, env=dict(os.environ, MANWIDTH="80"), timeout=60)
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    text = p.stdout.decode("utf-8", "replace")
    assert "EXIT STATUS" in text and "SYNOPSIS" in text


def test_workflow_commands_use_real_options():
    with open(os.path.join(ROOT, "docs", "examples", "github-actions.yml")) as f:
        text = f.read()
    # join continued shell lines
    text = re.sub(r"\\\n\s*", " ", text)
    plugin_help = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True,
                                 timeout=120).stdout.decode()
    helps = {name: _help(name) for name in TOOLS}
    seen = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for name in TOOLS:
            if line.strip().startswith(name):
                seen.add(name)
                own = line.split(" -- ", 1)[0]
                for opt in OPTION.findall(own):
                    assert opt in helps[name], (name, opt)
        if "pytest" in line and "--resmon" in line:
            for opt in OPTION.findall(line.split("pytest", 1)[1]):
                assert opt in plugin_help, opt
    assert seen == set(TOOLS)
