"""PersistentVolume (core/v1) and StorageClass (storage.k8s.io/v1): the cluster-scoped kinds
behind PersistentVolumeClaims."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.api.base import ApiModel, NotImplementedField, ResourceList
from engine.api.core import AccessMode, Status
from engine.api.meta import ObjectMeta, ObjectReference
from engine.api.pod import HostPathVolumeSource, NodeSelector

NI = NotImplementedField


class LocalVolumeSource(ApiModel):
    path: str
    fs_type: str | None = None


class VolumeNodeAffinity(ApiModel):
    required: NodeSelector | None = None


class PersistentVolumeSpec(ApiModel):
    capacity: ResourceList | None = None
    access_modes: list[AccessMode] | None = None
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: Literal["Retain", "Delete", "Recycle"] | None = None
    storage_class_name: str | None = None
    volume_mode: Literal["Filesystem", "Block"] | None = None
    node_affinity: VolumeNodeAffinity | None = None
    mount_options: list[str] | None = None
    host_path: HostPathVolumeSource | None = None
    local: LocalVolumeSource | None = None
    csi: NI = None
    nfs: NI = None
    iscsi: NI = None
    fc: NI = None
    volume_attributes_class_name: NI = None


class PersistentVolume(ApiModel):
    api_version: str
    kind: Literal["PersistentVolume"]
    metadata: ObjectMeta
    spec: PersistentVolumeSpec
    status: Status = None


class StorageClass(ApiModel):
    api_version: str
    kind: Literal["StorageClass"]
    metadata: ObjectMeta
    provisioner: str
    parameters: dict[str, str] | None = None
    reclaim_policy: Literal["Retain", "Delete"] | None = None
    volume_binding_mode: Literal["Immediate", "WaitForFirstConsumer"] | None = None
    allow_volume_expansion: bool | None = None
    mount_options: list[str] | None = None
    allowed_topologies: NI = Field(None)
