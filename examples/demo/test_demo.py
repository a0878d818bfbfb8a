# SPDX-License-Identifier: MIT
"""A small suite that shows what resmon sees: a fixture that holds memory
across tests, a thread-heavy test, a test past its memory limit, a test that
needs more memory than the machine has, and explicit markers."""

import threading

import pytest

import resmon

MiB = 1 << 20


def touch(n):
    """n bytes of memory that is really resident."""
    block = bytearray(n)
    block[::4096] = b"\1" * len(block[::4096])
    return block


@pytest.fixture(scope="class")
def model():
    """A class-scoped fixture: 200 MiB for every test of the class using it."""
    weights = touch(200 * MiB)
    yield weights
    del weights


class TestWithHeavyFixture:
    """Every test here shares the 200 MiB model: the report shows it held."""

    @pytest.mark.parametrize("step", range(3))
    def test_inference(self, model, step):
        assert len(model) == 200 * MiB
        resmon.log_resource_snapshot(f"inference step {step}", paths=["/tmp"])


def test_thread_pool():
    stop = threading.Event()
    workers = [threading.Thread(target=stop.wait, name=f"worker-{i}") for i in range(40)]
    for w in workers:
        w.start()
    before = resmon.sample(full=True)
    resmon.log_resource_snapshot("with 40 threads")
    stop.set()
    for w in workers:
        w.join()
    assert before.threads >= 41


_leak = []


@pytest.mark.parametrize("i", range(5))
def test_slow_leak(i):
    # each test leaves 20 MiB behind: the report's trend finds it
    _leak.append(touch(20 * MiB))


_cache = {}


@pytest.mark.xfail(strict=True, reason="demo: grows past its resmon_limit on purpose")
@pytest.mark.resmon_limit(growth="100 MiB")
def test_past_its_limit():
    # A cache keeps 150 MiB after the test, over the limit: resmon fails the
    # test with the numbers, which is what the xfail expects.
    _cache["table"] = touch(150 * MiB)


@pytest.mark.requires_memory("64 TiB")
def test_needs_a_bigger_machine():
    raise AssertionError("never runs: skipped with the numbers in the reason")


def test_snapshot_and_delta():
    before = resmon.sample(full=True)
    data = touch(50 * MiB)
    resmon.log_resource_delta("after allocating 50 MiB", before)
    del data
