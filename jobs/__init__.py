"""jobs: the Job and CronJob controllers (pure planners in jobs/job.py and jobs/cronjob.py,
their loops in jobs/controller.py and jobs/cron_controller.py)."""

from jobs.controller import JobController
from jobs.cron_controller import CronJobController
from jobs.job import JobPlan, plan
from jobs.metrics import JobMetrics

__all__ = ["CronJobController", "JobController", "JobMetrics", "JobPlan", "plan"]
