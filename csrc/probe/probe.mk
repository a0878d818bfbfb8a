# SPDX-License-Identifier: MIT
# The Windows probe, cross-compiled with mingw-w64 and run under wine:
# `make win-check`. Not part of CHECKS: `make check` is native. Needs
# Debian's gcc-mingw-w64-x86-64 and wine (the wine64 loader); see
# docs/platforms.md. The wine prefix lives in $(BUILD)/wine so the test
# never touches ~/.wine; the first run creates it (about 10 s).

MINGW_CC ?= x86_64-w64-mingw32-gcc
# Debian's wine64 package installs the loader here; `wine` picks it too.
WINE ?= $(firstword $(wildcard /usr/lib/wine/wine64) $(shell command -v wine64 2>/dev/null) wine)
WIN_BUILD = $(BUILD)/win
WIN_CFLAGS = -std=c11 -O2 -g -Wall -Wextra -Werror -I. -D_WIN32_WINNT=0x0A00
WIN_TEST = $(WIN_BUILD)/test_win32_probe.exe
WIN_SRC = probe/win32.c record/write.c ../tests/probe/test_win32_probe.c
# The drive the test asks rm_disk_usage about, as the test program sees it.
WIN_DISK ?= C:/

$(WIN_TEST): $(WIN_SRC) probe/probe.h record/record.h
	@mkdir -p $(WIN_BUILD)
	$(MINGW_CC) $(WIN_CFLAGS) $(WIN_SRC) -o $@ -lpsapi

win-build: $(WIN_TEST)

win-check: $(WIN_TEST)
	@mkdir -p $(WIN_BUILD)/wine
	WINEPREFIX=$(abspath $(WIN_BUILD)/wine) WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
		$(WINE) $(WIN_TEST) '$(WIN_DISK)'

.PHONY: win-build win-check

# macOS cannot be built here: check darwin.c's syntax and types against
# stand-ins for the SDK headers it uses (tests/probe/darwin_stubs, written
# from the SDK's declarations). Catches drift from probe.h and typos; it
# cannot prove the real headers agree.
DARWIN_STUBS = ../tests/probe/darwin_stubs
darwin-syntax: probe/darwin.c probe/probe.h
	$(CC) -std=c11 -Wall -Wextra -Werror -fsyntax-only -I$(DARWIN_STUBS) -I. probe/darwin.c

.PHONY: darwin-syntax
