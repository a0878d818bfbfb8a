# SPDX-License-Identifier: MIT
"""``python -m resmon report ...`` and ``python -m resmon sampler ...``.

Runs the packaged C tools (``resmon-report``, ``resmon-sampler``) with the
rest of the command line; their exit codes pass through unchanged.
"""

import sys

from resmon import _tools

_COMMANDS = {"report": "resmon-report", "sampler": "resmon-sampler"}

_USAGE = """usage: python -m resmon report [options] FILE...   analyse logs (see docs/report.md)
       python -m resmon sampler [options] ...    sample the machine (see docs/sampler.md)
"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE)
        return 0 if argv else 2
    tool = _COMMANDS.get(argv[0])
    if tool is None:
        sys.stderr.write("resmon: unknown command %r\n%s" % (argv[0], _USAGE))
        return 2
    return _tools._exec(tool, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
