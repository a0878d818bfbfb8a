# SPDX-License-Identifier: MIT
"""GitHub's "Download log archive" (the run's logs as a zip): each job's whole log
at the top level ("0_test (ubuntu).txt") and again per step in a folder of the
job's ("test (ubuntu)/2_Run pytest.txt"); older or partial archives hold the
steps' logs alone. resmon-report reads the jobs' logs (never both copies), each
as a source of its own with its own line numbers; triage makes each a job. A
zip it cannot read says why and nothing crashes."""

import io
import json
import os
import zipfile

import pytest

from reporthelp import ROOT, check_text, run, run_json

CORPUS = os.path.join(ROOT, "tests", "corpus")


def _log(name):
    with open(os.path.join(CORPUS, name, "job.log"), "rb") as f:
        return f.read()


def _answers(doc):
    return (doc["verdict"]["kind"], doc["verdict"]["confidence"],
            (doc.get("boundary") or {}).get("test"), (doc.get("culprit") or {}).get("id"))


def _zip(path, members, method=zipfile.ZIP_DEFLATED, stream=False):
    if stream:  # written to a pipe: sizes in data descriptors after each member
        buf = io.BytesIO()
        with zipfile.ZipFile(_Unseekable(buf), "w", method) as z:
            for name, data in members:
                with z.open(name, "w") as f:
                    f.write(data)
        path.write_bytes(buf.getvalue())
        return str(path)
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)
    return str(path)


class _Unseekable(io.RawIOBase):
    def __init__(self, buf):
        self.buf = buf

    def writable(self):
        return True

    def write(self, b):
        return self.buf.write(b)

    def seekable(self):
        return False


def _steps(log, job):
    lines = log.splitlines(True)
    return [("%s/1_Set up job.txt" % job, b"".join(lines[:15])),
            ("%s/2_Run pytest.txt" % job, b"".join(lines[15:]))]


@pytest.mark.parametrize("name", ["segfault_ctypes", "oom_linear_leak", "xdist_oom_culprit_victim",
                                  "pass_plain", "runner_shutdown"])
@pytest.mark.parametrize("shape", ["archive", "steps", "stored", "stream"])
def test_a_log_archive_reads_as_the_job_log(name, shape, tmp_path):
    log = _log(name)
    if shape == "archive":  # the whole log, and its steps again: read once
        members = [("0_test (ubuntu-latest).txt", log)] + _steps(log, "test (ubuntu-latest)")
    else:
        members = _steps(log, "test (ubuntu-latest)")
    path = _zip(tmp_path / "logs_1.zip", members,
                zipfile.ZIP_STORED if shape == "stored" else zipfile.ZIP_DEFLATED,
                stream=shape == "stream")
    _, want = run_json([os.path.join(CORPUS, name, "job.log")])
    _, got = run_json([path], cwd=str(tmp_path))
    assert _answers(got) == _answers(want)
    lines = sum(i["lines"] for i in got["inputs"])
    assert lines >= len(log.splitlines()) and lines <= len(log.splitlines()) + 2, got["inputs"]
    paths = [i["path"] for i in got["inputs"]]
    if shape == "archive":
        assert paths == [path + "/0_test (ubuntu-latest).txt"]
    else:
        assert paths == [path + "/" + m for m, _ in members]


def test_evidence_cites_the_member_and_its_own_line(tmp_path):
    log = _log("segfault_ctypes")
    path = _zip(tmp_path / "logs.zip", [("0_linux.txt", _log("pass_plain")), ("1_mac.txt", log)])
    p = run([path], cwd=str(tmp_path))
    check_text(p.stdout)
    assert b"note: the logs of several jobs, read as one run" in p.stdout
    _, doc = run_json([path], cwd=str(tmp_path))
    # the cited line is the member's own line number, not the archive's
    cites = [(e["file"], e["line"]) for e in doc["verdict"]["evidence"]]
    member = log.splitlines()
    mine = [(f, n) for f, n in cites if f == path + "/1_mac.txt"]
    assert mine, cites
    for _, n in mine:
        assert 1 <= n <= len(member)
    assert any(b"Segmentation fault" in member[n - 1] or b"signal" in member[n - 1]
               or b"exit code 139" in member[n - 1] for _, n in mine), mine


def test_triage_makes_each_job_of_an_archive_a_job(tmp_path):
    for shape, members in (
            ("top", [("0_test (ubuntu-latest).txt", _log("segfault_ctypes")),
                     ("1_test (windows-latest).txt", _log("pass_plain"))]
             + _steps(_log("segfault_ctypes"), "test (ubuntu-latest)")),
            ("steps", _steps(_log("segfault_ctypes"), "test (ubuntu-latest)")
             + _steps(_log("pass_plain"), "test (windows-latest)"))):
        path = _zip(tmp_path / ("%s.zip" % shape), members)
        p = run(["triage", "--format", "json", path], cwd=str(tmp_path))
        doc = json.loads(p.stdout)
        jobs = {j["name"]: j["verdict"]["kind"] for j in doc["jobs"]}
        assert jobs == {"test (ubuntu-latest)": "segfault", "test (windows-latest)": "passed"}, (
            shape, jobs)


@pytest.mark.parametrize("case", ["stdin", "cut", "no_txt", "corrupt", "empty_member"])
def test_a_zip_that_cannot_be_read_says_why(case, tmp_path):
    log = _log("pass_plain")
    path = _zip(tmp_path / "a.zip", [("0_job.txt", log)])
    data = open(path, "rb").read()
    stdin = None
    if case == "stdin":
        stdin, args = data, ["-"]
    elif case == "cut":
        (tmp_path / "a.zip").write_bytes(data[:len(data) // 2])
        args = [path]
    elif case == "no_txt":
        args = [_zip(tmp_path / "b.zip", [("0_job.json", log)])]
    elif case == "corrupt":
        raw = _zip(tmp_path / "c.zip", [("0_job.txt", log)])
        b = bytearray(open(raw, "rb").read())
        for i in range(60, 400):
            b[i] ^= 0x5A
        (tmp_path / "c.zip").write_bytes(bytes(b))
        args = [raw]
    else:
        args = [_zip(tmp_path / "d.zip", [("0_job.txt", b""), ("1_job.txt", log)])]
    want = {"stdin": "not a pipe", "cut": "directory", "no_txt": ".txt", "corrupt": "corrupt",
            "empty_member": None}[case]
    # alone: the tool says why on stderr (exit 2 when no input could be read)
    p = run(args, cwd=str(tmp_path), stdin=stdin)
    if want:
        assert p.returncode == 2 and want.encode() in p.stderr, (p.returncode, p.stderr)
    else:
        assert p.returncode == 0 and b"passed" in p.stdout, p.stdout
    # beside a readable log: the report goes on and lists the error
    good = os.path.join(CORPUS, "pass_plain", "job.log")
    p = run(["--format", "json"] + args + [good], cwd=str(tmp_path), stdin=stdin)
    assert p.returncode in (0, 1, 3), p.stderr
    doc = json.loads(p.stdout)
    errors = [i["error"] for i in doc["inputs"] if i.get("error")]
    assert doc["verdict"]["kind"] == "passed", doc["verdict"]
    if want:
        assert any(want in e for e in errors), errors
    else:
        assert not errors, doc["inputs"]


def test_members_that_share_bytes_are_refused(tmp_path):
    # a crafted directory: 200 entries on one 64 KiB member would inflate
    # 200 times past the cap, which counts the bytes read
    import struct
    path = tmp_path / "one.zip"
    _zip(path, [("0_job.txt", b"x" * 65536 + b"\n")], zipfile.ZIP_STORED)
    data = path.read_bytes()
    eocd = data.rindex(b"PK\x05\x06")
    cd_off = struct.unpack_from("<I", data, eocd + 16)[0]
    entry = data[cd_off:eocd]
    (tmp_path / "amp.zip").write_bytes(
        data[:cd_off] + entry * 200 + data[eocd:eocd + 8]
        + struct.pack("<HHII", 200, 200, len(entry) * 200, cd_off) + data[eocd + 20:])
    p = run(["amp.zip"], cwd=str(tmp_path))
    assert p.returncode == 2 and b"overlap" in p.stderr, (p.returncode, p.stderr)


def test_each_members_bytes_are_its_own(tmp_path):
    path = _zip(tmp_path / "b.zip", [("0_a.txt", b"a" * 99 + b"\n"), ("1_b.txt", b"b" * 199 + b"\n"),
                                     ("2_c.txt", b"c" * 299 + b"\n")])
    _, doc = run_json([path], cwd=str(tmp_path))
    assert [i["bytes"] for i in doc["inputs"]] == [101, 201, 301], doc["inputs"]
