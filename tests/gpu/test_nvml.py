"""gpu.nvml against a fake pynvml: discovery, sampling and every way NVML can fail."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from gpu import HealthTracker, Nvml, node_gpu_fields

MIB = 1024 * 1024


# --- the fake pynvml --------------------------------------------------------------------

class NVMLError(Exception):
    value = 999

    def __str__(self) -> str:
        return type(self).__name__.removeprefix("NVMLError_")


def _error(name: str, value: int) -> type[NVMLError]:
    return type(f"NVMLError_{name}", (NVMLError,), {"value": value})


NotSupported = _error("NotSupported", 3)
NoPermission = _error("NoPermission", 4)
NotFound = _error("NotFound", 6)
DriverNotLoaded = _error("DriverNotLoaded", 9)
Timeout = _error("Timeout", 10)
LibraryNotFound = _error("LibraryNotFound", 12)
GpuIsLost = _error("GpuIsLost", 15)
Unknown = _error("Unknown", 999)
ERRORS = (NotSupported, NoPermission, NotFound, DriverNotLoaded, Timeout, LibraryNotFound,
          GpuIsLost, Unknown)

FIELD_FUNCTIONS = {  # sampled NVML function -> GpuSample fields it fills
    "nvmlDeviceGetUtilizationRates": ("utilization_gpu", "utilization_memory"),
    "nvmlDeviceGetMemoryInfo": ("memory_used_mib", "memory_free_mib"),
    "nvmlDeviceGetTemperature": ("temperature_c",),
    "nvmlDeviceGetPowerUsage": ("power_w",),
    "nvmlDeviceGetEnforcedPowerLimit": ("power_limit_w",),
    "nvmlDeviceGetTotalEccErrors": ("ecc_uncorrected",),
    "nvmlDeviceGetComputeRunningProcesses": ("processes",),
}


@dataclass
class FakeGpu:
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    total: int = 81559 * MIB
    used: int = 1024 * MIB
    util: tuple[int, int] = (42, 17)
    temp: int = 55
    power_mw: int = 123_456
    limit_mw: int = 700_000
    ecc: int = 0
    procs: list[tuple[int, int | None]] = field(default_factory=lambda: [(4242, 512 * MIB)])
    mig: int | None = 0  # None: MIG not supported
    migs: list[FakeGpu | None] = field(default_factory=list)  # None: an empty slot
    lost: bool = False
    fail: dict[str, Exception] = field(default_factory=dict)


class FakeNvml:
    """A module-like object with pynvml's names; handles are the FakeGpu objects."""

    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = 0
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
    NVML_VOLATILE_ECC = 0
    NVML_DEVICE_MIG_ENABLE = 1
    nvmlEventTypeXidCriticalError = 0x8
    nvmlEventTypeSingleBitEccError = 0x1

    def __init__(self, gpus: list[FakeGpu] | None = None) -> None:
        for cls in ERRORS:
            setattr(self, cls.__name__, cls)
        self.gpus = list(gpus or [])
        self.init_error: Exception | None = None
        self.count_error: Exception | None = None
        self.events: list[SimpleNamespace] = []
        self.registered: list[str] = []
        self.register_error: Exception | None = None
        self.waits: list[int] = []
        self.calls = 0
        self.shutdowns = 0

    def _check(self, gpu: FakeGpu, name: str) -> FakeGpu:
        self.calls += 1
        if gpu.lost:
            raise GpuIsLost()
        if name in gpu.fail:
            raise gpu.fail[name]
        return gpu

    def _all(self) -> list[FakeGpu]:
        return [g for p in self.gpus for g in (p, *(m for m in p.migs if m))]

    def nvmlInit(self) -> None:
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54.15"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return 12040

    def nvmlDeviceGetCount(self) -> int:
        if self.count_error:
            raise self.count_error
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self._check(self.gpus[index], "nvmlDeviceGetHandleByIndex")

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> FakeGpu:
        self.calls += 1
        for gpu in self._all():
            if gpu.uuid == uuid:
                return self._check(gpu, "nvmlDeviceGetHandleByUUID")
        raise NotFound()

    def nvmlDeviceGetUUID(self, h: FakeGpu) -> str:
        return self._check(h, "nvmlDeviceGetUUID").uuid

    def nvmlDeviceGetName(self, h: FakeGpu) -> str:
        return self._check(h, "nvmlDeviceGetName").name

    def nvmlDeviceGetMemoryInfo(self, h: FakeGpu) -> SimpleNamespace:
        g = self._check(h, "nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(total=g.total, used=g.used, free=g.total - g.used)

    def nvmlDeviceGetCudaComputeCapability(self, h: FakeGpu) -> tuple[int, int]:
        self._check(h, "nvmlDeviceGetCudaComputeCapability")
        return (9, 0)

    def nvmlDeviceGetMigMode(self, h: FakeGpu) -> list[int]:
        g = self._check(h, "nvmlDeviceGetMigMode")
        if g.mig is None:
            raise NotSupported()
        return [g.mig, g.mig]

    def nvmlDeviceGetMaxMigDeviceCount(self, h: FakeGpu) -> int:
        return len(self._check(h, "nvmlDeviceGetMaxMigDeviceCount").migs)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: FakeGpu, index: int) -> FakeGpu:
        child = self._check(h, "nvmlDeviceGetMigDeviceHandleByIndex").migs[index]
        if child is None:
            raise NotFound()
        return child

    def nvmlDeviceGetUtilizationRates(self, h: FakeGpu) -> SimpleNamespace:
        g = self._check(h, "nvmlDeviceGetUtilizationRates")
        return SimpleNamespace(gpu=g.util[0], memory=g.util[1])

    def nvmlDeviceGetTemperature(self, h: FakeGpu, sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return self._check(h, "nvmlDeviceGetTemperature").temp

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> int:
        return self._check(h, "nvmlDeviceGetPowerUsage").power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, h: FakeGpu) -> int:
        return self._check(h, "nvmlDeviceGetEnforcedPowerLimit").limit_mw

    def nvmlDeviceGetTotalEccErrors(self, h: FakeGpu, error_type: int, counter: int) -> int:
        assert (error_type, counter) == (1, 0)
        return self._check(h, "nvmlDeviceGetTotalEccErrors").ecc

    def nvmlDeviceGetComputeRunningProcesses(self, h: FakeGpu) -> list[SimpleNamespace]:
        g = self._check(h, "nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=pid, usedGpuMemory=mem) for pid, mem in g.procs]

    def nvmlEventSetCreate(self) -> str:
        return "event-set"

    def nvmlDeviceRegisterEvents(self, h: FakeGpu, types: int, event_set: str) -> None:
        self._check(h, "nvmlDeviceRegisterEvents")
        assert types == self.nvmlEventTypeXidCriticalError and event_set == "event-set"
        if self.register_error:
            raise self.register_error
        self.registered.append(h.uuid)

    def nvmlEventSetWait(self, event_set: str, timeout_ms: int) -> SimpleNamespace:
        self.waits.append(timeout_ms)
        if not self.events:
            raise Timeout()
        return self.events.pop(0)

    def nvmlEventSetFree(self, event_set: str) -> None:
        pass

    def xid(self, gpu: FakeGpu, xid: int, event_type: int = 0x8) -> None:
        self.events.append(SimpleNamespace(device=gpu, eventType=event_type, eventData=xid,
                                           gpuInstanceId=0, computeInstanceId=0))


def two_gpus() -> FakeNvml:
    return FakeNvml([FakeGpu("GPU-aaa"), FakeGpu("GPU-bbb", procs=[])])


def started(fake: FakeNvml, now: float = 1000.0) -> Nvml:
    nvml = Nvml(fake, clock=lambda: now)
    assert nvml.discover().gpus
    return nvml


# --- the fake mirrors pynvml -----------------------------------------------------------

def test_fake_uses_real_pynvml_names() -> None:
    pynvml = pytest.importorskip("pynvml")
    for cls in ERRORS:
        real = getattr(pynvml, cls.__name__)
        assert real.__mro__[1] is pynvml.NVMLError
        assert getattr(pynvml, f"NVML_ERROR_{_snake(cls.__name__)}", cls.value) == cls.value
    for name in ("NVML_TEMPERATURE_GPU", "NVML_MEMORY_ERROR_TYPE_UNCORRECTED",
                 "NVML_VOLATILE_ECC", "NVML_DEVICE_MIG_ENABLE",
                 "nvmlEventTypeXidCriticalError"):
        assert getattr(pynvml, name) == getattr(FakeNvml, name), name
    for name in dir(FakeNvml):
        if name.startswith("nvml") and callable(getattr(FakeNvml, name)):
            assert callable(getattr(pynvml, name)), name


def _snake(name: str) -> str:
    out = "".join(f"_{c}" if c.isupper() else c for c in name.removeprefix("NVMLError_"))
    return out.lstrip("_").upper()


# --- discovery ---------------------------------------------------------------------------

def test_discover_fills_every_field() -> None:
    inv = Nvml(two_gpus()).discover()
    assert inv.reason is None and not inv.simulated
    assert (inv.driver_version, inv.cuda_driver_version) == ("550.54.15", "12.4")
    first = inv.gpus[0]
    assert (first.index, first.uuid, first.product) == (0, "GPU-aaa", "NVIDIA H100 80GB HBM3")
    assert (first.memory_mib, first.compute_capability, first.mig_mode) == (81559, "9.0", False)
    assert [g.index for g in inv.gpus] == [0, 1]


@pytest.mark.parametrize(("error", "reason"), [
    (LibraryNotFound(), "NVML library not found"),
    (DriverNotLoaded(), "no NVIDIA driver"),
    (NoPermission(), "no permission to use NVML"),
    (Unknown(), "NVML failed to initialize: Unknown"),
    (OSError("boom"), "NVML failed to initialize: boom"),
])
def test_init_failure_is_an_empty_inventory_with_a_reason(error: Exception, reason: str) -> None:
    fake = two_gpus()
    fake.init_error = error
    nvml = Nvml(fake)
    inv = nvml.discover()
    assert (inv.gpus, inv.reason) == ((), reason)
    assert nvml.sample() == []
    nvml.close()
    assert fake.shutdowns == 0  # never initialized
    fields = node_gpu_fields(inv, {})
    assert fields["capacity"] == 0 and fields["labels"] == {}
    assert fields["conditions"] == [{"type": "NVMLAvailable", "status": "False",
                                     "reason": "NVMLUnavailable", "message": reason}]


def test_init_is_retried_on_the_next_discover() -> None:
    fake = two_gpus()
    fake.init_error = DriverNotLoaded()
    nvml = Nvml(fake)
    assert nvml.discover().reason == "no NVIDIA driver"
    fake.init_error = None
    assert len(nvml.discover().gpus) == 2


def test_zero_gpus() -> None:
    inv = Nvml(FakeNvml([])).discover()
    assert (inv.gpus, inv.reason, inv.driver_version) == ((), "no GPUs found", "550.54.15")


def test_count_failure() -> None:
    fake = two_gpus()
    fake.count_error = Unknown()
    inv = Nvml(fake).discover()
    assert inv.gpus == () and inv.reason == "NVML could not count the GPUs: Unknown"


def test_a_gpu_that_fails_discovery_is_skipped_with_a_reason() -> None:
    fake = two_gpus()
    fake.gpus[1].lost = True
    inv = Nvml(fake).discover()
    assert [g.uuid for g in inv.gpus] == ["GPU-aaa"]
    assert inv.reason == "skipped GPU 1: GpuIsLost"
    fake.gpus[0].lost = True
    inv = Nvml(fake).discover()
    assert inv.gpus == () and inv.reason is not None and "none of the 2 GPUs" in inv.reason


@pytest.mark.parametrize("function", ["nvmlDeviceGetName", "nvmlDeviceGetMemoryInfo",
                                      "nvmlDeviceGetCudaComputeCapability",
                                      "nvmlDeviceGetMigMode"])
def test_discovery_field_failures_are_none(function: str) -> None:
    fake = two_gpus()
    fake.gpus[0].fail[function] = Unknown()
    gpu = Nvml(fake).discover().gpus[0]
    values = {"nvmlDeviceGetName": gpu.product == "unknown",
              "nvmlDeviceGetMemoryInfo": gpu.memory_mib is None,
              "nvmlDeviceGetCudaComputeCapability": gpu.compute_capability is None,
              "nvmlDeviceGetMigMode": gpu.mig_mode is None}
    assert values.pop(function)
    assert not any(values.values())


def test_mig_devices_are_their_own_entries() -> None:
    parent = FakeGpu("GPU-mig", name="NVIDIA A100-SXM4-40GB", mig=1, migs=[
        FakeGpu("MIG-one", name="NVIDIA A100-SXM4-40GB MIG 3g.20gb", total=19968 * MIB),
        None,
        FakeGpu("MIG-two", name="NVIDIA A100-SXM4-40GB MIG 3g.20gb", total=19968 * MIB)])
    fake = FakeNvml([parent, FakeGpu("GPU-plain")])
    nvml = Nvml(fake)
    inv = nvml.discover()
    assert [(g.uuid, g.index, g.parent_uuid, g.mig_index) for g in inv.gpus] == [
        ("GPU-mig", 0, None, None), ("MIG-one", 0, "GPU-mig", 0),
        ("MIG-two", 0, "GPU-mig", 2), ("GPU-plain", 1, None, None)]
    assert inv.gpus[0].mig_mode is True and inv.gpus[1].memory_mib == 19968
    fields = node_gpu_fields(inv, {})
    assert fields["capacity"] == 3
    assert [g["uuid"] for g in fields["gpus"]] == ["MIG-one", "MIG-two", "GPU-plain"]
    assert fields["labels"]["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-40GB-MIG-3g.20gb"
    assert fake.registered == ["GPU-mig", "GPU-plain"]  # XIDs come from physical GPUs
    assert [s.uuid for s in nvml.sample()] == ["GPU-mig", "MIG-one", "MIG-two", "GPU-plain"]


# --- sampling ----------------------------------------------------------------------------

def test_sample_fills_every_field() -> None:
    sample = started(two_gpus()).sample()[0]
    assert sample.uuid == "GPU-aaa" and sample.time == 1000.0 and not sample.lost
    assert (sample.utilization_gpu, sample.utilization_memory) == (42, 17)
    assert (sample.memory_used_mib, sample.memory_free_mib) == (1024, 81559 - 1024)
    assert (sample.temperature_c, sample.power_w, sample.power_limit_w) == (55, 123.456, 700.0)
    assert sample.ecc_uncorrected == 0 and sample.xids == ()
    assert [(p.pid, p.used_memory_mib) for p in sample.processes] == [(4242, 512)]


def _filled(sample: Any, skip: tuple[str, ...]) -> None:
    for fields in FIELD_FUNCTIONS.values():
        for name in fields:
            value = getattr(sample, name)
            if name in skip:
                assert value in (None, ()), name
            else:
                assert value not in (None, ()), name


@pytest.mark.parametrize("error", [NotSupported, Unknown, NoPermission, RuntimeError])
@pytest.mark.parametrize("function", sorted(FIELD_FUNCTIONS))
def test_one_failing_field_is_none_and_the_rest_is_filled(function: str, error: type) -> None:
    fake = two_gpus()
    nvml = started(fake)
    fake.gpus[0].fail[function] = error()
    first, second = nvml.sample()
    assert not first.lost
    _filled(first, FIELD_FUNCTIONS[function])
    assert second.utilization_gpu == 42 and second.temperature_c == 55


def test_not_supported_everywhere_gives_an_all_none_sample() -> None:
    fake = two_gpus()
    nvml = started(fake)
    for function in FIELD_FUNCTIONS:
        fake.gpus[0].fail[function] = NotSupported()
    sample = nvml.sample()[0]
    assert not sample.lost and sample.processes == ()
    _filled(sample, tuple(f for fs in FIELD_FUNCTIONS.values() for f in fs))


def test_process_memory_unknown() -> None:
    fake = two_gpus()
    fake.gpus[0].procs = [(7, None)]
    assert started(fake).sample()[0].processes[0].used_memory_mib is None


def test_a_gpu_lost_between_ticks_and_back() -> None:
    fake = two_gpus()
    nvml = started(fake)
    fake.gpus[0].lost = True
    first, second = nvml.sample()
    assert first.lost and first.utilization_gpu is None and not second.lost
    fake.gpus[0].lost = False
    assert not nvml.sample()[0].lost


def test_gpu_is_lost_mid_batch_stops_that_batch() -> None:
    fake = two_gpus()
    nvml = started(fake)
    fake.gpus[0].fail["nvmlDeviceGetTemperature"] = GpuIsLost()
    first, second = nvml.sample()
    assert first.lost and first.utilization_gpu is None
    assert not second.lost


def test_a_gpu_whose_uuid_disappears_is_lost() -> None:
    fake = two_gpus()
    nvml = started(fake)
    del fake.gpus[1]
    assert [s.lost for s in nvml.sample()] == [False, True]


def test_xid_events_are_drained_with_a_zero_timeout() -> None:
    fake = two_gpus()
    nvml = started(fake)
    fake.xid(fake.gpus[1], 79)
    fake.xid(fake.gpus[1], 48)
    fake.xid(fake.gpus[0], 1, event_type=fake.nvmlEventTypeSingleBitEccError)
    first, second = nvml.sample()
    assert first.xids == () and second.xids == (79, 48)
    assert set(fake.waits) == {0}
    assert [s.xids for s in nvml.sample()] == [(), ()]


def test_xid_storm_is_capped_per_tick() -> None:
    fake = two_gpus()
    nvml = started(fake)
    for _ in range(100):
        fake.xid(fake.gpus[0], 79)
    assert len(nvml.sample()[0].xids) == 64
    assert len(nvml.sample()[0].xids) == 36


def test_events_not_supported_still_samples() -> None:
    fake = two_gpus()
    fake.register_error = NotSupported()
    nvml = started(fake)
    fake.xid(fake.gpus[0], 79)
    assert [s.xids for s in nvml.sample()] == [(), ()]
    assert fake.waits == []  # no event set to wait on


def test_ecc_and_xid_make_gpus_unhealthy() -> None:
    fake = two_gpus()
    nvml = started(fake)
    tracker = HealthTracker()
    assert tracker.update(nvml.sample(), 1000.0) == {}
    fake.gpus[0].ecc = 2
    fake.xid(fake.gpus[1], 79)
    bad = tracker.update(nvml.sample(), 1001.0)
    assert bad == {"GPU-aaa": "2 volatile uncorrected ECC error(s)",
                   "GPU-bbb": "critical XID 79 (healthy again 300s after the last one)"}
    inv = nvml.discover()
    fields = node_gpu_fields(inv, bad)
    assert (fields["capacity"], fields["allocatable"]) == (2, 0)


def test_close_is_idempotent_and_stops_sampling() -> None:
    fake = two_gpus()
    nvml = started(fake)
    nvml.close()
    nvml.close()
    assert fake.shutdowns == 1 and nvml.sample() == []


def test_sampling_cost_with_the_fake() -> None:
    fake = FakeNvml([FakeGpu(f"GPU-{i}") for i in range(8)])
    nvml = started(fake)
    ticks = 200
    start = time.perf_counter()
    for _ in range(ticks):
        nvml.sample()
    per_gpu_us = (time.perf_counter() - start) / ticks / 8 * 1e6
    print(f"fake NVML: {per_gpu_us:.1f} µs per GPU per tick")
    assert per_gpu_us < 1000


# --- the real library on this machine ---------------------------------------------------

def test_real_nvml_without_a_gpu_does_not_raise() -> None:
    nvml = Nvml()
    inv = nvml.discover()
    if inv.gpus:
        pytest.skip("this machine has GPUs; tests/gpu/test_real_gpu.py covers it")
    assert inv.reason
    assert nvml.sample() == []
    nvml.close()
