# SPDX-License-Identifier: MIT
"""resmon-report for Windows: cross-compiled with mingw-w64, run under wine, and
its output compared byte for byte with the Linux build's (docs/platforms.md).

The .exe is built without cJSON and zlib (Debian has no mingw-w64 cJSON), so
the comparison covers the text, markdown and HTML reports: every golden case
of test_golden.py, every corpus scenario, standard input, -o, compare and
triage. Both binaries run from the same directory on the same relative paths,
so the file names in the evidence are the same strings.

wine runs with a prefix of its own under pytest's tmp dir, created once per
session (10-30 s the first time), and a wineserver kept alive for the session:
a wineserver started by a run would inherit that run's stdout pipe and hold
it open for seconds after the run ended.
"""

import difflib
import gzip
import os
import shutil
import subprocess

import pytest

from reporthelp import DATA, ROOT, report_bin
from test_corpus import CORPUS, INPUTS, SCENARIOS
from test_golden import CASES

CSRC = os.path.join(ROOT, "csrc")
TRIAGE_DATA = os.path.join(ROOT, "tests", "report", "triage_data")
MINGW = "x86_64-w64-mingw32-gcc"
# Debian's wine64 package installs the loader in /usr/lib/wine (not on PATH)
WINE_LOADERS = ("/usr/lib/wine/wine64", "wine64", "wine")


def _which(name):
    path = name if os.path.isabs(name) else shutil.which(name)
    return path if path and os.access(path, os.X_OK) else None


def _wine():
    return next((p for p in map(_which, WINE_LOADERS) if p), None)


pytestmark = [
    pytest.mark.skipif(shutil.which(MINGW) is None,
                       reason=f"{MINGW} is not installed (Debian: gcc-mingw-w64-x86-64; "
                              ".ci/install-deps installs it)"),
    pytest.mark.skipif(_wine() is None,
                       reason="no wine64 loader (Debian: wine64; .ci/install-deps installs it; "
                              "looked for %s)" % ", ".join(WINE_LOADERS)),
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]


class Wine:
    def __init__(self, exe, env):
        self.cmd = [_wine(), exe]
        self.env = env

    def run(self, args, cwd, stdin=None):
        return subprocess.run(self.cmd + list(args), cwd=cwd, input=stdin, env=self.env,
                              capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def wine(tmp_path_factory):
    """The .exe built from the current sources, and a booted wine prefix."""
    build = tmp_path_factory.mktemp("winreport")
    exe = os.path.join(str(build), "win", "resmon-report.exe")
    p = subprocess.run(["make", "-s", "-C", CSRC, "BUILD=" + str(build), exe],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    prefix = tmp_path_factory.mktemp("wineprefix")
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all",
               WINEDLLOVERRIDES="mscoree,mshtml=")  # no Mono or Gecko installer
    env.pop("DISPLAY", None)
    loader = os.path.realpath(_wine())
    server = _which(os.path.join(os.path.dirname(loader), "wineserver")) or _which("wineserver")
    quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if server:  # -p: stay up until -k (it forks to the background)
        subprocess.run([server, "-p"], env=env, timeout=60, **quiet)
    # the first start creates the prefix; its background processes get no pipe of ours
    subprocess.run([loader, exe, "--version"], env=env, timeout=300, **quiet)
    yield Wine(exe, env)
    if server:
        subprocess.run([server, "-k"], env=env, timeout=60, **quiet)


def same_output(win, lin, what):
    """The two runs wrote the same bytes and exited alike."""
    if win.stdout != lin.stdout:
        def lines(out):  # a "\r" shows
            return out.decode("ascii", "replace").replace("\r", "\\r").split("\n")
        diff = difflib.unified_diff(lines(lin.stdout), lines(win.stdout), "linux", "wine",
                                    lineterm="", n=1)
        pytest.fail("%s: the outputs differ\n%s\nwine stderr: %s" % (
            what, "\n".join(list(diff)[:40]), win.stderr.decode("ascii", "replace")))
    assert win.returncode == lin.returncode, (what, win.stderr)
    assert lin.stdout, what  # a report was written at all


def both(wine, args, cwd, stdin=None):
    lin = subprocess.run([report_bin()] + list(args), cwd=cwd, input=stdin, capture_output=True,
                         timeout=120)
    return wine.run(args, cwd, stdin), lin


def test_version_says_what_the_build_has(wine):
    p = wine.run(["--version"], DATA)
    assert p.returncode == 0, p.stderr
    # binary stdout: "\n", never "\r\n"
    assert p.stdout.startswith(b"resmon-report ") and p.stdout.endswith(b"cJSON no)\n"), p.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_case(wine, name, fmt):
    files = CASES[name][0]
    same_output(*both(wine, ["--format", fmt] + files, DATA), f"{name} {fmt}")


@pytest.mark.parametrize("fmt", ["text", "markdown"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_corpus_scenario(wine, name, fmt):
    files = [os.path.join(name, f) for f in INPUTS if os.path.exists(os.path.join(CORPUS, name, f))]
    same_output(*both(wine, ["--format", fmt] + files, CORPUS), f"{name} {fmt}")


def test_html_compare_and_triage(wine):
    # HTML embeds the text report through a memory stream (a temporary file on Windows)
    same_output(*both(wine, ["--format", "html", "gh_oom.log"], DATA), "html")
    same_output(*both(wine, ["compare", "gh_leak.log", "gh_xdist_oom.log", "gh_passed.log"], DATA),
                "compare")
    jobs = sorted(os.path.join("jobs", f) for f in os.listdir(os.path.join(TRIAGE_DATA, "jobs")))
    for fmt in ("text", "markdown", "html"):
        same_output(*both(wine, ["triage", "--format", fmt, "run.log"], TRIAGE_DATA),
                    f"triage {fmt}")
        same_output(*both(wine, ["triage", "--format", fmt] + jobs, TRIAGE_DATA),
                    f"triage {fmt} per job")


def test_input_and_output_are_bytes(wine, tmp_path):
    # CRLF lines and a Ctrl-Z: a text-mode read on Windows would drop the "\r"s
    # and stop at the Ctrl-Z, losing the kill that follows it
    with open(os.path.join(DATA, "gh_oom.log"), "rb") as f:
        lines = f.read().splitlines(keepends=True)
    data = b"".join(lines[:3]) + b"\x1a stray byte\r\n" + b"".join(
        x.replace(b"\n", b"\r\n") for x in lines[3:])
    (tmp_path / "crlf.log").write_bytes(data)
    win, lin = both(wine, ["crlf.log"], str(tmp_path))
    same_output(win, lin, "a file with CRLF and Ctrl-Z")
    assert b"oom_kill" in lin.stdout
    same_output(*both(wine, ["--format", "markdown", "-"], DATA, stdin=data), "standard input")
    # -o writes the same bytes as standard output ("wb": no "\r\n")
    win = wine.run(["--format", "markdown", "-o", "win.md", os.path.join(DATA, "gh_leak.log")],
                   str(tmp_path))
    lin = subprocess.run([report_bin(), "--format", "markdown", "-o", "lin.md",
                          os.path.join(DATA, "gh_leak.log")], cwd=str(tmp_path), timeout=120)
    assert win.returncode == lin.returncode == 1, win.stderr
    assert (tmp_path / "win.md").read_bytes() == (tmp_path / "lin.md").read_bytes()
    assert b"\r\n" not in (tmp_path / "win.md").read_bytes()


def test_json_and_gzip_are_refused_with_a_reason(wine, tmp_path):
    """This build has no cJSON and no zlib: it says so and exits 2 (docs/platforms.md)."""
    p = wine.run(["--format", "json", "gh_oom.log"], DATA)
    assert p.returncode == 2 and b"JSON output needs cJSON" in p.stderr, p.stderr
    with open(os.path.join(DATA, "gh_oom.log"), "rb") as f, gzip.open(tmp_path / "j.log.gz",
                                                                       "wb") as g:
        shutil.copyfileobj(f, g)
    p = wine.run(["j.log.gz"], str(tmp_path))
    assert p.returncode == 2 and b"built without zlib" in p.stderr, p.stderr
    # a plain input beside it still gives the report
    p = wine.run(["j.log.gz", os.path.join(DATA, "gh_oom.log")], str(tmp_path))
    assert p.returncode == 1 and b"oom_kill" in p.stdout, p.stderr
