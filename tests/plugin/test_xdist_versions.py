# SPDX-License-Identifier: MIT
"""pytest-xdist (5,000 tests, no record lost or torn) and the oldest pytest 7."""

import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import pytest

from plughelp import find_records

pytest.importorskip("xdist", reason="pytest-xdist is not installed")

N_TESTS = 5000


def _many(n):
    return {"test_many.py": "import pytest\n\n@pytest.mark.parametrize('i', range(%d))\n"
                            "def test_n(i):\n    assert i >= 0\n" % n}


def test_xdist_5000_tests_every_record_back(run_pytest, tmp_path):
    rec = tmp_path / "records.log"
    res = run_pytest(_many(N_TESTS), ["-q", "-n", "2", "--resmon", "--resmon-records", str(rec)])
    assert res.rc == 0, res
    text = rec.read_text()
    lines = text.splitlines()
    assert all(l.startswith("[resmon/1] ") and l.endswith(" ;") for l in lines), \
        [l for l in lines if not (l.startswith("[resmon/1] ") and l.endswith(" ;"))][:3]
    tests = find_records(text, kind="test")
    per_test = collections.defaultdict(list)
    for r in tests:
        per_test[r["test"]].append((r["phase"], r["at"], r["worker"], r["pid"]))
    assert len(per_test) == N_TESTS
    for nodeid, recs in per_test.items():
        assert [(p, a) for p, a, _, _ in recs] == [
            ("setup", "start"), ("call", "start"), ("call", "end"), ("teardown", "end")], nodeid
        assert len({(w, p) for _, _, w, p in recs}) == 1  # one worker ran it
    workers = collections.Counter(r["worker"] for r in tests)
    assert set(workers) == {"gw0", "gw1"}, workers
    heads = find_records(text, kind="head")
    assert sorted(h.get("role") for h in heads) == ["controller", "worker", "worker"]
    assert len(find_records(text, kind="summary")) == 1
    # the job log: workers' setup and call start markers reached the controller's stderr
    marks = find_records(res, kind="test")
    assert len(marks) == 2 * N_TESTS and {m["worker"] for m in marks} == {"gw0", "gw1"}
    # the controller aggregated both workers
    assert "%d tests in 2 processes" % N_TESTS in res.out, res
    assert "leak trend (gw0" in res.out and "leak trend (gw1" in res.out


@pytest.mark.parametrize("capture", ["fd", "sys", "no"])
def test_xdist_markers_under_capture(run_pytest, capture):
    res = run_pytest(_many(6), ["-q", "-n", "2", "--resmon", "--capture=" + capture,
                                "-p", "no:faulthandler"])
    assert res.rc == 0, res
    marks = find_records(res, kind="test")
    assert len(marks) == 12 and {m["worker"] for m in marks} <= {"gw0", "gw1"}, res
    assert "6 tests in 2 processes" in res.out


OLD_PYTEST = "7.0.*"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: What a build of resmon reads; a change to any of it reinstalls resmon in the
#: cached venv. (Paths relative to the checkout.)
BUILD_INPUTS = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE", "csrc",
                "python")
#: Build products and caches inside BUILD_INPUTS that are not sources.
_NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.pyd", "*.o", "_bin",
                                      "*.egg-info")
#: What pip prints when it cannot reach the index (the only reason to skip).
_UNREACHABLE = ("NewConnectionError", "Temporary failure in name resolution",
                "Network is unreachable", "ConnectTimeoutError", "ReadTimeoutError",
                "ProxyError", "Max retries exceeded", "Connection refused")


def _sources_digest():
    """A digest of every file a resmon build reads (content, not mtime)."""
    h = hashlib.sha256()
    for top in BUILD_INPUTS:
        path = os.path.join(ROOT, top)
        if os.path.isfile(path):
            files = [path]
        else:
            files = []
            for d, dirs, names in os.walk(path):
                ignored = _NOT_SOURCES(d, dirs + names)
                dirs[:] = sorted(x for x in dirs if x not in ignored)
                files += [os.path.join(d, n) for n in sorted(names) if n not in ignored]
        for f in files:
            h.update(os.path.relpath(f, ROOT).encode() + b"\0")
            with open(f, "rb") as fh:
                h.update(fh.read() + b"\0")
    return h.hexdigest()


def _pip(cmd, what):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        if any(marker in out for marker in _UNREACHABLE):
            pytest.skip("the package index is unreachable, cannot install %s: %s"
                        % (what, out.strip().splitlines()[-1]))
        pytest.fail("installing %s failed:\n%s\n%s" % (what, " ".join(cmd), out[-3000:]))


def _old_pytest_venv(src_copy_dir):
    """A venv with the oldest pytest 7, the pytest-xdist that pip matches to it,
    and resmon built from a copy of this checkout (not editable: nothing is
    built into the checkout).

    It lives in this checkout's build/ directory (git-ignored), keyed by the
    running Python, so checkouts and Python versions never share it; it has no
    system site packages. The venv is kept between runs; resmon is reinstalled
    when any of its build inputs changed. A file lock serialises concurrent
    sessions of one checkout.
    """
    tag = "pytest70-%s-py%d%d" % (sys.implementation.name, *sys.version_info[:2])
    cache = os.path.join(ROOT, "build", "test-venvs")
    os.makedirs(cache, exist_ok=True)
    venv = os.path.join(cache, tag)
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = os.path.join(venv, bindir, "python")
    deps = ["pytest==" + OLD_PYTEST, "pytest-xdist", "setuptools>=61", "wheel"]
    want_venv = json.dumps({"base": os.path.realpath(sys.executable), "deps": deps})
    want_resmon = _sources_digest()
    venv_stamp = os.path.join(venv, "resmon-test-venv.json")
    resmon_stamp = os.path.join(venv, "resmon-test-sources.sha256")

    def read(path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return None

    with open(os.path.join(cache, tag + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if read(venv_stamp) != want_venv:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
            _pip([python, "-m", "pip", "install", "-q"] + deps, " ".join(deps))
            with open(venv_stamp, "w") as f:
                f.write(want_venv)
        if read(resmon_stamp) != want_resmon:
            src = os.path.join(str(src_copy_dir), "resmon")
            for top in BUILD_INPUTS:
                path = os.path.join(ROOT, top)
                if os.path.isdir(path):
                    shutil.copytree(path, os.path.join(src, top), ignore=_NOT_SOURCES)
                elif os.path.exists(path):
                    os.makedirs(src, exist_ok=True)
                    shutil.copy2(path, os.path.join(src, top))
            _pip([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                  "--force-reinstall", src], "resmon from a copy of " + ROOT)
            with open(resmon_stamp, "w") as f:
                f.write(want_resmon)
    return python


@pytest.mark.skipif(fcntl is None, reason="the cached venv's lock needs fcntl (POSIX)")
def test_oldest_pytest_7(run_pytest, tmp_path, tmp_path_factory):
    python = _old_pytest_venv(tmp_path_factory.mktemp("resmon-src"))
    version = subprocess.run([python, "-c", "import pytest; print(pytest.__version__)"],
                             stdout=subprocess.PIPE).stdout.decode().strip()
    assert version.startswith("7.0."), version
    files = dict(_many(20))
    files["test_more.py"] = """
        import pytest

        @pytest.fixture(scope="class")
        def held():
            return bytearray(b"\\x01") * (30 << 20)

        class TestA:
            def test_1(self, held):
                pass
            def test_2(self, held):
                pass

        @pytest.mark.resmon_limit(growth="10 MiB")
        def test_limited():
            test_limited.keep = bytearray(b"\\x01") * (40 << 20)

        @pytest.mark.requires_memory("1 TiB")
        def test_needs_a_lot():
            pass
    """
    rec = tmp_path / "rec.log"
    for extra in ([], ["-n", "2"]):
        rec.write_text("")
        res = run_pytest(files, ["-q", "-rs", "--resmon", "--resmon-records", str(rec)] + extra,
                         python=python)
        assert res.rc == 1, res
        assert "1 failed, 22 passed, 1 skipped" in res.out, res
        assert "limit growth=10.00 MiB" in res.out
        fx = [f for f in find_records(rec.read_text(), kind="fixture") if f["name"] == "held"]
        # under xdist each worker that ran a test of TestA set the fixture up
        assert [f["at"] for f in fx].count("setup") == [f["at"] for f in fx].count("teardown")
        assert sum(int(f["held"]) for f in fx if f["at"] == "teardown") == 2, fx
        assert len(find_records(rec.read_text(), kind="test")) == 23 * 4 + 3, res  # the skipped test has no call
        assert "resmon summary" in res.out
