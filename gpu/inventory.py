"""GPU data as plain frozen dataclasses: inventory, samples, health and the Node fields."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# XIDs that NVIDIA's k8s-device-plugin treats as application errors: a user's kernel
# faulted, the GPU itself is fine.
APPLICATION_XIDS: frozenset[int] = frozenset({13, 31, 43, 45, 68})
XID_WINDOW_S = 300.0


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class GpuInfo:
    """One GPU (or MIG device, then `parent_uuid` names its GPU) as discovery found it.

    A MIG device keeps its parent's `index`; `mig_index` is its slot on that parent."""

    index: int
    uuid: str
    product: str
    memory_mib: int | None
    compute_capability: str | None
    mig_mode: bool | None
    parent_uuid: str | None = None
    simulated: bool = False
    mig_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "uuid": self.uuid, "product": self.product,
                "memoryMiB": self.memory_mib, "computeCapability": self.compute_capability,
                "migMode": self.mig_mode, "parentUuid": self.parent_uuid,
                "simulated": self.simulated, "migIndex": self.mig_index}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GpuInfo:
        mig = data.get("migMode")
        return cls(index=int(data["index"]), uuid=str(data["uuid"]),
                   product=str(data.get("product") or ""),
                   memory_mib=_opt_int(data.get("memoryMiB")),
                   compute_capability=data.get("computeCapability"),
                   mig_mode=None if mig is None else bool(mig),
                   parent_uuid=data.get("parentUuid"),
                   simulated=bool(data.get("simulated", False)),
                   mig_index=_opt_int(data.get("migIndex")))


@dataclass(frozen=True)
class GpuProcess:
    """A compute process on a GPU; `used_memory_mib` is None where NVML can't tell."""

    pid: int
    used_memory_mib: int | None


@dataclass(frozen=True)
class GpuSample:
    """One tick's measurements of one GPU, taken in one batch; None is "n/a"."""

    uuid: str
    time: float
    utilization_gpu: int | None
    utilization_memory: int | None
    memory_used_mib: int | None
    memory_free_mib: int | None
    temperature_c: int | None
    power_w: float | None
    power_limit_w: float | None
    ecc_uncorrected: int | None
    processes: tuple[GpuProcess, ...]
    xids: tuple[int, ...]
    lost: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "time": self.time,
                "utilizationGpu": self.utilization_gpu,
                "utilizationMemory": self.utilization_memory,
                "memoryUsedMiB": self.memory_used_mib, "memoryFreeMiB": self.memory_free_mib,
                "temperatureC": self.temperature_c, "powerW": self.power_w,
                "powerLimitW": self.power_limit_w, "eccUncorrected": self.ecc_uncorrected,
                "processes": [{"pid": p.pid, "usedMemoryMiB": p.used_memory_mib}
                              for p in self.processes],
                "xids": list(self.xids), "lost": self.lost}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GpuSample:
        return cls(uuid=str(data["uuid"]), time=float(data["time"]),
                   utilization_gpu=_opt_int(data.get("utilizationGpu")),
                   utilization_memory=_opt_int(data.get("utilizationMemory")),
                   memory_used_mib=_opt_int(data.get("memoryUsedMiB")),
                   memory_free_mib=_opt_int(data.get("memoryFreeMiB")),
                   temperature_c=_opt_int(data.get("temperatureC")),
                   power_w=_opt_float(data.get("powerW")),
                   power_limit_w=_opt_float(data.get("powerLimitW")),
                   ecc_uncorrected=_opt_int(data.get("eccUncorrected")),
                   processes=tuple(GpuProcess(int(p["pid"]), _opt_int(p.get("usedMemoryMiB")))
                                   for p in data.get("processes") or ()),
                   xids=tuple(int(x) for x in data.get("xids") or ()),
                   lost=bool(data.get("lost", False)))


@dataclass(frozen=True)
class Inventory:
    """A machine's GPUs; empty with a `reason` when NVML, the driver or the GPUs are missing."""

    gpus: tuple[GpuInfo, ...]
    driver_version: str | None
    cuda_driver_version: str | None
    reason: str | None
    simulated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"gpus": [g.to_dict() for g in self.gpus], "driverVersion": self.driver_version,
                "cudaDriverVersion": self.cuda_driver_version, "reason": self.reason,
                "simulated": self.simulated}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Inventory:
        return cls(gpus=tuple(GpuInfo.from_dict(g) for g in data.get("gpus") or ()),
                   driver_version=data.get("driverVersion"),
                   cuda_driver_version=data.get("cudaDriverVersion"),
                   reason=data.get("reason"), simulated=bool(data.get("simulated", False)))


class HealthTracker:
    """Which GPUs are unhealthy, from a stream of sample batches (time is passed in).

    The rules, kept simple on purpose:
    - ECC: volatile uncorrected count > 0 is unhealthy until the count goes back to 0 (a
      GPU reset or driver reload clears it). A tick where the count is unknown keeps the
      last known count.
    - XID: a critical XID (other than `ignored_xids`, application errors by default) makes
      the GPU unhealthy until `xid_window_s` (default 5 min) has passed since the last one.
    - Lost: unhealthy while its sample says `lost`, healthy again once it answers.
    Each `update` gets every GPU of the node; a uuid missing from a batch is forgotten.
    """

    def __init__(self, *, xid_window_s: float = XID_WINDOW_S,
                 ignored_xids: Iterable[int] = APPLICATION_XIDS) -> None:
        self.xid_window_s = xid_window_s
        self.ignored_xids = frozenset(ignored_xids)
        self._ecc: dict[str, int] = {}
        self._xid: dict[str, tuple[float, int]] = {}  # uuid -> (time, xid) of the last one
        self._lost: set[str] = set()

    def update(self, samples: list[GpuSample], now: float) -> dict[str, str]:
        """Take one batch in; return {uuid: reason} for the GPUs unhealthy at `now`."""
        seen = {s.uuid for s in samples}
        for table in (self._ecc, self._xid):
            for uuid in [u for u in table if u not in seen]:
                del table[uuid]
        self._lost &= seen
        for s in samples:
            if s.lost:
                self._lost.add(s.uuid)
                continue
            self._lost.discard(s.uuid)
            if s.ecc_uncorrected is not None:
                self._ecc[s.uuid] = s.ecc_uncorrected
            critical = [x for x in s.xids if x not in self.ignored_xids]
            if critical:
                self._xid[s.uuid] = (now, critical[-1])
        out: dict[str, str] = {}
        for uuid in sorted(seen):
            reasons = []
            if uuid in self._lost:
                reasons.append("GPU is lost: NVML stopped answering for it")
            if self._ecc.get(uuid, 0) > 0:
                reasons.append(f"{self._ecc[uuid]} volatile uncorrected ECC error(s)")
            last = self._xid.get(uuid)
            if last is not None and now - last[0] < self.xid_window_s:
                reasons.append(f"critical XID {last[1]} (healthy again "
                               f"{self.xid_window_s:g}s after the last one)")
            if reasons:
                out[uuid] = "; ".join(reasons)
        return out


class ConditionType(StrEnum):
    GPU_HEALTHY = "GPUHealthy"
    NVML_AVAILABLE = "NVMLAvailable"


class ConditionReason(StrEnum):
    ALL_GPUS_HEALTHY = "AllGPUsHealthy"
    GPU_UNHEALTHY = "GPUUnhealthy"
    NVML_AVAILABLE = "NVMLAvailable"
    NVML_UNAVAILABLE = "NVMLUnavailable"


class GpuHealth(StrEnum):
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"


LABEL_COUNT = "nvidia.com/gpu.count"
LABEL_PRODUCT = "nvidia.com/gpu.product"
LABEL_MEMORY = "nvidia.com/gpu.memory"
LABEL_SIMULATED = "tugboat.dev/gpu-simulated"


def label_product(product: str) -> str:
    """`product` as a label value: spaces to '-' as GPU feature discovery does, then only
    the characters a label value allows, at most 63."""
    value = re.sub(r"[^A-Za-z0-9._-]", "", product.strip().replace(" ", "-"))[:63]
    return value.strip("-_.")


def schedulable_units(inv: Inventory) -> list[GpuInfo]:
    """What a pod can get: the GPUs, with a MIG-enabled GPU replaced by its MIG devices
    (none when it has none yet)."""
    present = {g.uuid for g in inv.gpus}
    units: list[GpuInfo] = []
    for g in inv.gpus:
        if g.parent_uuid is None:
            if g.mig_mode:
                units.extend(c for c in inv.gpus if c.parent_uuid == g.uuid)
            else:
                units.append(g)
        elif g.parent_uuid not in present:
            units.append(g)
    return units


def node_gpu_fields(inv: Inventory, unhealthy: dict[str, str]) -> dict[str, Any]:
    """The GPU part of a Node: capacity, allocatable, labels, per-GPU status, conditions.

    A MIG device is unhealthy when it or its parent GPU is. Labels describe the first unit
    (GFD "single" strategy: a MIG node is labelled with its MIG profile's product)."""
    units = schedulable_units(inv)
    simulated = inv.simulated or any(g.simulated for g in units)
    gpus: list[dict[str, Any]] = []
    bad: list[str] = []
    for g in units:
        reason = unhealthy.get(g.uuid) or (unhealthy.get(g.parent_uuid) if g.parent_uuid else None)
        entry: dict[str, Any] = {
            "index": g.index, "uuid": g.uuid, "product": g.product, "memoryMiB": g.memory_mib,
            "health": GpuHealth.UNHEALTHY.value if reason else GpuHealth.HEALTHY.value}
        if reason:
            entry["reason"] = reason
            bad.append(f"GPU {g.index}{'' if g.mig_index is None else f' MIG {g.mig_index}'} "
                       f"({g.uuid}): {reason}")
        if g.parent_uuid is not None:
            entry["parentUuid"] = g.parent_uuid
            entry["migIndex"] = g.mig_index
        if g.simulated or inv.simulated:
            entry["simulated"] = True
        gpus.append(entry)
    labels: dict[str, str] = {}
    if units:
        labels[LABEL_COUNT] = str(len(units))
        labels[LABEL_PRODUCT] = label_product(units[0].product)
        if units[0].memory_mib is not None:
            labels[LABEL_MEMORY] = str(units[0].memory_mib)
        if simulated:
            labels[LABEL_SIMULATED] = "true"
    conditions: list[dict[str, str]] = []
    if not inv.gpus and inv.reason:
        conditions.append({"type": ConditionType.NVML_AVAILABLE.value, "status": "False",
                           "reason": ConditionReason.NVML_UNAVAILABLE.value,
                           "message": inv.reason})
    elif inv.gpus and not inv.simulated:
        conditions.append({"type": ConditionType.NVML_AVAILABLE.value, "status": "True",
                           "reason": ConditionReason.NVML_AVAILABLE.value,
                           "message": f"driver {inv.driver_version or 'n/a'}, "
                                      f"CUDA {inv.cuda_driver_version or 'n/a'}"
                                      + (f"; {inv.reason}" if inv.reason else "")})
    if units:
        if bad:
            conditions.append({"type": ConditionType.GPU_HEALTHY.value, "status": "False",
                               "reason": ConditionReason.GPU_UNHEALTHY.value,
                               "message": f"{len(bad)}/{len(units)} GPUs unhealthy: "
                                          + "; ".join(bad)})
        else:
            conditions.append({"type": ConditionType.GPU_HEALTHY.value, "status": "True",
                               "reason": ConditionReason.ALL_GPUS_HEALTHY.value,
                               "message": f"all {len(units)} GPUs healthy"})
    return {"capacity": len(units), "allocatable": len(units) - len(bad), "labels": labels,
            "gpus": gpus, "conditions": conditions}
