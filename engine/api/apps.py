"""apps/v1 kinds: Deployment and ReplicaSet."""

from __future__ import annotations

from typing import Any, Literal

from engine.api.base import ApiModel, Int32, IntOrString
from engine.api.meta import LabelSelector, ObjectMeta
from engine.api.pod import PodTemplateSpec

REVISION = "deployment.kubernetes.io/revision"  # on a Deployment and its ReplicaSets, set by the controller


class RollingUpdateDeployment(ApiModel):
    max_surge: IntOrString | None = None
    max_unavailable: IntOrString | None = None


class DeploymentStrategy(ApiModel):
    type: Literal["RollingUpdate", "Recreate"] | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(ApiModel):
    replicas: Int32 | None = None
    selector: LabelSelector
    template: PodTemplateSpec
    strategy: DeploymentStrategy | None = None
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 | None = None
    paused: bool | None = None
    progress_deadline_seconds: Int32 | None = None


class Deployment(ApiModel):
    api_version: str
    kind: Literal["Deployment"]
    metadata: ObjectMeta
    spec: DeploymentSpec
    status: dict[str, Any] | None = None


class ReplicaSetSpec(ApiModel):
    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    selector: LabelSelector
    template: PodTemplateSpec | None = None


class ReplicaSet(ApiModel):
    api_version: str
    kind: Literal["ReplicaSet"]
    metadata: ObjectMeta
    spec: ReplicaSetSpec
    status: dict[str, Any] | None = None
