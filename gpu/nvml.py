"""The only door to NVML (pynvml): discovery and per-tick sampling, every call guarded."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from gpu.inventory import GpuInfo, GpuProcess, GpuSample, Inventory

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_EVENTS_PER_TICK = 64  # a storm of XIDs must not hold a tick up
_FAILED = object()

# pynvml's values, used when a module (an old pynvml, a fake) lacks the constant.
_DEFAULTS = {"NVML_TEMPERATURE_GPU": 0, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED": 1,
             "NVML_VOLATILE_ECC": 0, "NVML_DEVICE_MIG_ENABLE": 1,
             "nvmlEventTypeXidCriticalError": 0x8}

# NVMLError subclass -> the reason an empty inventory gives.
_INIT_REASONS = (
    ("NVMLError_LibraryNotFound", "NVML library not found"),
    ("NVMLError_DriverNotLoaded", "no NVIDIA driver"),
    ("NVMLError_NoPermission", "no permission to use NVML"),
    ("NVMLError_LibRmVersionMismatch", "NVML library and NVIDIA driver versions differ"),
    ("NVMLError_FunctionNotFound", "NVML library too old for this pynvml"),
)


class _GpuLost(Exception):
    """NVML answered GPU_IS_LOST: stop this device's batch and mark it lost."""


def _const(nv: Any, name: str) -> Any:
    return getattr(nv, name, _DEFAULTS[name])


def _is_error(nv: Any, err: BaseException, class_name: str) -> bool:
    cls = getattr(nv, class_name, None)
    return isinstance(cls, type) and isinstance(err, cls)


def _describe(err: BaseException) -> str:
    try:
        return str(err) or type(err).__name__
    except Exception:  # pynvml's __str__ asks the library, which may be the thing missing
        return type(err).__name__


def _call(nv: Any, name: str, *args: Any, default: Any = None) -> Any:
    """`nv.<name>(*args)`, or `default` when NVML can't say: not supported, any NVML
    error, a function this pynvml lacks. GPU_IS_LOST raises `_GpuLost` instead, so the
    caller stops asking a GPU that is gone. Every NVML call in sampling goes through here."""
    fn = getattr(nv, name, None)
    if fn is None:
        return default
    try:
        return fn(*args)
    except Exception as err:  # third-party ctypes code: any failure means "unknown"
        if _is_error(nv, err, "NVMLError_GpuIsLost"):
            raise _GpuLost(f"GPU is lost ({name})") from err
        return default


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _mib(value: Any) -> int | None:
    return None if value is None else int(value) // MIB


def _cuda_version(value: Any) -> str | None:
    """NVML's CUDA driver version 12040 as "12.4"."""
    if not isinstance(value, int) or value <= 0:
        return None
    return f"{value // 1000}.{value % 1000 // 10}"


def _capability(value: Any) -> str | None:
    try:
        major, minor = value
        return f"{int(major)}.{int(minor)}"
    except (TypeError, ValueError):
        return None


def _lost_sample(uuid: str, now: float, xids: tuple[int, ...]) -> GpuSample:
    return GpuSample(uuid=uuid, time=now, utilization_gpu=None, utilization_memory=None,
                     memory_used_mib=None, memory_free_mib=None, temperature_c=None,
                     power_w=None, power_limit_w=None, ecc_uncorrected=None, processes=(),
                     xids=xids, lost=True)


def _empty(reason: str, driver: str | None = None, cuda: str | None = None) -> Inventory:
    return Inventory(gpus=(), driver_version=driver, cuda_driver_version=cuda, reason=reason)


class Nvml:
    """NVML for one process: `discover()` the GPUs once, `sample()` them every tick.

    `module` is the pynvml module (tests pass a fake); None imports pynvml when first
    needed. Nothing here raises: NVML missing is an empty `Inventory` with a reason, a
    field a GPU can't give is None, a GPU that stops answering is a sample with `lost`.
    With the test fake, `sample()` costs about 15 µs per GPU per tick (8 NVML calls per GPU
    plus one 0 ms event wait); tests/gpu/test_real_gpu.py reports it on a real GPU."""

    def __init__(self, module: Any | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._module = module
        self._clock = clock
        self._initialized = False
        self._gpus: tuple[GpuInfo, ...] = ()
        self._events: Any | None = None

    def _nv(self) -> Any:
        if self._module is None:
            import pynvml  # type: ignore[import-untyped]  # tugboat's only pynvml import

            self._module = pynvml
        return self._module

    def discover(self) -> Inventory:
        """Initialize NVML (once) and list the GPUs and their MIG devices."""
        try:
            nv = self._nv()
        except Exception as err:
            return _empty(f"pynvml (nvidia-ml-py) cannot be imported: {_describe(err)}")
        if not self._initialized:
            try:
                nv.nvmlInit()
            except Exception as err:
                reason = next((text for cls, text in _INIT_REASONS if _is_error(nv, err, cls)),
                              f"NVML failed to initialize: {_describe(err)}")
                return _empty(reason)
            self._initialized = True
        try:
            return self._discover(nv)
        except Exception as err:  # the last guard: discovery never raises
            log.warning("NVML discovery failed: %s", _describe(err), exc_info=True)
            return _empty(f"NVML discovery failed: {_describe(err)}")

    def _discover(self, nv: Any) -> Inventory:
        driver = _text(_call(nv, "nvmlSystemGetDriverVersion"))
        cuda = _cuda_version(_call(nv, "nvmlSystemGetCudaDriverVersion"))
        try:
            count = int(nv.nvmlDeviceGetCount())
        except Exception as err:
            self._gpus = ()
            return _empty(f"NVML could not count the GPUs: {_describe(err)}", driver, cuda)
        gpus: list[GpuInfo] = []
        skipped: list[str] = []
        for index in range(count):
            try:
                gpus.extend(self._discover_gpu(nv, index))
            except Exception as err:
                skipped.append(f"GPU {index}: {_describe(err)}")
        self._gpus = tuple(gpus)
        self._register_events(nv)
        reason = None
        if count == 0:
            reason = "no GPUs found"
        elif not gpus:
            reason = f"none of the {count} GPUs answered NVML ({'; '.join(skipped)})"
        elif skipped:
            reason = f"skipped {'; '.join(skipped)}"
        return Inventory(gpus=self._gpus, driver_version=driver, cuda_driver_version=cuda,
                         reason=reason)

    def _discover_gpu(self, nv: Any, index: int) -> list[GpuInfo]:
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        uuid = _text(nv.nvmlDeviceGetUUID(handle))
        if not uuid:
            raise ValueError("NVML gave no UUID")
        mem = _call(nv, "nvmlDeviceGetMemoryInfo", handle)
        capability = _capability(_call(nv, "nvmlDeviceGetCudaComputeCapability", handle))
        modes = _call(nv, "nvmlDeviceGetMigMode", handle)
        mig = None if not modes else modes[0] == _const(nv, "NVML_DEVICE_MIG_ENABLE")
        product = _text(_call(nv, "nvmlDeviceGetName", handle)) or "unknown"
        out = [GpuInfo(index=index, uuid=uuid, product=product,
                       memory_mib=_mib(getattr(mem, "total", None)),
                       compute_capability=capability, mig_mode=mig)]
        if not mig:
            return out
        for slot in range(int(_call(nv, "nvmlDeviceGetMaxMigDeviceCount", handle) or 0)):
            mig_handle = _call(nv, "nvmlDeviceGetMigDeviceHandleByIndex", handle, slot)
            mig_uuid = _text(_call(nv, "nvmlDeviceGetUUID", mig_handle)) if mig_handle else None
            if not mig_uuid:  # an empty slot answers NOT_FOUND
                continue
            mig_mem = _call(nv, "nvmlDeviceGetMemoryInfo", mig_handle)
            out.append(GpuInfo(
                index=index, uuid=mig_uuid,
                product=_text(_call(nv, "nvmlDeviceGetName", mig_handle)) or f"{product} MIG",
                memory_mib=_mib(getattr(mig_mem, "total", None)),
                compute_capability=capability, mig_mode=None, parent_uuid=uuid,
                mig_index=slot))
        return out

    def _register_events(self, nv: Any) -> None:
        """One event set for critical XIDs on every physical GPU that offers them."""
        self._free_events(nv)
        events = _call(nv, "nvmlEventSetCreate")
        if events is None:
            return
        xid = _const(nv, "nvmlEventTypeXidCriticalError")
        registered = 0
        for gpu in self._gpus:
            if gpu.parent_uuid is not None:
                continue
            try:
                handle = _call(nv, "nvmlDeviceGetHandleByUUID", gpu.uuid)
                if handle is not None and _call(nv, "nvmlDeviceRegisterEvents", handle, xid,
                                                events, default=_FAILED) is not _FAILED:
                    registered += 1
            except _GpuLost:
                continue
        self._events = events
        if not registered:
            self._free_events(nv)

    def _free_events(self, nv: Any) -> None:
        if self._events is not None:
            _call(nv, "nvmlEventSetFree", self._events)
            self._events = None

    def _drain_xids(self, nv: Any) -> dict[str, list[int]]:
        """The critical XIDs pending now, by GPU uuid; waits 0 ms."""
        out: dict[str, list[int]] = {}
        if self._events is None:
            return out
        xid_type = _const(nv, "nvmlEventTypeXidCriticalError")
        for _ in range(MAX_EVENTS_PER_TICK):
            try:
                data = nv.nvmlEventSetWait(self._events, 0)
            except Exception:  # TIMEOUT: nothing pending; anything else: next tick
                break
            if not int(getattr(data, "eventType", 0)) & xid_type:
                continue
            try:
                uuid = _text(_call(nv, "nvmlDeviceGetUUID", getattr(data, "device", None)))
            except _GpuLost:
                uuid = None
            if uuid is None and len([g for g in self._gpus if g.parent_uuid is None]) == 1:
                uuid = self._gpus[0].uuid  # one GPU: the XID can only be its
            if uuid is not None:
                out.setdefault(uuid, []).append(int(getattr(data, "eventData", 0)))
        return out

    def sample(self) -> list[GpuSample]:
        """One sample per discovered GPU and MIG device, each taken in one batch."""
        if not self._initialized or not self._gpus:
            return []
        nv = self._nv()
        now = self._clock()
        try:
            xids = self._drain_xids(nv)
        except Exception:
            log.warning("NVML XID events failed", exc_info=True)
            xids = {}
        return [self._sample_gpu(nv, gpu.uuid, now, tuple(xids.get(gpu.uuid, ())))
                for gpu in self._gpus]

    def _sample_gpu(self, nv: Any, uuid: str, now: float, xids: tuple[int, ...]) -> GpuSample:
        try:
            handle = nv.nvmlDeviceGetHandleByUUID(uuid)
        except Exception:  # GPU_IS_LOST, or NOT_FOUND: its uuid is gone
            return _lost_sample(uuid, now, xids)
        try:
            util = _call(nv, "nvmlDeviceGetUtilizationRates", handle)
            mem = _call(nv, "nvmlDeviceGetMemoryInfo", handle)
            temp = _call(nv, "nvmlDeviceGetTemperature", handle,
                         _const(nv, "NVML_TEMPERATURE_GPU"))
            power = _call(nv, "nvmlDeviceGetPowerUsage", handle)
            limit = _call(nv, "nvmlDeviceGetEnforcedPowerLimit", handle)
            ecc = _call(nv, "nvmlDeviceGetTotalEccErrors", handle,
                        _const(nv, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED"),
                        _const(nv, "NVML_VOLATILE_ECC"))
            procs = _call(nv, "nvmlDeviceGetComputeRunningProcesses", handle)
        except _GpuLost:
            return _lost_sample(uuid, now, xids)
        try:
            return GpuSample(
                uuid=uuid, time=now,
                utilization_gpu=_int(getattr(util, "gpu", None)),
                utilization_memory=_int(getattr(util, "memory", None)),
                memory_used_mib=_mib(getattr(mem, "used", None)),
                memory_free_mib=_mib(getattr(mem, "free", None)),
                temperature_c=_int(temp),
                power_w=None if power is None else float(power) / 1000.0,
                power_limit_w=None if limit is None else float(limit) / 1000.0,
                ecc_uncorrected=_int(ecc),
                processes=tuple(GpuProcess(pid=int(p.pid),
                                           used_memory_mib=_mib(getattr(p, "usedGpuMemory", None)))
                                for p in procs or ()),
                xids=xids)
        except (TypeError, ValueError, AttributeError):  # a value NVML should never give
            log.warning("odd NVML values for %s", uuid, exc_info=True)
            return GpuSample(uuid=uuid, time=now, utilization_gpu=None, utilization_memory=None,
                             memory_used_mib=None, memory_free_mib=None, temperature_c=None,
                             power_w=None, power_limit_w=None, ecc_uncorrected=None,
                             processes=(), xids=xids)

    def close(self) -> None:
        """Free the event set and shut NVML down; safe to call twice."""
        if not self._initialized:
            return
        nv = self._nv()
        try:
            self._free_events(nv)
            _call(nv, "nvmlShutdown")
        except _GpuLost:
            pass
        finally:
            self._events = None
            self._initialized = False
            self._gpus = ()

    def __enter__(self) -> Nvml:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
