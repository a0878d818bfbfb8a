# SPDX-License-Identifier: MIT
"""Job logs as `gh run view RUN --log` (and --log-failed) prints them: every line
prefixed with "JOB<TAB>STEP<TAB>", then GitHub's time (docs/report.md shows
`gh run view 123456 --log | resmon-report -`). Each corpus scenario's job log in
that form must give the answers of the raw log; a tab in printed text is not
such a prefix; a file of several jobs says so."""

import os

import pytest

from reporthelp import ROOT, check_text, run, run_json

CORPUS = os.path.join(ROOT, "tests", "corpus")
SCENARIOS = sorted(n for n in os.listdir(CORPUS)
                   if os.path.exists(os.path.join(CORPUS, n, "job.log")))


def _answers(doc):
    return (doc["verdict"]["kind"], doc["verdict"]["confidence"],
            (doc.get("boundary") or {}).get("test"), (doc.get("culprit") or {}).get("id"))


def _cli(raw, job=b"test (ubuntu-latest, 3.11)", step=b"Run pytest"):
    return b"".join(job + b"\t" + step + b"\t" + line for line in raw.splitlines(True))


@pytest.mark.parametrize("name", SCENARIOS)
def test_gh_cli_log_reads_as_the_raw_job_log(name, tmp_path):
    with open(os.path.join(CORPUS, name, "job.log"), "rb") as f:
        raw = f.read()
    (tmp_path / "run.log").write_bytes(_cli(raw))
    _, want = run_json([os.path.join(CORPUS, name, "job.log")])
    _, got = run_json([str(tmp_path / "run.log")], cwd=str(tmp_path))
    assert _answers(got) == _answers(want)
    assert got["inputs"][0]["github"] and got["inputs"][0]["gh_cli_jobs"] == 1


def test_a_tab_in_printed_text_is_not_a_prefix(tmp_path):
    # a plain log (no GitHub time) whose test prints tab-separated values
    # with a date: the line stays text, the run's summary is still read
    log = (b"tests/t.py::test_tsv PASSED\n"
           b"name\tvalue\t2026-12-02T10:00:00.0000000Z Killed\n"
           b"======================== 1 passed in 0.10s ========================\n")
    (tmp_path / "plain.log").write_bytes(log)
    _, doc = run_json([str(tmp_path / "plain.log")], cwd=str(tmp_path))
    assert doc["verdict"]["kind"] == "passed", doc["verdict"]
    assert doc["inputs"][0]["gh_cli_jobs"] == 0


def test_several_jobs_in_one_file_are_noted(tmp_path):
    a = open(os.path.join(CORPUS, "segfault_ctypes", "job.log"), "rb").read()
    b = open(os.path.join(CORPUS, "pass_plain", "job.log"), "rb").read()
    (tmp_path / "run.log").write_bytes(_cli(a, job=b"linux") + _cli(b, job=b"windows"))
    p = run([str(tmp_path / "run.log")], cwd=str(tmp_path))
    check_text(p.stdout)
    assert b"note: the logs of several jobs, read as one run" in p.stdout, p.stdout
    _, doc = run_json([str(tmp_path / "run.log")], cwd=str(tmp_path))
    assert doc["inputs"][0]["gh_cli_jobs"] == 2


def test_a_job_named_with_a_T_at_its_11th_byte_is_read(tmp_path):
    # "Build and Test": its 'T' where a timestamp has one did not make the
    # file plain text
    raw = open(os.path.join(CORPUS, "segfault_ctypes", "job.log"), "rb").read()
    (tmp_path / "run.log").write_bytes(_cli(raw, job=b"Build and Test"))
    _, want = run_json([os.path.join(CORPUS, "segfault_ctypes", "job.log")])
    _, got = run_json([str(tmp_path / "run.log")], cwd=str(tmp_path))
    assert _answers(got) == _answers(want) and got["inputs"][0]["gh_cli_jobs"] == 1
