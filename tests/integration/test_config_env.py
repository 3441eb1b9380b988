"""ConfigMaps and Secrets in a pod's env, end to end on Ray: a missing key keeps the pod waiting
with CreateContainerConfigError (it does not fail) until the key exists; valueFrom, envFrom
with a prefix, optional references; a Secret's value reaches the process and nothing else."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from engine.client import Client

from .conftest import ControlPlaneProc, gone, pod_phase, wait_for

pytestmark = pytest.mark.integration

SECRET_VALUE = "s3cr3t-value-7d1f"


SCRIPT = "echo token=$TOKEN mode=$MODE cfg_level=$CFG_level opt=[$OPT]"


def _pod(name: str, env: list[dict[str, Any]],
         env_from: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "main", "image": "busybox", "env": env, "command": ["sh", "-c", SCRIPT],
                         "resources": {"requests": {"cpu": "10m"}}}
    if env_from:
        c["envFrom"] = env_from
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "containers": [c]}}


def _waiting(client: Client, name: str) -> dict[str, Any] | None:
    pod = client.get("pods", name)
    states = [s.get("state") or {} for s in (pod.get("status") or {}).get("containerStatuses") or []]
    waiting = [s["waiting"] for s in states if "waiting" in s]
    return waiting[0] if waiting and waiting[0].get("reason") == "CreateContainerConfigError" else None


def test_a_missing_secret_key_keeps_the_pod_waiting_until_it_exists(
        client: Client, control_plane: ControlPlaneProc) -> None:
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg-app"},
                   "data": {"mode": "fast", "level": "3"}})
    client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec-app"},
                   "data": {"other": base64.b64encode(b"x").decode()}})
    client.create(_pod("cfg-pod", [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec-app", "key": "token"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg-app", "key": "mode"}}},
        {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k", "optional": True}}},
    ], env_from=[{"prefix": "CFG_", "configMapRef": {"name": "cfg-app"}}]))

    waiting = wait_for(lambda: _waiting(client, "cfg-pod"), what="CreateContainerConfigError")
    assert "couldn't find key 'token' in Secret 'sec-app'" in waiting["message"]
    pod = client.get("pods", "cfg-pod")
    assert pod["status"]["phase"] == "Pending"  # waiting, not failed
    got = control_plane.tug("get", "pod", "cfg-pod").stdout
    assert "CreateContainerConfigError" in got
    events = client.list("events", field_selector="involvedObject.name=cfg-pod")["items"]
    assert any(e["reason"] == "Failed" and "sec-app" in e["message"] for e in events)

    secret = client.get("secrets", "sec-app")
    secret["data"]["token"] = base64.b64encode(SECRET_VALUE.encode()).decode()
    client.update(secret)
    done = wait_for(pod_phase(client, "cfg-pod", "Succeeded", "Failed"), timeout=90, what="cfg-pod to run")
    assert done["status"]["phase"] == "Succeeded"
    assert b"".join(client.logs("cfg-pod")) == f"token={SECRET_VALUE} mode=fast cfg_level=3 opt=[]\n".encode()

    # the value is the process's alone: not in events, describe, or the pod's status
    events = client.list("events", field_selector="involvedObject.name=cfg-pod")["items"]
    assert all(SECRET_VALUE not in str(e) for e in events)
    assert SECRET_VALUE not in control_plane.tug("describe", "pod", "cfg-pod").stdout
    assert SECRET_VALUE not in control_plane.tug("describe", "secret", "sec-app").stdout
    assert SECRET_VALUE not in str(client.get("pods", "cfg-pod"))
    control_plane.tug("delete", "pod", "cfg-pod")
    assert gone(client, "cfg-pod")


def test_a_waiting_pod_is_deleted_at_once(client: Client) -> None:
    client.create(_pod("cfg-gone", [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "never-made", "key": "token"}}}]))
    waiting = wait_for(lambda: _waiting(client, "cfg-gone"), what="CreateContainerConfigError")
    assert "Secret 'never-made' not found" in waiting["message"]
    client.delete("pods", "cfg-gone")  # its grace is 30 s: nothing runs, so nothing waits for it
    wait_for(lambda: gone(client, "cfg-gone"), timeout=15, what="cfg-gone to go")
