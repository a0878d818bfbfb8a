# SPDX-License-Identifier: MIT
"""Records the multi-job logs that tests/report/test_triage.py triages.

Runs REAL pytest sessions (this interpreter, its numpy, pytest-timeout and the
resmon plugin) on a small project whose tests fail for real: a cp1252
UnicodeEncodeError (PYTHONIOENCODING=cp1252, as a Windows console), a numpy
tolerance failure (numpy.testing.assert_allclose), real MemoryErrors, a real
segfault (ctypes.string_at(0)) in a second step, a ModuleNotFoundError where a
package was not installed, plain assertions, a setup error and a pytest-timeout
timeout; installs a small package with real pip at a different version per job
(version drift) and lists packages with real `pip freeze` / `pip list`.

The three jobs run here (Linux); they are named and configured as the Ubuntu,
Windows and macOS jobs of a matrix: the Windows one gets cp1252 output, the
macOS one no `six`. (No colour: resmon-report reads a coloured pytest summary
line as "0 passed", a bug of the report's summary parser, noted in docs/triage.md.) Each output line is stamped with
the runner's timestamp when it is read, as the runner does; the runner's own
lines (step groups, "Process completed with exit code N") are added as the
runner writes them. The result, written beside this script:

  run.log             `gh run view RUN --log`: JOB<TAB>STEP<TAB>[BOM]TIMESTAMP TEXT
  jobs/<job>.log      one raw log per job (`gh api .../jobs/ID/logs`), same lines

Re-run with:  .venv/bin/python tests/report/triage_data/make_logs.py
(needs numpy, pytest-timeout and pip's access to a package index for six).
"""

import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BOM = "\ufeff"

PROJECT = {
    "tests/test_enc.py": '''
def test_print_check():
    print("\\u2713 checked")


def test_print_arrow():
    print("step 1 \\u2192 step 2")
''',
    "tests/test_tol.py": '''
import numpy as np


def test_allclose_sum():
    x = np.linspace(0.0, 1.0, 7)
    np.testing.assert_allclose(np.cumsum(x)[-1], 3.5 + 1e-6, rtol=1e-9)


def test_allclose_mean():
    a = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(a * 3, [0.3, 0.6, 0.9000001], rtol=1e-12)
''',
    "tests/test_mem.py": '''
import numpy as np


def test_huge_array():
    np.ones(1 << 46, dtype=np.float64)


def test_huge_matrix():
    np.zeros((1 << 22, 1 << 23), dtype=np.float32)
''',
    "tests/test_dep.py": '''
def test_six_api():
    import six
    assert six.PY3
''',
    "tests/test_plain.py": '''
import pytest


def total(xs):
    return sum(xs) - 1


def test_total():
    assert total([1, 2]) == 3


def test_encoding_name():
    encoding_name = "cp1252"
    assert encoding_name == "utf-8", "encoding_name should be utf-8"


def test_value_small():
    raise ValueError("bad size 3 for block at /tmp/data/blk_0001")


def test_value_large():
    raise ValueError("bad size 4096 for block at /var/cache/blk_0722")


def test_type_small():
    raise TypeError("bad size 3 for block at /tmp/data/blk_0001")


@pytest.fixture
def database():
    raise RuntimeError("database server not reachable on port 5432")


def test_query(database):
    assert database


def test_passes():
    assert total([2, 2]) == 3


@pytest.mark.timeout(1)
def test_slow():
    import time
    time.sleep(5)
''',
    "native/test_crash.py": '''
import ctypes
import threading


def test_reads_null():
    stop = threading.Event()
    workers = [threading.Thread(target=stop.wait) for _ in range(3)]
    for w in workers:
        w.start()
    ctypes.string_at(0)
''',
}

PYTEST = ["-m", "pytest", "-v", "-s", "-p", "no:cacheprovider", "-rfE", "--resmon"]

JOBS = [
    {"name": "test (ubuntu-latest)", "six": "1.16.0", "env": {"PYTHONIOENCODING": "utf-8"},
     "native": True},
    {"name": "test (windows-latest)", "six": "1.17.0", "env": {"PYTHONIOENCODING": "cp1252"}},
    {"name": "test (macos-latest)", "six": None, "env": {"PYTHONIOENCODING": "utf-8"},
     "pip_list": True},
]


def stamp():
    """The runner's timestamp: UTC, 7 fraction digits."""
    now = time.time()
    day = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    return day.strftime("%Y-%m-%dT%H:%M:%S.") + "%07dZ" % int((now % 1) * 1e7)


class Job:
    def __init__(self, name):
        self.name = name
        self.lines = []  # (step, text)

    def add(self, step, text):
        self.lines.append((step, stamp() + " " + text))

    def run(self, step, argv, env, cwd, keep=None):
        """Runs argv, stamping each line of its output as it is read."""
        self.add(step, "##[group]Run " + " ".join(argv[1:] if argv[0] == sys.executable
                                                   else argv))
        self.add(step, "##[endgroup]")
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        for raw in p.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if keep is None or keep(text):
                self.add(step, text)
        rc = p.wait()
        if rc != 0:
            code = 128 - rc if rc < 0 else rc  # the runner's shell: 128 + signal
            self.add(step, "##[error]Process completed with exit code %d." % code)
        return rc


def pip_kept(text):
    """pip's lines without index URLs or local paths."""
    return text.startswith(("Collecting ", "Installing collected", "Successfully installed"))


def main():
    work = tempfile.mkdtemp(prefix="resmon-triage-")
    try:
        for path, body in PROJECT.items():
            full = os.path.join(work, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(body.lstrip("\n"))
        jobs = []
        for spec in JOBS:
            job = Job(spec["name"])
            env = dict(os.environ)
            env.pop("PYTEST_ADDOPTS", None)
            env.update(spec["env"])
            env["COLUMNS"] = "80"
            site = os.path.join(work, "site-" + spec["name"].split("(")[1].rstrip(")"))
            if spec["six"]:
                job.run("Install dependencies",
                        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", site,
                         "six==" + spec["six"]], env, work, keep=pip_kept)
                env["PYTHONPATH"] = site
            job.run("Install dependencies", [sys.executable, "-m", "pip", "freeze"], env, work,
                    keep=lambda t: "==" in t and not t.startswith("-e"))
            if spec.get("pip_list"):
                job.run("Install dependencies", [sys.executable, "-m", "pip", "list"], env, work,
                        keep=lambda t: not t.startswith(("-e", "[notice]")))
            job.run("Run tests", [sys.executable] + PYTEST + ["tests"], env, work)
            if spec.get("native"):
                job.run("Run native tests", [sys.executable] + PYTEST + ["native"], env, work)
            jobs.append(job)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    os.makedirs(os.path.join(HERE, "jobs"), exist_ok=True)
    with open(os.path.join(HERE, "run.log"), "w", encoding="utf-8", newline="\n") as run:
        for job in jobs:
            last = None
            for step, line in job.lines:
                run.write("%s\t%s\t%s%s\n" % (job.name, step, BOM if step != last else "", line))
                last = step
    for job in jobs:
        with open(os.path.join(HERE, "jobs", job.name + ".log"), "w", encoding="utf-8",
                  newline="\n") as f:
            for i, (_, line) in enumerate(job.lines):
                f.write("%s%s\n" % (BOM if i == 0 else "", line))
    print("wrote", os.path.join(HERE, "run.log"), "and", len(jobs), "job logs")


if __name__ == "__main__":
    main()
