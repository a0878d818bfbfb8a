# SPDX-License-Identifier: MIT
"""The verdict's OOM claims, with the real sampler binary and real SIGKILLs.

oom=1 is proof only (the cgroup's OOM-kill counter rose, or the kernel log
named a process of the tree); a SIGKILL near a limit is oom_support, one with
ample memory oom_contra. The first tests fake a cgroup v2 group
(RESMON_SAMPLER_CGROUP_ROOT) and run anywhere; the others need a writable
cgroup v1 memory controller (tests/memcg.py) and, for the kernel log, root.
"""

import os
import signal
import subprocess
import textwrap

import pytest

from conftest import (of_kind, one, py, read_line, read_log, records_so_far, started_pid,
                      wait_for, wait_for_records)
from memcg import enter_fn, memory_cgroup

MB = 1 << 20


def samples(recs):
    return of_kind(recs, "sample")


def machine_ample(recs, last=2):
    """True when the last samples before the end showed the machine with at
    least 25% of its memory available (the sampler's `ample` rule)."""
    alive = [s for s in samples(recs) if int(s.get("rss", 0)) > 0][-last:]
    return bool(alive) and all(int(s["mem_avail"]) * 100 >= 25 * int(s["mem_total"])
                               for s in alive)


def kill_and_wait(proc, pid, sig=signal.SIGKILL):
    os.kill(pid, sig)
    proc.wait(timeout=60)


# ---- a fake cgroup v2 group (no root needed) ------------------------------------

def fake_v2(tmp_path, current, peak, inactive_file, limit=1000 * MB, oom_kill=0):
    """A directory standing in for / with /proc/self/cgroup naming /job and
    the job's cgroup v2 files; returns (root, job directory)."""
    root = tmp_path / "cgroot"
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "cgroup").write_text("0::/job\n")
    job = root / "sys" / "fs" / "cgroup" / "job"
    job.mkdir(parents=True)
    (job / "memory.max").write_text(f"{limit}\n")
    (job / "memory.current").write_text(f"{current}\n")
    (job / "memory.peak").write_text(f"{peak}\n")
    (job / "memory.stat").write_text(
        f"anon {current - inactive_file}\nfile {inactive_file}\n"
        f"active_anon {current - inactive_file}\ninactive_anon 0\n"
        f"active_file 0\ninactive_file {inactive_file}\nunevictable 0\n")
    (job / "memory.events").write_text(f"low 0\nhigh 0\nmax 0\noom 0\noom_kill {oom_kill}\n")
    return root, job


def start_fake(sampler, log, root, cmd=("sleep", "600")):
    env = dict(os.environ, RESMON_SAMPLER_CGROUP_ROOT=str(root))
    return subprocess.Popen([sampler, "-i", "0.1", "-o", str(log), "--"] + list(cmd), env=env,
                            stderr=subprocess.PIPE, text=True)


def wait_samples(log, proc, n):
    """Waits for n samples with the fake group's readings in them."""
    return wait_for_records(log, f"{n} samples", lambda r: len(
        [s for s in samples(r) if "cg_inactive_file" in s]) >= n, proc=proc)


# current, peak, inactive_file (MB) -> verdict fields besides oom=0
FAKE_CASES = {
    # page cache fills the group to 98% of its limit: reclaimable, not near
    "page_cache_at_limit": (980, 1000, 600, {"oom_support": None, "oom_contra": "ample_memory"}),
    # a spike long ago left the peak at the limit; now the group is nearly empty
    "old_peak_only": (100, 1000, 10, {"oom_support": None, "oom_contra": "ample_memory"}),
    # anonymous memory at 98% of the limit: a SIGKILL here supports an OOM kill
    "working_set_at_limit": (980, 1000, 10,
                             {"oom_support": "sigkill_near_limit", "oom_contra": None}),
}


@pytest.mark.parametrize("case", sorted(FAKE_CASES))
def test_fake_v2_sigkill_judged_by_the_working_set(sampler, tmp_path, case):
    current, peak, inactive, expect = FAKE_CASES[case]
    root, _ = fake_v2(tmp_path, current * MB, peak * MB, inactive * MB)
    log = tmp_path / "log"
    p = start_fake(sampler, log, root)
    try:
        pid = started_pid(log, p)
        wait_samples(log, p, 3)
        kill_and_wait(p, pid)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 137, p.stderr.read()
    recs = read_log(log)
    head = recs[0][1]
    assert head["cg_ver"] == "2" and head["cg_path"] == "/sys/fs/cgroup/job"
    last = samples(recs)[-1]
    assert last["cg_use"] == str(current * MB) and last["cg_inactive_file"] == str(inactive * MB)
    v = one(recs, "verdict")
    assert v["signal"] == "9" and v["oom"] == "0" and v["cg_oom"] == "0"
    assert "oom_evidence" not in v
    assert v.get("oom_support") == expect["oom_support"]
    if expect["oom_contra"] and not machine_ample(recs):
        pytest.skip("the machine itself was short of memory: no contra expected")
    assert v.get("oom_contra") == expect["oom_contra"]
    # low memory is the working set too, not the page cache or an old peak
    lows = of_kind(recs, "event", what="low_memory", at="start")
    assert bool(lows) == (case == "working_set_at_limit")


def test_fake_v2_support_only_for_a_sigkill(sampler, tmp_path):
    # near the limit, but the command ends by SIGTERM: nothing to support
    root, _ = fake_v2(tmp_path, 990 * MB, 1000 * MB, 0)
    log = tmp_path / "log"
    p = start_fake(sampler, log, root)
    try:
        pid = started_pid(log, p)
        wait_samples(log, p, 3)
        kill_and_wait(p, pid, signal.SIGTERM)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    v = one(read_log(log), "verdict")
    assert v["signal"] == "15" and v["oom"] == "0"
    assert "oom_support" not in v and "oom_contra" not in v


@pytest.mark.parametrize("rises", [True, False])
def test_fake_v2_oom_counter_is_proof(sampler, tmp_path, rises):
    # kills counted before the sampler started are not the run's
    root, job = fake_v2(tmp_path, 100 * MB, 1000 * MB, 10 * MB, oom_kill=5)
    log = tmp_path / "log"
    p = start_fake(sampler, log, root)
    try:
        pid = started_pid(log, p)
        wait_samples(log, p, 2)
        if rises:
            # same length, written in place: the sampler's kept-open fd
            # never reads a half-written file
            fd = os.open(job / "memory.events", os.O_WRONLY)
            try:
                os.pwrite(fd, b"low 0\nhigh 0\nmax 0\noom 1\noom_kill 6\n", 0)
            finally:
                os.close(fd)
            wait_for_records(log, "a cgroup oom_kill event",
                             lambda r: of_kind(r, "event", what="oom_kill", source="cgroup"),
                             proc=p)
        else:
            wait_samples(log, p, 4)
        kill_and_wait(p, pid)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    recs = read_log(log)
    v = one(recs, "verdict")
    assert v["signal"] == "9"
    if rises:
        assert v["oom"] == "1" and v["oom_evidence"] == "cgroup_counter" and v["cg_oom"] == "1"
        ev = one(recs, "event", what="oom_kill", source="cgroup")
        assert ev["new"] == "1" and ev["cg_oom"] == "6"
        # the kill's age at the end: from the sample that read the rise
        age = float(v["mono"]) - float(ev["mono"])
        assert abs(float(v["oom_age"]) - age) < 0.05, (v, ev)
        # support and contradiction are for a SIGKILL without proof
        assert "oom_support" not in v and "oom_contra" not in v
    else:
        assert v["oom"] == "0" and v["cg_oom"] == "0" and "oom_evidence" not in v
        assert "oom_age" not in v
        assert not of_kind(recs, "event", what="oom_kill")


# ---- a real cgroup v1 memory group -------------------------------------------------

SPIKE_CHILD = textwrap.dedent("""
    import os, sys, time
    cg = sys.argv[1]
    def read(name):
        with open(os.path.join(cg, name)) as f:
            return int(f.read())
    limit = read("memory.limit_in_bytes")
    chunks = []
    while read("memory.usage_in_bytes") < limit * 0.96:   # past the old 95% peak rule
        chunks.append(bytearray(2 << 20))
    del chunks
    print("freed", read("memory.max_usage_in_bytes"), flush=True)
    time.sleep(600)
""")


def test_sigkill_long_after_a_freed_spike_is_not_oom(sampler, tmp_path):
    log = tmp_path / "log"
    with memory_cgroup("resmon_spike", 256 * MB) as cg:
        # the sampler joins the group first; the command inherits it
        p = subprocess.Popen([sampler, "-i", "0.1", "-o", str(log), "--"] + py(SPIKE_CHILD)
                             + [cg], preexec_fn=enter_fn(cg), stdout=subprocess.PIPE, text=True)
        try:
            pid = started_pid(log, p)
            line = read_line(p)
            assert line.startswith("freed"), line
            assert int(line.split()[1]) >= 0.95 * 256 * MB
            n0 = len(samples(records_so_far(log)))
            # several samples after the memory was freed, all of them low
            wait_for_records(log, "4 samples after the spike",
                             lambda r: len(samples(r)) >= n0 + 4, proc=p)
            kill_and_wait(p, pid)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert p.returncode == 137
    recs = read_log(log)
    peaks = [int(s["cg_peak"]) for s in samples(recs) if "cg_peak" in s]
    assert max(peaks) >= 0.95 * 256 * MB        # the old rule would have fired
    assert all(int(s["cg_use"]) < 128 * MB for s in samples(recs)[n0 + 1:-1])
    v = one(recs, "verdict")
    assert v["signal"] == "9" and v["oom"] == "0" and v["cg_oom"] == "0"
    assert "oom_evidence" not in v and "oom_support" not in v
    if machine_ample(recs):
        assert v["oom_contra"] == "ample_memory"


CACHE_CHILD = textwrap.dedent("""
    import os, sys, time
    block = b"x" * (1 << 20)
    with open(sys.argv[1], "wb") as f:       # each page written once: inactive
        for i in range(int(sys.argv[2])):
            f.write(block)
            if i % 16 == 15:
                f.flush()
                os.fsync(f.fileno())
    print("written", flush=True)
    time.sleep(600)
""")


def test_sigkill_with_page_cache_at_the_limit_is_not_oom(sampler, tmp_path):
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True,
                        text=True).stdout.strip()
    if fs in ("tmpfs", "ramfs"):
        pytest.skip(f"{tmp_path} is on {fs}: its pages are not reclaimable page cache")
    log = tmp_path / "log"
    limit = 128 * MB
    with memory_cgroup("resmon_cache", limit) as cg:
        p = subprocess.Popen([sampler, "-i", "0.1", "-o", str(log), "--"] + py(CACHE_CHILD)
                             + [str(tmp_path / "data"), "384"], preexec_fn=enter_fn(cg),
                             stdout=subprocess.PIPE, text=True)
        try:
            pid = started_pid(log, p)
            assert read_line(p, timeout=300) == "written\n"
            # raw usage at the limit in the last samples: the old rule fires
            wait_for_records(
                log, "3 samples at 90% of the limit",
                lambda r: len(samples(r)) >= 3 and all(
                    int(s.get("cg_use", 0)) >= 0.9 * limit for s in samples(r)[-3:]),
                proc=p)
            kill_and_wait(p, pid)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert p.returncode == 137
    recs = read_log(log)
    alive = [s for s in samples(recs) if int(s.get("rss", 0)) > 0]
    last = alive[-1]
    assert int(last["cg_use"]) >= 0.9 * limit
    assert int(last["cg_use"]) - int(last["cg_inactive_file"]) < 0.75 * limit, last
    v = one(recs, "verdict")
    assert v["signal"] == "9" and v["oom"] == "0" and v["cg_oom"] == "0"
    assert "oom_evidence" not in v and "oom_support" not in v
    if machine_ample(recs):
        assert v["oom_contra"] == "ample_memory"


# ---- the kernel log (/dev/kmsg: root) --------------------------------------------

VICTIM = textwrap.dedent("""
    import os, sys
    with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    keep = []
    while True:
        keep.append(bytearray(8 << 20))
""")


def need_kmsg():
    if not os.access("/dev/kmsg", os.R_OK):
        pytest.skip("/dev/kmsg is not readable (needs root)")


def kmsg_names(pid):
    """True once the kernel log holds the OOM report of pid."""
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    key = f"Killed process {pid} ".encode()
    try:
        while True:
            try:
                rec = os.read(fd, 8192)
            except BlockingIOError:
                return False
            except BrokenPipeError:
                continue
            if key in rec:
                return True
    finally:
        os.close(fd)


def test_kernel_oom_reports_before_start_or_outside_the_tree_are_not_proof(sampler, tmp_path):
    need_kmsg()
    log = tmp_path / "log"
    with memory_cgroup("resmon_other", 64 * MB) as cg:
        before = subprocess.Popen(py(VICTIM) + [cg])
        assert before.wait(timeout=120) == -signal.SIGKILL
        wait_for("the first victim's kernel report", lambda: kmsg_names(before.pid))
        # the sampler and its command are not in the limited group
        p = subprocess.Popen([sampler, "-i", "0.1", "-o", str(log), "--", "sleep", "600"])
        try:
            pid = started_pid(log, p)
            wait_for_records(log, "2 samples", lambda r: len(samples(r)) >= 2, proc=p)
            during = subprocess.Popen(py(VICTIM) + [cg])
            assert during.wait(timeout=120) == -signal.SIGKILL
            wait_for_records(log, "the kernel report of the victim outside the tree",
                             lambda r: of_kind(r, "event", what="oom_kill", source="kmsg",
                                               pid=during.pid), proc=p)
            kill_and_wait(p, pid)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    recs = read_log(log)
    assert recs[0][1]["kmsg"] == "1"
    ev = one(recs, "event", what="oom_kill", source="kmsg", pid=during.pid)
    assert ev["in_tree"] == "0" and int(ev["anon_rss"]) >= 8 * MB
    assert not of_kind(recs, "event", what="oom_kill", pid=before.pid)
    v = one(recs, "verdict")
    assert v["signal"] == "9" and v["oom"] == "0"
    assert "oom_evidence" not in v and "oom_pid" not in v and "oom_anon_rss" not in v


# The command starts a victim that joins the limited group and is killed at
# once, long before the second sample (-i 60); its parent leaves it unreaped
# until the sampler has logged the kernel's report (or 45 s: a sampler that
# reads the kernel log only when it samples never matches it), then exits 3.
PARENT = textwrap.dedent("""
    import subprocess, sys, time
    log, cg, victim = sys.argv[1], sys.argv[2], sys.argv[3]
    p = subprocess.Popen([sys.executable, "-c", victim, cg])
    print(p.pid, flush=True)
    for _ in range(900):
        with open(log) as f:
            if "source=kmsg pid=%d " % p.pid in f.read():
                break
        time.sleep(0.05)
    p.wait()
    sys.exit(3)
""")


def test_kernel_oom_report_of_an_unsampled_descendant_is_proof(sampler, tmp_path):
    need_kmsg()
    log = tmp_path / "log"
    with memory_cgroup("resmon_desc", 64 * MB) as cg:
        p = subprocess.Popen([sampler, "-i", "60", "-o", str(log), "--"]
                             + py(PARENT) + [str(log), cg, VICTIM], stdout=subprocess.PIPE,
                             text=True)
        try:
            victim = int(read_line(p))
            assert p.wait(timeout=120) == 3
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    recs = read_log(log)
    ev = one(recs, "event", what="oom_kill", source="kmsg", pid=victim)
    assert ev["in_tree"] == "1"
    v = one(recs, "verdict")
    assert v["exit"] == "3" and v["oom"] == "1" and v["oom_evidence"] == "kernel_log"
    assert v["oom_pid"] == str(victim) and v["oom_comm"].startswith("python")
    assert int(v["oom_anon_rss"]) >= 8 * MB
    # the victim was in another group: the command's counter did not move
    assert v.get("cg_oom", "0") == "0"
