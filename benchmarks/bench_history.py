# SPDX-License-Identifier: MIT
"""Speed of resmon-report history against its budgets (issue 14):

  - add: one run of 50,000 tests (the plugin's records, 4 test records per
    test, ~80 MB) into an empty database and into one that holds it already
    (new ids vs. known ids); budget 2 s, including reading and analysing the
    records;
  - check: a run of 2,000 tests against a history of 1,000 runs of those tests
    (2,000,000 test rows; the baseline is the last 5 passing runs); budget 1 s.
    Also check of the 50,000-test run against 5 runs of it.

SQLite always; PostgreSQL with --pg URL (an empty database: the benchmark
creates its tables and fills them). The history of 1,000 runs is written with
SQL (INSERT ... SELECT), not with 1,000 adds. Times are medians of --reps
runs: wall clock and CPU (user+system from wait4). Files go to a temp dir,
deleted afterwards.

    python benchmarks/bench_history.py [--reps 5] [--pg postgresql://...] [--bin PATH]
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIG, SMALL, HISTORY = 50000, 2000, 1000
TAIL = ("vms=116531200 thr=2 mem_total=25276510208 mem_avail=24584572928 mem_free=23241015296 "
        "mem_cached=1476620288 swap_total=0 swap_free=0 cg_use=26857472 cg_lim=none "
        "cg_peak=28168192 cg_oom=0 pythr=2 ;")


def _ts(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int(t % 1 * 1e6)


def write_records(path, n, start):
    """The records a plugin session of n passing tests writes."""
    t, mono, rss = start, 1000.0, 35491840
    with open(path, "w") as f:
        f.write("[resmon/1] head ts=%s mono=%.6f host=vm pid=100 phase=session resmon=0.1.0 "
                "python=3.11.7 pytest=9.2.0 os=linux markers=start-end role=main rss=%d %s\n"
                % (_ts(t), mono, rss, TAIL))
        for i in range(n):
            tid = "tests/test_mod%d.py::test_case_%d" % (i // 100, i)
            pk = rss + (i % 7) * 1048576
            for ph, at, more in (("setup", "start", ""), ("call", "start", "peak=%d " % rss),
                                 ("call", "end", "outcome=passed dur=0.000171 peak=%d " % pk),
                                 ("teardown", "end", "outcome=passed dur=0.000132 test_dur=0.0127 "
                                  "peak=%d test_peak=%d d_rss=0 " % (rss, pk))):
                t += 0.0001
                mono += 0.0001
                f.write("[resmon/1] test ts=%s mono=%.6f host=vm pid=100 test=%s phase=%s at=%s "
                        "%srss=%d hwm=%d %s\n" % (_ts(t), mono, tid, ph, at, more, rss, pk, TAIL))
        f.write("[resmon/1] summary ts=%s mono=%.6f host=vm pid=100 phase=session tests=%d "
                "rss=%d %s\n" % (_ts(t + 0.001), mono + 0.001, n, rss, TAIL))


def timed(cmd, ok=(0,)):
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            err.seek(0)
            sys.exit("failed (%d): %s\n%s" % (code, " ".join(cmd),
                                              err.read().decode("ascii", "replace")))
    return wall, ru.ru_utime + ru.ru_stime


def med(samples):
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def fill_history(db, bin_, small_log, tmp):
    """A first run through the tool (schema, test ids), then HISTORY-1 copies by SQL."""
    subprocess.run([bin_, "history", "add", "--db", db, "--job", "bench", "--run", "r0",
                    small_log], check=True, capture_output=True)
    sql = [
        # runs r1..r999 as copies of r0, one second apart
        "INSERT INTO resmon_runs (run_key, run_id, repo, job, commit_sha, branch, os, python, "
        "resmon, host, verdict, confidence, started, ended, added, mem_total, cg_lim, min_avail, "
        "cg_max, max_peak, tests) SELECT 'k' || g, 'r' || g, repo, job, commit_sha, branch, os, "
        "python, resmon, host, verdict, confidence, started - g * 1000000, ended, added, "
        "mem_total, cg_lim, min_avail, cg_max, max_peak, tests FROM resmon_runs, %s "
        "WHERE run_id = 'r0'",
        "INSERT INTO resmon_tests (run, inst, test, attempt, worker, pid, outcome, peak, used, "
        "own_growth, growth, duration) SELECT r.id, t.inst, t.test, t.attempt, t.worker, t.pid, "
        "t.outcome, t.peak + (r.id %% 7) * 65536, t.used, t.own_growth, t.growth, t.duration "
        "FROM resmon_tests t JOIN resmon_runs r0 ON r0.id = t.run AND r0.run_id = 'r0' "
        "CROSS JOIN resmon_runs r WHERE r.run_id <> 'r0'",
    ]
    if db.startswith("postgres"):
        series = "generate_series(1, %d) AS g" % (HISTORY - 1)
        psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
        for s in sql:
            subprocess.run([psql, db, "-q", "-c", s % series if "%s" in s else s.replace("%%", "%")],
                           check=True, capture_output=True)
        subprocess.run([psql, db, "-q", "-c", "ANALYZE"], check=True, capture_output=True)
    else:
        con = sqlite3.connect(db)
        series = "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %d) " \
                 "SELECT g FROM s)" % (HISTORY - 1)
        for s in sql:
            con.execute(s % series if "%s" in s else s.replace("%%", "%"))
        con.commit()
        con.execute("ANALYZE")
        con.close()


def bench_backend(name, make_db, bin_, big_log, small_log, tmp, reps):
    add_new, add_known = [], []
    for i in range(reps):
        db = make_db("add%d" % i)
        add_new.append(timed([bin_, "history", "add", "--db", db, "--run", "a", big_log]))
        add_known.append(timed([bin_, "history", "add", "--db", db, "--run", "b", big_log]))
    db = make_db("check")
    fill_history(db, bin_, small_log, tmp)
    check = [timed([bin_, "history", "check", "--db", db, "--job", "bench", "--run", "now",
                    small_log], ok=(0, 1)) for _ in range(reps)]
    # the big run against 5 runs of itself
    db = make_db("checkbig")
    for k in range(5):
        subprocess.run([bin_, "history", "add", "--db", db, "--run", "b%d" % k, big_log],
                       check=True, capture_output=True)
    check_big = [timed([bin_, "history", "check", "--db", db, "--run", "now", big_log], ok=(0, 1))
                 for _ in range(reps)]
    rows = [("add 50,000 tests, new ids", add_new, 2.0),
            ("add 50,000 tests, known ids", add_known, 2.0),
            ("check 2,000 tests, 1,000-run history", check, 1.0),
            ("check 50,000 tests, 5-run baseline", check_big, None)]
    for label, samples, budget in rows:
        wall, cpu = med(samples)
        print("%-10s %-40s wall %6.3f s  cpu %6.3f s  %s" % (
            name, label, wall, cpu, "budget %.0f s: %.2fx" % (budget, wall / budget)
            if budget else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pg", help="postgresql:// URL of an empty database to use")
    ap.add_argument("--bin", help="resmon-report to measure (default: build it)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-history-")
    try:
        if args.bin:
            bin_ = args.bin
        else:
            subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "WERROR=",
                            "../build/c/resmon-report"], check=True)
            bin_ = os.path.join(tmp, "resmon-report")
            shutil.copy2(os.path.join(ROOT, "build", "c", "resmon-report"), bin_)
        big, small = os.path.join(tmp, "big.log"), os.path.join(tmp, "small.log")
        write_records(big, BIG, 1764637805.0)
        write_records(small, SMALL, 1764637805.0)
        print("records: %d tests, %.0f MB; %d tests; %d reps, medians"
              % (BIG, os.path.getsize(big) / 1e6, SMALL, args.reps))
        report = [timed([bin_, "--format", "json", "--exit-zero", big]) for _ in range(args.reps)]
        print("%-10s %-40s wall %6.3f s  cpu %6.3f s  (reading and analysing alone)"
              % ("report", "resmon-report on the 50,000-test run", *med(report)))
        bench_backend("sqlite", lambda n: os.path.join(tmp, n + ".sqlite"), bin_, big, small, tmp,
                      args.reps)
        if args.pg:
            psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
            base = args.pg.split("?")[0].rsplit("/", 1)
            query = "?" + args.pg.split("?", 1)[1] if "?" in args.pg else ""

            def make_pg(n):
                dbname = "bench_" + n
                subprocess.run([psql, args.pg, "-q", "-c", "DROP DATABASE IF EXISTS %s" % dbname],
                               check=True, capture_output=True)
                subprocess.run([psql, args.pg, "-q", "-c", "CREATE DATABASE %s" % dbname],
                               check=True, capture_output=True)
                return base[0] + "/" + dbname + query

            bench_backend("postgresql", make_pg, bin_, big, small, tmp, args.reps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
