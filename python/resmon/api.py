# SPDX-License-Identifier: MIT
"""resmon's public Python API: samples, marker lines, and the switches."""

import os
import re
import socket
import sys

from ._core import check_write_error, core, require_core, say_once

#: Environment switches that turn resmon's markers on (any of them, set to a
#: true value). The first two are the names hand-written helpers used.
ENV_SWITCHES = ("IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG", "RESMON")

#: Environment variable naming a record file every process appends to.
ENV_RECORDS = "RESMON_RECORDS"

#: CI variables whose values identify a run, in the order they are tried.
RUN_ID_VARS = ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_BUILDID", "CIRCLE_WORKFLOW_ID",
               "BUILD_NUMBER")

# Keys resmon itself writes; metadata using them is renamed meta_<key>.
_RESERVED = frozenset(
    "ts mono host pid worker run test phase label prefix rss hwm vms anon file shmem swap thr "
    "pythr mem_total mem_avail mem_free mem_cached swap_total swap_free cg_use cg_lim cg_peak "
    "cg_oom trunc at kind".split())

#: Record kinds log_resource_snapshot may write. The other kinds (test,
#: fixture, gasp, verdict, event, ...) are evidence the report trusts, so
#: only resmon's own writers make them (docs/format.md, "Kinds").
SNAPSHOT_KINDS = ("mark",)

# Longest metadata key, as the C writer cuts them (csrc/ext/emit.c RM_KEY_MAX).
_KEY_MAX = 48

_TRUE = ("1", "true", "yes", "on")

_state = {"enabled": None, "records_path": None, "identity": False}

#: Set by the pytest plugin when it keeps the current test up to date itself.
_plugin_owns_context = False


def _env_enabled():
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in ENV_SWITCHES)


def analysis_resource_debug_enabled():
    """True when markers are written: enabled by enable() or an env switch."""
    if _state["enabled"] is not None:
        return _state["enabled"]
    return _env_enabled()


def enable(on=True):
    """Turns markers on or off for this process, whatever the environment
    says; ``enable(None)`` goes back to the environment switches."""
    _state["enabled"] = None if on is None else bool(on)


def _identity():
    """Host, xdist worker and CI run id, given to the C writer once."""
    if _state["identity"] or core is None:
        return
    _state["identity"] = True
    run = next((os.environ[v] for v in RUN_ID_VARS if os.environ.get(v)), None)
    attempt = os.environ.get("GITHUB_RUN_ATTEMPT")
    if run and attempt:
        run = f"{run}.{attempt}"
    ident = {"host": socket.gethostname().split(".")[0],
             "worker": os.environ.get("PYTEST_XDIST_WORKER"), "run": run}
    core.configure(**{k: v for k, v in ident.items() if v})
    path = os.environ.get(ENV_RECORDS)
    if path and _state["records_path"] is None:
        set_record_file(path)


def set_record_file(path):
    """Appends every record of this process to path as well (None: stop).

    Failure to open the file is reported once on stderr, never raised.
    """
    c = require_core()
    if path is None:
        c.configure(record_fd=-1)
        _state["records_path"] = None
        return
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                     0o644)
    except OSError as exc:
        say_once("records:" + path, f"cannot open record file {path}: {exc.strerror}; "
                 "records go to the job log only")
        return
    try:
        c.configure(record_fd=fd)
        _state["records_path"] = path
    finally:
        os.close(fd)


def set_output_fd(fd):
    """Sends marker lines to a duplicate of fd (-1: none). The pytest plugin
    gives it the original stderr, saved before pytest's capture starts."""
    require_core().configure(out_fd=fd)


def sample(full=False):
    """One resource sample of this process as a :class:`Sample`.

    The default reads rss, peak and vms (about a microsecond on Linux);
    ``full=True`` adds the anon/file/shmem/swap split, thread counts, the
    machine's memory and the memory cgroup.
    """
    return require_core().sample(full)


def reset_peak():
    """Starts a new interval for ``Sample.peak``. Linux only; raises OSError
    elsewhere.

    The kernel's own high-water mark is left alone, so VmHWM, ru_maxrss and
    ``/usr/bin/time -v`` keep the process's real lifetime peak: the
    interval's peak is that mark when it rose during the interval, else the
    highest RSS seen by samples and by a C thread that polls RSS (every 10
    ms, every 1 ms while RSS moves). ``RESMON_PEAK_RESET=clear_refs`` resets
    the kernel's mark instead (exact, but visible to other tools); records
    then carry the lifetime peak as ``hwm_life``."""
    require_core().reset_peak()


def set_current_test(test, phase=None):
    """Sets the test id and phase every record (and a crash handler) shows."""
    if core is not None:
        core.set_context(test, phase)


def _cuda_fields(fields):
    torch = sys.modules.get("torch")  # never import torch ourselves
    if torch is None:
        return
    try:
        cuda = torch.cuda
        if not (cuda.is_available() and cuda.is_initialized()):
            return
        for i in range(cuda.device_count()):
            fields.append((f"cuda{i}_alloc", int(cuda.memory_allocated(i))))
            fields.append((f"cuda{i}_reserved", int(cuda.memory_reserved(i))))
            fields.append((f"cuda{i}_peak", int(cuda.max_memory_allocated(i))))
    except Exception as exc:  # noqa: BLE001 - a broken torch must not break a test
        say_once("cuda", f"cannot read CUDA memory: {exc!r}")


def _meta_fields(metadata, taken=()):
    """The caller's metadata as (key, value) fields with safe, unique keys.

    A key becomes [A-Za-z0-9_] only (any other character is "_"), at most 48
    characters; a key resmon writes itself (rss, test, diskN, cudaN_...) is
    renamed meta_<key>. A key already in the record (in ``taken``, or an
    earlier key that sanitizes alike: "a b" and "a_b") gets the first free
    suffix _2, _3, ..., in the order given: nothing is lost, and a record
    never holds one key twice.
    """
    fields = []
    if not metadata:
        return fields
    used = set(taken)
    items = metadata.items() if hasattr(metadata, "items") else metadata
    for key, value in items:
        base = re.sub(r"[^A-Za-z0-9_]", "_", str(key))[:_KEY_MAX] or "_"
        if base in _RESERVED or base.startswith(("disk", "cuda")):
            base = ("meta_" + base)[:_KEY_MAX]
        key, n = base, 1
        while key in used:
            n += 1
            suffix = "_%d" % n
            key = base[:_KEY_MAX - len(suffix)] + suffix
        used.add(key)
        fields.append((key, value))
    return fields


def log_resource_snapshot(label, *, paths=(), prefix=None, metadata=None, force=False,
                          kind="mark"):
    """Writes one marker line into the job log (and the record file).

    The line carries the label, the current test id, pid, xdist worker,
    wall and monotonic time, RSS, peak, available memory, the memory cgroup's
    usage and limit, native and Python thread counts, and used/free bytes of
    each path in ``paths``; CUDA memory per device when torch is already
    imported and CUDA is initialised. ``prefix`` names the caller (written as
    ``prefix=``); ``metadata`` adds key=value fields (escaped, never trusted;
    keys made unique as :func:`_meta_fields` says). ``kind`` must be one of
    :data:`SNAPSHOT_KINDS` ("mark"): any other raises ValueError, so a test
    cannot write a record that poses as resmon's evidence (a "gasp" or a
    "verdict").

    Writes only when enabled (see :func:`analysis_resource_debug_enabled`)
    or when ``force`` is true. Returns the :class:`Sample`, or None when
    nothing was written. Never raises because of the OS: a failed write is
    reported once on stderr.
    """
    if kind not in SNAPSHOT_KINDS:
        raise ValueError("log_resource_snapshot: kind must be %s, not %r: the other record "
                         "kinds are resmon's own evidence (docs/format.md)"
                         % (" or ".join(repr(k) for k in SNAPSHOT_KINDS), kind))
    if core is None or not (force or analysis_resource_debug_enabled()):
        return None
    if not _state["identity"]:
        _identity()
    fields = None
    if prefix or metadata or "torch" in sys.modules:
        fields = [("prefix", prefix)] if prefix else []
        fields.extend(_meta_fields(metadata))
        _cuda_fields(fields)
    try:
        # without the plugin, the C core takes the test from pytest's
        # PYTEST_CURRENT_TEST, "nodeid (phase)", itself
        result = core.emit(kind, label, fields=fields, paths=paths or None,
                           pytest_env=not _plugin_owns_context)
    except (TypeError, ValueError):
        raise  # the caller's mistake (paths="/tmp"): say so
    except Exception as exc:  # noqa: BLE001 - contract: never break the test
        say_once("emit", f"cannot write a marker: {exc!r}")
        return None
    check_write_error()
    return result


def log_resource_delta(label, before, after=None, *, paths=(), metadata=None, force=False):
    """Writes a marker with the change since ``before`` (a Sample).

    ``after`` defaults to a fresh full sample. The line carries the usual
    snapshot fields plus d_rss, d_peak, d_mem_avail, d_cg_use and dt (seconds).
    Returns the ``after`` sample, or None when nothing was written.
    """
    if core is None or not (force or analysis_resource_debug_enabled()):
        return None
    if after is None:
        after = core.sample(True)
    fields = []
    for key, attr in (("d_rss", "rss"), ("d_peak", "peak"), ("d_mem_avail", "mem_available"),
                      ("d_cg_use", "cgroup_usage"), ("d_thr", "threads")):
        a, b = getattr(after, attr, None), getattr(before, attr, None)
        if a is not None and b is not None:
            fields.append((key, a - b))
    if before.monotonic is not None and after.monotonic is not None:
        fields.append(("dt", f"{after.monotonic - before.monotonic:.6f}"))
    fields.extend(_meta_fields(metadata, taken=[k for k, _ in fields]))
    log_resource_snapshot(label, paths=paths, metadata=fields, force=True, kind="mark")
    return after


def parse_size(text):
    """Parses '2 GiB', '2G', '500MB', '1.5 gb' or plain bytes into an int.

    Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB,
    MiB, GiB, TiB) and single letters (K, M, G, T) powers of 1024. Raises
    ValueError with the offending text.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"negative size: {text!r}")
        return text
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", str(text))
    if not m:
        raise ValueError(f"not a size: {text!r} (try '2 GiB', '500MB' or bytes)")
    number, unit = float(m.group(1)), m.group(2).lower()
    scale = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
             "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
             "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12}.get(unit)
    if scale is None:
        raise ValueError(f"unknown size unit {m.group(2)!r} in {text!r}")
    return int(number * scale)


def format_size(n):
    """Short ASCII rendering of a byte count: '1.06 GiB', '512 B'."""
    if n is None:
        return "?"
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{sign}{n / scale:.2f} {unit}"
    return f"{sign}{n} B"
