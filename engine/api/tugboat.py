"""tugboat's own kinds (group tugboat.dev/v1): Queue, a resource quota for the pods that name it."""

from __future__ import annotations

from typing import Any, Literal

from engine.api.base import ApiModel, ResourceList
from engine.api.meta import ObjectMeta


class QueueSpec(ApiModel):
    nominal_quota: ResourceList | None = None


class Queue(ApiModel):
    api_version: str
    kind: Literal["Queue"]
    metadata: ObjectMeta
    spec: QueueSpec | None = None
    status: dict[str, Any] | None = None
