# SPDX-License-Identifier: MIT
"""resmon's pytest plugin (entry point ``pytest11: resmon``).

Does nothing per test until enabled (``--resmon``, ini ``resmon = true``, or
one of the environment switches in ``resmon.ENV_SWITCHES``). Then it writes
``test`` and ``fixture`` records (docs/format.md), keeps the current test
where the crash handlers can read it, enforces ``resmon_limit`` and prints a
summary. ``requires_memory`` and ``resmon_limit`` markers work whenever the
plugin is installed. See docs/plugin.md.
"""

import heapq
import os
import sys

import pluggy
import pytest

from . import _summary, api
from ._core import core, say_once
from .fixtures import ResmonHelper, default_cache


def _save_stderr():
    """A duplicate of fd 2 taken when pytest imports its plugins, which is
    before capture replaces fd 2 (pytest_load_initial_conftests): the job log."""
    try:
        return os.dup(2)  # not inheritable (PEP 446)
    except OSError:
        return -1


#: The original stderr of this process; markers go there.
ORIGINAL_STDERR_FD = _save_stderr()

MARKERS_CHOICES = ("none", "start-end", "all")
TO_OUT, TO_REC = 1, 2
# log_start's how (csrc/ext/state.c): write the short line, open a new peak
# interval, return (rss, peak, mono) instead of a Sample
LS_LOG, LS_RESET, LS_BRIEF = 1, 2, 4
#: Seconds between full samples in the job-log markers (without records).
FULL_EVERY = 1.0
DEFAULT_THREAD_THRESHOLD = 256
DEFAULT_TOP = 5
LIMIT_KEYS = ("rss", "growth", "used", "threads")
# New-style hook wrappers (wrapper=True) came with pluggy 1.2.
_NEW_WRAPPERS = tuple(int(x) for x in pluggy.__version__.split(".")[:2] if x.isdigit()) >= (1, 2)
# Values of the ini option "resmon" that mean on (read as text: works on every pytest 7+).
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


# ---------------------------------------------------------------- options --

def pytest_addoption(parser):
    group = parser.getgroup("resmon", "resmon: resource records per test (docs/plugin.md)")
    group.addoption("--resmon", action="store_true", default=None,
                    help="enable resmon (also ini 'resmon = true' or IT_ANALYSIS_RESOURCE_DEBUG=1, "
                         "IT_RESOURCE_DEBUG=1, RESMON=1 in the environment)")
    group.addoption("--resmon-markers", choices=MARKERS_CHOICES, default=None,
                    help="marker lines in the job log (original stderr): none, start-end "
                         "(default: one line at each test's start and end) or all")
    group.addoption("--resmon-records", metavar="PATH", default=None,
                    help="append full records to PATH (all xdist workers share it; one "
                         "O_APPEND write per record). Default: $RESMON_RECORDS")
    group.addoption("--resmon-dump-after", metavar="SECONDS", type=float, default=None,
                    help="dump all threads' stacks when one test runs longer than SECONDS")
    group.addoption("--resmon-thread-threshold", metavar="N", type=int, default=None,
                    help="write an event (and dump stacks once) when the process has more "
                         "than N native threads (default %d)" % DEFAULT_THREAD_THRESHOLD)
    group.addoption("--resmon-top", metavar="N", type=int, default=None,
                    help="rows per table in the summary (default %d)" % DEFAULT_TOP)
    group.addoption("--resmon-warn-rss", metavar="SIZE", default=None,
                    help="memory a test itself used (its peak over its start RSS) from which it "
                         "gets a GitHub ::warning annotation on its line and a summary line "
                         "(default: half the cgroup limit or machine memory)")
    group.addoption("--resmon-step-summary", choices=("on", "off"), default=None,
                    help="on GitHub Actions, append the summary's Markdown to "
                         "$GITHUB_STEP_SUMMARY (default on; off when a later step writes "
                         "resmon-report's Markdown there, as docs/examples/github-actions.yml)")
    parser.addini("resmon", "enable resmon (true/false)", default="")
    parser.addini("resmon_step_summary", "like --resmon-step-summary (true/false)", default="")
    parser.addini("resmon_markers", "none, start-end or all (default start-end)", default="")
    parser.addini("resmon_records", "file for full records (like --resmon-records)", default="")
    parser.addini("resmon_dump_after", "like --resmon-dump-after (seconds)", default="")
    parser.addini("resmon_thread_threshold", "like --resmon-thread-threshold", default="")
    parser.addini("resmon_top", "like --resmon-top", default="")
    parser.addini("resmon_warn_rss", "like --resmon-warn-rss", default="")
    for key, what in (("rss", "peak RSS"), ("growth", "RSS growth over a test"),
                      ("used", "a test's own peak over its start RSS"),
                      ("threads", "native threads")):
        parser.addini("resmon_limit_" + key,
                      "default limit on %s for every test (like @pytest.mark.resmon_limit(%s=...))"
                      % (what, key), default="")


def _opt(config, name, ini):
    value = config.getoption(name)
    if value is None:
        value = config.getini(ini) or None
    return value


def _enabled(config):
    opt = config.getoption("resmon")
    if opt:
        return True
    ini = str(config.getini("resmon")).strip().lower()
    if ini in _TRUE:
        return True
    return api._env_enabled()


def _size_option(text, where):
    if text is None or text == "":
        return None
    try:
        return api.parse_size(text)
    except ValueError as exc:
        raise pytest.UsageError("resmon: %s: %s" % (where, exc)) from None


def _number_option(text, where, kind=float):
    if text is None or text == "":
        return None
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise pytest.UsageError("resmon: %s: not a number: %r" % (where, text)) from None
    if value < 0:
        raise pytest.UsageError("resmon: %s: negative: %r" % (where, text))
    return value


def _is_worker(config):
    return hasattr(config, "workerinput")


def _is_xdist_controller(config):
    if _is_worker(config):
        return False
    if getattr(config.option, "collectonly", False):
        return False
    if not config.pluginmanager.hasplugin("xdist"):
        return False
    numprocesses = getattr(config.option, "numprocesses", None)
    tx = getattr(config.option, "tx", None)
    return bool(numprocesses or tx) and getattr(config.option, "dist", "no") != "no"


# ---------------------------------------------------------------- crash API --

def _crash():
    """The crash module, or None while it is missing (it is optional)."""
    try:
        from . import crash  # noqa: PLC0415 - lazy: optional component
        return crash
    except ImportError as exc:
        say_once("crash-import", "crash handlers unavailable: %s" % exc)
        return None


def _crash_call(name, *args, **kwargs):
    mod = _crash()
    if mod is None:
        return None
    try:
        return getattr(mod, name)(*args, **kwargs)
    except AttributeError as exc:
        say_once("crash-attr:" + name, "crash handlers: %s" % exc)
    except Exception as exc:  # noqa: BLE001 - contract: never break the suite
        say_once("crash-call:" + name, "crash.%s failed: %r" % (name, exc))
    return None


# ---------------------------------------------------------------- configure --

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # trylast: pytest's faulthandler plugin has enabled faulthandler by now,
    # so the crash handlers installed here chain to it.
    config.addinivalue_line(
        "markers", "resmon_limit(rss=None, growth=None, used=None, threads=None): fail the test "
        "when its peak RSS, its RSS growth, its own peak over its start RSS or its native "
        "thread count exceeds the limit (sizes like '2 GiB'); resmon plugin")
    config.addinivalue_line(
        "markers", "requires_memory(size): skip the test unless the machine's available memory "
        "and the memory cgroup's limit are at least size (like '4 GiB'); resmon plugin")
    config.stash[_STATE_KEY] = state = _State(config)
    state.configure()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    state = config.stash.get(_STATE_KEY, None)
    if state is not None:
        state.unconfigure()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    state = config.stash.get(_STATE_KEY, None)
    if state is not None:
        state.check_markers(items)


def pytest_report_header(config):
    state = config.stash.get(_STATE_KEY, None)
    if state is not None and state.enabled:
        return state.header()
    return None


@pytest.fixture
def resmon(request):
    """Snapshot and delta helpers for a test (see resmon.fixtures.ResmonHelper)."""
    state = request.config.stash.get(_STATE_KEY, None)
    monitor = state.monitor if state is not None else None
    return ResmonHelper(monitor, default_cache())


_STATE_KEY = pytest.StashKey() if hasattr(pytest, "StashKey") else None
if _STATE_KEY is None:  # pragma: no cover - pytest < 7 is not supported
    raise ImportError("resmon's plugin needs pytest >= 7")


class _State:
    """Per-config state: decides what runs and registers the parts."""

    def __init__(self, config):
        self.config = config
        self.enabled = bool(_enabled(config)) and core is not None
        self.monitor = None
        self.summary_plugin = None
        self.crash_installed = False
        self.limit_defaults = None
        self.limit_plugin = None
        self.requires_plugin = None

    def configure(self):
        config = self.config
        # Defaults from the ini file are read always: a bad one is an error.
        defaults = {
            "rss": _size_option(config.getini("resmon_limit_rss"), "ini resmon_limit_rss"),
            "growth": _size_option(config.getini("resmon_limit_growth"),
                                   "ini resmon_limit_growth"),
            "used": _size_option(config.getini("resmon_limit_used"), "ini resmon_limit_used"),
            "threads": _number_option(config.getini("resmon_limit_threads"),
                                      "ini resmon_limit_threads", int),
        }
        self.limit_defaults = {k: v for k, v in defaults.items() if v is not None} or None
        if not self.enabled:
            if _enabled(config) and core is None:
                say_once("plugin-core", "resmon is enabled but the C core is missing: the "
                         "plugin records nothing")
            return
        markers = _opt(config, "resmon_markers", "resmon_markers") or "start-end"
        if markers not in MARKERS_CHOICES:
            raise pytest.UsageError("resmon: resmon_markers must be one of %s, not %r"
                                    % (", ".join(MARKERS_CHOICES), markers))
        records = _opt(config, "resmon_records", "resmon_records") or os.environ.get(
            api.ENV_RECORDS) or None
        if records:
            records = os.path.join(str(config.invocation_params.dir), os.path.expanduser(records))
        dump_after = _number_option(_opt(config, "resmon_dump_after", "resmon_dump_after"),
                                    "--resmon-dump-after")
        threshold = _number_option(_opt(config, "resmon_thread_threshold",
                                        "resmon_thread_threshold"), "--resmon-thread-threshold",
                                   int)
        top = _number_option(_opt(config, "resmon_top", "resmon_top"), "--resmon-top", int)
        warn = _size_option(_opt(config, "resmon_warn_rss", "resmon_warn_rss"),
                            "--resmon-warn-rss")
        step = _opt(config, "resmon_step_summary", "resmon_step_summary") or "on"
        if str(step).strip().lower() not in _TRUE + _FALSE:
            raise pytest.UsageError("resmon: resmon_step_summary must be true or false, not %r"
                                    % step)
        self.options = {"markers": markers, "records": records, "dump_after": dump_after or None,
                        "step_summary": str(step).strip().lower() in _TRUE,
                        "threshold": DEFAULT_THREAD_THRESHOLD if threshold is None else threshold,
                        "top": DEFAULT_TOP if top is None else top, "warn_rss": warn}

        api.enable(True)
        api._plugin_owns_context = True
        api._identity()
        if ORIGINAL_STDERR_FD >= 0:
            try:
                api.set_output_fd(ORIGINAL_STDERR_FD)
            except OSError as exc:
                say_once("plugin-fd", "cannot use the saved stderr: %s" % exc)
        if records:
            api.set_record_file(records)
        self.has_records = bool(records) and api._state["records_path"] is not None
        controller = _is_xdist_controller(config)
        if not controller:
            self.monitor = _Monitor(self)
            config.pluginmanager.register(self.monitor, "resmon-monitor")
        if not _is_worker(config):
            self.summary_plugin = _SummaryPlugin(self)
            config.pluginmanager.register(self.summary_plugin, "resmon-summary")
        self._head(controller)
        self.check_writes()
        self._install_crash()

    def _head(self, controller):
        # sys.version's first word is platform.python_version() (without
        # importing platform: a few ms of start-up)
        fields = [("resmon", _version()), ("python", sys.version.split()[0]),
                  ("pytest", pytest.__version__), ("os", sys.platform),
                  ("markers", self.options["markers"]),
                  ("role", "controller" if controller else
                   "worker" if _is_worker(self.config) else "main")]
        fields.extend(_id_base(self.config))
        try:
            core.set_context(None, "session")
            core.emit("head", None, fields=fields, full=True,
                      to=(TO_OUT if self.options["markers"] != "none" else 0) | TO_REC)
        except Exception as exc:  # noqa: BLE001 - contract: never break the suite
            say_once("head", "cannot write the head record: %r" % exc)

    def check_writes(self, err=None):
        """Says once per target, with the reason and the path, that a write
        failed (the C writer notes it, err is what core.write_error() gave;
        records written meanwhile are lost, counted by write_losses() for
        the summary). Never raises."""
        if err is None:
            err = core.write_error()
        if err is None:
            return
        target, errno_ = err
        if target == "records":
            what = "the record file %s" % (self.options.get("records") or "?")
        else:
            what = "the job log (the saved stderr, fd %d)" % ORIGINAL_STDERR_FD
        say_once("write:" + target, "cannot write to %s: %s (errno %d); records are lost "
                 "until it can be written again (the summary counts them)"
                 % (what, os.strerror(errno_), errno_))

    def _install_crash(self):
        mod = _crash()
        if mod is None:
            return
        result = _crash_call("install_crash_handlers", fatal=True, terminate=True, usr1=True,
                             thread_threshold=self.options["threshold"])
        self.crash_installed = result is not False and hasattr(mod, "install_crash_handlers")

    def unconfigure(self):
        if self.crash_installed:
            _crash_call("uninstall_crash_handlers")
            self.crash_installed = False
        if self.enabled:
            api._plugin_owns_context = False
            if core is not None:
                core.set_context(None, None)

    def header(self):
        o = self.options
        parts = ["resmon %s: markers=%s" % (_version(), o["markers"])]
        if self.has_records:
            parts.append("records=%s" % _summary.ascii_text(o["records"]))
        if o["dump_after"]:
            parts.append("dump-after=%gs" % o["dump_after"])
        return ", ".join(parts)

    # ---- markers (always active) ----

    def check_markers(self, items):
        """Validates resmon_limit and requires_memory on every collected item
        and registers the small plugins that act on them."""
        limited = required = broken = False
        worker = _is_worker(self.config)
        of_item = _ClosestMarkers(("requires_memory", "resmon_limit")).of_item
        for item in items:
            try:
                found = of_item(item)
                if not found:
                    continue
                marker = found.get("requires_memory")
                if marker is not None:
                    item._resmon_requires = _marker_size(item, marker)
                    required = True
                marker = found.get("resmon_limit")
                if marker is not None:
                    item._resmon_limit = _marker_limits(item, marker, self.limit_defaults)
                    limited = True
            except pytest.UsageError as exc:
                if not worker:
                    raise
                # an xdist worker cannot stop the session cleanly: the
                # test errors at setup with the same message instead
                item._resmon_marker_error = str(exc)
                broken = True
        pm = self.config.pluginmanager
        if broken:
            pm.register(_MarkerErrors(), "resmon-marker-errors")
        if required and self.requires_plugin is None and core is not None:
            self.requires_plugin = _RequiresMemory()
            pm.register(self.requires_plugin, "resmon-requires-memory")
        if (limited or self.limit_defaults) and self.limit_plugin is None and core is not None:
            if self.monitor is None:
                # resmon is off but a limit must be enforced: a silent monitor
                # (no records, no markers) keeps the per-phase peaks.
                self.monitor = _Monitor(self, silent=True)
                pm.register(self.monitor, "resmon-monitor")
            self.monitor.inner = True  # per-phase peaks for the limit checks
            self.limit_plugin = _Limits(self.monitor, self.limit_defaults)
            pm.register(self.limit_plugin, "resmon-limits")


class _ClosestMarkers:
    """item.get_closest_marker(name) for a few names over all items, each
    parent's answer computed once: get_closest_marker walks the whole chain
    of parents for every item and name (a few us a test at collection)."""

    def __init__(self, names):
        self.names = frozenset(names)
        self.memo = {}  # id(node) -> (node, {name: marker})

    def of(self, node):
        """{name: the marker closest to node} for the names that apply."""
        if node is None:
            return {}
        key = id(node)
        hit = self.memo.get(key)
        if hit is not None and hit[0] is node:
            return hit[1]
        found = self._with_own(self.of(getattr(node, "parent", None)),
                               getattr(node, "own_markers", ()))
        if not isinstance(node, pytest.Item):
            self.memo[key] = (node, found)
        return found

    def of_item(self, item):
        """of(item) for a collected item, inlined: this runs once per item
        at collection, in every xdist worker (each collects the whole
        suite), and most items have no markers of their own."""
        parent = getattr(item, "parent", None)
        hit = self.memo.get(id(parent))
        found = hit[1] if hit is not None and hit[0] is parent else self.of(parent)
        marks = getattr(item, "own_markers", None)
        return self._with_own(found, marks) if marks else found

    def _with_own(self, found, marks):
        """found updated by a node's own markers: the first of them is the
        closest, as in Node.iter_markers_with_node."""
        own = {}
        for mark in marks:
            if mark.name in self.names and mark.name not in own:
                own[mark.name] = mark
        return dict(found, **own) if own else found


def _id_base(config):
    """rootdir= and invocation_dir= when they differ. Records carry node ids
    (relative to the rootdir), while pytest's terminal lines (-v, FAILED,
    ERROR) give them relative to the directory pytest was started in: with
    both, resmon-report maps one onto the other instead of counting each
    test twice."""
    try:
        root = str(config.rootpath)
        inv = str(config.invocation_params.dir)
    except AttributeError:  # pragma: no cover - pytest < 6.1
        return []
    return [] if root == inv else [("rootdir", root), ("invocation_dir", inv)]


def _version():
    from . import __version__  # noqa: PLC0415 - avoids a cycle at import

    return __version__


def _marker_size(item, marker):
    args = list(marker.args) + ([marker.kwargs["size"]] if "size" in marker.kwargs else [])
    if len(args) != 1 or set(marker.kwargs) - {"size"}:
        raise pytest.UsageError("resmon: %s: @pytest.mark.requires_memory takes one size, "
                                "like requires_memory('4 GiB'); got args=%r kwargs=%r"
                                % (item.nodeid, marker.args, marker.kwargs))
    try:
        return api.parse_size(args[0])
    except ValueError as exc:
        raise pytest.UsageError("resmon: %s: bad size in @pytest.mark.requires_memory(%r): %s"
                                % (item.nodeid, args[0], exc)) from None


def _marker_limits(item, marker, defaults):
    unknown = set(marker.kwargs) - set(LIMIT_KEYS)
    if marker.args or unknown:
        raise pytest.UsageError("resmon: %s: @pytest.mark.resmon_limit takes keyword arguments "
                                "rss=, growth=, used=, threads=; got args=%r, unknown %s"
                                % (item.nodeid, marker.args, sorted(unknown)))
    limits = dict(defaults or {})
    for key, value in marker.kwargs.items():
        if value is None:
            limits.pop(key, None)
            continue
        try:
            if key == "threads":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError("threads must be a positive integer, not %r" % (value,))
                limits[key] = value
            else:
                limits[key] = api.parse_size(value)
        except ValueError as exc:
            raise pytest.UsageError("resmon: %s: bad value in @pytest.mark.resmon_limit(%s=%r): "
                                    "%s" % (item.nodeid, key, value, exc)) from None
    return limits


# ---------------------------------------------------------------- monitor --

class _Monitor:
    """Per-test and per-fixture records in a process that runs tests.

    The hot path per test is the runtest_setup, runtest_call and
    runtest_teardown hooks and three runtest_makereport wrappers. By default
    (short job-log lines, no record file, no limit) a test costs three C
    calls that each set the current test and phase, sample rss and peak
    (one pread of statm and a getrusage) and write the short line or open
    the next peak interval (log_start), two set_context calls (~0.1 us),
    and one Tally.add at the next test's start; nothing is kept per test but
    its id and 8 bytes of RSS for the trend.
    """

    def __init__(self, state, silent=False):
        self.state = state
        self.silent = silent
        opts = state.options if not silent else {"markers": "none", "dump_after": None,
                                                 "top": DEFAULT_TOP, "warn_rss": None}
        rec = TO_REC if (not silent and state.has_records) else 0
        markers = opts["markers"]
        # start-end: two short lines per test in the job log (log_start),
        # full records only in the record file; all: full records in both
        self.short = markers == "start-end"
        self.to_ends = (TO_OUT if markers == "all" else 0) | rec
        self.to_inner = (TO_OUT if markers == "all" else 0) | rec
        self.full_start = bool(rec)
        # Records at call start and call end (and peak resets there) only
        # when someone reads them: the inner records or a limit check. Else
        # the teardown-end sample's peak covers the whole test.
        self.inner = bool(self.to_inner)
        self.dump_after = opts["dump_after"]
        self.xml = bool(getattr(state.config.option, "xmlpath", None))
        self.can_reset = self._probe_reset()
        self.emit = core.emit
        self.sample = core.sample
        self.reset = core.reset_peak if self.can_reset else _noop
        self.set_context = core.set_context
        self.write_error = core.write_error
        self.log_start = core.log_start
        # log_start's how: the setup-start line and a new peak interval
        self.how_setup = (LS_LOG if self.short else 0) | (LS_RESET if self.can_reset else 0) \
            | LS_BRIEF
        # per test
        self.nodeid = None
        self.rss_start = None
        self.mono_start = None
        self.test_peak = 0
        self.acc = []  # running peak maxima: [phase, fixture...]
        self.outcome = None
        self.count = 0
        self.attempt = 0
        self.last_id = None
        self.first_rss = None  # RSS at the first test's start, for limit messages
        self.last_full = -FULL_EVERY
        # session data for the summary: folded as each test's numbers are
        # complete (its growth is known at the next test's start)
        self.tally = _summary.Tally(opts.get("top", DEFAULT_TOP), opts.get("warn_rss"))
        self.warn_fixed = opts.get("warn_rss") is not None
        self.prev = None  # the last test's numbers, until its growth is known
        self.n_fixtures = 0
        self.top_fixtures = []  # heap of (d_setup, -seq, entry) of fixtures that grew RSS
        self.open_fixtures = {}
        self.unsettled = []
        self.sys = {}

    @staticmethod
    def _probe_reset():
        try:
            core.reset_peak()
            return True
        except OSError:
            return False

    # -- peaks --

    def _take(self, s):
        """Folds a sample's peak into every running maximum, then resets the
        high-water mark (so the next sample's peak is the new interval's)."""
        p = s.peak
        if p is not None:
            acc = self.acc
            for i in range(len(acc)):
                if p > acc[i]:
                    acc[i] = p
        self.reset()

    def checkpoint(self, full=False):
        """A sample that keeps the peaks right (the resmon fixture uses it)."""
        s = self.sample(full)
        if not self.acc:
            self.acc.append(0)
        self._take(s)
        return s

    def _phase_point(self, fields, to, full):
        """One phase boundary: sample, emit when asked, close the interval.
        Returns (sample, peak of the interval that ended)."""
        s = self.sample(False)
        acc = self.acc
        peak = s.peak
        if acc and acc[0] > (peak or 0):
            peak = acc[0]
        if to:
            fields.append(("peak", peak))
            s = self.emit("test", None, fields=fields, full=full, to=to)
        self.reset()
        if peak is not None and peak > self.test_peak:
            self.test_peak = peak
        acc[:] = [0]
        return s, peak

    # -- tests --

    # Phases are recorded when they happen: the setup, call and teardown
    # hooks mark a phase's start and runtest_makereport its end, right after
    # the phase. (runtest_logreport can come late: pytest-rerunfailures logs
    # an attempt's reports only after its teardown.)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        self._start(item.nodeid)
        if self.dump_after:
            _crash_call("dump_after", self.dump_after)

    def _start(self, nodeid):
        if self.unsettled:
            # fixtures finalized in the previous teardown: pytest released
            # their values (item.funcargs) only after its teardown report
            self.set_context(None, "session")
            self._settle(self.sample(False))
        # the same id again in this process: a rerun, a new attempt
        attempt = self.attempt = self.attempt + 1 if nodeid == self.last_id else 1
        self.last_id = self.nodeid = nodeid
        self.test_peak = 0
        self.outcome = None
        self.count += 1
        to = self.to_ends
        if to:
            self.set_context(nodeid, "setup")
            if self.short:
                self.log_start(True, attempt)
            fields = (("at", "start"),) if attempt == 1 else (("at", "start"),
                                                              ("attempt", attempt))
            s = self.emit("test", None, fields=fields, full=self.full_start, to=to)
            self.reset()
            rss, mono = s.rss, s.monotonic
        else:
            # one C call: context, sample, the short line, a new peak interval
            rss, _, mono = self.log_start(True, attempt, nodeid, "setup", self.how_setup)
        self.acc[:] = [0]
        if self.prev is not None:
            self._fold_prev(rss)
        self.rss_start = rss
        self.mono_start = mono
        if self.first_rss is None:
            self.first_rss = rss

    def _fold_prev(self, rss):
        """The previous test's growth and RSS after it are this reading (the
        next test's start): it goes into the tally now."""
        nodeid, peak, growth, rss_end, dur, outcome, used, loc, rss_start = self.prev
        self.prev = None
        if rss is not None and rss_start is not None:
            growth = rss - rss_start
            rss_end = rss
        self.tally.add(nodeid, peak, growth, rss_end, dur, outcome, used, loc)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        # runs only when the setup passed
        nodeid = item.nodeid
        if nodeid != self.nodeid:
            return
        if self.inner:
            self.set_context(nodeid, "call")
            self._phase_point([("at", "start")], self.to_inner, True)
            if self.short:
                self.log_start(False)
        elif self.short:
            # One short line: without it the job log alone cannot tell a
            # test killed in its body (SIGKILL leaves no last gasp) from
            # one killed in its setup.
            self.log_start(False, 0, nodeid, "call", LS_LOG | LS_BRIEF)
        else:
            self.set_context(nodeid, "call")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item):
        if item.nodeid == self.nodeid:
            self.set_context(self.nodeid, "teardown")

    # tryfirst: the outermost wrapper, so its code after the yield runs
    # after the other plugins' (skipping's xfail, resmon's limits) have
    # given the report its final outcome. A new-style wrapper where pluggy
    # has them (1.2+): about 1 us a call less than an old-style one.
    if _NEW_WRAPPERS:
        @pytest.hookimpl(wrapper=True, tryfirst=True)
        def pytest_runtest_makereport(self, item, call):
            report = yield
            self._phase_end(report)
            return report
    else:  # pragma: no cover - pluggy < 1.2
        @pytest.hookimpl(hookwrapper=True, tryfirst=True)
        def pytest_runtest_makereport(self, item, call):
            outcome = yield
            try:
                report = outcome.get_result()
            except BaseException:  # noqa: BLE001 - another plugin's failure is pytest's to report
                return
            self._phase_end(report)

    def _phase_end(self, report):
        nodeid = report.nodeid
        when = report.when
        if nodeid != self.nodeid:
            if when != "setup":
                return  # not a test this process started
            self._start(nodeid)  # a plugin failed or skipped before our setup hook
        outcome = report.outcome
        if when == "setup":
            if outcome == "passed":
                return  # the call hook takes it from here
            self.outcome = "error" if outcome == "failed" else outcome
            self._phase_point([("at", "end"), ("outcome", self.outcome),
                               ("dur", "%.6f" % report.duration)], self.to_inner, True)
            self.set_context(nodeid, "teardown")
        elif when == "call":
            if hasattr(report, "wasxfail"):
                outcome = "xfailed" if outcome == "skipped" else "xpassed"
            self.outcome = outcome
            if self.inner:
                self._phase_point([("at", "end"), ("outcome", outcome),
                                   ("dur", "%.6f" % report.duration)], self.to_inner, True)
            self.set_context(nodeid, "teardown")
        elif when == "teardown":
            self._end(report)

    def _end(self, report):
        outcome = self.outcome or "passed"
        if report.outcome == "failed":
            outcome = "error"
        to = self.to_ends
        # The next interval is read before the next test's start only by
        # the teardown records of fixtures finalized now (_settle), or by a
        # record written here: else the next start opens it, no reset here.
        reset = bool(to or self.unsettled)
        if to:
            rss, peak, mono = self.log_start(False, 0, self.nodeid, "teardown", LS_BRIEF)
        else:
            rss, peak, mono = self.log_start(False, 0, None, "session",
                                             LS_BRIEF | (LS_RESET if reset and self.can_reset
                                                         else 0))
        acc = self.acc
        if acc and acc[0] > (peak or 0):
            peak = acc[0]
        test_peak = peak if peak is not None and peak > self.test_peak else self.test_peak
        rss_start = self.rss_start
        growth = rss - rss_start if rss is not None and rss_start is not None else None
        used = max(test_peak - rss_start, 0) if test_peak and rss_start is not None else None
        wall = mono - self.mono_start
        if not to and not self.silent and mono - self.last_full >= FULL_EVERY:
            # no end record: the summary's headroom still gets the machine
            # and cgroup once every FULL_EVERY seconds
            self.last_full = mono
            self._note_sys(self.sample(True))
        if to:
            # Short lines, but a full sample (machine, cgroup, threads) at
            # least once every FULL_EVERY seconds, and always with records.
            full = self.full_start or mono - self.last_full >= FULL_EVERY
            s = self.emit("test", None, fields=[
                ("at", "end"), ("outcome", outcome), ("dur", "%.6f" % report.duration),
                ("test_dur", "%.6f" % wall), ("peak", peak), ("test_peak", test_peak),
                ("used", used), ("d_rss", growth)], full=full, to=to)
            if full:
                self.last_full = mono
                self._note_sys(s)
            err = self.write_error()  # a C call, None unless a write failed
            if err is not None:
                self.state.check_writes(err)
            self.reset()
            rss = s.rss
            self.set_context(None, "session")
        acc[:] = [0]
        # growth and rss are updated at the next test's start (_fold_prev)
        if not self.silent:  # a silent monitor (limits only) prints no summary
            self.prev = (self.nodeid, test_peak or None, growth, rss, wall, outcome, used,
                         getattr(report, "location", None), rss_start)
        if self.xml:
            report.user_properties.append(("resmon_peak", test_peak))
            report.user_properties.append(("resmon_growth", growth))
            report.user_properties.append(("resmon_used", used))
        self.nodeid = None
        if self.dump_after:
            _crash_call("dump_after", None)

    def _note_sys(self, s):
        sysd = self.sys
        avail = s.mem_available
        if avail is not None and (sysd.get("min_avail") is None or avail < sysd["min_avail"]):
            sysd["min_avail"] = avail
            sysd["min_avail_test"] = self.nodeid or "session end"
        use = s.cgroup_usage
        if use is not None and (sysd.get("max_cg_use") is None or use > sysd["max_cg_use"]):
            sysd["max_cg_use"] = use
            sysd["max_cg_use_test"] = self.nodeid or "session end"
        if not self.warn_fixed:
            # the summary's default threshold (Summary.default_warn), known
            # from the first full sample on: half the cgroup limit, else
            # half the machine's memory
            lim = s.cgroup_limit or s.mem_total
            if lim:
                self.tally.warn_rss = lim // 2
                self.warn_fixed = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_exception_interact(self, node, call, report):
        excinfo = getattr(call, "excinfo", None)
        if excinfo is not None and excinfo.errisinstance(MemoryError):
            _crash_call("record_memory_error", node.nodeid, call.when)

    # -- fixtures --

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if _is_parametrize_argument(fixturedef):
            yield  # @pytest.mark.parametrize's argument, not a real fixture
            return
        s0 = self.sample(False)
        if not self.acc:
            self.acc.append(0)
        self._take(s0)
        self.acc.append(0)
        outcome = yield
        try:
            self._fixture_setup_done(fixturedef, request, s0, outcome)
        except Exception as exc:  # noqa: BLE001 - contract: never break the suite
            say_once("fixture-setup", "fixture record failed: %r" % exc)

    def _fixture_setup_done(self, fixturedef, request, s0, outcome):
        s1 = self.sample(False)
        own = self.acc.pop()
        self._take(s1)
        peak = max(own, s1.peak or 0) or None
        param = _param_text(request)
        d_rss = s1.rss - s0.rss if s1.rss is not None and s0.rss is not None else None
        fields = [("name", fixturedef.argname), ("scope", fixturedef.scope), ("at", "setup"),
                  ("d_rss", d_rss), ("peak", peak)]
        if param is not None:
            fields.insert(2, ("param", param))
        if outcome.excinfo is not None:
            fields.append(("outcome", "error"))
        if self.to_inner:
            self.emit("fixture", None, fields=fields, full=True, to=self.to_inner)
        if outcome.excinfo is not None:
            return
        entry = [fixturedef.argname, fixturedef.scope, param, d_rss, peak, self.count, None]
        key = id(fixturedef)
        self.open_fixtures[key] = entry
        # the summary lists the fixtures that grew RSS most: keep those only
        seq = self.n_fixtures
        self.n_fixtures = seq + 1
        if d_rss is not None and d_rss > 0:
            top = self.top_fixtures
            if len(top) < self.tally.top:
                heapq.heappush(top, (d_rss, -seq, entry))
            elif top and d_rss > top[0][0]:
                heapq.heapreplace(top, (d_rss, -seq, entry))

        def before_teardown(entry=entry):
            s = self.sample(False)
            if not self.acc:
                self.acc.append(0)
            self._take(s)
            entry[F_PRE] = s.rss

        try:
            fixturedef.addfinalizer(before_teardown)
        except Exception:  # noqa: BLE001 - an odd FixtureDef: no teardown numbers
            pass

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_post_finalizer(self, fixturedef, request):
        entry = self.open_fixtures.pop(id(fixturedef), None)
        if entry is None or entry[F_PRE] is None or isinstance(entry[F_PRE], tuple):
            return
        # pytest drops the cached value only after this hook: the memory it
        # held is measured at the next sample (_settle).
        entry[F_HELD] = self.count - entry[F_HELD] + 1
        self.unsettled.append(entry)

    def _settle(self, s):
        """Completes the teardown numbers of fixtures finalized since the
        last sample, with s (taken after pytest released their values)."""
        pending, self.unsettled = self.unsettled, []
        for entry in pending:
            try:
                d_rss = s.rss - entry[F_PRE] if s.rss is not None else None
                entry[F_PRE] = ("done", d_rss)
                if self.to_inner:
                    fields = [("name", entry[0]), ("scope", entry[1]), ("at", "teardown"),
                              ("d_rss", d_rss), ("peak", s.peak), ("held", entry[F_HELD])]
                    if entry[2] is not None:
                        fields.insert(2, ("param", entry[2]))
                    self.emit("fixture", None, fields=fields, full=True, to=self.to_inner)
            except Exception as exc:  # noqa: BLE001 - contract: never break the suite
                say_once("fixture-teardown", "fixture record failed: %r" % exc)

    # -- session --

    def session_data(self):
        s = core.sample(True)
        if self.unsettled:
            self._settle(s)
        sysd = dict(self.sys)
        self._note_sys(s)  # before the last test is folded: the tally's threshold
        if self.prev is not None:
            self._fold_prev(s.rss)
        fixtures = []
        for _, _, e in sorted(self.top_fixtures, reverse=True):
            pre = e[F_PRE]
            torn = pre[1] if isinstance(pre, tuple) else None
            held = e[F_HELD] if isinstance(pre, tuple) else self.count - e[F_HELD] + 1
            fixtures.append((e[0], e[1], e[2], e[3], e[4], held, torn))
        sysd["mem_total"] = s.mem_total
        sysd["cg_lim"] = s.cgroup_limit
        for k in ("min_avail", "min_avail_test", "max_cg_use", "max_cg_use_test"):
            sysd.setdefault(k, self.sys.get(k))
        return {"pid": os.getpid(), "worker": os.environ.get("PYTEST_XDIST_WORKER"),
                "tally": self.tally.data(), "fixtures": fixtures, "n_fixtures": self.n_fixtures,
                "sys": sysd, "lost": _write_losses()}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        if self.silent:
            return
        config = session.config
        if _is_worker(config):
            try:
                config.workeroutput["resmon"] = self.session_data()
            except Exception as exc:  # noqa: BLE001 - contract: never break the suite
                say_once("workeroutput", "cannot send the summary data: %r" % exc)


# entry layout of an open fixture: name, scope, param, d_setup, peak, held, pre-teardown rss
F_HELD, F_PRE = 5, 6


def _noop():
    return None


def _worker_of(report):
    """The xdist worker id ("gw0") a report on the controller came from, or "?"."""
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    wid = getattr(gateway, "id", None) or getattr(report, "worker_id", None)
    if wid:
        return str(wid)
    text = str(getattr(report, "longrepr", ""))  # "worker 'gw0' crashed while running ..."
    if text.startswith("worker '"):
        return text.split("'", 2)[1]
    return "?"


def _write_losses():
    """[records lost to the record file, to the job log] in this process."""
    try:
        return list(core.write_losses())
    except (AttributeError, TypeError):  # an older C core: not counted
        return [0, 0]


def _param_text(request):
    try:
        param = request.param
    except AttributeError:
        return None
    return _summary.ascii_text(param, 100)


def _is_parametrize_argument(fixturedef):
    """pytest wraps each direct @pytest.mark.parametrize argument in a
    pseudo-fixture (pytest 7 to 9 name its function like this)."""
    return getattr(fixturedef.func, "__name__", "") == "get_direct_param_fixture_func"


def _expected_by_xfail(item, report):
    """The xfail reason when an xfail mark expected this phase to fail and
    it did not fail by itself (pytest judged it XPASS, strict or not), so a
    limit failure is the expected failure; None otherwise."""
    strict_xpass = isinstance(report.longrepr, str) and report.longrepr.startswith(
        "[XPASS(strict)]")
    if not (strict_xpass or (report.passed and hasattr(report, "wasxfail"))):
        return None
    marker = item.get_closest_marker("xfail")
    if marker is None or marker.kwargs.get("raises") is not None:
        return None  # raises=... wants an exception, and a limit is not one
    reason = getattr(report, "wasxfail", None)
    if reason is None:
        reason = marker.kwargs.get("reason", marker.args[1] if len(marker.args) > 1 else "")
    return reason


class _Limits:
    """Fails a phase that exceeded its ``resmon_limit`` (or the ini default)."""

    def __init__(self, monitor, defaults):
        self.monitor = monitor
        self.defaults = defaults
        self.watching = False  # the C thread watch is armed for this call
        self.watch_thread = False  # its thread exists: one more native thread

    def _limits(self, item):
        limits = getattr(item, "_resmon_limit", None)
        return self.defaults if limits is None else limits

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        # a thread limit counts the threads the body starts, even those it
        # joins before it returns: the C watch polls the task count
        limits = self._limits(item)
        if limits and "threads" in limits and not getattr(item, "_resmon_limit_hit", False):
            try:
                self.watching = bool(core.thread_watch(True))
                self.watch_thread = self.watch_thread or self.watching
            except (AttributeError, OSError) as exc:
                say_once("thread-watch", "cannot count threads during tests (%s): thread "
                         "limits are checked when each phase ends" % exc)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        seen = None
        if self.watching and call.when == "call":
            self.watching = False
            seen = core.thread_watch(False)
        limits = self._limits(item)
        if not limits or getattr(item, "_resmon_limit_hit", False):
            return  # one failure per test: later phases would repeat it
        try:
            self._check(item, call.when, limits, outcome.get_result(), seen)
        except Exception as exc:  # noqa: BLE001 - a broken check must not break the suite
            say_once("limits", "resmon_limit check failed: %r" % exc)

    def _check(self, item, when, limits, report, threads_seen):
        mon = self.monitor
        fs = api.format_size
        s = core.sample("threads" in limits)
        peak = s.peak
        if mon.acc and mon.acc[0] > (peak or 0):
            peak = mon.acc[0]
        start = mon.rss_start
        growth = s.rss - start if start is not None else None
        problems = []
        lim = limits.get("rss")
        if lim is not None and peak is not None and peak > lim:
            text = "peak RSS %s (%d bytes) > limit rss=%s" % (fs(peak), peak, fs(lim))
            if start is not None:
                text += "\n  " + self._rss_before(start, peak, lim)
            problems.append(("rss", text, peak, lim))
        lim = limits.get("growth")
        if lim is not None and growth is not None and growth > lim:
            problems.append(("growth", "RSS growth %s since the start of setup (%s -> %s) > "
                             "limit growth=%s" % (fs(growth), fs(start), fs(s.rss), fs(lim)),
                             growth, lim))
        lim = limits.get("used")
        top = max(peak or 0, mon.test_peak or 0)
        if lim is not None and start is not None and top and top - start > lim:
            used = top - start
            problems.append(("used", "this test used %s over its start RSS (peak %s, RSS at "
                             "the start of setup %s) > limit used=%s"
                             % (fs(used), fs(top), fs(start), fs(lim)), used, lim))
        lim = limits.get("threads")
        threads = s.threads
        if threads is not None and self.watch_thread:
            threads -= 1  # the watch's own thread
        if threads_seen:
            threads = max(threads or 0, threads_seen)
        if lim is not None and threads is not None and threads > lim:
            problems.append(("threads", "%d native threads %s > limit threads=%d"
                             % (threads, "at most during the call" if threads_seen else "now",
                                lim), threads, lim))
        if not problems:
            return
        item._resmon_limit_hit = True
        text = "resmon_limit exceeded in %s of %s:\n  %s" % (
            when, _summary.ascii_text(item.nodeid), "\n  ".join(p[1] for p in problems))
        for key, _, value, lim in problems:
            core.emit("event", None, fields=[("what", "limit"), ("limit", key),
                                             ("value", value), ("max", lim)],
                      full=True, to=mon.to_ends | TO_OUT if not mon.silent else TO_OUT)
        xfail_reason = _expected_by_xfail(item, report)
        if xfail_reason is not None:
            report.outcome = "skipped"  # what pytest reports for an expected failure
            report.wasxfail = xfail_reason
            report.longrepr = text
        elif report.outcome != "failed" or getattr(report, "wasxfail", None) is not None:
            report.outcome = "failed"
            report.longrepr = text
        else:
            report.sections.append(("resmon_limit", text))

    def _rss_before(self, start, peak, lim):
        """Where the RSS over an rss limit came from: before the test (and
        what earlier tests added) or the test itself."""
        fs = api.format_size
        first = self.monitor.first_rss
        earlier = ""
        if first is not None and start > first:
            earlier = "; earlier tests grew it by %s (from %s at the first test's start)" % (
                fs(start - first), fs(first))
        if start > lim:
            return ("the process was already over the limit before this test began: RSS %s at "
                    "the start of its setup%s; this test used %s over that (limit its own use "
                    "with resmon_limit(used=...))" % (fs(start), earlier, fs(max(peak - start, 0))))
        return "RSS at the start of setup %s%s; this test used %s over that" % (
            fs(start), earlier, fs(max(peak - start, 0)))


class _MarkerErrors:
    """In an xdist worker: a test with a bad resmon marker errors at setup."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        msg = getattr(item, "_resmon_marker_error", None)
        if msg:
            pytest.fail(msg, pytrace=False)


class _RequiresMemory:
    """Skips a test whose ``requires_memory`` size the machine cannot give.
    Registered after pytest's skipping plugin, so its tryfirst setup hook
    runs before the skipping plugin's."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        need = getattr(item, "_resmon_requires", None)
        if need is None:
            return
        s = core.sample(True)
        short = []
        if s.mem_available is not None and s.mem_available < need:
            short.append("available memory %s" % api.format_size(s.mem_available))
        if s.cgroup_limit is not None and s.cgroup_limit < need:
            short.append("memory cgroup limit %s" % api.format_size(s.cgroup_limit))
        if short:
            # a skip mark, evaluated by pytest's skipping plugin right after
            # this hook, so the report points at the test, not at resmon
            reason = "requires_memory(%s): %s" % (api.format_size(need), ", ".join(short))
            item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------- summary --

# pytest's own summary words, as its final line counts them
_COUNTED = (("passed", "passed"), ("failed", "failed"), ("error", "errors"),
            ("skipped", "skipped"), ("xfailed", "xfailed"), ("xpassed", "xpassed"))


def _pytest_counts(session):
    """The summary record's outcome fields: pytest's counts as its final
    line prints them (from the terminal reporter's stats; none when it is
    off, as with -p no:terminal) and the session's exit status. Without
    them a reader of the job log (pytest -qq prints no summary line) could
    not tell a failed run from a passed one."""
    fields = []
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(tr, "stats", None)
    if isinstance(stats, dict):
        for key, name in _COUNTED:
            fields.append((name, sum(1 for r in stats.get(key, ())
                                     if getattr(r, "count_towards_summary", True))))
    status = getattr(session, "exitstatus", None)
    if status is not None:
        fields.append(("exitstatus", int(status)))
    return fields


class _SummaryPlugin:
    """In the process that prints: aggregates (xdist: from the workers) and
    prints the summary, annotations, the step summary and a summary record."""

    def __init__(self, state):
        self.state = state
        self.worker_data = []
        self.crashes = []  # (worker, test id) from xdist's crash reports
        self.summary = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        data = getattr(node, "workeroutput", {}).get("resmon")
        if data:
            self.worker_data.append(data)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem, report, sched):
        # xdist: a worker died while running crashitem; its summary data
        # (workeroutput) will never come, only the reports the controller
        # already has
        self.crashes.append((_worker_of(report), crashitem))

    def _crashed(self):
        """(worker, test id, tests it ran as far as the controller saw, or
        None) per worker that crashed."""
        crashes = list(self.crashes)
        tr = self.state.config.pluginmanager.get_plugin("terminalreporter")
        stats = getattr(tr, "stats", None) or {}
        if not crashes:
            # an xdist without pytest_handlecrashitem: its crash report
            crashes = [(_worker_of(rep), rep.nodeid) for rep in stats.get("failed", ())
                       if getattr(rep, "when", None) == "???"]
        out = []
        for worker, nodeid in crashes:
            ids = set()
            for reports in stats.values():
                for rep in reports:
                    rid = getattr(rep, "nodeid", None)
                    if rid and _worker_of(rep) == worker:
                        ids.add(rid)
            ids.add(nodeid)
            out.append((worker, nodeid, len(ids) if stats else None))
        return out

    def _build(self):
        if self.summary is None:
            processes = list(self.worker_data)
            mon = self.state.monitor
            if mon is not None and not mon.silent:
                processes.append(mon.session_data())
            opts = self.state.options
            self.summary = _summary.Summary(processes, top=opts["top"], warn_rss=opts["warn_rss"],
                                            crashed=self._crashed())
            if mon is None or mon.silent:  # an xdist controller writes records too
                self.summary.add_lost(_write_losses())
            self.summary.records_path = opts.get("records")
        return self.summary

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        try:
            summary = self._build()
            core.set_context(None, "session")
            fields = summary.record_fields() + _pytest_counts(session)
            core.emit("summary", None, fields=fields, full=True,
                      to=(TO_OUT if self.state.options["markers"] != "none" else 0) | TO_REC)
            self.state.check_writes()
            self._step_summary(summary)
        except Exception as exc:  # noqa: BLE001 - contract: never break the suite
            say_once("summary", "cannot build the summary: %r" % exc)

    def pytest_terminal_summary(self, terminalreporter):
        try:
            summary = self._build()
        except Exception as exc:  # noqa: BLE001
            say_once("summary", "cannot build the summary: %r" % exc)
            return
        if not summary.tests:
            return
        tr = terminalreporter
        tr.write_sep("-", "resmon summary")
        for line in summary.lines():
            tr.write_line(line)
        if os.environ.get("GITHUB_ACTIONS", "").lower() == "true":
            for line in summary.github_annotations():
                tr.write_line(line)

    def _step_summary(self, summary):
        path = os.environ.get("GITHUB_STEP_SUMMARY")
        if not path or os.environ.get("GITHUB_ACTIONS", "").lower() != "true" or not summary.tests:
            return
        if not self.state.options.get("step_summary", True):
            return  # another step writes resmon's section (resmon-report --format markdown)
        try:
            with open(path, "a", encoding="ascii", errors="backslashreplace") as f:
                f.write(summary.markdown())
        except OSError as exc:
            say_once("step-summary", "cannot append to $GITHUB_STEP_SUMMARY: %s" % exc)
