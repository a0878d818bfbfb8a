# SPDX-License-Identifier: MIT
"""Test-side helpers: the ``resmon`` fixture's object and the lightweight cache.

``LightweightCache`` is the pattern suites use on low-memory runners: build a
heavy object (a model, a big array) once per key, compute the small payload the
tests actually need, cache the payload and let the heavy object go.
"""

import contextlib
import functools
import gc
import inspect
import threading

from . import api
from ._core import core


def _sample(full=True):
    return core.sample(full) if core is not None else None


class Measurement:
    """Result of :meth:`ResmonHelper.measure`: ``before``/``after`` samples,
    ``d_rss`` and ``peak`` (highest RSS inside the block, where the OS can
    tell; else None)."""

    __slots__ = ("label", "before", "after", "d_rss", "peak")

    def __init__(self, label):
        self.label = label
        self.before = self.after = self.d_rss = self.peak = None

    def __repr__(self):
        return "<Measurement %s d_rss=%s peak=%s>" % (self.label, api.format_size(self.d_rss),
                                                      api.format_size(self.peak))


class ResmonHelper:
    """What the ``resmon`` fixture gives a test.

    ``sample()``, ``snapshot(label, ...)``, ``delta(label, before)``,
    ``measure(label)`` (a context manager) and ``lightweight_cache``.
    Records are written when resmon is enabled; samples are returned always
    (None only when the C core is missing).
    """

    def __init__(self, monitor=None, cache=None):
        self._monitor = monitor
        self.lightweight_cache = cache if cache is not None else default_cache()

    @property
    def enabled(self):
        return api.analysis_resource_debug_enabled()

    def sample(self, full=True):
        return _sample(full)

    def snapshot(self, label, *, paths=(), **metadata):
        """Writes a ``mark`` record (when enabled) and returns the Sample."""
        s = api.log_resource_snapshot(label, paths=paths, metadata=metadata)
        return s if s is not None else _sample(True)

    def delta(self, label, before, *, paths=(), **metadata):
        """Writes a ``mark`` with d_rss etc. since ``before``; returns the new Sample."""
        s = api.log_resource_delta(label, before, paths=paths, metadata=metadata)
        return s if s is not None else _sample(True)

    @contextlib.contextmanager
    def measure(self, label, **metadata):
        """``with resmon.measure("load") as m: ...`` then ``m.d_rss``, ``m.peak``."""
        m = Measurement(label)
        m.before = self._checkpoint()
        try:
            yield m
        finally:
            m.after = self._checkpoint()
            if m.before is not None and m.after is not None:
                m.d_rss = m.after.rss - m.before.rss
                m.peak = m.after.peak if self._can_reset() else None
                api.log_resource_delta(label, m.before, m.after, metadata=metadata)

    def _can_reset(self):
        return self._monitor is not None and self._monitor.can_reset

    def _checkpoint(self):
        if self._monitor is not None:
            return self._monitor.checkpoint(full=True)
        return _sample(True)


class LightweightCache:
    """One small payload per key, computed from a heavy object that is then
    released.

    ``get(key, build, extract)`` calls ``build()`` once per key, passes the
    result to ``extract(heavy)``, keeps only what ``extract`` returned, drops
    the heavy object (and calls ``release(heavy)`` first when given, e.g. to
    close files or free GPU memory), runs the garbage collector, and writes a
    ``mark`` record with the RSS before, at the heavy peak, and after release
    when resmon is enabled. Thread-safe; the lock is per cache.
    """

    def __init__(self):
        self._payloads = {}
        self._lock = threading.RLock()
        self.stats = {}

    def __contains__(self, key):
        return key in self._payloads

    def __len__(self):
        return len(self._payloads)

    def clear(self):
        with self._lock:
            self._payloads.clear()
            self.stats.clear()

    def get(self, key, build, extract, *, release=None):
        with self._lock:
            try:
                return self._payloads[key]
            except KeyError:
                pass
            before = _sample(False)
            heavy = build()
            held = _sample(False)
            try:
                payload = extract(heavy)
            finally:
                if release is not None:
                    release(heavy)
                del heavy
                gc.collect()
            after = _sample(False)
            self._payloads[key] = payload
            if before is not None:
                self.stats[key] = {"rss_before": before.rss, "rss_held": held.rss,
                                   "rss_after": after.rss}
                api.log_resource_snapshot(
                    "lightweight_cache:%s" % (key,),
                    metadata={"d_build": held.rss - before.rss, "d_release": after.rss - held.rss})
            return payload


_default_cache = None


def default_cache():
    """The process-wide cache that ``resmon.lightweight_cache`` and
    :func:`cached_payload` use by default."""
    global _default_cache
    if _default_cache is None:
        _default_cache = LightweightCache()
    return _default_cache


def cached_payload(extract, *, key=None, release=None, cache=None):
    """Decorates a fixture function that builds a heavy object, so the
    fixture returns ``extract(heavy)`` instead, cached per key.

    ::

        @pytest.fixture(scope="class", params=["gpt2", "bert"])
        @resmon.cached_payload(lambda model: model.config.to_dict())
        def model_config(request):
            return load_model(request.param)      # heavy: freed after extract

    The default key is the function's qualified name plus ``request.param``
    when the fixture takes ``request`` and is parametrized; ``key`` may be a
    callable taking the fixture's arguments. Generator fixtures are not
    supported (there is nothing to tear down once the heavy object is gone).
    """
    def decorate(build):
        if inspect.isgeneratorfunction(build):
            raise TypeError("cached_payload: %s is a generator fixture; return the heavy "
                            "object instead" % build.__qualname__)
        sig = inspect.signature(build)

        @functools.wraps(build)
        def fixture_function(*args, **kwargs):
            if key is not None:
                k = key(*args, **kwargs)
            else:
                bound = sig.bind_partial(*args, **kwargs)
                request = bound.arguments.get("request")
                param = getattr(request, "param", None) if request is not None else None
                k = (build.__module__, build.__qualname__, param)
            c = cache if cache is not None else default_cache()
            return c.get(k, lambda: build(*args, **kwargs), extract, release=release)

        return fixture_function

    return decorate
