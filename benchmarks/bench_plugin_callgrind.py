# SPDX-License-Identifier: MIT
"""The plugin's cost per test in instructions, where CPU time is too noisy:
plain pytest against --resmon, one process and one xdist worker, under
callgrind.

    python benchmarks/bench_plugin_callgrind.py [--tests 1000] [--jobs 2]

Whole-run CPU times on a shared machine spread 10-25% between pairs, more
than the 40 us a test being measured (docs/performance.md). Instructions
counted by callgrind do not depend on the load. For each configuration the
script runs a generated suite of N trivial tests and of 1 test; the
marginal count per test is (I(N) - I(1)) / (N - 1), which takes the
start-up out. With -n 1 only the worker runs under callgrind (xdist's
--tx popen//python=WRAPPER), so the figure is the worker's own.

resmon's peak poller (a C thread that reads statm every 10 ms) is off in
these runs (RESMON_PEAK_POLL_MS=0): under valgrind a run is 50-100 times
slower, so the poller would wake 50-100 times more often per test than in a
real run, and by how much depends on the load. Its real cost is per second,
not per test (docs/performance.md, "bench_sample": one statm read per 10 ms).

Callgrind does not count time in the kernel; the system calls resmon adds
per test are counted apart with strace -f -c (when strace is installed),
in one process, from the same suites. Nor does it count cache effects. The
printed microsecond figure converts instructions with plain pytest's own
rate on this machine (its CPU per test measured without valgrind, divided
by its instructions per test), so it is an estimate.
"""

import argparse
import glob
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile


def write_suite(d, n):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "test_gen.py"), "w") as f:
        for i in range(n):
            f.write("def test_%d():\n    assert %d >= 0\n\n" % (i, i))


def total_ir(path):
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"summary:") or line.startswith(b"totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in " + path)


def run_one(py, suite, resmon, xdist, out):
    """Instructions of the measured process (the pytest process, or the
    xdist worker) for one run."""
    os.makedirs(out)
    args = ["-q", "-p", "no:cacheprovider"] + (["--resmon"] if resmon else [])
    env = dict(os.environ, RESMON_PEAK_POLL_MS="0")
    for k in ("PYTEST_ADDOPTS", "RESMON", "RESMON_RECORDS"):
        env.pop(k, None)
    vg = ["valgrind", "--tool=callgrind", "-q", "--callgrind-out-file=%s/cg.%%p" % out]
    if xdist:
        wrapper = os.path.join(out, "vgpython")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (" ".join(vg), py))
        os.chmod(wrapper, 0o755)
        cmd = [py, "-m", "pytest", "-d", "--tx", "popen//python=" + wrapper] + args
    else:
        cmd = vg + [py, "-m", "pytest"] + args
    subprocess.run(cmd + [suite], cwd=suite, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, timeout=3600)
    files = glob.glob(os.path.join(out, "cg.*"))
    if len(files) != 1:
        raise RuntimeError("expected one callgrind file in %s, got %d" % (out, len(files)))
    return total_ir(files[0])


def plain_cpu_per_test(py, big, small, n):
    """Plain pytest's CPU per test without valgrind (wait4), one process:
    the rate that turns instructions into time."""
    def cpu(suite):
        best = None
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", suite],
                           cwd=suite, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            best = t if best is None else min(best, t)
        return best
    return (cpu(big) - cpu(small)) / (n - 1)


def syscalls(py, suite, resmon, out):
    """{syscall: calls} of one single-process run under strace -f -c."""
    args = ["-q", "-p", "no:cacheprovider"] + (["--resmon"] if resmon else [])
    subprocess.run(["strace", "-f", "-c", "-o", out, py, "-m", "pytest"] + args + [suite],
                   cwd=suite, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
    calls = {}
    with open(out) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[0][0].isdigit() and p[-1] != "total":
                calls[p[-1]] = int(p[3])
    return calls


def syscalls_per_test(py, big, small, n, tmp):
    """System calls resmon adds per test, single process: {name: calls}."""
    c = {(r, s): syscalls(py, s, r, os.path.join(tmp, "st_%d_%s" % (r, os.path.basename(s))))
         for r in (False, True) for s in (big, small)}
    names = set().union(*c.values())
    per = {}
    for k in names:
        d = ((c[(True, big)].get(k, 0) - c[(True, small)].get(k, 0)) -
             (c[(False, big)].get(k, 0) - c[(False, small)].get(k, 0))) / (n - 1)
        if abs(d) >= 0.05:
            per[k] = d
    return per


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=1000)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--jobs", type=int, default=2, help="callgrind runs at the same time")
    a = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("bench_plugin_callgrind: valgrind is not installed")
    tmp = tempfile.mkdtemp(prefix="resmon-cg-")
    big, small = os.path.join(tmp, "big"), os.path.join(tmp, "small")
    write_suite(big, a.tests)
    write_suite(small, 1)
    configs = [(x, r) for x in (False, True) for r in (False, True)]
    jobs = [(x, r, s) for x, r in configs for s in (big, small)]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(a.jobs) as ex:
        futs = {j: ex.submit(run_one, a.python, j[2], j[1], j[0],
                             os.path.join(tmp, "cg_%d_%d_%s" % (j[0], j[1], os.path.basename(j[2]))))
                for j in jobs}
        ir = {j: f.result() for j, f in futs.items()}
    rate = plain_cpu_per_test(a.python, big, small, a.tests)
    print("suite: %d trivial tests; instructions of the measured process (callgrind)" % a.tests)
    print("%-16s %14s %14s %16s" % ("process", "plain /test", "resmon /test", "resmon - plain"))
    plain_single = None
    for x in (False, True):
        per = {}
        for r in (False, True):
            per[r] = (ir[(x, r, big)] - ir[(x, r, small)]) / (a.tests - 1)
        start = ir[(x, True, small)] - ir[(x, False, small)]
        if not x:
            plain_single = per[False]
        print("%-16s %14.0f %14.0f %+16.0f  (%.2f%%; start-up %+.1f M)" % (
            "xdist worker" if x else "single process", per[False], per[True],
            per[True] - per[False], 100 * (per[True] / per[False] - 1), start / 1e6))
        us = (per[True] - per[False]) * rate / plain_single * 1e6
        print("%-16s estimated %+.1f us a test (plain pytest: %.0f us of CPU a test, "
              "single process, no valgrind)" % ("", us, rate * 1e6))
    if shutil.which("strace"):
        per = syscalls_per_test(a.python, big, small, a.tests, tmp)
        print("system calls resmon adds a test (single process, strace -f -c): " + (", ".join(
            "%s %+.2f" % kv for kv in sorted(per.items(), key=lambda kv: -abs(kv[1]))) or "none"))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
