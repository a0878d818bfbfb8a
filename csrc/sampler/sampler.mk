# SPDX-License-Identifier: MIT
# resmon-sampler: the C sidecar, and its C unit tests (included by csrc/Makefile).

SAMPLER_SRC = $(wildcard sampler/*.c)
SAMPLER_HDR = sampler/sampler.h $(CORE_HDR)
SAMPLER_CFLAGS =
SAMPLER_LIBS = -lm
ifeq ($(HAVE_PROC2),1)
SAMPLER_CFLAGS += -DRM_HAVE_PROC2=1 $(shell $(PKG_CONFIG) --cflags libproc2)
SAMPLER_LIBS += $(shell $(PKG_CONFIG) --libs libproc2)
endif
ifeq ($(HAVE_HWLOC),1)
SAMPLER_CFLAGS += -DRM_HAVE_HWLOC=1 $(shell $(PKG_CONFIG) --cflags hwloc)
SAMPLER_LIBS += $(shell $(PKG_CONFIG) --libs hwloc)
endif

BINS += $(BUILD)/resmon-sampler
CHECKS += $(BUILD)/test_sampler_units

$(BUILD)/resmon-sampler: $(SAMPLER_SRC) $(CORE_SRC) $(SAMPLER_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(SAMPLER_CFLAGS) $(SAMPLER_SRC) $(CORE_SRC) -o $@ $(LDFLAGS) $(SAMPLER_LIBS)

# The unit test includes ptable.c, sysinfo.c, oom.c and the Linux probe
# itself (fake /proc and cgroup trees); it builds without
# the optional libraries so the /proc reader is what it tests.
$(BUILD)/test_sampler_units: ../tests/sampler/test_sampler_units.c sampler/ptable.c sampler/sysinfo.c sampler/oom.c probe/linux.c $(SAMPLER_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) ../tests/sampler/test_sampler_units.c -o $@ $(LDFLAGS)

# The sampler built without libproc2 and hwloc: the fallback must keep working.
sampler-minimal: $(BUILD)/resmon-sampler-minimal
$(BUILD)/resmon-sampler-minimal: $(SAMPLER_SRC) $(CORE_SRC) $(SAMPLER_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(SAMPLER_SRC) $(CORE_SRC) -o $@ $(LDFLAGS) -lm
CHECKS += $(BUILD)/resmon-sampler-minimal-check

$(BUILD)/resmon-sampler-minimal-check: $(BUILD)/resmon-sampler-minimal
	@printf '#!/bin/sh\nset -e\nd=$$(mktemp -d)\ntrap "rm -rf $$d" EXIT\n%s -q -i 0.1 -o $$d/log -- sh -c "sleep 0.3; exit 3" || rc=$$?\ntest "$$rc" = 3\ngrep -q "verdict .* exit=3 " $$d/log\ngrep -q "proc_reader=proc" $$d/log\n' "$(abspath $(BUILD)/resmon-sampler-minimal)" > $@
	@chmod +x $@

.PHONY: sampler-minimal
