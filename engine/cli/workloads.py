"""`tug create job --from=cronjob/X`, `tug wait`, `tug patch`, `tug suspend|resume`: the verbs
kubectl users reach for around Jobs and CronJobs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from engine.api import resolve
from engine.api.schedule import parse_go_duration
from engine.cli.objects import _ns
from engine.client import Client
from engine.errors import BadRequestError, NotFoundError, TugError
from engine.objects import HOLD

MANUAL = "cronjob.kubernetes.io/instantiate"


def create_from(args: argparse.Namespace) -> int:
    """`tug create job NAME --from=cronjob/CRON`: run a CronJob's template now, as kubectl does."""
    if (args.kind or "").lower() not in ("job", "jobs"):
        raise BadRequestError(f"--from: only `tug create job NAME --from=cronjob/NAME` is supported, "
                              f"got kind {args.kind!r}")
    if not args.name:
        raise BadRequestError("create job: a NAME is required, "
                              "e.g. tug create job run-now --from=cronjob/nightly")
    kind, _, source = args.from_.partition("/")
    if kind.lower() not in ("cronjob", "cronjobs", "cj") or not source:
        raise BadRequestError(f"--from: expected cronjob/NAME, got {args.from_!r}")
    ns = _ns(args)
    with Client.from_config() as client:
        cron = client.get("cronjobs", source, namespace=ns)
        client.create(job_from_cronjob(cron, args.name), namespace=ns)
    print(f"job.batch/{args.name} created")
    return 0


def job_from_cronjob(cron: dict[str, Any], name: str) -> dict[str, Any]:
    """A Job that runs `cron`'s template now, owned by it and marked manual (as kubectl's
    `create job --from=cronjob/...`; the TUI's `t` key too)."""
    meta = cron["metadata"]
    template = (cron.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": meta.get("namespace") or "default",
                         "labels": dict(tmeta.get("labels") or {}),
                         "annotations": {**(tmeta.get("annotations") or {}), MANUAL: "manual"},
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                              "name": meta["name"], "uid": meta["uid"],
                                              "controller": True, "blockOwnerDeletion": True}]},
            "spec": template.get("spec") or {}}


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_go_duration(text).total_seconds()
    except ValueError:
        raise BadRequestError(f"--timeout: expected a duration like 30s, 10m or 1h, got {text!r}") from None


def _met(obj: dict[str, Any], condition: str, value: str) -> bool:
    return any(str(c.get("type", "")).lower() == condition and str(c.get("status", "")).lower() == value
               for c in (obj.get("status") or {}).get("conditions") or [])


def wait(args: argparse.Namespace) -> int:
    """`tug wait --for=condition=complete job/X [--timeout=10m]` (or --for=delete)."""
    what = args.for_
    if what == "delete":
        condition, value = "", ""
    elif what.startswith("condition="):
        condition, _, value = what[len("condition="):].partition("=")
        condition, value = condition.lower(), (value or "true").lower()
    else:
        raise BadRequestError(f"--for: expected condition=NAME[=VALUE] or delete, got {what!r}")
    kind, _, name = args.target.partition("/")
    if not name:
        raise BadRequestError(f"expected KIND/NAME, e.g. job/train, got {args.target!r}")
    info = resolve(kind)
    ns = _ns(args)
    limit = _seconds(args.timeout)
    shown = f"{info.kind.lower()}{'.' + info.group if info.group else ''}/{name}"
    deadline = time.monotonic() + limit
    with Client.from_config() as client:
        while True:
            try:
                obj = client.get(info, name, namespace=ns)
            except NotFoundError:
                if what == "delete":
                    print(f"{shown} condition met")
                    return 0
                raise
            if what != "delete" and _met(obj, condition, value):
                print(f"{shown} condition met")
                return 0
            if time.monotonic() >= deadline:
                print(f"error: timed out waiting for the condition on {info.plural}/{name}", file=sys.stderr)
                return 1
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def patch(args: argparse.Namespace) -> int:
    """`tug patch KIND NAME -p '{"spec": ...}'` (a JSON merge patch)."""
    info = resolve(args.kind)
    try:
        body = json.loads(args.patch)
    except json.JSONDecodeError as exc:
        raise BadRequestError(f"-p: not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(body, dict):
        raise BadRequestError("-p: the patch must be a JSON object")
    with Client.from_config() as client:
        client.patch(info, args.name, body, namespace=_ns(args))
    print(f"{info.kind.lower()}{'.' + info.group if info.group else ''}/{args.name} patched")
    return 0


def suspend(args: argparse.Namespace) -> int:
    """`tug suspend|resume cronjob|job NAME`."""
    info = resolve(args.kind)
    if info.plural not in ("cronjobs", "jobs"):
        raise BadRequestError(f"{args.verb}: only cronjobs and jobs can be suspended, got {args.kind!r}")
    on = args.verb == "suspend"
    patch: dict[str, Any] = {"spec": {"suspend": on}}
    if info.plural == "jobs":  # a Job waiting in its queue is suspended already: hold it there
        patch["metadata"] = {"annotations": {HOLD: "true" if on else None}}
    with Client.from_config() as client:
        client.patch(info, args.name, patch, namespace=_ns(args))
    print(f"{info.kind.lower()}.{info.group}/{args.name} {'suspended' if on else 'resumed'}")
    return 0


def job_pod(client: Client, name: str, namespace: str) -> str:
    """The pod `tug logs job/NAME` reads: the newest one of the Job's (deleted ones included)."""
    from engine.cli.objects import job_pods

    pods = job_pods(client, name, namespace)  # deleted ones too: their logs stay readable
    if not pods:
        client.get("jobs", name, namespace=namespace)  # NotFound says so when the Job is missing
        raise TugError(f"job/{name} has no pods (yet)")
    pods.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
    if len(pods) > 1:
        print(f"Found {len(pods)} pods, using pod/{pods[-1]['metadata']['name']}", file=sys.stderr)
    return str(pods[-1]["metadata"]["name"])
