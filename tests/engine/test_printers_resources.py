"""Tests for engine.printers tables of workloads, networking, storage, config and queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.printers import format_table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float = 60, ns: str = "default") -> dict[str, Any]:
    return {"name": name, "namespace": ns, "creationTimestamp": ago(age)}


def test_workload_tables() -> None:
    dep = {"metadata": meta("web", 7200),
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
               {"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
               "template": {"spec": {"containers": [{"name": "web", "image": "nginx"},
                                                    {"name": "log", "image": "fluent"}]}}},
           "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert format_table("deployments", [dep], now=NOW, wide=True).split("\n") == [
        "NAME   READY   UP-TO-DATE   AVAILABLE   AGE    CONTAINERS   IMAGES         SELECTOR",
        "web    2/3     3            2           120m   web,log      nginx,fluent   "
        "app=web,env in (dev,prod)",
    ]
    rs = {"metadata": meta("web-7d4b9c", 7200), "spec": {"replicas": 3},
          "status": {"replicas": 3, "readyReplicas": 1}}
    assert format_table("replicasets", [rs], now=NOW).split("\n")[1].split() == [
        "web-7d4b9c", "3", "3", "1", "120m"]


@pytest.mark.parametrize(("spec", "status", "cells"), [
    ({"completions": 4}, {"succeeded": 4, "startTime": ago(3900), "completionTime": ago(100),
                          "conditions": [{"type": "Complete", "status": "True"}]},
     ["Complete", "4/4", "63m"]),
    ({"parallelism": 3}, {"startTime": ago(40)}, ["Running", "0/1", "of", "3", "40s"]),
    ({}, {"succeeded": 0, "conditions": [{"type": "Failed", "status": "True"}]},
     ["Failed", "0/1"]),
    ({"completions": 2}, {"conditions": [{"type": "Suspended", "status": "True"}]},
     ["Suspended", "0/2"]),
    ({"completions": 2}, {"conditions": [{"type": "FailureTarget", "status": "True"}]},
     ["FailureTarget", "0/2"]),
])
def test_job_status_and_completions(spec: dict[str, Any], status: dict[str, Any],
                                    cells: list[str]) -> None:
    job = {"metadata": meta("train", 4000), "spec": spec, "status": status}
    row = format_table("jobs", [job], now=NOW, no_headers=True).split()
    assert row[1:-1] == cells


def test_cronjob_service_endpoints_ingress_tables() -> None:
    cj = {"metadata": meta("nightly", 30 * 86400),
          "spec": {"schedule": "0 2 * * *", "timeZone": "Etc/UTC", "suspend": True},
          "status": {"lastScheduleTime": ago(36000), "active": [{"name": "j"}]}}
    assert format_table("cronjobs", [cj], now=NOW).split("\n") == [
        "NAME      SCHEDULE    TIMEZONE   SUSPEND   ACTIVE   LAST SCHEDULE   AGE",
        "nightly   0 2 * * *   Etc/UTC    True      1        10h             30d"]
    svcs = [{"metadata": meta("web", 100), "spec": {
        "type": "NodePort", "clusterIP": "10.96.0.10",
        "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53,
                                                                       "protocol": "UDP"}]}},
            {"metadata": meta("lb", 100), "spec": {"type": "LoadBalancer",
                                                   "clusterIPs": ["10.96.0.11"]}},
            {"metadata": meta("ext", 100), "spec": {"type": "ExternalName",
                                                    "externalName": "db.example.com"}}]
    assert format_table("services", svcs, now=NOW).split("\n") == [
        "NAME   TYPE           CLUSTER-IP   EXTERNAL-IP      PORT(S)               AGE",
        "web    NodePort       10.96.0.10   <none>           80:30080/TCP,53/UDP   100s",
        "lb     LoadBalancer   10.96.0.11   <pending>        <none>                100s",
        "ext    ExternalName   <none>       db.example.com   <none>                100s"]
    eps: list[dict[str, Any]] = [{"metadata": meta("web", 100), "subsets": [
        {"addresses": [{"ip": f"10.0.0.{i}"} for i in range(5)], "ports": [{"port": 80}]}]},
           {"metadata": meta("headless", 100), "subsets": [{"addresses": [{"ip": "fd00::1"}],
                                                            "ports": [{"port": 8080}]}]},
           {"metadata": meta("empty", 100)}]
    assert format_table("endpoints", eps, now=NOW).split("\n") == [
        "NAME       ENDPOINTS                                         AGE",
        "web        10.0.0.0:80,10.0.0.1:80,10.0.0.2:80 + 2 more...   100s",
        "headless   [fd00::1]:8080                                    100s",
        "empty      <none>                                            100s"]
    ing = {"metadata": meta("web", 100), "spec": {
        "ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}}
    assert format_table("ingresses", [ing], now=NOW).split("\n")[1] == (
        "web    nginx   a.example.com,b.example.com   203.0.113.7   80, 443   100s")


def test_hpa_pvc_and_config_tables() -> None:
    hpa = {"metadata": meta("web", 100), "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
        "maxReplicas": 10, "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 80}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {
                "type": "AverageValue", "averageValue": "1Gi"}}},
            {"type": "Pods", "pods": {"target": {"averageValue": "10"}}}]},
        "status": {"currentReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": 45}}}]}}
    assert format_table("horizontalpodautoscalers", [hpa], now=NOW).split("\n") == [
        "NAME   REFERENCE        TARGETS                                           "
        "MINPODS   MAXPODS   REPLICAS   AGE",
        "web    Deployment/web   cpu: 45%/80%, memory: <unknown>/1Gi + 1 more...   "
        "1         10        2          100s"]
    pvcs = [{"metadata": meta("data", 100), "spec": {"volumeName": "pv-1",
                                                     "storageClassName": "fast"},
             "status": {"phase": "Bound", "capacity": {"storage": "100Gi"},
                        "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}},
            {"metadata": meta("new", 100), "spec": {}, "status": {"phase": "Pending"}}]
    assert [line.split() for line in format_table("persistentvolumeclaims", pvcs,
                                                  now=NOW).split("\n")] == [
        ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS", "AGE"],
        ["data", "Bound", "pv-1", "100Gi", "RWO,RWX", "fast", "100s"],
        ["new", "Pending", "<unset>", "100s"]]
    cm = {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    sec = {"metadata": meta("tok"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "k": ""}}
    pc = {"metadata": {"name": "high", "creationTimestamp": ago(60)}, "value": 1000,
          "globalDefault": True}
    assert format_table("configmaps", [cm], now=NOW).split("\n")[1].split() == ["cfg", "3", "60s"]
    assert format_table("secrets", [sec], now=NOW).split("\n")[1].split() == [
        "tok", "kubernetes.io/tls", "2", "60s"]
    assert format_table("priorityclasses", [pc], now=NOW, all_namespaces=True).split("\n") == [
        "NAME   VALUE   GLOBAL-DEFAULT   AGE", "high   1000    true             60s"]


def test_queues_show_counts_and_quota_used_over_limit() -> None:
    queues = [{"metadata": {"name": "research", "creationTimestamp": ago(100)},
               "spec": {"strategy": "StrictFIFO", "quota": {"nvidia.com/gpu": "8", "cpu": "64"}},
               "status": {"pendingWorkloads": 2, "admittedWorkloads": 3, "runningWorkloads": 1,
                          "used": {"nvidia.com/gpu": "8"}}},
              {"metadata": {"name": "default", "creationTimestamp": ago(1000)}, "spec": {}}]
    assert format_table("queues", queues, now=NOW, all_namespaces=True).split("\n") == [
        "NAME       STRATEGY         PENDING   ADMITTED   RUNNING   QUOTA (USED/LIMIT)             AGE",
        "research   StrictFIFO       2         3          1         cpu 0/64, nvidia.com/gpu 8/8   100s",
        "default    BestEffortFIFO   0         0          0         <none>                         16m"]


def test_unknown_kinds_show_name_and_age() -> None:
    assert format_table("widgets", [{"metadata": meta("w", 5)}], now=NOW,
                        all_namespaces=True) == "NAMESPACE   NAME   AGE\ndefault     w      5s"
