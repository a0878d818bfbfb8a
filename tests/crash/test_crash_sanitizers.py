# SPDX-License-Identifier: MIT
"""The gasp writer, the dump paths and the watchdog under ASan + UBSan.

The extension is compiled with -fsanitize=address,undefined into a temporary
package and run by an ordinary python with gcc's libasan preloaded; any
sanitizer report fails the test (UBSan is fatal: -fno-sanitize-recover)."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import textwrap

import pytest

from childio import stderr_until
from recordparse import records

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANFLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all"]


def _libasan():
    cc = shutil.which("gcc")
    if not cc:
        return None
    path = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


@pytest.fixture(scope="module")
def san_package(tmp_path_factory):
    if not sys.platform.startswith("linux"):
        pytest.skip("the sanitizer build is set up for Linux and gcc")
    libasan = _libasan()
    if not libasan:
        pytest.skip("gcc with libasan is not installed")
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        pytest.skip("no Python headers")
    out = tmp_path_factory.mktemp("san")
    pkg = out / "resmon"
    pkg.mkdir()
    for py in glob.glob(os.path.join(ROOT, "python", "resmon", "*.py")):
        shutil.copy(py, pkg)
    sources = sorted(f for f in glob.glob(os.path.join(ROOT, "csrc", "ext", "*.c"))
                     if not f.endswith("_win32.c")) + [
        os.path.join(ROOT, "csrc", "record", "write.c"),
        os.path.join(ROOT, "csrc", "record", "trend.c"),
        os.path.join(ROOT, "csrc", "probe", "linux.c")]
    target = pkg / ("_resmon" + sysconfig.get_config_var("EXT_SUFFIX"))
    cmd = ["gcc", "-shared", "-fPIC", "-O1", "-g", "-std=c11", "-D_GNU_SOURCE", "-Wall",
           "-Wextra", "-Werror", *SANFLAGS, "-I" + os.path.join(ROOT, "csrc"), "-I" + include,
           *sources, "-o", str(target), "-pthread"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RESMON"))}
    env.update(PYTHONPATH=str(out), LD_PRELOAD=libasan,
               ASAN_OPTIONS="detect_leaks=0:handle_segv=0:handle_abort=0:allow_user_segv_handler=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    return out, env


def run(env, source):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env=env,
                          capture_output=True, text=True, errors="replace", timeout=120)


def assert_clean(res):
    assert "AddressSanitizer" not in res.stderr, res.stderr[-4000:]
    assert "runtime error" not in res.stderr, res.stderr[-4000:]


def test_dumps_watchdog_and_sigterm_under_sanitizers(san_package):
    out, env = san_package
    # the C call that holds the GIL (a read of stdin) returns once this test
    # has seen the watchdog's dump, not after a fixed 0.5 s that a loaded
    # machine's watchdog could let pass
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import ctypes, faulthandler, os, signal, threading, time
        import resmon
        assert resmon._core.core.__file__.startswith(%r), resmon._core.core.__file__
        ext = ctypes.CDLL(resmon._core.core.__file__)  # the sanitizer runtimes are really in
        ext["__asan_report_load8"], ext["__ubsan_handle_add_overflow_abort"]
        faulthandler.enable()
        resmon.set_output_fd(2)
        resmon.install_crash_handlers(thread_threshold=8)
        resmon.set_current_test("t.py::test_" + "x" * 3000, "call")   # cut at the value limit
        ev = threading.Event()
        for _ in range(12):
            threading.Thread(target=ev.wait, daemon=True).start()
        resmon.log_resource_snapshot("threads", force=True)           # threshold dump
        resmon.dump_threads()                                           # Python path
        os.kill(os.getpid(), signal.SIGUSR1)                            # signal dump
        resmon.dump_after(0.2)
        buf = ctypes.create_string_buffer(1)
        ctypes.PyDLL(None).read(0, buf, 1)                              # watchdog, GIL held
        resmon.dump_after(None)
        os.kill(os.getpid(), signal.SIGTERM)                            # gasp + dump, dies
    """ % str(out))], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)

    def hang_dumped(text):
        return any(f.get("reason") == "hang" and f.get("at") == "end"
                   for _, f in records(text, "dump"))

    def release():
        proc.stdin.write(b"x")
        proc.stdin.flush()  # communicate() closes it

    _, err = stderr_until(proc, hang_dumped, release, timeout=120)
    res = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    assert_clean(res)
    assert res.returncode == -signal.SIGTERM, res.stderr[-4000:]
    kinds = {(k, f.get("what") or f.get("reason")) for k, f in records(err)}
    for want in [("event", "threads"), ("dump", "threads"), ("dump", "request"),
                 ("dump", "signal"), ("event", "hang"), ("dump", "hang"), ("gasp", None)]:
        assert want in kinds, (want, kinds)
    gasp = records(err, "gasp")[0][1]
    assert gasp["signal"] == "SIGTERM" and gasp["test"].startswith("t.py::test_xxx")
    assert len(gasp["test"]) < 1100  # the context buffer keeps the first 1023 bytes


def test_segfault_gasp_under_sanitizers(san_package):
    _, env = san_package
    res = run(env, """
        import ctypes, faulthandler, resmon
        faulthandler.enable()
        resmon.set_output_fd(2)
        resmon.install_crash_handlers()
        resmon.set_current_test("t.py::test_segv", "call")
        ctypes.string_at(0)
    """)
    assert_clean(res)
    assert res.returncode == -signal.SIGSEGV, res.stderr[-4000:]
    assert records(res.stderr, "gasp")[0][1]["test"] == "t.py::test_segv"
    assert "Fatal Python error: Segmentation fault" in res.stderr
