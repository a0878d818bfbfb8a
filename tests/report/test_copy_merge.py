# SPDX-License-Identifier: MIT
"""The two copies of one record (the plugin writes each record to the job log
and to its record file, sampled a moment apart) count once, whatever is
written between them: other workers' records, thousands of them, whose keys
may fall anywhere in the fold's copy table. Two real runs of one test (far
apart in time, or on two processes) stay two. The answer is the same for any
order of the input files.

RESMON_REPORT_BIN=path runs another build of resmon-report.
"""

import itertools
import json
import os
import random
import subprocess

import pytest

from reporthelp import report_bin

#: the fold's window for copies (fold.c COPY_WINDOW_USEC)
WINDOW_USEC = 50000
BASE_USEC = (10 * 3600 + 51 * 60 + 23) * 1_000_000


def ts(usec):
    sec, us = divmod(usec, 1_000_000)
    return "2026-12-02T%02d:%02d:%02d.%06dZ" % (sec // 3600 % 24, sec // 60 % 60, sec % 60, us)


def job_line(t, pid, worker, test, phase, at, rss):
    """The job log's copy: the plugin's short form."""
    return '[resmon/1] test ts=%s pid=%d worker=%s test="%s" phase=%s at=%s rss=%d ;\n' % (
        ts(t), pid, worker, test, phase, at, rss)


def file_line(t, pid, worker, test, phase, at, rss):
    """The record file's copy: the full sample, taken a moment later."""
    return ('[resmon/1] test ts=%s mono=1748.034953 host=vm pid=%d worker=%s test="%s" phase=%s '
            "at=%s rss=%d hwm=%d vms=283856896 thr=4 mem_total=25276059648 "
            "mem_avail=20380905472 cg_use=473010176 cg_lim=none pythr=2 ;\n"
            % (ts(t), pid, worker, test, phase, at, rss, rss))


def report(paths):
    binary = os.environ.get("RESMON_REPORT_BIN") or report_bin()
    p = subprocess.run([binary, "--format", "json", "--top", "100000"] + [str(x) for x in paths],
                       capture_output=True, timeout=120)
    assert p.returncode in (0, 1, 3), p.stderr.decode("ascii", "replace")
    return json.loads(p.stdout.decode("ascii"))


def canonical(doc):
    doc = dict(doc)
    doc.pop("inputs", None)
    return json.dumps(doc, indent=1, sort_keys=True)


def instances(doc):
    return sorted((t["id"], t["pid"], t["attempt"]) for t in doc["tests"])


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


# ----------------------------------------- (1) the real run's three records --

NX = "venv/lib/python3.11/site-packages/networkx/classes/tests/"
TEST_A = (NX + "test_multigraph.py::TestMultiGraphSubclass::"
          "test_non_multigraph_input[dod4-False-edges4]")
TEST_B = NX + "test_reportviews.py::TestDiMultiDegreeView::test_iter"


def slot_collision_files(tmp_path):
    """pytest -n 2 on networkx: gw0's setup start of TEST_A in the job log and,
    1.3 ms later, in its record file; between them gw1's setup start of TEST_B,
    whose key fell into the same slot of the old direct-mapped copy table."""
    t0 = BASE_USEC + 615659
    job = write(tmp_path, "job_copy.log", [job_line(t0, 26626, "gw0", TEST_A, "setup", "start",
                                                    89628672)])
    rec = write(tmp_path, "records_copy.log", [file_line(t0 + 1320, 26626, "gw0", TEST_A, "setup",
                                                         "start", 89628672)])
    other = write(tmp_path, "other_worker.log", [file_line(t0 + 507, 26629, "gw1", TEST_B,
                                                           "setup", "start", 90259456)])
    return rec, job, other


def test_copies_with_another_workers_record_between(tmp_path):
    rec, job, other = slot_collision_files(tmp_path)
    assert report([rec, job])["tests_total"] == 1
    doc = report([rec, job, other])
    assert doc["tests_total"] == 2, instances(doc)
    assert instances(doc) == [(TEST_A, 26626, 1), (TEST_B, 26629, 1)]


def test_copies_in_any_order_of_the_files(tmp_path):
    files = slot_collision_files(tmp_path)
    first = canonical(report(files))
    for order in itertools.permutations(files):
        assert canonical(report(order)) == first, [p.name for p in order]


# --------------------------------- (2) thousands of records between copies --

def xdist_run(rng, workers, tests_per_worker, step_usec):
    """Each worker runs its tests one after the other (setup start, call start,
    teardown end; a test every step_usec); each record goes to the job log at
    its time and to the record file up to 49 ms later (or earlier: the two
    are sampled apart either way), each file in the worker's order.
    Returns (job lines, record lines, tests)."""
    job, rec, tests = [], [], set()
    for w in range(workers):
        pid, worker = 30000 + w, "gw%d" % w
        lag = rng.choice((-1, 1)) * rng.randint(1000, WINDOW_USEC - 1000 - step_usec // 4)
        for i in range(tests_per_worker):
            test = "tests/test_m%d.py::test_case[%d-%d]" % (i % 7, w, i)
            tests.add((test, pid))
            t = BASE_USEC + w * 37 + i * step_usec
            for k, (phase, at) in enumerate((("setup", "start"), ("call", "start"),
                                             ("teardown", "end"))):
                tr = t + k * (step_usec // 4)
                delay = lag + rng.randint(0, step_usec // 4 - 1)
                rss = 100_000_000 + i * 4096
                job.append((tr, job_line(tr, pid, worker, test, phase, at, rss)))
                rec.append((tr + delay, file_line(tr + delay, pid, worker, test, phase, at,
                                                  rss)))
    job.sort()
    rec.sort()
    return [x[1] for x in job], [x[1] for x in rec], tests


def test_thousands_of_records_between_copies(tmp_path):
    # 8 workers, a test each every 2 ms on each: between the two copies of a
    # record come up to ~1200 records of the others (and of its own worker)
    rng = random.Random(20261202)
    job, rec, tests = xdist_run(rng, workers=8, tests_per_worker=600, step_usec=2000)
    jp, rp = write(tmp_path, "job.log", job), write(tmp_path, "records.log", rec)
    doc = report([jp, rp])
    got = instances(doc)
    assert doc["tests_total"] == len(tests), [x for x in got if x[2] > 1][:5]
    assert got == sorted((t, p, 1) for t, p in tests)
    # each copy alone gives the same instances
    assert instances(report([jp])) == got
    assert instances(report([rp])) == got
    assert canonical(report([rp, jp])) == canonical(doc)


def test_many_records_of_one_moment(tmp_path):
    # a burst: 6000 records in one 50 ms window, all copied, the copies
    # crossing into the next window (the table grows, nothing is forgotten)
    rng = random.Random(7)
    job, rec, tests = xdist_run(rng, workers=20, tests_per_worker=100, step_usec=200)
    doc = report([write(tmp_path, "job.log", job), write(tmp_path, "records.log", rec)])
    assert doc["tests_total"] == len(tests) == 2000
    assert all(t["attempt"] == 1 for t in doc["tests"])


# --------------------------------------- (3) two real runs stay two -------

def test_a_rerun_far_apart_is_two_instances(tmp_path):
    # the same test on the same process run twice (pytest-rerunfailures), 5 s
    # apart: each run's two copies merge, the two runs do not
    lines_job, lines_rec = [], []
    for t in (BASE_USEC, BASE_USEC + 5_000_000):
        for k, (phase, at) in enumerate((("setup", "start"), ("call", "start"),
                                         ("teardown", "end"))):
            lines_job.append(job_line(t + k * 1000, 4242, "gw0", TEST_A, phase, at, 50_000_000))
            lines_rec.append(file_line(t + k * 1000 + 1500, 4242, "gw0", TEST_A, phase, at,
                                       50_000_000))
    job = write(tmp_path, "job.log", lines_job)
    rec = write(tmp_path, "records.log", lines_rec)
    for files in ([job], [rec], [job, rec], [rec, job]):
        doc = report(files)
        assert instances(doc) == [(TEST_A, 4242, 1), (TEST_A, 4242, 2)], [f.name for f in files]


def test_a_copy_beyond_the_window_is_another_record(tmp_path):
    # the same setup-start record twice, just past the window: not a copy
    t = BASE_USEC
    job = write(tmp_path, "job.log", [job_line(t, 4242, "gw0", TEST_A, "setup", "start", 1 << 26)])
    rec = write(tmp_path, "records.log", [file_line(t + WINDOW_USEC + 1, 4242, "gw0", TEST_A,
                                                    "setup", "start", 1 << 26)])
    assert report([job, rec])["tests_total"] == 2
    rec.write_text(file_line(t + WINDOW_USEC, 4242, "gw0", TEST_A, "setup", "start", 1 << 26))
    assert report([job, rec])["tests_total"] == 1


@pytest.mark.parametrize("gap_usec", [0, 1000, 20000])
def test_one_test_on_two_processes_is_two_instances(tmp_path, gap_usec):
    # xdist runs the same id on two workers (a crashed worker's test again on
    # a new one): the same record but another pid is not a copy
    t = BASE_USEC
    job = write(tmp_path, "job.log", [
        job_line(t, 5001, "gw0", TEST_B, "setup", "start", 1 << 26),
        job_line(t + gap_usec, 5002, "gw1", TEST_B, "setup", "start", 1 << 26)])
    rec = write(tmp_path, "records.log", [
        file_line(t + 700, 5001, "gw0", TEST_B, "setup", "start", 1 << 26),
        file_line(t + gap_usec + 700, 5002, "gw1", TEST_B, "setup", "start", 1 << 26)])
    first = None
    for files in itertools.permutations([job, rec]):
        doc = report(files)
        assert sorted((x[1], x[0]) for x in instances(doc)) == [(5001, TEST_B), (5002, TEST_B)]
        first = first or canonical(doc)
        assert canonical(doc) == first


# ------------------------------------- (4) any order, any split of a log ----

def test_order_and_split_change_nothing(tmp_path):
    rng = random.Random(11)
    job, rec, tests = xdist_run(rng, workers=4, tests_per_worker=150, step_usec=3000)
    # the record file split per worker, the job log cut in two
    per_worker = {}
    for line in rec:
        per_worker.setdefault(line.split(" worker=")[1].split()[0], []).append(line)
    files = [write(tmp_path, "job1.log", job[:len(job) // 3]),
             write(tmp_path, "job2.log", job[len(job) // 3:])]
    files += [write(tmp_path, "rec_%s.log" % w, lines) for w, lines in sorted(per_worker.items())]
    whole = report([write(tmp_path, "job.log", job), write(tmp_path, "records.log", rec)])
    assert whole["tests_total"] == len(tests)
    first = canonical(report(files))
    assert json.loads(first)["tests_total"] == len(tests)
    assert instances(json.loads(first)) == instances(whole)
    orders = list(itertools.permutations(files))
    for order in random.Random(3).sample(orders, 24) + [tuple(reversed(files))]:
        assert canonical(report(order)) == first, [p.name for p in order]
