# SPDX-License-Identifier: MIT
# Core C tests (writer, probe): included by csrc/Makefile.
CHECKS += $(BUILD)/test_write $(BUILD)/test_probe

$(BUILD)/test_write: ../tests/c/test_write.c record/write.c $(CORE_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS)

$(BUILD)/test_probe: ../tests/c/test_probe.c probe/linux.c $(CORE_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS)

CHECKS += $(BUILD)/test_trend
$(BUILD)/test_trend: ../tests/c/test_trend.c record/trend.c record/trend.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS)
