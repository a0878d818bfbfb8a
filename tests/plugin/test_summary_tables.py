# SPDX-License-Identifier: MIT
"""The session summary (issue 12, item 7): skipped tests out of the peak
tables, a crashed xdist worker's tests counted and named, and one resmon
section in the GitHub step summary of the documented workflow. Real pytest
sessions; the workflow's own commands."""

import os
import re
import shlex
import subprocess
import sys

import pytest

from plughelp import clean_env, find_records

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SKIPS = {"test_s.py": """
    import pytest

    def test_small():
        pass

    def test_skipped_after_allocating():
        # the highest peak of the session, then a skip: the peak is the
        # process's, not something the test can be ranked by
        block = bytearray(b"\\x01") * (80 << 20)
        assert len(block)
        pytest.skip("skipped after taking 80 MiB")

    @pytest.mark.skip(reason="never runs")
    def test_marked_skip():
        pass
"""}


def _section(out, title):
    lines = out.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(title))
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        rows.append(line)
    return rows


def test_skipped_tests_are_not_in_the_peak_tables(run_pytest, tmp_path):
    step = tmp_path / "step.md"
    rec = tmp_path / "rec.log"
    res = run_pytest(SKIPS, ["-q", "-rs", "--resmon", "--resmon-records", str(rec)],
                     env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step)})
    assert res.rc == 0, res
    summary = res.out[res.out.index("resmon summary"):]
    assert "3 tests in 1 process" in summary, summary  # counted, not ranked
    rows = _section(summary, "top ")
    assert rows and all("skip" not in r for r in rows), summary
    assert any("test_s.py::test_small" in r for r in rows), summary
    # the skipped test really had the highest peak: it would have led the table
    ends = {r["test"]: r for r in find_records(rec.read_text())
            if r.get("at") == "end" and r.get("phase") == "teardown"}
    skipped = int(ends["test_s.py::test_skipped_after_allocating"]["test_peak"])
    assert skipped > int(ends["test_s.py::test_small"]["test_peak"]) + (60 << 20), ends
    md = step.read_text()
    table = [l for l in md.splitlines() if l.startswith("| `")]
    assert table and all("skip" not in l for l in table), md
    record = find_records(rec.read_text(), kind="summary")
    assert len(record) == 1 and record[0]["tests"] == "3", record
    assert "skip" not in record[0]["max_peak_test"], record


CRASH = {"test_c.py": """
    import os
    import pytest

    @pytest.mark.parametrize("i", range(6))
    def test_fine(i):
        pass

    def test_dies():
        os._exit(1)
"""}


@pytest.mark.skipif(sys.platform == "win32", reason="os._exit in an xdist worker: POSIX here")
def test_summary_counts_and_names_a_crashed_workers_tests(run_pytest, tmp_path):
    pytest.importorskip("xdist")
    step = tmp_path / "step.md"
    res = run_pytest(CRASH, ["-q", "-n", "2", "-p", "no:randomly", "--resmon"],
                     env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step)})
    assert res.rc == 1, res
    assert "crashed while running" in res.out, res  # xdist's own report
    summary = res.out[res.out.index("resmon summary"):]
    # every test counted once: the worker that died sent no numbers, the
    # controller counts its tests from the reports it has
    assert re.search(r"^7 tests in 3 processes$", summary, re.M), summary
    line = [l for l in summary.splitlines() if l.startswith("worker gw")]
    assert len(line) == 1, summary
    m = re.match(r"worker (gw\d) crashed while running test_c.py::test_dies \((\d+) tests? "
                 r"counted above; its numbers were lost with it\)$", line[0])
    assert m, line
    assert int(m.group(2)) >= 1
    assert "worker %s crashed while running test_c.py::test_dies" % m.group(1) in step.read_text()


def _workflow_commands():
    """The run: blocks of the Tests and resmon report steps of
    docs/examples/github-actions.yml, as shell text."""
    text = open(os.path.join(ROOT, "docs", "examples", "github-actions.yml")).read()
    steps = {}
    for block in re.split(r"\n      - name: ", text)[1:]:
        name = block.split("\n", 1)[0].strip()
        m = re.search(r"\n        run: \|\n((?:          .*\n|\s*\n)+)", block + "\n")
        if m:
            steps[name] = "\n".join(l[10:] for l in m.group(1).splitlines())
    return steps


def test_documented_workflow_writes_one_resmon_section(tmp_path):
    steps = _workflow_commands()
    assert "Tests" in steps and "resmon report" in steps, steps
    from resmon import _tools

    bindir = os.path.dirname(_tools.tool_path("resmon-report"))
    if not os.path.exists(os.path.join(bindir, "resmon-report")):
        pytest.skip("the C tools are not built")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_w.py").write_text("def test_one():\n    pass\n\n"
                                     "def test_two():\n    big = bytearray(b'x') * (30 << 20)\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    step = tmp_path / "step_summary.md"
    step.write_text("")
    # the workflow's commands as written: python, resmon-sampler and
    # resmon-report from PATH (this interpreter's directory, the built tools)
    env = clean_env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(step),
                    PATH=os.pathsep.join([os.path.dirname(sys.executable), bindir,
                                          os.environ.get("PATH", "")]))
    for name in ("Tests", "resmon report"):
        script = steps[name].replace("python -m pytest ", "python -m pytest -p no:cacheprovider ")
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=str(tmp_path), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
        assert proc.returncode == 0, (name, script, proc.stdout[-3000:], proc.stderr[-3000:])
    md = step.read_text()
    headings = [l for l in md.splitlines() if l.startswith("#") and "resmon" in l.lower()]
    # resmon-report's section only; the plugin's is off in the Tests step
    assert len(headings) == 1, md
    assert "--resmon-step-summary=off" in shlex.split(steps["Tests"].replace("\\\n", " "))
