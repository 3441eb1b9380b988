"""Jobs with real processes on Ray: completions with bounded parallelism, retries under the
backoff limit with the backoff between attempts, the limit exceeded, the active deadline, and
Indexed pods that each see their own index."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from engine.clock import parse_time

from .conftest import wait_for

pytestmark = pytest.mark.integration


def job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {**spec, "template": {"spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 2,
                "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}}}}


def condition(client: Client, name: str, *types: str) -> dict[str, Any] | None:
    status = client.get("jobs", name).get("status") or {}
    return next((c for c in status.get("conditions") or []
                 if c["type"] in types and c["status"] == "True"), None)


def pods_of(client: Client, name: str) -> list[dict[str, Any]]:
    return client.list("pods", label_selector=f"batch.kubernetes.io/job-name={name}")["items"]


def cleanup(client: Client, name: str) -> None:
    client.delete("jobs", name, propagation="Foreground")
    wait_for(lambda: not pods_of(client, name), timeout=60, what=f"{name}'s pods to go")


def test_completions_6_parallelism_2_never_runs_more_than_2(client: Client) -> None:
    most = [0]
    stop = threading.Event()

    def watch() -> None:
        with Client(client.server, client.token, ca=client.ca) as c:
            while not stop.is_set():
                running = [p for p in pods_of(c, "six")
                           if (p.get("status") or {}).get("phase") in ("Pending", "Running")
                           and not p["metadata"].get("deletionTimestamp")]
                most[0] = max(most[0], len(running))
                time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    client.create(job("six", "echo hello; sleep 0.5", completions=6, parallelism=2))
    try:
        done = wait_for(lambda: condition(client, "six", "Complete", "Failed"), timeout=180,
                        what="six to finish")
        assert done["type"] == "Complete"
        status = client.get("jobs", "six")["status"]
        assert status["succeeded"] == 6 and status.get("failed", 0) == 0 and status["active"] == 0
        assert status["completionTime"] and status["startTime"]
        assert 1 <= most[0] <= 2
        assert len(pods_of(client, "six")) == 6  # finished pods stay until the Job goes
    finally:
        stop.set()
        cleanup(client, "six")


def test_a_pod_that_fails_twice_then_succeeds_under_backoff_limit_3(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    script = f'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; [ "$n" -ge 3 ]'
    client.create(job("flaky", script, backoffLimit=3))
    try:
        done = wait_for(lambda: condition(client, "flaky", "Complete", "Failed"), timeout=150,
                        what="flaky to finish")
        assert done["type"] == "Complete"
        status = client.get("jobs", "flaky")["status"]
        assert status["failed"] == 2 and status["succeeded"] == 1
        metrics = client.text("/metrics")
        assert 'tugboat_jobs_finished_total{outcome="Complete",reason=""}' in metrics
        assert 'tugboat_job_pod_failures_total{reason="Error"}' in metrics
        assert "tugboat_job_duration_seconds_bucket" in metrics
        pods = sorted(pods_of(client, "flaky"), key=lambda p: p["metadata"]["creationTimestamp"])
        assert [p["status"]["phase"] for p in pods] == ["Failed", "Failed", "Succeeded"]
        finished = [parse_time(p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"])
                    for p in pods]
        created = [parse_time(p["metadata"]["creationTimestamp"]) for p in pods]
        # the replacement waits 10 s after the first failure and 20 s after the second (1 s stamps)
        assert (created[1] - finished[0]).total_seconds() >= 9
        assert (created[2] - finished[1]).total_seconds() >= 19
    finally:
        cleanup(client, "flaky")


def test_backoff_limit_exceeded_and_the_deadline(client: Client) -> None:
    client.create(job("fails", "exit 3", backoffLimit=0))
    client.create(job("slow", "sleep 600", activeDeadlineSeconds=3))
    try:
        failed = wait_for(lambda: condition(client, "fails", "Failed"), timeout=60, what="fails to fail")
        assert failed["reason"] == "BackoffLimitExceeded"
        assert 'tugboat_jobs_finished_total{outcome="Failed",reason="BackoffLimitExceeded"}' in \
            client.text("/metrics")
        assert client.get("jobs", "fails")["status"]["failed"] == 1
        late = wait_for(lambda: condition(client, "slow", "Failed"), timeout=90,
                        what="slow to pass its deadline")
        assert late["reason"] == "DeadlineExceeded"
        assert late["message"] == "Job was active longer than specified deadline"
        status = client.get("jobs", "slow")["status"]
        assert status["failed"] == 1 and status["active"] == 0
        assert all((p.get("status") or {}).get("phase") in ("Failed", "Succeeded")
                   for p in pods_of(client, "slow"))
    finally:
        cleanup(client, "fails")
        cleanup(client, "slow")


def test_indexed_pods_each_see_their_index(client: Client) -> None:
    client.create(job("idx", 'echo "index=$JOB_COMPLETION_INDEX host=$(hostname)"', completions=3,
                      parallelism=3, completionMode="Indexed"))
    try:
        wait_for(lambda: condition(client, "idx", "Complete"), timeout=120, what="idx to complete")
        assert client.get("jobs", "idx")["status"]["completedIndexes"] == "0-2"
        seen = set()
        for p in pods_of(client, "idx"):
            index = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            assert p["spec"]["hostname"] == f"idx-{index}"
            text = b"".join(client.logs(p["metadata"]["name"])).decode()
            assert f"index={index}" in text
            seen.add(index)
        assert seen == {"0", "1", "2"}
    finally:
        cleanup(client, "idx")


def test_a_cronjob_tick_across_a_kill9_of_the_control_plane_runs_once(control_plane: Any) -> None:
    """A CronJob every minute; the control plane is killed just before a minute turns and
    started again after it: that tick's Job exists exactly once and completes."""
    client = control_plane.client()
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "every-minute"},
            "spec": {"schedule": "* * * * *", "successfulJobsHistoryLimit": 5,
                     "jobTemplate": {"spec": {"template": {"spec": {
                         "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "c", "image": "busybox",
                                         "command": ["sh", "-c", "echo tick"]}]}}}}}}
    try:
        now = time.time()
        if 60 - now % 60 < 8:  # too close to the turn to kill in time: wait for the next minute
            time.sleep(60 - now % 60 + 1)
        client.create(cron)
        time.sleep(max(0.0, 60 - time.time() % 60 - 3))  # 3 s before the minute turns
        tick = int(time.time() // 60) + 1  # the minute the next tick belongs to
        control_plane.kill9()
        time.sleep(max(0.0, tick * 60 - time.time() + 2))  # the tick passes with no control plane
        control_plane.start()
        client.close()
        client = control_plane.client()
        name = f"every-minute-{tick}"
        job = wait_for(lambda: next((j for j in client.list("jobs")["items"]
                                     if j["metadata"]["name"] == name), None),
                       timeout=60, what=f"the Job for the missed tick {name}")
        assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].endswith("Z")
        wait_for(lambda: any(c["type"] == "Complete" and c["status"] == "True"
                             for c in (client.get("jobs", name).get("status") or {}).get("conditions") or []),
                 timeout=90, what=f"{name} to complete")
        names = [j["metadata"]["name"] for j in client.list("jobs")["items"]
                 if j["metadata"]["name"].startswith("every-minute-")]
        assert names.count(name) == 1 and len(set(names)) == len(names)
        status = client.get("cronjobs", "every-minute")["status"]
        assert status["lastScheduleTime"] >= job["metadata"]["annotations"][
            "batch.kubernetes.io/cronjob-scheduled-timestamp"]
        skew = [line for line in client.text("/metrics").splitlines()
                if line.startswith("tugboat_cronjob_job_creation_skew_seconds_count")]
        assert skew and float(skew[0].split()[-1]) >= 1
        listing = control_plane.tug("get", "cronjobs").stdout
        assert "every-minute" in listing and "* * * * *" in listing
    finally:
        client.delete("cronjobs", "every-minute", propagation="Foreground")
        wait_for(lambda: not [j for j in client.list("jobs")["items"]
                              if j["metadata"]["name"].startswith("every-minute-")], timeout=90,
                 what="the CronJob's Jobs to go")
        client.close()


def test_a_jobs_pods_stay_readable_after_they_are_deleted(client: Client, control_plane: Any) -> None:
    client.create(job("post", 'echo "the answer is 42"; exit 3', backoffLimit=0))
    try:
        wait_for(lambda: condition(client, "post", "Failed"), timeout=60, what="post to fail")
        [pod] = pods_of(client, "post")
        name = pod["metadata"]["name"]
        client.delete("pods", name)
        wait_for(lambda: not pods_of(client, "post"), timeout=60, what="the pod to go")
        records = client.list("podrecords", label_selector="batch.kubernetes.io/job-name=post")["items"]
        assert [r["metadata"]["name"] for r in records] == [name]
        assert "the answer is 42" in control_plane.tug("logs", "job/post").stdout
        assert "the answer is 42" in control_plane.tug("logs", name).stdout
        described = control_plane.tug("describe", "job", "post").stdout
        row = next(line for line in described.splitlines() if line.strip().startswith(name))
        assert row.split()[1:4] == ["Failed", "3", "Error"] and row.split()[-1] == "yes"
        assert "BackoffLimitExceeded" in described
    finally:
        cleanup(client, "post")
    assert client.list("podrecords", label_selector="batch.kubernetes.io/job-name=post")["items"] == []
