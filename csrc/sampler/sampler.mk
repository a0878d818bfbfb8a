# SPDX-License-Identifier: MIT
# resmon-sampler: the C sidecar, and its C unit tests (included by csrc/Makefile).
#
# libproc2 and hwloc are loaded at run time with dlopen (docs/sampler.md), so
# the sampler links only the C library (libc, libm, and libdl where glibc
# before 2.34 keeps dlopen there). Of libproc2 the build uses the header
# alone, when installed: its item numbers change between releases, so they
# must be the ones of the library it loads (RM_PROC2_SONAME, read from that
# library). hwloc's few ABI values are declared in sysinfo.c and checked
# against hwloc.h when that is installed.

READELF ?= readelf
SAMPLER_SRC = $(wildcard sampler/*.c)
SAMPLER_HDR = sampler/sampler.h $(CORE_HDR)
SAMPLER_CFLAGS =
SAMPLER_LIBS = -lm -Wl,--as-needed -ldl -Wl,--no-as-needed
ifeq ($(HAVE_PROC2),1)
PROC2_LIBDIR := $(shell $(PKG_CONFIG) --variable=libdir libproc2 2>/dev/null)
PROC2_SONAME := $(shell $(READELF) -d $(PROC2_LIBDIR)/libproc2.so 2>/dev/null | sed -n 's/.*(SONAME).*\[\(libproc2[^]]*\)\].*/\1/p')
ifneq ($(PROC2_SONAME),)
SAMPLER_CFLAGS += -DRM_HAVE_PROC2_H=1 -DRM_PROC2_SONAME='"$(PROC2_SONAME)"' $(shell $(PKG_CONFIG) --cflags libproc2)
endif
endif
ifeq ($(HAVE_HWLOC),1)
SAMPLER_CFLAGS += -DRM_CHECK_HWLOC_ABI=1 $(shell $(PKG_CONFIG) --cflags hwloc)
endif

BINS += $(BUILD)/resmon-sampler
CHECKS += $(BUILD)/test_sampler_units

$(BUILD)/resmon-sampler: $(SAMPLER_SRC) $(CORE_SRC) $(SAMPLER_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(SAMPLER_CFLAGS) $(SAMPLER_SRC) $(CORE_SRC) -o $@ $(LDFLAGS) $(SAMPLER_LIBS)

# The unit test includes ptable.c, sysinfo.c, oom.c and the Linux probe
# itself (fake /proc, /sys and cgroup trees); it builds without libproc2's
# header so the /proc reader is what it tests, and with the hwloc ABI check.
$(BUILD)/test_sampler_units: ../tests/sampler/test_sampler_units.c sampler/ptable.c sampler/sysinfo.c sampler/oom.c probe/linux.c $(SAMPLER_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(filter-out -DRM_HAVE_PROC2_H=1,$(SAMPLER_CFLAGS)) ../tests/sampler/test_sampler_units.c -o $@ $(LDFLAGS) $(SAMPLER_LIBS)

# The sampler built without libproc2's header: the /proc reader must keep
# working where the build host has no libproc2.
sampler-minimal: $(BUILD)/resmon-sampler-minimal
$(BUILD)/resmon-sampler-minimal: $(SAMPLER_SRC) $(CORE_SRC) $(SAMPLER_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(SAMPLER_SRC) $(CORE_SRC) -o $@ $(LDFLAGS) $(SAMPLER_LIBS)
CHECKS += $(BUILD)/resmon-sampler-minimal-check

$(BUILD)/resmon-sampler-minimal-check: $(BUILD)/resmon-sampler-minimal
	@printf '#!/bin/sh\nset -e\nd=$$(mktemp -d)\ntrap "rm -rf $$d" EXIT\n%s -q -i 0.1 -o $$d/log -- sh -c "sleep 0.3; exit 3" || rc=$$?\ntest "$$rc" = 3\ngrep -q "verdict .* exit=3 " $$d/log\ngrep -q "proc_reader=proc proc2=not_built" $$d/log\n' "$(abspath $(BUILD)/resmon-sampler-minimal)" > $@
	@chmod +x $@

.PHONY: sampler-minimal
