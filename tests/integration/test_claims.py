"""PersistentVolumeClaims on real Ray with real processes: a claim of the built-in local-path
class is bound when its first pod is placed, to a directory on that pod's node that a
PersistentVolume records; its data outlives the pod, and the next pod goes to that node; a
claim in use waits for its pods before it goes (pvc-protection), then its volume and directory
go too (Delete); Retain keeps them; a volume written by hand binds a claim that fits it; a pod
whose claim does not exist says so in its why-pending sentence and starts once it does."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from engine.errors import NotFoundError

from .conftest import ControlPlaneProc, pod_phase, unschedulable_message, wait_for

pytestmark = pytest.mark.integration


def _claim(name: str, size: str = "64Mi", cls: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec}


def _pod(name: str, claim: str, script: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script],
                                     "resources": {"requests": {"cpu": "10m"}},
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}


def _logs(client: Client, name: str) -> str:
    return b"".join(client.logs(name)).decode()


def _absent(client: Client, resource: str, name: str) -> bool:
    try:
        client.get(resource, name)
    except NotFoundError:
        return True
    return False


def _bound(client: Client, name: str) -> dict[str, Any] | None:
    pvc = client.get("persistentvolumeclaims", name)
    return pvc if (pvc.get("status") or {}).get("phase") == "Bound" else None


def test_a_local_path_claim_keeps_its_data_and_its_node_then_goes_with_its_volume(
        control_plane: ControlPlaneProc) -> None:
    with control_plane.client() as client:
        client.create(_claim("scratch"))
        pvc = client.get("persistentvolumeclaims", "scratch")
        assert pvc["spec"]["storageClassName"] == "local-path"  # the default class
        assert "kubernetes.io/pvc-protection" in pvc["metadata"]["finalizers"]
        # no pod yet: it waits for its first consumer, and says so
        events = wait_for(lambda: [e for e in client.list(
            "events", field_selector="involvedObject.name=scratch")["items"]
            if e["reason"] == "WaitForFirstConsumer"], what="the claim to wait for its first pod")
        assert events[0]["message"] == "waiting for first consumer to be created before binding"
        assert client.get("persistentvolumeclaims", "scratch")["status"]["phase"] == "Pending"

        client.create(_pod("writer", "scratch", "echo kept > /data/note && ls -ld /data"))
        writer = wait_for(pod_phase(client, "writer", "Succeeded", "Failed"), timeout=120, what="writer")
        assert writer["status"]["phase"] == "Succeeded", _logs(client, "writer")
        node = writer["spec"]["nodeName"]
        pvc = wait_for(lambda: _bound(client, "scratch"), what="the claim to be bound")
        volume = pvc["spec"]["volumeName"]
        assert volume == f"pvc-{pvc['metadata']['uid']}"
        assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
        assert pvc["status"]["capacity"] == {"storage": "64Mi"}
        pv = client.get("persistentvolumes", volume)
        assert pv["status"]["phase"] == "Bound"
        assert pv["spec"]["claimRef"]["name"] == "scratch"
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"  # its class's
        terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert terms == [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                                "values": [node]}]}]
        directory = Path(pv["spec"]["hostPath"]["path"])
        assert directory.parent == control_plane.home / "local-path"
        assert (directory / "note").read_text() == "kept\n"  # the pod's /data is that directory

        # the listing, as kubectl prints it
        row = control_plane.tug("get", "pvc", "scratch").stdout.splitlines()[1].split()
        assert row[:6] == ["scratch", "Bound", volume, "64Mi", "RWO", "local-path"]
        wide = control_plane.tug("get", "pvc", "scratch", "-o", "wide").stdout.splitlines()
        assert wide[0].split()[-1] == "NODE" and wide[1].split()[-1] == node
        row = control_plane.tug("get", "pv", volume).stdout.splitlines()[1].split()
        assert row[:7] == [volume, "64Mi", "RWO", "Delete", "Bound", "default/scratch", "local-path"]

        # the data outlives the pod; the next pod is placed on the volume's node and reads it
        client.delete("pods", "writer")
        client.create(_pod("reader", "scratch", "cat /data/note; sleep 3600"))
        reader = wait_for(pod_phase(client, "reader", "Running"), timeout=120, what="reader to run")
        assert reader["spec"]["nodeName"] == node
        wait_for(lambda: _logs(client, "reader") == "kept\n", what="reader to print the note")

        # in use: deleting the claim waits for the pod (pvc-protection)
        client.delete("persistentvolumeclaims", "scratch")
        pvc = client.get("persistentvolumeclaims", "scratch")
        assert pvc["metadata"].get("deletionTimestamp")
        out = control_plane.tug("get", "pvc", "scratch").stdout.splitlines()[1].split()
        assert out[1] == "Terminating"
        assert client.get("persistentvolumes", volume)["status"]["phase"] == "Bound"
        client.delete("pods", "reader")
        wait_for(lambda: _absent(client, "persistentvolumeclaims", "scratch"), timeout=60,
                 what="the claim to go once its pod is gone")
        # Delete: the volume and its directory go with the claim
        wait_for(lambda: _absent(client, "persistentvolumes", volume), timeout=60, what="the volume to go")
        assert not directory.exists()


def test_retain_keeps_the_volume_and_a_hand_made_volume_binds_a_claim_that_fits(
        control_plane: ControlPlaneProc, tmp_path: Path) -> None:
    with control_plane.client() as client:
        client.create({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                       "metadata": {"name": "keep"}, "provisioner": "tugboat.dev/local-path",
                       "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"})
        client.create(_claim("kept", cls="keep"))
        client.create(_pod("once", "kept", "echo still-here > /data/file"))
        assert wait_for(pod_phase(client, "once", "Succeeded", "Failed"), timeout=120,
                        what="once")["status"]["phase"] == "Succeeded"
        volume = wait_for(lambda: _bound(client, "kept"), what="kept to be bound")["spec"]["volumeName"]
        client.delete("pods", "once")
        client.delete("persistentvolumeclaims", "kept")
        wait_for(lambda: _absent(client, "persistentvolumeclaims", "kept"), timeout=60, what="kept to go")
        pv = wait_for(lambda: (v := client.get("persistentvolumes", volume))["status"].get("phase")
                      == "Released" and v, what="the volume to be Released")
        directory = Path(pv["spec"]["hostPath"]["path"])
        assert (directory / "file").read_text() == "still-here\n"  # Retain: nothing removed
        client.delete("persistentvolumes", volume)  # no claim holds it: it goes, the data stays
        wait_for(lambda: _absent(client, "persistentvolumes", volume), timeout=60, what="the volume to go")
        assert directory.exists()

        # a volume an administrator made binds a claim that fits it, at once
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "hello").write_text("from the admin\n")
        name = f"admin-{uuid.uuid4().hex[:6]}"
        client.create({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                       "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                "storageClassName": "", "hostPath": {"path": str(tmp_path / "shared")}}})
        client.create(_claim("static", size="500Mi", cls=""))
        pvc = wait_for(lambda: _bound(client, "static"), what="static to bind to the admin's volume")
        assert pvc["spec"]["volumeName"] == name and pvc["status"]["capacity"] == {"storage": "1Gi"}
        client.create(_pod("admin-reader", "static", "cat /data/hello"))
        assert wait_for(pod_phase(client, "admin-reader", "Succeeded", "Failed"), timeout=120,
                        what="admin-reader")["status"]["phase"] == "Succeeded"
        assert _logs(client, "admin-reader") == "from the admin\n"
        client.delete("pods", "admin-reader")
        client.delete("persistentvolumeclaims", "static")
        pv = wait_for(lambda: (v := client.get("persistentvolumes", name))["status"].get("phase")
                      == "Released" and v, what="the admin's volume to be Released")
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"  # the default for one made by hand
        client.delete("persistentvolumes", name)
        client.delete("storageclasses", "keep")


def test_a_pod_whose_claim_is_missing_says_so_and_starts_once_it_exists(
        control_plane: ControlPlaneProc) -> None:
    with control_plane.client() as client:
        client.create(_pod("early", "later", "echo ok > /data/x && cat /data/x"))
        message = unschedulable_message(client, "early")
        assert 'persistentvolumeclaim "later" not found' in message, message
        client.create(_claim("later"))
        done = wait_for(pod_phase(client, "early", "Succeeded", "Failed"), timeout=120, what="early")
        assert done["status"]["phase"] == "Succeeded" and _logs(client, "early") == "ok\n"
        client.delete("pods", "early")
        client.delete("persistentvolumeclaims", "later")
        wait_for(lambda: _absent(client, "persistentvolumeclaims", "later"), timeout=60, what="later to go")
