# SPDX-License-Identifier: MIT
"""resmon-report on hand-written GitHub job logs: verdicts, boundaries, golden text."""

import gzip
import os
import shutil
import subprocess
import sys

import pytest

from reporthelp import DATA, GOLDEN, check_text, report_bin, run, run_json

# input files -> (verdict, exit code, boundary test, culprit test)
CASES = {
    "gh_oom": (["gh_oom.log"], "oom_kill", 1, "tests/test_m.py::test_big",
               "tests/test_m.py::test_big"),
    "gh_xdist_oom": (["gh_xdist_oom.log"], "oom_kill", 1, "tests/test_w.py::test_small_2",
                     "tests/test_w.py::test_huge"),
    # a steady rise of 150 MiB per test: the leak filled memory, no single test
    "gh_leak": (["gh_leak.log"], "oom_kill", 1, "tests/test_leak.py::test_step[12]", None),
    # a culprit only for deaths of memory
    "gh_shutdown": (["gh_shutdown.log"], "runner_shutdown", 1,
                    "tests/core/test_ops.py::TestOps::test_load", None),
    "gh_segfault": (["gh_segfault.log"], "segfault", 1, "tests/test_native.py::test_ctypes_crash",
                    None),
    "gh_passed": (["gh_passed.log"], "passed", 0, None, None),
    "gh_failed": (["gh_failed.log"], "failed", 1, None, None),
    # pytest's "FAILED id - ..._ArrayMemoryError" names the test (no plugin records)
    "gh_memoryerror": (["gh_memoryerror.log"], "memory_error", 1, "tests/test_big.py::test_alloc",
                       "tests/test_big.py::test_alloc"),
    "gh_hang": (["gh_hang.log"], "hang", 1, "tests/test_net.py::test_wait", None),
    "gh_cancelled": (["gh_cancelled.log"], "cancelled", 1, None, None),
    "empty": (["empty.log"], "cancelled", 1, None, None),
    "bashloop": (["bashloop.log"], "unknown", 3, None, None),
    # xdist: gw0 grows to 2.1 GiB in a test that never wrote its growth (killed);
    # gw1 is larger by its records (830 MiB) but flat. The sampler's tree
    # (treeI_pid) credits gw0's growth to the test gw0 was running.
    "xdist_tree": (["xdist_sampler.log", "xdist_records.log"], "oom_kill", 1,
                   "tests/test_big_flat.py::test_uses_model[3]",
                   "tests/test_cache.py::test_fills_cache"),
    # the records alone: no test was seen to grow; no culprit rather than a guess
    "xdist_records_only": (["xdist_records.log"], "unknown", 3,
                           "tests/test_big_flat.py::test_uses_model[3]", None),
    "legacy_bashloop": (["legacy_job.log", "bashloop.log"], "oom_kill", 1,
                        "tests/core/test_ops.py::test_big", "tests/core/test_ops.py::test_big"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_verdict_and_boundary(name):
    files, verdict, code, boundary, culprit = CASES[name]
    rc, doc = run_json(files)
    assert doc["schema"] == "resmon-report/1"
    assert doc["verdict"]["kind"] == verdict
    assert rc == code
    assert (doc["boundary"] or {}).get("test") == boundary
    assert (doc["culprit"] or {}).get("id") == culprit
    for ev in doc["verdict"]["evidence"]:
        assert ev["file"] in files and ev["line"] >= 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_text(name):
    """The whole text report; RESMON_UPDATE_GOLDEN=1 rewrites the files."""
    files = CASES[name][0]
    p = run(files)
    text = check_text(p.stdout)
    path = os.path.join(GOLDEN, name + ".txt")
    if os.environ.get("RESMON_UPDATE_GOLDEN") == "1":
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        assert text == f.read()


def test_xdist_culprit_from_the_sampler_tree():
    # the order of the inputs does not matter: tree readings are matched after reading
    for files in (["xdist_sampler.log", "xdist_records.log"],
                  ["xdist_records.log", "xdist_sampler.log"]):
        _, doc = run_json(files)
        c = doc["culprit"]
        assert c["id"] == "tests/test_cache.py::test_fills_cache", files
        assert c["worker"] == "gw0" and c["finished"] is False
        assert c["tree_peak"] == 2200 << 20 and c["peak"] == 2200 << 20
        assert c["own_growth"] == (2200 - 302) << 20
        flat = [t for t in doc["tests"] if t["id"].startswith("tests/test_big_flat.py")]
        # gw1's tests: its own RSS, not the tree's sum, and no growth
        assert {t["tree_peak"] for t in flat} == {800 << 20, 801 << 20}, flat
        assert max(t["own_growth"] for t in flat) <= 30 << 20


def test_memory_error_event_names_the_boundary(tmp_path):
    # the plugin's event (test, phase) wins over pytest's FAILED line, and the
    # run that went on after it does not hide it
    log = tmp_path / "job.log"
    log.write_text(
        "[resmon/1] test ts=2026-11-26T14:00:00.000000Z pid=7 test=t.py::test_a phase=setup "
        "at=start rss=1000 ;\n"
        "[resmon/1] event ts=2026-11-26T14:00:01.000000Z pid=7 test=t.py::test_a phase=setup "
        "what=memory_error rss=2000 mem_avail=3000 ;\n"
        "E   MemoryError\n"
        "[resmon/1] test ts=2026-11-26T14:00:02.000000Z pid=7 test=t.py::test_a phase=teardown "
        "at=end outcome=failed rss=1000 ;\n"
        "[resmon/1] test ts=2026-11-26T14:00:03.000000Z pid=7 test=t.py::test_b phase=setup "
        "at=start rss=1000 ;\n"
        "[resmon/1] test ts=2026-11-26T14:00:04.000000Z pid=7 test=t.py::test_b phase=teardown "
        "at=end outcome=passed rss=1000 ;\n"
        "FAILED t.py::test_b - MemoryError\n"
        "=== 1 failed, 1 passed in 4.00s ===\n")
    _, doc = run_json([str(log)])
    assert doc["verdict"]["kind"] == "memory_error"
    b = doc["boundary"]
    assert (b["test"], b["phase"], b["why"]) == ("t.py::test_a", "setup", "memory_error"), b
    assert b["rss"] == 2000 and b["mem_avail"] == 3000 and b["last_mark"] is None
    assert doc["culprit"]["id"] == "t.py::test_a"


def test_evidence_details():
    _, doc = run_json(["gh_segfault.log"])
    v = doc["verdict"]
    assert v["exit_code"] == 139 and v["signal"] == 11
    assert v["threads_in_dump"] == 2
    assert "test_ctypes_crash" in v["crash_frame"]
    assert [(e["line"], e["role"]) for e in v["evidence"]][:2] == [(14, "proves"), (15, "supports")]
    _, doc = run_json(["gh_xdist_oom.log"])
    assert doc["verdict"]["confidence"] >= 0.9
    assert doc["culprit"]["worker"] == "gw1" and doc["boundary"]["worker"] == "gw0"
    assert doc["boundary"]["last_mark"]["label"] == "loop 3"
    assert doc["boundary"]["last_mark"]["seconds_to_end"] == pytest.approx(2.5)
    assert doc["boundary"]["rss"] == 305 << 20
    assert doc["system"]["cg_oom_first"] == 0 and doc["system"]["cg_oom_last"] == 1
    _, doc = run_json(["gh_leak.log"])
    tr = doc["trend"][0]
    assert tr["class"] == "leak" and tr["n"] == 12 and tr["r2"] > 0.99
    assert abs(tr["slope_bytes_per_test"] - (150 << 20)) < (2 << 20)
    _, doc = run_json(["gh_oom.log"])
    fx = doc["fixtures"][0]
    assert fx["name"] == "big_array" and fx["held"] == 1000000000 and not fx["torn_down"]
    assert fx["retained"] is None  # never torn down: nothing is known of what it kept
    _, doc = run_json(["gh_shutdown.log"])
    t = [x for x in doc["tests"] if x["id"].endswith("test_save")][0]
    assert t["rss_start"] == round(1.06 * 2**30) and t["rss_end"] == round(1.10 * 2**30)


def test_flat_trend_before_a_kill_says_so():
    p = run(["gh_xdist_oom.log"])
    assert b"CULPRIT" in p.stdout
    lines = ["2026-11-26T10:%02d:00.0000000Z [resmon/1] test pid=7 test=t.py::t[%d] phase=%s at=%s "
             "rss=%d ;" % (i, i, ph, at, 500 << 20)
             for i in range(20) for ph, at in (("setup", "start"), ("teardown", "end"))]
    lines.append("2026-11-26T10:59:00.0000000Z ##[error]Process completed with exit code 137.")
    p = run(["-"], stdin=("\n".join(lines) + "\n").encode())
    text = check_text(p.stdout)
    assert "(median +0 B per test): flat" in text
    assert "flat before the end: one large test or the runner, not a leak" in text
    # flat, and killed with no memory readings: no culprit is named
    assert "CULPRIT  unknown" not in text or "no test" in text


def _no_files(x):
    if isinstance(x, dict):
        return {k: _no_files(v) for k, v in x.items() if k != "file"}
    if isinstance(x, list):
        return [_no_files(v) for v in x]
    return x


def test_gzip_and_stdin_give_the_same_report(tmp_path):
    src = os.path.join(DATA, "gh_xdist_oom.log")
    gz = tmp_path / "job.log.gz"
    with open(src, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    _, plain = run_json([src])
    _, zipped = run_json([str(gz)])
    assert zipped["inputs"][0]["gzip"] is True
    for key in ("verdict", "boundary", "culprit", "tests", "trend"):
        assert _no_files(zipped[key]) == _no_files(plain[key])
    with open(gz, "rb") as f:
        _, piped = run_json(["-"], stdin=f.read())
    assert _no_files(piped["verdict"]) == _no_files(plain["verdict"])
    # a truncated gzip still gives the lines it holds, and says so
    data = gz.read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    p = run([str(tmp_path / "cut.gz")])
    assert b"gzip stream is truncated" in p.stdout
    assert p.returncode in (0, 1, 3)


def test_markdown_and_html_escape_untrusted_names(tmp_path):
    evil = 'tests/x.py::test_a[<script>alert("x")</script>|`*_]'
    esc = evil.replace("\\", "\\\\").replace('"', '\\"')
    log = tmp_path / "evil.log"
    log.write_text(
        '2026-11-26T10:00:00.0000000Z [resmon/1] test pid=1 test="%s" phase=setup at=start '
        'rss=100 mem_avail=5000 ;\n'
        '2026-11-26T10:00:01.0000000Z [resmon/1] mark pid=1 label="<b>\\xff" rss=200 '
        'mem_avail=4000 ;\n'
        "2026-11-26T10:00:02.0000000Z ##[error]Process completed with exit code 137.\n" % esc)
    html = run(["--format", "html", str(log)]).stdout.decode("ascii")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "http" not in html  # self-contained: no external URL at all
    assert html.count("<svg") == 1 and "<polyline" in html
    md = run(["--format", "markdown", str(log)]).stdout.decode("ascii")
    assert "<script>" not in md and "|`*_" not in md
    assert "## resmon: oom_kill" in md
    rc, doc = run_json([str(log)])
    assert doc["boundary"]["test"] == evil
    assert doc["boundary"]["last_mark"]["label"] == "<b>\\xff"


def test_markdown_has_a_mermaid_chart():
    md = run(["--format", "markdown", "gh_leak.log"]).stdout.decode("ascii")
    assert "```mermaid\nxychart-beta" in md
    line = [x for x in md.splitlines() if x.strip().startswith("line [")][0]
    values = [float(v) for v in line.split("[", 1)[1].rstrip("]").split(",")]
    assert len(values) == 12 and values == sorted(values)


def test_compare_runs():
    p = run(["compare", "gh_leak.log", "gh_xdist_oom.log", "gh_passed.log"])
    text = check_text(p.stdout)
    assert p.returncode == 1
    assert "the runs stopped at different tests" in text
    assert "a leak that the test tips over" in run(["compare", "gh_leak.log", "gh_leak.log"]).stdout.decode()
    assert "absent" in text
    p = run(["compare", "--format", "json", "gh_leak.log", "gh_leak.log"])
    import json
    doc = json.loads(p.stdout)
    assert doc["schema"] == "resmon-compare/1" and doc["same_boundary"] is True
    assert [r["verdict"]["kind"] for r in doc["runs"]] == ["oom_kill", "oom_kill"]
    # several files make one run: "a,b"
    p = run(["compare", "--format", "json", "legacy_job.log,bashloop.log", "legacy_job.log"])
    doc = json.loads(p.stdout)
    assert doc["runs"][0]["verdict"]["confidence"] > doc["runs"][1]["verdict"]["confidence"]


def test_usage_and_io_errors(tmp_path):
    assert run([]).returncode == 2
    assert run(["--format", "xml", "gh_oom.log"]).returncode == 2
    assert run(["--bogus", "gh_oom.log"]).returncode == 2
    p = run([str(tmp_path / "missing.log")])
    assert p.returncode == 2 and b"missing.log" in p.stderr
    assert run(["compare", "gh_oom.log"]).returncode == 2
    # one bad input among good ones: a warning, the report still comes
    p = run([str(tmp_path / "missing.log"), "gh_passed.log"])
    assert p.returncode == 0 and b"passed" in p.stdout
    assert run(["--exit-zero", "gh_oom.log"]).returncode == 0
    out = tmp_path / "r.json"
    assert run(["-f", "json", "-o", str(out), "gh_passed.log"]).returncode == 0
    assert out.read_text().startswith("{")


def test_bad_bytes_never_crash(tmp_path):
    """Any bytes: NUL, invalid UTF-8, a 1 MB line, cut records, unknown versions."""
    junk = bytearray()
    junk += b"\x00\xff\xfe garbage \x1b[31m\n"
    junk += b"[resmon/1] mark pid=1 label=\"cut in the mid"  # cut record
    junk += b"\n" + b"x" * (1 << 20) + b"[resmon/1] mark pid=1 rss=5 ;\n"
    junk += b"[resmon/42] mark pid=1 rss=7 future=1 ;\n"
    junk += b"[resmon/1] mark pid=1 rss=8 bad\x01=1 ;\n"
    junk += bytes(range(256)) * 50 + b"\n"
    junk += b"2026-11-26T10:00:00.0000000Z [gw0] [resmon/1] test pid=1 test=a.py::t phase=call at=start"
    (tmp_path / "junk.log").write_bytes(bytes(junk))
    p = run(["junk.log"], cwd=str(tmp_path))
    text = check_text(p.stdout)
    assert p.returncode in (0, 1, 3)
    assert "1 lines longer than 65536 bytes were cut (first at junk.log:3)" in text
    assert "unknown format version 42 at line 4" in text
    assert "malformed records (first at junk.log:5)" in text
    assert "a.py::t" in text


def test_python_dash_m_resmon_report():
    env = dict(os.environ, RESMON_BIN_DIR=os.path.dirname(report_bin()))
    p = subprocess.run([sys.executable, "-m", "resmon", "report", "--format", "json",
                        os.path.join(DATA, "gh_passed.log")], capture_output=True, env=env)
    assert p.returncode == 0, p.stderr
    assert b'"kind":\t"passed"' in p.stdout
    p = subprocess.run([sys.executable, "-m", "resmon", "nope"], capture_output=True)
    assert p.returncode == 2


def _svg_points(html, title):
    """The (x, y) points of the polyline with this <title>."""
    import re  # noqa: PLC0415
    m = re.search(r'<polyline[^>]*points="([^"]*)"><title>%s' % re.escape(title), html)
    assert m, title
    return [tuple(float(v) for v in p.split(",")) for p in m.group(1).split()]


def test_html_chart_scales_to_the_cgroup():
    # a 3 GiB cgroup on a 7 GiB machine: the axis is the cgroup's range, the
    # limit a labelled line, and gw0's growth fills the chart's height
    html = run(["--format", "html", "xdist_sampler.log", "xdist_records.log"]).stdout.decode("ascii")
    assert "cgroup limit 3.0 GiB</text>" in html
    assert "memory axis: the cgroup's range" in html
    assert ">7.0 GiB</text>" not in html  # not the machine's total
    top = 300 - 50  # SVG_H - SVG_PAD: y of 0 bytes; 50 (SVG_PAD): y of the top
    use = _svg_points(html, "cgroup memory use")
    assert min(y for _, y in use) < 50 + (top - 50) * 0.2, use  # near the top
    # the machine's available memory (>= 3.8 GiB) is above the scale: not drawn, said so
    assert "system available memory" not in html
    assert "above this scale (not drawn)" in html
    assert "http" not in html and "<script" not in html


def test_html_chart_without_cgroup_keeps_the_machine_scale():
    html = run(["--format", "html", "gh_oom.log"]).stdout.decode("ascii")
    assert "memory axis: the machine's memory" in html
    assert _svg_points(html, "system available memory")


def test_coloured_pytest_output_is_read():
    # pytest --color=yes puts ANSI codes inside its summary and FAILED lines
    lines = [b"2026-11-26T10:00:00.0000000Z \x1b[31mFAILED\x1b[0m t.py::test_a - assert 1 == 2",
             b"2026-11-26T10:00:01.0000000Z \x1b[31m====== \x1b[31m\x1b[1m1 failed\x1b[0m, "
             b"\x1b[32m2 passed\x1b[0m\x1b[31m in 0.05s\x1b[0m\x1b[31m ======\x1b[0m",
             b"2026-11-26T10:00:02.0000000Z ##[error]Process completed with exit code 1."]
    rc, doc = run_json(["-"], stdin=b"\n".join(lines) + b"\n")
    assert doc["verdict"]["kind"] == "failed" and doc["verdict"]["level"] == "high"
    assert doc["pytest"]["failed"] == 1 and doc["pytest"]["passed"] == 2
    # and a plain passing summary in colour is a pass, not "no summary"
    rc, doc = run_json(["-"], stdin=b"\x1b[32m====== \x1b[32m3 passed\x1b[0m\x1b[32m in 0.1s"
                                   b" ======\x1b[0m\n")
    assert doc["verdict"]["kind"] == "passed" and rc == 0


def _rec(t, body):
    return ("2026-11-26T10:00:%06.3f0000Z [resmon/1] %s ts=2026-11-26T10:00:%09.6fZ ;"
            % (t, body, t)).encode()


def test_orphans_after_the_command_died_do_not_move_the_boundary():
    # xdist: the controller is SIGKILLed at t=10; its worker goes on alone for a
    # while and writes a call end and a teardown: the run's state is at t=10
    lines = [_rec(1, "test pid=7 worker=gw0 test=t.py::test_a phase=setup at=start rss=100"),
             _rec(2, "test pid=7 worker=gw0 test=t.py::test_a phase=call at=start rss=100"),
             _rec(10, "verdict pid=5 signal=9 name=KILL status=137"),
             _rec(11, "test pid=7 worker=gw0 test=t.py::test_a phase=call at=end outcome=passed"
                      " rss=100"),
             _rec(12, "test pid=7 worker=gw0 test=t.py::test_a phase=teardown at=end"
                      " outcome=passed rss=100")]
    rc, doc = run_json(["-"], stdin=b"\n".join(lines) + b"\n")
    assert doc["boundary"]["test"] == "t.py::test_a" and doc["boundary"]["phase"] == "call"
    # the same log without the sampler's word of the death: the test ended
    rc, doc = run_json(["-"], stdin=b"\n".join(lines[:2] + lines[3:]) + b"\n")
    assert doc["boundary"] is None or doc["boundary"]["test"] is None


def test_start_lines_alone_end_the_previous_test():
    # the plugin's default job log: a setup start per test, no end lines. Each
    # start ends the test before it in the same process, so the tests have an
    # end RSS (the trend) and only the last one is cut off
    lines = [_rec(1 + i, "test pid=7 test=t.py::test_%d phase=setup at=start rss=%d"
                  % (i, (100 + 20 * i) << 20)) for i in range(8)]
    lines.append(b"2026-11-26T10:00:30.0000000Z ##[error]Process completed with exit code 137.")
    rc, doc = run_json(["-"], stdin=b"\n".join(lines) + b"\n")
    assert doc["boundary"]["test"] == "t.py::test_7"
    assert doc["trend"][0]["class"] == "leak" and doc["trend"][0]["n"] == 7
    ended = [t for t in doc["tests"] if t["finished"]]
    assert len(ended) == 7 and not any(t["killed"] for t in ended)


def test_markdown_escapes_only_what_markdown_reads():
    log = _rec(1, 'test pid=7 test="t-1.py::test_a[x-y]" phase=setup at=start rss=100') + b"\n"
    p = run(["--format", "markdown", "-"], stdin=log)
    md = p.stdout.decode("ascii")
    assert "t-1.py::test\\_a\\[x-y\\]" in md, md
    assert "&#" not in md


def test_a_finished_run_without_per_test_outcomes():
    # pytest -q and the plugin's default job log: start lines, no outcome per
    # test, and "7 passed": every test ended and passed, the last one too;
    # the short call-start lines (no ts, no id) belong to the test that started
    lines = []
    for i in range(4):
        lines.append(_rec(1 + i, "test pid=7 test=t.py::test_%d phase=setup at=start rss=100" % i))
        lines.append(b"2026-11-26T10:00:59.0000000Z [resmon/1] test pid=7 phase=call at=start ;")
    lines.append(b"2026-11-26T10:00:59.0000000Z ======= 4 passed in 0.02s =======")
    rc, doc = run_json(["-"], stdin=b"\n".join(lines) + b"\n")
    assert rc == 0 and doc["boundary"] is None
    assert {(t["outcome"], t["phase"], t["finished"]) for t in doc["tests"]} == {
        ("passed", "call", True)}
    # one skipped test: which one is not known, so no test is called passed by guess
    lines[-1] = b"2026-11-26T10:00:59.0000000Z ======= 3 passed, 1 skipped in 0.02s ======="
    rc, doc = run_json(["-"], stdin=b"\n".join(lines) + b"\n")
    assert {t["outcome"] for t in doc["tests"]} == {""}
