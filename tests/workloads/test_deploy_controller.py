"""The Deployment controller with the ReplicaSet controller against a real control plane
(store, API server, controllers; no Ray). Pods are never run here: the test plays the nodes,
writing Ready for each new pod, and checks the rollout's bounds at every step."""

from __future__ import annotations

from typing import Any

from engine.client import Client
from engine.clock import format_time, utcnow
from engine.errors import ConflictError, NotFoundError
from tests.engine.conftest import InProcessServer, until


def deployment(name: str = "web", replicas: int = 4, image: str = "v1", **strategy: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     **({"strategy": strategy} if strategy else {}),
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image,
                                                           "command": ["sleep", "3600"]}]}}}}


def live_pods(c: Client, app: str = "web") -> list[dict[str, Any]]:
    return [p for p in c.list("pods", label_selector=f"app={app}")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def ready(p: dict[str, Any]) -> bool:
    return any(x.get("type") == "Ready" and x.get("status") == "True"
               for x in (p.get("status") or {}).get("conditions") or [])


def play_nodes(c: Client, app: str = "web") -> int:
    """Make every live pod not yet Ready run and be Ready, as its node would; how many."""
    now = format_time(utcnow())
    done = 0
    for pod in live_pods(c, app):
        if ready(pod):
            continue
        pod["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now}]}
        try:
            c.update_status(pod)
        except (ConflictError, NotFoundError):  # changed (the scheduler said why it waits) or gone
            continue
        done += 1
    return done


def image_of(p: dict[str, Any]) -> str:
    return str(p["spec"]["containers"][0]["image"])


def test_a_deployment_becomes_available_then_rolls_out_within_its_bounds(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create(deployment(replicas=4, type="RollingUpdate",
                            rollingUpdate={"maxSurge": 1, "maxUnavailable": 1}))
        until(lambda: len(live_pods(c)) == 4)
        play_nodes(c)
        d = until(lambda: (d := c.get("deployments", "web")).get("status", {}).get("availableReplicas") == 4
                  and d)
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        conds = {x["type"]: x for x in d["status"]["conditions"]}
        assert conds["Available"]["status"] == "True"
        until(lambda: {x["type"]: x for x in c.get("deployments", "web")["status"]["conditions"]}
              ["Progressing"]["reason"] == "NewReplicaSetAvailable")
        [first] = c.list("replicasets")["items"]
        assert first["metadata"]["name"].startswith("web-")
        assert first["metadata"]["labels"]["pod-template-hash"] == first["metadata"]["name"][4:]

        d = c.get("deployments", "web")
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
        c.update(d)
        def rolled_out() -> bool:
            """One step of the nodes' play; whether every pod is v2 and ready. The rollout's
            bounds hold at every look."""
            pods = live_pods(c)
            assert len(pods) <= 4 + 1, [p["metadata"]["name"] for p in pods]  # replicas + maxSurge
            assert sum(1 for p in pods if ready(p)) >= 4 - 1  # replicas - maxUnavailable
            if len(pods) == 4 and all(ready(p) and image_of(p) == "v2" for p in pods):
                return True
            play_nodes(c)
            return False
        until(rolled_out)
        d = until(lambda: (d := c.get("deployments", "web"))["status"].get("updatedReplicas") == 4
                  and d["status"].get("availableReplicas") == 4 and d)
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        sets = {rs["metadata"]["name"]: rs for rs in c.list("replicasets")["items"]}
        assert len(sets) == 2 and sets[first["metadata"]["name"]]["spec"]["replicas"] == 0
        reasons = [e["reason"] for e in c.list("events", field_selector="involvedObject.name=web")["items"]]
        assert "ScalingReplicaSet" in reasons
