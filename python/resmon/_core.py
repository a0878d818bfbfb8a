# SPDX-License-Identifier: MIT
"""Loads the C core once and says so, once, if it cannot."""

import os
import sys

try:
    from . import _resmon as core
    CORE_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    core = None
    CORE_ERROR = exc

_said = set()


def say_once(key, message):
    """Writes one 'resmon: ...' line to the original stderr, once per key.

    Never raises and never uses the warnings module: under ``-W error`` a
    warning would become an exception inside the user's test.
    """
    if key in _said:
        return
    _said.add(key)
    line = ("resmon: " + message + "\n").encode("ascii", "backslashreplace")
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ else 2
    except (AttributeError, ValueError, OSError):
        fd = 2
    try:
        os.write(fd, line)
    except OSError:
        pass


if core is None:
    say_once("core", f"the C core resmon._resmon is not available ({CORE_ERROR}); "
             "resmon records nothing. Reinstall with a C compiler and the Python headers.")


def require_core():
    if core is None:
        raise RuntimeError(f"resmon's C core is not available: {CORE_ERROR}")
    return core


def check_write_error():
    """Reports the C writer's last failure once per target (never raises)."""
    if core is None:
        return
    err = core.write_error()
    if err is not None:
        target, errno_ = err
        what = "the job log (saved stderr)" if target == "out" else "the record file"
        say_once("write:" + target, f"cannot write to {what}: {os.strerror(errno_)} "
                 f"(errno {errno_}); later failures are not reported")
