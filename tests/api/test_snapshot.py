# SPDX-License-Identifier: MIT
"""log_resource_snapshot / log_resource_delta: real subprocesses, output
parsed back with an independent reader (tests/recordparse.py)."""

import os
import subprocess
import sys
import textwrap

import pytest

from recordparse import parse_record, records

ENV_OFF = {k: "" for k in ("IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG", "RESMON",
                           "RESMON_RECORDS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST")}


def run_py(code, env=None, **kw):
    full_env = dict(os.environ, **ENV_OFF)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          timeout=120, env=full_env, **kw)


@pytest.mark.parametrize("switch", ["IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG", "RESMON"])
def test_env_switches_enable_markers(switch):
    code = """
        import resmon
        assert resmon.analysis_resource_debug_enabled()
        resmon.log_resource_snapshot('hello')
    """
    out = run_py(code, env={switch: "1"})
    assert out.returncode == 0, out.stderr
    assert len(records(out.stderr.decode(), "mark")) == 1


def test_disabled_writes_nothing_unless_forced():
    out = run_py("""
        import resmon
        assert not resmon.analysis_resource_debug_enabled()
        assert resmon.log_resource_snapshot('off') is None
        assert resmon.log_resource_snapshot('forced', force=True) is not None
        resmon.enable()
        assert resmon.log_resource_snapshot('on') is not None
        resmon.enable(False)
        assert resmon.log_resource_snapshot('off again') is None
    """, env={"RESMON": "0"})
    assert out.returncode == 0, out.stderr
    labels = [f["label"] for _, f in records(out.stderr.decode(), "mark")]
    assert labels == ["forced", "on"]


def _bavail(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_marker_fields(tmp_path):
    # the disk is shared with whatever else the machine runs: its free space
    # is read before and after the child, and the marker's must lie between
    free_before = _bavail(str(tmp_path))
    out = run_py(f"""
        import resmon, threading
        resmon.log_resource_snapshot('before save', paths=['/', {str(tmp_path)!r}],
                                     prefix='op_serialization', metadata={{'step': 3, 'rss': 'x'}})
    """, env={"RESMON": "1", "PYTEST_XDIST_WORKER": "gw3", "GITHUB_RUN_ID": "987",
              "GITHUB_RUN_ATTEMPT": "2",
              "PYTEST_CURRENT_TEST": "tests/t.py::test_a[x y] (call)"})
    assert out.returncode == 0, out.stderr
    (kind, f), = records(out.stderr.decode())
    assert kind == "mark" and f["_complete"]
    assert f["label"] == "before save" and f["prefix"] == "op_serialization"
    assert f["test"] == "tests/t.py::test_a[x y]" and f["phase"] == "call"
    assert f["worker"] == "gw3" and f["run"] == "987.2"
    assert int(f["pid"]) > 1 and f["ts"].endswith("Z") and float(f["mono"]) > 0
    for key in ("rss", "hwm", "vms", "mem_avail", "mem_total", "thr", "pythr", "disk0_used",
                "disk0_free", "disk1_used", "disk1_free"):
        assert int(f[key]) >= 0, key
    assert f["disk0"] == "/" and f["disk1"] == str(tmp_path)
    free_after = _bavail(str(tmp_path))
    slack = 256 << 20  # files written and removed meanwhile
    assert (min(free_before, free_after) - slack <= int(f["disk1_free"])
            <= max(free_before, free_after) + slack), (free_before, f["disk1_free"], free_after)
    assert f["step"] == "3" and f["meta_rss"] == "x"  # metadata cannot shadow a real field
    if sys.platform.startswith("linux") and os.path.exists("/sys/fs/cgroup/memory"):
        assert "cg_use" in f and "cg_lim" in f


NASTY = [
    "line\nbreak",
    'quote " and \\ backslash',
    "key=value rss=1",
    "caf\u00e9 \u2603 \U0001F600",
    "nul\x00byte",
    "x" * 100_000,
    "ok\n[resmon/1] mark label=forged rss=1 ;",
    "[resmon/1] mark label=forged ;",
    "\r\n\t\x1b[31mred\x1b[0m",
    "\udcff lone surrogate",
]


def test_untrusted_text_cannot_forge_or_break_records(tmp_path):
    rec = tmp_path / "records.log"
    code = f"""
        import resmon
        labels = {NASTY!r}
        for label in labels:
            resmon.log_resource_snapshot(label, metadata={{'meta': label, 'we ird=key': label}})
    """
    out = run_py(code, env={"RESMON": "1", "RESMON_RECORDS": str(rec),
                            "PYTEST_CURRENT_TEST": "t.py::test[\n[resmon/1] x] (call)"})
    assert out.returncode == 0, out.stderr.decode()
    err = out.stderr.decode("ascii")  # ASCII only, or this raises
    lines = err.splitlines()[1::2]
    # one line per call, no extra line; on the job log each record starts a
    # line of its own (a newline first: docs/format.md, "Where a record starts")
    assert err == "".join("\n" + line + "\n" for line in lines)
    assert len(lines) == len(NASTY)
    parsed = [parse_record(line) for line in lines]
    assert all(p and p[0] == "mark" and p[1]["_complete"] for p in parsed)
    for label, (_, f) in zip(NASTY, parsed):
        want = label.encode("utf-8", "backslashreplace").decode("latin-1")
        if len(want) < 900:
            assert f["label"] == want
            assert f["meta"] == want and f["we_ird_key"] == want
            assert "trunc" not in f
        else:
            assert f["label"].startswith("x" * 500) and f["label"].endswith("...")
            assert f["trunc"] == "1"
        assert "forged" not in f.get("label", "")[:5]
        assert len(lines[0]) <= 4096
    # the record file holds the same lines
    assert rec.read_text("ascii").splitlines() == lines


def test_unwritable_record_path_and_closed_stderr(tmp_path):
    code = """
        import os, resmon
        for i in range(3):
            assert resmon.log_resource_snapshot('x%d' % i) is not None
        print('survived')
    """
    out = run_py(code, env={"RESMON": "1", "RESMON_RECORDS": "/nonexistent/dir/records.log"})
    assert out.returncode == 0, out.stderr
    err = out.stderr.decode()
    assert err.count("resmon: cannot open record file /nonexistent/dir/records.log") == 1
    assert len(records(err, "mark")) == 3

    # stderr closed: nothing to write to, no exception, no crash
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                         preexec_fn=lambda: os.close(2), timeout=60,
                         env=dict(os.environ, RESMON="1", RESMON_RECORDS=""))
    assert out.returncode == 0
    assert b"survived" in out.stdout


def test_full_disk_record_file_warns_once():
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is missing")
    out = run_py("""
        import resmon
        for i in range(5):
            resmon.log_resource_snapshot('x')
        print('survived')
    """, env={"RESMON": "1", "RESMON_RECORDS": "/dev/full"})
    assert out.returncode == 0
    err = out.stderr.decode()
    assert err.count("resmon: cannot write to the record file: No space left on device") == 1
    assert len(records(err, "mark")) == 5 and b"survived" in out.stdout


def test_log_resource_delta():
    out = run_py("""
        import resmon
        before = resmon.sample(full=True)
        block = bytearray(64 << 20)
        block[::4096] = b"\\1" * len(block[::4096])
        after = resmon.log_resource_delta('grew', before)
        assert after.rss - before.rss > 60 << 20
    """, env={"RESMON": "1"})
    assert out.returncode == 0, out.stderr
    (_, f), = records(out.stderr.decode(), "mark")
    assert f["label"] == "grew"
    assert 60 << 20 < int(f["d_rss"]) < 80 << 20
    assert float(f["dt"]) >= 0


def test_cuda_fields_only_when_torch_is_imported():
    # a stand-in torch module: resmon must never import torch itself
    out = run_py("""
        import sys, types, resmon
        cuda = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True,
                                     device_count=lambda: 2,
                                     memory_allocated=lambda i: 100 + i,
                                     memory_reserved=lambda i: 200 + i,
                                     max_memory_allocated=lambda i: 300 + i)
        resmon.log_resource_snapshot('no torch')
        sys.modules['torch'] = types.SimpleNamespace(cuda=cuda)
        resmon.log_resource_snapshot('torch')
    """, env={"RESMON": "1"})
    assert out.returncode == 0, out.stderr
    (_, a), (_, b) = records(out.stderr.decode(), "mark")
    assert not any(k.startswith("cuda") for k in a)
    assert (b["cuda0_alloc"], b["cuda1_reserved"], b["cuda1_peak"]) == ("100", "201", "301")


def test_markers_reach_job_log_under_capture_and_cp1252(tmp_path):
    # a real pytest session with capture on, -W error, a cp1252 console and
    # non-ASCII ids: markers appear on the real stderr, all ASCII
    (tmp_path / "test_ex.py").write_text(textwrap.dedent("""
        import pytest, resmon

        @pytest.mark.parametrize("name", ["caf\\u00e9", "snow\\u2603"])
        def test_marks(name):
            resmon.log_resource_snapshot("label " + name, metadata={"name": name})
    """), encoding="utf-8")
    env = dict(os.environ, **ENV_OFF)
    env.update(IT_ANALYSIS_RESOURCE_DEBUG="1", PYTHONIOENCODING="cp1252")
    out = subprocess.run([sys.executable, "-m", "pytest", "-W", "error", "-p", "no:cacheprovider",
                          "--capture=fd", str(tmp_path)], capture_output=True, timeout=120,
                         env=env, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout.decode("cp1252") + out.stderr.decode("cp1252")
    err = out.stderr.decode("ascii")
    marks = records(err, "mark")
    want = [("label " + n).encode("utf-8").decode("latin-1") for n in ("caf\u00e9", "snow\u2603")]
    assert [f["label"] for _, f in marks] == want
    assert marks[0][1]["test"].startswith("test_ex.py::test_marks[")
    out.stdout.decode("ascii")


@pytest.mark.parametrize("kind", ["gasp", "verdict", "test", "event", "sample", "MARK", "mark ",
                                  "mark\n[resmon/1] verdict exit=0 ;", "", None, 3])
def test_kind_is_validated(kind):
    # a test must not write a record that poses as resmon's own evidence
    out = run_py(f"""
        import resmon
        for force in (True, False):  # checked even when markers are off
            try:
                resmon.log_resource_snapshot('x', kind={kind!r}, force=force)
            except ValueError as exc:
                assert "kind must be 'mark'" in str(exc) and repr({kind!r}) in str(exc), exc
            else:
                raise AssertionError("no ValueError")
        resmon.log_resource_snapshot('fine', kind='mark', force=True)
    """)
    assert out.returncode == 0, out.stderr.decode()
    assert [(k, f["label"]) for k, f in records(out.stderr.decode())] == [("mark", "fine")]


def test_extension_refuses_a_malformed_kind():
    # below the API: the C writer only ever writes a kind of [a-z_]
    out = run_py("""
        from resmon._core import core
        for bad in ("ver dict", "mark\\n[resmon/1] gasp ;", "", "x" * 33, "Mark", "caf\\u00e9"):
            try:
                core.emit(bad, None, to=1)
            except ValueError as exc:
                assert "record kind must be 1 to 32 characters of a-z and '_'" in str(exc), exc
            else:
                raise AssertionError(repr(bad))
        core.emit("x" * 32, None, to=1)
    """)
    assert out.returncode == 0, out.stderr.decode()
    (kind, _), = records(out.stderr.decode())
    assert kind == "x" * 32


def test_colliding_metadata_keys_stay_unique(tmp_path):
    rec = tmp_path / "records.log"
    out = run_py("""
        import resmon
        meta = [("a b", 1), ("a_b", 2), ("a-b", 3), ("rss", 4), ("meta_rss", 5),
                ("x" * 60, 6), ("x" * 48 + "y", 7), ("disk0", 8), ("", 9), ("!", 10),
                ("prefix", 11), ("a_b_2", 12)]
        resmon.log_resource_snapshot("keys", prefix="p", metadata=meta, force=True)
        before = resmon.sample(full=True)
        resmon.log_resource_delta("delta", before, metadata={"d_rss": "mine", "dt": "mine",
                                                             "d rss": "too"}, force=True)
    """, env={"RESMON_RECORDS": str(rec)})
    assert out.returncode == 0, out.stderr.decode()
    # the independent reader raises ValueError on a duplicate key
    (_, snap), (_, delta) = records(rec.read_text("ascii"))
    x48 = "x" * 48
    want = {"a_b": "1", "a_b_2": "2", "a_b_3": "3", "meta_rss": "4", "meta_rss_2": "5",
            x48: "6", x48[:46] + "_2": "7", "meta_disk0": "8", "_": "9", "__2": "10",
            "meta_prefix": "11", "a_b_2_2": "12"}
    assert {k: snap[k] for k in want} == want
    assert snap["prefix"] == "p" and int(snap["rss"]) > 0 and snap["label"] == "keys"
    assert delta["d_rss_2"] == "mine" and delta["dt_2"] == "mine" and delta["d_rss_3"] == "too"
    # the real delta fields keep their names
    assert delta["d_rss"].lstrip("-").isdigit() and float(delta["dt"]) >= 0


def test_context_follows_pytest_current_test_without_the_plugin():
    # Without the plugin, each marker takes the test and phase from pytest's
    # PYTEST_CURRENT_TEST ("nodeid (phase)") as it is at that moment; an unset
    # or malformed value keeps the last context; the last " (" splits, as an
    # id may hold one; bytes that are not UTF-8 (a surrogate-escaped file
    # name) come out as set_context would write them.
    code = r"""
        import os, resmon
        from resmon import _core
        env = os.environ
        env["PYTEST_CURRENT_TEST"] = "t.py::test_a[a (b)] (setup)"
        resmon.log_resource_snapshot("one")
        env["PYTEST_CURRENT_TEST"] = "t.py::test_b (call)"
        resmon.log_resource_snapshot("two")
        del env["PYTEST_CURRENT_TEST"]
        resmon.log_resource_snapshot("unset")
        env["PYTEST_CURRENT_TEST"] = "no phase here"
        resmon.log_resource_snapshot("malformed")
        env["PYTEST_CURRENT_TEST"] = "t.py::test_\udcff[x] (teardown)"
        resmon.log_resource_snapshot("bytes")
        _core.core.set_context("t.py::test_\udcff[x]", "teardown")
        resmon.log_resource_snapshot("set_context")
        from resmon import api
        api._plugin_owns_context = True
        env["PYTEST_CURRENT_TEST"] = "t.py::ignored (call)"
        _core.core.set_context("owned", "call")
        resmon.log_resource_snapshot("owned")
    """
    out = run_py(code, env={"RESMON": "1"})
    assert out.returncode == 0, out.stderr.decode()
    got = [(f["label"], f.get("test"), f.get("phase"))
           for _, f in records(out.stderr.decode(), "mark")]
    escaped = got[4][1]
    assert got == [("one", "t.py::test_a[a (b)]", "setup"), ("two", "t.py::test_b", "call"),
                   ("unset", "t.py::test_b", "call"), ("malformed", "t.py::test_b", "call"),
                   ("bytes", escaped, "teardown"), ("set_context", escaped, "teardown"),
                   ("owned", "owned", "call")]
    assert escaped == "t.py::test_\xff[x]"  # the byte 0xff, read back as latin-1
