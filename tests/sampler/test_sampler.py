# SPDX-License-Identifier: MIT
"""resmon-sampler with real processes, real signals and real pytest sessions."""

import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import of_kind, one, py, read_line, read_log, run, wait_for_records
from memcg import memory_cgroup

MB = 1 << 20


# ---- options ---------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--interval", "0.01", "--", "true"],
    ["--interval", "abc", "--", "true"],
    ["-i"],
    ["--top", "101", "--", "true"],
    ["--bogus"],
    ["--pid", "1", "--", "true"],
    ["--stop"],
    ["--proc-reader", "ps", "--", "true"],
    ["--grace", "-1", "--", "true"],
])
def test_bad_options_exit_2_with_usage(sampler, args, tmp_path):
    r = run(sampler, ["-o", str(tmp_path / "log")] + args)
    assert r.returncode == 2, r.stderr
    assert "usage: resmon-sampler" in r.stderr
    assert r.stdout == ""
    assert not (tmp_path / "log").exists()


def test_help_and_version(sampler):
    r = run(sampler, ["--help"])
    assert r.returncode == 0 and "exit status" in r.stdout
    r = run(sampler, ["--version"])
    assert r.returncode == 0 and r.stdout.startswith("resmon-sampler 0.1.0")


# ---- wrap mode -------------------------------------------------------------

def test_wrap_returns_exit_code_and_writes_head_samples_verdict(sampler, tmp_path):
    log = tmp_path / "log"
    env = dict(os.environ, GITHUB_RUN_ID="123", GITHUB_WORKFLOW="CI tests", RUNNER_OS="Linux")
    r = run(sampler, ["-i", "0.1", "-o", str(log), "--", "sh", "-c", "sleep 0.6; exit 3"],
            env=env)
    assert r.returncode == 3, r.stderr
    recs = read_log(log)
    assert recs[0][0] == "head"
    head = recs[0][1]
    for key in ("ts", "mono", "host", "version", "kernel", "os", "mem_total", "cg_ver", "pus",
                "cpus_affinity", "proc_reader", "proc2", "topo_src", "interval"):
        assert key in head, key
    assert head["topo_src"] in ("hwloc", "sysfs", "sysconf")
    assert head["run_id"] == "123" and head["workflow"] == "CI tests"
    assert head["runner_os"] == "Linux" and head["mode"] == "wrap"
    assert int(head["mem_total"]) > 0
    samples = of_kind(recs, "sample")
    # one sample per 0.1 s interval: never two in one interval (a late one is
    # skipped, not caught up; the last is taken when the command ends), and
    # more than one over the 0.6 s command. The count is bounded by the run's
    # own wall time, not by a number that holds only when the machine ran
    # the sampler on time.
    v = one(recs, "verdict")
    monos = [float(s["mono"]) for s in samples[:-1]]
    assert 3 <= len(samples) <= float(v["wall"]) / 0.1 + 2, (len(samples), v["wall"])
    assert all(b - a > 0.09 for a, b in zip(monos, monos[1:])), monos
    assert [int(s["seq"]) for s in samples] == list(range(len(samples)))
    for s in samples:
        assert int(s["mem_avail"]) <= int(s["mem_total"])
        assert "disk0_used" in s and s["disk0"] == "/"
        assert "top0_pid" in s and "top0_cmd" in s
    v = one(recs, "verdict")
    assert v["exit"] == "3" and v["status"] == "3" and v["oom"] == "0"
    assert 0.5 < float(v["wall"]) < 10
    assert recs[-1][0] == "verdict"
    ev = one(recs, "event", what="exit")
    assert ev["exit"] == "3"


def test_tree_rss_follows_a_child_allocating_300mb(sampler, tmp_path):
    log = tmp_path / "log"
    # each step stays until a sample has seen it (the child reads the log):
    # a fixed 0.25 s per step let a loaded machine's sampler skip steps
    code = textwrap.dedent("""
        import os, sys, time
        log, page = sys.argv[1], os.sysconf("SC_PAGE_SIZE")

        def seen(rss):
            try:
                with open(log) as f:
                    lines = f.read().split("\\n")[:-1]
            except FileNotFoundError:
                return False
            return any(int(ln.split(" tree_rss=", 1)[1].split()[0]) >= rss for ln in lines
                       if ln.startswith("[resmon/1] sample ") and " tree_rss=" in ln)

        chunks = []
        deadline = time.monotonic() + 60
        for i in range(10):
            chunks.append(bytearray(30 << 20))   # zero-filled: resident at once
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page
            while not seen(rss - (1 << 20)) and time.monotonic() < deadline:
                time.sleep(0.02)
    """)
    r = run(sampler, ["-i", "0.1", "-o", str(log), "--"] + py(code) + [str(log)], timeout=120)
    assert r.returncode == 0, r.stderr
    recs = read_log(log)
    tree = [int(s["tree_rss"]) for s in of_kind(recs, "sample") if "tree_rss" in s]
    assert max(tree) >= 290 * MB
    # it follows the steps: many distinct levels, each 30 MB apart, rising
    levels = sorted({t // (30 * MB) for t in tree})
    assert len(levels) >= 8, levels
    peak_at = tree.index(max(tree))
    assert all(a <= b + 2 * MB for a, b in zip(tree[:peak_at], tree[1:peak_at + 1])), tree
    v = one(recs, "verdict")
    assert int(v["tree_hwm"]) >= 290 * MB
    assert int(v["root_hwm"]) >= 300 * MB     # the kernel's exact peak
    assert int(v["tree_hwm"]) <= int(v["root_hwm"]) + 16 * MB
    # the child is listed as a tree member and in the top table
    last_big = [s for s in of_kind(recs, "sample") if int(s.get("tree_rss", 0)) >= 290 * MB][-1]
    assert int(last_big["tree0_rss"]) >= 290 * MB
    # in the top table, unless that many processes of the machine are bigger (the
    # machine is shared: a neighbour's 1.5 GB pytest ranks first)
    top = [(last_big["top%d_pid" % i], int(last_big["top%d_rss" % i]))
           for i in range(32) if "top%d_pid" % i in last_big]
    assert top, last_big
    assert (last_big["tree0_pid"] in [pid for pid, _ in top]
            or all(rss >= int(last_big["tree0_rss"]) for _, rss in top)), (top, last_big)


def test_child_killed_by_sigkill(sampler, tmp_path):
    log = tmp_path / "log"
    r = run(sampler, ["-i", "0.1", "-o", str(log), "--"]
            + py("import os, signal, time; time.sleep(0.3); os.kill(os.getpid(), signal.SIGKILL)"))
    assert r.returncode == 137
    recs = read_log(log)
    v = one(recs, "verdict")
    assert v["signal"] == "9" and v["name"] == "KILL" and v["status"] == "137"
    assert "exit" not in v
    assert v["oom"] == "0"          # plenty of memory: no OOM evidence
    assert one(recs, "event", what="exit")["signal"] == "9"


def test_command_not_found_exits_127(sampler, tmp_path):
    log = tmp_path / "log"
    r = run(sampler, ["-o", str(log), "--", str(tmp_path / "no-such-command")])
    assert r.returncode == 127
    assert "cannot run" in r.stderr
    recs = read_log(log)
    assert one(recs, "event", what="exec_failed")
    assert one(recs, "verdict")["exit"] == "127"


# ---- signals ---------------------------------------------------------------

USR1_CHILD = textwrap.dedent("""
    import signal, sys, time
    def dump(sig, frame):
        sys.stdout.write("child got USR1\\n"); sys.stdout.flush()
    signal.signal(signal.SIGUSR1, dump)
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    time.sleep(60)
""")


def _start_and_wait_ready(sampler, args, child_code):
    p = subprocess.Popen([sampler] + args + ["--"] + py(child_code), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    return p


def test_sigterm_to_sampler_usr1_then_term_exit_143(sampler, tmp_path):
    log = tmp_path / "log"
    p = _start_and_wait_ready(sampler, ["-i", "0.1", "--grace", "0.5", "-o", str(log)],
                              USR1_CHILD)
    time.sleep(0.3)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    took = time.monotonic() - t0
    assert p.returncode == 143, err
    assert "child got USR1" in out
    assert 0.4 < took < 10
    recs = read_log(log)                      # every line complete
    kinds = [(k, f.get("what"), f.get("signal")) for k, f in recs if k in ("event", "verdict")]
    i_sig = kinds.index(("event", "signal", "15"))
    i_usr1 = kinds.index(("event", "forward", "10"))
    i_term = kinds.index(("event", "forward", "15"))
    i_exit = kinds.index(("event", "exit", "15"))
    assert i_sig < i_usr1 < i_term < i_exit < len(kinds) - 1
    fw = of_kind(recs, "event", what="forward")
    assert 0.45 <= float(fw[1]["mono"]) - float(fw[0]["mono"]) < 3   # the grace period
    v = recs[-1][1]
    assert recs[-1][0] == "verdict"
    assert v["signal"] == "15" and v["status"] == "143" and v["stopped_by"] == "15"


def test_sigterm_skips_usr1_when_child_has_no_handler(sampler, tmp_path):
    # SIGUSR1 would kill a process without a handler: it must get TERM at once
    log = tmp_path / "log"
    code = "import sys, time; print('ready', flush=True); time.sleep(60)"
    # a grace far longer than a loaded machine's delays: waiting it out cannot
    # pass for forwarding at once
    p = _start_and_wait_ready(sampler, ["-i", "0.1", "--grace", "60", "-o", str(log)], code)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=90)
    assert p.returncode == 143
    assert time.monotonic() - t0 < 30
    recs = read_log(log)
    assert [f["signal"] for f in of_kind(recs, "event", what="forward")] == ["15"]


def test_sigint_twice_forwards_without_waiting(sampler, tmp_path):
    log = tmp_path / "log"
    p = _start_and_wait_ready(sampler, ["-i", "0.1", "--grace", "60", "-o", str(log)],
                              USR1_CHILD)
    p.send_signal(signal.SIGINT)
    # the second SIGINT once the first was forwarded (as USR1) and the child
    # handled it: sent after a fixed 0.3 s, it could reach a sampler still
    # busy with the first (one pending signal: the two merged) on a loaded
    # machine
    wait_for_records(log, "the USR1 forward", lambda r: of_kind(r, "event", what="forward"),
                     proc=p)
    assert read_line(p) == "child got USR1\n"
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=90)
    assert time.monotonic() - t0 < 30  # not the 60 s grace
    # Python turns SIGINT into KeyboardInterrupt: exit status 130 either way
    assert p.returncode in (1, 130)
    recs = read_log(log)
    assert [f["signal"] for f in of_kind(recs, "event", what="forward")] == ["10", "2"]


# ---- a real OOM kill in a memory cgroup --------------------------------------

def test_real_oom_kill_in_a_memory_cgroup(sampler, tmp_path):
    log = tmp_path / "log"
    code = textwrap.dedent("""
        import time
        keep = []
        for i in range(60):
            keep.append(bytearray(10 << 20))
            time.sleep(0.02)
        print("not killed")
    """)
    with memory_cgroup("resmon_sampler_test", 100 * MB) as cg:
        # the sampler joins the group first; the command it starts inherits it
        script = f'echo $$ > {cg}/cgroup.procs && exec "$@"'
        r = subprocess.run(["sh", "-c", script, "sh", sampler, "-i", "0.1", "-o", str(log),
                            "--"] + py(code), capture_output=True, text=True, timeout=120)
    assert r.returncode == 137, (r.stdout, r.stderr)
    assert "not killed" not in r.stdout
    recs = read_log(log)
    head = recs[0][1]
    assert head["cg_path"].endswith(os.path.basename(cg)) and head["cg_lim"] == str(100 * MB)
    v = one(recs, "verdict")
    assert v["signal"] == "9" and v["oom"] == "1"
    assert "cgroup_counter" in v["oom_evidence"].split(",")
    # oom_evidence lists proofs only; support and contradiction are for a
    # SIGKILL without proof
    assert set(v["oom_evidence"].split(",")) <= {"cgroup_counter", "kernel_log"}
    assert "oom_support" not in v and "oom_contra" not in v
    assert int(v["cg_oom"]) >= 1
    ev = of_kind(recs, "event", what="oom_kill", source="cgroup")
    assert ev and int(ev[0]["new"]) >= 1
    if head.get("kmsg") == "1":
        # the command itself was the victim: the kernel's report names it
        # and its anonymous RSS when it was killed
        child = one(recs, "event", what="start")["pid"]
        assert "kernel_log" in v["oom_evidence"].split(",")
        kev = one(recs, "event", what="oom_kill", source="kmsg", in_tree="1")
        assert kev["pid"] == child and v["oom_pid"] == child
        assert int(v["oom_anon_rss"]) == int(kev["anon_rss"]) >= 50 * MB


# ---- xdist -----------------------------------------------------------------

def test_xdist_workers_each_appear_with_their_rss(sampler, tmp_path):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    suite = tmp_path / "suite"
    suite.mkdir()
    # each test holds its block until a sample of the log lists its worker
    # with it (a fixed 1 s hold needed the sampler on time)
    (suite / "test_big.py").write_text(textwrap.dedent("""
        import os
        import re
        import time
        import pytest

        def seen(rss):
            with open(os.environ["SAMPLER_LOG"]) as f:
                text = f.read()
            pid = str(os.getpid())
            for line in text.split("\\n")[:-1]:
                if line.startswith("[resmon/1] sample "):
                    fields = dict(re.findall(r" (\\w+)=(\\S+)", line))
                    if any(fields.get("tree%d_pid" % i) == pid
                           and int(fields.get("tree%d_rss" % i, 0)) >= rss for i in range(12)):
                        return True
            return False

        @pytest.mark.parametrize("i", range(4))
        def test_hold(i):
            block = bytearray(80 << 20)
            deadline = time.monotonic() + 60
            while not seen(80 << 20) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(block) == 80 << 20
    """))
    log = tmp_path / "log"
    r = run(sampler, ["-i", "0.2", "-o", str(log), "--", sys.executable, "-m", "pytest", "-q",
                      "-n", "2", "-p", "no:cacheprovider", "-p", "no:resmon", "--rootdir",
                      str(suite), str(suite)], timeout=300, cwd=str(suite),
            env=dict(os.environ, SAMPLER_LOG=str(log)))
    assert r.returncode == 0, r.stdout + r.stderr
    recs = read_log(log)
    controller = int(one(recs, "event", what="start")["pid"])
    workers = {}
    for s in of_kind(recs, "sample"):
        for i in range(12):
            if f"tree{i}_pid" not in s:
                break
            if int(s[f"tree{i}_ppid"]) == controller:
                pid = int(s[f"tree{i}_pid"])
                workers[pid] = max(workers.get(pid, 0), int(s[f"tree{i}_rss"]))
    big = {pid: rss for pid, rss in workers.items() if rss >= 80 * MB}
    assert len(big) == 2, workers
    peak = max(int(s.get("tree_n", 0)) for s in of_kind(recs, "sample"))
    assert peak >= 3   # the controller and both workers
    assert int(one(recs, "verdict")["tree_hwm"]) >= 160 * MB


# ---- the log on a full file system -------------------------------------------

def test_full_filesystem_keeps_sampling_and_returns_child_status(sampler, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if m.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {m.stderr.strip()}")
    try:
        fd = os.open(mnt / "fill", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"x" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        log = mnt / "log"
        # the command frees the space half way: the sampler must notice. It
        # frees it after 2 s (20 intervals: the head and at least two samples
        # fail to fit even when a loaded machine runs the sampler late), then
        # waits until three samples are in the log (a fixed 0.6 s needed the
        # sampler on time)
        wait = ("for i in $(seq 600); do "
                f"[ \"$(grep -c '^.resmon/1. sample ' {log})\" -ge 3 ] && break; sleep 0.1; done")
        r = run(sampler, ["-i", "0.1", "-o", str(log), "--", "sh", "-c",
                          f"sleep 2; rm -f {mnt}/fill; {wait}; exit 5"], timeout=120)
        assert r.returncode == 5, r.stderr
        assert r.stderr.count("cannot write") == 1, r.stderr
        assert "No space left on device" in r.stderr
        recs = read_log(log)
        gap = one(recs, "event", what="log_gap")
        assert int(gap["lost"]) >= 3            # the head and early samples
        assert recs[1][1].get("what") == "log_gap"  # right after the first record that fit
        v = one(recs, "verdict")
        assert v["exit"] == "5"
        assert len(of_kind(recs, "sample")) >= 3
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# ---- symlinks in world-writable directories ----------------------------------

def test_refuses_symlink_log_in_world_writable_dir(sampler, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    target = tmp_path / "victim"
    target.write_text("")
    (shared / "log").symlink_to(target)
    r = run(sampler, ["-o", str(shared / "log"), "--", "sh", "-c", "exit 4"])
    assert r.returncode == 4            # the command still runs, its status returned
    assert "refusing to follow the symlink" in r.stderr
    assert target.read_text() == ""
    r = run(sampler, ["-o", str(shared / "log"), "--pid", str(os.getpid())])
    assert r.returncode == 1            # watch mode without a log has nothing to do
    # control: in a private directory the same symlink is followed
    private = tmp_path / "private"
    private.mkdir()
    (private / "log").symlink_to(target)
    r = run(sampler, ["-o", str(private / "log"), "--", "true"])
    assert r.returncode == 0, r.stderr
    assert "[resmon/1] verdict" in target.read_text()


# ---- watch and background modes ---------------------------------------------

def test_watch_mode_reads_the_status_of_a_zombie(sampler, tmp_path):
    log = tmp_path / "log"
    # the child kills itself once the sampler has sampled it (it reads the log;
    # a fixed 0.8 s could pass before a loaded machine started the sampler)
    child = subprocess.Popen(py(textwrap.dedent(f"""
        import os, signal, time
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with open({str(log)!r}) as f:
                    if " tree0_pid=%d " % os.getpid() in f.read():
                        break
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGKILL)
    """)))
    try:
        # we do not reap the child until the sampler is done: it sees the zombie
        r = run(sampler, ["-i", "0.1", "-o", str(log), "--pid", str(child.pid)], timeout=120)
    finally:
        child.wait()
    assert r.returncode == 0, r.stderr
    recs = read_log(log)
    assert recs[0][1]["mode"] == "watch" and recs[0][1]["watch"] == str(child.pid)
    assert one(recs, "event", what="watch")["pid"] == str(child.pid)
    v = one(recs, "verdict")
    assert v["mode"] == "watch" and v["signal"] == "9" and v["status"] == "137"
    assert any(s.get("tree0_pid") == str(child.pid) for s in of_kind(recs, "sample"))


def test_watch_mode_nonexistent_pid_exits_1(sampler, tmp_path):
    r = run(sampler, ["-o", str(tmp_path / "log"), "--pid", "2147483646"])
    assert r.returncode == 1 and "no such process" in r.stderr


def test_background_with_pidfile_and_stop(sampler, tmp_path):
    log, pidfile = tmp_path / "log", tmp_path / "pid"
    t0 = time.monotonic()
    r = run(sampler, ["-i", "0.1", "-o", str(log), "--pidfile", str(pidfile)], timeout=30)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 5            # it detached
    pid = int(pidfile.read_text())
    os.kill(pid, 0)
    # three samples in the log, however late a loaded machine runs the sampler
    wait_for_records(log, "3 samples", lambda recs: len(of_kind(recs, "sample")) >= 3)
    r = run(sampler, ["--stop", "--pidfile", str(pidfile)], timeout=60)
    assert r.returncode == 0, r.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not pidfile.exists()
    recs = read_log(log)
    assert recs[0][1]["mode"] == "system" and recs[0][1]["pid"] == str(pid)
    assert len(of_kind(recs, "sample")) >= 3
    assert one(recs, "event", what="signal")["signal"] == "15"
    v = recs[-1][1]
    assert recs[-1][0] == "verdict" and v["stopped_by"] == "15" and v["end"] == "stopped"
    # stopping again: nothing to stop
    r = run(sampler, ["--stop", "--pidfile", str(pidfile)])
    assert r.returncode == 1 and "no pid" in r.stderr


def test_stop_refuses_a_pid_that_is_not_a_sampler(sampler, tmp_path):
    pidfile = tmp_path / "pid"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        pidfile.write_text(f"{sleeper.pid}\n")
        r = run(sampler, ["--stop", "--pidfile", str(pidfile)])
        assert r.returncode == 1 and "is not a running resmon-sampler" in r.stderr
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


# ---- echo, reader choice ------------------------------------------------------

def test_echo_writes_records_to_stderr(sampler, tmp_path):
    # the command runs until two echoes have come (a fixed `sleep 1` needed
    # the sampler on time); the echo count is then bounded by the run's wall
    # time: one per 0.3 s at most, not one per 0.1 s sample
    p = subprocess.Popen([sampler, "-i", "0.1", "--echo", "0.3", "-o", str(tmp_path / "log"),
                          "--", "sh", "-c", "read x"], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        sel = selectors.DefaultSelector()
        sel.register(p.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while sum(ln.startswith("[resmon/1] echo ") for ln in seen) < 2:
            assert time.monotonic() < deadline and sel.select(deadline - time.monotonic()), seen
            line = p.stderr.readline()
            assert line, seen
            seen.append(line)
        sel.close()
        p.stdin.write("go\n")
        p.stdin.close()
        rest = p.stderr.read()
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines = "".join(seen + [rest]).splitlines()
    echoes = [ln for ln in lines if ln.startswith("[resmon/1] echo ")]
    assert lines[-1].startswith("[resmon/1] verdict ") and " exit=0 " in lines[-1]
    wall = float(lines[-1].split(" wall=", 1)[1].split()[0])
    assert 2 <= len(echoes) <= wall / 0.3 + 2, (wall, lines)
    assert all(ln.endswith(" ;") for ln in echoes)
    assert "mem_avail=" in echoes[0] and 'text="t+' in echoes[0]
    assert all(ln.isascii() for ln in lines)


def test_echo_and_verdict_start_their_own_line_after_an_unfinished_one(sampler, tmp_path):
    # the command shares stderr with the sampler, as pytest shares the job
    # log: it leaves "tests/t.py ." without a newline, as pytest's progress does
    code = ("import sys, time\n"
            "for i in range(6):\n"
            "    sys.stderr.write('tests/t.py .' if i == 0 else '.'); sys.stderr.flush()\n"
            "    time.sleep(0.15)\n")
    r = run(sampler, ["-i", "0.1", "--echo", "0.1", "-o", str(tmp_path / "log"), "--"]
            + py(code))
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    echoes = [ln for ln in lines if "[resmon/1] echo " in ln]
    verdicts = [ln for ln in lines if "[resmon/1] verdict " in ln]
    assert len(echoes) >= 2 and len(verdicts) == 1, r.stderr
    # every record starts its line (the parser takes records only there)
    assert all(ln.startswith("[resmon/1] ") for ln in echoes + verdicts), r.stderr
    assert "tests/t.py ." in r.stderr


def test_command_gets_the_fd_limit_it_would_have_had(sampler, tmp_path):
    # the /proc reader may raise the sampler's soft RLIMIT_NOFILE for its
    # kept-open files; the command must see the limit the caller gave
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(256, soft)

    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    r = subprocess.run([sampler, "-q", "--proc-reader", "proc", "-i", "0.1", "-o",
                        str(tmp_path / "log"), "--"] + py(code), capture_output=True,
                       text=True, timeout=60, preexec_fn=lower)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == want


@pytest.mark.parametrize("reader", ["proc", "libproc2"])
def test_both_process_table_readers_find_the_tree(sampler, tmp_path, reader):
    # sh and two sleeps stay until the test has seen all three in a sample
    # (the reader lists /proc only every 0.5 s: no fixed sleep is long
    # enough on a loaded machine); then `read` returns and sh ends them
    log = tmp_path / "log"
    r = run(sampler, ["--proc-reader", reader, "-o", str(tmp_path / "probe"), "--", "true"])
    if reader == "libproc2" and r.returncode == 1 and "reader" in r.stderr:
        pytest.skip("this build has no libproc2")
    p = subprocess.Popen([sampler, "-i", "0.1", "--proc-reader", reader, "-o", str(log), "--",
                          "sh", "-c", "sleep 600 & a=$!; sleep 600 & b=$!; read x; "
                          "kill $a $b; wait; exit 0"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
    recs = read_log(log)
    assert recs[0][1]["proc_reader"] == reader
    if reader == "libproc2":
        assert recs[0][1]["proc2"] == "used"
    else:
        assert recs[0][1]["proc2"] in ("unused", "not_built")
    assert max(int(s.get("tree_n", 0)) for s in of_kind(recs, "sample")) == 3


# ---- valgrind ------------------------------------------------------------------

def test_valgrind_clean_short_wrap(sampler, tmp_path):
    import shutil
    if not shutil.which("valgrind"):
        pytest.skip("valgrind is not installed (.ci/run installs it)")
    log = tmp_path / "log"
    r = subprocess.run(["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                        "--errors-for-leak-kinds=definite", sampler, "-i", "0.1", "--echo",
                        "0.2", "-o", str(log), "--", "sh", "-c", "sleep 0.5; exit 4"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 4, r.stderr
    assert "ERROR SUMMARY" not in r.stderr or "0 errors" in r.stderr
    assert one(read_log(log), "verdict")["exit"] == "4"
