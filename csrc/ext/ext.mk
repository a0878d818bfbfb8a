# SPDX-License-Identifier: MIT
# Compiles the extension's sources with the project's warnings as errors
# (setup.py builds the real module; this target is the CI gate).
PYTHON ?= python3
PY_INCLUDE := $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_paths()['include'])" 2>/dev/null)

ext-werror:
	@mkdir -p $(BUILD)/ext
	@set -e; for f in $(filter-out %_win32.c,$(wildcard ext/*.c)); do \
	  $(CC) $(CFLAGS) -fPIC -I$(PY_INCLUDE) -c $$f -o $(BUILD)/ext/$$(basename $$f .c).o; done
	@echo "extension sources compile cleanly with -Werror"

.PHONY: ext-werror
