# SPDX-License-Identifier: MIT
"""Crash boundaries: thread dumps, last-gasp records, the hang watchdog.

The mechanism is in C (csrc/ext/crash*.c, dump.c, watchdog.c); this module
is the policy and the Python-side dump. See docs/crash.md.
"""

import atexit
import os
import sys
import threading

from ._core import core, require_core, say_once

#: Python threads shown by dump_threads(); the rest are counted.
MAX_PYTHON_THREADS = 1000
#: Frames shown per thread, most recent first (faulthandler shows 100 too).
MAX_FRAMES = 100
#: Longest line of a Python dump: a huge function name cannot flood the log.
MAX_LINE = 500

_state = {"installed": False, "atexit": False}


def install_crash_handlers(*, fatal=True, terminate=True, usr1=True, thread_threshold=256):
    """Installs resmon's signal handlers (idempotent).

    ``fatal``: SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT get a last-gasp
    record, then CPython's faulthandler prints the Python stacks (it is
    enabled here if nobody enabled it) and the process dies by the same
    signal. ``terminate``: SIGTERM and SIGINT get a last-gasp record and a
    full thread dump, then the previous disposition acts (the exit status is
    unchanged). ``usr1``: SIGUSR1 dumps and the process continues.
    ``thread_threshold``: a sample with more native threads than this writes
    ``event what=threads`` and a dump, once (0: off).

    Everything goes to the marker fd given to :func:`resmon.set_output_fd`
    (a duplicate is kept, taken now): call that first. Install after
    faulthandler is enabled (pytest does it in ``pytest_configure``), so
    resmon's handlers run first and chain to faulthandler's. Never raises
    because of the OS: a failure is reported once on stderr.
    """
    if core is None:
        return
    if thread_threshold is None:
        thread_threshold = 0
    if int(thread_threshold) < 0:
        raise ValueError(f"thread_threshold must be >= 0, not {thread_threshold!r}")
    try:
        core._crash_install(fatal=bool(fatal), terminate=bool(terminate), usr1=bool(usr1),
                            thread_threshold=int(thread_threshold))
    except (OSError, RuntimeError) as exc:
        say_once("crash-install", f"cannot install the crash handlers: {exc}")
        return
    _state["installed"] = True
    _cancel_at_exit()


def uninstall_crash_handlers():
    """Puts back the handlers that install_crash_handlers replaced, where
    resmon's are still in place (a handler installed over them is kept).
    Call it before faulthandler is disabled (pytest_unconfigure)."""
    if core is None or not _state["installed"]:
        return
    _state["installed"] = False
    core._crash_uninstall()


def _cancel_at_exit():
    # The watchdog thread must not dump while the interpreter is torn down.
    if not _state["atexit"]:
        _state["atexit"] = True
        atexit.register(_at_exit)


def _at_exit():
    if core is not None:
        core.dump_after(None)


def dump_after(seconds):
    """(Re)arms the hang watchdog: if not re-armed or cancelled within
    ``seconds``, a C thread writes ``event what=hang``, the resources and a
    full thread dump, and again every ``seconds`` until re-armed or
    cancelled. Nothing is killed. ``None`` or ``0`` cancels."""
    c = require_core()
    c.dump_after(seconds if seconds else None)
    if seconds:
        _cancel_at_exit()


def record_memory_error(test_id, phase):
    """Writes ``event what=memory_error`` with RSS, peak and available
    memory now, for a test that failed with MemoryError. Never raises."""
    if core is None:
        return
    try:
        saved = core.get_context()
        if test_id is not None and (saved[0], saved[1]) != (test_id, phase):
            core.set_context(test_id, phase)
        else:
            saved = None
        try:
            core.emit("event", fields=[("what", "memory_error")])
        finally:
            if saved is not None:
                core.set_context(saved[0] or None, saved[1] or None)
    except MemoryError:
        pass
    except Exception as exc:  # noqa: BLE001 - contract: never break the test
        say_once("memory-error", f"cannot write the memory_error record: {exc!r}")


def _target(file):
    """(fd, fileobj or None) for dump_threads' file argument."""
    if file is None:
        info = require_core().probe_info()
        fd = info["out_fd"]
        return (fd if fd >= 0 else 2), None
    if isinstance(file, int):
        return file, None
    file.flush()
    return file.fileno(), file


def _ascii(text):
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _format_python_threads():
    """Every Python thread's stack, most recent call first, bounded."""
    frames = sys._current_frames()
    by_ident = {t.ident: t for t in threading.enumerate()}
    current = threading.get_ident()
    idents = sorted(frames, key=lambda i: (i != current, i))
    out = [f"Python threads: {len(idents)} (most recent call first)\n"]
    for ident in idents[:MAX_PYTHON_THREADS]:
        thread = by_ident.get(ident)
        head = "Current thread" if ident == current else "Thread"
        tid = getattr(thread, "native_id", None)
        name = thread.name if thread is not None else "?"
        out.append(_ascii(f"{head} 0x{ident:016x} (tid {tid if tid else '?'}, {name!r}):\n")
                   [:MAX_LINE])
        frame, depth = frames[ident], 0
        while ident == current and frame is not None and frame.f_code.co_filename == __file__:
            frame = frame.f_back  # resmon's own frames say nothing
        while frame is not None and depth < MAX_FRAMES:
            code = frame.f_code
            line = f"  File \"{code.co_filename}\", line {frame.f_lineno} in {code.co_name}"
            out.append(_ascii(line)[:MAX_LINE] + "\n")
            frame, depth = frame.f_back, depth + 1
        if frame is not None:
            out.append("  ...\n")
        out.append("\n")
    if len(idents) > MAX_PYTHON_THREADS:
        out.append(f"... {len(idents) - MAX_PYTHON_THREADS} more Python threads\n")
    del frames
    return "".join(out)


def _write(fd, text):
    data = text.encode("ascii", "backslashreplace")
    while data:
        n = os.write(fd, data)
        data = data[n:]


def dump_threads(file=None, native=True):
    """Writes a thread dump: a ``dump at=begin`` record with the resources,
    every Python thread's stack (the current one marked, at most
    MAX_FRAMES frames each), then the native thread inventory (Linux: every
    task's tid, name, state and CPU time; elsewhere a count), then
    ``dump at=end``.

    ``file``: None for the job log (the marker fd), an fd, or a file
    object with fileno(). Never raises because of a failed write.
    """
    c = require_core()
    fd, fobj = _target(file)
    records = file is None
    try:
        c._dump_record(fd, "begin", "request", records)
        _write(fd, _format_python_threads())
        if native:
            c._dump_native(fd)
        c._dump_record(fd, "end", "request", records)
    except OSError as exc:
        say_once("dump", f"cannot write a thread dump: {exc}")
    if fobj is not None:
        try:
            fobj.flush()
        except (OSError, ValueError):
            pass
