# SPDX-License-Identifier: MIT
"""Per-call cost of resmon.sample() and of a marker line, against the
Python-level floor and a psutil helper, interleaved in one run.

    python benchmarks/bench_sample.py [--calls N] [--rounds R]

Every operation is a Python call in the same kind of loop, so the floor pays
what sample() pays for being called from Python:

  - floor: os.pread(fd, 256, 0) of /proc/self/statm on a kept-open fd (one
    system call returning a new bytes object, like sample()'s one pread
    returning a new Sample);
  - the helper people write today: psutil Process().memory_info(),
    psutil.virtual_memory(), shutil.disk_usage(path) and one print() line;
  - resmon.log_resource_snapshot(label) with and without paths=[path];
  - the cgroup limit files a marker reads at most once a second (the probe
    caches them, so back-to-back calls here do not pay for them): os.pread of
    each on a kept-open fd, to show what a marker after a quiet second adds;
  - the kernel's floor of a marker: marker_floor.c, compiled here with cc,
    times each system call a marker makes alone in C, once per round.

Time is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID: system
calls included, other processes' load mostly not). The operations run in
rotation, R rounds of N calls each; every ratio is taken within a round,
then the median and the spread over rounds are printed. Targets (issue 15):
sample() within 2x the floor; log_resource_snapshot under 10 us and at
least 3x cheaper than the helper.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import resmon
from resmon import _resmon


def limit_files():
    """The memory cgroup's limit files, the group's and its ancestors', as
    the probe reads them (linux.c open_cgroup); [] without a memory cgroup."""
    info = _resmon.probe_info()
    path, version = info.get("cgroup_path") or "", info.get("cgroup_version")
    if version not in (1, 2):
        return []
    base = "/sys/fs/cgroup/memory" if version == 1 else "/sys/fs/cgroup"
    name = "memory.limit_in_bytes" if version == 1 else "memory.max"
    files = []
    while path.startswith(base) and len(files) < 8:
        if os.path.exists(os.path.join(path, name)):
            files.append(os.path.join(path, name))
        if path == base:
            break
        path = os.path.dirname(path)
    return files


def marker_files():
    """The files a marker reads on Linux, as the probe opens them: meminfo,
    statm and the memory cgroup's usage, peak and OOM-counter files."""
    info = _resmon.probe_info()
    files = ["/proc/meminfo", "/proc/self/statm"]
    cg, version = info.get("cgroup_path"), info.get("cgroup_version")
    names = {1: ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control"),
             2: ("memory.current", "memory.peak", "memory.events")}.get(version, ())
    files += [os.path.join(cg, n) for n in names if os.path.exists(os.path.join(cg, n))]
    return files


def build_floor(tmp):
    """Compiles benchmarks/marker_floor.c; None (with a note) without a compiler."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "marker_floor.c")
    exe = os.path.join(tmp, "marker_floor")
    cc = os.environ.get("CC", "cc")
    try:
        subprocess.run([cc, "-O2", "-o", exe, src], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"note: cannot build marker_floor.c ({exc}): the kernel floor is not measured")
        return None
    return exe


def floor_round(exe, calls):
    """One run of marker_floor: {name: ns per call}, with "total"."""
    out = subprocess.run([exe, str(calls)] + marker_files(), check=True, capture_output=True,
                         text=True).stdout
    return {name: float(ns) for name, ns in (line.rsplit(" ", 1) for line in out.splitlines())}


def per_call_ns(fn, calls):
    t0 = time.thread_time_ns()
    for _ in range(calls):
        fn()
    return (time.thread_time_ns() - t0) / calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--path", default="/tmp", help="the disk path both markers report")
    args = ap.parse_args()
    try:
        import psutil
    except ImportError:
        sys.exit("bench_sample: needs psutil (pip install psutil)")

    devnull = os.open(os.devnull, os.O_WRONLY)
    devnull_file = open(os.devnull, "w")
    resmon.set_output_fd(devnull)
    resmon.enable(True)
    proc = psutil.Process()
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    pread = os.pread
    path = args.path

    def floor():
        return pread(statm, 256, 0)

    limit_fds = [os.open(f, os.O_RDONLY) for f in limit_files()]

    def limits():
        for fd in limit_fds:
            pread(fd, 64, 0)

    def helper(label="label"):
        # today's hand-written helper: psutil numbers, disk usage, one print
        rss = proc.memory_info().rss
        vm = psutil.virtual_memory()
        du = shutil.disk_usage(path)
        print(f"[test_resource_debug] {label}: rss_gb={rss / 2**30:.2f} "
              f"avail_gb={vm.available / 2**30:.2f} path0={path} used_gb0={du.used / 2**30:.2f} "
              f"free_gb0={du.free / 2**30:.2f}", file=devnull_file, flush=True)

    ops = [
        ("floor: os.pread(/proc/self/statm), kept-open fd", floor, 1),
        ("resmon.sample()", resmon.sample, 1),
        ("resmon.sample(full=True)", lambda: resmon.sample(True), 5),
        ("resmon.log_resource_snapshot(label)", lambda: resmon.log_resource_snapshot("label"), 5),
        ("resmon.log_resource_snapshot(label, paths=[path])",
         lambda: resmon.log_resource_snapshot("label", paths=[path]), 5),
        (f"cgroup limit files ({len(limit_fds)}), pread each: once a second", limits, 5),
        ("psutil Process().memory_info()", proc.memory_info, 5),
        ("helper: psutil + disk_usage + print", helper, 5),
    ]
    per = {name: [] for name, _, _ in ops}
    tmp = tempfile.mkdtemp(prefix="resmon-bench-sample-")
    floor_exe = build_floor(tmp) if sys.platform.startswith("linux") else None
    floors = []
    for name, fn, div in ops:  # warm-up
        per_call_ns(fn, 200)
    for r in range(args.rounds):
        order = ops if r % 2 == 0 else list(reversed(ops))
        for name, fn, div in order:
            per[name].append(per_call_ns(fn, max(args.calls // div, 100)))
        if floor_exe:
            floors.append(floor_round(floor_exe, max(args.calls // 5, 100)))
    shutil.rmtree(tmp, ignore_errors=True)

    def ratio(a, b):
        rs = [x / y for x, y in zip(per[a], per[b])]
        return statistics.median(rs), min(rs), max(rs)

    floor_name, sample_name = ops[0][0], ops[1][0]
    print(f"python {sys.version.split()[0]}, psutil {psutil.__version__}, {args.rounds} "
          f"rounds in rotation, thread CPU ns per call: median (min..max over rounds)\n")
    print(f"{'operation':52} {'ns/call':>9} {'min..max':>15} {'x floor':>8}")
    for name, _, _ in ops:
        v = per[name]
        print(f"{name:52} {statistics.median(v):9.0f} {min(v):7.0f}..{max(v):<7.0f} "
              f"{ratio(name, floor_name)[0]:8.2f}")
    m, lo, hi = ratio(sample_name, floor_name)
    print(f"\nresmon.sample() / floor: {m:.2f}x (rounds {lo:.2f}..{hi:.2f}; target <= 2x)")
    snap = "resmon.log_resource_snapshot(label, paths=[path])"
    plain = "resmon.log_resource_snapshot(label)"
    m2, lo2, hi2 = ratio("helper: psutil + disk_usage + print", snap)
    print(f"log_resource_snapshot: {statistics.median(per[plain]) / 1000:.2f} us, with a path "
          f"{statistics.median(per[snap]) / 1000:.2f} us (target < 10 us); the helper costs "
          f"{m2:.2f}x the snapshot with a path (rounds {lo2:.2f}..{hi2:.2f}; target >= 3x)")
    if floors:
        print("\nthe system calls a marker makes, each timed alone in C (marker_floor.c, this "
              "run), ns per call, median over rounds:")
        for key in floors[0]:
            print(f"  {key:70} {statistics.median(f[key] for f in floors):7.0f}")
        over = [s - f["total"] for s, f in zip(per[plain], floors)]
        print(f"log_resource_snapshot(label) costs {statistics.median(over) / 1000:.2f} us above "
              f"this floor of {statistics.median(f['total'] for f in floors) / 1000:.2f} us "
              f"(rounds {min(over) / 1000:.2f}..{max(over) / 1000:.2f})")
    lim = [name for name, _, _ in ops if name.startswith("cgroup limit files")][0]
    if limit_fds:
        cold = [a + b for a, b in zip(per[plain], per[lim])]
        print(f"a marker that re-reads the cgroup limits (the first after a quiet second): "
              f"about {statistics.median(cold) / 1000:.2f} us")


if __name__ == "__main__":
    main()
