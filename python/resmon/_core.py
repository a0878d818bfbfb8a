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


def _why_no_core(exc):
    """The real reason the C core is missing, for the one import-time line."""
    try:  # setup.py leaves this file when it was asked not to build the core
        from ._purepython import REASON
    except ImportError:
        REASON = None
    if REASON:
        return (f"this install was built without it: {REASON}; resmon records nothing. "
                "To build the core, reinstall without RESMON_PURE_PYTHON "
                "(pip install --no-cache-dir --force-reinstall ...)")
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        built = [n for n in sorted(os.listdir(here)) if n.startswith("_resmon.")]
    except OSError:  # not a directory (a zip import): say it is missing
        built = []
    if built:
        return (f"{', '.join(built)} is in {here} but does not load "
                f"({type(exc).__name__}: {exc}); resmon records nothing. "
                "It may be built for another Python or platform: reinstall resmon")
    return (f"it is missing from {here} ({type(exc).__name__}: {exc}); resmon records "
            "nothing. resmon's own build fails rather than leave it out, so this "
            "install was not made by it: reinstall resmon from its sdist or a wheel")


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
    CORE_ERROR = _why_no_core(CORE_ERROR)
    say_once("core", "the C core resmon._resmon is not available: " + CORE_ERROR)


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
