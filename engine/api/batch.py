"""batch/v1 kinds: Job (with podFailurePolicy and successPolicy) and CronJob."""

from __future__ import annotations

from typing import Any, Literal

from engine.api.base import ApiModel, Int32, Int64
from engine.api.meta import LabelSelector, ObjectMeta
from engine.api.pod import PodTemplateSpec

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"


def generated_selector(uid: str) -> dict[str, Any]:
    """The selector the server gives a Job with this uid (unless spec.manualSelector is true)."""
    return {"matchLabels": {CONTROLLER_UID_LABEL: uid}}


class PodFailurePolicyOnExitCodesRequirement(ApiModel):
    container_name: str | None = None
    operator: Literal["In", "NotIn"]
    values: list[Int32]


class PodFailurePolicyOnPodConditionsPattern(ApiModel):
    type: str
    status: Literal["True", "False", "Unknown"] | None = None


class PodFailurePolicyRule(ApiModel):
    action: Literal["FailJob", "Ignore", "Count", "FailIndex"]
    on_exit_codes: PodFailurePolicyOnExitCodesRequirement | None = None
    on_pod_conditions: list[PodFailurePolicyOnPodConditionsPattern] | None = None


class PodFailurePolicy(ApiModel):
    rules: list[PodFailurePolicyRule]


class SuccessPolicyRule(ApiModel):
    succeeded_indexes: str | None = None
    succeeded_count: Int32 | None = None


class SuccessPolicy(ApiModel):
    rules: list[SuccessPolicyRule]


class JobSpec(ApiModel):
    template: PodTemplateSpec
    parallelism: Int32 | None = None
    completions: Int32 | None = None
    active_deadline_seconds: Int64 | None = None
    pod_failure_policy: PodFailurePolicy | None = None
    success_policy: SuccessPolicy | None = None
    backoff_limit: Int32 | None = None
    backoff_limit_per_index: Int32 | None = None
    max_failed_indexes: Int32 | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    ttl_seconds_after_finished: Int32 | None = None
    completion_mode: Literal["NonIndexed", "Indexed"] | None = None
    suspend: bool | None = None
    pod_replacement_policy: Literal["TerminatingOrFailed", "Failed"] | None = None
    managed_by: str | None = None


class Job(ApiModel):
    api_version: str
    kind: Literal["Job"]
    metadata: ObjectMeta
    spec: JobSpec
    status: dict[str, Any] | None = None


class JobTemplateSpec(ApiModel):
    metadata: ObjectMeta | None = None
    spec: JobSpec


class CronJobSpec(ApiModel):
    schedule: str
    job_template: JobTemplateSpec
    time_zone: str | None = None
    starting_deadline_seconds: Int64 | None = None
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] | None = None
    suspend: bool | None = None
    successful_jobs_history_limit: Int32 | None = None
    failed_jobs_history_limit: Int32 | None = None


class CronJob(ApiModel):
    api_version: str
    kind: Literal["CronJob"]
    metadata: ObjectMeta
    spec: CronJobSpec
    status: dict[str, Any] | None = None
