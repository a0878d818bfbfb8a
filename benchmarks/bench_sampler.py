# SPDX-License-Identifier: MIT
"""CPU time and peak RSS of resmon-sampler against the samplers people write today.

The sampler runs as a user runs it: the installed console script (the Python
launcher that execs the C binary) in wrap mode around the job,

    resmon-sampler -q -i INTERVAL --top 10 -o LOG -- sleep SECONDS

and the peers do the same job for the same time, at the same interval:

- bash:   the common loop, in the background while the job runs
              ( while true; do date; df -h /; free -h;
                ps -eo pid,ppid,cmd,%mem,%cpu --sort=-%mem | head -n 15;
                sleep INTERVAL; done ) >> LOG 2>&1 &
              sleep SECONDS; kill $!; wait
- psutil: the same sampling in Python with psutil (time, disk, memory, top 15
          by RSS) until SECONDS have passed.

Each rate (--rates, Hz) is measured with the machine holding about each of
--procs processes: the benchmark starts idle `sleep` processes of its own to
reach the number (and kills them afterwards); the real count, read from
/proc during the runs, is printed.

- CPU: user+system of each run's process and every child it reaped (wait4),
  start-up and exit included: the sampler pays for the Python launcher, its
  topology helper and the wrapped `sleep`; the bash loop for its
  date/df/free/ps/head/sleep children.
- Peak RSS: VmHWM of the run's main process, read from /proc every 0.2 s
  until it exits. For the sampler this is the C binary's own image: the
  launcher execs it in the same process, and exec starts a new memory map
  whose high-water mark does not inherit the launcher's (ru_maxrss would:
  see _measure.py).
- Paired runs: --reps rounds; the order of the three configurations rotates
  from round to round; medians and min..max are printed, and the ratios
  bash/sampler and psutil/sampler are taken per round. By default the
  configurations of a round run one after another; --together starts them
  at the same time (three times faster; CPU time is per process, and they
  are mostly asleep, but the peers' forks are new processes the sampler
  then reads, as on a busy CI machine).

    python benchmarks/bench_sampler.py [--seconds 60] [--procs 100,400,1000]
        [--rates 10,1] [--reps 3] [--together] [--sampler PATH]
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

BASH_LOOP = ("( while true; do date; df -h /; free -h; "
             "ps -eo pid,ppid,cmd,%mem,%cpu --sort=-%mem | head -n 15; sleep {interval}; done ) "
             ">> {log} 2>&1 & sleep {seconds}; kill $!; wait")

PSUTIL_LOOP = r'''
import datetime, sys, time, psutil
interval, out, seconds = float(sys.argv[1]), open(sys.argv[2], "a"), float(sys.argv[3])
end = time.monotonic() + seconds
while time.monotonic() < end:
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
    time.sleep(max(0.0, min(interval - (time.monotonic() - t), end - time.monotonic())))
'''

KINDS = ("sampler", "bash", "psutil")


def count_procs():
    return sum(1 for d in os.listdir("/proc") if d.isdigit())


def vmhwm_kib(pid, exe_suffix=None):
    """VmHWM of pid, or None (gone, or not yet the program we want)."""
    try:
        if exe_suffix and not os.readlink(f"/proc/{pid}/exe").endswith(exe_suffix):
            return None
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Filler:
    """Idle `sleep` processes of ours that bring the machine to a process count."""

    def __init__(self):
        self.pids = []

    def fill(self, target):
        need = target - count_procs()
        for _ in range(max(0, need)):
            self.pids.append(os.posix_spawn("/bin/sleep", ["sleep", "100000"], os.environ))
        return count_procs()

    def clear(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.pids = []


def argv_of(kind, args, interval, tmp, tag):
    log = os.path.join(tmp, f"{kind}-{tag}.log")
    if kind == "sampler":
        return [args.sampler, "-q", "-i", interval, "--top", "10", "-o", log, "--",
                "sleep", "%g" % args.seconds]
    if kind == "bash":
        return ["bash", "-c", BASH_LOOP.format(interval=interval, log=log,
                                               seconds="%g" % args.seconds)]
    return [sys.executable, "-c", PSUTIL_LOOP, interval, log, "%g" % args.seconds]


def run_round(cfgs, counts):
    """Runs the (kind, argv) configurations, each as soon as the one before
    ended (one list) or all at once (several lists in cfgs). Returns
    {kind: (cpu seconds, peak RSS KiB)}; appends process counts seen."""
    res = {}
    for group in cfgs:
        running = {}
        for kind, argv in group:
            pid = os.posix_spawnp(argv[0], argv, os.environ,
                                  file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
            running[pid] = (kind, 0)
        next_count = time.monotonic() + 1.0
        while running:
            for pid in list(running):
                kind, hwm = running[pid]
                h = vmhwm_kib(pid, "resmon-sampler" if kind == "sampler" else None)
                if h:
                    hwm = max(hwm, h)
                running[pid] = (kind, hwm)
                got, status, ru = os.wait4(pid, os.WNOHANG)
                if got == pid:
                    code = os.waitstatus_to_exitcode(status)
                    if code != 0:
                        sys.exit(f"{kind} ended with {code}")
                    res[kind] = (ru.ru_utime + ru.ru_stime, hwm)
                    del running[pid]
            if time.monotonic() >= next_count:
                counts.append(count_procs())
                next_count += 5.0
            time.sleep(0.2)
    return res


def fmt(values, f="%.3f"):
    lo, med, hi = min(values), statistics.median(values), max(values)
    return (f + " (" + f + ".." + f + ")") % (med, lo, hi)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60, help="length of each run")
    ap.add_argument("--procs", default="100,400,1000",
                    help="processes on the machine, comma-separated")
    ap.add_argument("--rates", default="10,1", help="sampling rates in Hz, comma-separated")
    ap.add_argument("--reps", type=int, default=3, help="rounds per configuration")
    ap.add_argument("--together", action="store_true",
                    help="run the three configurations of a round at the same time")
    ap.add_argument("--sampler", default=os.path.join(os.path.dirname(sys.executable),
                                                      "resmon-sampler"),
                    help="the installed command (default: beside this Python)")
    args = ap.parse_args()
    try:
        import psutil  # noqa: F401
    except ImportError:
        sys.exit("psutil is needed for the psutil peer: pip install psutil")
    if not shutil.which(args.sampler):
        sys.exit(f"no resmon-sampler at {args.sampler}")
    procs = [int(x) for x in args.procs.split(",")]
    rates = [float(x) for x in args.rates.split(",")]
    tmp = tempfile.mkdtemp(prefix="bench_sampler_")
    filler = Filler()
    rows = []
    try:
        for target in procs:
            filler.clear()
            filler.fill(target)
            for hz in rates:
                interval = "%g" % (1.0 / hz)
                per = {k: [] for k in KINDS}
                counts = []
                for r in range(args.reps):
                    order = KINDS[r % 3:] + KINDS[:r % 3]
                    cfgs = [(k, argv_of(k, args, interval, tmp, f"{target}-{interval}-{r}"))
                            for k in order]
                    res = run_round([cfgs] if args.together else [[c] for c in cfgs], counts)
                    for k in KINDS:
                        per[k].append(res[k])
                rows.append((target, hz, per, counts))
                print(f"# done: {target} processes, {hz:g} Hz", file=sys.stderr, flush=True)
        with open(os.path.join(tmp, f"sampler-{procs[0]}-{'%g' % (1.0 / rates[0])}-0.log")) as f:
            head = f.readline()
    finally:
        filler.clear()
        shutil.rmtree(tmp, ignore_errors=True)
    reader = head.split("proc_reader=")[1].split()[0] if "proc_reader=" in head else "?"

    print(f"# {args.seconds:g} s per run, {args.reps} rounds, "
          f"{'together' if args.together else 'one after another'}; "
          f"{os.cpu_count()} CPUs; sampler {args.sampler} (proc_reader={reader})")
    print("| processes (seen) | rate | configuration | CPU s, median (min..max) | % of one core "
          "| peak RSS MiB, max | CPU x resmon-sampler, median (min..max) |")
    print("|---|---|---|---|---:|---:|---|")
    verdicts = []
    for target, hz, per, counts in rows:
        seen = "%d (%d..%d)" % (statistics.median(counts), min(counts), max(counts)) \
            if counts else "?"
        base = [c for c, _ in per["sampler"]]
        for k in KINDS:
            cpu = [c for c, _ in per[k]]
            peak = max(h for _, h in per[k]) / 1024
            name = {"sampler": "resmon-sampler", "bash": "bash loop", "psutil": "psutil loop"}[k]
            ratio = "1" if k == "sampler" else fmt([c / b for c, b in zip(cpu, base) if b > 0],
                                                   "%.1f")
            print(f"| {target} {seen} | {hz:g} Hz | {name} | {fmt(cpu)} | "
                  f"{100 * statistics.median(cpu) / args.seconds:.2f} | {peak:.1f} | {ratio} |")
        ratios = [b / s for (b, _), (s, _) in zip(per["bash"], per["sampler"]) if s > 0]
        peak = max(h for _, h in per["sampler"]) / 1024
        verdicts.append(f"{target} processes, {hz:g} Hz: bash/sampler "
                        f"{statistics.median(ratios):.1f}x (min {min(ratios):.1f}x; target >= 20x"
                        f" {'met' if min(ratios) >= 20 else 'met by the median' if statistics.median(ratios) >= 20 else 'NOT met'}),"
                        f" sampler peak RSS {peak:.2f} MiB ({'<' if peak < 4 else 'NOT <'} 4 MiB)")
    print()
    for v in verdicts:
        print(v)


if __name__ == "__main__":
    main()
