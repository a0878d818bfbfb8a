# SPDX-License-Identifier: MIT
"""Records the report corpus: real pytest sessions under the real sampler, real
signals, real memory cgroups and real OOM kills, kept as the files a CI job
leaves behind (docs/corpus.md).

    .venv/bin/python tests/corpus/record.py              # every scenario
    .venv/bin/python tests/corpus/record.py NAME [NAME]  # some of them
    .venv/bin/python tests/corpus/record.py --list

Each scenario writes a small generated test suite into a temporary directory
and runs it as a GitHub Actions step would:

    resmon-sampler -i 0.2 --echo 1 -- python -m pytest --resmon --resmon-records ...

with stdout and stderr merged into one pipe. Every line read from the pipe is
stamped with the UTC time it was read, as the runner does, and the runner's own
closing lines are added (exit code, shutdown, cancellation). A watcher thread
sends the scenario's signals; a memory cgroup v1 group with a limit (as root,
tests/memcg.py) makes the kernel's OOM killer fire for real.

The TRUTH goes into expected.json, from what this script made happen and saw
independently of resmon: a conftest in every suite appends each test phase's
begin and end, with the pid, to truth.log (one write(2) per line, so a killed
process leaves its last line); /dev/kmsg gives the pids the kernel OOM-killed;
the watcher knows whom it signalled. A scenario that did not happen as designed
(no OOM kill where one was meant, a wrong exit code) is reported and its
expected entry is not written.

Outputs per scenario, in tests/corpus/<name>/: job.log (the simulated raw job
log), ci_resource_monitor.log (the sampler's log), records.log (the plugin's
--resmon-records), truth.log (the conftest's phase log; not a report input).
"""

import argparse
import contextlib
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import memcg  # noqa: E402  (tests/memcg.py: the project's cgroup v1 helper)

SAMPLER = os.path.join(ROOT, "build", "c", "resmon-sampler")
EXPECTED = os.path.join(HERE, "expected.json")
PY = sys.executable
MiB = 1 << 20
#: a report input larger than this is a recording mistake (too long, too fast a sampler)
MAX_FILE_BYTES = 300 * 1024
#: one step's wall-clock limit; every scenario ends well within it
STEP_TIMEOUT = 90

SHUTDOWN_MSG = (b"##[error]The runner has received a shutdown signal. This can happen when "
                b"the runner service is stopped, or a manually started runner is canceled.")
CANCELED_MSG = b"##[error]The operation was canceled."
#: environment that would change what pytest or the plugin does
DROP_ENV = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "RESMON",
            "RESMON_RECORDS", "IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG",
            "PYTHONUNBUFFERED", "GITHUB_STEP_SUMMARY")

# The conftest every suite gets: the truth log. Hook wrappers around each
# phase, so a test killed in its body leaves "begin call" without "end call".
TRUTH_CONFTEST = r'''
import json
import os
import resource
import time

import pytest

_FD = os.open(os.environ["CORPUS_TRUTH"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def _w(*words):
    os.write(_FD, (" ".join(words) + "\n").encode("ascii", "backslashreplace"))


def pytest_configure(config):
    role = getattr(config, "workerinput", {}).get("workerid", "main")
    _w("configure", str(os.getpid()), role)
    limit = os.environ.get("CORPUS_RLIMIT_AS")
    if limit and role == "main":
        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))


def _wrap(phase, item):
    _w("begin", str(os.getpid()), phase, json.dumps(item.nodeid))
    try:
        return (yield)
    finally:  # a failing phase ends too; only a dead process leaves "begin" alone
        _w("end", str(os.getpid()), phase, json.dumps(item.nodeid))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _wrap("setup", item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _wrap("call", item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield from _wrap("teardown", item))
    finally:  # the series the trend is about: RSS at the end of each test
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        _w("rss", str(os.getpid()), str(pages * os.sysconf("SC_PAGE_SIZE")))


def pytest_unconfigure(config):
    _w("unconfigure", str(os.getpid()))
    slow = os.environ.get("CORPUS_SLOW_WORKER_UNCONFIGURE")
    if slow and hasattr(config, "workerinput"):
        try:
            time.sleep(float(slow))
        except KeyboardInterrupt:
            _w("keyboardinterrupt", str(os.getpid()))
            raise
        _w("unconfigured", str(os.getpid()))
'''


# ------------------------------------------------------------------ helpers --

def stamp():
    """The runner's timestamp: UTC, 7 fraction digits, a trailing space."""
    ns = time.time_ns()
    sec, frac = divmod(ns, 10**9)
    day = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc)
    return ("%s.%07dZ " % (day.strftime("%Y-%m-%dT%H:%M:%S"), frac // 100)).encode()


class JobLog:
    """The raw job log being written: stamped lines, in the order read."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def add(self, raw):
        with self.lock:
            self.lines.append(stamp() + raw)

    def contains(self, needle):
        with self.lock:
            return any(needle in line for line in self.lines)

    def data(self):
        with self.lock:
            return b"".join(line + b"\n" for line in self.lines)


class Kmsg:
    """New kernel log records since construction (root can read /dev/kmsg)."""

    def __init__(self):
        try:
            self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError:
            self.fd = None

    def read(self):
        out = []
        while self.fd is not None:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:  # records overwritten while we read: go on
                continue
            if not rec:
                break
            out.append(rec.decode("utf-8", "replace").split(";", 1)[-1].rstrip("\n"))
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return out

    @staticmethod
    def killed_pids(lines):
        return {int(m.group(1)) for line in lines
                for m in [re.search(r"Killed process (\d+) ", line)] if m}


def foreign_oom(tag):
    """An OOM kill in ANOTHER memory cgroup: a python that allocates until the
    kernel kills it. Returns the killed pid."""
    code = "x = []\nwhile True:\n    x.append(b'x' * (8 << 20))\n"
    with memcg.memory_cgroup("resmon_corpus_foreign_" + tag, 64 * MiB) as group:
        p = subprocess.Popen([PY, "-c", code], preexec_fn=memcg.enter_fn(group))
        p.wait(timeout=60)
    if p.returncode != -signal.SIGKILL:
        raise ScenarioFailed("the foreign allocator was not OOM-killed (status %r)" % p.returncode)
    return p.pid


class ScenarioFailed(Exception):
    """The scenario did not happen as designed; nothing is written for it."""


# --------------------------------------------------------------- the step --

class Step:
    """What one recorded step saw, for the watcher and for expect()."""

    def __init__(self, workdir, outdir):
        self.workdir = workdir
        self.outdir = outdir
        self.truth_path = os.path.join(workdir, "truth.log")
        self.joblog = JobLog()
        self.proc = None
        self.rc = None            # the step's exit status as the runner reports it
        self.signalled = {}       # pid -> signal sent by the watcher
        self.oom_pids = set()     # pids of this run that the kernel OOM-killed
        self.kmsg = []
        self.notes = []

    # the truth log
    def truth(self):
        try:
            with open(self.truth_path, "rb") as f:
                text = f.read().decode("ascii")
        except FileNotFoundError:
            return []
        rows = []
        for line in text.splitlines():
            words = line.split(" ", 3)
            if words[0] in ("begin", "end"):
                rows.append((words[0], int(words[1]), words[2], json.loads(words[3])))
            else:
                rows.append((words[0], int(words[1])) + tuple(words[2:]))
        return rows

    def series(self, pid=None):
        """RSS at the end of each test of pid (default: the main process), as
        the conftest read it from /proc/self/statm, independently of resmon."""
        if pid is None:
            pid = next((p for p, role in self.pids().items() if role == "main"), None)
        return [int(row[2]) for row in self.truth() if row[0] == "rss" and row[1] == pid]

    def pids(self):
        return {row[1]: row[2] for row in self.truth() if row[0] == "configure"}

    def unfinished(self, pid):
        """(test id, phase) that pid began and never ended, or None."""
        open_ = None
        for row in self.truth():
            if row[1] != pid or row[0] not in ("begin", "end"):
                continue
            open_ = (row[3], row[2]) if row[0] == "begin" else None
        return open_

    def wait_begin(self, nodeid, phase="call", timeout=60):
        """Waits until a process began phase of nodeid; returns that pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for row in self.truth():
                if row[0] == "begin" and row[2] == phase and row[3] == nodeid:
                    return row[1]
            time.sleep(0.02)
        raise ScenarioFailed("%s never began %s" % (nodeid, phase))

    def wait_joblog(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.joblog.contains(needle):
                return
            time.sleep(0.05)
        raise ScenarioFailed("%r never reached the job log" % needle)

    def kill(self, pid, sig):
        self.signalled[pid] = sig
        os.kill(pid, sig)

    # what the job log alone shows of a process's growth during a test
    def joblog_growth(self, pid, nodeid):
        """The highest RSS of pid in the sampler's echo lines after nodeid's
        setup-start marker, minus the RSS in that marker; None without them."""
        start = None
        best = None
        for line in self.joblog.data().splitlines():
            if start is None:
                if (b" phase=setup at=start " in line and (b" pid=%d " % pid) in line
                        and ((" test=%s " % nodeid).encode() in line
                             or (' test="%s" ' % nodeid).encode() in line)):
                    m = re.search(rb" rss=(\d+) ", line)
                    start = int(m.group(1)) if m else None
                continue
            if b"[resmon/1] echo " not in line:
                continue
            for m in re.finditer(rb" tree(\d+)_pid=(\d+) ", line):
                if int(m.group(2)) != pid:
                    continue
                r = re.search(rb" tree%s_rss=(\d+) " % m.group(1), line)
                if r:
                    best = max(best or 0, int(r.group(1)))
        if start is None or best is None:
            return None
        return best - start


# ------------------------------------------------------------ scenarios --

SCENARIOS = {}


class Scenario:
    """One recorded CI step. expect(step) returns {"all": ..., "joblog": ...}
    (each {"verdict", "boundary", "culprit", "trend"}) or raises
    ScenarioFailed when the step did not go as designed."""

    def __init__(self, name, what, negative, files, expect, *, args=(), cgroup=None,
                 watcher=None, interval="0.2", env=None, unbuffered=True,
                 keep=("sampler", "records"), pre=None, delayed_start=False, cancelled=False):
        self.name, self.what, self.negative = name, what, negative
        self.files, self.expect, self.args = files, expect, list(args)
        self.cgroup, self.watcher, self.interval = cgroup, watcher, interval
        self.env, self.unbuffered, self.keep, self.pre = env or {}, unbuffered, keep, pre
        # delayed_start: the step's script sleeps before the sampler starts;
        # cancelled: the runner cancels the step (no exit-code line, "canceled")
        self.delayed_start, self.cancelled = delayed_start, cancelled or delayed_start
        SCENARIOS[name] = self


def judged(verdict, boundary=None, culprit=None, trend="*", joblog=None, step=None):
    """Both modes alike unless joblog gives keys that differ. With step, the
    trend is checked against the recorded series first."""
    if step is not None:
        shape(step, trend)
    all_ = {"verdict": verdict, "boundary": boundary, "culprit": culprit, "trend": trend}
    job = dict(all_)
    job.update(joblog or {})
    return {"all": all_, "joblog": job}


def need(cond, why):
    if not cond:
        raise ScenarioFailed(why)


def need_rc(step, rc):
    need(step.rc == rc, "step exit status %r, wanted %r" % (step.rc, rc))


def the_oom_victim(step):
    """The one process of the run the kernel OOM-killed, and what it ran."""
    need(step.oom_pids, "no process of the run was OOM-killed (kmsg: %s)" % step.kmsg[-5:])
    need(len(step.oom_pids) == 1, "several OOM kills: %s" % sorted(step.oom_pids))
    pid = next(iter(step.oom_pids))
    running = step.unfinished(pid)
    need(running is not None, "the OOM-killed pid %d was running no test" % pid)
    return pid, running[0], running[1]


def the_signalled(step):
    need(len(step.signalled) == 1, "the watcher signalled %s" % step.signalled)
    pid = next(iter(step.signalled))
    running = step.unfinished(pid)
    need(running is not None, "pid %d was running no test when signalled" % pid)
    need(not step.oom_pids, "an OOM kill in a run meant to have none: %s" % step.oom_pids)
    return pid, running[0], running[1]


def shape(step, trend):
    """Checks that the main process's RSS-at-test-end series (truth.log) has
    the shape the scenario was designed for. A sanity check of the recording,
    with coarse thresholds; it is not the report's classifier."""
    if trend in ("*", None):
        return
    runners = [pid for pid in step.pids() if step.series(pid)]
    need(runners, "no test ended")
    for pid in runners:  # the main process, or each xdist worker
        _shape(step.series(pid), trend)


def _shape(rss, trend):
    need(len(rss) >= 5, "only %d tests ended" % len(rss))
    inc = [b - a for a, b in zip(rss, rss[1:])]
    rise = rss[-1] - rss[0]
    big = sorted((d for d in inc if d >= 32 * MiB), reverse=True)
    mib = [round(r / MiB) for r in rss]
    if trend == "flat":
        ok = max(rss) - min(rss) < 32 * MiB
    elif trend == "single":
        ok = len(big) == 1 and big[0] >= 0.7 * rise and rise >= 64 * MiB
    elif trend == "steps":
        ok = 2 <= len(big) <= 3 and sum(big) >= 0.8 * rise
    elif trend == "leak":
        ok = rise >= 64 * MiB and sum(1 for d in inc if d > 4 * MiB) >= 0.7 * len(inc)
    else:
        ok = False
    need(ok, "the RSS-at-test-end series (MiB) is not %s: %s" % (trend, mib))


def no_oom(step):
    need(not step.oom_pids, "an OOM kill in a run meant to have none: %s" % step.oom_pids)


def passed(trend, rc=0, kind="passed"):
    """A run that ended by itself with rc and no OOM kill."""
    def expect(step):
        need_rc(step, rc)
        no_oom(step)
        return judged(kind, None, None, trend, step=step)
    return expect


# Code snippets the suites share.
TOUCH = '''
def touched(n):
    """n bytes, every page written (resident)."""
    return b"x" * n
'''

FLAT = '''
@pytest.mark.parametrize("i", range(%d))
def test_flat(i):
    block = touched(8 << 20)
    time.sleep(%s)
    assert block
'''


def suite(*parts, head="import time\n\nimport pytest\n"):
    return head + TOUCH + "".join(textwrap.dedent(p) for p in parts)


# ---- negative: runs that did not die of memory (or did not die at all) ----

Scenario(
    "pass_plain", "a plain passing suite of 12 small tests", True,
    {"test_suite.py": suite(FLAT % (12, "0.05"))},
    passed("flat"), args=["-v"])

Scenario(
    "fail_assertions", "12 tests, 3 fail with assertion errors; no death", True,
    {"test_suite.py": suite(FLAT % (9, "0.05"), '''
        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_wrong(n):
            assert n * 2 == n + 10, "arithmetic"
    ''')},
    passed("flat", rc=1, kind="failed"), args=["-v"])

Scenario(
    "pass_two_step_rise",
    "passing run whose RSS rises in two steps (tests 4 and 8 keep 60 MiB each)",
    True,
    {"test_suite.py": suite('''
        KEEP = []

        @pytest.mark.parametrize("i", range(12))
        def test_step(i):
            if i in (4, 8):
                KEEP.append(touched(60 << 20))
            time.sleep(0.05)
    ''')},
    passed("steps"), args=["-v"])

Scenario(
    "pass_one_large_test", "passing run with one large test (400 MiB, freed) among flat ones", True,
    {"test_suite.py": suite(FLAT % (6, "0.05"), '''
        def test_large():
            block = touched(400 << 20)
            time.sleep(0.3)
            del block
    ''', FLAT.replace("test_flat", "test_after") % (5, "0.05"))},
    passed("flat"), args=["-v"])  # freed at once: no trace in RSS at test end

Scenario(
    "leak_passes", "a linear leak (15 MiB kept per test, 14 tests) that does not die", True,
    {"test_suite.py": suite('''
        KEEP = []

        @pytest.mark.parametrize("i", range(14))
        def test_leaks(i):
            KEEP.append(touched(15 << 20))
            time.sleep(0.05)
    ''')},
    passed("leak"), args=["-v"])

Scenario(
    "near_limit_pass", "passing run holding 300 MiB in a 380 MiB cgroup (near the limit all along)",
    True,
    {"test_suite.py": suite('''
        @pytest.fixture(scope="module")
        def big():
            return touched(300 << 20)

        @pytest.mark.parametrize("i", range(10))
        def test_near(i, big):
            time.sleep(0.1)
            assert big[i] == 120
    ''')},
    passed("*"), args=["-v"], cgroup=380 * MiB)


def kill_at(nodeid, sig=signal.SIGKILL, delay=0.05, phase="call"):
    """A watcher: sig to the process running nodeid, delay s into its phase."""
    def watch(step):
        pid = step.wait_begin(nodeid, phase)
        time.sleep(delay)
        step.kill(pid, sig)
    return watch


def killed_from_outside(trend, sig=signal.SIGKILL, kind="killed"):
    def expect(step):
        need_rc(step, 128 + sig)
        pid, test, _ = the_signalled(step)
        return judged(kind, test, None, trend, step=step)
    return expect


Scenario(
    "sigkill_outside_no_cgroup", "SIGKILL to pytest from outside mid-test, no cgroup, ample memory,"
    " buffered stdout (-q)", True,
    {"test_suite.py": suite(FLAT % (15, "0.1"))},
    killed_from_outside("flat"), args=["-q"], unbuffered=False,
    watcher=kill_at("test_suite.py::test_flat[9]"))

Scenario(
    "flat_sigkill_outside", "a flat suite (30 MiB per test, freed) in a 600 MiB cgroup, SIGKILL to"
    " pytest from outside", True,
    {"test_suite.py": suite('''
        @pytest.mark.parametrize("i", range(20))
        def test_flat(i):
            block = touched(30 << 20)
            time.sleep(0.1)
            assert block
    ''')},
    killed_from_outside("flat"), args=["-v"], cgroup=600 * MiB,
    watcher=kill_at("test_suite.py::test_flat[12]"))

def _kill_long_after_spike(step):
    """SIGKILL to pytest early in the first test_after[i] to begin 4 s after the spike."""
    step.wait_begin("test_suite.py::test_spike")
    time.sleep(4.0)
    begun = [row[3] for row in step.truth() if row[0] == "begin" and row[2] == "call"
             and row[3].startswith("test_suite.py::test_after[")]
    kill_at("test_suite.py::test_after[%d]" % len(begun))(step)


Scenario(
    "spike_freed_then_sigkill", "a 450 MiB spike freed at once in a 500 MiB cgroup (peak near the"
    " limit), then an outside SIGKILL 4 s later", True,
    {"test_suite.py": suite(FLAT % (5, "0.05"), '''
        def test_spike():
            block = touched(450 << 20)
            del block
    ''', FLAT.replace("test_flat", "test_after") % (30, "0.2"))},
    killed_from_outside("flat"), args=["-v"], cgroup=500 * MiB,
    watcher=_kill_long_after_spike)


Scenario(
    "page_cache_then_sigkill", "a test writes and reads back a 400 MiB file in a 320 MiB cgroup"
    " (page cache fills the group), then an outside SIGKILL", True,
    {"test_suite.py": suite(FLAT % (5, "0.05"), '''
        import os

        def test_big_file(tmp_path):
            path = tmp_path / "big.bin"
            chunk = b"y" * (8 << 20)
            with open(path, "wb") as f:
                for _ in range(50):
                    f.write(chunk)
            with open(path, "rb") as f:
                while f.read(8 << 20):
                    pass
            assert os.path.getsize(path) == 400 << 20

        def test_after_file():
            time.sleep(5)
    ''')},
    killed_from_outside("flat"), args=["-v"], cgroup=320 * MiB,
    watcher=kill_at("test_suite.py::test_after_file", delay=1.0))


def _foreign_oom_during(step):
    step.wait_begin("test_suite.py::test_flat[4]")
    step.notes.append("foreign OOM-killed pid %d" % foreign_oom("during"))


def _foreign_expect(step):
    need(any("Killed process" in line for line in step.kmsg),
         "the foreign OOM kill is not in the kernel log")
    return passed("flat")(step)


Scenario(
    "foreign_oom_during_pass",
    "a passing run while another memory cgroup has a real OOM kill", True,
    {"test_suite.py": suite(FLAT % (14, "0.25"))},
    _foreign_expect, args=["-v"], watcher=_foreign_oom_during)


CHILD_OOM = '''
import subprocess
import sys


def test_child_is_oom_killed():
    # the child fills the group; the kernel kills it, not pytest
    child = subprocess.run([sys.executable, "-c", "b = b'x' * (600 << 20)"])
    assert child.returncode == -9
'''


def _child_oom_expect(step):
    need_rc(step, 0)
    killed = Kmsg.killed_pids(step.kmsg)
    need(killed, "no child was OOM-killed (kmsg: %s)" % step.kmsg[-5:])
    need(not killed & set(step.pids()), "a test process was OOM-killed: %s" % sorted(killed))
    return judged("passed", None, None, "flat", step=step)


Scenario(
    "child_oom_pass",
    "a test's child process is OOM-killed in a 300 MiB cgroup, as the test expects; all pass",
    True,
    {"test_suite.py": suite(FLAT % (6, "0.1"), CHILD_OOM, FLAT.replace("test_flat", "test_after") % (6, "0.1"))},
    _child_oom_expect, args=["-v"], cgroup=300 * MiB)


def _child_oom_then_term_expect(step):
    need(Kmsg.killed_pids(step.kmsg), "no child was OOM-killed (kmsg: %s)" % step.kmsg[-5:])
    return killed_from_outside("flat", signal.SIGTERM, "signal")(step)


Scenario(
    "child_oom_then_sigterm",
    "a test's child is OOM-killed (the test passes), then pytest gets SIGTERM from outside in a"
    " later test: the OOM kill did not end the run", True,
    {"test_suite.py": suite(CHILD_OOM, FLAT % (8, "0.1"))},
    _child_oom_then_term_expect, args=["-v"], cgroup=300 * MiB,
    watcher=kill_at("test_suite.py::test_flat[5]", signal.SIGTERM))

ATEXIT_OOM = '''
import atexit


def _cache_dump():
    # an exit hook that fills the group after pytest's summary
    keep = b"x" * (600 << 20)
    return len(keep)


atexit.register(_cache_dump)
'''


def _atexit_oom_expect(step):
    need_rc(step, 137)
    need(step.oom_pids, "pytest was not OOM-killed (kmsg: %s)" % step.kmsg[-5:])
    need(all(step.unfinished(pid) is None for pid in step.oom_pids),
         "a test was running at the kill")
    return judged("oom_kill", None, None, "flat", step=step)


Scenario(
    "oom_at_exit_after_summary",
    "all tests pass, then an atexit hook fills a 300 MiB cgroup: the kernel OOM-kills pytest"
    " after its summary (no test was running)", False,
    {"test_suite.py": suite(ATEXIT_OOM, FLAT % (6, "0.1"))},
    _atexit_oom_expect, args=["-v"], cgroup=300 * MiB)


def _no_tests_expect(step):
    need_rc(step, 5)
    no_oom(step)
    return judged("failed", None, None, None)


Scenario(
    "no_tests_ran", "every test deselected (-k matches none): pytest exits 5, nothing passed",
    True, {"test_suite.py": suite(FLAT % (6, "0.05"))},
    _no_tests_expect, args=["-v", "-k", "no_such_test"])


Scenario(
    "sigkill_near_limit_outside",
    "a test holds 330 MiB in a 380 MiB cgroup (near its limit, no OOM kill) and pytest gets"
    " SIGKILL from outside", True,
    {"test_suite.py": suite(FLAT % (4, "0.1"), '''
        def test_hold_near_limit():
            block = touched(330 << 20)
            time.sleep(3)
            assert block
    ''')},
    killed_from_outside("*"), args=["-v"], cgroup=380 * MiB,
    watcher=kill_at("test_suite.py::test_hold_near_limit", delay=1.5))


def _os_exit_expect(step):
    need_rc(step, 3)
    no_oom(step)
    pids = [pid for pid in step.pids() if step.unfinished(pid)]
    need(len(pids) == 1, "no test cut off: %s" % pids)
    return judged("failed", step.unfinished(pids[0])[0], None, "flat", step=step)


Scenario(
    "os_exit_in_test", "a test calls os._exit(3) in the 6th test: no summary, no signal, exit 3",
    True, {"test_suite.py": suite(FLAT % (5, "0.05"), '''
        import os

        def test_exits_hard():
            os._exit(3)
    ''', FLAT.replace("test_flat", "test_after") % (3, "0.05"))},
    _os_exit_expect, args=["-v"])


NESTED = '''
import subprocess
import sys


def test_runs_pytest_then_grows():
    # a plugin's test runs pytest on an example (its summary is printed
    # here, with -s), then loads a big fixture until the OOM kill
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--noconftest",
                    "inner_example.py"], check=True)
    keep = []
    for _ in range(60):
        keep.append(touched(20 << 20))
        time.sleep(0.02)
'''


def _nested_expect(step):
    # the job log alone: its short records do not say the test was still
    # running at the inner summary, so boundary and culprit are not judged
    pid, test, _ = the_oom_victim(step)
    return judged("oom_kill", test, test, "*", {"boundary": "*", "culprit": "*"}, step=step)


Scenario(
    "oom_after_nested_pytest_summary",
    "a test runs pytest in a subprocess (its '1 passed' summary printed with -s), then grows"
    " until a real OOM kill in a 300 MiB cgroup: the inner summary is not the run's", False,
    {"test_suite.py": suite(FLAT % (3, "0.05"), NESTED),
     "inner_example.py": "def test_example():\n    assert True\n"},
    _nested_expect, args=["-v", "-s"], cgroup=300 * MiB)


def _old_oom(step):
    step.notes.append("foreign OOM-killed pid %d before the run" % foreign_oom("before"))


Scenario(
    "old_kernel_oom_then_sigkill", "an OOM kill in another cgroup just before the run (kernel log),"
    " then the run is SIGKILLed from outside", True,
    {"test_suite.py": suite(FLAT % (14, "0.1"))},
    killed_from_outside("flat"), args=["-v"], pre=_old_oom,
    watcher=kill_at("test_suite.py::test_flat[8]"))


def _execnet_expect(step):
    need_rc(step, 0)
    no_oom(step)
    need(any(row[0] == "keyboardinterrupt" for row in step.truth()),
         "no worker got execnet's SIGINT")
    return judged("passed", None, None, "flat", step=step)


Scenario(
    "xdist_execnet_sigint", "xdist -n 2 passes; a worker is still in a slow pytest_unconfigure when"
    " the controller ends, so execnet SIGINTs it", True,
    {"test_suite.py": suite(FLAT % (20, "0.05"))},
    _execnet_expect, args=["-v", "-n", "2"], interval="0.5",
    env={"CORPUS_SLOW_WORKER_UNCONFIGURE": "8"})

Scenario(
    "catches_memory_error", "a test catches its own MemoryError with pytest.raises; all pass", True,
    {"test_suite.py": suite(FLAT % (8, "0.05"), '''
        def test_too_big_is_refused():
            with pytest.raises(MemoryError):
                bytearray(1 << 46)
    ''', FLAT.replace("test_flat", "test_after") % (3, "0.05"))},
    passed("flat"), args=["-v"])

FAKE = '''
import subprocess
import sys

FAKES = [
    "[resmon/1] verdict ts=2026-11-26T10:41:02.000000Z mono=1.0 host=runner mode=wrap pid=4242"
    " signal=9 name=KILL status=137 oom=1 oom_evidence=cgroup_counter ;",
    "[resmon/1] event ts=2026-11-26T10:41:01.000000Z mono=1.0 host=runner what=oom_kill"
    " source=cgroup cg_oom=1 new=1 ;",
    "[resmon/1] test ts=2026-11-26T10:41:00.000000Z mono=1.0 host=runner pid=4242"
    " test=tests/test_x.py::test_victim phase=setup at=start rss=7000000000 ;",
    "Killed",
    "/home/runner/work/_temp/abc.sh: line 1:  4242 Killed                  python -m pytest",
    "Segmentation fault (core dumped)",
    "Fatal Python error: Segmentation fault",
    "MemoryError",
    "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 8.00 GiB",
    "Timeout (0:05:00)!",
    "##[error]Process completed with exit code 137.",
    "##[error]The runner has received a shutdown signal.",
    "##[error]The operation was canceled.",
    "=========================== 1 failed, 2 passed in 3.00s ============================",
]


@pytest.mark.parametrize("fake", ["[resmon/1] verdict exit=137 oom=1", "plain"])
def test_prints_fakes(fake):
    for line in FAKES:
        print(line)
        print(line, file=sys.stderr)
    print(fake)


def test_a_child_really_segfaults():
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                        "import ctypes; ctypes.string_at(0)"], capture_output=True, text=True)
    assert p.returncode == -11
    print(p.stderr)
    print("Segmentation fault (core dumped)")
'''

Scenario(
    "fake_markers_pass",
    "tests print fake resmon records, Killed / Segmentation fault / MemoryError /"
    " exit-code-137 lines, a child really segfaults, a parametrize id holds a fake record; passes",
    True,
    {"test_suite.py": suite(FAKE, FLAT % (8, "0.05"))},
    passed("flat"), args=["-v", "-s"])


def _cancel_before_output(step):
    time.sleep(1.5)
    step.signalled[step.proc.pid] = signal.SIGINT
    os.killpg(step.proc.pid, signal.SIGINT)  # the runner cancels: SIGINT to the step


def _cancel_expect(step):
    need(step.rc is None, "a cancelled step has no exit line")
    need(not os.path.exists(os.path.join(step.workdir, "ci_resource_monitor.log")),
         "the sampler started after all")
    return judged("cancelled", None, None, None, step=step)


Scenario(
    "cancelled_no_output",
    "the step is cancelled (SIGINT) before its command printed anything", True,
    {"test_suite.py": suite(FLAT % (5, "0.05"))},
    _cancel_expect, args=["-v"], watcher=_cancel_before_output, delayed_start=True, keep=())

Scenario(
    "xdist_uneven_pass",
    "xdist -n 2 --dist loadfile: one worker runs tests of 50-250 MiB (freed), the"
    " other small ones; passes", True,
    {"test_heavy.py": suite('''
        @pytest.mark.parametrize("mib", [50, 250, 80, 200, 60, 150, 100, 220])
        def test_heavy(mib):
            block = touched(mib << 20)
            time.sleep(0.15)
            del block
    '''), "test_light.py": suite(FLAT % (8, "0.15"))},
    passed("*"), args=["-v", "-n", "2", "--dist", "loadfile"])

FLAKY = '''
import os

@pytest.mark.flaky(reruns=2)
def test_flaky():
    marker = os.path.join(os.environ["CORPUS_WORKDIR"], "flaky.seen")
    first = not os.path.exists(marker)
    open(marker, "w").close()
    assert not first, "fails the first time only"
'''

Scenario(
    "flaky_rerun_pass",
    "a flaky test fails once and passes on its rerun (pytest-rerunfailures)", True,
    {"test_suite.py": suite(FLAT % (6, "0.05"), FLAKY, FLAT.replace("test_flat", "test_after")
                            % (4, "0.05"))},
    passed("flat"), args=["-v"])


# ---- positive: deaths the report must explain ----

def oom_expect(trend, culprit="killed", joblog_culprit=None, phase=None, rc=None):
    """An OOM kill of one process of the run; culprit "killed" means the test
    that process was running (its own growth), else the given value. rc: the
    step's exit status, when it is known (137: the test process itself)."""
    def expect(step):
        if rc is not None:
            need_rc(step, rc)
        pid, test, ph = the_oom_victim(step)
        need(phase is None or ph == phase, "killed in %s, meant %s" % (ph, phase))
        who = test if culprit == "killed" else culprit
        job = {}
        if joblog_culprit is not None:
            job["culprit"] = joblog_culprit(step, pid, test, who)
        return judged("oom_kill", test, who, trend, job, step=step)
    return expect


Scenario(
    "oom_linear_leak", "a linear leak (20 MiB kept per test) ended by a real OOM kill in a 400 MiB"
    " cgroup", False,
    {"test_suite.py": suite('''
        KEEP = []

        @pytest.mark.parametrize("i", range(40))
        def test_leaks(i):
            KEEP.append(touched(20 << 20))
            time.sleep(0.1)
    ''')},
    # every test kept the same 20 MiB: no single test's growth caused the kill
    oom_expect("leak", culprit="unknown", rc=137),
    args=["-v"], cgroup=400 * MiB)

Scenario(
    "oom_sudden_after_flat", "10 flat tests, then one test allocates 800 MiB at once in a 400 MiB"
    " cgroup: real OOM kill; buffered stdout", False,
    {"test_suite.py": suite(FLAT % (10, "0.1"), '''
        def test_big():
            hold = []
            for _ in range(16):
                hold.append(touched(50 << 20))

        def test_never_runs():
            pass
    ''')},
    # test_big never ended: the series of finished tests is flat
    oom_expect("flat", rc=137), args=["-v"], cgroup=400 * MiB, unbuffered=False)

Scenario(
    "oom_fixture_setup", "a function fixture grows (20 MiB steps) until the OOM kill, during the"
    " setup of the 9th test", False,
    {"test_suite.py": suite(FLAT % (8, "0.1"), '''
        @pytest.fixture
        def model():
            hold = []
            for _ in range(60):
                hold.append(touched(20 << 20))
                time.sleep(0.03)
            return hold

        def test_uses_model(model):
            assert model
    ''')},
    oom_expect("flat", phase="setup", rc=137),
    args=["-v"], cgroup=400 * MiB)

def _rerun_dies_expect(step):
    calls = [row for row in step.truth() if row[0] == "begin" and row[2] == "call"
             and row[3] == "test_suite.py::test_flaky_big"]
    need(len(calls) == 2, "test_flaky_big began its call %d times, not 2" % len(calls))
    # the failed first attempt ended holding 200 MiB: one test carries the rise
    return oom_expect("single", rc=137)(step)


RERUN_DIES = '''
KEEP = []

@pytest.mark.flaky(reruns=1)
def test_flaky_big():
    KEEP.append(touched(200 << 20))   # the failed attempt's data stays referenced
    time.sleep(0.3)
    attempts = len(KEEP)              # (an assert on KEEP itself would repr 200 MiB)
    assert attempts > 1, "fails the first time"
'''

Scenario(
    "rerun_dies",
    "pytest-rerunfailures: a test fails, keeps 200 MiB, and its rerun allocates 200 MiB"
    " more: real OOM kill in a 380 MiB cgroup during the rerun", False,
    {"test_suite.py": suite(FLAT % (6, "0.1"), RERUN_DIES)},
    _rerun_dies_expect, args=["-v"], cgroup=380 * MiB)

XDIST_CULPRIT = '''
def test_grows():
    time.sleep(1.0)
    hold = []
    for _ in range(45):
        hold.append(touched(10 << 20))
        time.sleep(0.05)
    time.sleep(2.0)
'''

XDIST_VICTIMS = '''
import os

@pytest.fixture(scope="module", autouse=True)
def big_and_first_to_die():
    # this worker volunteers for the OOM killer, and holds 150 MiB from the start
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    return touched(150 << 20)

@pytest.mark.parametrize("i", range(30))
def test_small(i):
    time.sleep(0.25)
'''


def _joblog_culprit(step, pid, test, who):
    """What the job log alone can say: the culprit's growth must show in the
    sampler's echo lines (64 MiB at least) for the job log to name it."""
    cpid = None
    for row in step.truth():
        if row[0] == "begin" and row[3] == who:
            cpid = row[1]
    growth = step.joblog_growth(cpid, who) if cpid else None
    step.notes.append("job-log growth of %s: %s" % (who, growth))
    return who if growth is not None and growth >= 64 * MiB else "unknown"


def _xdist_victim_expect(step):
    pid, test, _ = the_oom_victim(step)
    need(test.startswith("test_victims.py::"), "the kernel killed %s, not a victim" % test)
    out = judged("oom_kill", test, "test_culprit.py::test_grows", "*", step=step)
    out["joblog"]["culprit"] = _joblog_culprit(step, pid, test, "test_culprit.py::test_grows")
    return out


Scenario(
    "xdist_oom_culprit_victim", "xdist -n 2 in a 600 MiB cgroup: test_grows grows 450 MiB on one"
    " worker; the kernel kills the other worker (oom_score_adj 1000, 150 MiB held) mid-test", False,
    {"test_culprit.py": suite(XDIST_CULPRIT), "test_victims.py": suite(XDIST_VICTIMS)},
    _xdist_victim_expect, args=["-v", "-n", "2", "--dist", "loadfile", "--max-worker-restart", "0"],
    cgroup=600 * MiB)

XDIST_GROWS = '''
def test_grows_until_killed():
    time.sleep(0.5)
    hold = []
    while True:
        hold.append(touched(10 << 20))
        time.sleep(0.05)
'''


def _respawn_expect(step):
    need_rc(step, 1)
    need("replacing crashed worker" in step.joblog.data().decode("ascii", "replace"),
         "xdist did not replace the crashed worker")
    return oom_expect("*", joblog_culprit=_joblog_culprit)(step)


Scenario(
    "xdist_respawned_worker",
    "xdist -n 2 in a 500 MiB cgroup: one test grows until the kernel kills"
    " its worker; xdist replaces the worker and the run ends (1 failed)", False,
    {"test_suite.py": suite(FLAT % (16, "0.2"), XDIST_GROWS)},
    _respawn_expect, args=["-v", "-n", "2"], cgroup=500 * MiB)

Scenario(
    "xdist_oom_joblog_only",
    "xdist -n 2 in a 500 MiB cgroup, the growing test's worker is OOM-killed,"
    " no restart; only the job log survives (no sampler log, no records)", False,
    {"test_grows.py": suite(XDIST_GROWS), "test_other.py": suite(FLAT % (16, "0.2"))},
    lambda s: _only_joblog(oom_expect("*", joblog_culprit=_joblog_culprit)(s)),
    args=["-v", "-n", "2", "--dist", "loadfile", "--max-worker-restart", "0"],
    cgroup=500 * MiB, keep=())


def _only_joblog(out):
    out["all"] = dict(out["joblog"])  # the job log is all there is
    return out


def _memory_error_expect(trend):
    def expect(step):
        need_rc(step, 1)
        no_oom(step)
        need(b"MemoryError" in step.joblog.data(), "no MemoryError")
        failed = [row[3] for row in step.truth() if row[0] == "begin" and row[2] == "call"
                  and "too_much" in row[3]]
        need(len(failed) == 1, "the allocating test ran %d times" % len(failed))
        return judged("memory_error", failed[0], failed[0], trend, step=step)
    return expect


Scenario(
    "memory_error_rlimit",
    "RLIMIT_AS 512 MiB in the test process: a test grows in 25 MiB steps until"
    " MemoryError; the run goes on and fails", False,
    {"test_suite.py": suite(FLAT % (8, "0.05"), '''
        def test_allocates_too_much():
            hold = []
            while True:
                hold.append(touched(25 << 20))
                time.sleep(0.02)
    ''', FLAT.replace("test_flat", "test_after") % (3, "0.05"))},
    _memory_error_expect("single"), args=["-v"], env={"CORPUS_RLIMIT_AS": str(512 * MiB)})

Scenario(
    "memory_error_huge_alloc",
    "a test asks for a 64 TiB buffer (numpy-like) and gets MemoryError at"
    " once; the run goes on and fails", False,
    {"test_suite.py": suite(FLAT % (8, "0.05"), '''
        def test_allocates_too_much():
            buf = bytearray(1 << 46)
            assert buf
    ''', FLAT.replace("test_flat", "test_after") % (3, "0.05"))},
    _memory_error_expect("flat"), args=["-v"])


def _crash_expect(kind, rc, trend="flat"):
    def expect(step):
        need_rc(step, rc)
        no_oom(step)
        dead = [(pid, step.unfinished(pid)) for pid in step.pids() if step.unfinished(pid)]
        need(len(dead) == 1, "unfinished tests: %s" % dead)
        return judged(kind, dead[0][1][0], None, trend, step=step)
    return expect


Scenario(
    "segfault_ctypes", "ctypes.string_at(0) segfaults the 8th of 12 tests", False,
    {"test_suite.py": suite(FLAT % (7, "0.05"), '''
        import ctypes

        def test_crash():
            ctypes.string_at(0)
    ''', FLAT.replace("test_flat", "test_after") % (4, "0.05"))},
    _crash_expect("segfault", 139), args=["-v"])

Scenario(
    "sigabrt", "os.abort() in the 8th test (SIGABRT)", False,
    {"test_suite.py": suite(FLAT % (7, "0.05"), '''
        import os

        def test_aborts():
            os.abort()
    ''', FLAT.replace("test_flat", "test_after") % (4, "0.05"))},
    _crash_expect("signal", 134), args=["-v"])


def _xdist_segv_expect(step):
    need_rc(step, 1)
    no_oom(step)
    text = step.joblog.data().decode("ascii", "replace")
    need("replacing crashed worker" in text, "xdist did not replace the crashed worker")
    crashed = [row[3] for row in step.truth() if row[0] == "begin" and row[2] == "call"
               and row[3].endswith("test_crash")]
    return judged("segfault", crashed[0], None, "*", step=step)


Scenario(
    "xdist_segfault_worker",
    "xdist -n 2: a test segfaults its worker; xdist replaces it and the run"
    " ends (1 failed)", False,
    {"test_suite.py": suite(FLAT % (8, "0.1"), '''
        import ctypes

        def test_crash():
            time.sleep(0.3)
            ctypes.string_at(0)
    ''', FLAT.replace("test_flat", "test_after") % (8, "0.1"))},
    _xdist_segv_expect, args=["-v", "-n", "2"])

Scenario(
    "sigterm_outside", "SIGTERM to pytest (not through the runner) in the 8th test", False,
    {"test_suite.py": suite(FLAT % (12, "0.1"))},
    killed_from_outside("flat", signal.SIGTERM, "signal"), args=["-v"],
    watcher=kill_at("test_suite.py::test_flat[7]", signal.SIGTERM))


def _shutdown(step):
    step.wait_begin("test_suite.py::test_flat[6]")
    time.sleep(0.3)
    step.joblog.add(SHUTDOWN_MSG)
    step.kill(step.proc.pid, signal.SIGTERM)  # the runner stops the step's process


def _shutdown_expect(step):
    need_rc(step, 143)
    no_oom(step)
    dead = [(pid, step.unfinished(pid)) for pid in step.pids() if step.unfinished(pid)]
    need(len(dead) == 1, "unfinished tests: %s" % dead)
    return judged("runner_shutdown", dead[0][1][0], None, "flat", step=step)


Scenario(
    "runner_shutdown", "the runner receives a shutdown signal: its message, SIGTERM to the step"
    " (the sampler forwards it after SIGUSR1 and a grace)", False,
    {"test_suite.py": suite(FLAT % (20, "0.2"))},
    _shutdown_expect, args=["-v"], watcher=_shutdown)

HANG = '''
import threading

def test_hangs():
    threading.Event().wait()
'''


def _hang_expect(rc):
    def expect(step):
        need(step.rc == rc, "step status %r, wanted %r" % (step.rc, rc))
        no_oom(step)
        hung = [row[3] for row in step.truth() if row[0] == "begin" and row[2] == "call"
                and row[3].endswith("test_hangs")]
        need(len(hung) == 1, "test_hangs ran %d times" % len(hung))
        return judged("hang", hung[0], None, "flat", step=step)
    return expect


Scenario(
    "hang_timeout_thread", "pytest-timeout (--timeout 3, thread method) dumps the stacks of a hung"
    " test and ends the process", False,
    {"test_suite.py": suite(FLAT % (8, "0.05"), HANG, FLAT.replace("test_flat", "test_after")
                            % (3, "0.05"))},
    _hang_expect(1), args=["-v", "--timeout", "3", "--timeout-method", "thread"])


def _job_time_limit(step):
    step.wait_joblog(b"Timeout (0:00:02)!")
    time.sleep(1.0)
    step.joblog.add(b"##[error]The job running on runner corpus has exceeded the maximum execution"
                    b" time of 1 minutes.")
    step.kill(step.proc.pid, signal.SIGINT)  # the runner cancels the step


Scenario(
    "hang_job_time_limit", "a test hangs; faulthandler_timeout=2 dumps stacks; the job time limit"
    " cancels the step (SIGINT)", False,
    {"test_suite.py": suite(FLAT % (8, "0.05"), HANG, FLAT.replace("test_flat", "test_after")
                            % (3, "0.05"))},
    _hang_expect(None), args=["-v", "-o", "faulthandler_timeout=2"], watcher=_job_time_limit,
    cancelled=True)


# ------------------------------------------------------------- recording --

def display_command(sc):
    """The step's script as the runner echoes it in ##[group]Run."""
    words = ["resmon-sampler", "-i", sc.interval, "--top", "5", "--echo", "1", "--grace", "1",
             "--", "python", "-m", "pytest", "-p", "no:cacheprovider", "--resmon",
             "--resmon-records", "records.log"]
    line = " ".join(shlex.quote(w) for w in words + sc.args)
    if sc.delayed_start:
        line = "sleep 30 && " + line
    return line


def record(sc):
    """Runs one scenario; returns (expected entry, notes) or raises ScenarioFailed."""
    outdir = os.path.join(HERE, sc.name)
    workdir = tempfile.mkdtemp(prefix="resmon_corpus_%s_" % sc.name)
    try:
        return _record(sc, outdir, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _record(sc, outdir, workdir):
    step = Step(workdir, outdir)
    for name, body in dict(sc.files, **{"conftest.py": TRUTH_CONFTEST}).items():
        with open(os.path.join(workdir, name), "w") as f:
            f.write(body)
    here = {"sampler": os.path.join(workdir, "ci_resource_monitor.log"),
            "records": os.path.join(workdir, "records.log")}
    if "sampler" in sc.keep:
        here["sampler"] = os.path.join(outdir, "ci_resource_monitor.log")
    if "records" in sc.keep:
        here["records"] = os.path.join(outdir, "records.log")
    os.makedirs(outdir, exist_ok=True)
    for name in ("job.log", "ci_resource_monitor.log", "records.log", "truth.log"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(outdir, name))
    cmd = [SAMPLER, "-i", sc.interval, "--top", "5", "--echo", "1", "--grace", "1",
           "-o", here["sampler"], "--", PY, "-m", "pytest", "-p", "no:cacheprovider", "--resmon",
           "--resmon-records", here["records"]] + sc.args
    if sc.delayed_start:
        cmd = ["sh", "-c", 'sleep 30 && exec "$@"', "sh"] + cmd
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env.update({"CORPUS_TRUTH": step.truth_path, "CORPUS_WORKDIR": workdir,
                "PYTHONDONTWRITEBYTECODE": "1", "CI": "true", "GITHUB_ACTIONS": "true",
                "GITHUB_RUN_ID": str(int(time.time())), "GITHUB_RUN_ATTEMPT": "1",
                "GITHUB_JOB": "tests", "GITHUB_WORKFLOW": "corpus", "RUNNER_OS": "Linux",
                "RUNNER_NAME": "corpus", "RUNNER_ARCH": "X64"})
    if sc.unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    env.update(sc.env)
    if sc.pre:
        sc.pre(step)
    step.joblog.add(b"##[group]Run " + display_command(sc).encode())
    step.joblog.add(display_command(sc).encode())
    step.joblog.add(b"shell: /usr/bin/bash -e {0}")
    step.joblog.add(b"##[endgroup]")
    kmsg = Kmsg()
    with contextlib.ExitStack() as stack:
        preexec = None
        group = None
        if sc.cgroup:
            group = stack.enter_context(memcg.memory_cgroup("resmon_corpus_" + sc.name, sc.cgroup))
            preexec = memcg.enter_fn(group)
        step.proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec, start_new_session=True)

        def read():
            for line in iter(step.proc.stdout.readline, b""):
                step.joblog.add(line[:-1] if line.endswith(b"\n") else line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        watch_error = []
        if sc.watcher:
            def watch():
                try:
                    sc.watcher(step)
                except Exception as exc:  # reported below, after the step ended
                    watch_error.append(exc)
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
        try:
            step.proc.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(step.proc.pid, signal.SIGKILL)
            step.proc.wait()
            raise ScenarioFailed("the step ran longer than %d s" % STEP_TIMEOUT)
        finally:
            reader.join(timeout=20)
            if reader.is_alive():  # a leftover worker holds the pipe
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(step.proc.pid, signal.SIGKILL)
                reader.join(timeout=5)
            if sc.watcher:
                watcher.join(timeout=30)
        if watch_error:
            raise ScenarioFailed("watcher: %s" % watch_error[0])
        step.kmsg = kmsg.read()
        pids = set(step.pids())
        step.oom_pids = Kmsg.killed_pids(step.kmsg) & pids
        rc = step.proc.returncode
        if sc.cancelled:
            step.rc = None                        # cancelled: the runner prints no exit code
            step.joblog.add(CANCELED_MSG)
        else:
            step.rc = 128 - rc if rc < 0 else rc  # what bash would report
            if step.rc:
                step.joblog.add(b"##[error]Process completed with exit code %d." % step.rc)
        if group is not None:  # the group is removed on leaving: note its OOM counter first
            with open(os.path.join(group, "memory.oom_control")) as f:
                step.notes.append("cgroup " + " ".join(f.read().split()[-2:]))
    with open(os.path.join(outdir, "job.log"), "wb") as f:
        f.write(step.joblog.data())
    if os.path.exists(step.truth_path):
        shutil.copyfile(step.truth_path, os.path.join(outdir, "truth.log"))
    expected = sc.expect(step)
    for name in os.listdir(outdir):
        size = os.path.getsize(os.path.join(outdir, name))
        need(size < MAX_FILE_BYTES, "%s/%s is %d bytes" % (sc.name, name, size))
    entry = {"what": sc.what, "negative": sc.negative}
    entry.update(expected)
    return entry, step.notes


def dump_expected(expected):
    """expected.json, one line per mode so that a diff reads per scenario."""
    out = []
    for name in sorted(expected):
        e = expected[name]
        out.append("  %s: {\n    \"what\": %s,\n    \"negative\": %s,\n"
                   "    \"all\": %s,\n    \"joblog\": %s\n  }"
                   % (json.dumps(name), json.dumps(e["what"]), json.dumps(e["negative"]),
                      json.dumps(e["all"]), json.dumps(e["joblog"])))
    return "{\n" + ",\n".join(out) + "\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="scenarios to record (default: all)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    opts = ap.parse_args()
    if opts.list:
        for sc in SCENARIOS.values():
            print("%-28s %s  %s" % (sc.name, "neg" if sc.negative else "pos", sc.what))
        return 0
    unknown = [n for n in opts.names if n not in SCENARIOS]
    if unknown:
        ap.error("unknown scenario(s): %s (see --list)" % ", ".join(unknown))
    reason = memcg.cgroup_v1_reason()
    if reason:
        print("record.py: %s: the OOM scenarios cannot be recorded here" % reason, file=sys.stderr)
        return 2
    # the sampler from the current sources (the report is not needed to record)
    subprocess.run(["nice", "make", "-s", "-C", os.path.join(ROOT, "csrc"),
                    "../build/c/resmon-sampler"], check=True)
    try:
        with open(EXPECTED) as f:
            expected = json.load(f)
    except FileNotFoundError:
        expected = {}
    failed = []
    t0 = time.monotonic()
    for name in opts.names or list(SCENARIOS):
        t = time.monotonic()
        try:
            entry, notes = record(SCENARIOS[name])
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # ScenarioFailed, a bug, or memcg's pytest.skip()
            failed.append(name)
            print("%-28s FAILED: %s: %s" % (name, type(exc).__name__, exc), flush=True)
            continue
        expected[name] = entry
        print("%-28s %5.1fs  %s %s" % (name, time.monotonic() - t,
                                       json.dumps(entry["all"]), "; ".join(notes)), flush=True)
        with open(EXPECTED, "w") as f:  # after every scenario: a later failure keeps the rest
            f.write(dump_expected(expected))
    print("recorded %d scenario(s) in %.0f s; failed: %s"
          % (len(opts.names or SCENARIOS) - len(failed), time.monotonic() - t0,
             ", ".join(failed) or "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
