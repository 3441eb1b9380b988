"""The Pod and its parts: containers, probes, env, volumes, scheduling fields, pod templates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from engine.api.base import (
    ApiModel,
    Int32,
    Int64,
    IntOrString,
    NotImplementedField,
    QuantityStr,
    ResourceList,
    Unimplemented,
)
from engine.api.meta import ObjectMeta

NI = NotImplementedField
QuietFalse = Unimplemented(quiet=(False,))
QuietTrue = Unimplemented(quiet=(True,))

Protocol = Literal["TCP", "UDP", "SCTP"]
RestartPolicy = Literal["Always", "OnFailure", "Never"]


# -- env ---------------------------------------------------------------------------------------
class ObjectFieldSelector(ApiModel):
    api_version: str | None = None
    field_path: str


class ResourceFieldSelector(ApiModel):
    container_name: str | None = None
    resource: str
    divisor: QuantityStr | None = None


class KeySelector(ApiModel):
    """ConfigMapKeySelector and SecretKeySelector have the same shape."""

    name: str | None = None
    key: str
    optional: bool | None = None


class EnvVarSource(ApiModel):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None
    file_key_ref: NI = None


class EnvVar(ApiModel):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


class EnvFromRef(ApiModel):
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(ApiModel):
    prefix: str | None = None
    config_map_ref: EnvFromRef | None = None
    secret_ref: EnvFromRef | None = None


# -- probes and lifecycle ----------------------------------------------------------------------
class ExecAction(ApiModel):
    command: list[str] | None = None


class HTTPHeader(ApiModel):
    name: str
    value: str


class HTTPGetAction(ApiModel):
    path: str | None = None
    port: IntOrString
    host: str | None = None
    scheme: Literal["HTTP", "HTTPS"] | None = None
    http_headers: list[HTTPHeader] | None = None


class TCPSocketAction(ApiModel):
    port: IntOrString
    host: str | None = None


class GRPCAction(ApiModel):
    port: Int32
    service: str | None = None


class Probe(ApiModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: Int32 | None = None
    timeout_seconds: Int32 | None = None
    period_seconds: Int32 | None = None
    success_threshold: Int32 | None = None
    failure_threshold: Int32 | None = None
    termination_grace_period_seconds: Int64 | None = None


class LifecycleHandler(ApiModel):
    exec: ExecAction | None = None
    http_get: NI = None
    tcp_socket: NI = None
    sleep: NI = None


class Lifecycle(ApiModel):
    pre_stop: LifecycleHandler | None = None
    post_start: NI = None
    stop_signal: NI = None


# -- containers --------------------------------------------------------------------------------
class ContainerPort(ApiModel):
    name: str | None = None
    container_port: Int32
    protocol: Protocol | None = None
    host_port: Int32 | None = None
    host_ip: NI = Field(None, alias="hostIP")


class ResourceRequirements(ApiModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: NI = None


class VolumeMount(ApiModel):
    name: str
    mount_path: str
    sub_path: str | None = None
    sub_path_expr: str | None = None
    read_only: bool | None = None
    mount_propagation: NI = None
    recursive_read_only: NI = None


class Container(ApiModel):
    name: str
    image: str
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = None
    env_from: list[EnvFromSource] | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: list[VolumeMount] | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str | None = None
    termination_message_policy: Literal["File", "FallbackToLogsOnError"] | None = None
    image_pull_policy: Literal["Always", "Never", "IfNotPresent"] | None = None
    # Container-level restartPolicy: only `Always`, for sidecar init containers.
    restart_policy: Annotated[Literal["Always"] | None, Unimplemented()] = None
    restart_policy_rules: NI = None
    security_context: NI = None
    resize_policy: NI = None
    volume_devices: NI = None
    stdin: Annotated[bool | None, QuietFalse] = None
    stdin_once: Annotated[bool | None, QuietFalse] = None
    tty: Annotated[bool | None, QuietFalse] = None


# -- volumes -----------------------------------------------------------------------------------
class KeyToPath(ApiModel):
    key: str
    path: str
    mode: Int32 | None = None


class EmptyDirVolumeSource(ApiModel):
    medium: Literal["", "Memory"] | None = None
    size_limit: QuantityStr | None = None


class ConfigMapVolumeSource(ApiModel):
    name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: Int32 | None = None
    optional: bool | None = None


class SecretVolumeSource(ApiModel):
    secret_name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: Int32 | None = None
    optional: bool | None = None


class DownwardAPIVolumeFile(ApiModel):
    path: str
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    mode: Int32 | None = None


class DownwardAPIVolumeSource(ApiModel):
    items: list[DownwardAPIVolumeFile] | None = None
    default_mode: Int32 | None = None


class PersistentVolumeClaimVolumeSource(ApiModel):
    claim_name: str
    read_only: bool | None = None


HostPathType = Literal[
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
]


class HostPathVolumeSource(ApiModel):
    path: str
    type: HostPathType | None = None


class Volume(ApiModel):
    name: str
    empty_dir: EmptyDirVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = Field(None, alias="downwardAPI")
    projected: NI = None
    ephemeral: NI = None
    image: NI = None
    csi: NI = None
    nfs: NI = None
    iscsi: NI = None
    rbd: NI = None
    cephfs: NI = None
    cinder: NI = None
    fc: NI = None
    flex_volume: NI = None
    flocker: NI = None
    git_repo: NI = None
    glusterfs: NI = None
    aws_elastic_block_store: NI = None
    gce_persistent_disk: NI = None
    azure_disk: NI = None
    azure_file: NI = None
    photon_persistent_disk: NI = None
    portworx_volume: NI = None
    quobyte: NI = None
    scale_io: NI = Field(None, alias="scaleIO")
    storageos: NI = None
    vsphere_volume: NI = None


# The camelCase names of the volume sources; a volume sets exactly one of them.
VOLUME_SOURCES = tuple(f.alias or n for n, f in Volume.model_fields.items() if n != "name")


# -- scheduling --------------------------------------------------------------------------------
class Toleration(ApiModel):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute", ""] | None = None
    toleration_seconds: Int64 | None = None


class NodeSelectorRequirement(ApiModel):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: list[str] | None = None


class NodeSelectorTerm(ApiModel):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(ApiModel):
    node_selector_terms: list[NodeSelectorTerm]


class PreferredSchedulingTerm(ApiModel):
    weight: Int32
    preference: NodeSelectorTerm


class NodeAffinity(ApiModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = (
        None
    )


class Affinity(ApiModel):
    node_affinity: NodeAffinity | None = None
    pod_affinity: NI = None
    pod_anti_affinity: NI = None


class PodSecurityContext(ApiModel):
    run_as_user: Int64 | None = None
    run_as_group: Int64 | None = None
    run_as_non_root: bool | None = None
    fs_group: Int64 | None = None
    fs_group_change_policy: str | None = None
    supplemental_groups: list[Int64] | None = None
    supplemental_groups_policy: str | None = None
    se_linux_options: dict[str, Any] | None = None
    se_linux_change_policy: str | None = None
    seccomp_profile: dict[str, Any] | None = None
    app_armor_profile: dict[str, Any] | None = None
    sysctls: list[dict[str, Any]] | None = None
    windows_options: dict[str, Any] | None = None


# -- pod ---------------------------------------------------------------------------------------
class HostAlias(ApiModel):
    ip: str
    hostnames: list[str] | None = None


DNSPolicy = Literal["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]


class PodSpec(ApiModel):
    containers: list[Container]
    init_containers: list[Container] | None = None
    volumes: list[Volume] | None = None
    restart_policy: RestartPolicy | None = None
    termination_grace_period_seconds: Int64 | None = None
    active_deadline_seconds: Int64 | None = None
    node_selector: dict[str, str] | None = None
    node_name: str | None = None
    hostname: str | None = None
    subdomain: str | None = None
    affinity: Affinity | None = None
    tolerations: list[Toleration] | None = None
    scheduler_name: str | None = None
    priority_class_name: str | None = None
    priority: Int32 | None = None
    preemption_policy: Literal["PreemptLowerPriority", "Never"] | None = None
    service_account_name: str | None = None
    service_account: str | None = None  # deprecated alias of serviceAccountName
    automount_service_account_token: Annotated[bool | None, QuietFalse] = None
    security_context: PodSecurityContext | None = None
    dns_policy: Annotated[DNSPolicy | None, Unimplemented(quiet=("ClusterFirst",))] = None
    dns_config: NI = None
    host_network: Annotated[bool | None, QuietFalse] = None
    host_pid: Annotated[bool | None, QuietFalse] = Field(None, alias="hostPID")
    host_ipc: Annotated[bool | None, QuietFalse] = Field(None, alias="hostIPC")
    host_users: Annotated[bool | None, QuietTrue] = None
    share_process_namespace: Annotated[bool | None, QuietFalse] = None
    host_aliases: list[HostAlias] | None = None
    image_pull_secrets: NI = None
    ephemeral_containers: NI = None
    topology_spread_constraints: NI = None
    runtime_class_name: NI = None
    overhead: NI = None
    readiness_gates: NI = None
    enable_service_links: Annotated[bool | None, QuietTrue] = None
    set_hostname_as_fqdn: Annotated[bool | None, QuietFalse] = Field(
        None, alias="setHostnameAsFQDN"
    )
    os: NI = None
    scheduling_gates: NI = None
    resource_claims: NI = None
    resources: NI = None
    hostname_override: NI = None


class PodTemplateSpec(ApiModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec


class Pod(ApiModel):
    api_version: str
    kind: Literal["Pod"]
    metadata: ObjectMeta
    spec: PodSpec
    status: dict[str, Any] | None = None
