"""jobs: the Job controller (pure planner in jobs/job.py, the loop in jobs/controller.py)."""

from jobs.controller import JobController
from jobs.job import JobPlan, plan

__all__ = ["JobController", "JobPlan", "plan"]
