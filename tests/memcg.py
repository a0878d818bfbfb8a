# SPDX-License-Identifier: MIT
"""One cgroup v1 memory group with a limit, for the tests that need a real
limit or a real OOM kill (this machine: /sys/fs/cgroup/memory, as root)."""

import contextlib
import os
import time

import pytest

CG_V1 = "/sys/fs/cgroup/memory"


def cgroup_v1_reason():
    """Why a limited cgroup v1 memory group cannot be made here, or None."""
    if not os.path.isdir(CG_V1):
        return "no cgroup v1 memory controller at %s (cgroup v2 only machine)" % CG_V1
    if not os.access(CG_V1, os.W_OK):
        return "%s is not writable (needs root)" % CG_V1
    return None


@contextlib.contextmanager
def memory_cgroup(name, limit, parent=""):
    """Creates <CG_V1>/<parent>/<name>_<pid> limited to limit bytes (swap too
    where the kernel accounts it) and yields its path; skips the test with
    the reason when it cannot; removes the group afterwards, waiting for its
    last member to go."""
    reason = cgroup_v1_reason()
    if reason:
        pytest.skip(reason)
    group = os.path.join(CG_V1, parent.strip("/"), "%s_%d" % (name, os.getpid()))
    try:
        os.mkdir(group)
    except OSError as exc:
        pytest.skip("cannot create a cgroup v1 memory group %s: %s" % (group, exc))
    try:
        with open(os.path.join(group, "memory.limit_in_bytes"), "w") as f:
            f.write(str(limit))
        with contextlib.suppress(OSError):  # no swap accounting: the limit alone holds
            with open(os.path.join(group, "memory.memsw.limit_in_bytes"), "w") as f:
                f.write(str(limit))
        yield group
    finally:
        for _ in range(100):
            try:
                os.rmdir(group)
                break
            except OSError:
                time.sleep(0.1)


def enter_fn(group):
    """A preexec_fn that moves the child into group."""
    procs = os.path.join(group, "cgroup.procs")

    def enter():
        with open(procs, "w") as f:
            f.write(str(os.getpid()))

    return enter
