# SPDX-License-Identifier: MIT
"""resmon-report triage throughput and memory on a large `gh run view --log` file.

Generates (in /tmp) a gh-format log of --jobs jobs (JOB<TAB>STEP<TAB>TIMESTAMP TEXT) by
repeating the real recorded jobs of tests/report/triage_data/run.log (pytest -v lines,
FAILURES sections, the plugin's markers, pip output) under new job names until the file
has --size-mb megabytes, warms the page cache, then times, best of --repeat:

  resmon-report triage --format json      the whole triage (every job's full analysis)
  grep -acE "FAILED |ERROR |Successfully installed"  the peer: finds the lines, groups nothing

and prints MB/s, the ratio, and the triage's peak RSS (ru_maxrss of the child)."""

import argparse
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_LOG = os.path.join(ROOT, "tests", "report", "triage_data", "run.log")
BIN = os.path.join(ROOT, "build", "c", "resmon-report")


def generate(path, size, jobs):
    """Each job is one recorded job's lines, repeated; the timestamps stay as recorded
    (each repetition is a new pytest session of the same job)."""
    templates = {}
    with open(RUN_LOG, "rb") as f:
        for line in f:
            job, rest = line.split(b"\t", 1)
            templates.setdefault(job, []).append(rest)
    names = sorted(templates)
    per_job = size // jobs
    with open(path, "wb") as out:
        for j in range(jobs):
            src = templates[names[j % len(names)]]
            block = b"".join(b"test (shard %d, %s)\t" % (j, names[j % len(names)][6:-1]) + r
                             for r in src)
            written = 0
            while written < per_job:
                out.write(block)
                written += len(block)
    return os.path.getsize(path)


def best(argv, repeat):
    times, rss = [], 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        # a pipe, not /dev/null: GNU grep stops at the first match when it writes there
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if p.returncode not in (0, 1, 3):
            sys.exit("%s failed: %s" % (argv[0], p.stderr.decode(errors="replace")))
        rss = max(rss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return min(times), rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "../build/c/resmon-report"],
                   check=True)
    path = "/tmp/resmon-bench-triage-%d.log" % args.size_mb
    size = generate(path, args.size_mb << 20, args.jobs)
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
    mb = size / 1e6
    t_tri, rss = best([BIN, "triage", "--format", "json", path], args.repeat)
    raw = path + ".raw"
    with open(path, "rb") as f, open(raw, "wb") as out:
        for line in f:
            out.write(line.split(b"\t", 2)[2])
    t_rep, _ = best([BIN, "--format", "json", raw], args.repeat)
    os.unlink(raw)
    t_grep, _ = best(["grep", "-acE", "FAILED |ERROR |Successfully installed", path], args.repeat)
    print("input: %s, %.0f MB, %d jobs" % (path, mb, args.jobs))
    print("| tool | time (s) | MB/s | vs triage |")
    print("|---|---|---|---|")
    print("| resmon-report triage (json) | %.2f | %.0f | 1.00x |" % (t_tri, mb / t_tri))
    print("| resmon-report (json), the same lines as one run | %.2f | %.0f | %.2fx |"
          % (t_rep, mb / t_rep, t_rep / t_tri))
    print("| grep -acE 'FAILED |ERROR |Successfully installed' | %.2f | %.0f | %.2fx |"
          % (t_grep, mb / t_grep, t_grep / t_tri))
    # RUSAGE_CHILDREN keeps the largest child so far: the triage ran first
    print("peak RSS of the triage: %.1f MiB (ru_maxrss)" % (rss / 1024))
    os.unlink(path)


if __name__ == "__main__":
    main()
