# SPDX-License-Identifier: MIT
"""csrc/probe/darwin.c cannot be compiled here; check it against SDK stand-ins.

`make -C csrc darwin-syntax` runs the C compiler with -fsyntax-only and the
header stand-ins in tests/probe/darwin_stubs, so a change to probe.h that
darwin.c does not follow, or a typo in a field name, fails on Linux CI.
The extension's watchdog (csrc/ext/watchdog.c) is checked the same way for the
one macOS difference it has: no pthread_condattr_setclock.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_darwin_probe_compiles_against_sdk_stubs():
    proc = subprocess.run(
        ["make", "-C", os.path.join(ROOT, "csrc"), "darwin-syntax"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout.decode("ascii", "replace")


# What macOS's <pthread.h> lacks and has, for csrc/ext/watchdog.c: the system
# header, minus pthread_condattr_setclock (any use becomes an undeclared
# function, an error under -Werror), plus pthread_cond_timedwait_relative_np
# (declared as in the SDK's <pthread.h>).
MACOS_PTHREAD_H = """\
#include_next <pthread.h>
#define pthread_condattr_setclock resmon_stub_macos_has_no_pthread_condattr_setclock
int pthread_cond_timedwait_relative_np(pthread_cond_t *, pthread_mutex_t *,
                                       const struct timespec *);
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses Linux's headers")
def test_watchdog_compiles_without_condattr_setclock(tmp_path):
    """The extension's watchdog takes the macOS branch (__APPLE__): no
    pthread_condattr_setclock, a relative timed wait. Checked with this
    machine's libc and CPython headers, __linux__ undefined: it proves the
    branch uses only what macOS has, not that the SDK agrees elsewhere."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "pthread.h").write_text(MACOS_PTHREAD_H)
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
           "-U__linux__", "-U__gnu_linux__", "-Ulinux", "-D__APPLE__", "-I" + str(tmp_path),
           "-I" + os.path.join(ROOT, "csrc"), "-I" + sysconfig.get_paths()["include"],
           os.path.join(ROOT, "csrc", "ext", "watchdog.c")]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert proc.returncode == 0, proc.stdout.decode("ascii", "replace")
    # and the Linux branch still asks for CLOCK_MONOTONIC
    source = open(os.path.join(ROOT, "csrc", "ext", "watchdog.c")).read()
    assert "pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)" in source
