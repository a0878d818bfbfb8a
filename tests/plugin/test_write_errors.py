# SPDX-License-Identifier: MIT
"""Writes that fail are said once, and nothing is glued: --resmon-records on a
full disk (a 64 KiB tmpfs) (issue 12, item 3)."""

import os
import re
import subprocess
import sys

import pytest

from plughelp import Result, clean_env, find_records
import recordparse

FILL_TESTS = """
import os
import pytest

@pytest.mark.parametrize("i", range(30))
def test_many(i):
    if i == 20:  # space returns
        os.remove(os.environ["FILLER"])
"""


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (euid %s)" % getattr(os, "geteuid", lambda: "?")())
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        pytest.skip("mount -t tmpfs -o size=64k failed (rc %d): %s"
                    % (proc.returncode, proc.stdout.decode("ascii", "replace").strip()))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)])


def test_full_disk_said_once_nothing_glued_losses_counted(tmp_path, small_tmpfs):
    filler = small_tmpfs / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * (56 << 10))
    rec = small_tmpfs / "rec.log"
    (tmp_path / "test_fill.py").write_text(FILL_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--resmon",
         "--resmon-markers=all", "--resmon-records", str(rec)],
        cwd=str(tmp_path), env=clean_env(FILLER=str(filler)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=240)
    res = Result(proc)
    assert res.rc == 0, res

    # one resmon: line, with the reason and the path
    said = [ln for ln in res.err.splitlines() if ln.startswith("resmon:")]
    assert len(said) == 1, said
    assert "No space left on device" in said[0] and str(rec) in said[0], said

    # nothing glued: every line holds at most one record, and starts with it
    text = rec.read_bytes().decode("ascii")
    lines = text.splitlines()
    cut = 0
    for line in lines:
        assert line.count("[resmon/1]") == 1 and line.startswith("[resmon/1]"), line
        if line.endswith(" ;"):
            assert recordparse.parse_record(line)[1]["_complete"], line
        else:
            cut += 1
    assert text.endswith("\n")
    # space came back: the later tests' records are there, complete
    complete = "\n".join(ln for ln in lines if ln.endswith(" ;"))
    after = [r for r in find_records(complete) if r["test"] == "test_fill.py::test_many[29]"]
    assert [r["_complete"] for r in after] == [True] * 4, after

    # the summary counts the lost records
    m = re.search(r"records lost to failed writes: (\d+) to the record file (\S+)", res.out)
    assert m and m.group(2) == str(rec), res
    lost = int(m.group(1))
    summary = find_records(res, kind="summary")
    assert summary and int(summary[-1]["lost_records"]) == lost
    # 30 tests * 4 records + head + summary: the file holds the rest (a cut
    # one counts as lost), and a write did cut one
    kept = sum(1 for ln in lines if ln.endswith(" ;"))
    assert kept + lost == 30 * 4 + 2, (kept, lost, cut)
    assert lost > 0 and cut >= 1
