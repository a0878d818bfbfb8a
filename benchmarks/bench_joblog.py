# SPDX-License-Identifier: MIT
"""Job-log bytes per test: plain pytest against pytest --resmon on a
generated suite of trivial tests (issue 12: at most 200 bytes per test on
average from resmon by default).

    python benchmarks/bench_joblog.py [--tests 5000] [--args "-q"] [--reps 3]

Each configuration runs the suite in one pytest process with stdout and
stderr captured together, as a CI job log holds them. Printed per
configuration: total job-log bytes, bytes per test, and resmon's extra bytes
per test (resmon's log minus plain pytest's, over the number of tests), plus
the median wall time of --reps runs and its ratio to plain pytest.
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


def write_suite(path, n):
    with open(os.path.join(path, "test_generated.py"), "w") as f:
        f.write("import pytest\n\n\n@pytest.mark.parametrize('i', range(%d))\n"
                "def test_trivial(i):\n    pass\n" % n)
    with open(os.path.join(path, "pytest.ini"), "w") as f:
        f.write("[pytest]\n")


def run(path, args):
    env = {k: v for k, v in os.environ.items()
           if k not in ("RESMON", "IT_RESOURCE_DEBUG", "IT_ANALYSIS_RESOURCE_DEBUG",
                        "RESMON_RECORDS", "PYTEST_ADDOPTS")}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"] + args
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit("pytest failed (%d): %s" % (proc.returncode, " ".join(cmd)))
    return len(proc.stdout), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", type=int, default=5000)
    ap.add_argument("--args", default="-q", help="pytest arguments for every run")
    ap.add_argument("--reps", type=int, default=3)
    opts = ap.parse_args()
    base = shlex.split(opts.args)
    configs = [("plain pytest", base + ["-p", "no:resmon"]),
               ("--resmon (start-end)", base + ["--resmon"]),
               ("--resmon-markers=all", base + ["--resmon", "--resmon-markers=all"])]
    with tempfile.TemporaryDirectory() as tmp:
        write_suite(tmp, opts.tests)
        results = []
        for name, args in configs:
            sizes, walls = [], []
            for _ in range(opts.reps):
                size, wall = run(tmp, args)
                sizes.append(size)
                walls.append(wall)
            results.append((name, max(sizes), statistics.median(walls)))
    plain_size, plain_wall = results[0][1], results[0][2]
    print("%d trivial tests, pytest %s, %d reps" % (opts.tests, opts.args, opts.reps))
    print("%-24s %12s %10s %14s %9s %7s" % ("configuration", "job log B", "B/test",
                                            "resmon B/test", "wall s", "ratio"))
    for name, size, wall in results:
        print("%-24s %12d %10.1f %14.1f %9.2f %7.3f" % (
            name, size, size / opts.tests, (size - plain_size) / opts.tests, wall,
            wall / plain_wall))


if __name__ == "__main__":
    main()
