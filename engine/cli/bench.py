"""`tug bench scheduler|cron|cli|tui|heal|net` (and `tug bench pods`, engine/cli/benchpods.py):
each measures tugboat against a baseline in the same run (placement against a full scan,
CronJob skew against bare timers, CLI verbs against `python -c pass`); `-o json` prints one
object with stable keys."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from engine.client import Client
from engine.errors import TugError
from engine.stats import percentile


def _positive(*flags: tuple[str, int], zero: tuple[str, ...] = ()) -> None:
    """Each flag's value is at least 1 (at least 0 for the flags in `zero`)."""
    for flag, value in flags:
        if value < (0 if flag in zero else 1):
            raise TugError(f"{flag}: expected {'0 or more' if flag in zero else 'a positive integer'}")


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines on stdout, except with -o json (one object and nothing else)."""
    if args.output == "json":
        return lambda _: None
    return lambda message: print(f"... {message}", flush=True)


def _printed_json(args: argparse.Namespace, out: dict[str, Any]) -> bool:
    if args.output != "json":
        return False
    print(json.dumps(out, indent=2))
    return True


def scheduler(args: argparse.Namespace) -> int:
    _positive(("--nodes", args.nodes), ("--gpus-per-node", args.gpus_per_node), ("--pods", args.pods),
              ("--baseline-pods", args.baseline_pods), ("--mixed-every", args.mixed_every),
              zero=("--gpus-per-node", "--mixed-every"))
    from engine.scheduler import bench as sched_bench

    out = sched_bench.run(nodes=args.nodes, gpus_per_node=args.gpus_per_node, pods=args.pods,
                          baseline_pods=min(args.baseline_pods, args.pods), mixed_every=args.mixed_every,
                          progress=_progress(args))
    if _printed_json(args, out):
        return 0
    print(f"placement, {out['pods']} pods on {out['nodes']} nodes x {out['gpus_per_node']} GPUs: "
          f"{out['decisions_per_s']:,.0f} decisions/s, p50 {out['p50_decision_ms']:.3f} ms, "
          f"p99 {out['p99_decision_ms']:.3f} ms ({out['placed']} placed)")
    print(f"baseline full scan, first {out['baseline_pods']} pods: "
          f"{out['baseline_decisions_per_s']:,.0f} decisions/s, "
          f"p50 {out['baseline_p50_decision_ms']:.3f} ms, "
          f"p99 {out['baseline_p99_decision_ms']:.3f} ms; same choices: {out['baseline_agrees']}; "
          f"speedup {out['speedup']:,.0f}x")
    print(f"end to end through the store: {out['bound_pods_per_s']:,.0f} bound pods/s "
          f"({out['bound']} bound, {out['unschedulable']} unschedulable, {out['end_to_end_s']:.1f} s); "
          f"baseline {out['baseline_bound_pods_per_s']:,.0f} bound pods/s ({out['baseline_bound']} pods)")
    return 0


def cron(args: argparse.Namespace) -> int:
    _positive(("--cronjobs", args.cronjobs))
    from jobs import bench as cron_bench

    out = cron_bench.run(count=args.cronjobs, progress=_progress(args))
    if _printed_json(args, out):
        return 0
    print(f"{out['jobs_created']} Jobs from {out['cronjobs']} CronJobs due in the same minute: "
          f"creation skew p50 {out['skew_p50_ms']:.0f} ms, p99 {out['skew_p99_ms']:.0f} ms, "
          f"max {out['skew_max_ms']:.0f} ms "
          f"(each CronJob wakes {out['requeue_slack_ms']:.0f} ms after its tick, as Kubernetes does)")
    print(f"baseline: {out['cronjobs']} bare asyncio timers for one instant fire p50 "
          f"{out['baseline_timer_p50_ms']:.1f} ms, p99 {out['baseline_timer_p99_ms']:.1f} ms late")
    return 0


def heal(args: argparse.Namespace) -> int:
    _positive(("--replicas", args.replicas), ("--repeat", args.repeat))
    from engine.config import tug_home
    from workloads import bench as heal_bench

    with Client.from_config() as client:
        out = heal_bench.run(client, tug_home(), replicas=args.replicas, repeat=args.repeat,
                             ns=args.namespace, node_loss=args.node_loss, progress=_progress(args))
    if _printed_json(args, out):
        return 0
    print(f"{out['replicas']} replicas, {out['repeat']} times each (p50 / p99 seconds):")
    for key, title in (("process_restart", "replica process killed -> Ready again"),
                       ("actor_replace", "replica actor killed -> replacement Ready"),
                       ("node_loss", "node's raylet killed -> its replicas Ready elsewhere"),
                       ("rollout", "rollout of every replica, maxSurge 1"),
                       ("ray_actor_start", "baseline: a raw Ray actor start")):
        if f"{key}_p50_s" in out:
            print(f"  {title}: {out[key + '_p50_s']:.2f} / {out[key + '_p99_s']:.2f}")
    return 0


def net(args: argparse.Namespace) -> int:
    _positive(("--replicas", args.replicas), ("--requests", args.requests),
              ("--concurrency", args.concurrency), ("--flips", args.flips),
              ("--rounds", args.rounds))
    from engine.net import bench as net_bench

    with Client.from_config() as client:
        out = net_bench.run(client, replicas=args.replicas, requests=args.requests,
                            concurrency=args.concurrency, flips=args.flips, rounds=args.rounds,
                            progress=_progress(args))
    if _printed_json(args, out):
        return 0
    print(f"{out['requests']} requests, {out['concurrency']} at a time, to {out['replicas']} replicas:")
    for key, title in (("direct", "straight to one replica's node port"),
                       ("svc", "through the Service's proxy"), ("ingress", "through the Ingress router")):
        print(f"  {title}: {out[key + '_rps']:.0f} req/s, p50 {out[key + '_p50_ms']:.2f} ms, "
              f"p99 {out[key + '_p99_ms']:.2f} ms")
    print(f"  the proxy adds {out['svc_added_p99_ms']:.2f} ms at p99 and keeps "
          f"{out['svc_throughput_ratio']:.0%} of direct throughput "
          f"(the router {out['ingress_throughput_ratio']:.0%})")
    print(f"endpoint change to the proxies: added p50 {out['endpoint_added_p50_ms']:.1f} ms, "
          f"p99 {out['endpoint_added_p99_ms']:.1f} ms; removed p50 {out['endpoint_removed_p50_ms']:.1f} ms, "
          f"p99 {out['endpoint_removed_p99_ms']:.1f} ms")
    return 0


def tui(args: argparse.Namespace) -> int:
    _positive(("--nodes", args.nodes), ("--gpus-per-node", args.gpus_per_node), ("--pods", args.pods),
              zero=("--gpus-per-node",))
    from tui import bench as tui_bench

    out = tui_bench.run(nodes=args.nodes, gpus_per_node=args.gpus_per_node, pods=args.pods,
                        progress=_progress(args))
    if _printed_json(args, out):
        return 0
    base = out["baseline"]
    print(f"TUI at {out['size']}, {out['pods']} pods on {out['nodes']} nodes x {out['gpus_per_node']} GPUs:")
    print(f"  tugboat: first paint {out['first_paint_ms']:.0f} ms (loaded {out['loaded_ms']:.0f}), "
          f"refresh after {200} changed pods "
          f"p99 {out['refresh_ms']:.0f} ms, key p99 {out['key_p99_ms']:.1f} ms "
          f"(down {out['key_down_p99_ms']:.1f}, pagedown {out['key_pagedown_p99_ms']:.1f}, "
          f"/ filter {out['key_filter_p99_ms']:.1f}; a key doing nothing: {out['key_floor_ms']:.1f}, "
          f"closing the / prompt alone: {out['prompt_floor_ms']:.1f}), "
          f"RSS {out['rss_mb']:.0f} MB (control plane included)")
    print(f"  stock DataTable, same rows: first paint {base['first_paint_ms']:.0f} ms "
          f"(loaded {base['loaded_ms']:.0f}), rebuild "
          f"p99 {base['refresh_ms']:.0f} ms, key p99 {base['key_p99_ms']:.1f} ms")
    print(f"  speedup: first paint {out['first_paint_speedup']:.1f}x, refresh {out['refresh_speedup']:.1f}x "
          f"(every refresh and key figure includes the pilot's wait for the screen, "
          f"{out['pause_floor_ms']:.0f} ms on an idle app)")
    return 0


CLI_VERBS = {"version": ["version"], "get pods": ["get", "pods"], "get nodes": ["get", "nodes"]}


def cli(args: argparse.Namespace) -> int:
    """Wall time of short `tug` verbs, each a new process, against `python -c pass` in the same
    run; the verbs ask the control plane of $TUG_HOME (logs too, with --pod)."""
    import subprocess
    import sys

    _positive(("--runs", args.runs))
    verbs = {"python -c pass": ["-c", "pass"]}
    verbs.update({f"tug {name}": ["-m", "engine.cli", *argv] for name, argv in CLI_VERBS.items()})
    if args.pod:
        verbs[f"tug logs {args.pod}"] = ["-m", "engine.cli", "logs", args.pod, "-n", args.namespace]
    progress = _progress(args)
    times: dict[str, list[float]] = {name: [] for name in verbs}
    for round_ in range(args.runs + 1):  # round 0 warms up: bytecode compiled, files cached
        for name, argv in verbs.items():
            start = time.perf_counter()
            done = subprocess.run([sys.executable, *argv], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                raise TugError(f"{name} exited {done.returncode}: {done.stderr.strip()[-300:]}")
            if round_:
                times[name].append(time.perf_counter() - start)
        if round_:
            progress(f"round {round_}/{args.runs}")
    base = percentile(times["python -c pass"], 50) * 1000
    out: dict[str, Any] = {"runs": args.runs, "baseline": "python -c pass",
                           "baseline_p50_ms": round(base, 1), "verbs": {}}
    for name in list(verbs)[1:]:
        p50 = percentile(times[name], 50) * 1000
        out["verbs"][name] = {"p50_ms": round(p50, 1),
                              "p90_ms": round(percentile(times[name], 90) * 1000, 1),
                              "over_baseline_ms": round(p50 - base, 1)}
    if _printed_json(args, out):
        return 0
    print(f"baseline python -c pass: p50 {base:.0f} ms ({args.runs} runs each, one process a run)")
    for name, row in out["verbs"].items():
        print(f"{name:24s} p50 {row['p50_ms']:.0f} ms, p90 {row['p90_ms']:.0f} ms "
              f"({row['over_baseline_ms']:+.0f} ms over the baseline)")
    return 0
