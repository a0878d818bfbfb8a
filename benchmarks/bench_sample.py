# SPDX-License-Identifier: MIT
"""Per-call cost of resmon's sampling and marker lines, against psutil and
the floor (a bare C pread of /proc/self/statm on a kept-open fd).

    python benchmarks/bench_sample.py [--calls N] [--repeat R]

Prints a table of median ns per call and ratios. Targets (issue 2):
resmon.sample() within 2x of the floor and >= 5x faster than psutil's
Process().memory_info(); one full marker line under 10 us.
"""

import argparse
import os
import statistics
import sys
import time

import resmon
from resmon import _resmon


def per_call(fn, calls, repeat):
    """Median over `repeat` runs of the mean ns per call."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter_ns() - t0) / calls)
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    try:
        import psutil
    except ImportError:
        sys.exit("bench_sample: needs psutil (pip install psutil)")

    devnull = os.open(os.devnull, os.O_WRONLY)
    resmon.set_output_fd(devnull)
    resmon.enable(True)
    proc = psutil.Process()
    calls, repeat = args.calls, args.repeat

    floor = statistics.median(_resmon._bench_floor(calls) for _ in range(repeat))
    rows = [
        ("C pread(/proc/self/statm), kept-open fd (floor)", floor),
        ("resmon.sample()", per_call(resmon.sample, calls, repeat)),
        ("resmon.sample(full=True)", per_call(lambda: resmon.sample(True), calls // 5, repeat)),
        ("resmon.log_resource_snapshot(label) -> /dev/null",
         per_call(lambda: resmon.log_resource_snapshot("label"), calls // 5, repeat)),
        ("psutil.Process().memory_info()", per_call(proc.memory_info, calls // 5, repeat)),
        ("psutil.virtual_memory()", per_call(psutil.virtual_memory, calls // 5, repeat)),
    ]

    def psutil_marker():
        # the helpers people write today: psutil numbers + one print
        rss = proc.memory_info().rss
        vm = psutil.virtual_memory()
        os.write(devnull, f"[test_resource_debug] label: rss_gb={rss / 2**30:.2f} "
                          f"avail_gb={vm.available / 2**30:.2f}\n".encode())

    rows.append(("psutil marker (memory_info + virtual_memory + write)",
                 per_call(psutil_marker, calls // 5, repeat)))

    sample_ns = rows[1][1]
    print(f"python {sys.version.split()[0]}, psutil {psutil.__version__}, "
          f"{calls} calls x {repeat} runs, median ns per call\n")
    print(f"{'operation':58} {'ns/call':>9} {'x floor':>8} {'x sample()':>10}")
    for name, ns in rows:
        print(f"{name:58} {ns:9.0f} {ns / floor:8.2f} {ns / sample_ns:10.2f}")
    mem_info = rows[4][1]
    marker = rows[3][1]
    print(f"\nresmon.sample() vs floor: {sample_ns / floor:.2f}x (target <= 2x)")
    print(f"psutil memory_info() vs resmon.sample(): {mem_info / sample_ns:.1f}x slower "
          f"(target >= 5x)")
    print(f"full marker line: {marker / 1000:.2f} us (target < 10 us); "
          f"psutil-style marker is {rows[-1][1] / marker:.1f}x its cost")


if __name__ == "__main__":
    main()
