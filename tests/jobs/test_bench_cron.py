"""`tug bench cron` end to end on a small count: every CronJob's Job is made once, in the
minute it was due, and the figures are there (it waits for the minute to turn)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_cron_json() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "bench", "cron", "--cronjobs", "30",
                          "-o", "json"], capture_output=True, text=True, timeout=200)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["cronjobs"] == result["jobs_created"] == 30
    # each Job is made after its tick: at least the 100 ms a CronJob waits past it, under a minute
    assert 100 <= result["skew_p50_ms"] <= result["skew_p99_ms"] <= result["skew_max_ms"] < 60000
    assert result["baseline_timer_p99_ms"] >= 0


def test_bench_cron_bad_count() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "bench", "cron", "--cronjobs", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "--cronjobs: expected a positive integer" in out.stderr
