# SPDX-License-Identifier: MIT
"""Wall time of a generated suite of trivial tests: plain pytest, resmon, and
two peers (pytest-monitor, pytest-memray), all in the same run.

    python benchmarks/bench_plugin_overhead.py [--tests 5000] [--reps 5]
        [--python /path/to/python-with-the-peers]

Every configuration runs the whole suite in one pytest process; stdout and
stderr go to files (the CI job log). Runs are interleaved (plain, resmon,
peers, plain, ...) so drift hits all alike; medians are reported. The peers
auto-load when installed, so install them into a separate venv (see
docs/performance.md) and pass its python with --python; every configuration
blocks the plugins it does not measure with -p no:NAME.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ALL_PLUGINS = ("resmon", "monitor", "memray")

PEERS = ("monitor", "memray")

# name -> (plugin it needs, extra arguments)
CONFIGS = [
    ("plain pytest", None, []),
    ("resmon (default markers)", "resmon", ["--resmon"]),
    ("resmon + records file", "resmon", ["--resmon", "--resmon-records", "{tmp}/records.log"]),
    ("pytest-monitor", "monitor", []),
    ("pytest-memray", "memray", ["--memray"]),
]

MODULE_OF = {"resmon": "resmon.plugin", "monitor": "pytest_monitor", "memray": "pytest_memray"}


def write_suite(path, n):
    with open(os.path.join(path, "test_generated.py"), "w") as f:
        for i in range(n):
            f.write("def test_%d():\n    assert %d >= 0\n\n" % (i, i))
    with open(os.path.join(path, "pytest.ini"), "w") as f:
        f.write("[pytest]\n")


def available(python, plugin):
    if plugin is None:
        return True
    proc = subprocess.run([python, "-c", "import " + MODULE_OF[plugin]],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc.returncode == 0


def run_once(python, suite, tmp, plugin, extra, n):
    blocked = []
    for name in ALL_PLUGINS:
        if name != plugin:
            blocked += ["-p", "no:" + name]
    args = [a.format(tmp=tmp) for a in extra]
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark"] + \
        blocked + args
    for leftover in ("records.log", ".pymon"):
        try:
            os.unlink(os.path.join(tmp if leftover == "records.log" else suite, leftover))
        except OSError:
            pass
    env = {k: v for k, v in os.environ.items()
           if k not in ("RESMON", "IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG",
                        "RESMON_RECORDS", "PYTEST_ADDOPTS")}
    with open(os.path.join(tmp, "stdout"), "wb") as out, \
            open(os.path.join(tmp, "stderr"), "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=suite, stdout=out, stderr=err, env=env)
        wall = time.perf_counter() - t0
    with open(os.path.join(tmp, "stdout"), "rb") as f:
        tail = f.read()[-300:].decode("ascii", "replace")
    if proc.returncode != 0 or ("%d passed" % n) not in tail:
        raise SystemExit("run failed (%s): rc=%d\n%s" % (" ".join(cmd), proc.returncode, tail))
    with open(os.path.join(tmp, "stderr"), "rb") as f:
        markers = f.read().count(b"[resmon/1] test ")
    return wall, markers


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--peer-reps", type=int, default=1,
                    help="runs of each peer (pytest-monitor takes minutes per run)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter whose environment has the plugins (default: this one)")
    opts = ap.parse_args()

    configs = []
    for name, plugin, extra in CONFIGS:
        if available(opts.python, plugin):
            configs.append((name, plugin, extra))
        else:
            print("skipped: %s (pip install %s into %s's environment)" % (
                name, {"monitor": "pytest-monitor", "memray": "pytest-memray",
                       "resmon": "-e ."}.get(plugin), opts.python))

    times = {name: [] for name, _, _ in configs}
    markers = {}
    with tempfile.TemporaryDirectory(prefix="resmon-bench-") as tmp:
        suite = os.path.join(tmp, "suite")
        os.mkdir(suite)
        write_suite(suite, opts.tests)
        # one warm-up run of plain pytest and resmon (bytecode caches, page cache)
        for name, plugin, extra in configs:
            if plugin not in PEERS:
                run_once(opts.python, suite, tmp, plugin, extra, opts.tests)
        for rep in range(max(opts.reps, opts.peer_reps)):
            for name, plugin, extra in configs:
                if rep >= (opts.peer_reps if plugin in PEERS else opts.reps):
                    continue
                wall, n_markers = run_once(opts.python, suite, tmp, plugin, extra, opts.tests)
                times[name].append(wall)
                markers[name] = n_markers
            print("rep %d/%d done" % (rep + 1, opts.reps), file=sys.stderr)

    base = statistics.median(times["plain pytest"])
    print()
    print("%d trivial tests, one pytest process each, median of %d runs (peers: %d) (python %s)"
          % (opts.tests, opts.reps, opts.peer_reps, opts.python))
    print("%-28s %9s %9s %14s %12s" % ("configuration", "wall s", "ratio", "us per test",
                                       "job-log markers"))
    configs = [c for c in configs if times[c[0]]]  # --peer-reps 0 leaves peers out
    for name, _, _ in configs:
        med = statistics.median(times[name])
        print("%-28s %9.3f %9.3f %+14.1f %12d" % (
            name, med, med / base, (med - base) / opts.tests * 1e6, markers.get(name, 0)))
    print("spread (min..max s): " + "; ".join(
        "%s %.2f..%.2f" % (name, min(times[name]), max(times[name])) for name, _, _ in configs))


if __name__ == "__main__":
    main()
