# SPDX-License-Identifier: MIT
"""resmon: resource evidence for test suites on CI.

The C core (``resmon._resmon``) samples memory and writes marker lines; this
package is the thin public layer. See docs/guide.md.
"""

from ._core import CORE_ERROR, core as _core_module
from .api import (
    ENV_SWITCHES,
    analysis_resource_debug_enabled,
    enable,
    format_size,
    log_resource_delta,
    log_resource_snapshot,
    parse_size,
    reset_peak,
    sample,
    set_current_test,
    set_output_fd,
    set_record_file,
)
from .crash import dump_after, dump_threads, install_crash_handlers

from .fixtures import LightweightCache, cached_payload, default_cache as _default_cache

__version__ = "0.1.0"

#: The process-wide LightweightCache (also the ``resmon`` fixture's
#: ``lightweight_cache``): one small payload per key, heavy objects released.
lightweight_cache = _default_cache()

#: True when the C core loaded; when False, resmon said why once on stderr.
CORE_AVAILABLE = _core_module is not None

if _core_module is not None:
    Sample = _core_module.Sample

__all__ = [
    "CORE_AVAILABLE", "CORE_ERROR", "ENV_SWITCHES", "Sample", "analysis_resource_debug_enabled",
    "enable", "format_size", "log_resource_delta", "log_resource_snapshot", "parse_size",
    "reset_peak", "sample", "set_current_test", "set_output_fd", "set_record_file",
    "dump_after", "dump_threads", "install_crash_handlers",
    "LightweightCache", "cached_payload", "lightweight_cache",
]
