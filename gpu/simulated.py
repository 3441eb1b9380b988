"""Simulated GPUs: declared on a machine without them, every measurement unknown."""

from __future__ import annotations

from collections.abc import Sequence

from gpu.inventory import GpuInfo, GpuSample, Inventory

DEFAULT_PRODUCT = "Simulated GPU"
DEFAULT_MEMORY_MIB = 81920


def simulated_inventory(count: int, *, product: str = DEFAULT_PRODUCT,
                        memory_mib: int = DEFAULT_MEMORY_MIB, node: str = "node",
                        models: Sequence[tuple[str, int]] = ()) -> Inventory:
    """`count` GPUs named `GPU-sim-<node>-<index>`, each marked simulated; `models` gives each
    index its own (product, memory MiB) on a node with GPUs of several kinds."""
    if count < 0:
        raise ValueError(f"simulated GPU count must be >= 0, got {count}")
    if memory_mib < 0:
        raise ValueError(f"simulated GPU memory_mib must be >= 0, got {memory_mib}")
    kinds = list(models)[:count] + [(product, memory_mib)] * (count - len(models))
    gpus = tuple(GpuInfo(index=i, uuid=f"GPU-sim-{node}-{i}", product=kind[0],
                         memory_mib=kind[1], compute_capability=None, mig_mode=None,
                         simulated=True)
                 for i, kind in enumerate(kinds))
    return Inventory(gpus=gpus, driver_version=None, cuda_driver_version=None, reason=None,
                     simulated=True)


def simulated_samples(inv: Inventory, now: float) -> list[GpuSample]:
    """One sample per simulated GPU with every measurement None: nothing is invented."""
    return [GpuSample(uuid=g.uuid, time=now, utilization_gpu=None, utilization_memory=None,
                      memory_used_mib=None, memory_free_mib=None, temperature_c=None,
                      power_w=None, power_limit_w=None, ecc_uncorrected=None,
                      processes=(), xids=())
            for g in inv.gpus]
