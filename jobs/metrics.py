"""Job and CronJob figures on `/metrics`: Jobs finished by outcome, their durations, the failed
pods they counted by reason, and how late CronJob Jobs are made after their tick."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
SKEW_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class JobMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.finished = Counter("tugboat_jobs_finished_total", "Jobs that ended, by outcome and reason",
                                ["outcome", "reason"], registry=registry)
        self.duration = Histogram("tugboat_job_duration_seconds", "From a Job's start to its end",
                                  ["outcome"], buckets=DURATION_BUCKETS, registry=registry)
        self.pod_failures = Counter("tugboat_job_pod_failures_total",
                                    "Failed pods the Job controller counted, by reason", ["reason"],
                                    registry=registry)
        self.cron_skew = Histogram("tugboat_cronjob_job_creation_skew_seconds",
                                   "From a CronJob's scheduled time to its Job being created",
                                   buckets=SKEW_BUCKETS, registry=registry)
