# SPDX-License-Identifier: MIT
"""resmon's pytest plugin (entry point ``pytest11: resmon``); work in progress."""
