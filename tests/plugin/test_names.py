# SPDX-License-Identifier: MIT
"""Any test name works: file names in any bytes, lone surrogates, 100 KB ids
with a multibyte character at every cut position. Never INTERNALERROR, every
record escaped ASCII, and the memory_error record kept (issue 12, item 1)."""

import os
import subprocess
import sys

import pytest

from plughelp import Result, clean_env, find_records

# Where a test id is cut: the current-test slot keeps 1023 bytes
# (csrc/ext/ext.h RM_CTX_TEST_MAX - 1); the writer cuts a value at 1024
# escaped bytes (csrc/record/record.h RM_VALUE_MAX).
CUTS = (1023, 1024)
CHARS = ("\u00e9", "\u20ac", "\U0001f600")  # 2, 3 and 4 bytes in UTF-8

NAMES_TEST = '''
import pytest

# one id per (character, offset): the character starts at every byte
# position around each cut, so every cut falls inside it somewhere
IDS = {ids!r}

@pytest.mark.parametrize("n", range(len(IDS)), ids=IDS)
def test_long(n):
    if n % 7 == 0:
        raise MemoryError

@pytest.mark.parametrize("x", [0, 1], ids=["lone\\ud800surrogate", "\\udcff\\udcfe"])
def test_surrogate(x):
    raise MemoryError
'''

BYTES_TEST = b"""
def test_in_bytes_file():
    pass

def test_memory_error_in_bytes_file():
    raise MemoryError
"""


def _long_ids():
    ids = []
    for ch in CHARS:
        width = len(ch.encode("utf-8"))
        for cut in CUTS:
            for start in range(cut - width + 1, cut + 1):
                head = len("test_names.py::test_long[")
                ids.append("k" * (start - head) + ch + "z" * (100 * 1024))
    return ids


def _expected_bytes(nodeid):
    """The bytes resmon keeps for an id (surrogate escapes as their bytes)."""
    try:
        return nodeid.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return nodeid.encode("utf-8", "surrogatepass")


def test_any_name_reaches_records_escaped(tmp_path):
    ids = _long_ids()
    (tmp_path / "test_names.py").write_text(NAMES_TEST.format(ids=ids), encoding="utf-8")
    bad_file = os.fsencode(str(tmp_path)) + b"/test_\xff\xfe_bytes.py"
    try:
        with open(bad_file, "wb") as f:
            f.write(BYTES_TEST)
    except OSError as exc:  # pragma: no cover - a file system that refuses bytes
        pytest.skip("this file system refuses a non-UTF-8 file name: %s" % exc)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ndisable_test_id_escaping_and_forfeit_all_rights_to_community_support = true\n")
    records = tmp_path / "rec.log"

    def run(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"] + list(args),
            cwd=str(tmp_path), env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=240)
        return Result(proc)

    plain = run("-p", "no:resmon")
    res = run("--resmon", "--resmon-markers=all", "--resmon-records", str(records))
    assert b"INTERNALERROR" not in res.out_bytes + res.err_bytes, res
    # resmon changes no outcome. (pytest itself errors on the "\ud800" id: it
    # cannot put it into os.environ["PYTEST_CURRENT_TEST"].)
    assert res.rc == plain.rc == 1, res
    n_long = len(ids)
    n_memerr = len(range(0, n_long, 7)) + 1 + 1
    want = "%d failed, %d passed, 2 errors" % (n_memerr, n_long + 3 - n_memerr)
    assert want in plain.out.splitlines()[-1], plain
    assert want in res.out.splitlines()[-1], res

    raw = records.read_bytes()
    raw.decode("ascii")  # every byte written is ASCII
    assert res.err_bytes.decode("ascii", "replace").count("[resmon/1]") > 0
    for line in res.err_bytes.splitlines():
        if b"[resmon/1]" in line:
            line.decode("ascii")
    text = raw.decode("ascii")

    starts = [r for r in find_records(text) if r.get("at") == "start" and r["phase"] == "setup"]
    assert len(starts) == n_long + 2 + 2, len(starts)
    kept = [r["test"].encode("latin-1") for r in starts]
    # each id is its own bytes, cut (at most 1023 bytes kept, then escaped
    # and cut at 1024 escaped bytes with "...")
    for b in kept:
        assert len(b) <= 1023
    nodeids = ["test_names.py::test_long[%s]" % i for i in ids]
    for nodeid in nodeids:
        want = _expected_bytes(nodeid)
        assert any(want.startswith(k.rstrip(b".")) and len(k) > 200 for k in kept), nodeid[:80]
    sur = [k for k in kept if k.startswith(b"test_names.py::test_surrogate")]
    assert b"test_names.py::test_surrogate[lone\xed\xa0\x80surrogate]" in sur
    assert b"test_names.py::test_surrogate[\xff\xfe]" in sur
    assert b"test_\xff\xfe_bytes.py::test_in_bytes_file" in kept
    assert b"test_\xff\xfe_bytes.py::test_memory_error_in_bytes_file" in kept
    # in the file the escapes are \xHH, never the raw bytes
    assert "test_\\xff\\xfe_bytes.py::test_in_bytes_file" in text

    events = [r for r in find_records(text, kind="event") if r.get("what") == "memory_error"]
    assert len(events) == n_memerr, (len(events), n_memerr)
    ev_tests = {r["test"].encode("latin-1") for r in events}
    for n in range(0, n_long, 7):
        want = _expected_bytes(nodeids[n])[:1023]
        assert any(want.startswith(t.rstrip(b".")) for t in ev_tests), n
    assert all(r["phase"] == "call" for r in events)
    # every test also ends: the teardown-end record of each
    ends = [r for r in find_records(text) if r.get("phase") == "teardown" and r.get("at") == "end"]
    assert len(ends) == n_long + 4
