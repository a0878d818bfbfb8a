# SPDX-License-Identifier: MIT
# resmon-report (the post-processor), the record parser's tests and the
# report's fuzz target. See docs/report.md.
#   make bins     builds $(BUILD)/resmon-report
#   make check    also runs test_parse (tests/record) and test_report (tests/report)
#   make fuzz     builds $(BUILD)/fuzz_report with clang -fsanitize=fuzzer (not in CHECKS)
#   make $(BUILD)/win/resmon-report.exe   the Windows build, with mingw-w64 (not in bins)

REPORT_SRC = $(sort $(wildcard report/*.c))
REPORT_HDR = $(wildcard report/*.h)
REPORT_CORE = record/parse.c record/write.c record/trend.c record/compat.c
HAVE_ZLIB := $(shell $(PKG_CONFIG) --exists zlib 2>/dev/null && echo 1)
REPORT_CFLAGS =
REPORT_LIBS = -lm
ifeq ($(HAVE_CJSON),1)
REPORT_CFLAGS += -DRM_HAVE_CJSON=1 $(shell $(PKG_CONFIG) --cflags libcjson)
REPORT_LIBS += $(shell $(PKG_CONFIG) --libs libcjson)
endif
# history's databases, both optional (docs/history.md): without one, "history"
# exits 2 naming the package to install. Linked for now; dlopen is the plan
# for one portable wheel.
HAVE_SQLITE3 := $(shell $(PKG_CONFIG) --exists sqlite3 2>/dev/null && echo 1)
HAVE_LIBPQ := $(shell $(PKG_CONFIG) --exists libpq 2>/dev/null && echo 1)
ifeq ($(HAVE_SQLITE3),1)
REPORT_CFLAGS += -DRM_HAVE_SQLITE3=1 $(shell $(PKG_CONFIG) --cflags sqlite3)
REPORT_LIBS += $(shell $(PKG_CONFIG) --libs sqlite3)
endif
ifeq ($(HAVE_LIBPQ),1)
REPORT_CFLAGS += -DRM_HAVE_LIBPQ=1 $(shell $(PKG_CONFIG) --cflags libpq)
REPORT_LIBS += $(shell $(PKG_CONFIG) --libs libpq)
endif
ifeq ($(HAVE_ZLIB),1)
REPORT_CFLAGS += -DRM_HAVE_ZLIB=1 $(shell $(PKG_CONFIG) --cflags zlib)
REPORT_LIBS += $(shell $(PKG_CONFIG) --libs zlib)
endif

REPORT_CORE_HDR = record/parse.h record/record.h record/trend.h record/compat.h

$(BUILD)/resmon-report: $(REPORT_SRC) $(REPORT_HDR) $(REPORT_CORE) $(REPORT_CORE_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(REPORT_CFLAGS) $(REPORT_SRC) $(REPORT_CORE) -o $@ $(LDFLAGS) $(REPORT_LIBS)

$(BUILD)/test_parse: ../tests/record/test_parse.c $(REPORT_CORE) $(REPORT_CORE_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(REPORT_CFLAGS) ../tests/record/test_parse.c $(REPORT_CORE) -o $@ $(LDFLAGS) $(REPORT_LIBS)

# The report's own unit test links every report source but main.c.
REPORT_LIB_SRC = $(filter-out report/main.c,$(REPORT_SRC))
$(BUILD)/test_report: ../tests/report/test_report.c $(REPORT_LIB_SRC) $(REPORT_HDR) $(REPORT_CORE)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(REPORT_CFLAGS) ../tests/report/test_report.c $(REPORT_LIB_SRC) $(REPORT_CORE) -o $@ $(LDFLAGS) $(REPORT_LIBS)

FUZZ_CC ?= clang
$(BUILD)/fuzz_report: ../tests/fuzz/fuzz_report.c $(REPORT_LIB_SRC) $(REPORT_HDR) $(REPORT_CORE)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -I. $(REPORT_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		../tests/fuzz/fuzz_report.c $(REPORT_LIB_SRC) $(REPORT_CORE) -o $@ $(REPORT_LIBS)

fuzz: $(BUILD)/fuzz_report

# resmon-report for Windows, cross-compiled with mingw-w64 and run under wine by
# tests/report/test_windows_report.py (docs/platforms.md). Not in bins. Built
# without the optional libraries: no cJSON (Debian has no mingw-w64 build of it;
# --format json exits 2 and says so; text, markdown and html work), no zlib (a
# .gz input is refused with a message), no history database. mingw-w64's C99
# printf replaces msvcrt's (%zu, %lld, the same digits as glibc).
MINGW_CC ?= x86_64-w64-mingw32-gcc
WIN_REPORT_CFLAGS = -std=c11 -O2 -Wall -Wextra $(WERROR) -I. -D_WIN32_WINNT=0x0A00 \
	-D__USE_MINGW_ANSI_STDIO=1
$(BUILD)/win/resmon-report.exe: $(REPORT_SRC) $(REPORT_HDR) $(REPORT_CORE) $(REPORT_CORE_HDR)
	@mkdir -p $(BUILD)/win
	$(MINGW_CC) $(WIN_REPORT_CFLAGS) $(REPORT_SRC) $(REPORT_CORE) -o $@ -lbcrypt -lm

ifneq ($(wildcard report/main.c),)
BINS += $(BUILD)/resmon-report
endif
CHECKS += $(BUILD)/test_parse
ifneq ($(wildcard ../tests/report/test_report.c),)
CHECKS += $(BUILD)/test_report
endif

.PHONY: fuzz
