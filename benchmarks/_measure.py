# SPDX-License-Identifier: MIT
"""What every benchmark here measures with: a child's CPU time from wait4,
its own peak RSS, and paired, interleaved runs against a peer.

- CPU, not wall time: user + system of the child and of every descendant it
  reaped (wait4's rusage). On a shared machine wall time measures the
  neighbours; CPU time mostly does not.
- Peak RSS of the child's own image: a child forked from this (large) Python
  process carries our RSS into its ru_maxrss until it execs, and exec keeps
  that mark (the kernel folds the old image's high-water mark into the
  process's maxrss), posix_spawn included. So the tool runs under
  /usr/bin/time, whose fork has a small image: its %M is the tool's own peak.
- Paired runs: A and B alternate (A B, B A, A B ...) so drift and load hit
  both alike; ratios are taken per pair, then min and median, with the
  spread printed.
"""

import os
import shutil
import statistics
import tempfile

TIME = shutil.which("time", path="/usr/bin:/bin")


class Run:
    __slots__ = ("cpu", "wall", "maxrss", "code", "out")

    def __repr__(self):
        return "<cpu %.4fs wall %.4fs maxrss %s code %s>" % (self.cpu, self.wall, self.maxrss,
                                                            self.code)


def spawn(argv, stdout=None, stderr=None, env=None, cwd=None, own_peak=False):
    """Runs argv to completion. Returns a Run: cpu (s, user+system of the child
    and its reaped descendants), wall (s), maxrss (bytes of the child's own
    image when own_peak and /usr/bin/time exists, else None), exit code.
    stdout/stderr: None (inherit) or a path. cwd changes directory through
    /bin/sh's exec, which is not counted (it execs, it does not fork)."""
    import time as _time

    env = dict(os.environ if env is None else env)
    rfile = None
    if own_peak and TIME:
        fd, rfile = tempfile.mkstemp(prefix="resmon-bench-rusage-")
        os.close(fd)
        argv = [TIME, "-f", "%M", "-o", rfile, "--"] + list(argv)
    if cwd:
        argv = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', cwd] + list(argv)
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
    if stdout:
        actions.append((os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                        0o644))
    if stderr:
        actions.append((os.POSIX_SPAWN_OPEN, 2, stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                        0o644))
    t0 = _time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, env, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    r = Run()
    r.wall = _time.perf_counter() - t0
    r.cpu = ru.ru_utime + ru.ru_stime
    r.code = os.waitstatus_to_exitcode(status)
    r.maxrss = None
    if rfile:
        try:
            with open(rfile) as f:
                last = f.read().strip().splitlines()[-1]
            r.maxrss = int(last) * 1024
        except (OSError, ValueError, IndexError):
            pass
        os.unlink(rfile)
    return r


def paired(a, b, reps):
    """Runs a() and b() reps times each, alternating which goes first.
    Each returns a number (CPU seconds). Returns (a_values, b_values)."""
    va, vb = [], []
    for i in range(reps):
        if i % 2 == 0:
            va.append(a())
            vb.append(b())
        else:
            vb.append(b())
            va.append(a())
    return va, vb


def stats(values):
    """min, median, max."""
    return min(values), statistics.median(values), max(values)


def ratio_stats(num, den):
    """Per-pair ratios num[i]/den[i]: min, median, max."""
    return stats([n / d for n, d in zip(num, den) if d > 0])


def fmt_spread(values, unit=1.0, f="%.3f"):
    lo, med, hi = stats(values)
    return (f + " (min " + f + ", max " + f + ")") % (med * unit, lo * unit, hi * unit)
