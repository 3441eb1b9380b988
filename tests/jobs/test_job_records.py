"""A Job pod's PodRecord is level-based: it is written in the same transaction that counts the
pod's end, so a deletion that no watch sees (the controller was down, its watch relisted)
still leaves the record. A real store and the real Job controller; no Ray (the pod's end is
written as the node agent would)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.api import validate_object
from engine.store import Store
from jobs.controller import JobController


def _job() -> dict[str, Any]:
    doc = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "post", "namespace": "default"},
           "spec": {"backoffLimit": 0, "template": {"spec": {
               "restartPolicy": "Never",
               "containers": [{"name": "c", "image": "busybox", "command": ["false"]}]}}}}
    return validate_object(doc, default_namespace="default").obj


async def _until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return value


async def test_a_pods_record_is_written_with_its_count_and_outlives_an_unseen_deletion(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.create("jobs", _job())
    controller = JobController(store)
    await controller.start()
    try:
        [pod] = await _until(lambda: store.list("pods")[0])
        failed = {"phase": "Failed", "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0,
                                                             "image": "busybox", "imageID": "",
                                                             "state": {"terminated": {"exitCode": 3,
                                                                                      "reason": "Error"}}}]}
        store.update_status("pods", {**pod, "status": failed})
        await _until(lambda: not store.get("pods", "default", pod["metadata"]["name"])["metadata"].get(
            "finalizers"))  # counted and released
        [record] = store.list("podrecords")[0]  # written with the count, before any deletion
        assert record["metadata"]["name"] == pod["metadata"]["name"]
        assert record["pod"]["status"]["phase"] == "Failed"
        assert record["metadata"]["ownerReferences"][0]["name"] == "post"
    finally:
        await controller.close()
    # deleted while no controller watches: no DELETED event is ever handed to one
    store.delete("pods", "default", pod["metadata"]["name"], grace_seconds=0)
    assert store.list("pods")[0] == []
    again = JobController(store)
    await again.start()  # a fresh list, as after a relist
    try:
        await _until(lambda: again.whole)
        [record] = store.list("podrecords")[0]
        terminated = record["pod"]["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 3 and record["pod"]["status"]["phase"] == "Failed"
    finally:
        await again.close()
        store.close()
