"""Kubernetes defaulting (the SetDefaults_* functions), applied in place to JSON-shaped objects.

Defaulting runs on plain dicts so that it can also run, best effort, on a document that failed
type validation; every step therefore checks the types it touches.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

MAX_INT32 = 2**31 - 1


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _child(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    return _dict(obj.get(key))


def _set(obj: dict[str, Any], key: str, value: Any) -> None:
    if obj.get(key) is None:
        obj[key] = value


# -- pods ----------------------------------------------------------------------------------------
def image_pull_policy(image: str) -> str:
    """`Always` for `:latest` or an untagged image, else `IfNotPresent` (a digest counts as tag)."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    _, colon, tag = last.partition(":")
    return "Always" if not colon or tag == "latest" else "IfNotPresent"


def default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    _set(probe, "initialDelaySeconds", 0)
    _set(probe, "timeoutSeconds", 1)
    _set(probe, "periodSeconds", 10)
    _set(probe, "successThreshold", 1)
    _set(probe, "failureThreshold", 3)
    http = _child(probe, "httpGet")
    if http is not None:
        _set(http, "path", "/")
        _set(http, "scheme", "HTTP")


def default_container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    image = container.get("image")
    if isinstance(image, str):
        _set(container, "imagePullPolicy", image_pull_policy(image))
    _set(container, "terminationMessagePath", "/dev/termination-log")
    _set(container, "terminationMessagePolicy", "File")
    for port in _list(container.get("ports")):
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        default_probe(container.get(key))
    for env in _list(container.get("env")):
        field_ref = (
            _child(_child(env, "valueFrom") or {}, "fieldRef") if isinstance(env, dict) else None
        )
        if field_ref is not None:
            _set(field_ref, "apiVersion", "v1")
    resources = _child(container, "resources")
    if resources is not None:
        limits = _child(resources, "limits")
        if limits:
            requests = _child(resources, "requests")
            if requests is None:
                requests = resources["requests"] = {}
            for name, value in limits.items():
                requests.setdefault(name, value)


def default_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    _set(spec, "restartPolicy", "Always")
    _set(spec, "terminationGracePeriodSeconds", 30)
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "schedulerName", "default-scheduler")
    _set(spec, "securityContext", {})
    if isinstance(spec.get("serviceAccount"), str) and spec.get("serviceAccountName") is None:
        spec["serviceAccountName"] = spec["serviceAccount"]
    for key in ("containers", "initContainers"):
        for container in _list(spec.get(key)):
            default_container(container)
    for volume in _list(spec.get("volumes")):
        if not isinstance(volume, dict):
            continue
        if set(volume) <= {"name"}:
            volume["emptyDir"] = {}  # a volume with no source is an emptyDir
        for key in ("configMap", "secret"):
            source = _child(volume, key)
            if source is not None:
                _set(source, "defaultMode", 0o644)
        host_path = _child(volume, "hostPath")
        if host_path is not None:
            _set(host_path, "type", "")


def default_pod_template(template: Any) -> None:
    if isinstance(template, dict):
        default_pod_spec(template.get("spec"))


# -- workloads -----------------------------------------------------------------------------------
def default_deployment(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    _set(spec, "replicas", 1)
    strategy = _child(spec, "strategy")
    if strategy is None:
        strategy = spec["strategy"] = {}
    _set(strategy, "type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        if rolling is None:
            rolling = strategy["rollingUpdate"] = {}
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    _set(spec, "minReadySeconds", 0)
    default_pod_template(spec.get("template"))


def default_replicaset(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    _set(spec, "replicas", 1)
    _set(spec, "minReadySeconds", 0)
    default_pod_template(spec.get("template"))


def default_job_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_Job on a JobSpec (pkg/apis/batch/v1/defaults.go)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _set(
        spec, "parallelism", 1
    )  # only completions set; only parallelism set leaves completions nil
    _set(spec, "backoffLimit", MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    _set(spec, "manualSelector", False)
    policy = _child(spec, "podFailurePolicy")
    _set(spec, "podReplacementPolicy", "Failed" if policy is not None else "TerminatingOrFailed")
    for rule in _list((policy or {}).get("rules")):
        for pattern in _list(rule.get("onPodConditions") if isinstance(rule, dict) else None):
            if isinstance(pattern, dict):
                _set(pattern, "status", "True")
    default_pod_template(spec.get("template"))


def default_job(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec is not None:
        default_job_spec(spec)


def default_cronjob(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    _set(spec, "concurrencyPolicy", "Allow")
    _set(spec, "suspend", False)
    _set(spec, "successfulJobsHistoryLimit", 3)
    _set(spec, "failedJobsHistoryLimit", 1)
    # Like SetObjectDefaults_CronJob: the pod template is defaulted, the JobSpec itself is not
    # (its defaults come when the controller creates each Job).
    job_spec = _child(_child(spec, "jobTemplate") or {}, "spec")
    if job_spec is not None:
        default_pod_template(job_spec.get("template"))


# -- services and the rest -----------------------------------------------------------------------
def default_service(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        spec = obj["spec"] = {}
    _set(spec, "type", "ClusterIP")
    _set(spec, "sessionAffinity", "None")
    if spec.get("type") != "ExternalName":
        _set(spec, "internalTrafficPolicy", "Cluster")
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        _set(spec, "externalTrafficPolicy", "Cluster")
    for port in _list(spec.get("ports")):
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
            _set(port, "targetPort", port.get("port"))


def default_endpoints(obj: dict[str, Any]) -> None:
    for subset in _list(obj.get("subsets")):
        for port in _list(subset.get("ports") if isinstance(subset, dict) else None):
            if isinstance(port, dict):
                _set(port, "protocol", "TCP")


def default_endpointslice(obj: dict[str, Any]) -> None:
    """A port's name defaults to "" and its protocol to TCP (SetDefaults_EndpointPort)."""
    for port in _list(obj.get("ports")):
        if isinstance(port, dict):
            _set(port, "name", "")
            _set(port, "protocol", "TCP")


def default_namespace(obj: dict[str, Any]) -> None:
    meta = _child(obj, "metadata")
    name = meta.get("name") if meta is not None else None
    if meta is not None and isinstance(name, str):
        labels = _child(meta, "labels")
        if labels is None:
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = name
    if obj.get("status") is None:
        obj["status"] = {"phase": "Active"}


def default_secret(obj: dict[str, Any]) -> None:
    _set(obj, "type", "Opaque")
    string_data = _dict(obj.pop("stringData", None))
    if string_data:
        data = _child(obj, "data")
        if data is None:
            data = obj["data"] = {}
        for key, value in string_data.items():
            if isinstance(value, str):  # stringData is write-only and wins over data
                data[key] = base64.b64encode(value.encode()).decode()


def default_pvc(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec is not None:
        _set(spec, "volumeMode", "Filesystem")


def default_pv(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec is not None:
        _set(spec, "volumeMode", "Filesystem")
        _set(spec, "persistentVolumeReclaimPolicy", "Retain")  # a provisioned one takes its class's


def default_storage_class(obj: dict[str, Any]) -> None:
    _set(obj, "reclaimPolicy", "Delete")
    _set(obj, "volumeBindingMode", "Immediate")


def _scale_rules(rules: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(rules, dict):
        return dict(defaults)
    for key, value in defaults.items():
        if rules.get(key) is None or (key == "policies" and rules.get(key) == []):
            rules[key] = value
    return rules


def default_hpa(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    if spec is None:
        return
    _set(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    behavior = _child(spec, "behavior")
    if behavior is not None:  # behavior defaults apply only when behavior is set
        behavior["scaleUp"] = _scale_rules(
            behavior.get("scaleUp"),
            {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15},
                ],
            },
        )
        behavior["scaleDown"] = _scale_rules(
            behavior.get("scaleDown"),
            {
                "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
            },
        )


def default_priority_class(obj: dict[str, Any]) -> None:
    _set(obj, "preemptionPolicy", "PreemptLowerPriority")


def default_pod(obj: dict[str, Any]) -> None:
    default_pod_spec(obj.get("spec"))


DEFAULTERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "Pod": default_pod,
    "Deployment": default_deployment,
    "ReplicaSet": default_replicaset,
    "Job": default_job,
    "CronJob": default_cronjob,
    "Service": default_service,
    "Endpoints": default_endpoints,
    "EndpointSlice": default_endpointslice,
    "Namespace": default_namespace,
    "Secret": default_secret,
    "PersistentVolumeClaim": default_pvc,
    "PersistentVolume": default_pv,
    "StorageClass": default_storage_class,
    "HorizontalPodAutoscaler": default_hpa,
    "PriorityClass": default_priority_class,
}


def apply_defaults(obj: dict[str, Any]) -> None:
    """Fill in the Kubernetes defaults for the object's kind, in place."""
    defaulter = DEFAULTERS.get(str(obj.get("kind")))
    if defaulter is not None:
        defaulter(obj)
