# SPDX-License-Identifier: MIT
"""CPU cost of the pytest plugin on generated suites of trivial tests:
plain pytest against resmon, paired runs, optionally the peers.

    python benchmarks/bench_plugin_overhead.py [--tests 500,5000] [--reps 5]
        [--xdist] [--records] [--python /path/to/python-with-the-peers] [--peer-reps 0]

For each suite size, every configuration runs the whole suite in one pytest
process (stdout and stderr to files: the job log). Plain pytest and resmon
run in pairs, alternating which goes first, so load and drift hit both; the
ratio is taken per pair, then its median and spread are printed. Time is CPU
time: user+system of pytest and of the processes it reaped (xdist workers),
from wait4. A one-test suite gives the start-up cost on its own; the
marginal cost per test is (CPU(N) - CPU(1)) / N; resmon's overhead per test
is its marginal cost minus plain pytest's. The controller's peak RSS is
the pytest process's own (under /usr/bin/time: see _measure.py). With -n 2,
a small plugin (-p _bench_split, in both configurations) also writes each pytest
process's own getrusage at unconfigure, so the overhead is split between
the controller and the workers.

Byte code: resmon's modules are compiled first, and rewritten once by
pytest's assertion rewriter into their __pycache__ (see precompile()), as an
installed plugin has them after its first run; without that, a tree run
with PYTHONDONTWRITEBYTECODE=1 recompiles plugin.py in every run and the
start-up measures the compiler (about 20 ms). The test file is rewritten by
pytest in every run, as in a CI job's fresh checkout.

The peers (pytest-monitor, pytest-memray) auto-load when installed: install
them into a separate venv and pass its python with --python (see
docs/performance.md). Every configuration blocks the plugins it does not
measure with -p no:NAME.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _measure  # noqa: E402

ALL_PLUGINS = ("resmon", "monitor", "memray")
MODULE_OF = {"resmon": "resmon.plugin", "monitor": "pytest_monitor", "memray": "pytest_memray"}
SPLIT_MODULE = "_bench_split"
SPLIT_SOURCE = '''"""bench_plugin_overhead: this pytest process's own CPU, at unconfigure."""
import os
import resource


def pytest_unconfigure(config):
    ru = resource.getrusage(resource.RUSAGE_SELF)
    role = "worker" if hasattr(config, "workerinput") else "controller"
    with open(os.environ["RESMON_BENCH_SPLIT"], "a") as f:
        f.write("%s %.6f\\n" % (role, ru.ru_utime + ru.ru_stime))
'''


def write_suite(path, n):
    os.makedirs(path, exist_ok=True)
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


def precompile(python, tmp):
    """Byte code for resmon's package as an installed, once-run plugin has
    it: compiled (pip does that at install), and rewritten by pytest's
    assertion rewriter (pytest rewrites every module of a distribution with
    a pytest11 entry point and caches the result in __pycache__ on the first
    run). Under PYTHONDONTWRITEBYTECODE=1 neither is written, and every run
    would measure the compiler. One warm-up session with writing allowed, on
    a suite of its own (the measured suites keep their test files rewritten
    in every run, as in a CI job's fresh checkout)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = ("import compileall, os, resmon; "
            "compileall.compile_dir(os.path.dirname(resmon.__file__), quiet=1)")
    subprocess.run([python, "-c", code], env=env, check=False)
    warm = os.path.join(tmp, "warm-up")
    write_suite(warm, 1)
    subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--resmon"],
                   cwd=warm, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)


def run_once(python, suite, tmp, plugin, extra, n, xdist):
    """One pytest run: (Run, (controller CPU s, workers' CPU s) or None)."""
    blocked = []
    for name in ALL_PLUGINS:
        if name != plugin:
            blocked += ["-p", "no:" + name]
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark",
           "-p", "no:randomly"] + blocked + [a.format(tmp=tmp) for a in extra]
    cmd += ["-n", "2", "-p", SPLIT_MODULE] if xdist else ["-p", "no:xdist"]
    split = os.path.join(tmp, "split.log")
    for path in (os.path.join(tmp, "records.log"), split):
        try:
            os.unlink(path)
        except OSError:
            pass
    env = {k: v for k, v in os.environ.items()
           if k not in ("RESMON", "IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG",
                        "RESMON_RECORDS", "PYTEST_ADDOPTS")}
    if xdist:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tmp, env.get("PYTHONPATH")) if p)
        env["RESMON_BENCH_SPLIT"] = split
    out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
    r = _measure.spawn(cmd, stdout=out, stderr=err, env=env, cwd=suite, own_peak=True)
    with open(out, "rb") as f:
        tail = f.read()[-400:].decode("ascii", "replace")
    if r.code != 0 or ("%d passed" % n) not in tail:
        raise SystemExit("run failed (%s): rc=%d\n%s" % (" ".join(cmd), r.code, tail))
    if not xdist:
        return r, None
    by_role = {"controller": 0.0, "worker": 0.0}
    with open(split) as f:
        for line in f:
            role, cpu = line.split()
            by_role[role] += float(cpu)
    return r, (by_role["controller"], by_role["worker"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", default="500,5000", help="suite sizes, comma-separated")
    ap.add_argument("--reps", type=int, default=5, help="paired runs per size")
    ap.add_argument("--xdist", action="store_true", help="also run every size with -n 2")
    ap.add_argument("--records", action="store_true",
                    help="also measure --resmon-records FILE (paired with plain)")
    ap.add_argument("--peer-reps", type=int, default=0,
                    help="runs of each peer plugin (pytest-monitor takes minutes per run)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter whose environment has the plugins (default: this one)")
    opts = ap.parse_args()
    sizes = [int(x) for x in opts.tests.split(",")]
    configs = [("resmon --resmon", "resmon", ["--resmon"])]
    if opts.records:
        configs.append(("resmon --resmon --resmon-records", "resmon",
                        ["--resmon", "--resmon-records", "{tmp}/records.log"]))
    peers = [("pytest-monitor", "monitor", []), ("pytest-memray --memray", "memray", ["--memray"])]
    peers = [p for p in peers if opts.peer_reps and available(opts.python, p[1])]
    modes = [False, True] if opts.xdist else [False]
    rows = []
    splits = {}  # (n, name): ([plain (controller, workers)], [plugin's])
    with tempfile.TemporaryDirectory(prefix="resmon-bench-") as tmp:
        with open(os.path.join(tmp, SPLIT_MODULE + ".py"), "w") as f:
            f.write(SPLIT_SOURCE)
        precompile(opts.python, tmp)
        for xdist in modes:
            startup = {}
            one = os.path.join(tmp, "suite-1")
            write_suite(one, 1)
            for name, plugin, extra in [("plain pytest", None, [])] + configs:
                runs = [run_once(opts.python, one, tmp, plugin, extra, 1, xdist)[0].cpu
                        for _ in range(5)]
                startup[name] = statistics.median(runs)
            for n in sizes:
                suite = os.path.join(tmp, "suite-%d" % n)
                write_suite(suite, n)
                run_once(opts.python, suite, tmp, None, [], n, xdist)  # warm-up
                for name, plugin, extra in configs:
                    plain, mine, rss_p, rss_m = [], [], [], []
                    split_p, split_m = splits.setdefault((n, name), ([], []))

                    def a():
                        r, split = run_once(opts.python, suite, tmp, None, [], n, xdist)
                        rss_p.append(r.maxrss or 0)
                        if split:
                            split_p.append(split)
                        return r.cpu

                    def b():
                        r, split = run_once(opts.python, suite, tmp, plugin, extra, n, xdist)
                        rss_m.append(r.maxrss or 0)
                        if split:
                            split_m.append(split)
                        return r.cpu

                    plain, mine = _measure.paired(a, b, opts.reps)
                    rows.append((n, xdist, name, plain, mine, startup["plain pytest"],
                                 startup[name], statistics.median(rss_p),
                                 statistics.median(rss_m)))
                    print("done: %d tests%s, %s" % (n, " -n 2" if xdist else "", name),
                          file=sys.stderr)
                for name, plugin, extra in peers:
                    runs = [run_once(opts.python, suite, tmp, plugin, extra, n, xdist)[0].cpu
                            for _ in range(opts.peer_reps)]
                    rows.append((n, xdist, name, None, runs, startup["plain pytest"], None,
                                 None, None))
    print()
    print("CPU seconds (user+system, pytest and its workers) per run; %d pairs, alternating"
          % opts.reps)
    print("| tests | -n | configuration | plain CPU s | with plugin CPU s | ratio per pair "
          "median (min..max) | start-up ms plain / plugin | marginal us/test plain / plugin "
          "| overhead us/test | controller peak RSS MiB plain / plugin |")
    print("|---:|---|---|---:|---:|---|---|---|---:|---|")
    for n, xdist, name, plain, mine, s_plain, s_mine, rss_p, rss_m in rows:
        if plain is None:
            print("| %d | %s | %s | | %.2f | | | | | |" % (n, "2" if xdist else "-", name,
                                                      statistics.median(mine)))
            continue
        mp, mm = statistics.median(plain), statistics.median(mine)
        lo, med, hi = _measure.ratio_stats(mine, plain)
        marg_p = (mp - s_plain) / n * 1e6
        marg_m = (mm - s_mine) / n * 1e6
        print("| %d | %s | %s | %.3f | %.3f | %.3f (%.3f..%.3f) | %.0f / %.0f | %.1f / %.1f | "
              "%+.1f | %.1f / %.1f |" % (
                  n, "2" if xdist else "-", name, mp, mm, med, lo, hi, s_plain * 1e3,
                  s_mine * 1e3, marg_p, marg_m, marg_m - marg_p, rss_p / 2**20, rss_m / 2**20))

    split_rows = [(k, v) for k, v in splits.items() if v[0] and v[1]]
    if split_rows:
        print()
        print("-n 2 by process: each pytest process's own CPU at unconfigure (medians; "
              "overhead = plugin - plain, per test)")
        print("| tests | configuration | controller CPU s plain / plugin | workers' CPU s plain / "
              "plugin | overhead us/test controller / workers |")
        print("|---:|---|---|---|---|")
        for (n, name), (sp, sm) in split_rows:
            cp, cm = (statistics.median(x[0] for x in v) for v in (sp, sm))
            wp, wm = (statistics.median(x[1] for x in v) for v in (sp, sm))
            print("| %d | %s | %.3f / %.3f | %.3f / %.3f | %+.1f / %+.1f |" % (
                n, name, cp, cm, wp, wm, (cm - cp) / n * 1e6, (wm - wp) / n * 1e6))


if __name__ == "__main__":
    main()
