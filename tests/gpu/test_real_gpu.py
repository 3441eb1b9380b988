"""gpu.nvml on a real GPU: discovery fields, sane sample ranges, cost per tick."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from gpu import HealthTracker, Inventory, Nvml, node_gpu_fields

_probe = Nvml()
_INVENTORY = _probe.discover()
_probe.close()

pytestmark = pytest.mark.skipif(
    not _INVENTORY.gpus, reason=f"needs a real NVIDIA GPU; NVML says: {_INVENTORY.reason}")


@pytest.fixture(scope="module")
def nvml() -> Iterator[tuple[Nvml, Inventory]]:
    n = Nvml()
    inv = n.discover()
    yield n, inv
    n.close()


def test_discovery_fields_are_filled(nvml: tuple[Nvml, Inventory]) -> None:
    _, inv = nvml
    assert inv.driver_version and re.fullmatch(r"\d+(\.\d+)+", inv.driver_version)
    assert inv.cuda_driver_version and re.fullmatch(r"\d+\.\d+", inv.cuda_driver_version)
    for g in inv.gpus:
        assert g.uuid.startswith(("GPU-", "MIG-")), g
        assert g.product and g.product != "unknown", g
        assert g.memory_mib is not None and g.memory_mib > 0, g
        assert g.compute_capability and re.fullmatch(r"\d+\.\d+", g.compute_capability), g
        assert not g.simulated
    assert len({g.uuid for g in inv.gpus}) == len(inv.gpus)
    fields = node_gpu_fields(inv, {})
    assert fields["capacity"] >= 1 and fields["labels"]["nvidia.com/gpu.product"]
    print(inv.to_dict())


def test_samples_are_in_sane_ranges(nvml: tuple[Nvml, Inventory]) -> None:
    n, inv = nvml
    samples = n.sample()
    assert [s.uuid for s in samples] == [g.uuid for g in inv.gpus]
    total = {g.uuid: g.memory_mib for g in inv.gpus}
    for s in samples:
        print(s.to_dict())
        assert not s.lost, s
        for pct in (s.utilization_gpu, s.utilization_memory):
            assert pct is None or 0 <= pct <= 100, s
        if s.memory_used_mib is not None and s.memory_free_mib is not None:
            assert s.memory_used_mib + s.memory_free_mib <= (total[s.uuid] or 0) + 1, s
        assert s.temperature_c is None or 0 < s.temperature_c < 120, s
        assert s.power_w is None or 0 <= s.power_w < 2000, s
        assert s.power_limit_w is None or 0 < s.power_limit_w < 2000, s
        assert s.ecc_uncorrected is None or s.ecc_uncorrected >= 0, s
        assert all(p.pid > 0 for p in s.processes), s
    physical = [s for s, g in zip(samples, inv.gpus, strict=True) if g.parent_uuid is None]
    # A data-center GPU answers these; a field that is None here is a bug to look at.
    assert all(s.memory_used_mib is not None and s.temperature_c is not None
               and s.power_w is not None for s in physical), physical
    assert isinstance(HealthTracker().update(samples, time.time()), dict)


def test_sampling_cost(nvml: tuple[Nvml, Inventory], capsys: pytest.CaptureFixture[str]) -> None:
    n, inv = nvml
    ticks = 100
    start = time.perf_counter()
    for _ in range(ticks):
        n.sample()
    per_tick_us = (time.perf_counter() - start) / ticks * 1e6
    with capsys.disabled():
        print(f"\nreal NVML sample(): {per_tick_us:.0f} µs per tick, "
              f"{per_tick_us / len(inv.gpus):.0f} µs per GPU ({len(inv.gpus)} GPUs)")
    assert per_tick_us / len(inv.gpus) < 50_000  # a tick per second must stay cheap
