# SPDX-License-Identifier: MIT
"""The real writer (log_resource_snapshot) and the C parser (through resmon-report)
agree on hostile labels: every byte value, newlines, quotes, '=', fake tags, 100 KB."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LABELS = [
    bytes(range(1, 256)).decode("latin-1"),
    "line\nbreak\r\nand tab\t",
    'quote " and \\ backslash \' single',
    "k=v x=y ;",
    'x ;\n[resmon/1] gasp signal=9 pid=1 ;',
    '" [resmon/1] mark rss=1 ;',
    "[fake_resource_debug] l: rss_gb=99",
    "A" * 100_000,
    "last label",
]

SCRIPT = r"""
import json, sys, resmon
labels = json.load(open(sys.argv[1]))
for label in labels:
    resmon.log_resource_snapshot(label, force=True)
"""


def _report():
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), "../build/c/resmon-report"],
                   check=True, capture_output=True)
    return os.path.join(ROOT, "build", "c", "resmon-report")


def test_hostile_labels_round_trip(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps(LABELS))
    (tmp_path / "w.py").write_text(SCRIPT)
    records = tmp_path / "records.log"
    env = dict(os.environ, RESMON_RECORDS=str(records))
    p = subprocess.run([sys.executable, str(tmp_path / "w.py"), str(tmp_path / "labels.json")],
                       env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    data = records.read_bytes()
    assert all(b < 0x80 for b in data)
    lines = data.splitlines()
    assert len(lines) == len(LABELS)  # no label added or split a line
    assert all(len(x) < 4096 for x in lines)
    # the job-log copy on stderr (with noise around it) parses the same way
    p = subprocess.run([_report(), "--format", "json", "--exit-zero", str(records), "-"],
                       input=b"2026-11-26T10:00:00.0000000Z \x1b[31m" + p.stderr.replace(
                           b"\n", b"\n2026-11-26T10:00:00.0000000Z "),
                       capture_output=True, timeout=60)
    doc = json.loads(p.stdout)
    file_in, stderr_in = doc["inputs"]
    assert file_in["records"] == len(LABELS)
    assert file_in["malformed_records"] == 0 and file_in["legacy"] == 0
    assert stderr_in["records"] == len(LABELS) and stderr_in["malformed_records"] == 0
    assert doc["boundary"]["last_mark"]["label"] == "last label"
    # the kinds forged inside labels never became records
    assert doc["verdict"]["kind"] != "signal" and not doc["verdict"]["evidence"]
