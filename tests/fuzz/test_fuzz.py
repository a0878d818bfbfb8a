# SPDX-License-Identifier: MIT
"""Runs the libFuzzer targets with ASan+UBSan for a bounded time each; a crash
or a broken property (tests/fuzz/parse_checks.h) fails.

fuzz_parse: the record parser, the writer and the line reader alone (gzip cap
included), built here from csrc/record only, so it runs whatever state the
report is in. fuzz_report: the same checks plus the whole report (make fuzz).
RESMON_FUZZ_SECONDS (default 60) is the total, a third for fuzz_parse.

The seed is fixed (RESMON_FUZZ_SEED, default 1): libFuzzer's mutations then follow
one sequence for a given build, so the gate in CI replays the inputs that passed
where the change was made instead of drawing new ones on every run. Exploring is a
separate job: RESMON_FUZZ_SEED=0 (a new seed each run) and a longer
RESMON_FUZZ_SECONDS, or `make -C csrc fuzz` and the fuzzer by hand."""

import glob
import os
import resource
import shutil
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "fuzz")
CORPUS = os.path.join(HERE, "corpus")
FUZZ_FLAGS = ["-std=c11", "-D_GNU_SOURCE", "-g", "-O1", "-Wall", "-Wextra", "-Werror",
              "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"]


def _seconds():
    total = int(os.environ.get("RESMON_FUZZ_SECONDS", "60"))
    parse = max(1, total // 3)
    return parse, max(1, total - parse)


def _fuzzer_or_skip(tmp_path):
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed: no libFuzzer")
    probe = tmp_path / "probe.c"
    probe.write_text("#include <stdint.h>\n#include <stddef.h>\n"
                     "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                     "{(void)d;(void)n;return 0;}\n")
    p = subprocess.run(["clang", "-fsanitize=fuzzer,address,undefined", str(probe), "-o",
                        str(tmp_path / "probe")], capture_output=True)
    if p.returncode != 0:
        pytest.skip("clang's libFuzzer runtime (libclang_rt.fuzzer) is missing: %s"
                    % p.stderr.decode(errors="replace")[-200:])


def _zlib_flags():
    p = subprocess.run(["pkg-config", "--cflags", "--libs", "zlib"], capture_output=True,
                       text=True) if shutil.which("pkg-config") else None
    if p is None or p.returncode != 0:
        return [], []
    flags = p.stdout.split()
    return (["-DRM_HAVE_ZLIB=1"] + [f for f in flags if not f.startswith("-l")],
            [f for f in flags if f.startswith("-l")])


# A unit's budget: 25 CPU seconds (a unit is at most 16 KiB; the slowest take well
# under a second). libFuzzer's own -timeout counts wall-clock seconds from the
# unit's start, so a loaded or stalled machine (CI's 2 cores shared with other
# jobs) can trip it on a unit that costs next to nothing: a unit it reports is
# judged again by the CPU time it takes alone, and only one that uses the
# budget fails the test.
UNIT_CPU_SECONDS = 25
TIMEOUT_EXITCODE = 70  # libFuzzer's -timeout_exitcode default, given explicitly below
# A campaign that a machine stall cut short goes on for its remaining time, at
# most this many times (a stall each time would say the machine is unusable).
MAX_STALLS = 3


def _unit_cpu_seconds(binary, unit):
    """CPU seconds (user + system) the binary takes to run one unit alone, or
    None when it used the whole budget (killed by RLIMIT_CPU or still running
    after 10 times the budget in wall-clock time)."""
    def limit_cpu():
        resource.setrlimit(resource.RLIMIT_CPU, (UNIT_CPU_SECONDS, UNIT_CPU_SECONDS + 5))

    proc = subprocess.Popen([binary, "-timeout=0", "-rss_limit_mb=2048", unit],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=limit_cpu)
    deadline = time.monotonic() + 10 * UNIT_CPU_SECONDS
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return None
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = ru.ru_utime + ru.ru_stime
    if proc.returncode != 0 or cpu >= UNIT_CPU_SECONDS:
        return None
    return cpu


def _fuzz(binary, seconds, tmp_path):
    work = tmp_path / "corpus"
    work.mkdir()
    seed = int(os.environ.get("RESMON_FUZZ_SEED", "1"))
    end = time.monotonic() + seconds
    stalls = []
    while True:
        left = max(1, int(end - time.monotonic() + 0.5))
        before = set(glob.glob(str(tmp_path / "timeout-*")))
        p = subprocess.run([binary, "-seed=%d" % seed, "-max_total_time=%d" % left,
                            "-max_len=16384", "-timeout=%d" % UNIT_CPU_SECONDS,
                            "-timeout_exitcode=%d" % TIMEOUT_EXITCODE,
                            "-rss_limit_mb=2048", "-artifact_prefix=%s/" % tmp_path, str(work),
                            CORPUS], capture_output=True,
                           timeout=left + 10 * UNIT_CPU_SECONDS + 120)
        log = p.stderr.decode(errors="replace")
        units = sorted(set(glob.glob(str(tmp_path / "timeout-*"))) - before)
        if p.returncode != TIMEOUT_EXITCODE or len(units) != 1:
            break
        cpu = _unit_cpu_seconds(binary, units[0])
        assert cpu is not None, ("a unit takes %d CPU seconds or more (%s):\n%s"
                                 % (UNIT_CPU_SECONDS, units[0], log[-4000:]))
        # the unit is cheap: the wall-clock timeout was the machine's stall
        stalls.append("%s: %.2f CPU seconds alone" % (os.path.basename(units[0]), cpu))
        if len(stalls) > MAX_STALLS or time.monotonic() >= end:
            break
    assert p.returncode == 0 or (p.returncode == TIMEOUT_EXITCODE and stalls), (
        "fuzzer found a problem:\n" + log[-4000:])
    assert len(stalls) <= MAX_STALLS, (
        "libFuzzer's wall-clock unit timeout tripped %d times on cheap units (a stalled "
        "machine): %s" % (len(stalls), stalls))
    if p.returncode == 0:
        assert "Done" in log


def test_fuzz_parser_for_a_bounded_time(tmp_path):
    _fuzzer_or_skip(tmp_path)
    cflags, libs = _zlib_flags()
    binary = str(tmp_path / "fuzz_parse")
    src = os.path.join(ROOT, "csrc")
    p = subprocess.run(["clang"] + FUZZ_FLAGS + ["-I", src] + cflags
                       + [os.path.join(HERE, "fuzz_parse.c"),
                          os.path.join(src, "record", "parse.c"),
                          os.path.join(src, "record", "write.c"), "-o", binary] + libs,
                       capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    _fuzz(binary, _seconds()[0], tmp_path)


def test_fuzz_triage_for_a_bounded_time(tmp_path):
    """resmon-report triage (csrc/report/triage.c) over the report's sources, built here."""
    _fuzzer_or_skip(tmp_path)
    cflags, libs = _zlib_flags()
    cj = subprocess.run(["pkg-config", "--cflags", "--libs", "libcjson"], capture_output=True,
                        text=True) if shutil.which("pkg-config") else None
    if cj is not None and cj.returncode == 0:
        cflags += ["-DRM_HAVE_CJSON=1"] + [f for f in cj.stdout.split() if not f.startswith("-l")]
        libs += [f for f in cj.stdout.split() if f.startswith("-l")]
    src = os.path.join(ROOT, "csrc")
    report = sorted(os.path.join(src, "report", f) for f in os.listdir(os.path.join(src, "report"))
                    if f.endswith(".c") and f not in ("main.c",) and not f.startswith("history"))
    binary = str(tmp_path / "fuzz_triage")
    p = subprocess.run(["clang"] + FUZZ_FLAGS + ["-I", src] + cflags
                       + [os.path.join(HERE, "fuzz_triage.c")] + report
                       + [os.path.join(src, "record", f) for f in ("parse.c", "write.c", "trend.c", "compat.c")]
                       + ["-o", binary] + libs + ["-lm"], capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
    _fuzz(binary, max(1, _seconds()[1] // 2), tmp_path)


def test_fuzz_report_for_a_bounded_time(tmp_path):
    _fuzzer_or_skip(tmp_path)
    binary = os.path.join(ROOT, "build", "c", "fuzz_report")
    # report.mk does not list parse_checks.h among the target's inputs
    stale = (os.path.exists(binary) and os.path.getmtime(os.path.join(HERE, "parse_checks.h"))
             > os.path.getmtime(binary))
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc")] + (["-B"] if stale else [])
                   + ["fuzz"], check=True)
    _fuzz(binary, _seconds()[1], tmp_path)
