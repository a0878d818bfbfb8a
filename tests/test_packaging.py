# SPDX-License-Identifier: MIT
"""What a new user gets: the sdist, the wheel built from it, and a failed build.

A copy of the checkout as a fresh clone would have it (tracked and new files,
nothing git ignores: no build products) is built with `python -m build
--sdist`; the sdist must hold every build input, and the wheel that pip builds
FROM it must hold the extension and both tools, which must run. A compiler
error or a missing cJSON must fail the install with the message; only
RESMON_PURE_PYTHON=1 gives a pure-Python install, whose import says why.

Everything is built under pytest's tmp dirs; build isolation fetches
setuptools and wheel from the package index (skipped only when it is
unreachable). About 20 s on 2 cores.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINUX = sys.platform.startswith("linux")
EXT_SUFFIX = ".pyd" if sys.platform == "win32" else ".so"
TOOLS = ("resmon-sampler", "resmon-report")
#: Named here so that an empty glob cannot pass: the headers and build files
#: the issue found missing, beside every csrc/ file of the checkout.
MUST_SHIP = ("LICENSE", "README.md", "MANIFEST.in", "pyproject.toml", "setup.py",
             "csrc/Makefile", "csrc/probe/probe.h", "csrc/record/record.h",
             "csrc/record/parse.h", "csrc/record/parse.c", "csrc/ext/ext.h",
             "csrc/sampler/sampler.h", "csrc/report/report.h", "csrc/probe/darwin.c",
             "csrc/probe/win32.c", "docs/platforms.md", "python/resmon/__init__.py")
#: What pip prints when it cannot reach the index (the only reason to skip).
_UNREACHABLE = ("NewConnectionError", "Temporary failure in name resolution",
                "Network is unreachable", "ConnectTimeoutError", "ReadTimeoutError",
                "ProxyError", "Max retries exceeded", "Connection refused")

pytest.importorskip("build", reason="the `build` package (the test extra) is not installed")


def _run(cmd, env=None, cwd=None, timeout=600):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd,
                          env=dict(os.environ, **(env or {})), timeout=timeout)
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0 and any(m in out for m in _UNREACHABLE):
        pytest.skip("the package index is unreachable: " + out.strip().splitlines()[-1])
    return proc.returncode, out


def _build_env():
    """The environment of a user's build: none of resmon's own switches."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RESMON") and k not in ("CFLAGS", "LDFLAGS", "CC", "PKG_CONFIG")}
    return env


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The checkout as a fresh clone would have it, in a tmp dir."""
    if shutil.which("git") is None or not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("needs a git checkout (the list of files a clone has)")
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], stdout=subprocess.PIPE, check=True).stdout
    dest = tmp_path_factory.mktemp("clone") / "resmon"
    files = sorted(f for f in out.decode().split("\0") if f and os.path.isfile(
        os.path.join(ROOT, f)))
    for f in files:
        os.makedirs(os.path.join(dest, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(dest, f))
    return dest, files


@pytest.fixture(scope="module")
def sdist(checkout, tmp_path_factory):
    src, _ = checkout
    out = tmp_path_factory.mktemp("sdist")
    rc, log = _run([sys.executable, "-m", "build", "--sdist", "-o", str(out), str(src)])
    assert rc == 0, log[-4000:]
    (path,) = out.glob("*.tar.gz")
    return path


def _wheel(sdist, tmp_path, **env):
    """pip wheel of the sdist with `env` added to a user's build environment:
    (rc, output, path of the wheel or None)."""
    out = tmp_path / "wheel"
    full = _build_env()
    full.update(env)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                           "-w", str(out), str(sdist)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=full, timeout=600)
    log = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0 and any(m in log for m in _UNREACHABLE):
        pytest.skip("the package index is unreachable: " + log.strip().splitlines()[-1])
    wheels = list(out.glob("*.whl")) if out.exists() else []
    return proc.returncode, log, (wheels[0] if wheels else None)


def test_sdist_has_every_build_input(checkout, sdist):
    _, files = checkout
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        names = {n[len(top) + 1:] for n in tar.getnames() if n.startswith(top + "/")}
    want = set(MUST_SHIP)
    want |= {f for f in files if f.startswith(("csrc/", "docs/", "python/resmon/"))}
    missing = sorted(want - names)
    assert not missing, "the sdist lacks %s" % missing
    built = sorted(n for n in names if n.endswith((".o", ".so", ".pyd", ".pyc"))
                   or "/_bin/" in n or n.startswith("build/"))
    assert not built, "the sdist carries build products: %s" % built


@pytest.mark.skipif(not LINUX, reason="the tools are built on Linux only")
def test_wheel_from_sdist_has_extension_and_tools_that_run(sdist, tmp_path):
    rc, log, wheel = _wheel(sdist, tmp_path)
    assert rc == 0, log[-4000:]
    with zipfile.ZipFile(wheel) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        zf.extractall(tmp_path / "unpacked")
    ext = [n for n in infos if n.startswith("resmon/_resmon.") and n.endswith(EXT_SUFFIX)]
    assert len(ext) == 1, sorted(infos)
    assert "resmon/_purepython.py" not in infos
    for tool in TOOLS:
        info = infos.get("resmon/_bin/" + tool)
        assert info is not None, (tool, sorted(infos))
        assert (info.external_attr >> 16) & stat.S_IXUSR, "%s is not executable" % tool
    # the unpacked wheel works: the extension samples, both tools run, JSON is JSON
    unpacked = tmp_path / "unpacked"
    bindir = unpacked / "resmon" / "_bin"
    for tool in TOOLS:  # zipfile does not restore modes
        os.chmod(bindir / tool, 0o755)
    code = ("import resmon, resmon._resmon as c; assert resmon.__file__.startswith(%r), "
            "resmon.__file__; s = resmon.sample(); assert s.rss > 0; print('ok', s.rss)"
            % str(unpacked))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(_build_env(), PYTHONPATH=str(unpacked)), timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc
    assert "not available" not in proc.stderr, proc.stderr
    log_path = tmp_path / "sampler.log"
    proc = subprocess.run([str(bindir / "resmon-sampler"), "-q", "-i", "0.1", "-o",
                           str(log_path), "--", "sh", "-c", "exit 3"], capture_output=True,
                          timeout=60)
    assert proc.returncode == 3, proc
    assert "[resmon/1] head " in log_path.read_text()
    proc = subprocess.run([str(bindir / "resmon-report"), "--format", "json", str(log_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1, 3), proc  # a verdict, not a usage error (2)
    assert json.loads(proc.stdout)["schema"].startswith("resmon-report/"), proc.stdout[:500]


def test_compiler_error_fails_the_install_with_its_message(sdist, tmp_path):
    """A broken compile is an error, not a pure-Python install that records nothing."""
    header = "resmon_test_no_such_header.h"
    rc, log, wheel = _wheel(sdist, tmp_path, CFLAGS="-include " + header)
    assert rc != 0 and wheel is None, log[-4000:]
    assert header in log and "No such file" in log, log[-4000:]  # the compiler's own words
    assert "resmon's C core could not be built" in log, log[-4000:]
    assert "RESMON_PURE_PYTHON=1" in log, log[-4000:]


@pytest.mark.skipif(not LINUX, reason="the tools are built on Linux only")
def test_missing_cjson_fails_the_install_naming_the_package(sdist, tmp_path):
    # PKG_CONFIG=false: pkg-config finds nothing, as on a machine without libcjson-dev
    rc, log, wheel = _wheel(sdist, tmp_path, PKG_CONFIG="false")
    assert rc != 0 and wheel is None, log[-4000:]
    for package in ("apt-get install libcjson-dev", "brew install cjson", "vcpkg install cjson"):
        assert package in log, log[-4000:]
    assert "resmon's C core could not be built" in log, log[-4000:]


def test_pure_python_install_only_when_asked_and_says_why(sdist, tmp_path):
    # a compiler that fails: the variable alone decides that nothing is compiled
    rc, log, wheel = _wheel(sdist, tmp_path, RESMON_PURE_PYTHON="1", CC="false")
    assert rc == 0, log[-4000:]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert not [n for n in names if n.endswith(EXT_SUFFIX) or "/_bin/" in n], names
    assert "resmon/_purepython.py" in names
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--no-index", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc
    code = ("import resmon; assert resmon.__file__.startswith(%r), resmon.__file__; "
            "assert not resmon.CORE_AVAILABLE; print(resmon.CORE_ERROR)" % str(target))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(_build_env(), PYTHONPATH=str(target)), timeout=60)
    assert proc.returncode == 0, proc
    assert proc.stderr.count("resmon: the C core resmon._resmon is not available") == 1, proc
    assert "installed with RESMON_PURE_PYTHON=1" in proc.stderr, proc.stderr
    assert "compiler" not in proc.stderr and "circular" not in proc.stderr, proc.stderr


# ---- CI configuration: the workflows and the wheel matrix ------------------------

WORKFLOWS = os.path.join(ROOT, ".github", "workflows")


def _tool(name):
    path = shutil.which(name, path=os.path.dirname(sys.executable) + os.pathsep
                        + os.environ.get("PATH", ""))
    if path is None:
        pytest.skip(f"{name} is not installed (pip install {name}; it is in the test extra)")
    return path


def test_workflows_validate_against_the_github_workflow_schema(tmp_path):
    # the schema ships with check-jsonschema: no network
    tool = _tool("check-jsonschema")
    files = sorted(os.path.join(WORKFLOWS, f) for f in os.listdir(WORKFLOWS)
                   if f.endswith((".yml", ".yaml")))
    assert {os.path.basename(f) for f in files} >= {"tests.yml", "wheels.yml"}
    proc = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", *files],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and the check can fail: a misspelt key of a job is refused
    bad = tmp_path / "bad.yml"
    bad.write_text("name: bad\non: push\njobs:\n  j:\n    runs-on: ubuntu-24.04\n"
                   "    stepz:\n      - run: echo\n")
    proc = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout


def test_workflows_cover_the_runners_and_pythons():
    with open(os.path.join(WORKFLOWS, "tests.yml")) as f:
        text = f.read()
    for runner in ("ubuntu-22.04", "ubuntu-24.04", "macos-14", "windows-2022"):
        assert runner in text, runner
    assert '"3.9"' in text and '"3.13"' in text


@pytest.mark.parametrize("platform,want", [
    ("linux", {f"cp3{v}-{tag}" for v in range(9, 14)
               for tag in ("manylinux_x86_64", "manylinux_aarch64", "musllinux_x86_64")}),
    ("macos", {f"cp3{v}-macosx_{a}" for v in range(9, 14) for a in ("x86_64", "arm64")}),
    ("windows", {f"cp3{v}-win_amd64" for v in range(9, 14)}),
])
def test_cibuildwheel_builds_exactly_the_wheel_matrix(platform, want):
    tool = _tool("cibuildwheel")
    proc = subprocess.run([tool, "--print-build-identifiers", "--platform", platform, ROOT],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    got = set(proc.stdout.split())
    assert got == want, (sorted(got - want), sorted(want - got))
