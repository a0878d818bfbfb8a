# SPDX-License-Identifier: MIT
"""resmon.sample() checked against independent readings of the same facts."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

import resmon
from memcg import memory_cgroup
from resmon import _resmon

MiB = 1 << 20
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux probe")


def proc_kb(path, key):
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def run_py(code, **kw):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, **kw)


def test_fast_sample_has_process_fields_only():
    s = resmon.sample()
    assert s.rss > 1 * MiB and s.vms >= s.rss and s.peak >= s.rss
    assert s.mem_total is None and s.cgroup_usage is None and s.threads is None
    assert isinstance(s, resmon.Sample) and isinstance(s.monotonic, float)
    with pytest.raises(TypeError):
        resmon.sample(bogus=1)


@linux_only
def test_full_sample_matches_proc():
    # other tests' threads may end meanwhile: the count must lie between
    # the readings taken just before and just after
    # so may this process's RSS (other tests' threads run) and the machine's
    # available memory (other processes): the same
    status = "/proc/self/status"
    keys = ("VmRSS", "RssAnon", "RssFile")
    tasks_before, py_before = len(os.listdir("/proc/self/task")), threading.active_count()
    mem_before = {k: proc_kb(status, k) for k in keys}
    avail_before = proc_kb("/proc/meminfo", "MemAvailable")
    s = resmon.sample(full=True)
    avail_after = proc_kb("/proc/meminfo", "MemAvailable")
    mem_after = {k: proc_kb(status, k) for k in keys}
    tasks_after, py_after = len(os.listdir("/proc/self/task")), threading.active_count()

    def between(value, key):
        # RSS moves a little between reads: 4 MiB of slack
        lo, hi = sorted((mem_before[key], mem_after[key]))
        return lo - 4 * MiB < value < hi + 4 * MiB

    assert between(s.rss, "VmRSS"), (mem_before, s.rss, mem_after)
    assert s.peak >= mem_before["VmRSS"] - 4 * MiB
    assert between(s.anon, "RssAnon"), (mem_before, s.anon, mem_after)
    assert between(s.file, "RssFile"), (mem_before, s.file, mem_after)
    assert s.shmem == proc_kb(status, "RssShmem")
    assert s.swap == proc_kb(status, "VmSwap")
    assert abs(s.vms - proc_kb(status, "VmSize")) < 16 * MiB
    assert s.mem_total == proc_kb("/proc/meminfo", "MemTotal")
    assert (min(avail_before, avail_after) - 256 * MiB < s.mem_available
            < max(avail_before, avail_after) + 256 * MiB), (avail_before, s.mem_available)
    assert s.swap_total == proc_kb("/proc/meminfo", "SwapTotal")
    assert min(tasks_before, tasks_after) <= s.threads <= max(tasks_before, tasks_after)
    # Python threads are the interpreter's thread states: a thread an earlier
    # test ended leaves threading's count before its state goes away, so only
    # the lower bound holds here (the exact count: test_thread_counts_follow_threads)
    assert s.python_threads >= min(py_before, py_after)


def test_child_allocating_200_mib_is_seen():
    out = run_py("""
        import resmon
        a = resmon.sample()
        block = bytearray(200 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        b = resmon.sample()
        del block
        print(a.rss, b.rss, b.peak)
    """)
    assert out.returncode == 0, out.stderr
    before, after, peak = map(int, out.stdout.split())
    assert 195 * MiB < after - before < 215 * MiB
    assert peak >= after


@linux_only
def test_reset_peak_starts_a_new_interval():
    out = run_py("""
        import mmap, resmon
        m = mmap.mmap(-1, 150 << 20)
        m.write(b"x" * (150 << 20))
        high = resmon.sample().peak
        m.close()
        resmon.reset_peak()
        after = resmon.sample()
        print(high, after.peak, after.rss)
    """)
    assert out.returncode == 0, out.stderr
    high, peak, rss = map(int, out.stdout.split())
    assert peak < high - 100 * MiB
    assert rss <= peak < rss + 8 * MiB


# The thread tests run in a fresh interpreter: in this process, threads
# left by earlier tests (pollers, pytester's sessions) may end at any moment
# and would change the count between two readings.
THREADS = """
    import sys, threading, resmon
    from resmon import _resmon

    def stat_threads():
        if not sys.platform.startswith("linux"):
            return -1
        with open("/proc/self/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[17])

    def read(kind):
        if kind == "sample":
            s = resmon.sample(full=True)
            return s.threads, s.python_threads
        return _resmon.emit("mark", "x", to=0).threads, threading.active_count()

    kind = sys.argv[1]
    before, stat_before = read(kind), stat_threads()
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(5)]
    for t in threads:
        t.start()
    during, stat_during = read(kind), stat_threads()
    stop.set()
    for t in threads:
        t.join()
    print(*before, stat_before, *during, stat_during)
"""


@pytest.mark.parametrize("kind", ["sample", "marker"])
def test_thread_counts_follow_threads(kind):
    # a marker reads the thread count alone (the task directory's link
    # count on Linux), not through the full sample's status file
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(THREADS), kind],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    threads, py_threads, stat, threads2, py_threads2, stat2 = map(int, out.stdout.split())
    assert threads2 - threads == 5
    assert py_threads2 - py_threads == 5
    if sys.platform.startswith("linux"):
        assert (threads, threads2) == (stat, stat2)


def stat_threads(pid="self"):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[17])


@linux_only
def test_forked_child_samples_itself():
    # the probe keeps /proc/self files open; after fork they must describe
    # the child, not the parent: its memory and its threads (the parent has
    # six more while it forks)
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        parent_threads = _resmon.emit("mark", "x", to=0).threads
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                block = bytearray(120 << 20)
                block[::4096] = b"\1" * len(block[::4096])
                s = resmon.sample()
                m = _resmon.emit("mark", "x", to=0)
                os.write(w, f"{s.rss} {proc_kb('/proc/self/status', 'VmRSS')} {m.threads} "
                            f"{stat_threads()} {m.rss}".encode())
            finally:
                os._exit(0)
        os.close(w)
        data = os.read(r, 200).decode()
        os.close(r)
        os.waitpid(pid, 0)
    finally:
        stop.set()
        for t in threads:
            t.join()
    child_rss, child_proc, child_threads, child_stat, marker_rss = map(int, data.split())
    assert abs(child_rss - child_proc) < 4 * MiB
    assert abs(marker_rss - child_proc) < 4 * MiB
    assert child_rss > resmon.sample().rss + 100 * MiB
    assert child_threads == child_stat == 1
    assert parent_threads >= 7


@linux_only
def test_log_start_reset_opens_the_interval_from_its_own_sample():
    # a phase boundary with RESET samples statm once and opens the next
    # interval from that sample's kernel mark, not from the folded peak
    out = run_py("""
        import mmap, resmon
        from resmon import _resmon
        MiB = 1 << 20
        def hold(mib):
            m = mmap.mmap(-1, mib * MiB)
            for i in range(0, mib * MiB, 4096):
                m[i] = 1
            m.close()
        hold(150)                      # the lifetime mark is now high
        resmon.reset_peak()            # an interval opens after it
        rss, peak, mono = _resmon.log_start(True, 0, "t", "call", 2 | 4)
        assert peak < rss + 20 * MiB, (rss, peak)
        after = resmon.sample()
        print(after.peak < after.rss + 20 * MiB, after.peak // MiB, after.rss // MiB)
        hold(200)                      # a new lifetime mark, inside the interval
        print(resmon.sample().peak > rss + 100 * MiB)
    """)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first.startswith("True"), first
    assert second == "True"


@linux_only
def test_cgroup_matches_proc_self_cgroup():
    info = _resmon.probe_info()
    with open("/proc/self/cgroup") as f:
        lines = f.read().splitlines()
    v1 = [ln.split(":", 2)[2] for ln in lines if "memory" in ln.split(":")[1].split(",")]
    if v1:
        assert info["cgroup_version"] == 1
        assert info["cgroup_path"].endswith(v1[0].rstrip("/")) or v1[0] == "/"
        usage_file = os.path.join(info["cgroup_path"], "memory.usage_in_bytes")
    elif any(ln.startswith("0::") for ln in lines) and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        assert info["cgroup_version"] == 2
        usage_file = os.path.join(info["cgroup_path"], "memory.current")
    else:
        pytest.skip("no memory cgroup visible on this machine")

    def usage():
        with open(usage_file) as f:
            return int(f.read())
    # the group holds the machine's other processes too: the sample must lie
    # between readings taken just before and just after it
    before = usage()
    s = resmon.sample(full=True)
    after = usage()
    assert min(before, after) - 64 * MiB < s.cgroup_usage < max(before, after) + 64 * MiB, (
        before, s.cgroup_usage, after)
    assert s.cgroup_oom_kills is not None


def make_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def test_cgroup_v2_fake_tree(tmp_path):
    # GitHub's Ubuntu runners: cgroup v2, limit on an ancestor
    make_tree(tmp_path, {
        "/proc/self/cgroup": "0::/actions_job/abc\n",
        "/proc/self/statm": "2000 1000 0 0 0 0 0\n",
        "/sys/fs/cgroup/memory.max": "max\n",
        "/sys/fs/cgroup/actions_job/memory.max": "7340032000\n",
        "/sys/fs/cgroup/actions_job/abc/memory.max": "max\n",
        "/sys/fs/cgroup/actions_job/abc/memory.current": "6000000000\n",
        "/sys/fs/cgroup/actions_job/abc/memory.peak": "7000000000\n",
        "/sys/fs/cgroup/actions_job/abc/memory.events": "low 0\nmax 4\noom 1\noom_kill 1\n",
    })
    s, version, path = _resmon.probe_at(0, str(tmp_path))
    assert (version, path) == (2, "/sys/fs/cgroup/actions_job/abc")
    assert s.cgroup_usage == 6000000000
    assert s.cgroup_limit == 7340032000
    assert s.cgroup_peak == 7000000000
    assert s.cgroup_oom_kills == 1
    assert s.rss == 1000 * os.sysconf("SC_PAGE_SIZE")


def test_cgroup_v2_unreadable_files_are_skipped(tmp_path):
    make_tree(tmp_path, {
        "/proc/self/cgroup": "0::/\n",
        "/sys/fs/cgroup/memory.current": "123\n",
        "/sys/fs/cgroup/memory.max": "max\n",
    })
    s, version, _ = _resmon.probe_at(0, str(tmp_path))
    assert version == 2 and s.cgroup_usage == 123 and s.cgroup_limit is None
    assert s.cgroup_peak is None and s.cgroup_oom_kills is None and s.rss is None


@linux_only
def test_cgroup_v1_real_limit():
    with memory_cgroup("resmon_test", 300 * MiB) as group:
        code = f"""
            import os, resmon
            with open({os.path.join(group, 'cgroup.procs')!r}, 'w') as f:
                f.write(str(os.getpid()))
            from resmon import _resmon
            s, v, path = _resmon.probe_at(0)
            print(v, path, s.cgroup_limit, s.cgroup_usage)
        """
        out = run_py(code)
    assert out.returncode == 0, out.stderr
    version, path, limit, usage = out.stdout.split()
    assert version == "1" and path == group
    assert int(limit) == 300 * MiB
    assert 0 < int(usage) < 300 * MiB


def test_missing_core_says_so_once():
    out = run_py("""
        import sys
        sys.modules['resmon._resmon'] = None   # make the import fail
        import resmon
        assert resmon.CORE_AVAILABLE is False
        assert resmon.log_resource_snapshot('x', force=True) is None
        try:
            resmon.sample()
        except RuntimeError as exc:
            print('raised', exc)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("resmon: the C core resmon._resmon is not available") == 1
    assert "raised resmon's C core is not available" in out.stdout
