# SPDX-License-Identifier: MIT
"""Readings taken after the watched process died say nothing of memory at its
death: the sampler samples once more after pytest dies (no pid, an empty tree,
the cgroup's memory already freed), and that sample must not count as "memory
to spare at the end". A SIGKILL is judged on the readings taken while the tree
lived, on a process's kernel high-water mark against the cgroup's limit, and
on how fast memory grew into the last live reading (the lines below follow
the real runs of /tmp/rs1: s3_oom with its OOM counter removed, s4_sigkill,
s4c_sigkill_near_limit)."""

import itertools

from reporthelp import run_json

MiB = 1 << 20
GiB = 1 << 30
TOTAL = 25276059648
LIMIT = 500 * MiB
PID = 23660
TEST = "scratch/oom/test_zz_hog.py::test_grow_memory"
PREV = "scratch/oom/test_zz_hog.py::test_small_graph"


def _ts(sec):
    """A UTC time sec seconds after 10:47:50 (sec < 60)."""
    return "2026-12-02T10:47:%09.6fZ" % (50 + sec)


def _head(cg_lim=LIMIT):
    return ("[resmon/1] head ts=%s mono=1.0 host=vm tool=resmon-sampler version=0.1.0 pid=%d "
            "mode=wrap os=Linux mem_total=%d swap_total=0 cg_ver=1 cg_lim=%s interval=1.000000 "
            "cmd=\"python -m pytest -v\" ;" % (_ts(0), PID - 6, TOTAL, _lim(cg_lim)))


def _lim(cg_lim):
    return "none" if cg_lim is None else str(cg_lim)


def _sample(seq, sec, rss, cg_use, avail=24 * GiB, cg_lim=LIMIT, cg_oom=None):
    """A sample while pytest lives: its pid, RSS and one tree member."""
    oom = "" if cg_oom is None else " cg_oom=%d" % cg_oom
    return ("[resmon/1] sample ts=%s mono=%.6f host=vm seq=%d pid=%d rss=%d hwm=%d thr=3 "
            "mem_total=%d mem_avail=%d swap_total=0 swap_free=0 cg_use=%d cg_lim=%s%s "
            "cg_inactive_file=4096 tree_rss=%d tree_n=1 tree_hwm=%d tree0_pid=%d "
            "tree0_ppid=%d tree0_rss=%d ;"
            % (_ts(sec), 1 + sec, seq, PID, rss, rss, TOTAL, avail, cg_use, _lim(cg_lim), oom,
               rss, rss, PID, PID - 6, rss))


def _zombie(seq, sec, cg_use, cg_lim=LIMIT, cg_oom=None):
    """pytest killed, not yet reaped: its pid with RSS 0."""
    oom = "" if cg_oom is None else " cg_oom=%d" % cg_oom
    return ("[resmon/1] sample ts=%s mono=%.6f host=vm seq=%d pid=%d rss=0 vms=0 thr=2 "
            "mem_total=%d mem_avail=%d swap_total=0 swap_free=0 cg_use=%d cg_lim=%s%s "
            "cg_inactive_file=4096 tree_rss=0 tree_n=1 tree0_pid=%d tree0_ppid=%d tree0_rss=0 ;"
            % (_ts(sec), 1 + sec, seq, PID, TOTAL, 24 * GiB, cg_use, _lim(cg_lim), oom, PID,
               PID - 6))


def _gone(seq, sec, cg_lim=LIMIT, cg_oom=None):
    """After the death: no pid, an empty tree, the memory freed."""
    oom = "" if cg_oom is None else " cg_oom=%d" % cg_oom
    return ("[resmon/1] sample ts=%s mono=%.6f host=vm seq=%d mem_total=%d mem_avail=%d "
            "swap_total=0 swap_free=0 cg_use=1912832 cg_lim=%s%s cg_inactive_file=0 "
            "tree_rss=0 tree_n=0 ;"
            % (_ts(sec), 1 + sec, seq, TOTAL, 24 * GiB + 200 * MiB, _lim(cg_lim), oom))


def _end(sec, root_hwm, cg_lim=LIMIT, extra=""):
    return ["[resmon/1] event ts=%s mono=%.6f host=vm what=exit pid=%d signal=9 name=KILL ;"
            % (_ts(sec), 1 + sec, PID),
            "[resmon/1] verdict ts=%s mono=%.6f host=vm mode=wrap pid=%d signal=9 name=KILL "
            "status=137 wall=%.6f tree_hwm=%d root_hwm=%d proc_hwm=%d cg_lim=%s%s samples=9 ;"
            % (_ts(sec + 0.000002), 1 + sec, PID, sec, root_hwm, root_hwm, root_hwm,
               _lim(cg_lim), extra)]


def _records(sec_prev, sec_start, rss, cg_use, cg_lim=LIMIT):
    """The plugin's records: the previous test ends, the growing one starts."""
    common = ("rss=%d hwm=%d thr=3 mem_total=%d mem_avail=%d cg_use=%d cg_lim=%s"
              % (rss, rss, TOTAL, 24 * GiB, cg_use, _lim(cg_lim)))
    return [
        "[resmon/1] test ts=%s mono=1.0 host=vm pid=%d test=%s phase=setup at=start %s ;"
        % (_ts(sec_prev), PID, PREV, common),
        "[resmon/1] test ts=%s mono=1.0 host=vm pid=%d test=%s phase=teardown at=end "
        "outcome=passed %s ;" % (_ts(sec_prev + 0.001), PID, PREV, common),
        "[resmon/1] test ts=%s mono=1.0 host=vm pid=%d test=%s phase=setup at=start %s ;"
        % (_ts(sec_start), PID, TEST, common),
        "[resmon/1] test ts=%s mono=1.0 host=vm pid=%d test=%s phase=call at=start %s ;"
        % (_ts(sec_start + 0.0002), PID, TEST, common),
    ]


def _job(sec_end):
    """pytest's -v output as GitHub stores it, cut off by the kill."""
    stamp = "2026-12-02T10:48:%09.6f0Z " % (sec_end + 1 - 10)
    return [stamp + "%s PASSED                   [ 50%%]" % PREV,
            stamp + "%s " % TEST,
            stamp + "##[error]Process completed with exit code 137."]


def _write(tmp_path, sampler, records=None, job=None):
    files = []
    for name, lines in (("ci_resource_monitor.log", sampler), ("records.log", records),
                        ("job.log", job)):
        if lines is None:
            continue
        (tmp_path / name).write_text("\n".join(lines) + "\n")
        files.append(str(tmp_path / name))
    return files


def _verdict(files):
    _, doc = run_json(files)
    return doc["verdict"]


def _line_of(tmp_path, name, needle):
    for i, line in enumerate((tmp_path / name).read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def _oom_no_counter(hwm):
    """s3_oom without its OOM counter: 80 -> 214 -> 337 MiB in a 500 MiB
    cgroup, a second apart, then the death 0.83 s later."""
    return ([_head(),
             _sample(10, 6.0, 86 * MiB, 76 * MiB),
             _sample(11, 7.0, 86 * MiB, 76 * MiB),
             _sample(12, 8.0, 218 * MiB, 209 * MiB),
             _sample(13, 9.0, 336 * MiB, 327 * MiB),
             _gone(14, 9.83)] + _end(9.8301, hwm))


def _not_cited(v, tmp_path, needle):
    """No evidence of the verdict is the sample taken after the death."""
    line = _line_of(tmp_path, "ci_resource_monitor.log", needle)
    for e in v["evidence"]:
        if e["file"].endswith("ci_resource_monitor.log") and e["line"] == line:
            assert e["kind"] not in ("ample_memory", "low_memory"), e


def test_oom_without_counter_hwm_over_the_limit(tmp_path):
    # the running test's peak (the sampler's root_hwm) is above the limit:
    # no memory to spare, whatever the sample after the death shows
    files = _write(tmp_path, _oom_no_counter(516 * MiB), _records(7.4, 7.885, 86 * MiB, 77 * MiB),
                   _job(9.83))
    v = _verdict(files)
    assert v["kind"] == "oom_kill", v
    assert v["level"] == "medium", v
    assert 0.5 <= v["confidence"] < 0.8
    roles = {(e["kind"], e["role"]) for e in v["evidence"]}
    assert ("low_memory", "supports") in roles, v
    assert all(e["role"] != "proves" for e in v["evidence"]), v
    assert not any(e["kind"] == "ample_memory" and e["role"] in ("proves", "supports")
                   for e in v["evidence"]), v
    _not_cited(v, tmp_path, "seq=14")
    hwm = [e for e in v["evidence"] if e["kind"] == "low_memory"][0]
    assert "516.0 MiB" in hwm["text"] and "500.0 MiB" in hwm["text"], hwm


def test_oom_without_counter_sampler_log_alone(tmp_path):
    v = _verdict(_write(tmp_path, _oom_no_counter(516 * MiB)))
    assert v["kind"] == "oom_kill" and v["level"] == "medium", v


def test_oom_without_counter_growth_alone_is_not_killed(tmp_path):
    # no high-water mark above the readings: the last live reading (337 of
    # 500 MiB, growing 118 MiB/s) is 0.83 s before the death; at twice that
    # rate the cgroup fills: too thin for "killed from outside"
    v = _verdict(_write(tmp_path, _oom_no_counter(336 * MiB)))
    assert v["kind"] != "killed", v
    assert v["level"] == "low", v
    ample = [e for e in v["evidence"] if e["kind"] == "ample_memory"]
    assert ample and ample[0]["role"] == "context", v
    assert "could have run out" in ample[0]["text"], ample
    assert ample[0]["line"] == _line_of(tmp_path, "ci_resource_monitor.log", "seq=13"), ample


def test_last_live_reading_at_the_limit(tmp_path):
    # the cgroup at 470 of 500 MiB a second before the death: exhausted,
    # whatever the freed sample after it says
    lines = [_head(),
             _sample(11, 7.0, 300 * MiB, 290 * MiB),
             _sample(12, 8.0, 480 * MiB, 470 * MiB),
             _gone(13, 8.9)] + _end(8.9001, 480 * MiB)
    v = _verdict(_write(tmp_path, lines))
    assert v["kind"] == "oom_kill" and v["confidence"] == 0.75, v
    low = [e for e in v["evidence"] if e["kind"] == "low_memory"][0]
    assert low["role"] == "supports"
    assert low["line"] == _line_of(tmp_path, "ci_resource_monitor.log", "seq=12"), low


def _sigkill_outside(cg_lim):
    """s4_sigkill: flat at 90 MiB, 24 GiB available, killed from outside;
    a zombie sample and an empty one after the kill."""
    oom = 0 if cg_lim is not None else None
    return ([_head(cg_lim)] +
            [_sample(i, float(i), 90 * MiB, 80 * MiB, cg_lim=cg_lim, cg_oom=oom)
             for i in range(1, 9)] +
            [_zombie(9, 9.0, 40 * MiB, cg_lim=cg_lim, cg_oom=oom),
             _gone(10, 9.01, cg_lim=cg_lim, cg_oom=oom)] +
            _end(9.0101, 92 * MiB, cg_lim=cg_lim,
                 extra=" cg_oom=0 oom=0 oom_contra=ample_memory" if cg_lim else ""))


def test_sigkill_with_memory_to_spare_cites_a_live_reading(tmp_path):
    for cg_lim in (LIMIT, None):
        d = tmp_path / ("lim" if cg_lim else "nolim")
        d.mkdir()
        v = _verdict(_write(d, _sigkill_outside(cg_lim), _records(2.0, 3.0, 90 * MiB, 80 * MiB),
                            _job(9.01)))
        assert v["kind"] == "killed", v
        proves = [e for e in v["evidence"] if e["role"] == "proves"]
        assert proves and proves[0]["kind"] == "ample_memory", v
        # the newest reading while pytest lived: seq=8, not the zombie or
        # the empty sample after the kill
        assert proves[0]["file"].endswith("ci_resource_monitor.log"), proves
        assert proves[0]["line"] == _line_of(d, "ci_resource_monitor.log", "seq=8 "), proves
        assert "1.0 s before the end" in proves[0]["text"], proves
        if cg_lim:
            assert v["confidence"] == 0.85, v


def test_many_readings_after_the_death_leave_the_live_ones(tmp_path):
    # the sampler keeps sampling for a while after the kill (or workers that
    # outlived a killed controller keep writing): a dozen readings after the
    # death must not push the live ones out of what the verdict reads
    lines = _sigkill_outside(LIMIT)
    after = [_gone(10 + k, 9.02 + 0.05 * k, cg_oom=0) for k in range(12)]
    lines = lines[:-2] + after + lines[-2:]
    v = _verdict(_write(tmp_path, lines, _records(2.0, 3.0, 90 * MiB, 80 * MiB), _job(9.01)))
    assert v["kind"] == "killed" and v["confidence"] == 0.85, v
    proves = [e for e in v["evidence"] if e["role"] == "proves"]
    assert proves[0]["line"] == _line_of(tmp_path, "ci_resource_monitor.log", "seq=8 "), proves


def test_sigkill_near_a_full_cgroup_without_an_oom_kill(tmp_path):
    # s4c: a test holds 466 of 500 MiB, kill -9, the OOM counter stays 0
    lines = ([_head()] +
             [_sample(i, float(i), 466 * MiB, 456 * MiB, cg_oom=0) for i in range(1, 5)] +
             [_zombie(5, 5.0, 40 * MiB, cg_oom=0), _gone(6, 5.01, cg_oom=0)] +
             _end(5.0101, 466 * MiB, extra=" cg_oom=0 oom=0 oom_support=sigkill_near_limit"))
    v = _verdict(_write(tmp_path, lines))
    assert v["kind"] == "killed" and v["confidence"] == 0.7, v
    low = [e for e in v["evidence"] if e["kind"] == "low_memory"][0]
    assert low["role"] == "contradicts"
    assert low["line"] == _line_of(tmp_path, "ci_resource_monitor.log", "seq=4 "), low


def _key(v):
    return (v["kind"], v["confidence"], v["why"],
            tuple(sorted((e["kind"], e["role"], e["file"], e["line"], e["text"])
                         for e in v["evidence"])))


def test_input_order_does_not_matter(tmp_path):
    cases = {
        "hwm": (_oom_no_counter(516 * MiB), _records(7.4, 7.885, 86 * MiB, 77 * MiB), _job(9.83)),
        "growth": (_oom_no_counter(336 * MiB), _records(7.4, 7.885, 86 * MiB, 77 * MiB),
                   _job(9.83)),
        "outside": (_sigkill_outside(LIMIT), _records(2.0, 3.0, 90 * MiB, 80 * MiB), _job(9.01)),
    }
    kinds = {}
    for name, (sampler, records, job) in cases.items():
        d = tmp_path / name
        d.mkdir()
        files = _write(d, sampler, records, job)
        # the sampler's lines split over two files as well
        half = len(sampler) // 2
        (d / "s1.log").write_text("\n".join(sampler[:half]) + "\n")
        (d / "s2.log").write_text("\n".join(sampler[half:]) + "\n")
        keys = {_key(_verdict(list(p))) for p in itertools.permutations(files)}
        assert len(keys) == 1, keys
        split = [str(d / "s2.log"), files[2], files[1], str(d / "s1.log")]
        v = _verdict(split)
        assert (v["kind"], v["confidence"]) == next(iter(keys))[:2], v
        kinds[name] = next(iter(keys))[0]
    assert kinds == {"hwm": "oom_kill", "growth": "oom_kill", "outside": "killed"}


def _oom_then_sigterm(minutes_later):
    """An xdist worker OOM-killed at 11:49:36; the run goes on (xdist
    replaces it) and the step ends minutes_later by SIGTERM (a job timeout)."""
    end = "2026-12-02T11:%02d:40.300000Z" % (49 + minutes_later)
    return [
        "[resmon/1] head ts=2026-12-02T11:49:00.000000Z mono=1.0 host=vm tool=resmon-sampler "
        "version=0.1.0 pid=100 mode=wrap os=Linux mem_total=%d swap_total=0 cg_ver=1 cg_lim=%d "
        "interval=1.000000 cmd=\"python -m pytest -n 2\" ;" % (TOTAL, LIMIT),
        "[resmon/1] event ts=2026-12-02T11:49:36.458201Z mono=37.0 host=vm what=oom_kill "
        "source=kmsg pid=102 comm=python in_tree=1 anon_rss=397594624 ;",
        "[resmon/1] event ts=2026-12-02T11:49:36.528767Z mono=37.1 host=vm what=oom_kill "
        "source=cgroup cg_oom=1 new=1 cgroup=/sys/fs/cgroup/memory/x ;",
        "[resmon/1] sample ts=%s mono=99.0 host=vm seq=600 pid=101 rss=76795904 hwm=76795904 "
        "thr=4 mem_total=%d mem_avail=%d swap_total=0 swap_free=0 cg_use=134164480 cg_lim=%d "
        "cg_oom=1 cg_inactive_file=716800 tree_rss=200000000 tree_n=3 ;"
        % (end.replace("40.300000", "39.300000"), TOTAL, 24 * GiB, LIMIT),
        "[resmon/1] event ts=%s mono=100.0 host=vm what=exit pid=101 signal=15 name=TERM ;" % end,
        "[resmon/1] verdict ts=%s mono=100.0 host=vm mode=wrap pid=101 signal=15 name=TERM "
        "status=143 wall=600.0 tree_hwm=245301248 root_hwm=76795904 proc_hwm=416563200 "
        "cg_lim=%d cg_oom=1 oom=1 oom_evidence=cgroup_counter ;" % (end, LIMIT),
    ]


def test_an_old_oom_kill_did_not_end_a_run_killed_by_sigterm(tmp_path):
    # ten minutes after a worker's OOM kill the step died of SIGTERM: that
    # ended it; the OOM kill is context, not the verdict
    (tmp_path / "late").mkdir()
    v = _verdict(_write(tmp_path / "late", _oom_then_sigterm(10)))
    assert (v["kind"], v["signal"]) == ("signal", 15), v
    assert any(e["kind"] == "oom" and e["role"] == "context" for e in v["evidence"]), v
    # the same OOM kill seconds before the SIGTERM may well have caused it
    (tmp_path / "near").mkdir()
    v = _verdict(_write(tmp_path / "near", _oom_then_sigterm(0)))
    assert v["kind"] == "oom_kill", v


def _job_log_alone(minutes_later, oom_age):
    """What the job log keeps of _oom_then_sigterm: the sampler's echoed
    head and verdict, GitHub's stamps, no events and no samples; the
    verdict says how long before the end it read the kill (oom_age)."""
    end = "2026-12-02T11:%02d:40.300000Z" % (49 + minutes_later)
    age = "" if oom_age is None else " oom_age=%.6f" % oom_age
    return [
        "2026-12-02T11:49:00.0000000Z [resmon/1] head ts=2026-12-02T11:49:00.000000Z mono=1.0 "
        "host=vm tool=resmon-sampler version=0.1.0 pid=100 mode=wrap os=Linux mem_total=%d "
        "swap_total=0 cg_ver=1 cg_lim=%d interval=1.000000 cmd=\"python -m pytest -n 2\" ;"
        % (TOTAL, LIMIT),
        "2026-12-02T11:49:05.0000000Z gw0 [40] / gw1 [40]",
        "%s [resmon/1] verdict ts=%s mono=100.0 host=vm mode=wrap pid=101 signal=15 name=TERM "
        "status=143 wall=600.0 tree_hwm=245301248 root_hwm=76795904 proc_hwm=416563200 "
        "cg_lim=%d cg_oom=1 oom=1 oom_evidence=cgroup_counter%s ;"
        % (end.replace("Z", "0Z"), end, LIMIT, age),
        "%s ##[error]Process completed with exit code 143." % end.replace("Z", "1Z"),
    ]


def test_the_job_log_alone_dates_an_old_oom_kill_by_the_samplers_oom_age(tmp_path):
    # the echoed verdict is all the job log keeps of the sampler: its
    # oom_age says the kill was read ten minutes before the SIGTERM
    v = _verdict(_write(tmp_path, None, job=_job_log_alone(10, 604.0)))
    assert (v["kind"], v["signal"]) == ("signal", 15), v
    assert any(e["kind"] == "oom" and e["role"] == "context" for e in v["evidence"]), v
    # read a second before the end, the kill may well have ended the step
    # (which its SIGTERM then ended: the signal says how the step ended)
    (tmp_path / "near").mkdir()
    v = _verdict(_write(tmp_path / "near", None, job=_job_log_alone(10, 1.0)))
    assert (v["kind"], v["signal"]) == ("oom_kill", 15), v
    assert "then ended by signal 15" in v["why"], v
