# SPDX-License-Identifier: MIT
"""CPU time and peak RSS of resmon-sampler against the samplers people write today.

Peers, measured in the same run and at the same rates (1 Hz and 10 Hz):

- bash:   the common loop
          while true; do date; df -h /; free -h;
          ps -eo pid,ppid,cmd,%mem,%cpu --sort=-%mem | head -n 15; sleep 1; done
- psutil: the same sampling in Python with psutil (time, disk, memory, top 15 by RSS)

Each configuration runs for --seconds (default 60) as its own process group,
all configurations at the same time (they are mostly asleep; CPU time is
per process, so they do not bill each other). CPU time is user+system of the
process and every child it reaped (wait4), so the bash loop pays for its
date/df/free/ps/head/sleep children. Peak RSS is the main process's VmHWM,
read just before it is stopped.

    python benchmarks/bench_sampler.py [--seconds 60] [--sequential]
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

BASH_LOOP = ("while true; do date; df -h /; free -h; "
             "ps -eo pid,ppid,cmd,%mem,%cpu --sort=-%mem | head -n 15; sleep {interval}; done")

PSUTIL_LOOP = r'''
import datetime, sys, time, psutil
interval = float(sys.argv[1])
out = open(sys.argv[2], "a")
while True:
    t = time.monotonic()
    out.write("==== [%s] Resource Usage ====\n" % datetime.datetime.now())
    d = psutil.disk_usage("/")
    out.write("disk / used=%d free=%d\n" % (d.used, d.free))
    vm, sw = psutil.virtual_memory(), psutil.swap_memory()
    out.write("mem total=%d avail=%d free=%d swap=%d/%d\n"
              % (vm.total, vm.available, vm.free, sw.used, sw.total))
    procs = []
    for p in psutil.process_iter(["pid", "ppid", "cmdline", "memory_info", "memory_percent",
                                  "cpu_percent"]):
        i = p.info
        if i["memory_info"] is not None:
            procs.append(i)
    procs.sort(key=lambda i: i["memory_info"].rss, reverse=True)
    for i in procs[:15]:
        out.write("%d %d %s %.1f %.1f\n" % (i["pid"], i["ppid"], " ".join(i["cmdline"] or [])[:80],
                                            i["memory_percent"] or 0, i["cpu_percent"] or 0))
    out.flush()
    time.sleep(max(0.0, interval - (time.monotonic() - t)))
'''


def sampler_path():
    try:
        from resmon._tools import tool_path
        path = tool_path("resmon-sampler")
    except ImportError:
        path = os.path.join(os.path.dirname(HERE), "build", "c", "resmon-sampler")
    if not os.access(path, os.X_OK):
        sys.exit(f"resmon-sampler is not built at {path}")
    return path


def vmhwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def configs(tmp, sampler, watched_pid, reader):
    out = []
    for hz, interval in (("1 Hz", "1"), ("10 Hz", "0.1")):
        out.append((f"resmon-sampler {hz}", "sampler", interval,
                    [sampler, "-q", "-i", interval, "--top", "10", "--proc-reader", reader,
                     "-o", os.path.join(tmp, f"sampler-{interval}.log"),
                     "--pid", str(watched_pid)]))
        out.append((f"bash loop {hz}", "bash", interval,
                    ["bash", "-c", BASH_LOOP.format(interval=interval) + " >> "
                     + os.path.join(tmp, f"bash-{interval}.log") + " 2>&1"]))
        out.append((f"psutil loop {hz}", "psutil", interval,
                    [sys.executable, "-c", PSUTIL_LOOP, interval,
                     os.path.join(tmp, f"psutil-{interval}.log")]))
    return out


def run_all(cfgs, seconds, sequential):
    results = {}

    def start(cfg):
        name, _, _, argv = cfg
        return name, subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL)

    def stop(name, proc):
        hwm = vmhwm_kib(proc.pid)
        os.killpg(proc.pid, signal.SIGTERM)
        _, status, ru = os.wait4(proc.pid, 0)
        cpu = ru.ru_utime + ru.ru_stime
        # ru_maxrss is useless here: it keeps the peak of the forked Python
        # image from before exec, so the main process's VmHWM is used
        results[name] = (cpu, hwm)

    if sequential:
        for cfg in cfgs:
            name, proc = start(cfg)
            time.sleep(seconds)
            stop(name, proc)
    else:
        running = [start(cfg) for cfg in cfgs]
        time.sleep(seconds)
        for name, proc in running:
            stop(name, proc)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60, help="run time per configuration")
    ap.add_argument("--sequential", action="store_true",
                    help="run the configurations one after another, not together")
    ap.add_argument("--proc-reader", default="auto", choices=["auto", "libproc2", "proc"])
    args = ap.parse_args()
    try:
        import psutil  # noqa: F401
    except ImportError:
        sys.exit("psutil is needed for the psutil peer: pip install psutil")
    sampler = sampler_path()
    tmp = tempfile.mkdtemp(prefix="bench_sampler_")
    watched = subprocess.Popen(["sleep", str(int(args.seconds * 8 + 60))])
    try:
        cfgs = configs(tmp, sampler, watched.pid, args.proc_reader)
        res = run_all(cfgs, args.seconds, args.sequential)
        with open(os.path.join(tmp, "sampler-1.log")) as f:
            head = f.readline()
        reader = head.split("proc_reader=")[1].split()[0] if "proc_reader=" in head else "?"
    finally:
        watched.kill()
        watched.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    nprocs = sum(1 for d in os.listdir("/proc") if d.isdigit())
    print(f"# {args.seconds:g} s per configuration, {'sequential' if args.sequential else 'all at once'}, "
          f"{nprocs} processes on the machine, sampler proc_reader={reader}")
    print("| configuration | CPU s | % of one core | peak RSS (MiB) | CPU x resmon-sampler |")
    print("|---|---:|---:|---:|---:|")
    for name, kind, interval, _ in cfgs:
        cpu, hwm = res[name]
        base = res[f"resmon-sampler {'1 Hz' if interval == '1' else '10 Hz'}"][0]
        ratio = cpu / base if base > 0 else float("inf")
        print(f"| {name} | {cpu:.3f} | {100 * cpu / args.seconds:.2f} | {hwm / 1024:.1f} | "
              f"{ratio:.1f} |")
    s10, b10 = res["resmon-sampler 10 Hz"][0], res["bash loop 10 Hz"][0]
    s1, b1 = res["resmon-sampler 1 Hz"][0], res["bash loop 1 Hz"][0]
    print()
    print(f"targets: sampler at 10 Hz {100 * s10 / args.seconds:.2f}% of a core (< 1%), "
          f"peak RSS {res['resmon-sampler 10 Hz'][1] / 1024:.1f} MiB (< 4 MiB), "
          f"bash/sampler CPU {b10 / s10 if s10 else float('inf'):.0f}x at 10 Hz and "
          f"{b1 / s1 if s1 else float('inf'):.0f}x at 1 Hz (>= 20x)")


if __name__ == "__main__":
    main()
