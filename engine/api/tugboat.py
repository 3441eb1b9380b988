"""tugboat's own kinds (group tugboat.dev/v1): Queue, cluster-scoped, where Jobs and bare Pods that
name it (label tugboat.dev/queue) wait for admission under its quota; PodRecord, the last state
and events of a Job's pod after the pod is deleted, kept until the Job is."""

from __future__ import annotations

from typing import Any, Literal

from engine.api.base import ApiModel, ResourceList
from engine.api.meta import ObjectMeta

STRATEGIES = ("BestEffortFIFO", "StrictFIFO")


class QueueSpec(ApiModel):
    quota: ResourceList | None = None
    strategy: Literal["BestEffortFIFO", "StrictFIFO"] = "BestEffortFIFO"


class Queue(ApiModel):
    api_version: str
    kind: Literal["Queue"]
    metadata: ObjectMeta
    spec: QueueSpec | None = None
    status: dict[str, Any] | None = None


class PodRecord(ApiModel):
    api_version: str
    kind: Literal["PodRecord"]
    metadata: ObjectMeta
    pod: dict[str, Any]
    events: list[dict[str, Any]] | None = None
