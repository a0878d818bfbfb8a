# SPDX-License-Identifier: MIT
"""Helpers for the end-to-end scenarios: run a pytest suite the way CI does
(resmon-sampler wrapping pytest with the plugin on, stdout and stderr merged
into one job log), then read it back with resmon-report --format json."""

import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from resmon import _tools

import memcg
from memcg import cgroup_v1_reason  # noqa: F401 - the scenarios ask it

MiB = 1 << 20
#: environment switches that would change what the plugin does in the runs
_DROP_ENV = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "RESMON",
             "RESMON_RECORDS", "IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG")


def tool(name):
    path = _tools.tool_path(name)
    if not os.access(path, os.X_OK):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=root,
                       check=True, capture_output=True)
    return path


class Run:
    """One scenario run: its directory, files and exit status."""

    def __init__(self, path, returncode, output):
        self.path = path
        self.returncode = returncode
        self.output = output  # the merged stdout+stderr, bytes
        self.sampler_log = os.path.join(path, "ci_resource_monitor.log")
        self.records = os.path.join(path, "records.log")
        self.job_log = os.path.join(path, "job.log")

    def files(self, variant):
        """The inputs of one analysis: "full" (sampler log, the plugin's
        records, the job log) or "job_only" (the job log alone, as when the
        runner died and no artifact was uploaded)."""
        if variant == "full":
            return [self.sampler_log, self.records, self.job_log]
        assert variant == "job_only", variant
        return [self.job_log]

    def report(self, variant, fmt="json", extra=()):
        p = subprocess.run([tool("resmon-report"), "--format", fmt] + list(extra)
                           + self.files(variant), capture_output=True, timeout=60)
        assert p.returncode in (0, 1, 3), p.stderr.decode("ascii", "replace")
        if fmt == "json":
            return p.returncode, json.loads(p.stdout.decode("ascii"))
        return p.returncode, p.stdout.decode("ascii")

    def tail(self, n=3000):
        return self.output[-n:].decode("ascii", "replace")


def _env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def github_log(raw, code):
    """The job log as GitHub Actions keeps it: a UTC stamp on every line and,
    for a failed step, the runner's closing line."""
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f0Z ").encode()
    lines = [stamp + line for line in raw.splitlines()]
    if code:
        lines.append(stamp + b"##[error]Process completed with exit code %d." % code)
    return b"\n".join(lines) + b"\n"


def run_suite(path, files, pytest_args=(), *, preexec=None, env=None, interval="0.2",
              markers=None, on_start=None, timeout=150):
    """Writes the suite's files into path and runs
    resmon-sampler --echo 1 -- python -m pytest --resmon --resmon-records ...
    with stdout and stderr in one pipe, as a CI step does. on_start(proc, run)
    runs while the suite runs (to send signals). markers: --resmon-markers
    (default start-end). Returns a Run."""
    os.makedirs(path, exist_ok=True)
    for name, body in files.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(textwrap.dedent(body))
    run = Run(path, None, b"")
    cmd = [tool("resmon-sampler"), "-i", interval, "--echo", "1", "--grace", "1",
           "-o", run.sampler_log, "--",
           sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--resmon",
           "--resmon-records", run.records] + list(pytest_args)
    if markers:
        cmd.append("--resmon-markers=" + markers)
    raw_path = os.path.join(path, "output.raw")
    with open(raw_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=path, env=_env(env), stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=preexec)
        try:
            if on_start is not None:
                on_start(proc, run)
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    with open(raw_path, "rb") as f:
        run.output = f.read()
    run.returncode = proc.returncode
    with open(run.job_log, "wb") as f:
        f.write(github_log(run.output, run.returncode))
    return run


def sigterm_when(flag, delay=0.2):
    """An on_start callback: SIGTERM to the sampler, as a runner shutdown
    does, once the test's body has created the file flag in the suite's
    directory (then it is in its call, sleeping). Waiting for the test's
    setup record and a fixed delay instead could signal a loaded machine's
    test before its body ran."""
    def act(proc, run):
        path = os.path.join(run.path, flag)
        deadline = time.monotonic() + 60
        while not os.path.exists(path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the test never reached its body: %s" % path)
            time.sleep(0.05)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
    return act


@contextlib.contextmanager
def memory_cgroup(name, limit):
    """A cgroup v1 memory group with limit bytes (tests/memcg.py); yields a
    preexec_fn that moves the child into it."""
    with memcg.memory_cgroup(name, limit) as group:
        yield memcg.enter_fn(group)
