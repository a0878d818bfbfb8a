# SPDX-License-Identifier: MIT
"""The fold reads records that ingest packed with only the keys in rm_fold_keys
(csrc/report/fold.c): a key the fold asks for but ingest did not keep would read
as absent, silently. This test reads fold.c and checks that every key it asks a
record for is in that list."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOLD = os.path.join(ROOT, "csrc", "report", "fold.c")

ACCESSORS = r"(?:rm_rec_get|rm_get_u64|rm_rec_i64|rm_rec_u64|rm_rec_usec)"


def _source():
    with open(FOLD) as f:
        return f.read()


def _kept(src):
    m = re.search(r"const char \*const rm_fold_keys\[\] = \{(.*?)\};", src, re.S)
    assert m, "rm_fold_keys not found in fold.c"
    return set(re.findall(r'"([a-z_0-9]+)"', m.group(1)))


def test_every_key_the_fold_reads_is_kept():
    src = _source()
    asked = set(re.findall(ACCESSORS + r'\(\s*\w+\s*,\s*"([a-z_0-9]+)"', src))
    # the accessor calls are how the fold reads records; none passes a variable key
    variable = re.findall(ACCESSORS + r'\(\s*\w+\s*,\s*[a-z_]\w*\s*[,)]', src)
    assert not variable, variable
    assert len(asked) > 20, asked  # the scan found the fold's reads
    missing = asked - _kept(src)
    assert not missing, "fold.c reads keys ingest does not keep: %s" % sorted(missing)


def test_the_check_catches_a_missing_key():
    src = _source().replace('"test_peak",', "", 1)
    asked = set(re.findall(ACCESSORS + r'\(\s*\w+\s*,\s*"([a-z_0-9]+)"', src))
    assert "test_peak" in asked - _kept(src)
