"""Status as input: the shape each kind's status must have when a client writes it (PUT
.../status), and what a create keeps of it. The control plane writes status straight to the
store; everything a client sends passes here first, so no reader meets `phase: 5`."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic.alias_generators import to_camel

from engine.api.base import Int32, Int64, ResourceList
from engine.api.names import show
from engine.api.problems import describe_error, format_path
from engine.errors import InvalidError

# Kinds whose status a create keeps, as Kubernetes does (a node registers with its status);
# every other kind starts with none and gets it from its controller.
KEPT_ON_CREATE = frozenset({"nodes"})

_INDEXES = re.compile(r"^(\d+(-\d+)?)(,\d+(-\d+)?)*$")


def _time(value: Any) -> str:
    from engine.clock import parse_time

    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 time such as 2026-01-02T03:04:05Z")  # noqa: TRY004
    try:
        parse_time(value)
    except ValueError:
        raise ValueError("expected an RFC 3339 time such as 2026-01-02T03:04:05Z") from None
    return value


def _index_set(value: Any) -> str:
    """"0-2,4,7": ascending, disjoint, each index an int32."""
    if not isinstance(value, str):
        raise ValueError("expected an index set such as \"0-2,4\"")  # noqa: TRY004
    if not value:
        return value
    if len(value) > 1_000_000 or not _INDEXES.match(value):
        raise ValueError("expected an index set such as \"0-2,4\"")
    last = -1
    for part in value.split(","):
        first, _, end = part.partition("-")
        lo, hi = int(first), int(end or first)
        if lo <= last or hi < lo or hi > 2**31 - 1:
            raise ValueError("indexes must be ascending, disjoint int32 values")
        last = hi
    return value


Time = Annotated[str, PlainValidator(_time)]
IndexSet = Annotated[str, PlainValidator(_index_set)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]


class _Shape(BaseModel):
    """Known fields are typed and checked; others are kept as given (nothing reads them)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow",
                              strict=True)


class Condition(_Shape):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    last_transition_time: Time | None = None
    last_probe_time: Time | None = None
    last_heartbeat_time: Time | None = None
    last_update_time: Time | None = None
    observed_generation: Int64 | None = None


class _Running(_Shape):
    started_at: Time | None = None


class _Waiting(_Shape):
    reason: str | None = None
    message: str | None = None


class _Terminated(_Shape):
    exit_code: Int32
    signal: Int32 | None = None
    reason: str | None = None
    message: str | None = None
    started_at: Time | None = None
    finished_at: Time | None = None
    container_id: str | None = Field(None, alias="containerID")


class ContainerState(_Shape):
    running: _Running | None = None
    waiting: _Waiting | None = None
    terminated: _Terminated | None = None


class ContainerStatus(_Shape):
    name: str
    ready: bool | None = None
    started: bool | None = None
    restart_count: Count | None = None
    image: str | None = None
    image_id: str | None = Field(None, alias="imageID")
    container_id: str | None = Field(None, alias="containerID")
    state: ContainerState | None = None
    last_state: ContainerState | None = None


class _Ip(_Shape):
    ip: str


class _HeldGpu(_Shape):
    index: Annotated[int, Field(ge=0, le=2**31 - 1)]
    uuid: str | None = None
    product: str | None = None


class PodStatus(_Shape):
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"] | None = None
    conditions: list[Condition] | None = None
    message: str | None = None
    reason: str | None = None
    host_ip: str | None = Field(None, alias="hostIP")
    pod_ip: str | None = Field(None, alias="podIP")
    host_ips: list[_Ip] | None = Field(None, alias="hostIPs")
    pod_ips: list[_Ip] | None = Field(None, alias="podIPs")
    nominated_node_name: str | None = None
    qos_class: str | None = None
    start_time: Time | None = None
    container_statuses: list[ContainerStatus] | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    gpus: list[_HeldGpu] | None = None


class _Uncounted(_Shape):
    succeeded: list[str] | None = None
    failed: list[str] | None = None


class JobStatus(_Shape):
    conditions: list[Condition] | None = None
    start_time: Time | None = None
    completion_time: Time | None = None
    active: Count | None = None
    succeeded: Count | None = None
    failed: Count | None = None
    terminating: Count | None = None
    ready: Count | None = None
    completed_indexes: IndexSet | None = None
    failed_indexes: IndexSet | None = None
    uncounted_terminated_pods: _Uncounted | None = None


class _Ref(_Shape):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None


class CronJobStatus(_Shape):
    active: list[_Ref] | None = None
    last_schedule_time: Time | None = None
    last_successful_time: Time | None = None


class _Address(_Shape):
    type: str
    address: str


# What a Node's status.nodeInfo always has (strings, "" when unknown), as Kubernetes' typed
# clients require: the official Python client refuses a node without one of them.
NODE_INFO_KEYS = ("architecture", "bootID", "containerRuntimeVersion", "kernelVersion", "kubeProxyVersion",
                  "kubeletVersion", "machineID", "operatingSystem", "osImage", "systemUUID")


def full_node_info(info: dict[str, Any]) -> dict[str, Any]:
    """`info` with every key of NODE_INFO_KEYS (the missing ones "")."""
    return {**{key: "" for key in NODE_INFO_KEYS}, **info}


class NodeStatus(_Shape):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    conditions: list[Condition] | None = None
    addresses: list[_Address] | None = None
    node_info: dict[str, str] | None = None
    gpus: list[dict[str, Any]] | None = None


class NamespaceStatus(_Shape):
    phase: Literal["Active", "Terminating"] | None = None
    conditions: list[Condition] | None = None


class ReplicasStatus(_Shape):
    replicas: Count | None = None
    ready_replicas: Count | None = None
    available_replicas: Count | None = None
    updated_replicas: Count | None = None
    unavailable_replicas: Count | None = None
    fully_labeled_replicas: Count | None = None
    terminating_replicas: Count | None = None
    observed_generation: Int64 | None = None
    collision_count: Int32 | None = None
    conditions: list[Condition] | None = None


class _Ingress(_Shape):
    ip: str | None = None
    hostname: str | None = None


class _LoadBalancer(_Shape):
    ingress: list[_Ingress] | None = None


class LoadBalancerStatus(_Shape):
    load_balancer: _LoadBalancer | None = None
    conditions: list[Condition] | None = None


class HpaStatus(_Shape):
    current_replicas: Count | None = None
    desired_replicas: Count | None = None
    last_scale_time: Time | None = None
    observed_generation: Int64 | None = None
    conditions: list[Condition] | None = None
    current_metrics: list[dict[str, Any]] | None = None


class PvcStatus(_Shape):
    phase: Literal["Pending", "Bound", "Lost"] | None = None
    capacity: ResourceList | None = None
    access_modes: list[str] | None = None
    conditions: list[Condition] | None = None


class PvStatus(_Shape):
    phase: Literal["Pending", "Available", "Bound", "Released", "Failed"] | None = None
    message: str | None = None
    reason: str | None = None
    last_phase_transition_time: Time | None = None


class QueueStatus(_Shape):
    pending_workloads: Count | None = None
    admitted_workloads: Count | None = None
    running_workloads: Count | None = None
    used: dict[str, str] | None = None
    pending: list[dict[str, Any]] | None = None


_MODELS: dict[str, type[_Shape]] = {
    "pods": PodStatus, "jobs": JobStatus, "cronjobs": CronJobStatus, "nodes": NodeStatus,
    "namespaces": NamespaceStatus, "deployments": ReplicasStatus, "replicasets": ReplicasStatus,
    "services": LoadBalancerStatus, "ingresses": LoadBalancerStatus,
    "horizontalpodautoscalers": HpaStatus, "persistentvolumeclaims": PvcStatus,
    "persistentvolumes": PvStatus,
    "queues": QueueStatus,
}


def check_status(plural: str, kind: str, name: str, status: Any) -> None:
    """Raise InvalidError naming every field of `status` that is not the shape its kind's
    status has (`status.phase: ...`), or holds a number JSON cannot carry; None and {} are
    always fine."""
    if status is None:
        return
    if not isinstance(status, dict):
        raise InvalidError(f'{kind} "{name}" is invalid: 1 problem(s)',
                           details=[f"status: expected an object, got {show(status)}"])
    problems: list[str] = []
    typed: set[tuple[Any, ...]] = set()
    model = _MODELS.get(plural)
    if model is not None:
        try:
            model.model_validate(status, by_alias=True, by_name=False)
        except ValidationError as exc:
            errors = exc.errors()
            typed = {("status", *e["loc"]) for e in errors}
            problems = [describe_error({**e, "loc": ("status", *e["loc"])}, model=None) for e in errors]
    # A status is stored as sent: NaN, Infinity or 1e400 (read as infinity) would make every
    # answer holding the object invalid JSON. Fields of a known type already said why.
    problems += [f"{format_path(loc)}: expected a finite number, got {show(value)}"
                 for loc, value in _non_finite(status, ("status",)) if loc not in typed]
    if problems:
        raise InvalidError(f'{kind} "{name}" is invalid: {len(problems)} problem(s)',
                           details=problems)


def _non_finite(value: Any, loc: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], float]]:
    """(path, number) of every NaN or infinity in `value`, in document order (no recursion)."""
    found: list[tuple[tuple[Any, ...], float]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, loc)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            found.append((where, item))
        elif isinstance(item, dict):
            stack.extend((child, (*where, key)) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, (*where, i)) for i, child in reversed(list(enumerate(item))))
    return found
