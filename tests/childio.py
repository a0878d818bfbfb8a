# SPDX-License-Identifier: MIT
"""Waiting on a child's stderr instead of sleeping: a test holds a child in a
long call until the records it expects (a watchdog's hang dumps) have been
written, then lets it go. A fixed sleep was too short whenever a loaded
machine ran the watchdog's thread late."""

import os
import selectors
import time


def stderr_until(proc, enough, release, timeout=60.0):
    """Reads proc's stderr (a binary pipe) until enough(text so far) is true, calls
    release() (which lets the child go on), then returns (stdout as bytes,
    the whole stderr as text) once the child has ended. Fails when the child ends or timeout
    seconds pass first."""
    fd = proc.stderr.fileno()
    data = b""
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while not enough(data.decode("utf-8", "replace")):
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise AssertionError("not seen within %s s:\n%s" % (timeout, data[-3000:]))
            if not sel.select(left):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                proc.wait(timeout=60)
                raise AssertionError("the child ended (status %s) first:\n%s"
                                     % (proc.returncode, data[-3000:]))
            data += chunk
    finally:
        sel.close()
    release()
    out, rest = proc.communicate(timeout=60)
    return out, (data + rest).decode("utf-8", "replace")
