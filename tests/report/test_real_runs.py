# SPDX-License-Identifier: MIT
"""resmon-report on logs recorded by real pytest sessions that this test starts:
a leaking suite, a ctypes segfault, a SIGTERM, and an OOM kill in a cgroup v1 group."""

import datetime
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from memcg import enter_fn, memory_cgroup
from reporthelp import ROOT, check_text, run, run_json



def _tool(name):
    from resmon import _tools
    path = _tools.tool_path(name)
    if not os.access(path, os.X_OK):
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=ROOT,
                       check=True, capture_output=True)
    return path


def _suite(tmp_path, body):
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(body))
    return tmp_path


def _env(tmp_path):
    env = dict(os.environ, RESMON="1", RESMON_RECORDS=str(tmp_path / "records.log"),
               PYTHONFAULTHANDLER="1")
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _github_log(tmp_path, output, code):
    """The job log as GitHub stores it: a UTC stamp per line, then the exit line."""
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f0Z ")
    lines = [stamp.encode() + line for line in output.splitlines()]
    if code:
        lines.append(stamp.encode() + b"##[error]Process completed with exit code %d." % code)
    path = tmp_path / "job.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


PYTEST = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "test_suite.py"]


def test_leaking_suite_with_a_failure(tmp_path):
    _suite(tmp_path, """
        import pytest
        KEEP = []

        @pytest.fixture(scope="module")
        def big_module_data():
            return bytearray(60 * 1024 * 1024)  # touched below: resident

        @pytest.mark.parametrize("i", range(8))
        def test_leak(i, big_module_data):
            big_module_data[i * 4096] = 1
            block = bytearray(40 * 1024 * 1024)
            for k in range(0, len(block), 4096):
                block[k] = 1
            KEEP.append(block)

        def test_fails():
            assert 1 == 2
    """)
    p = subprocess.run(PYTEST, cwd=tmp_path, env=_env(tmp_path), capture_output=True, timeout=300)
    assert p.returncode == 1, p.stdout[-2000:]
    job = _github_log(tmp_path, p.stdout + p.stderr, p.returncode)
    rc, doc = run_json([job, str(tmp_path / "records.log")])
    assert doc["verdict"]["kind"] == "failed" and rc == 1
    assert doc["pytest"]["failed"] == 1 and doc["pytest"]["passed"] == 8
    trend = doc["trend"][0]
    assert trend["class"] == "leak", trend
    assert trend["n"] == 9
    assert 30 << 20 < trend["slope_bytes_per_test"] < 50 << 20
    outcomes = {t["id"]: t["outcome"] for t in doc["tests"]}
    assert outcomes["test_suite.py::test_fails"] == "failed"
    assert outcomes["test_suite.py::test_leak[3]"] == "passed"
    grown = [t["growth"] for t in doc["tests"] if t["id"].startswith("test_suite.py::test_leak")]
    assert all(g is not None and g > 30 << 20 for g in grown[1:])
    assert doc["fixtures"][0]["name"] == "big_module_data"
    # per instance: its setup held 60 MiB; its teardown gave it back (the tests'
    # own leak is theirs, not the fixture's)
    fx = doc["fixtures"][0]
    assert fx["held"] > 50 << 20 and fx["instances"] == 1
    assert fx["retained"] is not None and fx["retained"] < fx["held"] - (40 << 20)
    text = check_text(run([job, str(tmp_path / "records.log")]).stdout)
    assert "likely a leak" in text and "big_module_data" in text


def test_ctypes_segfault(tmp_path):
    _suite(tmp_path, """
        import ctypes

        def test_fine():
            pass

        def test_crash():
            ctypes.string_at(0)
    """)
    p = subprocess.run(PYTEST, cwd=tmp_path, env=_env(tmp_path), capture_output=True, timeout=300)
    assert p.returncode == -signal.SIGSEGV, p.stdout[-2000:] + p.stderr[-2000:]
    job = _github_log(tmp_path, p.stdout + p.stderr, 139)
    rc, doc = run_json([job])
    assert doc["verdict"]["kind"] == "segfault" and rc == 1
    assert doc["verdict"]["confidence"] >= 0.9
    assert doc["boundary"]["test"] == "test_suite.py::test_crash"
    assert doc["boundary"]["phase"] == "call"
    assert "test_crash" in (doc["verdict"]["crash_frame"] or "test_crash")
    # the record file alone (no job log) still says it
    rc, doc = run_json([str(tmp_path / "records.log")])
    assert doc["verdict"]["kind"] == "segfault"
    assert doc["boundary"]["test"] == "test_suite.py::test_crash"


def test_sigterm_mid_test(tmp_path):
    _suite(tmp_path, """
        import time

        def test_first():
            pass

        def test_sleeps():
            time.sleep(60)
    """)
    records = tmp_path / "records.log"
    proc = subprocess.Popen(PYTEST, cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if records.exists() and b"test_sleeps phase=call at=start" in records.read_bytes():
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the test never started")
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    code = 128 + signal.SIGTERM if proc.returncode < 0 else proc.returncode
    job = _github_log(tmp_path, out, code)
    rc, doc = run_json([job, str(records)])
    # SIGTERM without the runner's shutdown message: a signal, not proven to be the runner
    assert doc["verdict"]["kind"] == "signal", (doc["verdict"], out[-3000:])
    assert doc["verdict"]["signal"] == 15 and doc["verdict"]["level"] != "high"
    assert doc["boundary"]["test"] == "test_suite.py::test_sleeps"
    assert doc["boundary"]["phase"] == "call"


def test_oom_kill_in_a_cgroup(tmp_path):
    with memory_cgroup("resmon_report_test", 300 << 20) as cg:
        _suite(tmp_path, """
            import time

            def test_small():
                pass

            def test_grows():
                hold = []
                for _ in range(200):
                    block = bytearray(20 * 1024 * 1024)
                    for k in range(0, len(block), 4096):
                        block[k] = 1
                    hold.append(block)
                    time.sleep(0.1)  # 0.1 s samples see the rise (culprit's tree_peak)
        """)
        sampler_log = tmp_path / "sampler.log"
        cmd = [_tool("resmon-sampler"), "-q", "-i", "0.1", "-o", str(sampler_log), "--"] + PYTEST
        p = subprocess.run(cmd, cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                           timeout=300, preexec_fn=enter_fn(cg))
        assert p.returncode == 137, (p.returncode, p.stderr[-2000:])
        job = _github_log(tmp_path, p.stdout + p.stderr, p.returncode)
        rc, doc = run_json([job, str(sampler_log), str(tmp_path / "records.log")])
        v = doc["verdict"]
        assert v["kind"] == "oom_kill" and rc == 1, v
        assert v["confidence"] >= 0.9
        assert v["signal"] == 9 and v["exit_code"] == 137
        assert doc["boundary"]["test"] == "test_suite.py::test_grows"
        assert doc["culprit"]["id"] == "test_suite.py::test_grows"
        assert doc["culprit"]["tree_peak"] > 150 << 20
        assert doc["system"]["cg_lim"] == 300 << 20
        html = run(["--format", "html", job, str(sampler_log)]).stdout.decode("ascii")
        assert "<polyline" in html
