"""The ReplicaSet controller against a real control plane (store, API server, controllers; no
Ray): pods made from the template, replaced when they end, surplus deleted, orphans adopted,
strays released, status counted from the readiness a node writes."""

from __future__ import annotations

from typing import Any

from engine.client import Client
from engine.clock import format_time, utcnow
from tests.engine.conftest import InProcessServer, until


def replicaset(name: str = "frontend", replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"tier": name}},
                     "template": {"metadata": {"labels": {"tier": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox",
                                                           "command": ["sleep", "3600"]}]}},
                     **spec}}


def pods_of(c: Client, name: str = "frontend") -> list[dict[str, Any]]:
    return [p for p in c.list("pods")["items"] if not p["metadata"].get("deletionTimestamp")
            and any(r.get("name") == name and r.get("controller")
                    for r in p["metadata"].get("ownerReferences") or [])]


def live(c: Client) -> list[dict[str, Any]]:
    return [p for p in pods_of(c) if (p.get("status") or {}).get("phase") != "Failed"]


def mark_ready(c: Client, pod: dict[str, Any]) -> None:
    """What a node writes when the pod's containers run and are ready."""
    now = format_time(utcnow())
    pod = c.get("pods", pod["metadata"]["name"])
    pod["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}
    c.update_status(pod)


def test_replicas_are_made_replaced_scaled_and_counted(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        rs = c.create(replicaset())
        made = until(lambda: len(pods_of(c)) == 3 and pods_of(c))
        for pod in made:
            assert pod["metadata"]["name"].startswith("frontend-") and len(pod["metadata"]["name"]) == 14
            ref = pod["metadata"]["ownerReferences"][0]
            assert (ref["kind"], ref["uid"], ref["controller"]) == ("ReplicaSet", rs["metadata"]["uid"], True)
            assert pod["metadata"]["labels"] == {"tier": "frontend"}
        for pod in made:
            mark_ready(c, pod)
        until(lambda: (c.get("replicasets", "frontend").get("status") or {}).get("availableReplicas") == 3)
        status = c.get("replicasets", "frontend")["status"]
        assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                          "availableReplicas": 3, "observedGeneration": 1}

        # a replica that ends is replaced at once; the ended pod is left for pod GC
        failed = c.get("pods", made[0]["metadata"]["name"])
        failed["status"] = {"phase": "Failed", "reason": "NodeLost"}
        c.update_status(failed)
        until(lambda: len(live(c)) == 3)
        assert c.get("pods", made[0]["metadata"]["name"])["status"]["phase"] == "Failed"

        # scale down: the not-ready replacement goes first
        first = {m["metadata"]["name"] for m in made}
        fresh = next(p for p in pods_of(c) if p["metadata"]["name"] not in first)
        rs = c.get("replicasets", "frontend")
        rs["spec"]["replicas"] = 2
        c.update(rs)
        until(lambda: all(p["metadata"]["name"] != fresh["metadata"]["name"] for p in pods_of(c))
              and len(live(c)) == 2)
        events = c.list("events", field_selector="involvedObject.name=frontend")["items"]
        reasons = [e["reason"] for e in events]
        assert reasons.count("SuccessfulCreate") == 4 and reasons.count("SuccessfulDelete") == 1
        until(lambda: c.get("replicasets", "frontend")["status"].get("observedGeneration") == 2)


def test_orphans_are_adopted_and_strays_released(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        orphan = c.create({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": "lone", "labels": {"tier": "web"}},
                           "spec": {"containers": [{"name": "c", "image": "busybox",
                                                    "command": ["sleep", "9"]}]}})
        c.create(replicaset("web", replicas=2))
        until(lambda: len(pods_of(c, "web")) == 2)
        assert "lone" in [p["metadata"]["name"] for p in pods_of(c, "web")]  # adopted: one made
        assert c.get("pods", "lone")["metadata"]["uid"] == orphan["metadata"]["uid"]

        lone = c.get("pods", "lone")
        lone["metadata"]["labels"] = {"tier": "elsewhere"}
        c.update(lone)  # no longer selected: released, and a new replica made
        until(lambda: not c.get("pods", "lone")["metadata"].get("ownerReferences")
              and sorted(p["metadata"]["name"] == "lone" for p in pods_of(c, "web")) == [False, False])

        c.delete("replicasets", "web")  # background: its pods go with it, the released one stays
        until(lambda: not pods_of(c, "web"))
        assert c.get("pods", "lone")["metadata"]["labels"] == {"tier": "elsewhere"}


def test_replicas_that_name_a_queue_count_against_its_quota(api_server: InProcessServer) -> None:
    from tests.engine.test_queues_api import gpu_node

    store = api_server.cp.store
    api_server.call(store.create, "nodes", gpu_node("g1", 4), namespaced=False)
    with api_server.client() as c:
        c.create({"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "serving"},
                  "spec": {"quota": {"nvidia.com/gpu": "1"}}})
        gpu = replicaset("infer", replicas=2)
        template = gpu["spec"]["template"]
        template["metadata"]["labels"]["tugboat.dev/queue"] = "serving"
        template["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
        c.create(gpu)
        free = replicaset("plain", replicas=2)  # no queue: placed like any pod
        free_spec = free["spec"]["template"]["spec"]
        free_spec["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
        c.create(free)

        def bound(name: str) -> int:
            return sum(1 for p in pods_of(c, name) if p["spec"].get("nodeName"))
        until(lambda: bound("infer") == 1 and bound("plain") == 2)
        def pending_in_queue() -> list[dict[str, Any]]:
            return (c.get("queues", "serving", namespace=None).get("status") or {}).get("pending") or []
        pending = until(pending_in_queue)
        assert pending[0]["reason"] == "QuotaExceeded" and pending[0]["name"].startswith("infer-")
        assert bound("infer") == 1  # the quota holds the second replica back, GPUs free or not


def test_a_configured_unreachable_toleration_goes_on_each_new_pod_unless_the_template_has_one(
        tmp_path: Any) -> None:
    from engine.clusterconfig import WorkloadsConfig
    from engine.objects import UNREACHABLE
    from workloads.rs_controller import new_pod

    server = InProcessServer(tmp_path, workloads=WorkloadsConfig(unreachable_toleration_s=30))
    try:
        with server.client() as c:
            c.create(replicaset(replicas=1))
            [pod] = until(lambda: pods_of(c) or None)
            assert pod["spec"]["tolerations"] == [{"key": UNREACHABLE, "operator": "Exists",
                                                   "effect": "NoExecute", "tolerationSeconds": 30}]
    finally:
        server.close()
    rs = replicaset()
    rs["metadata"].update(namespace="default", uid="u1")
    assert "tolerations" not in new_pod(rs)["spec"]  # tugboat's default, 0: none
    own = {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}  # any key
    rs["spec"]["template"]["spec"]["tolerations"] = [own]
    assert new_pod(rs, unreachable_toleration_s=30)["spec"]["tolerations"] == [own]
    assert rs["spec"]["template"]["spec"]["tolerations"] == [own]  # the template is not changed
    rs["spec"]["template"]["spec"]["tolerations"] = ["junk", {"key": "other", "operator": "Exists"}]
    assert new_pod(rs, unreachable_toleration_s=30)["spec"]["tolerations"][2]["key"] == UNREACHABLE
