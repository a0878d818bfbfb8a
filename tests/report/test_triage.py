# SPDX-License-Identifier: MIT
"""`resmon-report triage` on real multi-job logs (tests/report/triage_data, written by
make_logs.py from real pytest sessions) and on the recorded corpus: groups, categories,
the order of fixes, only_in, version drift, the same triage from `gh run view --log`
and per-job logs, negative cases, and bad input that must never crash."""

import gzip
import json
import os
import shutil
import subprocess

import pytest

from reporthelp import ROOT, check_text, report_bin

DATA = os.path.join(ROOT, "tests", "report", "triage_data")
JOBS = os.path.join(DATA, "jobs")
CORPUS = os.path.join(ROOT, "tests", "corpus")
UBUNTU, WINDOWS, MACOS = "test (ubuntu-latest)", "test (windows-latest)", "test (macos-latest)"


def triage(args, cwd=DATA, stdin=None, fmt=None):
    argv = [report_bin(), "triage"] + (["--format", fmt] if fmt else []) + list(args)
    return subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, timeout=120)


def triage_json(args, cwd=DATA):
    p = triage(args, cwd=cwd, fmt="json")
    assert p.returncode in (0, 1, 3), p.stderr.decode("ascii", "replace")
    p.stdout.decode("ascii")  # ASCII only
    return p.returncode, json.loads(p.stdout)


def job_files():
    return sorted(os.path.join(JOBS, f) for f in os.listdir(JOBS))


@pytest.fixture(scope="module")
def run():
    rc, doc = triage_json(["run.log"])
    assert rc == 1
    return doc


def group(doc, category, sig_start=""):
    found = [g for g in doc["groups"] if g["category"] == category
             and g["signature"].startswith(sig_start)]
    assert len(found) == 1, (category, sig_start, [g["signature"] for g in doc["groups"]])
    return found[0]


def test_schema_and_jobs(run):
    assert run["schema"] == "resmon-triage/1"
    assert set(run) >= {"jobs", "groups", "only_in", "versions"}
    names = [j["name"] for j in run["jobs"]]
    assert names == sorted([UBUNTU, WINDOWS, MACOS])
    by = {j["name"]: j for j in run["jobs"]}
    assert [by[n]["os"] for n in (UBUNTU, WINDOWS, MACOS)] == ["linux", "windows", "macos"]
    assert by[UBUNTU]["verdict"]["kind"] == "segfault"
    assert by[UBUNTU]["boundary"]["test"] == "native/test_crash.py::test_reads_null"
    assert by[WINDOWS]["counts"] == {"passed": 2, "failed": 12, "errors": 1, "skipped": 0}
    assert by[MACOS]["counts"]["failed"] == 11
    for j in run["jobs"]:
        assert set(j) >= {"name", "verdict", "boundary", "culprit", "counts", "failures"}
        for f in j["failures"]:
            assert set(f) >= {"test", "category", "signature", "message", "file", "line"}


def test_per_job_verdict_is_resmon_reports(run):
    """verdict, boundary and culprit are exactly the report's for that job alone."""
    by = {j["name"]: j for j in run["jobs"]}
    for path in job_files():
        name = os.path.basename(path)[:-4]
        p = subprocess.run([report_bin(), "--format", "json", path], capture_output=True)
        rep = json.loads(p.stdout)
        mine = by[name]
        for key in ("kind", "confidence", "why", "exit_code", "signal", "threads_in_dump",
                    "crash_frame"):
            assert mine["verdict"][key] == rep["verdict"][key], (name, key)
        assert [(e["kind"], e["line"], e["text"]) for e in mine["verdict"]["evidence"]] == \
            [(e["kind"], e["line"], e["text"]) for e in rep["verdict"]["evidence"]]
        assert (mine["boundary"] or {}).get("test") == (rep["boundary"] or {}).get("test")
        assert (mine["culprit"] or {}).get("id") == (rep["culprit"] or {}).get("id")
        assert mine["counts"]["failed"] == (rep["pytest"] or {}).get("failed")


def test_encoding_group_is_windows_only(run):
    g = group(run, "encoding")
    assert g["signature"].startswith("UnicodeEncodeError: '?' codec can't encode character '?'")
    assert sorted(g["tests"]) == ["tests/test_enc.py::test_print_arrow",
                                  "tests/test_enc.py::test_print_check"]
    assert g["jobs"] == [WINDOWS] and g["os_specific"] and g["os"] == ["windows"]
    assert g["example"]["file"] == "tests/test_enc.py" and g["example"]["line"] in (2, 6)
    assert "'charmap' codec" in g["example"]["message"]
    assert g["hint"].startswith("non-ASCII output on a cp1252 console")


def test_categories_of_real_failures(run):
    dep = group(run, "dependency")
    assert dep["signature"] == "ModuleNotFoundError: No module named '?'"
    assert dep["jobs"] == [MACOS] and dep["tests"] == ["tests/test_dep.py::test_six_api"]
    err = group(run, "error")
    assert err["tests"] == ["tests/test_plain.py::test_query"] and len(err["jobs"]) == 3
    assert err["signature"] == "RuntimeError: database server not reachable on port #"
    assert group(run, "timeout")["tests"] == ["tests/test_plain.py::test_slow"]
    mem = group(run, "memory_error")
    assert sorted(mem["tests"]) == ["tests/test_mem.py::test_huge_array",
                                    "tests/test_mem.py::test_huge_matrix"]
    assert mem["signature"].startswith("numpy._core._exceptions._ArrayMemoryError: Unable to "
                                       "allocate #")
    seg = group(run, "segfault")
    assert seg["jobs"] == [UBUNTU] and seg["tests"] == ["native/test_crash.py::test_reads_null"]
    assert seg["example"]["file"] == "native/test_crash.py" and seg["example"]["line"] == 10
    assert "threads in the dump" in seg["example"]["message"]
    tol = group(run, "tolerance")
    assert tol["signature"] == "AssertionError: Not equal to tolerance rtol=#, atol=#"
    assert len(tol["tests"]) == 2 and len(tol["jobs"]) == 3


def test_encoding_word_in_an_assertion_is_not_encoding(run):
    g = group(run, "assertion", "AssertionError: encoding_name")
    assert g["tests"] == ["tests/test_plain.py::test_encoding_name"]
    enc = group(run, "encoding")
    assert "tests/test_plain.py::test_encoding_name" not in enc["tests"]


def test_numbers_group_together_types_do_not(run):
    value = group(run, "other", "ValueError:")
    assert value["signature"] == "ValueError: bad size # for block at <path>"
    assert sorted(value["tests"]) == ["tests/test_plain.py::test_value_large",
                                      "tests/test_plain.py::test_value_small"]
    typ = group(run, "other", "TypeError:")
    assert typ["tests"] == ["tests/test_plain.py::test_type_small"]


def test_order_of_fixes(run):
    cats = [g["category"] for g in run["groups"]]
    assert cats == ["encoding", "dependency", "error", "timeout", "memory_error", "segfault",
                    "tolerance", "assertion", "assertion", "other", "other"]
    p = triage(["run.log"])
    text = check_text(p.stdout)
    steps = [line.split(".", 1)[1].split("(")[0].split(":")[0].strip()
             for line in text.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert steps[0] == "version drift"
    assert steps[1:] == cats


def test_only_in_and_version_drift(run):
    assert run["only_in"] == {
        UBUNTU: ["native/test_crash.py::test_reads_null"],
        WINDOWS: ["tests/test_enc.py::test_print_check", "tests/test_enc.py::test_print_arrow"],
        MACOS: ["tests/test_dep.py::test_six_api"]}
    assert run["versions"] == [{"package": "six",
                                "by_job": {UBUNTU: "1.16.0", WINDOWS: "1.17.0"}}]


def test_both_formats_gzip_and_any_order_give_one_triage(run, tmp_path):
    _, per_job = triage_json(job_files())
    assert per_job == run
    _, reversed_ = triage_json(list(reversed(job_files())))
    assert reversed_ == run
    gz = tmp_path / "run.log.gz"
    with open(os.path.join(DATA, "run.log"), "rb") as f:
        gz.write_bytes(gzip.compress(f.read()))
    _, from_gz = triage_json([str(gz)])
    assert from_gz == run
    p = subprocess.run([report_bin(), "triage", "--format", "json", "-"], cwd=DATA,
                       stdin=open(os.path.join(DATA, "run.log"), "rb"), capture_output=True)
    assert json.loads(p.stdout) == run


def test_markdown_and_html(run):
    md = triage(["run.log"], fmt="markdown").stdout.decode("ascii")
    assert "| job | os | verdict |" in md and "| # | category | cause |" in md
    assert "### Versions that differ" in md and "1.17.0" in md
    html = triage(["run.log"], fmt="html").stdout.decode("ascii")
    assert html.count("<table>") >= 2 and "<svg" in html  # the plugin's markers: a chart
    assert "<script" not in html


def test_passing_job_has_no_failures():
    rc, doc = triage_json([os.path.join(CORPUS, "pass_plain", "job.log")])
    assert rc == 0
    (job,) = doc["jobs"]
    assert job["name"] == "job" and job["verdict"]["kind"] == "passed"
    assert job["failures"] == [] and doc["groups"] == [] and doc["only_in"] == {}


def test_real_oom_kill_with_its_sampler_log_by_job_argument():
    d = os.path.join(CORPUS, "oom_linear_leak")
    files = [os.path.join(d, f) for f in ("job.log", "ci_resource_monitor.log", "records.log")]
    rc, doc = triage_json(["leak=" + f for f in files])
    rep = json.loads(subprocess.run([report_bin(), "--format", "json"] + files,
                                    capture_output=True).stdout)
    (job,) = doc["jobs"]
    assert job["name"] == "leak"
    assert job["verdict"]["kind"] == rep["verdict"]["kind"] == "oom_kill"
    assert job["verdict"]["confidence"] == rep["verdict"]["confidence"]
    assert job["boundary"]["test"] == rep["boundary"]["test"] == "test_suite.py::test_leaks[18]"
    (g,) = doc["groups"]
    assert g["category"] == "oom_kill" and g["tests"] == ["test_suite.py::test_leaks[18]"]
    assert g["hint"].startswith("killed at test_suite.py::test_leaks[18]; no culprit")


def test_empty_job_log_is_a_job_that_never_started(tmp_path):
    (tmp_path / "lint.log").write_bytes(b"")
    rc, doc = triage_json([str(tmp_path / "lint.log"), os.path.join(JOBS, MACOS + ".log")])
    by = {j["name"]: j for j in doc["jobs"]}
    assert by["lint"]["verdict"]["kind"] == "cancelled"
    assert group(doc, "cancelled")["jobs"] == ["lint"]
    assert doc["groups"][-1]["category"] == "cancelled"  # a consequence: fixed last


def test_pip_list_uv_and_freeze_lines(tmp_path):
    ts = "2026-11-26T10:04:31.1234567Z "
    a = ["Package    Version", "---------- -------", "numpy      1.26.4", "Pillow     10.0.0",
         "", " + torch==2.3.0", "attrs==23.1.0",
         "Requirement already satisfied: packaging in ./lib/site-packages (24.0)"]
    b = ["Successfully installed numpy-2.0.0 pillow-10.0.0 torch-2.3.1 attrs-23.1.0",
         "Requirement already satisfied: packaging>=20 in /x/site-packages (from a) (23.2)"]
    (tmp_path / "a.log").write_text("".join(ts + x + "\n" for x in a))
    (tmp_path / "b.log").write_text("".join(ts + x + "\n" for x in b))
    _, doc = triage_json([str(tmp_path / "a.log"), str(tmp_path / "b.log")])
    assert doc["versions"] == [
        {"package": "numpy", "by_job": {"a": "1.26.4", "b": "2.0.0"}},
        {"package": "packaging", "by_job": {"a": "24.0", "b": "23.2"}},
        {"package": "torch", "by_job": {"a": "2.3.0", "b": "2.3.1"}}]


def test_bad_input_never_crashes(tmp_path):
    ts = b"2026-11-26T10:04:31.1234567Z "
    bad = tmp_path / "bad.log"
    bad.write_bytes(
        bytes(range(256)) * 40 + b"\n"
        + b"no tab at all\n" + b"one\ttab only\n" + b"\t\t" + ts + b"empty job name\n"
        + b"job|<b>\xff\x00\tstep\t" + ts + b"FAILED x.py::t[\xe2\x9c\x93|<i>] - E\xff: m\n"
        + b"job|<b>\xff\x00\tstep\t" + ts + b"=" * 70000 + b" FAILURES " + b"=" * 10 + b"\n"
        + b"job|<b>\xff\x00\tstep\t" + ts + b"_" * 5 + b" t " + b"_" * 5 + b"\n"
        + b"job|<b>\xff\x00\tstep\t" + ts + b"E   " + b"Err" * 100000 + b"\n"
        + ts + b"FAILED a.py::" + b"x" * 300000 + b" - ValueError: 1\n"
        + ts + b"Successfully installed " + b"a-1 " * 50000 + b"\n"
        + b"\xef\xbb\xbf" + ts + b"\x1b[31mFAILED\x1b[0m b.py::t - \x1b[1mAssertionError\n")
    for fmt in ("text", "json", "markdown", "html"):
        p = triage([str(bad)], fmt=fmt)
        assert p.returncode in (0, 1, 3), (fmt, p.stderr)
        out = p.stdout.decode("ascii")
        if fmt == "text":
            check_text(p.stdout)
        if fmt in ("markdown", "html"):
            assert "<b>" not in out and "<i>" not in out
    _, doc = triage_json([str(bad)])
    names = [j["name"] for j in doc["jobs"]]
    assert sorted(names) == ["bad", "job|<b>\\xff?"]
    # lines without the gh prefix after gh lines belong to the job before them
    gh_job = [j for j in doc["jobs"] if j["name"] != "bad"][0]
    assert "b.py::t" in [f["test"] for f in gh_job["failures"]]


def test_usage_and_unreadable_input(tmp_path):
    p = triage([])
    assert p.returncode == 2
    p = triage([str(tmp_path / "missing.log")])
    assert p.returncode == 2 and b"missing.log" in p.stderr
    p = triage(["--format", "xml", "run.log"])
    assert p.returncode == 2
    p = subprocess.run([report_bin(), "--help"], capture_output=True)
    assert b"triage" in p.stdout


@pytest.mark.skipif(shutil.which("gzip") is None, reason="gzip not installed")
def test_truncated_gzip_gives_the_lines_it_holds(tmp_path):
    raw = open(os.path.join(DATA, "run.log"), "rb").read()
    gz = gzip.compress(raw)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gz[: len(gz) // 2])
    p = triage([str(cut)], fmt="json")
    assert p.returncode in (1, 3)
    assert json.loads(p.stdout)["jobs"]


def test_pip_freeze_names_of_every_first_letter(tmp_path):
    # pip freeze lines whose names start with a letter that also starts the
    # lines triage looks for (FAILED, ERROR, Successfully, Requirement,
    # Package, platform): "pytest==8.0", "PyYAML==6.0", "SQLAlchemy==2.0"
    stamp = "2026-01-01T00:00:00.0000000Z "
    lines = []
    for job, v in (("job (ubuntu)", "1"), ("job (windows)", "2")):
        for pin in ("pytest==8.%s" % v, "PyYAML==6.%s" % v, "SQLAlchemy==2.%s" % v,
                    "Flask==3.%s" % v, "Sphinx==7.0", "requests==2.%s" % v, "numpy==1.26.4"):
            lines.append("%s\tpip freeze\t%s%s" % (job, stamp, pin))
        lines.append("%s\tpip freeze\t%sFAILED t.py::test_x - assert a == b" % (job, stamp))
    path = tmp_path / "run.log"
    path.write_text("\n".join(lines) + "\n")
    _, doc = triage_json([str(path)], cwd=str(tmp_path))
    drift = {d["package"]: d["by_job"] for d in doc["versions"]}
    assert set(drift) == {"pytest", "pyyaml", "sqlalchemy", "flask", "requests"}, drift
    assert drift["pytest"] == {"job (ubuntu)": "8.1", "job (windows)": "8.2"}
