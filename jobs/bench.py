"""`tug bench cron`: N CronJobs all due in the same minute on a real in-process control plane
(store, API, scheduler, Job and CronJob controllers; no Ray); the creation skew of their Jobs
(scheduled time to Job stored), beside N bare asyncio timers for one instant as the baseline."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.controlplane import ControlPlane
from engine.server.crud import Api
from engine.stats import percentile

SAFE_SECONDS = 45  # create them before this second of the minute, so they are in place for the tick


def cronjob(i: int) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": f"bench-{i:05d}"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}}}


async def _timers(count: int) -> list[float]:
    """How late `count` asyncio timers for the same instant fire, in seconds."""
    loop = asyncio.get_running_loop()
    at = loop.time() + 0.5
    late: list[float] = []
    done = asyncio.Event()

    def fire() -> None:
        late.append(loop.time() - at)
        if len(late) == count:
            done.set()

    for _ in range(count):
        loop.call_at(at, fire)
    await done.wait()
    return late


async def _run(count: int, home: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    cp = ControlPlane(home, ray_address=None, port=0)
    await cp.start()
    try:
        baseline = await _timers(count)
        skews: list[float] = []
        finished = asyncio.Event()

        def created(scheduled: datetime, at: datetime) -> None:
            skews.append((at - scheduled).total_seconds())
            if len(skews) >= count:
                finished.set()

        cp.cronjobs.on_created = created
        second = time.time() % 60
        if second > SAFE_SECONDS:
            progress(f"waiting {61 - second:.0f}s for a fresh minute")
            await asyncio.sleep(61 - second)
        started = time.perf_counter()
        Api(cp.store).apply([cronjob(i) for i in range(count)], namespace="default")
        progress(f"{count} CronJobs created in {time.perf_counter() - started:.1f}s; "
                 f"waiting {60 - time.time() % 60:.0f}s for the minute to turn")
        await asyncio.wait_for(finished.wait(), timeout=120)
        return {"cronjobs": count, "jobs_created": len(skews),
                "skew_p50_ms": percentile(skews, 50) * 1000, "skew_p99_ms": percentile(skews, 99) * 1000,
                "skew_max_ms": max(skews) * 1000,
                "baseline_timer_p50_ms": percentile(baseline, 50) * 1000,
                "baseline_timer_p99_ms": percentile(baseline, 99) * 1000,
                "requeue_slack_ms": 100.0}
    finally:
        await cp.stop()


def run(*, count: int, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tug-bench-cron-") as home:
        return asyncio.run(_run(count, Path(home) / "tug", progress))
