# SPDX-License-Identifier: MIT
"""pytest-xdist (5,000 tests, no record lost or torn) and the oldest pytest 7."""

import collections
import os
import subprocess
import sys

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
    # the job log: workers' start, call start and end markers reached the controller's stderr
    marks = find_records(res, kind="test")
    assert len(marks) == 3 * N_TESTS and {m["worker"] for m in marks} == {"gw0", "gw1"}
    # the controller aggregated both workers
    assert "%d tests in 2 processes" % N_TESTS in res.out, res
    assert "leak trend (gw0" in res.out and "leak trend (gw1" in res.out


@pytest.mark.parametrize("capture", ["fd", "sys", "no"])
def test_xdist_markers_under_capture(run_pytest, capture):
    res = run_pytest(_many(6), ["-q", "-n", "2", "--resmon", "--capture=" + capture,
                                "-p", "no:faulthandler"])
    assert res.rc == 0, res
    marks = find_records(res, kind="test")
    assert len(marks) == 18 and {m["worker"] for m in marks} <= {"gw0", "gw1"}, res
    assert "6 tests in 2 processes" in res.out


OLD_PYTEST = "7.0.*"


def _old_pytest_venv():
    """A venv under /tmp with the oldest pytest 7 and resmon installed
    editable from this checkout (cached between runs)."""
    venv = "/tmp/resmon-pytest70"
    python = os.path.join(venv, "bin", "python")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    stamp = os.path.join(venv, "resmon-stamp")
    if os.path.exists(stamp) and open(stamp).read() == root:
        return python
    steps = [[sys.executable, "-m", "venv", "--system-site-packages", venv],
             [python, "-m", "pip", "install", "-q", "pytest==" + OLD_PYTEST],
             [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e",
              root]]
    for cmd in steps:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        if proc.returncode != 0:
            pytest.skip("cannot install pytest %s into %s (%s): %s" % (
                OLD_PYTEST, venv, " ".join(cmd[2:5]), proc.stdout.decode()[-500:]))
    with open(stamp, "w") as f:
        f.write(root)
    return python


def test_oldest_pytest_7(run_pytest, tmp_path):
    python = _old_pytest_venv()
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
