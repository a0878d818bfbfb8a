# SPDX-License-Identifier: MIT
"""resmon_limit, requires_memory, bad sizes, --strict-markers."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from memcg import memory_cgroup
from plughelp import clean_env, find_records

LIMITS = {
    "test_lim.py": """
        import threading
        import pytest

        @pytest.mark.resmon_limit(rss="10 GiB", growth="80 MiB")
        def test_growth_over():
            test_growth_over.keep = bytearray(b"\\x01") * (120 << 20)

        @pytest.mark.resmon_limit(rss="1 MiB")
        def test_rss_over():
            pass

        @pytest.mark.resmon_limit(rss="20 GiB", growth="500MB", threads=64)
        def test_within():
            block = bytearray(b"\\x01") * (30 << 20)
            del block


        @pytest.mark.resmon_limit(threads=3)
        def test_threads_alive():
            stop = threading.Event()
            ts = [threading.Thread(target=stop.wait, daemon=True) for _ in range(4)]
            for t in ts:
                t.start()
            test_threads_alive.stop = stop
    """,
}


def _failures(res):
    return dict(re.findall(r"^(?:FAILED|ERROR) (\S+) - (.*)$", res.out, re.M))


@pytest.mark.parametrize("enabled", [True, False])
def test_resmon_limit_fails_with_numbers(run_pytest, enabled):
    args = ["-q", "-rfE", "--strict-markers"] + (["--resmon"] if enabled else [])
    res = run_pytest(LIMITS, args)
    assert res.rc == 1, res
    assert re.search(r"^2 failed, 1 passed, 1 error", res.out, re.M), res
    failed = _failures(res)
    assert set(failed) == {"test_lim.py::test_growth_over", "test_lim.py::test_rss_over",
                           "test_lim.py::test_threads_alive"}, res
    out = res.out
    assert "resmon_limit exceeded in call of test_lim.py::test_growth_over" in out, out
    assert re.search(r"RSS growth 1[12]\d\.\d\d MiB since the start of setup .* > limit "
                     r"growth=80\.00 MiB", out), out
    assert re.search(r"resmon_limit exceeded in setup of test_lim.py::test_rss_over:\n\s+"
                     r"peak RSS [\d.]+ MiB \(\d+ bytes\) > limit rss=1\.00 MiB", out), out
    assert re.search(r"\d+ native threads at most during the call > limit threads=3", out), out
    events = [f for f in find_records(res, kind="event") if f.get("what") == "limit"]
    assert {(e["test"], e["limit"]) for e in events} >= {
        ("test_lim.py::test_growth_over", "growth"), ("test_lim.py::test_rss_over", "rss")}, res


def test_ini_default_limit_and_marker_override(run_pytest):
    files = {"test_ini.py": """
        import pytest

        def test_default_applies():
            test_default_applies.keep = bytearray(b"\\x01") * (60 << 20)

        @pytest.mark.resmon_limit(growth="200 MiB")
        def test_marker_wins():
            test_marker_wins.keep = bytearray(b"\\x01") * (60 << 20)

        def test_small():
            pass
    """}
    res = run_pytest(files, ["-q", "-rf", "--resmon"],
                     ini="[pytest]\nresmon_limit_growth = 40 MiB\n")
    assert res.rc == 1, res
    assert set(_failures(res)) == {"test_ini.py::test_default_applies"}, res
    assert "limit growth=40.00 MiB" in res.out


def test_bad_ini_limit_is_a_usage_error(run_pytest):
    res = run_pytest({"test_x.py": "def test_x():\n    pass\n"}, ["-q"],
                     ini="[pytest]\nresmon_limit_rss = two gigs\n")
    assert res.rc == 4, res
    assert "resmon_limit_rss" in res.err and "two gigs" in res.err, res


@pytest.mark.parametrize("marker, text", [
    ('requires_memory("4 GX")', "'4 GX'"),
    ('requires_memory("lots")', "'lots'"),
    ('resmon_limit(rss="2 GiB", growth="big")', "growth='big'"),
    ('resmon_limit(ram="2 GiB")', "ram"),
    ('resmon_limit(threads="many")', "threads='many'"),
])
def test_bad_sizes_are_collection_errors(run_pytest, marker, text):
    files = {"test_bad.py": """
        import pytest

        def test_fine():
            pass

        @pytest.mark.%s
        def test_bad():
            pass
    """ % marker}
    res = run_pytest(files, ["-q"])
    assert res.rc == 4, res
    err = res.err
    assert "test_bad.py::test_bad" in err and text in err, res
    assert "Traceback" not in err
    # under xdist a worker cannot stop the session: the test errors at setup
    res = run_pytest(files, ["-q", "-n", "2", "-rE"])
    assert res.rc == 1, res
    assert "1 passed, 1 error" in res.out and "INTERNALERROR" not in res.out + res.err, res
    assert "ERROR test_bad.py::test_bad - Failed: resmon: test_bad.py::test_bad:" in res.out
    assert text in res.out, res


def test_requires_memory_skips_with_numbers_and_works_disabled(run_pytest):
    files = {"test_req.py": """
        import pytest

        @pytest.mark.requires_memory("1 TiB")
        def test_huge():
            raise AssertionError("must not run")

        @pytest.mark.requires_memory("1 MiB")
        def test_tiny():
            pass

        @pytest.mark.requires_memory(size=4096)
        def test_bytes():
            pass

        @pytest.mark.requires_memory("1 TiB")
        class TestClass:
            def test_in_class(self):
                raise AssertionError("must not run")
    """}
    for extra in ([], ["--resmon"]):
        res = run_pytest(files, ["-q", "-rs", "--strict-markers"] + extra)
        assert res.rc == 0, res
        assert "2 passed, 2 skipped" in res.out, res
        m = re.search(r"SKIPPED \[\d+\] test_req.py:\d+: requires_memory\(1\.00 TiB\): "
                      r"available memory ([\d.]+) GiB", res.out)
        assert m and 0 < float(m.group(1)) < 1024, res


def test_markers_registered_for_strict_markers(run_pytest):
    res = run_pytest({"test_m.py": "def test_x():\n    pass\n"}, ["--markers"])
    assert res.rc == 0
    assert "@pytest.mark.resmon_limit(" in res.out and "@pytest.mark.requires_memory(" in res.out


def test_cgroup_limit_is_honoured(run_pytest, tmp_path):
    """requires_memory compares with the memory cgroup's limit too: run the
    session inside a child cgroup v1 group limited to 256 MiB."""
    try:
        own = open("/proc/self/cgroup").read()
        rel = next(line.split(":", 2)[2] for line in own.splitlines()
                   if line.split(":")[1] == "memory")
    except (OSError, StopIteration, IndexError):
        pytest.skip("no cgroup v1 memory controller on this machine")
    with memory_cgroup("resmon-plugin-test", 256 << 20, parent=rel.strip()) as group:
        files = {"test_cg.py": """
            import pytest

            @pytest.mark.requires_memory("1 GiB")
            def test_needs_a_gig():
                pass
        """}
        (tmp_path / "pytest.ini").write_text("[pytest]\n")
        for name, src in files.items():
            (tmp_path / name).write_text(textwrap.dedent(src))
        script = ("import os,sys; open(%r,'w').write(str(os.getpid())); "
                  "os.execv(sys.executable, [sys.executable, '-m', 'pytest', '-q', '-rs', "
                  "'-p', 'no:cacheprovider'])" % os.path.join(group, "cgroup.procs"))
        proc = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), env=clean_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        out = proc.stdout.decode()
        assert "memory cgroup limit 256.00 MiB" in out, out + proc.stderr.decode()


XFAIL_LIMITS = {
    "test_xf.py": """
        import pytest

        KEEP = []

        def grow():
            KEEP.append(bytearray(b"\\x01") * (80 << 20))

        @pytest.mark.xfail(reason="grows past its limit")
        @pytest.mark.resmon_limit(growth="50 MiB")
        def test_xfail_lax():
            grow()

        @pytest.mark.xfail(strict=True, reason="grows past its limit")
        @pytest.mark.resmon_limit(growth="50 MiB")
        def test_xfail_strict():
            grow()

        @pytest.mark.xfail(raises=KeyError, reason="wants a KeyError, not a limit")
        @pytest.mark.resmon_limit(growth="50 MiB")
        def test_xfail_raises():
            grow()

        @pytest.mark.xfail(strict=True, reason="does not grow")
        @pytest.mark.resmon_limit(growth="500 MiB")
        def test_xfail_strict_within():
            pass
    """,
}


def test_limit_failure_is_the_expected_failure_of_xfail(run_pytest):
    res = run_pytest(XFAIL_LIMITS, ["-q", "-rxXf", "-p", "no:randomly"])
    assert res.rc == 1, res
    assert re.search(r"^XFAIL test_xf.py::test_xfail_lax", res.out, re.M), res
    assert re.search(r"^XFAIL test_xf.py::test_xfail_strict\b", res.out, re.M), res
    failed = _failures(res)
    # raises=KeyError is not satisfied by a limit; strict XPASS stays a failure
    assert set(failed) == {"test_xf.py::test_xfail_raises", "test_xf.py::test_xfail_strict_within"}
    assert "resmon_limit exceeded" in res.out and "[XPASS(strict)] does not grow" in res.out


OVER_BEFORE = {
    "test_before.py": """
        import pytest

        KEEP = []

        def test_keeps_memory():
            KEEP.append(bytearray(b"\\x01") * (150 << 20))

        @pytest.mark.resmon_limit(rss="120 MiB")
        def test_small_but_late():
            block = bytearray(b"\\x01") * (20 << 20)
            del block

        @pytest.mark.resmon_limit(used="50 MiB")
        def test_uses_too_much():
            block = bytearray(b"\\x01") * (100 << 20)
            del block

        @pytest.mark.resmon_limit(used="50 MiB")
        def test_uses_little():
            block = bytearray(b"\\x01") * (10 << 20)
            del block
    """,
}


def test_rss_limit_says_the_process_was_over_before_and_used_limit(run_pytest, tmp_path):
    res = run_pytest(OVER_BEFORE, ["-q", "-rfE", "-p", "no:randomly", "--resmon",
                                   "--resmon-records", "rec.log"])
    assert res.rc == 1, res
    failed = _failures(res)
    assert set(failed) == {"test_before.py::test_small_but_late",
                           "test_before.py::test_uses_too_much"}, res
    out = res.out
    m = re.search(r"resmon_limit exceeded in setup of test_before.py::test_small_but_late:\n\s+"
                  r"peak RSS [\d.]+ MiB \(\d+ bytes\) > limit rss=120\.00 MiB\n\s+"
                  r"the process was already over the limit before this test began: RSS "
                  r"([\d.]+) MiB at the start of its setup; earlier tests grew it by "
                  r"(1[45]\d\.\d\d) MiB \(from [\d.]+ MiB at the first test's start\)", out)
    assert m, out
    assert re.search(r"resmon_limit exceeded in call of test_before.py::test_uses_too_much:\n\s+"
                     r"this test used (9\d|1[01]\d)\.\d\d MiB over its start RSS .* > limit "
                     r"used=50\.00 MiB", out), out
    # used is a recorded figure: teardown end of every test
    recs = find_records((tmp_path / "rec.log").read_text("ascii"))
    used = {r["test"].split("::")[1]: int(r["used"]) for r in recs
            if r["phase"] == "teardown" and r["at"] == "end"}
    assert used["test_keeps_memory"] > 140 << 20, used
    assert used["test_small_but_late"] < 40 << 20, used
    assert 90 << 20 < used["test_uses_too_much"] < 120 << 20, used
    assert used["test_uses_little"] < 30 << 20, used


THREADS = {
    "conftest.py": """
        import os
        import pytest

        def pytest_collection_modifyitems(items):
            # the threads this process has before any test (pytest's, other
            # plugins', resmon's): each test may start 2 more. resmon's peak
            # poller starts at the first peak reset: start it now.
            import resmon
            resmon.reset_peak()
            tids = os.listdir("/proc/self/task")
            base = len(tids)
            os.environ["BASE_TIDS"] = ",".join(tids)  # test_thr.py: which threads are new
            for item in items:
                item.add_marker(pytest.mark.resmon_limit(threads=base + 2))
    """,
    "test_thr.py": """
        import os
        import threading
        import time

        def switches(tids):
            out = {}
            for tid in tids:
                try:
                    with open("/proc/self/task/%s/status" % tid) as f:
                        for line in f:
                            if line.startswith("voluntary_ctxt_switches:"):
                                out[tid] = int(line.split()[1])
                except OSError:
                    pass
            return out

        def run(n):
            # the n threads are all alive until the thread watch (the thread
            # resmon started for this call: none of the threads there were
            # at collection, nor ours) has polled the task count again: it
            # sleeps between polls, a voluntary switch each. A fixed 0.2 s
            # could be missed when a loaded machine did not run it in time.
            stop = threading.Event()
            ts = [threading.Thread(target=stop.wait) for _ in range(n)]
            for t in ts:
                t.start()
            known = set(os.environ["BASE_TIDS"].split(",")) | {str(t.native_id) for t in ts}
            known.add(str(threading.get_native_id()))
            watch = [tid for tid in os.listdir("/proc/self/task") if tid not in known]
            before = switches(watch)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                now = switches(watch)
                if all(now.get(t, n0 + 3) - n0 >= 3 for t, n0 in before.items()):
                    break
                time.sleep(0.005)
            if not watch:
                time.sleep(0.2)
            stop.set()
            for t in ts:
                t.join()

        def test_six_joined():
            run(6)  # joined before the body returns

        def test_two_joined():
            run(2)

        def test_none():
            pass
    """,
}


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts tasks in /proc")
@pytest.mark.parametrize("enabled", [True, False])
def test_thread_limit_counts_threads_joined_during_the_call(run_pytest, enabled):
    res = run_pytest(THREADS, ["-q", "-rf", "-p", "no:randomly"] + (["--resmon"] if enabled
                                                                     else []))
    assert res.rc == 1, res
    assert set(_failures(res)) == {"test_thr.py::test_six_joined"}, res
    m = re.search(r"resmon_limit exceeded in call of test_thr.py::test_six_joined:\n\s+"
                  r"(\d+) native threads at most during the call > limit threads=(\d+)", res.out)
    assert m and int(m.group(1)) == int(m.group(2)) - 2 + 6, res


CLOSEST = {
    "conftest.py": """
        import pytest
        from resmon.plugin import _marker_limits, _marker_size

        def pytest_collection_modifyitems(items):
            for item in items:
                if item.name.startswith("test_added"):
                    item.add_marker(pytest.mark.resmon_limit(rss="7 GiB"))

        def pytest_runtest_setup(item):
            # resmon keeps, per item, the limits and size of the markers
            # get_closest_marker finds (item, then its class, then module)
            marker = item.get_closest_marker("resmon_limit")
            want = _marker_limits(item, marker, None) if marker else None
            got = getattr(item, "_resmon_limit", None)
            assert got == want, (item.nodeid, got, want)
            marker = item.get_closest_marker("requires_memory")
            want = _marker_size(item, marker) if marker else None
            got = getattr(item, "_resmon_requires", None)
            assert got == want, (item.nodeid, got, want)
            print("checked", item.nodeid, getattr(item, "_resmon_limit", None))
    """,
    "test_mod.py": """
        import pytest

        pytestmark = pytest.mark.resmon_limit(rss="5 GiB")

        def test_module_level():
            pass

        @pytest.mark.resmon_limit(rss="6 GiB")
        def test_own_over_module():
            pass

        @pytest.mark.requires_memory("1 KiB")
        class TestClass:
            def test_class_inherits_module(self):
                pass

            @pytest.mark.resmon_limit(growth="1 GiB")
            @pytest.mark.resmon_limit(growth="2 GiB")
            def test_first_own_marker_wins(self):
                pass

        @pytest.mark.parametrize("x", [1, pytest.param(2, marks=pytest.mark.resmon_limit(
            rss="8 GiB")), pytest.param(3, marks=pytest.mark.requires_memory("2 KiB"))])
        def test_param(x):
            pass

        def test_added():
            pass
    """,
    "test_plain.py": """
        def test_no_marker():
            pass
    """,
}


@pytest.mark.parametrize("xdist", [False, True])
def test_closest_markers_as_pytest_finds_them(run_pytest, xdist):
    """The markers resmon looks up once per parent at collection are the
    ones item.get_closest_marker returns, at every level, in a single
    process and in xdist workers (each collects the whole suite)."""
    args = ["-s", "-q"] + (["-n", "2"] if xdist else ["-p", "no:xdist"])
    res = run_pytest(CLOSEST, args=args)
    assert res.rc == 0, res
    assert "9 passed" in res.out, res
    if not xdist:  # -s: the workers' prints do not reach the controller's stdout
        assert "checked test_mod.py::test_module_level {'rss': 5368709120}" in res.out, res
        assert "checked test_mod.py::test_param[2] {'rss': 8589934592}" in res.out, res
        assert "checked test_plain.py::test_no_marker None" in res.out, res
