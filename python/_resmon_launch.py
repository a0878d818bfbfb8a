# SPDX-License-Identifier: MIT
"""Console scripts ``resmon-sampler`` and ``resmon-report``: exec the C tool.

A top-level module, outside the ``resmon`` package, so that starting a tool
does not import the package (its C core, the API, the fixtures: about 30 ms
of CPU per launch). Only ``os`` and ``sys`` are used, both already loaded by
the interpreter. When the tool is missing, ``resmon._tools`` says why.
"""

import os
import sys


def _run(name):
    base = os.environ.get("RESMON_BIN_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "resmon", "_bin")
    path = os.path.join(base, name)
    try:
        os.execv(path, [name] + sys.argv[1:])
    except OSError:
        pass
    from resmon import _tools  # noqa: PLC0415 - the slow path explains the failure

    return _tools._exec(name, sys.argv[1:])


def sampler_main():
    sys.exit(_run("resmon-sampler"))


def report_main():
    sys.exit(_run("resmon-report"))
