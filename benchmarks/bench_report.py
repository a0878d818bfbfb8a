# SPDX-License-Identifier: MIT
"""Throughput and memory of resmon-report on realistic GitHub job logs,
against grep in the same run.

Generates job logs in /tmp (default 300 MB; --size-mb 300,1024 for more):
GitHub's timestamp on every line, pytest -v lines, program output with ANSI
colour and long lines, and the records the plugin really writes (the C
writer's layout: identity, test id, full samples at test end, about 520
bytes; short ones at setup and call start). Then, on the same cached file:

  - resmon-report --format json --exit-zero (the full analysis),
  - grep -cE for the marker pattern (the floor: find the lines, parse nothing),
  - optionally --peer-bin OTHER_RESMON_REPORT (an older build, for before/after),

in paired, alternating runs. Time is CPU time (user+system from wait4); MB/s
is log bytes per CPU second. Peak RSS is the tool's own (run under
/usr/bin/time: see _measure.py), on the full file and on one a tenth its
size. A hostile file (64 KiB lines of key=value pairs and escapes inside
records) checks that time stays linear. The files are deleted afterwards.

    python benchmarks/bench_report.py [--size-mb 300[,1024]] [--reps 5]
        [--bin PATH] [--peer-bin PATH] [--keep]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _measure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GREP_PATTERN = r"\[resmon/[0-9]+\]|_resource_debug\]"
DISTINCT_TESTS = 20000
TESTS_PER_CHUNK = 500


def report_bin(tmp):
    """Builds resmon-report and copies it into tmp (others may rebuild it in
    the shared build directory while the benchmark runs)."""
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "WERROR=",
                    "../build/c/resmon-report"], check=True)
    dst = os.path.join(tmp, "resmon-report")
    shutil.copy2(os.path.join(ROOT, "build", "c", "resmon-report"), dst)
    return dst


def _ts(usec):
    sec, us = divmod(usec, 1_000_000)
    h, m, s = sec // 3600 % 24, sec // 60 % 60, sec % 60
    return "2026-11-26T%02d:%02d:%02d.%06d" % (h, m, s, us)


NOISE = [
    "\x1b[32mINFO\x1b[0m  worker.pipeline:stage_3 processed batch %d of 4096 items in 0.%03d s",
    "\x1b[33mWARNING\x1b[0m  urllib3.connectionpool: Retrying (Retry(total=2, connect=None, "
    "read=None, redirect=None, status=None)) after connection broken by "
    "'NewConnectionError(<urllib3.connection.HTTPSConnection object at 0x7f%08x>: Failed to "
    "establish a new connection: [Errno 111] Connection refused)': /simple/package-%d/",
    "  /opt/hostedtoolcache/Python/3.11.7/x64/lib/python3.11/site-packages/numpy/core/"
    "fromnumeric.py:%d: DeprecationWarning: the `interpolation=` argument is deprecated (%d)",
    "DEBUG    model.loader:loader.py:%d loading shard %d/64 from /tmp/pytest-of-runner/"
    "pytest-0/cache/weights/model-00012-of-00064.safetensors",
]


def chunk(k, t0_us):
    """TESTS_PER_CHUNK tests of job log; k varies times and test names."""
    out = []
    pid = 4242 + k % 2
    worker = "gw%d" % (k % 2)
    usec = t0_us + k * TESTS_PER_CHUNK * 8000
    base = 400_000_000 + (k % 50) * 1_048_576
    for i in range(TESTS_PER_CHUNK):
        n = (k * TESTS_PER_CHUNK + i) % DISTINCT_TESTS
        test = "tests/unit/test_module_%d.py::TestClass::test_case[param-%d]" % (n // 50, n)
        rss = base + (i % 97) * 65536
        usec += 8000
        gh = _ts(usec) + "0Z "
        iso = _ts(usec) + "Z"
        mono = usec / 1e6 - 1.7e9
        ident = "ts=%s mono=%.6f host=fv-az%d-runner pid=%d worker=%s run=7312345678-1 " \
                "test=\"%s\"" % (iso, mono, 100 + k % 7, pid, worker, test)
        out.append(gh + "[resmon/1] test %s phase=setup at=start rss=%d hwm=%d vms=%d ;"
                   % (ident, rss, rss, rss * 3))
        out.append(gh + "[resmon/1] test %s phase=call at=start rss=%d hwm=%d vms=%d ;"
                   % (ident, rss, rss, rss * 3))
        for j in range(4 + i % 5):
            line = NOISE[(i + j) % len(NOISE)]
            out.append(gh + line % ((i * 7 + j) % 900, i))
        out.append(gh + "[resmon/1] test %s phase=teardown at=end outcome=passed dur=0.%06d "
                   "test_dur=0.%06d peak=%d test_peak=%d d_rss=%d rss=%d hwm=%d vms=%d thr=14 "
                   "mem_total=7281573888 mem_avail=%d mem_free=%d mem_cached=1980485632 "
                   "swap_total=4294963200 swap_free=4294963200 cg_use=%d cg_lim=none "
                   "cg_peak=%d cg_oom=0 pythr=3 ;"
                   % (ident, i * 13 % 999999, i * 17 % 999999, rss + 65536, rss + 65536,
                      (i % 7) * 4096, rss, rss + 65536, rss * 3, 5_000_000_000 - rss,
                      3_000_000_000 - rss, rss + 90_000_000, rss + 120_000_000))
        out.append(gh + "%s \x1b[32mPASSED\x1b[0m%s[ %2d%%]" % (test, " " * 20, i % 100))
    return ("\n".join(out) + "\n").encode()


def generate(path, size):
    written, k = 0, 0
    t0 = 1_795_000_000 * 1_000_000
    with open(path, "wb") as f:
        while written < size:
            data = chunk(k, t0)
            f.write(data)
            written += len(data)
            k += 1
    return written


def generate_hostile(path, size):
    """Records whose lines are 64 KiB of key=value pairs, quotes and escapes."""
    pairs = " ".join("k%d=\"v\\x41\\\\ %d\"" % (i, i) for i in range(3000))
    line = ("2026-11-26T10:00:00.0000000Z [resmon/1] test ts=2026-11-26T10:00:00.000000Z "
            "pid=1 test=\"t::x\" " + pairs)[:65536] + " ;\n"
    data = line.encode() * 16
    written = 0
    with open(path, "wb") as f:
        while written < size:
            f.write(data)
            written += len(data)
    return written


def generate_fixture_names(path, size):
    """Fixture records with ever new 200-byte names sharing a prefix (a
    parametrized fixture per test), past the report's 4,096-fixture limit."""
    written, i = 0, 0
    with open(path, "wb") as f:
        while written < size:
            data = "".join("[resmon/1] fixture ts=2026-11-26T10:00:00.%06dZ pid=1 name=%s%08d "
                           "scope=function at=setup ;\n" % ((i + k) % 1_000_000, "f" * 192, i + k)
                           for k in range(1000)).encode()
            f.write(data)
            written += len(data)
            i += 1000
    return written


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def measure_file(path, tool, peer_bin, reps, label):
    size = os.path.getsize(path)
    mb = size / 1e6
    warm(path)
    out = os.path.join(os.path.dirname(path), "out.json")
    runs = {"resmon-report": [], "grep": [], "peer": []}

    def rep():
        r = _measure.spawn([tool, "--format", "json", "--exit-zero", path], stdout=out,
                           own_peak=True)
        if r.code != 0:
            raise SystemExit("resmon-report failed on %s (exit %d)" % (path, r.code))
        runs["resmon-report"].append(r)
        return r.cpu

    def grep():
        r = _measure.spawn(["grep", "-cE", GREP_PATTERN, path], stdout=out + ".grep")
        runs["grep"].append(r)
        return r.cpu

    def peer():
        r = _measure.spawn([peer_bin, "--format", "json", "--exit-zero", path], stdout=out,
                           own_peak=True)
        runs["peer"].append(r)
        return r.cpu

    a, b = _measure.paired(rep, grep, reps)
    print("\n%s: %.0f MB, %d runs each, alternating; CPU seconds (user+system)" % (
        label, mb, reps))
    print("| tool | CPU s median (min..max) | MB/s (median) | wall s median | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    for name, vals in (("resmon-report --format json", a), ("grep -cE marker pattern", b)):
        lo, med, hi = _measure.stats(vals)
        rs = runs["resmon-report" if vals is a else "grep"]
        walls = _measure.stats([r.wall for r in rs])[1]
        peak = rs[0].maxrss
        print("| %s | %.3f (%.3f..%.3f) | %.0f | %.3f | %s |" % (
            name, med, lo, hi, mb / med, walls,
            "%.1f MiB" % (peak / 2**20) if peak else "-"))
    lo, med, hi = _measure.ratio_stats(a, b)
    print("resmon-report / grep CPU time, per pair: median %.2fx (min %.2f, max %.2f)"
          % (med, lo, hi))
    result = {"mb": mb, "cpu": _measure.stats(a)[1], "grep": _measure.stats(b)[1],
              "ratio": med, "peak": max(r.maxrss or 0 for r in runs["resmon-report"])}
    if peer_bin:
        p, a2 = _measure.paired(peer, rep, reps)
        lo, med, hi = _measure.ratio_stats(p, a2)
        print("peer %s: CPU %s s; peer / this build per pair: median %.2fx (min %.2f, max "
              "%.2f); peer peak RSS %.1f MiB" % (
                  peer_bin, _measure.fmt_spread(p), med, lo, hi,
                  (runs["peer"][0].maxrss or 0) / 2**20))
    try:
        with open(out + ".grep") as f:
            result["markers"] = int(f.read().strip() or 0)
    except (OSError, ValueError):
        result["markers"] = -1
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", default="300", help="log sizes in MB, comma-separated")
    ap.add_argument("--reps", type=int, default=5, help="paired runs per file")
    ap.add_argument("--bin", help="the resmon-report to measure (default: build this tree's)")
    ap.add_argument("--peer-bin", help="another resmon-report build to compare against")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="resmon-bench-", dir="/tmp")
    tool = args.bin or report_bin(tmp)
    if not _measure.TIME:
        print("note: /usr/bin/time not found: peak RSS not measured (apt-get install time)")
    files = []
    ok = True
    try:
        for mb in (int(x) for x in args.size_mb.split(",")):
            path = os.path.join(tmp, "job-%d.log" % mb)
            t0 = time.perf_counter()
            size = generate(path, mb * 1_000_000)
            files.append(path)
            print("generated %s: %.0f MB in %.1f s" % (path, size / 1e6, time.perf_counter() - t0))
            r = measure_file(path, tool, args.peer_bin, args.reps, "job log %d MB" % mb)
            print("%d marker lines; resmon-report %.0f MB/s (target >= 300), %.2fx grep's CPU "
                  "time (target <= 2x)" % (r["markers"], r["mb"] / r["cpu"], r["ratio"]))
            ok = ok and r["mb"] / r["cpu"] >= 300 and r["ratio"] <= 2
            if mb == int(args.size_mb.split(",")[0]):
                small = os.path.join(tmp, "job-small.log")
                generate(small, mb * 100_000)
                files.append(small)
                rs = _measure.spawn([tool, "--format", "json", "--exit-zero", small],
                                    stdout=os.devnull, own_peak=True)
                if rs.maxrss and r["peak"]:
                    print("peak RSS of resmon-report: %.1f MiB at %.0f MB, %.1f MiB at %.0f MB"
                          % (r["peak"] / 2**20, r["mb"], rs.maxrss / 2**20,
                             os.path.getsize(small) / 1e6))
            os.unlink(path)
            files.remove(path)
        for name, gen, sizes, what in (
                ("hostile.log", generate_hostile, (20, 80), "64 KiB-line records"),
                ("fixture-names.log", generate_fixture_names, (10, 40), "ever new fixture names")):
            path = os.path.join(tmp, name)
            files.append(path)
            for mb in sizes:
                gen(path, mb * 1_000_000)
                warm(path)
                r = _measure.spawn([tool, "--format", "json", "--exit-zero", path],
                                   stdout=os.devnull)
                g = _measure.spawn(["grep", "-cE", GREP_PATTERN, path], stdout=os.devnull)
                print("hostile %s, %d MB: resmon-report %.3f s CPU (%.0f MB/s), grep %.3f s"
                      % (what, mb, r.cpu, os.path.getsize(path) / 1e6 / max(r.cpu, 1e-9), g.cpu))
        print("targets (>= 300 MB/s, <= 2x grep): %s" % ("met" if ok else "NOT met"))
        return 0
    finally:
        if not args.keep:
            for p in files:
                if os.path.exists(p):
                    os.unlink(p)
            for p in os.listdir(tmp):
                os.unlink(os.path.join(tmp, p))
            os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main())
