# SPDX-License-Identifier: MIT
"""Crash boundaries in real processes: real signals, real crashes, real
pytest sessions (the resmon plugin, enabled with --resmon), exit statuses."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from childio import stderr_until
from recordparse import records

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="signals, /proc/self/task and the exit statuses "
                                "tested here are Linux's")

HERE = os.path.dirname(os.path.abspath(__file__))


def clean_env(**extra):
    """The environment of a child: no outer pytest/xdist/resmon state."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "RESMON", "IT_")) and k != "PYTHONFAULTHANDLER"}
    env.update(extra)
    return env


def run_pytest(tmp_path, source, *args, timeout=120, conftest=None):
    (tmp_path / "test_child.py").write_text(textwrap.dedent(source))
    if conftest:
        (tmp_path / "conftest.py").write_text(textwrap.dedent(conftest))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--resmon",
           "--resmon-markers", "none", *args, "test_child.py"]
    return subprocess.run(cmd, cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          errors="replace", timeout=timeout)


def run_script(source, *, timeout=60, env=None):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env=env or clean_env(),
                          capture_output=True, text=True, errors="replace", timeout=timeout)


def one(recs, **want):
    hits = [f for _, f in recs if all(f.get(k) == v for k, v in want.items())]
    assert len(hits) == 1, (want, recs)
    return hits[0]


def dump_block(text, **want):
    """The text between the dump at=begin record matching want and its end."""
    lines = text.splitlines()
    start = end = None
    for i, line in enumerate(lines):
        rec = records(line, "dump")
        if not rec:
            continue
        f = rec[0][1]
        if start is None and f["at"] == "begin" and all(f.get(k) == v for k, v in want.items()):
            start = i
        elif start is not None and f["at"] == "end":
            end = i
            break
    assert start is not None and end is not None, text[-3000:]
    return "\n".join(lines[start + 1:end])


# ---------------------------------------------------------------- fatal --

SEGV_TEST = """
    import ctypes, threading
    ev = threading.Event()

    def test_fine():
        pass

    def test_segv():
        threads = [threading.Thread(target=ev.wait, daemon=True) for _ in range(100)]
        for t in threads:
            t.start()
        ctypes.string_at(0)
"""


@pytest.mark.parametrize("faulthandler_plugin", ["on", "off"])
def test_segfault_with_100_threads(tmp_path, faulthandler_plugin):
    args = ["-p", "no:faulthandler"] if faulthandler_plugin == "off" else []
    res = run_pytest(tmp_path, SEGV_TEST, *args)
    assert res.returncode == -signal.SIGSEGV, res.stderr[-2000:]
    err = res.stderr
    gasp = one(records(err, "gasp"), signal="SIGSEGV")
    assert gasp["signo"] == "11" and gasp["_complete"]
    assert gasp["test"] == "test_child.py::test_segv" and gasp["phase"] == "call"
    assert int(gasp["thr"]) >= 101 and int(gasp["rss"]) > 0 and "mem_avail" in gasp
    native = dump_block(err, reason="signal", signal="SIGSEGV")
    assert native.count("  tid=") >= 101 and " current" in native
    # faulthandler's own block follows, once (chained, not duplicated)
    assert err.count("Fatal Python error: Segmentation fault") == 1
    tail = err[err.index("Fatal Python error"):]
    assert tail.count("Thread 0x") >= 99  # faulthandler lists at most 100 threads
    # the crashing thread's stack, printed first because > 100 threads are alive
    assert "in test_segv" in err[:err.index("Fatal Python error")]
    assert err.index("[resmon/1] gasp") < err.index("Fatal Python error")


def test_abort_keeps_status(tmp_path):
    res = run_script("""
        import faulthandler, os, resmon
        faulthandler.enable()
        resmon.set_output_fd(2)
        resmon.install_crash_handlers()
        resmon.set_current_test("t.py::test_abort", "teardown")
        os.abort()
    """)
    assert res.returncode == -signal.SIGABRT
    gasp = one(records(res.stderr, "gasp"), signal="SIGABRT")
    assert gasp["test"] == "t.py::test_abort" and gasp["phase"] == "teardown"
    assert res.stderr.count("Fatal Python error: Aborted") == 1


# ---------------------------------------------------------------- SIGTERM --

SLEEP_TEST = """
    import os, pathlib, threading, time
    ev = threading.Event()

    def test_sleeps():
        for i in range(5):
            threading.Thread(target=ev.wait, name="helper-%d" % i, daemon=True).start()
        pathlib.Path("ready").write_text(str(os.getpid()))
        deadline = time.time() + 60
        while not os.path.exists("go") and time.time() < deadline:
            time.sleep(0.02)
        assert os.path.exists("go")
"""


def start_pytest(tmp_path, source, *args):
    (tmp_path / "test_child.py").write_text(textwrap.dedent(source))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--resmon",
           "--resmon-markers", "none", *args, "test_child.py"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    ready = tmp_path / "ready"
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "child never got ready"
        time.sleep(0.02)
    time.sleep(0.1)  # well inside the sleep loop
    return proc


def test_sigterm_mid_test(tmp_path):
    proc = start_pytest(tmp_path, SLEEP_TEST)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err[-2000:]
    gasp = one(records(err, "gasp"), signal="SIGTERM")
    assert gasp["test"] == "test_child.py::test_sleeps" and gasp["phase"] == "call"
    assert gasp["signo"] == "15" and int(gasp["thr"]) >= 6
    block = dump_block(err, reason="signal", signal="SIGTERM")
    assert "in test_sleeps" in block  # the Python stack of the test
    assert block.count("Thread 0x") >= 5  # every other thread too
    assert block.count("  tid=") >= 6 and "Native threads: " in block
    assert err.index("[resmon/1] gasp") < err.index("[resmon/1] dump at=begin")
    assert "passed" not in out


def test_sigterm_through_a_shell_is_143(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(textwrap.dedent("""
        import faulthandler, os, resmon, signal
        resmon.set_output_fd(2)
        resmon.install_crash_handlers()
        os.kill(os.getpid(), signal.SIGTERM)
    """))
    res = subprocess.run(["sh", "-c", f'"{sys.executable}" "{script}"; echo "status=$?"'],
                         env=clean_env(), capture_output=True, text=True, timeout=60)
    assert "status=143" in res.stdout
    assert one(records(res.stderr, "gasp"), signal="SIGTERM")


def test_sigint_keeps_keyboard_interrupt(tmp_path):
    proc = start_pytest(tmp_path, SLEEP_TEST)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out[-1000:], err[-1000:])  # pytest: interrupted
    assert "KeyboardInterrupt" in out + err
    one(records(err, "gasp"), signal="SIGINT", test="test_child.py::test_sleeps")
    assert "in test_sleeps" in dump_block(err, signal="SIGINT")


def test_sigusr1_dumps_and_continues(tmp_path):
    proc = start_pytest(tmp_path, SLEEP_TEST)
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    (tmp_path / "go").write_text("")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out[-2000:], err[-2000:])
    assert "1 passed" in out
    block = dump_block(err, reason="signal", signal="SIGUSR1")
    assert "in test_sleeps" in block and "Native threads: " in block
    assert not records(err, "gasp")


# ---------------------------------------------------------------- MemoryError --

def test_memory_error_record_under_rlimit_as(tmp_path):
    res = run_pytest(tmp_path, """
        import resource, resmon

        def test_alloc():
            with open("/proc/self/statm") as f:
                vms = int(f.read().split()[0]) * resource.getpagesize()
            resource.setrlimit(resource.RLIMIT_AS, (vms + (256 << 20), resource.RLIM_INFINITY))
            blob = bytearray(4 << 30)
    """)
    assert res.returncode == 1, res.stdout[-2000:]
    assert "MemoryError" in res.stdout
    ev = one(records(res.stderr, "event"), what="memory_error")
    assert ev["test"] == "test_child.py::test_alloc" and ev["phase"] == "call"
    for key in ("rss", "hwm", "mem_avail"):
        assert int(ev[key]) > 0


# ---------------------------------------------------------------- xdist --

def test_xdist_worker_dump_reaches_the_job_log(tmp_path):
    pytest.importorskip("xdist")
    res = run_pytest(tmp_path, """
        import resmon

        def test_a():
            resmon.dump_threads()

        def test_b():
            resmon.dump_threads()
    """, "-n", "2")
    assert res.returncode == 0, res.stdout[-2000:]
    begins = [f for _, f in records(res.stderr, "dump") if f["at"] == "begin"]
    assert len(begins) == 2, res.stderr[-3000:]
    assert {f["test"] for f in begins} == {"test_child.py::test_a", "test_child.py::test_b"}
    assert "in test_a" in res.stderr and "in test_b" in res.stderr
    assert all(f.get("worker", "").startswith("gw") for f in begins)


# ---------------------------------------------------------------- dumps --

def test_dump_threads_with_500_threads(tmp_path):
    out = tmp_path / "dump.txt"
    res = run_script(f"""
        import threading, time, resmon
        ev = threading.Event()
        threads = [threading.Thread(target=ev.wait, name="t%03d" % i) for i in range(500)]
        for t in threads:
            t.start()
        with open({str(out)!r}, "w") as f:
            t0 = time.perf_counter()
            resmon.dump_threads(f)
            print("took", time.perf_counter() - t0)
        print(*(t.native_id for t in threads))
        ev.set()
    """)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    tids = res.stdout.splitlines()[1].split()
    assert len(tids) == 500
    assert "Python threads: 501" in text
    assert text.count("Current thread 0x") == 1 and text.count("\nThread 0x") == 500
    assert "'t499'" in text and "'t000'" in text
    for tid in tids:
        assert f"  tid={tid} " in text and f"(tid {tid}, " in text
    assert "Native threads: 501" in text
    begin = one(records(text, "dump"), at="begin")
    assert begin["reason"] == "request" and begin["pythr"] == "501" and begin["thr"] == "501"
    one(records(text, "dump"), at="end")
    assert float(res.stdout.split()[1]) < 5


NATIVE_HELPER = r"""
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
static volatile long tids[64];
static void *run(void *arg) {
    long i = (long)arg;
    char name[16];
    snprintf(name, sizeof(name), "rmnative%ld", i);
    pthread_setname_np(pthread_self(), name);
    tids[i] = syscall(SYS_gettid);
    for (;;) pause();
    return NULL;
}
int start(int n) {
    for (long i = 0; i < n && i < 64; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, run, (void *)i) != 0) return -1;
    }
    for (int i = 0; i < n; i++) while (!tids[i]) usleep(1000);
    return 0;
}
long tid(int i) { return tids[i]; }
"""


def test_native_threads_without_python_frames_are_listed(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the native-thread helper")
    src, lib = tmp_path / "helper.c", tmp_path / "libhelper.so"
    src.write_text(NATIVE_HELPER)
    subprocess.run([cc, "-shared", "-fPIC", "-pthread", "-o", str(lib), str(src)], check=True)
    res = run_script(f"""
        import ctypes, resmon, sys
        lib = ctypes.CDLL({str(lib)!r})
        assert lib.start(8) == 0
        print(*(lib.tid(i) for i in range(8)))
        sys.stdout.flush()
        resmon.set_output_fd(2)
        resmon.dump_threads()
    """)
    assert res.returncode == 0, res.stderr
    native = dump_block(res.stderr, reason="request")
    for i, tid in enumerate(res.stdout.split()):
        assert f'  tid={tid} name="rmnative{i}" state=S' in native
    assert "Python threads: 1 " in res.stderr  # no Python frame for them


def test_thread_threshold_event_once(tmp_path):
    res = run_script("""
        import threading, resmon
        resmon.set_output_fd(2)
        resmon.install_crash_handlers(thread_threshold=20)
        resmon.set_current_test("t.py::test_many", "call")
        ev = threading.Event()
        resmon.log_resource_snapshot("few", force=True)
        ts = [threading.Thread(target=ev.wait) for _ in range(30)]
        [t.start() for t in ts]
        resmon.log_resource_snapshot("many", force=True)
        resmon.log_resource_snapshot("again", force=True)
        ev.set()
    """)
    assert res.returncode == 0, res.stderr
    ev = one(records(res.stderr, "event"), what="threads")
    assert ev["threshold"] == "20" and int(ev["thr"]) > 20 and ev["test"] == "t.py::test_many"
    block = dump_block(res.stderr, reason="threads")
    assert block.count("Thread 0x") >= 30 and "Native threads: " in block
    assert len(records(res.stderr, "mark")) == 3


def test_install_is_idempotent_and_uninstall_restores(tmp_path):
    res = run_script("""
        import faulthandler, os, signal, resmon
        from resmon import _core
        faulthandler.enable()
        resmon.set_output_fd(2)
        resmon.install_crash_handlers()
        resmon.install_crash_handlers()
        st = _core.core._crash_state()
        assert set(st[k] for k in ("SIGSEGV", "SIGTERM", "SIGINT", "SIGUSR1")) == {"ours"}, st
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        resmon.crash.uninstall_crash_handlers()
        st = _core.core._crash_state()
        assert st["SIGTERM"] == "off" and st["thread_threshold"] == 0, st
        assert faulthandler.is_enabled()
        os.kill(os.getpid(), signal.SIGUSR1)   # default again: kills
        print("not reached")
    """)
    assert res.returncode == -signal.SIGUSR1, res.stderr
    assert "not reached" not in res.stdout
    assert not records(res.stderr, "dump")


# ---------------------------------------------------------------- watchdog --

def _hangs(text):
    return [f for _, f in records(text, "event") if f["what"] == "hang"]


def test_watchdog_fires_on_a_sleeping_test_and_repeats(tmp_path):
    # test_slow sleeps until the watchdog has fired twice (this test reads the
    # child's stderr), not for a fixed 2 s: the second dump at 1.6 s then no
    # longer depends on a loaded machine running the watchdog on time
    (tmp_path / "test_child.py").write_text(textwrap.dedent("""
        import os, time

        def test_quick():
            pass

        def test_slow():
            deadline = time.monotonic() + 60
            while not os.path.exists("go") and time.monotonic() < deadline:
                time.sleep(0.02)
            assert os.path.exists("go")

        def test_after():
            time.sleep(0.05)
    """))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "--resmon", "--resmon-markers", "none", "--resmon-dump-after", "0.8",
                             "test_child.py"], cwd=tmp_path, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = stderr_until(proc, lambda text: len(_hangs(text)) >= 2,
                            lambda: (tmp_path / "go").write_text(""))
    out = out.decode("utf-8", "replace")
    assert proc.returncode == 0, out[-2000:]
    hangs = _hangs(err)
    # one each 0.8 s while the test runs (a third if the child was slow to
    # see "go"), numbered in order
    repeats = [h["repeat"] for h in hangs]
    assert repeats == [str(i + 1) for i in range(len(hangs))] and len(hangs) >= 2, err[-3000:]
    assert {h["test"] for h in hangs} == {"test_child.py::test_slow"}
    for i, h in enumerate(hangs):
        assert float(h["waited"]) >= 0.8 * (i + 1), hangs
    assert hangs[0]["timeout"] == "0.800000" and int(hangs[0]["rss"]) > 0
    block = dump_block(err, reason="hang")
    assert "in test_slow" in block and 'name="resmon-watchdog"' in block


def test_watchdog_dumps_while_a_c_call_holds_the_gil():
    # the C call (a read of stdin, GIL held) returns once this test has seen
    # two hang dumps, not after a fixed second that a loaded machine's
    # watchdog could let pass with one
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import ctypes, resmon
        resmon.set_output_fd(2)
        resmon.set_current_test("t.py::test_stuck", "call")
        resmon.dump_after(0.3)
        buf = ctypes.create_string_buffer(1)
        ctypes.PyDLL(None).read(0, buf, 1)    # PyDLL: the GIL is held until it returns
        resmon.dump_after(None)
        print("done")
    """)], env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)

    def two_dumps(text):
        return len(_hangs(text)) >= 2 and text.count("[resmon/1] dump at=end") >= 2

    def release():
        proc.stdin.write(b"x")
        proc.stdin.flush()  # communicate() closes it

    out, err = stderr_until(proc, two_dumps, release)
    assert proc.returncode == 0 and b"done" in out, err
    hangs = _hangs(err)
    assert len(hangs) >= 2 and hangs[0]["test"] == "t.py::test_stuck"
    assert 'line 7 in <module>' in dump_block(err, reason="hang")


def test_watchdog_rearm_and_cancel_never_fire():
    # re-armed every 0.02 s for a 1 s timeout (50 times the period: a loaded
    # machine's late wake-up is not a hang), then cancelled and watched for
    # longer than the timeout
    res = run_script("""
        import time, resmon
        resmon.set_output_fd(2)
        for _ in range(20):
            resmon.dump_after(1.0)
            time.sleep(0.02)
        resmon.dump_after(None)
        time.sleep(1.5)
    """)
    assert res.returncode == 0, res.stderr
    assert not records(res.stderr)
