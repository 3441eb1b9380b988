"""`tug bench pods`: pod start with warm runners against raw Ray actor start on the same cluster,
in one run: pods one at a time (apply to Running) beside Ray actors one at a time; a burst of
pods of `true` (pods started per second, time to the last Succeeded) beside a burst of Ray
actors; the same pods in actors of their own (annotation tugboat.dev/own-actor: the path
without a runner); and a Job of 200 completions at parallelism 20. Times are taken where the
change reaches one watch opened before the first apply; `-o json` keys are stable."""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from typing import Any

from engine.client import Client
from engine.errors import TugError
from engine.objects import OWN_ACTOR_ANNOTATION
from engine.stats import percentile

STARTED = ("Running", "Succeeded", "Failed")
LABEL = "tugboat.dev/bench"


def _pod(name: str, run: str, *, own_actor: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {LABEL: run}}
    if own_actor:
        meta["annotations"] = {OWN_ACTOR_ANNOTATION: "true"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox", "command": ["true"],
                                     "resources": {"requests": {"cpu": "10m"}}}]}}


class _Seen:
    """One watch of the run's pods: when each was bound, started and ended (perf_counter)."""

    def __init__(self, client: Client, ns: str, run: str, timeout: float) -> None:
        self.bound: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self._cond = threading.Condition()
        self._opened = threading.Event()
        self._close: Any = None
        self._error: list[BaseException] = []
        rv = client.list("pods", namespace=ns, label_selector=f"{LABEL}={run}")["metadata"]["resourceVersion"]
        self._thread = threading.Thread(target=self._run, args=(client, ns, run, rv, timeout), daemon=True)
        self._thread.start()
        if not self._opened.wait(60):
            raise TugError("bench pods: the watch did not open in 60 s")

    def _opened_with(self, close: Any) -> None:
        self._close = close
        self._opened.set()

    def _run(self, client: Client, ns: str, run: str, rv: str, timeout: float) -> None:
        with Client(client.server, client.token, ca=client.ca) as watcher:
            try:
                for _, pod in watcher.watch("pods", namespace=ns, resource_version=rv,
                                            label_selector=f"{LABEL}={run}", timeout=timeout,
                                            on_open=self._opened_with):
                    now = time.perf_counter()
                    name, status = pod["metadata"]["name"], pod.get("status") or {}
                    with self._cond:
                        if pod["spec"].get("nodeName"):
                            self.bound.setdefault(name, now)
                        if status.get("phase") in STARTED:
                            self.started.setdefault(name, now)
                        if status.get("phase") == "Succeeded":
                            self.done.setdefault(name, now)
                        if status.get("phase") == "Failed":
                            self.failed.setdefault(name, str(status.get("message") or status.get("reason")))
                        self._cond.notify_all()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiter
                with self._cond:
                    self._error.append(exc)
                    self._cond.notify_all()
            finally:
                self._opened.set()

    def wait(self, names: list[str], timeout: float) -> None:
        """Until every pod in `names` Succeeded (a failure or the timeout raises)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._error or self.failed.keys() & set(names)
                                     or all(n in self.done for n in names), timeout)
            if self._error:
                raise TugError(f"bench pods: the watch ended: {self._error[0]}")
            bad = sorted(self.failed.keys() & set(names))
            if bad:
                raise TugError(f"bench pod {bad[0]} failed: {self.failed[bad[0]]}")
            if not ok:
                raise TugError(f"bench pods: {len([n for n in names if n not in self.done])} pod(s) "
                               f"did not finish in {timeout:g}s")

    def close(self) -> None:
        if self._close is not None:
            self._close()


def _one_at_a_time(client: Client, seen: _Seen, ns: str, run: str, prefix: str, count: int, *,
                   own_actor: bool, timeout: float, ray: list[float] | None = None) -> list[float]:
    """Seconds from apply to started of `count` pods, each applied once the one before ended;
    with `ray`, a raw Ray actor started (and timed into it) between pods."""
    took = []
    for i in range(count):
        name = f"{prefix}{i}"
        t0 = time.perf_counter()
        client.create(_pod(name, run, own_actor=own_actor), namespace=ns)
        seen.wait([name], timeout)
        took.append(seen.started[name] - t0)
        if ray is not None:
            ray += client.bench_ray_actors(count=1, sequential=True)
    return took


def _burst(client: Client, seen: _Seen, ns: str, run: str, prefix: str, count: int, *,
           own_actor: bool, timeout: float) -> tuple[float, float]:
    """(pods started per second, seconds to the last Succeeded) of `count` pods applied at once."""
    names = [f"{prefix}{i}" for i in range(count)]
    t0 = time.perf_counter()
    for name in names:
        client.create(_pod(name, run, own_actor=own_actor), namespace=ns)
    seen.wait(names, timeout)
    last_started = max(seen.started[n] for n in names)
    return count / (last_started - t0), max(seen.done[n] for n in names) - t0


def _job(client: Client, ns: str, run: str, completions: int, parallelism: int, timeout: float) -> float:
    """Seconds from creating a Job of `completions` pods of `sleep 0.1` to its Complete."""
    name = f"bench-{run}-job"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": {LABEL: run}},
           "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": 0, "template": {
               "metadata": {"labels": {f"{LABEL}-job": run}},
               "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1, "containers": [
                   {"name": "c", "image": "busybox", "command": ["sleep", "0.1"],
                    "resources": {"requests": {"cpu": "10m"}}}]}}}}
    rv = client.list("jobs", namespace=ns, label_selector=f"{LABEL}={run}")["metadata"]["resourceVersion"]
    t0 = time.perf_counter()
    client.create(job, namespace=ns)
    for _, obj in client.watch("jobs", namespace=ns, resource_version=rv, timeout=timeout,
                               field_selector=f"metadata.name={name}"):
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
                if cond["type"] == "Failed":
                    raise TugError(f"bench job failed: {cond.get('message')}")
                return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            break
    raise TugError(f"bench job did not complete in {timeout:g}s")


def pods(args: argparse.Namespace) -> int:
    for flag, value in (("--count", args.count), ("--sequential", args.sequential),
                        ("--job-completions", args.job_completions),
                        ("--job-parallelism", args.job_parallelism)):
        if value < 1:
            raise TugError(f"{flag}: expected a positive integer")
    count, seq, ns, timeout = args.count, args.sequential, args.namespace, args.timeout
    run = uuid.uuid4().hex[:8]
    progress = (lambda _: None) if args.output == "json" else (lambda m: print(f"... {m}", flush=True))
    with Client.from_config() as client:
        seen = _Seen(client, ns, run, timeout)
        try:
            progress("warming up: 3 pods")
            _one_at_a_time(client, seen, ns, run, f"bench-{run}-w", 3, own_actor=False, timeout=timeout)
            progress(f"{seq} pods one at a time, a raw Ray actor after each")
            ray_seq: list[float] = []
            warm = _one_at_a_time(client, seen, ns, run, f"bench-{run}-s", seq, own_actor=False,
                                  timeout=timeout, ray=ray_seq)
            progress(f"{count} pods at once")
            burst_rate, burst_done = _burst(client, seen, ns, run, f"bench-{run}-b", count,
                                            own_actor=False, timeout=timeout)
            progress(f"{count} raw Ray actors at once")
            ray_burst = client.bench_ray_actors(count=count)
            progress(f"{seq} pods one at a time in actors of their own")
            cold = _one_at_a_time(client, seen, ns, run, f"bench-{run}-c", seq, own_actor=True,
                                  timeout=timeout)
            progress(f"{count} pods at once in actors of their own")
            cold_rate, cold_done = _burst(client, seen, ns, run, f"bench-{run}-x", count,
                                          own_actor=True, timeout=timeout)
            progress(f"a Job of {args.job_completions} completions, parallelism {args.job_parallelism}")
            job_s = _job(client, ns, run, args.job_completions, args.job_parallelism, timeout)
        finally:
            seen.close()
            client.delete_collection("jobs", namespace=ns, label_selector=f"{LABEL}={run}")
            client.delete_collection("pods", namespace=ns, label_selector=f"{LABEL}={run}")
    bind = [seen.bound[f"bench-{run}-s{i}"] - seen.started[f"bench-{run}-s{i}"] + warm[i] for i in range(seq)]
    out = {
        "count": count,
        "sequential": seq,
        "warm_start_p50_ms": percentile(warm, 50) * 1000,
        "warm_start_p99_ms": percentile(warm, 99) * 1000,
        "warm_bind_p50_ms": percentile(bind, 50) * 1000,
        "ray_actor_start_p50_ms": percentile(ray_seq, 50) * 1000,
        "ray_actor_start_p99_ms": percentile(ray_seq, 99) * 1000,
        "warm_vs_ray_p99": percentile(ray_seq, 99) / percentile(warm, 99),
        "cold_start_p50_ms": percentile(cold, 50) * 1000,
        "cold_start_p99_ms": percentile(cold, 99) * 1000,
        "burst_pods_per_s": burst_rate,
        "burst_last_succeeded_s": burst_done,
        "ray_actors_per_s": count / max(ray_burst),
        "burst_vs_ray": burst_rate / (count / max(ray_burst)),
        "cold_burst_pods_per_s": cold_rate,
        "cold_burst_last_succeeded_s": cold_done,
        "job_completions": args.job_completions,
        "job_parallelism": args.job_parallelism,
        "job_s": job_s,
        "job_200_s": job_s if (args.job_completions, args.job_parallelism) == (200, 20) else None,
    }
    if args.output == "json":
        print(json.dumps(out, indent=2))
        return 0
    print(f"one at a time, apply -> Running: warm runner p50 {out['warm_start_p50_ms']:.0f} ms, "
          f"p99 {out['warm_start_p99_ms']:.0f} ms (of which apply -> bound p50 "
          f"{out['warm_bind_p50_ms']:.0f} ms); raw Ray actor p50 {out['ray_actor_start_p50_ms']:.0f} ms, "
          f"p99 {out['ray_actor_start_p99_ms']:.0f} ms ({out['warm_vs_ray_p99']:.1f}x); an actor of "
          f"its own p50 {out['cold_start_p50_ms']:.0f} ms, p99 {out['cold_start_p99_ms']:.0f} ms")
    print(f"{count} pods at once: {out['burst_pods_per_s']:.1f} pods/s started, last Succeeded after "
          f"{out['burst_last_succeeded_s']:.2f} s; raw Ray actors {out['ray_actors_per_s']:.1f}/s "
          f"({out['burst_vs_ray']:.1f}x); in actors of their own {out['cold_burst_pods_per_s']:.1f} "
          f"pods/s, last Succeeded after {out['cold_burst_last_succeeded_s']:.2f} s")
    print(f"Job of {args.job_completions} completions at parallelism {args.job_parallelism} (sleep 0.1): "
          f"Complete after {job_s:.1f} s")
    return 0
