"""Telemetry without Ray: node agents are stand-ins that return ticks, the runtime's view is
plain data; what is checked is what tugboat decides from the samples."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.runtime.nodes import node_object
from engine.runtime.telemetry import Telemetry
from gpu import GpuInfo, GpuSample, Inventory, node_gpu_fields

ENTRY = {"NodeID": "n1", "Alive": True, "NodeManagerHostname": "box",
         "Resources": {"CPU": 4.0, "GPU": 2.0}}
INV = Inventory(gpus=(GpuInfo(0, "GPU-0", "H100", 81920, "9.0", False),
                      GpuInfo(1, "GPU-1", "H100", 81920, "9.0", False)),
                driver_version="550", cuda_driver_version="12.4", reason=None)


def sample(uuid: str, *, ecc: int = 0, util: int = 50) -> GpuSample:
    return GpuSample(uuid=uuid, time=1.0, utilization_gpu=util, utilization_memory=10,
                     memory_used_mib=1000, memory_free_mib=80920, temperature_c=40, power_w=100.0,
                     power_limit_w=700.0, ecc_uncorrected=ecc, processes=(), xids=())


class Call:
    def __init__(self, result: Any) -> None:
        self.result = result

    def remote(self, *args: Any) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.set_result(self.result)
        return fut


class Agent:
    def __init__(self, tick: dict[str, Any]) -> None:
        self.sample = Call(tick)


class Store:
    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = pods

    def list(self, resource: str, *args: Any, **kw: Any) -> tuple[list[dict[str, Any]], str]:
        return (self.pods if resource == "pods" else []), "1"


class Events:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, str]] = []

    def record(self, obj: dict[str, Any], kind: str, reason: str, message: str, **kw: Any) -> None:
        self.recorded.append((obj["metadata"]["name"], reason, message))


class RuntimeView:
    def __init__(self, tick: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        node = node_object(ENTRY, info=None, now="T", previous=None,
                           gpu=node_gpu_fields(INV, {}))
        self.nodes = {node["metadata"]["name"]: node}
        self.store = Store(pods)
        self.events = Events()
        self.unhealthy: dict[str, dict[str, str]] = {}
        self._agent = Agent(tick)

    def inventory(self, node: str) -> Inventory:
        return INV

    def agent(self, node_id: str) -> Agent:
        return self._agent

    def set_unhealthy(self, node: str, unhealthy: dict[str, str]) -> None:
        self.unhealthy[node] = unhealthy

    def pod_actor(self, uid: str) -> None:
        return None


POD = {"metadata": {"name": "train", "namespace": "ml", "uid": "u1"},
       "spec": {"nodeName": "box-n1"},
       "status": {"phase": "Running", "gpus": [{"index": 1, "uuid": "GPU-1"}],
                  "containerStatuses": [{"containerID": "process://4242",
                                         "state": {"running": {}}}]}}


def tick(*samples: GpuSample, owners: dict[int, str] | None = None) -> dict[str, Any]:
    return {"time": 10.0, "gpus": [s.to_dict() for s in samples], "owners": owners or {},
            "usage": {"cpuCores": 1.5, "cpuCapacity": 4.0, "memoryBytes": 2**30,
                      "memoryCapacity": 2**34}}


def test_an_ecc_error_marks_the_gpu_unhealthy_and_tells_the_pod_holding_it() -> None:
    view = RuntimeView(tick(sample("GPU-0"), sample("GPU-1", ecc=3)), [POD])
    telemetry = Telemetry(view, period=2.0)  # type: ignore[arg-type]
    asyncio.run(telemetry.sample_once())
    assert list(view.unhealthy["box-n1"]) == ["GPU-1"]
    assert [(name, reason) for name, reason, _ in view.events.recorded] == [("train", "GPUUnhealthy")]
    assert "GPU-1" in view.events.recorded[0][2]
    node = node_object(ENTRY, info=None, now="T", previous=None,
                       gpu=node_gpu_fields(INV, view.unhealthy["box-n1"]))
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "2"
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    gpu_cond = next(c for c in node["status"]["conditions"] if c["type"] == "GPUHealthy")
    assert gpu_cond["status"] == "False" and "GPU-1" in gpu_cond["message"]


def test_samples_stay_in_memory_and_feed_top() -> None:
    view = RuntimeView(tick(sample("GPU-0", util=70), sample("GPU-1", util=30)), [POD])
    telemetry = Telemetry(view, period=2.0)  # type: ignore[arg-type]
    asyncio.run(telemetry.sample_once())
    asyncio.run(telemetry.sample_once())
    history = telemetry.gpu_history("box-n1")
    assert len(history["samples"]) == 2 and history["periodSeconds"] == 2.0
    (row,) = telemetry.top_nodes()
    assert row["cpuCores"] == 1.5
    assert [(g["index"], g["utilizationGpu"], g["pods"]) for g in row["gpus"]] == [
        (0, 70, []), (1, 30, ["ml/train"])]
    assert view.unhealthy == {}
