# SPDX-License-Identifier: MIT
"""The session summary's leak trend line, from real pytest sessions."""

LEAKING = {
    "test_leaking.py": """
        import pytest

        KEPT = []

        @pytest.mark.parametrize("i", range(10))
        def test_keeps_20_mib(i):
            # bytes(...) * n writes every page: resident, not just reserved
            KEPT.append(bytearray(b"\\x01") * (20 << 20))
    """,
}

FLAT = {
    "test_flat.py": """
        import pytest

        @pytest.mark.parametrize("i", range(10))
        def test_uses_20_mib_and_frees_it(i):
            block = bytearray(b"\\x01") * (20 << 20)
            assert len(block) == 20 << 20
    """,
}


def _trend_line(res):
    section = res.out[res.out.index("resmon summary"):]
    lines = [l for l in section.splitlines() if l.startswith("leak trend (main, pid ")]
    assert len(lines) == 1, section
    return lines[0]


def test_leaking_suite_is_called_a_leak(run_pytest):
    res = run_pytest(LEAKING, ["-q", "--resmon"])
    assert res.rc == 0, res
    line = _trend_line(res)
    assert "rising steadily over 10 tests: likely leak" in line, line
    # about 20 MiB per test (the first test's own growth is part of its start)
    per_test = line.split("likely leak (+", 1)[1].split(" per test", 1)[0]
    value, unit = per_test.split()
    assert unit == "MiB" and 17 <= float(value) <= 24, line


def test_flat_suite_is_not_a_leak(run_pytest):
    res = run_pytest(FLAT, ["-q", "--resmon"])
    assert res.rc == 0, res
    line = _trend_line(res)
    assert "leak" not in line.split(":", 1)[1].replace("no leak trend", ""), line
    assert "flat: no leak trend" in line, line
