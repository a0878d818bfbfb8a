# SPDX-License-Identifier: MIT
"""Runs the libFuzzer target over the parser and the whole report ingest for a
bounded time (RESMON_FUZZ_SECONDS, default 60) with ASan+UBSan; a crash fails."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


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


def test_fuzz_report_for_a_bounded_time(tmp_path):
    _fuzzer_or_skip(tmp_path)
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "fuzz"], check=True)
    binary = os.path.join(ROOT, "build", "c", "fuzz_report")
    seconds = int(os.environ.get("RESMON_FUZZ_SECONDS", "60"))
    work = tmp_path / "corpus"
    work.mkdir()
    p = subprocess.run([binary, "-max_total_time=%d" % seconds, "-max_len=16384", "-timeout=10",
                        "-rss_limit_mb=2048", "-artifact_prefix=%s/" % tmp_path, str(work),
                        CORPUS], capture_output=True, timeout=seconds + 120)
    log = p.stderr.decode(errors="replace")
    assert p.returncode == 0, "fuzzer found a problem:\n" + log[-4000:]
    assert "Done" in log
