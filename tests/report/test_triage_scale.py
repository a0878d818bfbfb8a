# SPDX-License-Identifier: MIT
"""`resmon-report triage` at scale and with hostile job names: the time grows
linearly with the failures (one signature shared by 250 jobs, or many distinct
signatures), and the JSON keys that name jobs (`only_in`, `versions[].by_job`)
are escaped as `jobs[].name` is: ASCII, valid JSON, joinable."""

import json
import os
import subprocess

from reporthelp import report_bin

STAMP = b"2026-12-02T01:17:07.2533251Z "
JOBS = 250  # below the 256-job cap: every line counts


def letters(i):
    """i as lowercase letters: a word the signature keeps (digits become '#')."""
    s = ""
    while True:
        s = chr(ord("a") + i % 26) + s
        i //= 26
        if not i:
            return s


def gh_log(path, n, distinct):
    """n FAILED lines spread over JOBS jobs in `gh run view --log` format: one
    signature for all of them, or one signature per failure."""
    with open(path, "wb") as f:
        for i in range(n):
            msg = b"AssertionError: x " + (letters(i).encode() if distinct else b"%d" % i)
            f.write(b"job%d\tstep\t%sFAILED tests/t.py::test_%d - %s\n"
                    % (i % JOBS, STAMP, i, msg))
    return path


def cpu_of(path):
    """CPU seconds (user + system) of one triage of path, from wait4."""
    argv = [report_bin(), "triage", path]
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen(argv, stdout=null, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err = p.stderr.read()
        p.stderr.close()
    assert p.returncode in (1, 3), err
    return ru.ru_utime + ru.ru_stime


def check_linear(tmp_path, distinct):
    # 10000 -> 40000 failures: quadratic grouping took 16x (4 s on a fast
    # machine); linear work takes at most 4x plus noise. The best of two runs
    # of each size hides a neighbour's burst.
    small = gh_log(str(tmp_path / "small.log"), 10000, distinct)
    big = gh_log(str(tmp_path / "big.log"), 40000, distinct)
    cpu_of(small)  # warm the binary and the page cache
    t_small = min(cpu_of(small) for _ in range(2))
    t_big = min(cpu_of(big) for _ in range(2))
    # below 50 ms the ratio is noise: take 50 ms as the small run's floor
    ratio = t_big / max(t_small, 0.05)
    print("cpu %.3f s -> %.3f s: x%.1f" % (t_small, t_big, ratio))
    assert ratio <= 7, (t_small, t_big, ratio)


def test_one_signature_across_250_jobs_is_linear(tmp_path):
    check_linear(tmp_path, distinct=False)


def test_many_distinct_signatures_are_linear(tmp_path):
    check_linear(tmp_path, distinct=True)


def test_one_signature_groups_every_failure(tmp_path):
    log = gh_log(str(tmp_path / "run.log"), 3000, distinct=False)
    p = subprocess.run([report_bin(), "triage", "--format", "json", log],
                       capture_output=True, timeout=120)
    doc = json.loads(p.stdout)
    assert len(doc["jobs"]) == JOBS
    assert len(doc["groups"]) == 1
    g = doc["groups"][0]
    assert len(g["tests"]) == 3000 and len(set(g["tests"])) == 3000
    assert g["jobs"] == sorted(g["jobs"]) and len(g["jobs"]) == JOBS


HOSTILE = [
    b"bad \xff\xfe name",                     # not UTF-8
    "test (ubuntu \u2713)".encode(),          # non-ASCII UTF-8
    "emoji \U0001F600 job".encode(),          # 4-byte UTF-8
    b"esc \x1b[31mred\x1b[0m",                # ESC, as a coloured name
    b"quote \" back\\slash",                  # JSON's own specials
    b"plain (windows-latest)",
]


def test_json_job_keys_are_ascii_and_match_job_names(tmp_path):
    lines = []
    for k, name in enumerate(HOSTILE):
        for text in (b"numpy==1.%d.0" % k,
                     b"FAILED t.py::test_all - AssertionError: assert 1 == 2",
                     b"FAILED t.py::test_only_%d - ValueError: bad %d" % (k, k),
                     b"===== 2 failed, 3 passed in 1.0s ====="):
            lines.append(name + b"\tstep\t" + STAMP + text + b"\n")
    log = tmp_path / "run.log"
    log.write_bytes(b"".join(lines))
    p = subprocess.run([report_bin(), "triage", "--format", "json", str(log)],
                       capture_output=True, timeout=120)
    assert p.returncode == 1, p.stderr
    text = p.stdout.decode("ascii")  # ASCII only
    doc = json.loads(text)           # valid JSON
    names = [j["name"] for j in doc["jobs"]]
    assert len(names) == len(HOSTILE)
    assert set(doc["only_in"]) == set(names), (doc["only_in"].keys(), names)
    for name, tests in doc["only_in"].items():
        assert tests == ["t.py::test_only_%d" % HOSTILE.index(raw_of(name, names))]
    (numpy,) = [v for v in doc["versions"] if v["package"] == "numpy"]
    assert set(numpy["by_job"]) == set(names)
    for name, ver in numpy["by_job"].items():
        assert ver == "1.%d.0" % HOSTILE.index(raw_of(name, names))
    # the escaping is the report's \xHH for bytes outside printable ASCII
    assert "bad \\xff\\xfe name" in names
    assert "test (ubuntu \\xe2\\x9c\\x93)" in names
    assert "esc \\x1b[31mred\\x1b[0m" in names


def raw_of(escaped, names):
    """The raw job name whose escaped form is escaped."""
    out = bytearray()
    i = 0
    while i < len(escaped):
        if escaped.startswith("\\x", i) and i + 4 <= len(escaped):
            try:
                out.append(int(escaped[i + 2:i + 4], 16))
                i += 4
                continue
            except ValueError:
                pass
        out += escaped[i].encode("ascii")
        i += 1
    assert escaped in names
    return bytes(out)
