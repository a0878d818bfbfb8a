# SPDX-License-Identifier: MIT
"""pytest options that keep a memory history and gate on it (docs/history.md).

``--resmon-history DB`` adds the session to DB (a SQLite file, or a
``postgresql://`` URI) when it ends; ``--resmon-fail-on-increase PCT`` first
checks the session against the history, as ``resmon-report history check``
does, and fails the session when a test's memory grew past it. The work is done
by the ``resmon-report`` tool; this plugin only runs it.
"""

import os
import shutil
import subprocess
import tempfile

import pytest

from . import _tools

#: Seconds one resmon-report call may take before the plugin gives up on it.
TOOL_TIMEOUT = 300

_KEY = pytest.StashKey()
#: workerinput key of the records file that xdist workers append to
_WORKER_KEY = "resmon_history_records"


def pytest_addoption(parser):
    group = parser.getgroup("resmon", "resmon: resource records per test (docs/plugin.md)")
    group.addoption("--resmon-history", metavar="DB", default=None,
                    help="add this session's memory figures to DB at its end (a SQLite file, "
                         "or postgresql://...); enables --resmon (docs/history.md)")
    group.addoption("--resmon-fail-on-increase", metavar="PCT", default=None,
                    help="with --resmon-history: fail the session when a test's peak, used or "
                         "growth rose more than PCT percent (and 16 MiB, and its own spread) "
                         "over the median of the last 5 passing runs")


def _is_worker(config):
    return hasattr(config, "workerinput")


def _percent(text):
    value = str(text).strip().rstrip("%").strip()
    try:
        pct = float(value)
    except ValueError:
        pct = -1.0
    if not pct >= 0:
        raise pytest.UsageError("--resmon-fail-on-increase wants a percentage like 20%%, not %r"
                                % text)
    return "%g" % pct


class _History:
    def __init__(self, db, pct, records, tmpdir):
        self.db = db
        self.pct = pct
        self.records = records
        self.tmpdir = tmpdir


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # tryfirst: resmon's plugin reads --resmon and the records path after this
    db = config.getoption("resmon_history", None)
    pct = config.getoption("resmon_fail_on_increase", None)
    if pct is not None and not db:
        raise pytest.UsageError("--resmon-fail-on-increase needs --resmon-history DB")
    if not db:
        return
    if not config.getoption("resmon", None):
        config.option.resmon = True
    if _is_worker(config):
        # an xdist worker appends to the controller's file (pytest_configure_node)
        records = config.workerinput.get(_WORKER_KEY)
        if records:
            config.option.resmon_records = records
        return
    pct = _percent(pct) if pct is not None else None
    records = (config.getoption("resmon_records", None) or config.getini("resmon_records")
               or os.environ.get("RESMON_RECORDS"))
    tmpdir = None
    if records:
        records = os.path.join(str(config.invocation_params.dir), os.path.expanduser(records))
    else:
        tmpdir = tempfile.mkdtemp(prefix="resmon-history-")
        records = os.path.join(tmpdir, "records.log")
        config.option.resmon_records = records
    config.stash[_KEY] = _History(db, pct, records, tmpdir)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist: each worker appends its records to the controller's file."""
    hist = node.config.stash.get(_KEY, None)
    if hist is not None:
        node.workerinput[_WORKER_KEY] = hist.records


def _run(args):
    """Runs resmon-report; returns (exit code, output lines) or (None, reason)."""
    tool = _tools.tool_path("resmon-report")
    if not os.access(tool, os.X_OK):
        return None, ["resmon-report is not installed at %s" % tool]
    try:
        proc = subprocess.run([tool] + args, capture_output=True, timeout=TOOL_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, ["cannot run resmon-report: %r" % exc]
    text = (proc.stdout + proc.stderr).decode("ascii", "backslashreplace")
    return proc.returncode, text.splitlines()


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session, exitstatus):
    # a wrapper: resmon's own sessionfinish has written the summary record by now
    yield
    hist = session.config.stash.get(_KEY, None)
    if hist is None:
        return
    tr = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(lines):
        for line in lines:
            if tr is not None:
                tr.write_line(line if line.startswith("resmon") or not line.strip()
                              else ("  " + line if line[0] != " " else line))

    if not os.path.exists(hist.records):
        say(["resmon history: no records were written (%s): nothing stored" % hist.records])
        return
    if hist.pct is not None:
        rc, lines = _run(["history", "check", "--db", hist.db, "--fail-on-increase", hist.pct,
                          hist.records])
        say(lines)
        if rc == 1:
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif rc != 0:
            # the gate could not run: said, never a failure of the suite
            say(["resmon history: the check could not run (exit %s); the session is not failed "
                 "for it" % rc])
    rc, lines = _run(["history", "add", "--db", hist.db, hist.records])
    say(lines)


def pytest_unconfigure(config):
    hist = config.stash.get(_KEY, None)
    if hist is not None and hist.tmpdir:
        shutil.rmtree(hist.tmpdir, ignore_errors=True)
