"""The scheduler loop on a real store (no Ray): batched binds, one Unschedulable verdict per
reason, the pods/binding store write and `tug bench scheduler`."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from engine.client import Client
from engine.store import Store
from engine.store.writes import ApplyResult

from .conftest import InProcessServer, until


def _node(name: str, *, gpus: int = 4) -> dict[str, Any]:
    alloc = {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def _pod(name: str, gpus: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"],
                                     "resources": {"requests": {"nvidia.com/gpu": str(gpus)}}}]}}


def test_bind_sets_node_and_condition_once(store: Store) -> None:
    pod = store.create("pods", _pod("p", 1))
    gone = store.create("pods", _pod("q", 1))
    store.delete("pods", "default", "q")
    out = store.bind([("default", "p", pod["metadata"]["uid"], "n1"),
                      ("default", "q", gone["metadata"]["uid"], "n1"),
                      ("default", "p", "another-uid", "n2")])
    assert out[1] is None and out[2] is None
    bound = store.get("pods", "default", "p")
    assert out[0] == bound and bound["spec"]["nodeName"] == "n1"
    assert bound["status"]["conditions"][0]["type"] == "PodScheduled"
    assert bound["status"]["conditions"][0]["status"] == "True"
    assert store.bind([("default", "p", pod["metadata"]["uid"], "n2")]) == [None]  # already bound
    assert store.get("pods", "default", "p")["spec"]["nodeName"] == "n1"


def test_apply_all_updates_status_only(store: Store) -> None:
    pod = store.create("pods", _pod("p", 1))
    changed = {**pod, "spec": {**pod["spec"], "nodeName": "ignored"}, "status": {"phase": "Pending",
                                                                                "message": "x"}}
    [(result, stored)] = store.apply_all([("update_status", "pods", changed)])
    assert result is ApplyResult.CONFIGURED
    assert stored["status"]["message"] == "x" and "nodeName" not in stored["spec"]


def test_scheduler_binds_what_fits_and_says_why_once(api_server: InProcessServer) -> None:
    store = api_server.cp.store
    api_server.call(store.apply_all, [("create", "nodes", _node(f"n{i}"), False) for i in range(3)])
    api_server.call(store.apply_all, [("create", "pods", _pod(f"p{i}", 1)) for i in range(12)]
                    + [("create", "pods", _pod("big", 5))])
    with Client.from_config(api_server.home) as c:
        def settled() -> list[dict[str, Any]] | None:
            pods = c.list("pods")["items"]
            big = next(p for p in pods if p["metadata"]["name"] == "big")
            told = [x.get("message") for x in big["status"].get("conditions") or []
                    if x.get("reason") == "Unschedulable"]
            # the scheduler may first judge `big` while the others still wait (free 4);
            # it says so again once they bind
            final = told == ["0/3 nodes are available: 3 Insufficient nvidia.com/gpu (free 0, need 5)."]
            return pods if final and all(p["spec"].get("nodeName") for p in pods if p is not big) else None

        pods = until(settled)
        per_node: dict[str, int] = {}
        for p in pods:
            if p["spec"].get("nodeName"):
                per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
        assert per_node == {"n0": 4, "n1": 4, "n2": 4}  # 12 one-GPU pods fill 3 × 4 GPUs
        big = next(p for p in pods if p["metadata"]["name"] == "big")
        message = next(x["message"] for x in big["status"]["conditions"] if x["type"] == "PodScheduled")
        assert message == "0/3 nodes are available: 3 Insufficient nvidia.com/gpu (free 0, need 5)."
        events = c.list("events")["items"]
        assert sum(1 for e in events if e["reason"] == "Scheduled") == 12
        failed = [e for e in events if e["reason"] == "FailedScheduling"]
        # one event per distinct reason (the scheduler may first see `big` before the others)
        said = [e["message"] for e in sorted(failed, key=lambda e: int(e["metadata"]["resourceVersion"]))]
        assert said[-1] == message and len(said) == len(set(said))
        assert all(e["count"] == 1 for e in failed)


def test_binding_names_the_gpus_and_pods_bound_at_create_get_them_named(api_server: InProcessServer) -> None:
    from gpu import node_gpu_fields, simulated_inventory

    store = api_server.cp.store
    fields = node_gpu_fields(simulated_inventory(4, node="m", models=[("NVIDIA A100-SXM4-40GB", 40960)] * 2
                                                 + [("NVIDIA H100 80GB HBM3", 81920)] * 2), {})
    node = _node("m")
    node["metadata"]["labels"] = fields["labels"]
    node["status"]["gpus"] = fields["gpus"]
    big = _pod("big", 1)
    big["spec"]["containers"][0]["resources"]["requests"]["tugboat.dev/gpu-memory"] = "60Gi"
    preset = _pod("preset", 2)
    preset["spec"]["nodeName"] = "m"  # bound at create: nobody placed it
    api_server.call(store.apply_all, [("create", "nodes", node, False), ("create", "pods", big)])
    with Client.from_config(api_server.home) as c:
        def gpus_of(name: str) -> str | None:
            return (c.get("pods", name, namespace="default")["metadata"].get("annotations") or {}).get(
                "tugboat.dev/gpus")

        assert until(lambda: gpus_of("big")) == "2"  # the first H100: the A100s are too small
        api_server.call(store.create, "pods", preset)
        assert until(lambda: gpus_of("preset")) == "0,1"  # the free ones, never GPU 2 again
        small = _pod("small", 1)
        api_server.call(store.create, "pods", small)
        assert until(lambda: gpus_of("small")) == "3"
        late = _pod("late", 1)
        late["spec"]["nodeName"] = "m"  # all four are held: it waits, and says why
        api_server.call(store.create, "pods", late)
        said = until(lambda: [e for e in c.list("events")["items"]
                               if e["reason"] == "GPUsUnavailable" and e["involvedObject"]["name"] == "late"])
        assert "has no 1 free GPU(s) that fit it now" in said[0]["message"] and gpus_of("late") is None
        api_server.call(store.delete, "pods", "default", "big", grace_seconds=0)
        assert until(lambda: gpus_of("late")) == "2"

        # the annotation is the scheduler's: input never sets or changes it
        copied = _pod("copied", 1)
        copied["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
        copied["metadata"]["annotations"] = {"tugboat.dev/gpus": "3", "team": "a"}
        created = c.create(copied)
        assert created["metadata"]["annotations"] == {"team": "a"}
        created["metadata"]["annotations"]["tugboat.dev/gpus"] = "0"
        created["metadata"].pop("resourceVersion")  # the scheduler may write its status meanwhile
        assert c.update(created)["metadata"]["annotations"] == {"team": "a"}

        # bound at create: a malformed annotation is named again; a request no GPU there can meet says so
        odd = _pod("odd", 1)
        odd["spec"]["nodeName"] = "m"
        odd["metadata"]["annotations"] = {"tugboat.dev/gpus": "gpu0"}
        huge = _pod("huge", 1)
        huge["spec"]["nodeName"] = "m"
        huge["spec"]["containers"][0]["resources"]["requests"]["tugboat.dev/gpu-memory"] = "100Gi"
        api_server.call(store.apply_all, [("create", "pods", odd), ("create", "pods", huge)])
        said = until(lambda: [e["message"] for e in c.list("events")["items"]
                               if e["reason"] == "GPUsUnavailable" and e["involvedObject"]["name"] == "huge"])
        assert "has no 1 healthy GPU(s) that fit it; it cannot start there" in said[0]
        api_server.call(store.delete, "pods", "default", "small", grace_seconds=0)
        assert until(lambda: gpus_of("odd") == "3")


def test_bench_scheduler_json() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "bench", "scheduler", "--nodes", "20",
                          "--pods", "300", "--baseline-pods", "40", "--mixed-every", "4", "-o", "json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in ("decisions_per_s", "baseline_decisions_per_s", "bound_pods_per_s", "p99_decision_ms"):
        assert result[key] > 0, key
    assert result["baseline_agrees"] is True
    assert result["bound"] == result["placed"] > 0
    assert result["bound"] + result["unschedulable"] == 300


def test_bench_scheduler_bad_flags() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "bench", "scheduler", "--nodes", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "--nodes: expected a positive integer" in out.stderr
    assert "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "engine.cli", "bench", "scheduler", "--mixed-every", "-1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "--mixed-every: expected 0 or more" in out.stderr


def test_an_object_the_scheduler_cannot_read_is_left_out_with_an_event(api_server: InProcessServer) -> None:
    """However a malformed object got into the store (here: written under the API), the passes
    go on for everything else, and the object says why it is left out."""
    store = api_server.cp.store
    assert store is not None
    bad = _pod("bad", 1)
    bad["status"] = {"phase": "Pending", "conditions": "abc"}
    api_server.call(store.create, "pods", bad)
    odd = _pod("odd", 1)
    odd["spec"]["containers"][0]["resources"] = "lots"  # not a mapping: usage_of cannot read it
    api_server.call(store.create, "pods", odd)
    api_server.call(store.create, "priorityclasses",
                    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                     "metadata": {"name": "oddclass"}, "value": "high"}, namespaced=False)
    api_server.call(store.create, "pods", _pod("good", 2))
    api_server.call(store.create, "nodes", _node("n0"), namespaced=False)
    with Client.from_config(api_server.home) as c:
        assert until(lambda: c.get("pods", "good", namespace="default")["spec"].get("nodeName")) == "n0"

        def unreadable() -> dict[str, str]:
            return {e["involvedObject"]["name"]: e["message"] for e in c.list("events")["items"]
                    if e["reason"] == "Unreadable"}

        said = until(lambda: len(unreadable()) == 3 and unreadable())
        assert "ValueError" in said["oddclass"]
        assert "status.conditions must be a list of objects" in said["bad"]
        assert said["odd"].startswith("The scheduler leaves this object out until it can be read: ")
        assert said["odd"].endswith("TypeError: spec.containers[0].resources must be an object, got str")
        assert c.get("pods", "bad", namespace="default")["spec"].get("nodeName") is None
        # mended, it is read again and placed like any pod
        mended = api_server.call(store.get, "pods", "default", "bad")
        mended["status"] = {"phase": "Pending"}
        api_server.call(store.update_status, "pods", mended)
        assert until(lambda: c.get("pods", "bad", namespace="default")["spec"].get("nodeName")) == "n0"
