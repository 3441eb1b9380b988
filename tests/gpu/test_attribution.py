"""Who uses which GPU, from pod status and a node agent's tick (pure)."""

from __future__ import annotations

from gpu.attribution import container_leaders, holders, node_gpu_processes, pod_gpu_top

POD = {"metadata": {"name": "train", "namespace": "ml"},
       "status": {"phase": "Running", "gpus": [{"index": 1, "uuid": "GPU-1"}],
                  "containerStatuses": [{"containerID": "process://4242",
                                         "state": {"running": {}}},
                                        {"containerID": "process://99",
                                         "state": {"terminated": {}}}]}}
TICK = {"time": 1.0, "owners": {"4300": "ml/train"},
        "gpus": [{"uuid": "GPU-1", "utilizationGpu": 91, "memoryUsedMiB": 3000,
                  "processes": [{"pid": 4300, "usedMemoryMiB": 2048},
                                {"pid": 12, "usedMemoryMiB": 900}]}]}


def test_leaders_are_running_containers_only() -> None:
    assert container_leaders([POD]) == {4242: "ml/train"}


def test_holders_skip_finished_pods() -> None:
    assert holders([POD]) == {"GPU-1": ["ml/train"]}
    done = {**POD, "status": {**POD["status"], "phase": "Succeeded"}}
    assert holders([done]) == {}


def test_processes_are_matched_to_pods() -> None:
    assert node_gpu_processes(TICK) == {"GPU-1": [
        {"pid": 4300, "usedMemoryMiB": 2048, "pod": "ml/train"},
        {"pid": 12, "usedMemoryMiB": 900, "pod": None}]}
    (row,) = pod_gpu_top(POD, TICK, None)
    assert (row["uuid"], row["utilizationGpu"], row["memoryUsedMiB"]) == ("GPU-1", 91, 2048)


def test_unknown_process_memory_is_unknown_not_zero() -> None:
    tick = {**TICK, "gpus": [{**TICK["gpus"][0],
                              "processes": [{"pid": 4300, "usedMemoryMiB": None}]}]}
    assert pod_gpu_top(POD, tick, None)[0]["memoryUsedMiB"] is None
