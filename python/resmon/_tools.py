# SPDX-License-Identifier: MIT
"""Runs resmon's packaged C tools: tool_path(), _exec() (python -m resmon)
and the reasons a tool is missing. The installed console scripts start in
_resmon_launch (outside this package, so a launch imports nothing of it)."""

import os
import sys

_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bin")


def tool_path(name):
    """Path of a packaged C tool (``resmon-sampler``, ``resmon-report``).

    ``RESMON_BIN_DIR`` overrides the directory (a development build).
    """
    base = os.environ.get("RESMON_BIN_DIR") or _BIN
    return os.path.join(base, name)


def _why_missing():
    """Why a tool is not there (setup.py builds both on Linux or fails)."""
    if os.environ.get("RESMON_BIN_DIR"):
        return "RESMON_BIN_DIR points to a directory without it"
    try:
        from ._purepython import REASON
        return "this install was built without resmon's C core: " + REASON
    except ImportError:
        pass
    if not sys.platform.startswith("linux"):
        return f"the tools are built only on Linux (this is {sys.platform})"
    return ("this install lacks it, though resmon's own build fails rather than "
            "leave it out: reinstall resmon")


def _exec(name, argv):
    path = tool_path(name)
    if not os.access(path, os.X_OK):
        sys.stderr.write(f"resmon: {name} is not installed at {path}: {_why_missing()}.\n")
        return 127
    os.execv(path, [name] + list(argv))
    return 127  # not reached


def sampler_main():
    sys.exit(_exec("resmon-sampler", sys.argv[1:]))


def report_main():
    sys.exit(_exec("resmon-report", sys.argv[1:]))
