"""gpu: what the local GPUs are and how they are doing, as plain data (NVML or simulated)."""

from __future__ import annotations

from gpu.inventory import (
    APPLICATION_XIDS,
    XID_WINDOW_S,
    ConditionReason,
    ConditionType,
    GpuHealth,
    GpuInfo,
    GpuProcess,
    GpuSample,
    HealthTracker,
    Inventory,
    label_product,
    node_gpu_fields,
    schedulable_units,
)
from gpu.nvml import Nvml
from gpu.simulated import simulated_inventory, simulated_samples

__all__ = [
    "APPLICATION_XIDS",
    "XID_WINDOW_S",
    "ConditionReason",
    "ConditionType",
    "GpuHealth",
    "GpuInfo",
    "GpuProcess",
    "GpuSample",
    "HealthTracker",
    "Inventory",
    "Nvml",
    "label_product",
    "node_gpu_fields",
    "schedulable_units",
    "simulated_inventory",
    "simulated_samples",
]
