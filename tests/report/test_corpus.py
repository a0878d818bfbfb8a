# SPDX-License-Identifier: MIT
"""resmon-report against the corpus (tests/corpus, docs/corpus.md): recorded
real CI deaths and non-deaths, each with the truth of what happened (not what
the report printed when it was recorded).

For every scenario: the report on all its files, and on the job log alone,
must give the true verdict kind, boundary test, culprit and trend class; the
order of the input files must not change a byte of the JSON (inputs aside); a
job log split in two files must give the same answers as the whole; and over
the whole corpus, every verdict said with "high" confidence must be right.

RESMON_REPORT_BIN=path runs another build of resmon-report against the corpus.
"""

import itertools
import json
import os
import subprocess

import pytest

from reporthelp import ROOT, run_json

CORPUS = os.path.join(ROOT, "tests", "corpus")
#: a scenario's report inputs (truth.log is the recorder's, not an input)
INPUTS = ("job.log", "ci_resource_monitor.log", "records.log")
KEYS = ("verdict", "boundary", "culprit", "trend")
VERDICTS = {"passed", "failed", "oom_kill", "killed", "runner_shutdown", "segfault", "signal",
            "memory_error", "hang", "cancelled", "unknown"}
TRENDS = {"leak", "steps", "single", "flat", "noise", "too few tests"}

with open(os.path.join(CORPUS, "expected.json")) as _f:
    EXPECTED = json.load(_f)
SCENARIOS = sorted(EXPECTED)
_docs = {}


def inputs(name, mode="all"):
    if mode == "joblog":
        return [os.path.join(CORPUS, name, "job.log")]
    return [os.path.join(CORPUS, name, f) for f in INPUTS
            if os.path.exists(os.path.join(CORPUS, name, f))]


def report(files):
    """The report's JSON for files (memoized: one run per input list)."""
    key = tuple(files)
    if key not in _docs:
        binary = os.environ.get("RESMON_REPORT_BIN")
        if not binary:
            _docs[key] = run_json(list(files), cwd=CORPUS)[1]
        else:
            p = subprocess.run([binary, "--format", "json"] + list(files), cwd=CORPUS,
                               capture_output=True, timeout=120)
            assert p.returncode in (0, 1, 3), p.stderr.decode("ascii", "replace")
            _docs[key] = json.loads(p.stdout.decode("ascii"))
    return _docs[key]


def answers(doc):
    """What the report says: verdict kind, boundary test, culprit id, trend class."""
    trend = doc.get("trend") or []
    return {"verdict": doc["verdict"]["kind"],
            "boundary": (doc.get("boundary") or {}).get("test"),
            "culprit": (doc.get("culprit") or {}).get("id"),
            "trend": trend[0]["class"] if trend else None}


def matches(got, want):
    """want: an exact value, None (nothing named), "*" (not judged), or for
    a culprit "unknown" (the evidence cannot separate one: name none)."""
    if want == "*":
        return True
    if want == "unknown":
        return got is None
    return got == want


def _judge(name, mode, key):
    want = EXPECTED[name][mode][key]
    if want == "*":
        pytest.skip("%s %s: not judged" % (name, key))
    got = answers(report(inputs(name, mode)))[key]
    assert matches(got, want), "%s (%s, %s): report says %r, truth is %r\n  what happened: %s" % (
        name, mode, key, got, want, EXPECTED[name]["what"])


# ---------------------------------------------------------- the corpus itself --

def test_corpus_is_complete():
    # at least 30 scenarios, at least half of them negative, every value in
    # the vocabulary, every input small and present
    assert len(SCENARIOS) >= 30, SCENARIOS
    negative = [n for n in SCENARIOS if EXPECTED[n]["negative"]]
    assert 2 * len(negative) >= len(SCENARIOS), negative
    for name in SCENARIOS:
        e = EXPECTED[name]
        assert e["what"] and isinstance(e["negative"], bool), name
        assert os.path.exists(os.path.join(CORPUS, name, "job.log")), name
        for mode in ("all", "joblog"):
            assert set(e[mode]) == set(KEYS), (name, mode)
            assert e[mode]["verdict"] in VERDICTS | {"*"}, (name, mode)
            assert e[mode]["trend"] in TRENDS | {"*", None}, (name, mode)
            for key in ("boundary", "culprit"):
                assert e[mode][key] is None or isinstance(e[mode][key], str), (name, mode, key)
        if e["all"]["verdict"] not in ("oom_kill", "memory_error"):
            assert e["all"]["culprit"] is None, (name, "a culprit only for a death by memory")
        for path in inputs(name):
            assert os.path.getsize(path) < 300 * 1024, path


# ------------------------------------------------ (a) all files, (b) job log --

@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_all_files(name, key):
    _judge(name, "all", key)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_job_log_alone(name, key):
    _judge(name, "joblog", key)


# ------------------------------------------------------ (c) input order --

def _canonical(doc):
    doc = dict(doc)
    doc.pop("inputs", None)
    return json.dumps(doc, indent=1)


@pytest.mark.parametrize("name", [n for n in SCENARIOS if len(inputs(n)) > 1])
def test_input_order_changes_nothing(name):
    files = inputs(name)
    first = _canonical(report(files))
    for order in itertools.permutations(files):
        other = _canonical(report(order))
        if other != first:
            diff = [(a, b) for a, b in zip(first.splitlines(), other.splitlines()) if a != b]
            pytest.fail("%s: %s gives other JSON than %s; first differences: %s"
                        % (name, [os.path.basename(f) for f in order],
                           [os.path.basename(f) for f in files], diff[:5]))


# ------------------------------------------------- (d) a job log in two parts --

@pytest.mark.parametrize("name", SCENARIOS)
def test_job_log_split_in_two(name, tmp_path):
    with open(inputs(name, "joblog")[0], "rb") as f:
        lines = f.read().splitlines(keepends=True)
    whole = answers(report(inputs(name, "joblog")))
    whole.pop("trend")
    n = len(lines)
    wrong = []
    for cut in sorted({1, n // 3, n // 2, 2 * n // 3, n - 1} - {0, n}):
        first, second = tmp_path / ("cut%d.1.log" % cut), tmp_path / ("cut%d.2.log" % cut)
        first.write_bytes(b"".join(lines[:cut]))
        second.write_bytes(b"".join(lines[cut:]))
        got = answers(report([str(first), str(second)]))
        got.pop("trend")
        if got != whole:
            wrong.append("cut after line %d: %s" % (cut, got))
    assert not wrong, "%s: the whole job log says %s; split: %s" % (name, whole, "; ".join(wrong))


# ------------------------------------------------ (e) "high" must be right --

def test_high_confidence_verdicts_are_right():
    wrong = []
    for name in SCENARIOS:
        for mode in ("all", "joblog"):
            v = report(inputs(name, mode))["verdict"]
            want = EXPECTED[name][mode]["verdict"]
            if v["level"] == "high" and not matches(v["kind"], want):
                wrong.append("%s (%s): %s at %.2f, truth %s" % (name, mode, v["kind"],
                                                                 v["confidence"], want))
    assert not wrong, "high-confidence verdicts that are wrong:\n  " + "\n  ".join(wrong)
