# SPDX-License-Identifier: MIT
"""The Windows probe, cross-compiled with mingw-w64 and run under wine.

Runs ``make -C csrc win-check`` (tests/probe/test_win32_probe.c linked with
csrc/probe/win32.c and csrc/record/write.c), then checks the record line it
prints against readings taken here on the Linux side: wine answers
GlobalMemoryStatusEx and GetDiskFreeSpaceEx from the host's /proc/meminfo
and statfs, so those must agree.
"""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CSRC = os.path.join(ROOT, "csrc")
BUILD = os.path.join(ROOT, "build", "c")
WINE_LOADERS = ("/usr/lib/wine/wine64", "wine64", "wine")


def _wine():
    for name in WINE_LOADERS:
        path = shutil.which(name) if not os.path.isabs(name) else name
        if path and os.access(path, os.X_OK):
            return path
    return None


pytestmark = [
    pytest.mark.skipif(
        shutil.which("x86_64-w64-mingw32-gcc") is None,
        reason="x86_64-w64-mingw32-gcc not installed (Debian: gcc-mingw-w64-x86-64)",
    ),
    pytest.mark.skipif(
        _wine() is None, reason="no wine64 loader (Debian: wine64; looked for %s)" % ", ".join(WINE_LOADERS)
    ),
    pytest.mark.skipif(shutil.which("make") is None, reason="make not installed"),
]

RECORD = re.compile(r"^\[resmon/1\] mark( [a-z0-9_]+=(?:[A-Za-z0-9_.:/@+,-]+|\"(?:[^\"\\]|\\.)*\"))* ;\r?$")
FIELD = re.compile(r" ([a-z0-9_]+)=([A-Za-z0-9_.:/@+,-]+|\"(?:[^\"\\]|\\.)*\")")


def _meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, rest = line.split(":", 1)
            out[key] = int(rest.split()[0]) * 1024
    return out


DRIVE_C = os.path.join(BUILD, "win", "wine", "drive_c")


def _drive_c():
    st = os.statvfs(DRIVE_C)
    return {"total": st.f_blocks * st.f_frsize, "free": st.f_bavail * st.f_frsize}


@pytest.fixture(scope="module")
def host():
    """The host's memory and disk read just before and just after the
    program ran (filled by win_check): the program's own readings lie
    between, give or take, whatever else the machine ran meanwhile. A reading
    taken only when a test looked at the output, seconds later, moved with
    every other process."""
    return {}


@pytest.fixture(scope="module")
def win_check(host):
    env = dict(os.environ, WINE=_wine())
    host["mem"] = [_meminfo()]
    # wine's C: drive exists before the run only when an earlier run made it
    host["disk"] = [_drive_c()] if os.path.isdir(DRIVE_C) else []
    proc = subprocess.run(
        ["make", "-C", CSRC, "win-check", "BUILD=" + BUILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        timeout=300,
    )
    out = proc.stdout.decode("ascii", "replace")
    host["mem"].append(_meminfo())
    if os.path.isdir(DRIVE_C):
        host["disk"].append(_drive_c())
    return proc.returncode, out


def test_win_check_passes(win_check):
    rc, out = win_check
    assert rc == 0, out
    assert "PASSED: 0 failure(s)" in out, out
    assert "FAIL " not in out, out
    # the checks that must have run (a silent skip of these would hide breakage)
    for name in (
        "touching BLOCK raises rss by ~BLOCK",
        "freeing BLOCK lowers rss",
        "an extra thread raises the count by one",
        "thread count matches a thread snapshot",
        "other pid: thr matches snapshot",
        "dead pid: no rss, but mem_total",
        "missing path: ENOENT",
        "text mode wrote the record once, ending in CRLF",
        "reset_peak says ENOTSUP",
    ):
        assert "ok " + name + " (" in out, name


def _record(out):
    lines = [l for l in out.splitlines() if l.startswith("[resmon/1] mark ")]
    assert len(lines) == 1, out
    line = lines[0]
    assert RECORD.match(line), line
    return dict(FIELD.findall(line))


def test_record_line_parses_and_is_sane(win_check):
    rc, out = win_check
    fields = _record(out)
    assert fields["os"] == "win32"
    assert fields["label"] == '"win32 probe"'
    rss, hwm = int(fields["rss"]), int(fields["hwm"])
    total, avail = int(fields["mem_total"]), int(fields["mem_avail"])
    thr = int(fields["thr"])
    assert 1 << 20 < rss <= hwm
    # the test touched 128 MiB before printing: the peak remembers it
    assert hwm >= rss + 100 * (1 << 20)
    assert rss < total and avail <= total
    assert thr >= 1
    # fields Windows cannot give are absent, never written as zero
    for key in ("anon", "file", "shmem", "swap", "mem_free", "swap_total", "swap_free", "cg_oom"):
        assert key not in fields, key


def test_system_memory_matches_host(win_check, host):
    rc, out = win_check
    fields = _record(out)
    mis = host["mem"]
    host_total = mis[-1]["MemTotal"]
    assert abs(int(fields["mem_total"]) - host_total) <= max(host_total // 100, 64 << 20), (
        fields["mem_total"],
        host_total,
    )
    # wine's ullAvailPhys is about MemFree + Buffers + Cached: it must lie
    # between what is free now and everything reclaimable, give or take
    # what other processes did in the meantime.
    slack = max(host_total // 50, 512 << 20)
    low = min(mi["MemFree"] for mi in mis) - slack
    high = max(
        mi["MemFree"] + mi.get("Buffers", 0) + mi.get("Cached", 0) + mi.get("SReclaimable", 0)
        for mi in mis
    ) + slack
    assert low <= int(fields["mem_avail"]) <= high, (fields["mem_avail"], low, high)


def test_disk_matches_host(win_check, host):
    rc, out = win_check
    fields = _record(out)
    assert fields["disk0"] == "C:/"
    assert host["disk"], "wine made no C: drive at %s" % DRIVE_C
    total = host["disk"][-1]["total"]
    frees = [d["free"] for d in host["disk"]]
    slack = max(total // 100, 256 << 20)  # other writers on the disk
    # wine answers GetDiskFreeSpaceEx from statfs with "free for all users"
    # equal to f_bavail, so used (total - total free) is total - bavail here.
    assert min(frees) - slack <= int(fields["disk0_free"]) <= max(frees) + slack, (
        fields["disk0_free"],
        frees,
    )
    assert abs(int(fields["disk0_used"]) + int(fields["disk0_free"]) - total) <= slack, (
        fields["disk0_used"],
        fields["disk0_free"],
        total,
    )
