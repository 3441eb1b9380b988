"""gpu.simulated: declared GPUs with a name and memory, and no invented measurements."""

from __future__ import annotations

import pytest

from gpu import HealthTracker, simulated_inventory, simulated_samples


def test_simulated_inventory() -> None:
    inv = simulated_inventory(3, product="Sim H100", memory_mib=1024, node="worker-1")
    assert inv.simulated and inv.reason is None
    assert inv.driver_version is None and inv.cuda_driver_version is None
    assert [g.uuid for g in inv.gpus] == [f"GPU-sim-worker-1-{i}" for i in range(3)]
    assert [g.index for g in inv.gpus] == [0, 1, 2]
    for g in inv.gpus:
        assert g.simulated and g.product == "Sim H100" and g.memory_mib == 1024
        assert g.compute_capability is None and g.mig_mode is None and g.parent_uuid is None


def test_defaults() -> None:
    g = simulated_inventory(1).gpus[0]
    assert (g.uuid, g.product, g.memory_mib) == ("GPU-sim-node-0", "Simulated GPU", 81920)


def test_zero_simulated_gpus() -> None:
    inv = simulated_inventory(0)
    assert inv.gpus == () and inv.simulated and simulated_samples(inv, 1.0) == []


@pytest.mark.parametrize(("count", "memory_mib"), [(-1, 1024), (1, -5)])
def test_bad_declarations(count: int, memory_mib: int) -> None:
    with pytest.raises(ValueError, match="simulated GPU"):
        simulated_inventory(count, memory_mib=memory_mib)


def test_simulated_numbers_are_none() -> None:
    samples = simulated_samples(simulated_inventory(2), 42.0)
    assert [s.uuid for s in samples] == ["GPU-sim-node-0", "GPU-sim-node-1"]
    for s in samples:
        assert s.time == 42.0 and not s.lost
        assert s.processes == () and s.xids == ()
        for name in ("utilization_gpu", "utilization_memory", "memory_used_mib",
                     "memory_free_mib", "temperature_c", "power_w", "power_limit_w",
                     "ecc_uncorrected"):
            assert getattr(s, name) is None, name
        assert all(v is None for k, v in s.to_dict().items()
                   if k not in ("uuid", "time", "processes", "xids", "lost"))


def test_simulated_gpus_stay_healthy() -> None:
    inv = simulated_inventory(2)
    tracker = HealthTracker()
    for now in range(5):
        assert tracker.update(simulated_samples(inv, float(now)), float(now)) == {}
