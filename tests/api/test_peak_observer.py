# SPDX-License-Identifier: MIT
"""--resmon does not change the peak other tools see (issue 15).

A real pytest session allocates 180 MiB in a test and frees it. The
process's VmHWM at exit and the ru_maxrss its parent gets from wait4 (what
/usr/bin/time -v prints) must be the same with and without --resmon, while
the plugin still reports each test's own peak.
"""

import os
import re
import sys

import pytest

MiB = 1 << 20
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="VmHWM and clear_refs are Linux's")

CONFTEST = r'''
def _hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

def pytest_unconfigure(config):
    with open(%r, "w") as f:
        f.write("%%d\n" %% _hwm())
'''

TESTS = '''
import mmap, os, threading, time

def _switches():
    """voluntary_ctxt_switches of each thread but this one."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        if int(tid) == threading.get_native_id():
            continue
        try:
            with open("/proc/self/task/%s/status" % tid) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        out[tid] = int(line.split()[1])
        except OSError:
            pass
    return out

def _hold(mib):
    m = mmap.mmap(-1, mib << 20)
    for i in range(0, mib << 20, 4096):
        m[i] = 1
    if os.environ.get("WAIT_FOR_POLLER") == "1":
        # held until resmon's peak poller has surely read statm with the
        # block in place: one of this process's other threads (the poller
        # sleeps between reads, a voluntary switch each) went to sleep three
        # more times. A fixed hold (50 ms) could be missed when a loaded machine
        # did not run the poller in time.
        before = _switches()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _switches()
            if any(now.get(t, 0) - n >= 3 for t, n in before.items()):
                break
            time.sleep(0.005)
    else:
        time.sleep(0.05)
    m.close()

def test_big():
    _hold(180)

def test_small_after_big():
    _hold(100)

def test_nothing():
    pass
'''


# the records file holds every test's end record with its test_peak
RESMON_ARGS = ["--resmon", "--resmon-records", "{d}/records.log"]


def _wait4_maxrss(tmp_path, name, args, env_extra=None):
    d = tmp_path / name
    d.mkdir()
    (d / "conftest.py").write_text(CONFTEST % str(d / "hwm"))
    (d / "test_alloc.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RESMON", "PYTEST_", "IT_")) and k != "GITHUB_ACTIONS"}
    env.update(env_extra or {})
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
            str(d)] + [a.format(d=d) for a in args] + [str(d / "test_alloc.py")]
    with open(d / "out", "wb") as out, open(d / "err", "wb") as err:
        pid = os.posix_spawn(sys.executable, argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, ((d / "out").read_text()[-3000:],
                                                    (d / "err").read_text()[-3000:])
    records = d / "records.log"
    text = records.read_text() if records.exists() else ""
    return ru.ru_maxrss * 1024, int((d / "hwm").read_text()), text


def _end_peaks(records):
    """test_peak of each test's end record in the records file."""
    peaks = {}
    for line in records.splitlines():
        if "[resmon/1] test " in line and " at=end " in line and " test_peak=" in line:
            test = re.search(r' test="?([^" ]+)', line).group(1)
            peaks[test.rsplit("::", 1)[-1]] = int(re.search(r" test_peak=(\d+)", line).group(1))
    return peaks


def test_resmon_keeps_the_lifetime_peak(tmp_path):
    plain_maxrss, plain_hwm, _ = _wait4_maxrss(tmp_path, "plain", ["-p", "no:resmon"])
    res_maxrss, res_hwm, err = _wait4_maxrss(tmp_path, "resmon", RESMON_ARGS,
                                             {"WAIT_FOR_POLLER": "1"})
    # the session really peaked above 180 MiB, and both tools see it
    assert plain_hwm > 180 * MiB and res_hwm > 180 * MiB, (plain_hwm, res_hwm)
    # the monitor (extension, poller thread, marker lines) costs a few MiB of
    # its own: within 2% of a peak this size, and never lower than plain
    assert abs(res_hwm - plain_hwm) <= 0.02 * plain_hwm, (plain_hwm, res_hwm)
    assert abs(res_maxrss - plain_maxrss) <= 0.02 * plain_maxrss, (plain_maxrss, res_maxrss)
    assert res_maxrss >= res_hwm - MiB, (res_maxrss, res_hwm)
    # per-test peaks are still there: each test's own, not the lifetime mark
    peaks = _end_peaks(err)
    assert set(peaks) == {"test_big", "test_small_after_big", "test_nothing"}, err[-3000:]
    assert peaks["test_big"] > 180 * MiB, peaks
    base = peaks["test_nothing"]
    assert base < peaks["test_big"] - 150 * MiB, peaks
    # below the lifetime mark: seen by the poller (held until it has polled)
    assert peaks["test_small_after_big"] > base + 90 * MiB, peaks
    assert peaks["test_small_after_big"] < peaks["test_big"] - 50 * MiB, peaks


def test_clear_refs_only_when_asked(tmp_path):
    """RESMON_PEAK_RESET=clear_refs resets the kernel's mark (the old way),
    and the records keep the lifetime peak as hwm_life."""
    _, res_hwm, err = _wait4_maxrss(tmp_path, "opt_in", RESMON_ARGS,
                                    {"RESMON_PEAK_RESET": "clear_refs"})
    assert res_hwm < 150 * MiB, res_hwm  # the kernel's counter was reset
    lives = [int(m) for m in re.findall(r" hwm_life=(\d+)", err)]
    assert lives and max(lives) > 180 * MiB, err[-3000:]
    assert _end_peaks(err)["test_big"] > 180 * MiB
