"""`tug cordon|uncordon|drain NODE`: take a node out of scheduling, put it back, empty it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.api import resolve
from engine.cli.objects import wait_gone
from engine.client import Client
from engine.errors import BadRequestError, NotFoundError
from engine.objects import finished


def _set_unschedulable(client: Client, name: str, value: bool) -> bool:
    """True when the node changed."""
    node = client.get("nodes", name)
    if bool((node.get("spec") or {}).get("unschedulable")) == value:
        return False
    client.patch("nodes", name, {"spec": {"unschedulable": True if value else None}})
    return True


def cordon(args: argparse.Namespace) -> int:
    with Client.from_config() as client:
        changed = _set_unschedulable(client, args.node, True)
    print(f"node/{args.node} {'cordoned' if changed else 'already cordoned'}")
    return 0


def uncordon(args: argparse.Namespace) -> int:
    with Client.from_config() as client:
        changed = _set_unschedulable(client, args.node, False)
    print(f"node/{args.node} {'uncordoned' if changed else 'already uncordoned'}")
    return 0


def _controlled(pod: dict[str, Any]) -> bool:
    return any(ref.get("controller") for ref in pod["metadata"].get("ownerReferences") or [])


def drain(args: argparse.Namespace) -> int:
    """Cordon the node, then delete its pods with their grace periods and wait until they
    are gone; pods no controller recreates need --force, as with kubectl."""
    with Client.from_config() as client:
        client.get("nodes", args.node)  # NotFound before anything changes
        pods = [p for p in client.list("pods", namespace=None,
                                       field_selector=f"spec.nodeName={args.node}")["items"]
                if not finished(p)]
        bare = [p for p in pods if not _controlled(p)]
        if bare and not args.force:
            names = ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in bare)
            raise BadRequestError(
                f"cannot delete Pods that declare no controller (use --force to override): {names}")
        _set_unschedulable(client, args.node, True)
        print(f"node/{args.node} cordoned")
        for pod in pods:
            meta = pod["metadata"]
            print(f"evicting pod {meta['namespace']}/{meta['name']}")
            try:
                client.delete("pods", meta["name"], namespace=meta["namespace"],
                              grace_seconds=args.grace_period)
            except NotFoundError:
                continue
        wait_gone(client, [(resolve("pods"), p["metadata"]["namespace"], p["metadata"]["name"],
                             p["metadata"]["uid"]) for p in pods], timeout=args.timeout)
        for pod in pods:
            print(f"pod/{pod['metadata']['name']} evicted")
    print(f"node/{args.node} drained")
    sys.stdout.flush()
    return 0
