"""gpu.inventory: JSON round trips, HealthTracker transitions and the Node GPU fields."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gpu import (
    GpuInfo,
    GpuProcess,
    GpuSample,
    HealthTracker,
    Inventory,
    label_product,
    node_gpu_fields,
    simulated_inventory,
)


def gpu(index: int, uuid: str | None = None, **kw: object) -> GpuInfo:
    fields: dict[str, object] = {"product": "NVIDIA H100 80GB HBM3", "memory_mib": 81559,
                                 "compute_capability": "9.0", "mig_mode": False}
    fields.update(kw)
    return GpuInfo(index, uuid or f"GPU-{index}", **fields)  # type: ignore[arg-type]


def inventory(*gpus: GpuInfo) -> Inventory:
    return Inventory(gpus=gpus, driver_version="550.54.15", cuda_driver_version="12.4",
                     reason=None)


def sample(uuid: str, *, ecc: int | None = 0, xids: tuple[int, ...] = (),
           lost: bool = False, time: float = 0.0) -> GpuSample:
    return GpuSample(uuid=uuid, time=time, utilization_gpu=10, utilization_memory=5,
                     memory_used_mib=100, memory_free_mib=900, temperature_c=40, power_w=80.5,
                     power_limit_w=300.0, ecc_uncorrected=ecc,
                     processes=(GpuProcess(1, 50), GpuProcess(2, None)), xids=xids, lost=lost)


# --- round trips -------------------------------------------------------------------------

def test_inventory_round_trips_through_json() -> None:
    inv = Inventory(gpus=(gpu(0, mig_mode=True),
                          gpu(0, "MIG-a", parent_uuid="GPU-0", mig_index=1, mig_mode=None,
                              memory_mib=None, compute_capability=None)),
                    driver_version="550", cuda_driver_version="12.4", reason=None)
    data = json.loads(json.dumps(inv.to_dict()))
    assert set(data) == {"gpus", "driverVersion", "cudaDriverVersion", "reason", "simulated"}
    assert data["gpus"][1]["parentUuid"] == "GPU-0" and data["gpus"][0]["memoryMiB"] == 81559
    assert Inventory.from_dict(data) == inv


def test_empty_and_simulated_inventories_round_trip() -> None:
    empty = Inventory(gpus=(), driver_version=None, cuda_driver_version=None,
                      reason="NVML library not found")
    sim = simulated_inventory(2, node="n1")
    for inv in (empty, sim):
        assert Inventory.from_dict(json.loads(json.dumps(inv.to_dict()))) == inv


def test_sample_round_trips_through_json() -> None:
    s = sample("GPU-0", xids=(79,), lost=False, time=12.5)
    data = json.loads(json.dumps(s.to_dict()))
    assert data["processes"] == [{"pid": 1, "usedMemoryMiB": 50}, {"pid": 2, "usedMemoryMiB": None}]
    assert data["memoryUsedMiB"] == 100 and data["powerLimitW"] == 300.0
    assert GpuSample.from_dict(data) == s
    unknown = GpuSample("GPU-1", 1.0, None, None, None, None, None, None, None, None, (), (),
                        lost=True)
    assert GpuSample.from_dict(unknown.to_dict()) == unknown


# --- health ------------------------------------------------------------------------------

def test_ecc_stays_unhealthy_until_the_count_resets() -> None:
    t = HealthTracker()
    assert t.update([sample("GPU-0", ecc=0)], 0) == {}
    assert t.update([sample("GPU-0", ecc=1)], 1) == {"GPU-0": "1 volatile uncorrected ECC error(s)"}
    assert "GPU-0" in t.update([sample("GPU-0", ecc=None)], 2)  # unknown keeps the last count
    assert "GPU-0" in t.update([sample("GPU-0", ecc=3)], 3)
    assert t.update([sample("GPU-0", ecc=0)], 4) == {}


def test_xid_window_since_the_last_xid() -> None:
    t = HealthTracker(xid_window_s=300)
    assert t.update([sample("GPU-0", xids=(79,))], 1000) == {
        "GPU-0": "critical XID 79 (healthy again 300s after the last one)"}
    assert "GPU-0" in t.update([sample("GPU-0")], 1299)
    assert "GPU-0" in t.update([sample("GPU-0", xids=(48,))], 1200)  # a new one restarts it
    assert "XID 48" in t.update([sample("GPU-0")], 1499)["GPU-0"]
    assert t.update([sample("GPU-0")], 1500) == {}


def test_application_xids_are_ignored_by_default() -> None:
    assert HealthTracker().update([sample("GPU-0", xids=(13, 31, 43, 45, 68))], 0) == {}
    strict = HealthTracker(ignored_xids=())
    assert "XID 31" in strict.update([sample("GPU-0", xids=(31,))], 0)["GPU-0"]


def test_lost_until_it_answers_again() -> None:
    t = HealthTracker()
    t.update([sample("GPU-0", ecc=0)], 0)
    assert t.update([sample("GPU-0", lost=True, ecc=None)], 1) == {
        "GPU-0": "GPU is lost: NVML stopped answering for it"}
    assert t.update([sample("GPU-0")], 2) == {}


def test_reasons_combine_and_missing_gpus_are_forgotten() -> None:
    t = HealthTracker()
    bad = t.update([sample("GPU-0", ecc=2, xids=(79,)), sample("GPU-1")], 0)
    assert bad == {"GPU-0": "2 volatile uncorrected ECC error(s); critical XID 79 "
                            "(healthy again 300s after the last one)"}
    assert t.update([sample("GPU-1")], 1) == {}
    assert t.update([sample("GPU-0", ecc=None)], 2) == {}  # forgotten: no stale ECC count


# --- node fields -------------------------------------------------------------------------

def test_node_fields_for_an_empty_inventory_without_reason() -> None:
    inv = Inventory(gpus=(), driver_version=None, cuda_driver_version=None, reason=None)
    assert node_gpu_fields(inv, {}) == {"capacity": 0, "allocatable": 0, "labels": {},
                                       "gpus": [], "conditions": []}


def test_node_fields_for_nvml_missing() -> None:
    inv = Inventory(gpus=(), driver_version=None, cuda_driver_version=None,
                    reason="no NVIDIA driver")
    fields = node_gpu_fields(inv, {"GPU-x": "stale"})
    assert (fields["capacity"], fields["allocatable"], fields["labels"]) == (0, 0, {})
    assert fields["conditions"] == [{"type": "NVMLAvailable", "status": "False",
                                     "reason": "NVMLUnavailable", "message": "no NVIDIA driver"}]


def test_node_fields_for_real_gpus() -> None:
    fields = node_gpu_fields(inventory(gpu(0), gpu(1)), {})
    assert (fields["capacity"], fields["allocatable"]) == (2, 2)
    assert fields["labels"] == {"nvidia.com/gpu.count": "2",
                                "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
                                "nvidia.com/gpu.memory": "81559"}
    assert fields["gpus"][0] == {"index": 0, "uuid": "GPU-0", "product": "NVIDIA H100 80GB HBM3",
                                 "memoryMiB": 81559, "health": "Healthy"}
    assert [c["type"] for c in fields["conditions"]] == ["NVMLAvailable", "GPUHealthy"]
    assert fields["conditions"][0]["status"] == "True"
    assert fields["conditions"][1] == {"type": "GPUHealthy", "status": "True",
                                       "reason": "AllGPUsHealthy",
                                       "message": "all 2 GPUs healthy"}
    json.dumps(fields)


def test_node_fields_for_unhealthy_gpus() -> None:
    fields = node_gpu_fields(inventory(gpu(0), gpu(1), gpu(2)),
                             {"GPU-1": "critical XID 79", "GPU-9": "not on this node"})
    assert (fields["capacity"], fields["allocatable"]) == (3, 2)
    assert fields["gpus"][1]["health"] == "Unhealthy"
    assert fields["gpus"][1]["reason"] == "critical XID 79"
    assert "reason" not in fields["gpus"][0]
    healthy = fields["conditions"][-1]
    assert (healthy["type"], healthy["status"], healthy["reason"]) == (
        "GPUHealthy", "False", "GPUUnhealthy")
    assert healthy["message"] == "1/3 GPUs unhealthy: GPU 1 (GPU-1): critical XID 79"


def test_node_fields_for_simulated_gpus() -> None:
    fields = node_gpu_fields(simulated_inventory(2, product="Sim A100", memory_mib=40960,
                                                 node="w1"), {})
    assert (fields["capacity"], fields["allocatable"]) == (2, 2)
    assert fields["labels"] == {"nvidia.com/gpu.count": "2", "nvidia.com/gpu.product": "Sim-A100",
                                "nvidia.com/gpu.memory": "40960",
                                "tugboat.dev/gpu-simulated": "true"}
    assert all(g["simulated"] is True for g in fields["gpus"])
    assert [c["type"] for c in fields["conditions"]] == ["GPUHealthy"]  # no NVML involved


def test_node_fields_mig_parent_replaced_and_health_inherited() -> None:
    inv = inventory(
        gpu(0, mig_mode=True),
        gpu(0, "MIG-a", product="NVIDIA H100 80GB HBM3 MIG 1g.10gb", memory_mib=9856,
            parent_uuid="GPU-0", mig_index=0, mig_mode=None),
        gpu(0, "MIG-b", product="NVIDIA H100 80GB HBM3 MIG 1g.10gb", memory_mib=9856,
            parent_uuid="GPU-0", mig_index=1, mig_mode=None),
        gpu(1, mig_mode=True),  # MIG on, no instances yet: nothing to schedule
    )
    fields = node_gpu_fields(inv, {})
    assert fields["capacity"] == 2
    assert fields["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb"
    assert fields["labels"]["nvidia.com/gpu.memory"] == "9856"
    assert fields["gpus"][1]["parentUuid"] == "GPU-0" and fields["gpus"][1]["migIndex"] == 1
    sick = node_gpu_fields(inv, {"GPU-0": "2 volatile uncorrected ECC error(s)"})
    assert sick["allocatable"] == 0
    assert "GPU 0 MIG 1 (MIG-b)" in sick["conditions"][-1]["message"]


def test_node_fields_no_memory_label_when_unknown() -> None:
    fields = node_gpu_fields(inventory(gpu(0, memory_mib=None)), {})
    assert "nvidia.com/gpu.memory" not in fields["labels"]
    assert fields["gpus"][0]["memoryMiB"] is None


def test_node_fields_mention_a_skipped_gpu() -> None:
    inv = replace(inventory(gpu(0)), reason="skipped GPU 1: GpuIsLost")
    fields = node_gpu_fields(inv, {})
    assert fields["capacity"] == 1
    assert fields["conditions"][0]["message"] == (
        "driver 550.54.15, CUDA 12.4; skipped GPU 1: GpuIsLost")


@pytest.mark.parametrize(("product", "label"), [
    ("NVIDIA H100 80GB HBM3", "NVIDIA-H100-80GB-HBM3"),
    ("Tesla T4", "Tesla-T4"),
    ("NVIDIA GeForce RTX 4090 (laptop)", "NVIDIA-GeForce-RTX-4090-laptop"),
    (" spaced ", "spaced"),
    ("x" * 80, "x" * 63),
])
def test_label_product(product: str, label: str) -> None:
    assert label_product(product) == label
