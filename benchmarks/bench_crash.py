# SPDX-License-Identifier: MIT
"""Costs of resmon's crash boundaries, against CPython's faulthandler.

- dump_threads() (resource line + every Python stack + /proc/self/task
  inventory) against faulthandler.dump_traceback(all_threads=True), with 10,
  100 and 500 threads alive, written to /dev/null;
- install_crash_handlers() + uninstall (once per session) against
  faulthandler.enable() + disable();
- the per-test watchdog arm + cancel, dump_after(N) + dump_after(None),
  against faulthandler.dump_traceback_later(N) + cancel_dump_traceback_later(),
  which is what pytest's faulthandler_timeout does per test;
- set_current_test() (the per-test context update the handlers read).

Usage: python benchmarks/bench_crash.py [--repeat 7]
Prints a Markdown table: medians of --repeat runs.
"""

import argparse
import faulthandler
import os
import statistics
import threading
import time

import resmon
from resmon import crash


def per_call(fn, n, repeat):
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n)
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rows = []
    null = open(os.devnull, "w")
    fd = null.fileno()

    ev = threading.Event()
    threads = []
    for alive in (10, 100, 500):
        while len(threads) + 1 < alive:
            t = threading.Thread(target=ev.wait, daemon=True)
            t.start()
            threads.append(t)
        n = 20 if alive >= 500 else 100
        ours = per_call(lambda: resmon.dump_threads(fd), n, args.repeat)
        py_only = per_call(lambda: resmon.dump_threads(fd, native=False), n, args.repeat)
        peer = per_call(lambda: faulthandler.dump_traceback(fd, all_threads=True), n,
                        args.repeat)
        rows.append((f"`dump_threads()`, {alive} threads", ours, peer,
                     "`faulthandler.dump_traceback(all_threads=True)`"))
        rows.append((f"`dump_threads(native=False)`, {alive} threads", py_only, peer,
                     "`faulthandler.dump_traceback(all_threads=True)`"))
    ev.set()
    for t in threads:
        t.join()

    resmon.set_output_fd(fd)
    was = faulthandler.is_enabled()

    def install_cycle():
        resmon.install_crash_handlers()
        crash.uninstall_crash_handlers()

    def fh_cycle():
        faulthandler.enable(fd)
        faulthandler.disable()

    faulthandler.enable(fd)  # the plugin installs on top of an enabled faulthandler
    ours = per_call(install_cycle, 200, args.repeat)
    faulthandler.disable()
    peer = per_call(fh_cycle, 200, args.repeat)
    rows.append(("`install_crash_handlers()` + uninstall", ours, peer,
                 "`faulthandler.enable()` + `disable()`"))
    if was:
        faulthandler.enable()

    def arm_cycle():
        resmon.dump_after(60)
        resmon.dump_after(None)

    def later_cycle():
        faulthandler.dump_traceback_later(60, file=fd)
        faulthandler.cancel_dump_traceback_later()

    resmon.dump_after(60)  # the watchdog thread exists, as it does after the first test
    ours = per_call(arm_cycle, 20000, args.repeat)
    peer = per_call(later_cycle, 2000, args.repeat)
    rows.append(("`dump_after(N)` + `dump_after(None)` (per test)", ours, peer,
                 "`dump_traceback_later(N)` + cancel (pytest `faulthandler_timeout`)"))
    ctx = per_call(lambda: resmon.set_current_test("tests/test_x.py::test_y[param]", "call"),
                   100000, args.repeat)
    rows.append(("`set_current_test(test, phase)` (per phase)", ctx, None, ""))

    print("| operation | resmon | peer | resmon / peer | peer operation |")
    print("|---|---:|---:|---:|---|")
    for name, ours, peer, peer_name in rows:
        def fmt(v):
            return f"{v * 1e6:.1f} us" if v < 1e-3 else f"{v * 1e3:.2f} ms"
        ratio = f"{ours / peer:.2f}" if peer else "-"
        print(f"| {name} | {fmt(ours)} | {fmt(peer) if peer else '-'} | {ratio} | {peer_name} |")


if __name__ == "__main__":
    main()
