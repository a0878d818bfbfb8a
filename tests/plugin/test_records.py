# SPDX-License-Identifier: MIT
"""Enabling, markers in the job log under capture, per-test and per-fixture records."""

import subprocess
import sys
import textwrap

import pytest

from childio import stderr_until
from plughelp import Result, clean_env, find_records

SIMPLE = {
    "test_simple.py": """
        import sys

        def test_prints():
            print("to stdout")
            sys.stderr.write("to stderr\\n")

        def test_fails():
            assert 0
    """,
}

BIG = {
    "test_big.py": """
        import pytest

        def test_alloc_in_call():
            block = bytearray(b"\\x01") * (120 << 20)
            assert len(block) == 120 << 20

        def test_small():
            pass

        @pytest.fixture(scope="class", params=["p1"])
        def big_class_fixture(request):
            block = bytearray(b"\\x01") * (150 << 20)
            yield block
            del block

        class TestHeld:
            def test_a(self, big_class_fixture):
                pass
            def test_b(self, big_class_fixture):
                pass
            def test_c(self, big_class_fixture):
                pass
            def test_d(self, big_class_fixture):
                pass

        def test_after():
            pass
    """,
}


def _starts_ends(result, nodeid):
    recs = find_records(result, test=nodeid)
    return [(r["phase"], r["at"]) for r in recs]


def test_disabled_by_default_writes_nothing(run_pytest):
    res = run_pytest(SIMPLE, ["-q"])
    assert res.rc == 1, res
    assert "[resmon/" not in res.err and "[resmon/" not in res.out, res
    assert "resmon summary" not in res.out


@pytest.mark.parametrize("how", ["--resmon", "ini", "IT_ANALYSIS_RESOURCE_DEBUG",
                                 "IT_RESOURCE_DEBUG", "RESMON"])
def test_switches_enable(run_pytest, how):
    args, env, ini = ["-q"], {}, "[pytest]\n"
    if how == "--resmon":
        args.append("--resmon")
    elif how == "ini":
        ini = "[pytest]\nresmon = true\n"
    else:
        env[how] = "1"
    res = run_pytest(SIMPLE, args, env=env, ini=ini)
    assert res.rc == 1, res
    assert _starts_ends(res, "test_simple.py::test_prints") == [
        ("setup", "start"), ("call", "start")], res
    assert "resmon summary" in res.out


@pytest.mark.parametrize("capture", ["fd", "sys", "no"])
def test_markers_reach_real_stderr_under_capture(run_pytest, capture):
    res = run_pytest(SIMPLE, ["-q", "--resmon", "--capture=" + capture, "-p", "no:faulthandler"])
    assert res.rc == 1, res
    for nodeid, outcome in (("test_simple.py::test_prints", "passed"),
                            ("test_simple.py::test_fails", "failed")):
        recs = find_records(res, test=nodeid)
        assert [(r["phase"], r["at"]) for r in recs] == [
            ("setup", "start"), ("call", "start")], res
        assert int(recs[0]["rss"]) > 0 and int(recs[1].get("rss", 1)) > 0
        assert recs[1]["_test_from_pid"] and "ts" not in recs[1]
        assert "mem_avail" not in recs[0]  # full samples only in a record file
    # the summary says the outcomes
    assert "1 failed, 1 passed" in res.out
    # the process's real stderr, not the captured one shown in the report
    assert all(r["_complete"] for r in find_records(res, kind=None)), res
    if capture == "fd":
        assert "to stderr" not in res.err  # captured: only resmon got through


def test_records_file_has_four_phase_records_and_peaks(run_pytest, tmp_path):
    rec = tmp_path / "records.log"
    res = run_pytest(BIG, ["-q", "--resmon", "--resmon-records", str(rec)])
    assert res.rc == 0, res
    text = rec.read_text()
    recs = find_records(text, test="test_big.py::test_alloc_in_call")
    assert [(r["phase"], r["at"]) for r in recs] == [
        ("setup", "start"), ("call", "start"), ("call", "end"), ("teardown", "end")], text
    for r in recs:  # full samples in the records file
        for key in ("rss", "hwm", "mem_avail", "thr", "pythr", "cg_use", "host", "pid", "ts"):
            assert key in r, (key, r)
    start_rss = int(recs[0]["rss"])
    call_end = recs[2]
    assert call_end["outcome"] == "passed" and float(call_end["dur"]) > 0
    assert int(call_end["peak"]) >= start_rss + (100 << 20), recs
    assert int(recs[3]["test_peak"]) >= start_rss + (100 << 20), recs
    # the call's peak does not leak into the next test (peak reset between records)
    small = find_records(text, test="test_big.py::test_small")
    assert int(small[2]["peak"]) < start_rss + (100 << 20), small
    # default markers: short setup and call starts in the job log, all in the file
    assert _starts_ends(res, "test_big.py::test_alloc_in_call") == [
        ("setup", "start"), ("call", "start")]
    kinds = {k for k, _ in __import__("recordparse").records(text)}
    assert {"head", "test", "fixture", "summary"} <= kinds, kinds


def test_fixture_records_show_what_a_class_fixture_holds(run_pytest, tmp_path):
    rec = tmp_path / "records.log"
    res = run_pytest(BIG, ["-q", "--resmon", "--resmon-records", str(rec), "--resmon-top=3"])
    assert res.rc == 0, res
    fx = [f for f in find_records(rec.read_text(), kind="fixture")
          if f["name"] == "big_class_fixture"]
    assert [f["at"] for f in fx] == ["setup", "teardown"], fx
    setup, teardown = fx
    assert setup["scope"] == "class" and setup["param"] == "p1"
    assert int(setup["d_rss"]) >= 140 << 20, setup
    assert int(teardown["d_rss"]) <= -(100 << 20), teardown
    assert teardown["held"] == "4"
    assert setup["test"] == "test_big.py::TestHeld::test_a[p1]"
    # the summary names it among the fixtures that retained most
    section = res.out[res.out.index("resmon summary"):]
    lines = section.splitlines()
    i = next(i for i, l in enumerate(lines) if l.startswith("fixtures that retained most"))
    assert "big_class_fixture[p1]" in lines[i + 1] and "held over 4 tests" in lines[i + 1], section
    assert "class" in lines[i + 1] and "freed" in lines[i + 1]
    assert "top 3 tests by peak RSS" in section
    assert "TestHeld::test_a[p1]" in section  # 150 MiB fixture > 120 MiB in a call
    assert "leak trend (main" in section and "headroom: machine memory" in section


def test_markers_all_and_none(run_pytest):
    res = run_pytest(BIG, ["-q", "--resmon", "--resmon-markers=all"])
    assert res.rc == 0, res
    assert len(_starts_ends(res, "test_big.py::test_small")) == 4
    assert [f["at"] for f in find_records(res, kind="fixture")
            if f["name"] == "big_class_fixture"] == ["setup", "teardown"]
    res = run_pytest(BIG, ["-q", "--resmon", "--resmon-markers=none"])
    assert res.rc == 0, res
    assert "[resmon/" not in res.err, res
    assert "resmon summary" in res.out  # the summary still works


def test_context_is_kept_for_every_phase(run_pytest):
    files = {"test_ctx.py": """
        import pytest
        from resmon import _resmon

        @pytest.fixture
        def fx():
            assert _resmon.get_context() == ("test_ctx.py::test_ctx", "setup")
            yield
            assert _resmon.get_context() == ("test_ctx.py::test_ctx", "teardown")

        def test_ctx(fx):
            assert _resmon.get_context() == ("test_ctx.py::test_ctx", "call")
            from resmon import api
            assert api._plugin_owns_context
    """}
    res = run_pytest(files, ["-q", "--resmon"])
    assert res.rc == 0, res


def test_memory_error_writes_an_event(run_pytest):
    files = {"test_me.py": """
        def test_oom():
            raise MemoryError("simulated")
    """}
    res = run_pytest(files, ["-q", "--resmon"])
    assert res.rc == 1, res
    ev = [f for f in find_records(res, kind="event") if f.get("what") == "memory_error"]
    assert ev and ev[0]["test"] == "test_me.py::test_oom" and ev[0]["phase"] == "call", res


def test_crash_handlers_are_wired(run_pytest):
    files = {"test_crash.py": """
        import os, signal

        def test_ok():
            pass

        def test_segv():
            os.kill(os.getpid(), signal.SIGSEGV)
    """}
    res = run_pytest(files, ["-q", "--resmon", "-p", "no:faulthandler"])
    assert res.rc != 0 and res.rc != 1, res
    gasps = find_records(res, kind="gasp")
    assert gasps and gasps[0]["test"] == "test_crash.py::test_segv", res
    assert gasps[0]["phase"] == "call"


def test_dump_after_dumps_a_slow_test(tmp_path):
    # test_slow sleeps until the hang dump is in the job log (this test reads
    # the session's stderr), not for a fixed 1.6 s that a loaded machine's
    # watchdog could let pass
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_slow.py").write_text(textwrap.dedent("""
        import os, time

        def test_quick():
            pass

        def test_slow():
            deadline = time.monotonic() + 60
            while not os.path.exists("go") and time.monotonic() < deadline:
                time.sleep(0.02)
            assert os.path.exists("go")
    """))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p",
                             "no:benchmark", "-q", "--resmon", "--resmon-dump-after=0.5"],
                            cwd=str(tmp_path), env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)

    def dumped(text):
        return any(f.get("what") == "hang" for f in find_records(text, kind="event")) and (
            "[resmon/1] dump at=end" in text)

    out, err = stderr_until(proc, dumped, lambda: (tmp_path / "go").write_text(""))
    res = Result(subprocess.CompletedProcess(proc.args, proc.returncode, out,
                                             err.encode("utf-8")))
    assert res.rc == 0, res
    hang = [f for f in find_records(res, kind="event") if f.get("what") == "hang"]
    assert hang and {f["test"] for f in hang} == {"test_slow.py::test_slow"}, res
    assert "time.sleep" in res.err or "test_slow" in res.err
