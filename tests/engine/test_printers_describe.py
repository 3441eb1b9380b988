"""Tests for engine.printers.describe_kinds: kubectl-describe text for pods, nodes and other kinds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.printers import describe
from engine.printers.describe_pod import describe_probe, pod_qos

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def crashloop_pod() -> dict[str, Any]:
    pod: dict[str, Any] = {
        "metadata": {"name": "trainer-0", "namespace": "ml", "creationTimestamp": ago(600),
                     "labels": {"job-name": "trainer", "app": "train"},
                     "annotations": {"tugboat.dev/queue": "research",
                                     "kubectl.kubernetes.io/last-applied-configuration": "{}"},
                     "ownerReferences": [{"kind": "Job", "name": "trainer", "controller": True}]},
        "spec": {"nodeName": "gpu-node-2", "priority": 100, "priorityClassName": "high",
                 "containers": [{
                     "name": "train", "image": "pytorch:2.3", "command": ["python", "train.py"],
                     "args": ["--epochs", "3"], "ports": [{"containerPort": 29500}],
                     "resources": {"limits": {"nvidia.com/gpu": "1", "memory": "16Gi"},
                                   "requests": {"cpu": "2", "memory": "8Gi"}},
                     "env": [{"name": "LR", "value": "0.01"},
                             {"name": "POD", "valueFrom": {
                                 "fieldRef": {"fieldPath": "metadata.name"}}},
                             {"name": "TOKEN", "valueFrom": {
                                 "secretKeyRef": {"name": "hf", "key": "token"}}}],
                     "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True},
                                      {"name": "scratch", "mountPath": "/scratch"}]}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "datasets"}},
                             {"name": "scratch", "emptyDir": {}}],
                 "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                  "effect": "NoSchedule"},
                                 {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300}],
                 "nodeSelector": {"gpu": "a100"}},
        "status": {"phase": "Running", "hostIP": "192.168.1.12", "podIP": "10.0.1.7",
                   "podIPs": [{"ip": "10.0.1.7"}], "startTime": ago(590),
                   "conditions": [{"type": "Initialized", "status": "True"},
                                  {"type": "Ready", "status": "False"},
                                  {"type": "ContainersReady", "status": "False"},
                                  {"type": "PodScheduled", "status": "True"}],
                   "containerStatuses": [{
                       "name": "train", "ready": False, "restartCount": 4,
                       "containerID": "ray://6f1c", "imageID": "pytorch@sha256:ab12",
                       "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                       "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                                    "startedAt": ago(60),
                                                    "finishedAt": ago(45)}}}]},
    }
    return pod


def pod_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container",
         "source": {"component": "tug-runtime"}, "count": 3, "firstTimestamp": ago(300),
         "lastTimestamp": ago(5)},
        {"type": "Normal", "reason": "Scheduled",
         "message": "Successfully assigned ml/trainer-0 to gpu-node-2",
         "reportingController": "tug-scheduler", "eventTime": "2024-05-01T11:50:00.000000Z"},
    ]
    return events


GOLDEN_POD = [
    'Name:                 trainer-0',
    'Namespace:            ml',
    'Priority:             100',
    'Priority Class Name:  high',
    'Node:                 gpu-node-2/192.168.1.12',
    'Start Time:           Wed, 01 May 2024 11:50:10 +0000',
    'Labels:               app=train',
    '                      job-name=trainer',
    'Annotations:          tugboat.dev/queue: research',
    'Status:               Running',
    'IP:                   10.0.1.7',
    'IPs:',
    '  IP:           10.0.1.7',
    'Controlled By:  Job/trainer',
    'Containers:',
    '  train:',
    '    Container ID:  ray://6f1c',
    '    Image:         pytorch:2.3',
    '    Image ID:      pytorch@sha256:ab12',
    '    Port:          29500/TCP',
    '    Host Port:     0/TCP',
    '    Command:',
    '      python',
    '      train.py',
    '    Args:',
    '      --epochs',
    '      3',
    '    State:          Waiting',
    '      Reason:       CrashLoopBackOff',
    '    Last State:     Terminated',
    '      Reason:       OOMKilled',
    '      Exit Code:    137',
    '      Started:      Wed, 01 May 2024 11:59:00 +0000',
    '      Finished:     Wed, 01 May 2024 11:59:15 +0000',
    '    Ready:          False',
    '    Restart Count:  4',
    '    Limits:',
    '      memory:          16Gi',
    '      nvidia.com/gpu:  1',
    '    Requests:',
    '      cpu:     2',
    '      memory:  8Gi',
    '    Environment:',
    '      LR:     0.01',
    '      POD:    trainer-0 (v1:metadata.name)',
    "      TOKEN:  <set to the key 'token' in secret 'hf'>  Optional: false",
    '    Mounts:',
    '      /data from data (ro)',
    '      /scratch from scratch (rw)',
    'Conditions:',
    '  Type              Status',
    '  Initialized       True ',
    '  Ready             False ',
    '  ContainersReady   False ',
    '  PodScheduled      True ',
    'Volumes:',
    '  data:',
    '    Type:       PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same '
    'namespace)',
    '    ClaimName:  datasets',
    '    ReadOnly:   false',
    '  scratch:',
    "    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)",
    '    Medium:      ',
    '    SizeLimit:   <unset>',
    'QoS Class:       Burstable',
    'Node-Selectors:  gpu=a100',
    'Tolerations:     nvidia.com/gpu:NoSchedule op=Exists',
    '                 node.kubernetes.io/not-ready:NoExecute op=Exists for 300s',
    'Events:',
    '  Type     Reason     Age              From           Message',
    '  ----     ------     ----             ----           -------',
    '  Normal   Scheduled  10m              tug-scheduler  '
    'Successfully assigned ml/trainer-0 to gpu-node-2',
    '  Warning  BackOff    5s (x3 over 5m)  tug-runtime    Back-off restarting failed container',
]


# ---- pods -----------------------------------------------------------------------------------

def test_describe_pod_matches_kubectl_layout() -> None:
    """Alignment quirks included: kubectl aligns each run of tab-separated lines on its own."""
    text = describe("pods", crashloop_pod(), events=pod_events(), now=NOW)
    assert text.split("\n") == GOLDEN_POD


def test_describe_pod_key_facts() -> None:
    text = describe("pods", crashloop_pod(), events=pod_events(), now=NOW)
    assert "      Exit Code:    137\n" in text
    assert "    Restart Count:  4\n" in text
    assert "last-applied-configuration" not in text
    events_part = text[text.index("Events:"):]
    assert events_part.split("\n")[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert "5s (x3 over 5m)" in events_part


def test_describe_pod_without_events_status_or_spec() -> None:
    text = describe("pods", {"metadata": {"name": "bare", "namespace": "d"}}, events=[], now=NOW)
    lines = text.split("\n")
    assert "Status:       Pending" in lines
    assert "Node:         <none>" in lines
    assert "Containers: <none>" in lines
    assert lines[-1] == "Events:          <none>"


def test_describe_terminating_pod_and_running_state() -> None:
    pod = crashloop_pod()
    pod["metadata"].update(deletionTimestamp=ago(-25), deletionGracePeriodSeconds=30)
    pod["status"]["containerStatuses"][0].update(
        ready=True, state={"running": {"startedAt": ago(20)}}, lastState={})
    text = describe("pods", pod, events=[], now=NOW)
    assert "Status:                    Terminating (lasts 25s)\n" in text
    assert "Termination Grace Period:  30s\n" in text
    assert ("    State:          Running\n"
            "      Started:      Wed, 01 May 2024 11:59:40 +0000\n") in text
    assert "Last State" not in text
    assert "    Ready:          True\n" in text


def test_describe_pod_init_containers_and_terminated_state() -> None:
    pod = crashloop_pod()
    pod["spec"]["initContainers"] = [{"name": "fetch", "image": "busybox"}]
    pod["status"]["initContainerStatuses"] = [{
        "name": "fetch", "restartCount": 0, "ready": False,
        "state": {"terminated": {"exitCode": 1, "reason": "Error", "message": "no such bucket",
                                 "startedAt": ago(100), "finishedAt": ago(90)}}}]
    text = describe("pods", pod, events=[], now=NOW)
    init = text[text.index("Init Containers:"):text.index("\nContainers:")]
    assert "  fetch:" in init
    assert "    State:          Terminated" in init
    assert "      Reason:       Error" in init
    assert "      Message:      no such bucket" in init
    assert "      Exit Code:    1" in init


@pytest.mark.parametrize(("resources", "qos"), [
    ([{}], "BestEffort"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}],
     "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
    ([{"requests": {"nvidia.com/gpu": "1"}}], "BestEffort"),
])
def test_pod_qos(resources: list[dict[str, Any]], qos: str) -> None:
    pod = {"spec": {"containers": [{"name": f"c{i}", "resources": r}
                                   for i, r in enumerate(resources)]}}
    assert pod_qos(pod) == qos
    assert pod_qos({"status": {"qosClass": "Guaranteed"}}) == "Guaranteed"


def test_describe_probe() -> None:
    assert describe_probe({"httpGet": {"path": "/healthz", "port": 8080}}) == (
        "http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3")
    assert describe_probe({"exec": {"command": ["cat", "/tmp/ok"]}, "periodSeconds": 5}) == (
        "exec [cat /tmp/ok] delay=0s timeout=1s period=5s #success=1 #failure=3")
    assert describe_probe({"tcpSocket": {"port": 6379}}).startswith("tcp-socket :6379 ")


# ---- other kinds ----------------------------------------------------------------------------

def test_describe_node() -> None:
    node = {"metadata": {"name": "gpu-1", "creationTimestamp": ago(86400),
                         "labels": {"node-role.kubernetes.io/gpu": ""}},
            "spec": {"taints": [{"key": "gpu", "value": "maint", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "RayletUp",
                                       "message": "ok", "lastHeartbeatTime": ago(10),
                                       "lastTransitionTime": ago(86400)}],
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.11"}],
                       "capacity": {"nvidia.com/gpu": "8", "cpu": "64"},
                       "allocatable": {"nvidia.com/gpu": "7", "cpu": "63"},
                       "nodeInfo": {"kubeletVersion": "v0.1.0"}}}
    text = describe("nodes", node, events=[], now=NOW)
    assert "Roles:              gpu\n" in text
    assert "Taints:             gpu=maint:NoSchedule\n" in text
    assert "Unschedulable:      false\n" in text
    assert "  Ready   True    Wed, 01 May 2024 11:59:50 +0000   Tue, 30 Apr 2024 12:00:00 +0000" \
           "   RayletUp   ok\n" in text
    assert "Capacity:\n  cpu:             64\n  nvidia.com/gpu:  8\n" in text
    assert "Allocatable:\n  cpu:             63\n  nvidia.com/gpu:  7\n" in text
    assert "  Kubelet Version:            v0.1.0\n" in text


def test_describe_generic_renders_spec_and_status_as_yaml() -> None:
    job = {"apiVersion": "batch/v1", "kind": "CronJob",
           "metadata": {"name": "train", "namespace": "ml", "creationTimestamp": ago(60),
                        "labels": {"team": "nlp"}},
           "spec": {"completions": 2, "template": {"spec": {"containers": [
               {"name": "t", "image": "pytorch"}]}}},
           "status": {"active": 1, "conditions": []}}
    events = [{"type": "Normal", "reason": "SuccessfulCreate", "message": "Created pod: train-0",
               "source": {"component": "job-controller"}, "firstTimestamp": ago(60),
               "lastTimestamp": ago(60), "count": 1}]
    text = describe("cronjobs", job, events=events, now=NOW)
    assert text.split("\n")[:9] == [
        "Name:               train",
        "Namespace:          ml",
        "Labels:             team=nlp",
        "Annotations:        <none>",
        "CreationTimestamp:  Wed, 01 May 2024 11:59:00 +0000",
        "Spec:",
        "  completions: 2",
        "  template:",
        "    spec:",
    ]
    assert "Status:\n  active: 1\n  conditions: []\nEvents:\n" in text
    assert text.endswith("  Normal  SuccessfulCreate  60s   job-controller  Created pod: train-0")


def test_describe_generic_scalars_are_titled_fields() -> None:
    pc = {"metadata": {"name": "high"}, "value": 1000, "globalDefault": False}
    assert describe("priorityclasses", pc, events=[], now=NOW).split("\n") == [
        "Name:            high", "Labels:          <none>", "Annotations:     <none>",
        "Value:           1000", "Global Default:  false", "Events:          <none>"]


def test_describe_secret_never_shows_values() -> None:
    secret = {"metadata": {"name": "hf", "namespace": "ml"}, "type": "Opaque",
              "data": {"token": "c2VjcmV0LXZhbHVl"}, "stringData": {"extra": "plain-text"}}
    text = describe("secrets", secret, events=[], now=NOW)
    assert "secret-value" not in text and "c2VjcmV0" not in text and "plain-text" not in text
    assert "Type:  Opaque" in text
    assert "token:  12 bytes" in text
    assert "extra:  10 bytes" in text


def test_describe_configmap_and_long_annotations() -> None:
    cm = {"metadata": {"name": "cfg", "namespace": "ml",
                       "annotations": {"note": "x" * 200, "short": "yes"}},
          "data": {"train.yaml": "lr: 0.1\nepochs: 3\n"}}
    lines = describe("configmaps", cm, events=[], now=NOW).split("\n")
    assert lines[3] == "Annotations:  note:"
    assert lines[4] == "  " + "x" * 138 + "..."
    # The tab-less lines above end the column block, as with Go's tabwriter in kubectl.
    assert lines[5] == "  short: yes"
    data = lines[lines.index("Data"):]
    assert data[:6] == ["Data", "====", "train.yaml:", "----", "lr: 0.1", "epochs: 3"]
    assert lines[-1] == "Events:  <none>"


def test_describe_shows_which_pod_holds_which_gpu() -> None:
    from datetime import datetime

    from engine.printers import describe as describe_text

    now = datetime(2026, 1, 1, tzinfo=UTC)
    node = {"metadata": {"name": "gpu-a", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"gpus": [
                {"index": 0, "uuid": "GPU-0", "product": "H100", "memoryMiB": 81920,
                 "health": "Healthy"},
                {"index": 1, "uuid": "GPU-1", "product": "H100", "memoryMiB": 81920,
                 "health": "Unhealthy", "reason": "critical XID 79"}]}}
    pod = {"metadata": {"name": "train", "namespace": "ml", "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"nodeName": "gpu-a", "containers": [
               {"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}}}]},
           "status": {"phase": "Running", "gpus": [{"index": 0, "uuid": "GPU-0", "product": "H100"}]}}
    text = describe_text("nodes", node, events=[], now=now, pods=[pod])
    gpu_lines = text.split("GPUs:\n")[1].splitlines()
    assert gpu_lines[2].split() == ["0", "GPU-0", "H100", "81920Mi", "Healthy", "ml/train"]
    assert gpu_lines[3].split()[:5] == ["1", "GPU-1", "H100", "81920Mi", "Unhealthy:"]
    assert gpu_lines[3].split()[-1] == "<none>"
    assert "Non-terminated Pods:" in text and "(1 in total)" in text
    pod_text = describe_text("pods", pod, events=[], now=now)
    assert pod_text.split("GPUs:\n")[1].splitlines()[2].split() == ["0", "GPU-0", "H100", "n/a"]
    pod["status"]["gpus"][0]["podMemoryUsedMiB"] = 2048
    pod_text = describe_text("pods", pod, events=[], now=now)
    assert pod_text.split("GPUs:\n")[1].splitlines()[2].split() == ["0", "GPU-0", "H100", "2048Mi"]
    node["status"]["gpus"][0].update(memoryUsedMiB=2100, processes=[
        {"pid": 4242, "usedMemoryMiB": 2048, "pod": "ml/train"},
        {"pid": 77, "usedMemoryMiB": 52, "pod": None}])
    text = describe_text("nodes", node, events=[], now=now, pods=[pod])
    assert text.split("GPUs:\n")[1].splitlines()[2].split()[3] == "2100Mi/81920Mi"
    procs = text.split("GPU Processes:\n")[1].splitlines()
    assert procs[2].split() == ["0", "4242", "ml/train", "2048Mi"]
    assert procs[3].split() == ["0", "77", "<none>", "52Mi"]


def test_describe_job_lists_every_pod_it_ran_with_exit_codes() -> None:
    job = {"metadata": {"name": "train", "namespace": "ml"},
           "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 0},
           "status": {"startTime": ago(120), "failed": 1, "active": 0,
                      "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                      "message": "Job has reached the specified backoff limit"}]}}
    gone = {"metadata": {"name": "train-abcde", "creationTimestamp": ago(100),
                         "annotations": {"tugboat.dev/deleted": "true"}},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Failed", "containerStatuses": [
                {"state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}}
    text = describe("jobs", job, events=[], now=NOW)
    assert any(line.split() == ["Pods:", "<none>"] for line in text.splitlines())
    text = describe("jobs", job, events=[], now=NOW, pods=[gone])
    assert "Pods Statuses:" in text and "0 Active (0 Ready) / 0 Succeeded / 1 Failed" in text
    row = next(line for line in text.splitlines() if "train-abcde" in line)
    assert row.split() == ["train-abcde", "Failed", "3", "Error", "n1", "yes"]
    assert "BackoffLimitExceeded" in text and "Duration:" in text
