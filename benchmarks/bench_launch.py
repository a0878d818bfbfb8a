# SPDX-License-Identifier: MIT
"""CPU cost of starting resmon-report / resmon-sampler as a user does.

    python benchmarks/bench_launch.py [--reps 21]

Each way of starting `resmon-report --version` runs --reps times in
rotation; CPU is user+system of the child from wait4 (the interpreter's
start-up included). Ways:

  - the C binary itself (the floor);
  - a console script as pip writes it for [project.scripts], calling the
    launcher module _resmon_launch (outside the resmon package: what is
    installed now);
  - the same console script calling resmon._tools (what was installed
    before: importing resmon._tools imports the whole package);
  - python -c pass (the interpreter's own start-up, the peer a Python
    launcher cannot beat).

The console scripts are written to a temporary directory with pip's
template and this interpreter in their #! line, as pip would.
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _measure  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the console-script template of the pip in this venv (.venv/bin/resmon-report)
SCRIPT = """#!{python}
import sys
from {module} import {func}
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit({func}())
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=21)
    args = ap.parse_args()
    import resmon._tools as tools  # noqa: PLC0415 - only to find the binary

    binary = tools.tool_path("resmon-report")
    if not os.access(binary, os.X_OK):
        sys.exit("bench_launch: %s is not built (python setup.py build_ext --inplace)" % binary)
    tmp = tempfile.mkdtemp(prefix="resmon-bench-launch-")
    ways = [("C binary resmon-report", [binary, "--version"])]
    for label, module in (("console script -> _resmon_launch (now)", "_resmon_launch"),
                          ("console script -> resmon._tools (before)", "resmon._tools")):
        path = os.path.join(tmp, module.replace(".", "_"))
        with open(path, "w") as f:
            f.write(SCRIPT.format(python=sys.executable, module=module, func="report_main"))
        os.chmod(path, 0o755)
        ways.append((label, [path, "--version"]))
    ways.append(("python -c pass (interpreter start-up)", [sys.executable, "-c", "pass"]))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "python") + os.pathsep + env.get("PYTHONPATH", "")
    cpu = {label: [] for label, _ in ways}
    for r in range(args.reps):
        for label, argv in (ways if r % 2 == 0 else list(reversed(ways))):
            run = _measure.spawn(argv, stdout=os.devnull, env=env)
            if run.code != 0:
                sys.exit("bench_launch: %s exited %d" % (argv, run.code))
            cpu[label].append(run.cpu)
    for p in os.listdir(tmp):
        os.unlink(os.path.join(tmp, p))
    os.rmdir(tmp)
    floor = statistics.median(cpu[ways[0][0]])
    print("%d runs each in rotation; CPU ms (user+system) per launch\n" % args.reps)
    print("| way | median ms | min..max | x binary |")
    print("|---|---:|---:|---:|")
    for label, _ in ways:
        v = cpu[label]
        print("| %s | %.1f | %.1f..%.1f | %.1f |" % (label, statistics.median(v) * 1e3,
                                                   min(v) * 1e3, max(v) * 1e3,
                                                   statistics.median(v) / floor))
    now = statistics.median(cpu[ways[1][0]])
    before = statistics.median(cpu[ways[2][0]])
    print("\nthe installed command now costs %.1f ms, %.1fx less than before (%.1f ms); "
          "%.1f ms above the interpreter's own start-up" % (
              now * 1e3, before / now, before * 1e3,
              (now - statistics.median(cpu[ways[3][0]])) * 1e3))


if __name__ == "__main__":
    main()
