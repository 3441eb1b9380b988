"""Volumes on real Ray with real processes, each container in a mount namespace of its own: the
docs' indexed-job example (an emptyDir at /input shared by an init container and the worker)
runs to completion unchanged and leaves nothing on the node; configMap, secret (items, mode,
readOnly), downwardAPI and hostPath volumes; a ConfigMap change and a new label reach the
mounted files while the pod runs; a missing ConfigMap, or a hostPath that fails its type
check, keeps the pod waiting (FailedMount) until it is there; an emptyDir past its sizeLimit
evicts the pod."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from tests.shared_examples import EXAMPLES, needs_examples

from .conftest import ControlPlaneProc, pod_phase, wait_for

pytestmark = pytest.mark.integration


def _logs(client: Client, name: str, container: str | None = None) -> str:
    try:
        return b"".join(client.logs(name, container=container)).decode()
    except Exception:  # noqa: BLE001 - not started yet
        return ""


def _events(client: Client, name: str) -> list[dict[str, Any]]:
    return client.list("events", field_selector=f"involvedObject.name={name}")["items"]


@needs_examples
def test_the_docs_indexed_job_shares_its_emptydir_and_leaves_nothing_behind(
        control_plane: ControlPlaneProc) -> None:
    assert EXAMPLES is not None
    assert not os.path.exists("/input")  # the pods' /input is theirs alone, before and after
    control_plane.tug("apply", "-f", str(EXAMPLES / "indexed-job.yaml"))
    with control_plane.client() as client:
        try:
            def complete() -> dict[str, Any] | None:
                job = client.get("jobs", "indexed-job")
                done = any(c["type"] == "Complete" and c["status"] == "True"
                           for c in (job.get("status") or {}).get("conditions") or [])
                return job if done else None
            job = wait_for(complete, timeout=240, what="indexed-job to complete")
            assert job["status"]["succeeded"] == 5
            pods = client.list("pods", label_selector="job-name=indexed-job")["items"]
            said = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]:
                    _logs(client, p["metadata"]["name"], "worker").strip()
                    for p in pods if p["status"]["phase"] == "Succeeded"}
            assert said == {"0": "oof", "1": "rab", "2": "zab", "3": "xuq", "4": "zyx"}
            assert not os.path.exists("/input")
            volumes = control_plane.home / "pods"
            for p in pods:  # an ended pod's emptyDir is gone
                assert not (volumes / p["metadata"]["uid"]).exists()
        finally:
            client.delete("jobs", "indexed-job", propagation="Background")


def test_projected_volumes_hostpath_and_live_updates(control_plane: ControlPlaneProc, tmp_path: Path) -> None:
    host = tmp_path / "host"
    script = ("while true; do echo \"cfg=$(cat /etc/app/level) tok=$(cat /var/run/app/creds/token) "
              "labels=$(tr '\\n' , < /etc/podinfo/labels) name=$(cat /etc/podinfo/name)\"; "
              "echo written > /data/out; touch /var/run/app/x 2>/dev/null || echo readonly-ok; "
              "stat -c mode=%a -L /var/run/app/creds/token; sleep 0.5; done")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vol-pod", "labels": {"app": "vol"}},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
               "name": "main", "image": "busybox", "command": ["sh", "-c", script],
               "volumeMounts": [
                   {"name": "cfg", "mountPath": "/etc/app"},
                   {"name": "creds", "mountPath": "/var/run/app", "readOnly": True},
                   {"name": "info", "mountPath": "/etc/podinfo"},
                   {"name": "host", "mountPath": "/data"}]}],
               "volumes": [
                   {"name": "cfg", "configMap": {"name": "vol-cm"}},
                   {"name": "creds", "secret": {"secretName": "vol-sec", "items": [
                       {"key": "token", "path": "creds/token", "mode": 0o400}]}},
                   {"name": "info", "downwardAPI": {"items": [
                       {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                       {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                   {"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}}]}}
    with control_plane.client() as client:
        client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vol-cm"},
                       "data": {"level": "1"}})
        client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vol-sec"},
                       "data": {"token": base64.b64encode(b"t-123").decode()}})
        client.create(pod)
        try:
            wait_for(lambda: "cfg=1 tok=t-123" in _logs(client, "vol-pod"), timeout=120,
                     what="the pod to read its volumes")
            logs = _logs(client, "vol-pod")
            assert 'labels=app="vol" name=vol-pod' in logs  # no newline at the end: the kubelet trims it
            assert "readonly-ok" in logs and "mode=400" in logs
            assert (host / "out").read_text() == "written\n"  # the hostPath is the node's own

            cm = client.get("configmaps", "vol-cm")
            cm["data"]["level"] = "2"
            client.update(cm)
            wait_for(lambda: "cfg=2" in _logs(client, "vol-pod"), timeout=90,
                     what="the ConfigMap change to reach the mounted file")
            live = client.get("pods", "vol-pod")
            live["metadata"]["labels"]["tier"] = "web"
            client.update(live)
            wait_for(lambda: 'labels=app="vol",tier="web"' in _logs(client, "vol-pod"), timeout=90,
                     what="the new label to reach the downwardAPI file")
            assert client.get("pods", "vol-pod")["status"]["containerStatuses"][0]["restartCount"] == 0
        finally:
            client.delete("pods", "vol-pod", grace_seconds=0)
            client.delete("configmaps", "vol-cm")
            client.delete("secrets", "vol-sec")


def test_a_missing_configmap_keeps_the_pod_waiting_until_it_exists(control_plane: ControlPlaneProc) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vol-wait"},
           "spec": {"restartPolicy": "Never", "containers": [{
               "name": "main", "image": "busybox", "command": ["cat", "/config/greeting"],
               "volumeMounts": [{"name": "cfg", "mountPath": "/config"}]}],
               "volumes": [{"name": "cfg", "configMap": {"name": "vol-later"}}]}}
    with control_plane.client() as client:
        client.create(pod)
        try:
            def told() -> list[dict[str, Any]] | None:
                failed = [e for e in _events(client, "vol-wait") if e["reason"] == "FailedMount"]
                return failed or None
            failed = wait_for(told, timeout=60, what="a FailedMount event")
            assert failed[0]["message"] == ('MountVolume.SetUp failed for volume "cfg" : '
                                            'configmap "vol-later" not found')
            waiting = client.get("pods", "vol-wait")
            assert waiting["status"]["phase"] == "Pending"
            state = waiting["status"]["containerStatuses"][0]["state"]
            assert state["waiting"]["reason"] == "ContainerCreating"
            client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vol-later"},
                           "data": {"greeting": "hello from a volume"}})
            wait_for(pod_phase(client, "vol-wait", "Succeeded"), timeout=90, what="the pod to run")
            assert _logs(client, "vol-wait") == "hello from a volume"  # (cat: no newline of its own)
        finally:
            client.delete("pods", "vol-wait", grace_seconds=0)
            client.delete("configmaps", "vol-later")


def test_a_hostpath_that_fails_its_type_check_waits_until_it_passes(
        control_plane: ControlPlaneProc, tmp_path: Path) -> None:
    later = tmp_path / "later"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vol-host"},
           "spec": {"restartPolicy": "Never", "containers": [{
               "name": "main", "image": "busybox", "command": ["ls", "/h"],
               "volumeMounts": [{"name": "h", "mountPath": "/h"}]}],
               "volumes": [{"name": "h", "hostPath": {"path": str(later), "type": "Directory"}}]}}
    with control_plane.client() as client:
        client.create(pod)
        try:
            def told() -> list[dict[str, Any]] | None:
                return [e for e in _events(client, "vol-host") if e["reason"] == "FailedMount"] or None
            failed = wait_for(told, timeout=60, what="a FailedMount event")
            assert failed[0]["message"] == (f'MountVolume.SetUp failed for volume "h" : hostPath type check '
                                            f"failed: {later} is not a directory")
            waiting = client.get("pods", "vol-host")["status"]
            assert waiting["phase"] == "Pending"  # retried, as the kubelet does, not failed
            assert waiting["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
            later.mkdir()
            (later / "found-me").touch()
            wait_for(pod_phase(client, "vol-host", "Succeeded"), timeout=90, what="the pod to run")
            assert _logs(client, "vol-host") == "found-me\n"
        finally:
            client.delete("pods", "vol-host", grace_seconds=0)


def test_an_emptydir_past_its_size_limit_evicts_the_pod(control_plane: ControlPlaneProc) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vol-full"},
           "spec": {"restartPolicy": "Always", "containers": [{
               "name": "main", "image": "busybox",
               "command": ["sh", "-c", "head -c 3000000 /dev/zero > /scratch/fill; sleep 3600"],
               "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}],
               "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}]}}
    with control_plane.client() as client:
        client.create(pod)
        try:
            failed = wait_for(pod_phase(client, "vol-full", "Failed"), timeout=90, what="the eviction")
            assert failed["status"]["reason"] == "Evicted"
            said = 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
            assert failed["status"]["message"] == said
            assert any(e["reason"] == "Evicted" for e in _events(client, "vol-full"))
        finally:
            client.delete("pods", "vol-full", grace_seconds=0)


def test_the_node_says_it_can_mount_volumes(client: Client) -> None:
    nodes = client.list("nodes")["items"]
    conds = [c for n in nodes for c in n["status"]["conditions"] if c["type"] == "MountNamespaces"]
    assert conds and all(c["status"] == "True" for c in conds), conds
