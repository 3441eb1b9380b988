"""Tests for engine.printers tables and ages: kubectl's columns, statuses and alignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.printers import age_of, format_age, format_table, pod_status, tabwrite

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float = 60, ns: str = "default", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "creationTimestamp": ago(age), **extra}


def running_pod() -> dict[str, Any]:
    return {
        "metadata": meta("web-7d4b9c-abcde", 3 * 3600 + 720, labels={"app": "web", "tier": "fe"}),
        "spec": {"nodeName": "gpu-node-1", "containers": [{"name": "web", "image": "nginx"}]},
        "status": {
            "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": ago(3 * 3600)}}}],
        },
    }


def completed_pod() -> dict[str, Any]:
    return {
        "metadata": meta("train-0-x7k2p", 7200),
        "spec": {"containers": [{"name": "train", "image": "pytorch"}]},
        "status": {"phase": "Succeeded", "containerStatuses": [{
            "name": "train", "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                     "startedAt": ago(7000), "finishedAt": ago(3600)}}}]},
    }


def crashloop_pod() -> dict[str, Any]:
    return {
        "metadata": meta("trainer-0", 600, ns="ml"),
        "spec": {"nodeName": "gpu-node-2", "containers": [{"name": "train", "image": "pt"}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "train", "ready": False, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                         "finishedAt": ago(5)}}}]},
    }


def init_pod(init_state: dict[str, Any], restarts: int = 0) -> dict[str, Any]:
    return {
        "metadata": meta("init-pod", 30),
        "spec": {"initContainers": [{"name": "fetch", "image": "busybox"}],
                 "containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": "Pending",
                   "initContainerStatuses": [{"name": "fetch", "ready": False,
                                              "restartCount": restarts, "state": init_state}],
                   "containerStatuses": [{"name": "main", "ready": False, "restartCount": 0,
                                          "state": {"waiting": {"reason": "PodInitializing"}}}]},
    }


def terminating_pod() -> dict[str, Any]:
    pod = running_pod()
    pod["metadata"] = meta("old-web", 86400 * 3, deletionTimestamp=ago(-25))
    return pod


# ---- ages -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1.5, "0s"), (-0.5, "0s"), (0, "0s"), (5, "5s"), (5.9, "5s"),
    (119, "119s"), (120, "2m"), (192, "3m12s"), (599, "9m59s"), (600, "10m"), (45 * 60, "45m"),
    (179 * 60 + 59, "179m"), (3 * 3600, "3h"), (3 * 3600 + 12 * 60, "3h12m"),
    (7 * 3600 + 59 * 60, "7h59m"), (8 * 3600 + 59 * 60, "8h"), (47 * 3600, "47h"),
    (48 * 3600, "2d"), (5 * 86400 + 3 * 3600, "5d3h"), (7 * 86400 + 23 * 3600, "7d23h"),
    (8 * 86400 + 5 * 3600, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"),
    (775 * 86400, "2y45d"), (8 * 365 * 86400 + 100 * 86400, "8y"),
])
def test_format_age_follows_kubectl_human_duration(seconds: float, text: str) -> None:
    assert format_age(seconds) == text


def test_age_of_reads_creation_timestamp() -> None:
    assert age_of({"metadata": {"creationTimestamp": ago(192)}}, NOW) == "3m12s"
    assert age_of({"metadata": {"creationTimestamp": "2024-05-01T11:59:55.123456Z"}}, NOW) == "4s"
    assert age_of({"metadata": {}}, NOW) == "<unknown>"
    assert age_of({}, NOW) == "<unknown>"


def test_age_of_accepts_naive_now_as_utc() -> None:
    assert age_of({"metadata": {"creationTimestamp": ago(60)}}, NOW.replace(tzinfo=None)) == "60s"


# ---- alignment ------------------------------------------------------------------------------

def test_tabwriter_pads_like_kubectl_get() -> None:
    text = "NAME\tREADY\tSTATUS\tRESTARTS\tAGE\nnginx\t1/1\tRunning\t0\t5s"
    assert tabwrite(text, minwidth=6, padding=3).split("\n") == [
        "NAME    READY   STATUS    RESTARTS   AGE",
        "nginx   1/1     Running   0          5s",
    ]


def test_tabwriter_blocks_end_at_lines_without_cells() -> None:
    text = "Name:\tx\nA long label:\ty\nSection:\n  k:\tv"
    assert tabwrite(text, minwidth=0, padding=2).split("\n") == [
        "Name:          x", "A long label:  y", "Section:", "  k:  v"]


# ---- pods -----------------------------------------------------------------------------------

def test_pod_table_matches_kubectl_layout() -> None:
    pods = [running_pod(), completed_pod(), crashloop_pod(),
            init_pod({"running": {"startedAt": ago(20)}}), terminating_pod()]
    assert format_table("pods", pods, now=NOW).split("\n") == [
        "NAME               READY   STATUS             RESTARTS     AGE",
        "web-7d4b9c-abcde   1/1     Running            0            3h12m",
        "train-0-x7k2p      0/1     Completed          0            120m",
        "trainer-0          0/1     CrashLoopBackOff   2 (5s ago)   10m",
        "init-pod           0/1     Init:0/1           0            30s",
        "old-web            1/1     Terminating        0            3d",
    ]


@pytest.mark.parametrize(("state", "status"), [
    ({"terminated": {"exitCode": 1, "reason": "Error"}}, "Init:Error"),
    ({"terminated": {"exitCode": 2}}, "Init:ExitCode:2"),
    ({"terminated": {"exitCode": 137, "signal": 9}}, "Init:Signal:9"),
    ({"waiting": {"reason": "CrashLoopBackOff"}}, "Init:CrashLoopBackOff"),
    ({"waiting": {"reason": "PodInitializing"}}, "Init:0/1"),
    ({"running": {}}, "Init:0/1"),
    ({"terminated": {"exitCode": 0, "reason": "Completed"}}, "PodInitializing"),
])
def test_init_container_states(state: dict[str, Any], status: str) -> None:
    assert pod_status(init_pod(state)) == status


def _one_container(state: dict[str, Any], ready: bool = False, phase: str = "Running"
                   ) -> dict[str, Any]:
    return {"metadata": meta("p"), "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "c", "ready": ready, "restartCount": 0, "state": state}]}}


@pytest.mark.parametrize(("state", "status"), [
    ({"waiting": {"reason": "ContainerCreating"}}, "ContainerCreating"),
    ({"waiting": {"reason": "ContainerRuntimeUnavailable"}}, "ContainerRuntimeUnavailable"),
    ({"waiting": {"reason": "ImagePullBackOff"}}, "ImagePullBackOff"),
    ({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, "OOMKilled"),
    ({"terminated": {"exitCode": 1, "reason": "Error"}}, "Error"),
    ({"terminated": {"exitCode": 3}}, "ExitCode:3"),
    ({"terminated": {"exitCode": 143, "signal": 15}}, "Signal:15"),
    ({"running": {}}, "Running"),
])
def test_container_states(state: dict[str, Any], status: str) -> None:
    assert pod_status(_one_container(state)) == status


def test_pod_status_edge_cases() -> None:
    assert pod_status({"metadata": meta("p")}) == "Pending"
    assert pod_status({"metadata": meta("p"), "status": {"phase": "Failed",
                                                         "reason": "Evicted"}}) == "Evicted"
    gated = {"metadata": meta("p"), "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}}
    assert pod_status(gated) == "SchedulingGated"
    lost = terminating_pod()
    lost["status"]["reason"] = "NodeLost"
    assert pod_status(lost) == "Unknown"
    done = completed_pod()
    done["metadata"]["deletionTimestamp"] = ago(1)
    assert pod_status(done) == "Completed"  # terminal pods are not "Terminating"


def test_completed_container_beside_a_running_one() -> None:
    pod = {"metadata": meta("p"), "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                      "containerStatuses": [
                          {"name": "a", "ready": False, "state": {"terminated": {
                              "exitCode": 0, "reason": "Completed"}}},
                          {"name": "b", "ready": True, "state": {"running": {}}}]}}
    assert pod_status(pod) == "NotReady"
    pod["status"]["conditions"][0]["status"] = "True"
    assert pod_status(pod) == "Running"


def test_restarts_sum_with_latest_termination() -> None:
    pod = crashloop_pod()
    pod["spec"]["containers"].append({"name": "side"})
    pod["status"]["containerStatuses"].append({
        "name": "side", "ready": True, "restartCount": 3, "state": {"running": {}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(600)}}})
    row = format_table("pods", [pod], now=NOW, no_headers=True)
    assert row.split()[1:5] == ["1/2", "CrashLoopBackOff", "5", "(5s"]


def test_sidecar_init_container_counts_as_ready_container() -> None:
    pod = init_pod({"running": {}})
    pod["status"]["phase"] = "Running"
    pod["spec"]["initContainers"][0]["restartPolicy"] = "Always"
    pod["status"]["initContainerStatuses"][0].update(started=True, ready=True)
    pod["status"]["containerStatuses"][0].update(ready=True, state={"running": {}})
    assert format_table("pods", [pod], now=NOW, no_headers=True).split()[1:3] == [
        "2/2", "Running"]


def test_pod_wide_all_namespaces_and_labels() -> None:
    lines = format_table("pods", [running_pod(), crashloop_pod()], now=NOW, wide=True,
                         all_namespaces=True, show_labels=True).split("\n")
    assert lines == [
        "NAMESPACE   NAME               READY   STATUS             RESTARTS     AGE     IP       "
        "  NODE         NOMINATED NODE   READINESS GATES   LABELS",
        "default     web-7d4b9c-abcde   1/1     Running            0            3h12m   10.0.0.5 "
        "  gpu-node-1   <none>           <none>            app=web,tier=fe",
        "ml          trainer-0          0/1     CrashLoopBackOff   2 (5s ago)   10m     <none>   "
        "  gpu-node-2   <none>           <none>            <none>",
    ]


def test_empty_list_and_no_headers() -> None:
    assert format_table("pods", [], now=NOW) == ""
    assert format_table("pods", [running_pod()], now=NOW, no_headers=True) == (
        "web-7d4b9c-abcde   1/1   Running   0     3h12m")


# ---- nodes ----------------------------------------------------------------------------------

def node(name: str, ready: str | None, **spec: Any) -> dict[str, Any]:
    conds = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {"metadata": {"name": name, "creationTimestamp": ago(5 * 86400 + 3 * 3600),
                         "labels": {"node-role.kubernetes.io/gpu": "", "kubernetes.io/role": "w"}},
            "spec": spec,
            "status": {"conditions": conds, "allocatable": {"nvidia.com/gpu": "8"},
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.11"}],
                       "nodeInfo": {"kubeletVersion": "v0.1.0", "osImage": "Ubuntu 22.04",
                                    "kernelVersion": "5.15.0",
                                    "containerRuntimeVersion": "ray://2.60.0"}}}


def test_node_table() -> None:
    nodes = [node("gpu-1", "True"), node("gpu-2", "False", unschedulable=True),
             node("gpu-3", None)]
    nodes[2]["metadata"]["labels"] = {}
    assert format_table("nodes", nodes, now=NOW, all_namespaces=True).split("\n") == [
        "NAME    STATUS                        ROLES    AGE    VERSION",
        "gpu-1   Ready                         gpu,w    5d3h   v0.1.0",
        "gpu-2   NotReady,SchedulingDisabled   gpu,w    5d3h   v0.1.0",
        "gpu-3   Unknown                       <none>   5d3h   v0.1.0",
    ]


def test_node_wide_shows_addresses_and_gpus() -> None:
    bare = {"metadata": {"name": "cpu-1"}}
    lines = format_table("nodes", [node("gpu-1", "True"), bare], now=NOW, wide=True).split("\n")
    assert lines[0].split()[-7:] == ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
                                     "CONTAINER-RUNTIME", "GPU", "GPU-PRODUCT"]
    assert "192.168.1.11   <none>        Ubuntu 22.04   5.15.0           ray://2.60.0        8" \
        in lines[1]
    assert lines[2].split()[-7:] == ["<none>", "<none>", "<unknown>", "<unknown>", "<unknown>",
                                     "0", "<none>"]


def test_node_wide_shows_gpu_product_and_unhealthy_gpus() -> None:
    gpu = node("gpu-1", "True")
    gpu["metadata"].setdefault("labels", {})["nvidia.com/gpu.product"] = "NVIDIA-H100-80GB-HBM3"
    gpu["status"]["capacity"] = {"nvidia.com/gpu": "8"}
    gpu["status"]["allocatable"]["nvidia.com/gpu"] = "7"
    line = format_table("nodes", [gpu], now=NOW, wide=True).split("\n")[1]
    assert line.split()[-2:] == ["7/8", "NVIDIA-H100-80GB-HBM3"]
    gpu["status"]["gpus"] = [{"index": i, "product": p} for i, p in enumerate(
        ["NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"])]
    line = format_table("nodes", [gpu], now=NOW, wide=True).split("\n")[1]
    assert line.split()[-1] == "1xNVIDIA-A100-SXM4-40GB,2xNVIDIA-H100-80GB-HBM3"  # a mixed node


# ---- events ---------------------------------------------------------------------------------

def event(name: str, reason: str, last: float, *, etype: str = "Normal", count: int = 1,
          kind: str = "Pod", obj: str = "trainer-0", msg: str = "m") -> dict[str, Any]:
    return {"metadata": meta(name, last, ns="ml"), "type": etype, "reason": reason,
            "involvedObject": {"kind": kind, "name": obj, "namespace": "ml"},
            "message": msg, "count": count, "source": {"component": "tug-scheduler"},
            "firstTimestamp": ago(last + 100 * (count - 1)), "lastTimestamp": ago(last)}


def test_event_table_sorted_by_last_seen() -> None:
    events = [event("b", "BackOff", 5, etype="Warning", count=3, msg="Back-off restarting"),
              event("a", "Scheduled", 600, msg="Successfully assigned ml/trainer-0 to n1\n"),
              event("c", "ScalingReplicaSet", 30, kind="Deployment", obj="web", msg="Scaled")]
    assert format_table("events", events, now=NOW).split("\n") == [
        "LAST SEEN   TYPE      REASON              OBJECT           MESSAGE",
        "10m         Normal    Scheduled           pod/trainer-0    Successfully assigned "
        "ml/trainer-0 to n1",
        "30s         Normal    ScalingReplicaSet   deployment/web   Scaled",
        "5s          Warning   BackOff             pod/trainer-0    Back-off restarting",
    ]
    wide = format_table("events", events, now=NOW, wide=True).split("\n")
    assert wide[0].split("   ")[-3:] == ["FIRST SEEN", "COUNT", "NAME"]
    assert wide[3].split()[-3:] == ["3m25s", "3", "b"]


def test_an_unreadable_object_is_one_marked_row_not_a_traceback() -> None:
    """However a malformed status got into the store, `get` still prints every other row and
    `describe` shows the object as stored, with why it could not be read."""
    from engine.printers import describe, format_table

    now = datetime(2026, 1, 2, tzinfo=UTC)
    good = {"metadata": {"name": "good", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}}
    bad = {"metadata": {"name": "bad", "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"containers": [{"name": "c"}]},
           "status": {"phase": 5, "conditions": "abc", "containerStatuses": "x"}}
    lines = format_table("pods", [good, bad], now=now, wide=True).splitlines()
    assert lines[1].split()[:3] == ["good", "0/1", "Running"]
    assert lines[2].split()[:2] == ["bad", "<unreadable:"]
    assert len(lines[2].split()) == len(lines[1].split()) + 1  # every column filled
    text = describe("pods", bad, events=[], now=now)
    assert text.startswith("Warning:  this object could not be read (AttributeError")
    assert "conditions: abc" in text
