# SPDX-License-Identifier: MIT
"""A small, independent Python reader of resmon records for the tests.

It is deliberately separate from the C parser, so tests check the writer
against a second implementation of docs/format.md.
"""

import re

TAG = re.compile(r"\[resmon/(\d+)\] ([a-z_]+)")
_ESC = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def _value(text, i):
    """Parses a value at text[i:]; returns (value_bytes, next_index)."""
    if i < len(text) and text[i] == '"':
        out = bytearray()
        i += 1
        while i < len(text):
            c = text[i]
            if c == '"':
                return bytes(out), i + 1
            if c == "\\":
                nxt = text[i + 1]
                if nxt == "x":
                    out.append(int(text[i + 2:i + 4], 16))
                    i += 4
                    continue
                out += _ESC[nxt].encode()
                i += 2
                continue
            out += c.encode("ascii")
            i += 1
        raise ValueError("unterminated quoted value")
    j = text.find(" ", i)
    j = len(text) if j < 0 else j
    return text[i:j].encode("ascii"), j


def parse_record(line):
    """Returns (kind, fields) for a record line, else None.

    fields maps key -> str (bytes decoded as latin-1, so every byte value
    survives) and fields['_complete'] tells whether the ' ;' end was seen.
    """
    line = line.rstrip("\r\n")
    m = TAG.search(line)
    if not m:
        return None
    kind, fields, i = m.group(2), {}, m.end()
    complete = False
    while i < len(line):
        if line[i] != " ":
            raise ValueError(f"expected a space at {i}: {line!r}")
        i += 1
        if line[i:] == ";":
            complete = True
            break
        eq = line.index("=", i)
        key = line[i:eq]
        if not re.fullmatch(r"[A-Za-z0-9_]+", key):
            raise ValueError(f"bad key {key!r}")
        if key in fields:
            raise ValueError(f"duplicate key {key!r}")
        value, i = _value(line, eq + 1)
        fields[key] = value.decode("latin-1")
    fields["_complete"] = complete
    return kind, fields


def records(text, kind=None):
    """All records in a text (one per line), optionally of one kind."""
    out = []
    for line in text.splitlines():
        rec = parse_record(line)
        if rec and (kind is None or rec[0] == kind):
            out.append(rec)
    return out
