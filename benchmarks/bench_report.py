# SPDX-License-Identifier: MIT
"""Throughput and memory of resmon-report on a generated GitHub job log.

Generates a job log (default 1 GiB) in /tmp: GitHub's timestamp on every line,
pytest -v output, ordinary program output with ANSI colour, and resmon marker
records among them (about one line in twelve). Then, on the same cached file,
in one run:

  - resmon-report --format json (the full analysis),
  - grep -cE for the marker pattern (the floor: find the lines, parse nothing),
  - a Python regex parser of the same records (what people write today),

and prints MB/s and the ratios. Peak RSS of resmon-report (ru_maxrss of the
child) is measured on the full file and on one a tenth of its size, to show
it does not grow with the log. The files are deleted afterwards.

    python benchmarks/bench_report.py [--size-mb 1024] [--keep]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GREP_PATTERN = r"\[resmon/[0-9]+\]|_resource_debug\]"
DISTINCT_TESTS = 5000


def report_bin():
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "../build/c/resmon-report"],
                   check=True)
    return os.path.join(ROOT, "build", "c", "resmon-report")


def chunk(k):
    """About 1 MiB of job log; k varies times and test names."""
    out = []
    base = 10 * 3600 + (k * 7) % 3600
    for i in range(400):
        sec = base + i // 10
        ts = "2026-11-26T%02d:%02d:%02d.%07dZ " % (sec // 3600 % 24, sec // 60 % 60, sec % 60,
                                                  (i * 1234567) % 10000000)
        iso = ts[:26] + "Z"
        test = "tests/unit/test_module_%d.py::TestClass::test_case[param-%d]" % (
            (k * 400 + i) % DISTINCT_TESTS // 50, (k * 400 + i) % DISTINCT_TESTS)
        rss = 400_000_000 + (i * 1_048_576) + k % 100 * 4096
        out.append(ts + "[resmon/1] test ts=%s pid=4242 worker=gw%d test=%s phase=setup at=start "
                   "rss=%d mem_avail=%d thr=12 ;" % (iso, i % 2, test, rss, 5_000_000_000 - rss))
        for j in range(10):
            out.append(ts + "\x1b[32mINFO\x1b[0m  worker.pipeline:stage_%d processed batch %d of "
                       "%d items in %.3f s (cache hits %d, misses %d)" % (j, i, 4096, j * 0.013,
                                                                         i * 3, j))
        out.append(ts + "[resmon/1] test ts=%s pid=4242 worker=gw%d test=%s phase=teardown at=end "
                   "outcome=passed rss=%d peak=%d mem_avail=%d thr=12 label=\"after step %d\" ;"
                   % (iso, i % 2, test, rss + 4096, rss + 65536, 5_000_000_000 - rss, i))
        out.append(ts + "%s PASSED                                   [ %2d%%]" % (test, i % 100))
    return ("\n".join(out) + "\n").encode()


def generate(path, size):
    written, k = 0, 0
    with open(path, "wb") as f:
        while written < size:
            data = chunk(k)
            f.write(data)
            written += len(data)
            k += 1
    return written


TAG = re.compile(r"\[resmon/(\d+)\] (\w+)|\[(\w+)_resource_debug\]")
FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def python_parser(path):
    """A careful Python reader of the same records: tag, kind, fields."""
    n = 0
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("ascii", "replace")
            m = TAG.search(line)
            if not m:
                continue
            fields = dict(FIELD.findall(line, m.end()))
            if "rss" in fields:
                n += 1
    return n


def timed_child(cmd):
    """Runs cmd; returns (seconds, peak RSS bytes of the child, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    return secs, ru.ru_maxrss * 1024, out, code


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def best_of(n, fn):
    best = None
    for _ in range(n):
        r = fn()
        if best is None or r[0] < best[0]:
            best = r
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="log size (default 1024 MiB)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool, best kept")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    tool = report_bin()
    size = args.size_mb << 20
    tmp = tempfile.mkdtemp(prefix="resmon-bench-", dir="/tmp")
    big, small = os.path.join(tmp, "job.log"), os.path.join(tmp, "job-small.log")
    try:
        t0 = time.perf_counter()
        size = generate(big, size)
        small_size = generate(small, size // 10)
        print("generated %.0f MiB + %.0f MiB in %.1f s" % (size / 2**20, small_size / 2**20,
                                                          time.perf_counter() - t0))
        warm(big)
        mb = size / 1e6
        rep = best_of(args.repeat, lambda: timed_child([tool, "--format", "json", "--exit-zero",
                                                        big]))
        assert rep[3] == 0, "resmon-report failed"
        grep = best_of(args.repeat, lambda: timed_child(["grep", "-cE", GREP_PATTERN, big]))
        t = time.perf_counter()
        n_py = python_parser(big)
        py = time.perf_counter() - t
        warm(small)
        rep_small = best_of(args.repeat, lambda: timed_child([tool, "--format", "json",
                                                              "--exit-zero", small]))
        markers = int(grep[2].decode().strip() or 0)
        print()
        print("| tool | time (s) | MB/s | vs resmon-report |")
        print("|---|---|---|---|")
        print("| resmon-report (full analysis, json) | %.2f | %.0f | 1.00x |" % (rep[0], mb / rep[0]))
        print("| grep -cE marker pattern | %.2f | %.0f | %.2fx |" % (grep[0], mb / grep[0],
                                                                  grep[0] / rep[0]))
        print("| Python regex parser | %.2f | %.0f | %.2fx |" % (py, mb / py, py / rep[0]))
        print()
        print("log %.0f MB, %d marker lines (grep), %d records with rss (Python)"
              % (mb, markers, n_py))
        print("resmon-report takes %.2fx grep's time; %.1fx faster than the Python parser"
              % (rep[0] / grep[0], py / rep[0]))
        print("peak RSS of resmon-report: %.1f MiB at %.0f MB, %.1f MiB at %.0f MB"
              % (rep[1] / 2**20, mb, rep_small[1] / 2**20, small_size / 1e6))
        ok = mb / rep[0] >= 300 and rep[0] <= 2 * grep[0] and rep[1] <= rep_small[1] * 1.25 + (4 << 20)
        print("targets (>= 300 MB/s, within 2x of grep, flat RSS): %s" % ("met" if ok else "NOT met"))
        return 0
    finally:
        if not args.keep:
            for p in (big, small):
                if os.path.exists(p):
                    os.unlink(p)
            os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main())
