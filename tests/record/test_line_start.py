# SPDX-License-Identifier: MIT
"""The C parser takes a record only at the start of a line (docs/format.md,
"Where a record starts"), and the writer starts every job-log record on a line
of its own: real pytest sessions with the plugin, stdout and stderr in one
pipe as a CI step has them, read back by the C reader and parser
(tests/record/parse_lines.c, built here from csrc/record alone). Also: a gzip
bomb stops the reader at its cap, with a note."""

import gzip
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CSRC = os.path.join(ROOT, "csrc")
ENV_DROP = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "RESMON",
            "RESMON_RECORDS", "IT_ANALYSIS_RESOURCE_DEBUG", "IT_RESOURCE_DEBUG")

#: Test ids that hold record tags: pytest -v prints them raw.
FORGED = [
    "[resmon/1] verdict exit=0 status=0 oom=0 ;",
    "[resmon/1] gasp signal=SIGKILL signo=9 ;",
    "[resmon/1] event what=oom_kill pid=1 ;",
    "[op_resource_debug] before_save: rss_gb=99",
]

SUITE = """
    import pytest

    FORGED = %r

    @pytest.mark.parametrize("x", FORGED, ids=FORGED)
    def test_x(x):
        pass

    def test_message():
        # pytest prints it as "E       [resmon/1] verdict exit=0 ;"
        raise ValueError("see below\\n[resmon/1] verdict exit=0 status=0 ;")
""" % (FORGED,)


def _zlib():
    if not shutil.which("pkg-config"):
        return [], []
    p = subprocess.run(["pkg-config", "--cflags", "--libs", "zlib"], capture_output=True,
                       text=True)
    if p.returncode != 0:
        return [], []
    flags = p.stdout.split()
    return (["-DRM_HAVE_ZLIB=1"] + [f for f in flags if not f.startswith("-l")],
            [f for f in flags if f.startswith("-l")])


@pytest.fixture(scope="module")
def parse_lines(tmp_path_factory):
    """(path of the parse_lines tool, whether it reads gzip)."""
    cc = os.environ.get("CC") or "cc"
    if not shutil.which(cc):
        pytest.fail("no C compiler (%s) to build tests/record/parse_lines.c" % cc)
    out = str(tmp_path_factory.mktemp("parse_lines") / "parse_lines")
    cflags, libs = _zlib()
    subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-I", CSRC] + cflags
                   + [os.path.join(ROOT, "tests", "record", "parse_lines.c"),
                      os.path.join(CSRC, "record", "parse.c"), "-o", out] + libs, check=True)
    return out, bool(cflags)


def _unescape(text):
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


def read_log(parse_lines, path, *args):
    """(exit status, [(line, kind, fields)], the reader's end counters)."""
    p = subprocess.run([parse_lines[0], str(path)] + list(args), capture_output=True,
                       timeout=120)
    assert p.returncode in (0, 1), p.stderr
    recs, end = [], None
    for line in p.stdout.decode("ascii").splitlines():
        words = line.split(" ")
        pairs = dict(w.split("=", 1) for w in words[1 if words[0] == "end" else 2:])
        pairs = {k: _unescape(v) for k, v in pairs.items()}
        if words[0] == "end":
            end = pairs
        else:
            recs.append((int(words[0]), words[1], pairs))
    assert end is not None
    return p.returncode, recs, end


def _run_suite(tmp_path, args, ci=False):
    (tmp_path / "test_f.py").write_text(textwrap.dedent(SUITE))
    # pytest cuts the short summary's messages to one line unless CI is set;
    # with CI set, a message's own lines are printed whole, each at a line
    # start: that case is the report's to refuse (see below)
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP + ("CI", "BUILD_NUMBER")}
    if ci:
        env["CI"] = "true"
    log = tmp_path / "job.log"
    with open(log, "wb") as out:
        p = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                            "--resmon"] + args, cwd=str(tmp_path), env=env, stdout=out,
                           stderr=subprocess.STDOUT, timeout=300)
    raw = log.read_bytes()
    assert p.returncode == 1, raw.decode("ascii", "replace")[-3000:]  # test_message fails
    # the GitHub Actions copy of the same log: a UTC stamp on every line
    stamped = tmp_path / "job_gh.log"
    stamped.write_bytes(b"".join(b"2026-11-26T10:04:31.1234567Z " + line
                                 for line in raw.splitlines(keepends=True)))
    return raw, [log, stamped]


VARIANTS = [["-v"], ["-v", "--color=yes"], ["--color=yes"], ["-v", "-n", "2"]]


@pytest.mark.parametrize("args", VARIANTS, ids=" ".join)
def test_forged_ids_and_messages_are_not_records(tmp_path, parse_lines, args):
    if "-n" in args:
        pytest.importorskip("xdist")
    raw, logs = _run_suite(tmp_path, args)
    if "-v" in args:
        # the forgery is really in the job log, inside pytest's own lines
        assert b"test_x[[resmon/1] verdict exit=0 status=0 oom=0 ;]" in raw
    assert b"E       [resmon/1] verdict exit=0 status=0 ;" in raw
    nodeids = ["test_f.py::test_x[%s]" % f for f in FORGED] + ["test_f.py::test_message"]
    for log in logs:
        rc, recs, end = read_log(parse_lines, log)
        assert rc == 0 and end["err"] == "", end
        kinds = {kind for _, kind, _ in recs}
        assert kinds <= {"head", "test", "summary"}, kinds  # no verdict, gasp, event, legacy
        per_test, call_starts = {}, 0
        for _, kind, f in recs:
            if kind == "test" and "test" in f:
                per_test.setdefault(f["test"], []).append((f.get("phase"), f["at"]))
            elif kind == "test":  # the short call-start line names no test (docs/plugin.md)
                assert (f.get("phase"), f["at"]) == ("call", "start"), f
                call_starts += 1
        # every real record was read: each test's setup start with its id, and one
        # call start per test (the job log's default: two short lines a test)
        assert sorted(per_test) == sorted(nodeids), per_test
        for marks in per_test.values():
            assert ("setup", "start") in marks, per_test
        assert call_starts == len(nodeids), call_starts


def test_gzip_bomb_stops_with_a_note(tmp_path, parse_lines):
    if not parse_lines[1]:
        pytest.skip("zlib is not installed: the reader refuses gzip input")
    # ~1.2 MB of gzip members that inflate to 1.1 GiB: about 1000x, where
    # text logs are 5-30x; the reader stops at its 1 GiB floor
    member = gzip.compress(b"A" * (16 << 20), 9)
    bomb = tmp_path / "bomb.log.gz"
    with open(bomb, "wb") as f:
        f.write(gzip.compress(b"[resmon/1] mark a=1 ;\n" * 3))
        for _ in range(72):
            f.write(member)
    assert bomb.stat().st_size < 2 << 20
    rc, recs, end = read_log(parse_lines, bomb)
    assert rc == 1 and end["gz"] == "1" and end["gz_capped"] == "1", end
    assert "gzip bomb" in end["err"] and end["gz_out"] == str(1 << 30), end
    assert [kind for _, kind, _ in recs] == ["mark"] * 3  # the lines before the cap
    # a lower floor: the ratio (64x the compressed bytes read) stops it sooner
    rc, recs, end = read_log(parse_lines, bomb, str(1 << 20))
    assert rc == 1 and end["gz_capped"] == "1" and int(end["gz_out"]) < 2 << 20, end
    # a real log compressed the same way is read whole
    log = tmp_path / "real.log.gz"
    log.write_bytes(gzip.compress(b"".join(b"line %d [resmon/1] mark i=%d ;\n" % (i, i)
                                           for i in range(200000))))
    rc, recs, end = read_log(parse_lines, log, "1")
    assert rc == 0 and end["gz_capped"] == "0" and end["lines"] == "200000", end


def test_a_message_printed_whole_under_ci_does_not_forge_the_report(tmp_path):
    # CI=true: pytest prints test_message's ValueError whole in its short
    # summary, so "[resmon/1] verdict exit=0 status=0 ;" stands at a line start.
    # The parser cannot tell it from a record; the report refuses it: every
    # writer of a verdict stamps it with ts=.
    sys.path.insert(0, os.path.join(ROOT, "tests", "report"))
    from reporthelp import run_json
    raw, logs = _run_suite(tmp_path, ["-v"], ci=True)
    assert b"\n[resmon/1] verdict exit=0 status=0 ;" in raw
    for log in logs:
        rc, doc = run_json([str(log)])
        assert doc["verdict"]["kind"] == "failed", doc["verdict"]
        assert not any("sampler" in e["text"] for e in doc["verdict"]["evidence"])
        assert doc["inputs"][0]["unstamped_records"] >= 1
