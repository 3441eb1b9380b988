"""`tug apply|create|get|describe|delete|version`: the object verbs over the client."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from engine.api import ResourceInfo, resolve
from engine.client import Client
from engine.clock import Clock, utcnow
from engine.errors import BadRequestError, NotFoundError, TugError
from engine.printers import format_table
from engine.printers.fmt import QUEUE_PLACE

CLIENT_VERSION = "v0.1.0"


def _ns(args: argparse.Namespace) -> str:
    return args.namespace or "default"


def _warn(lines: list[str]) -> None:
    for line in lines:
        print(f"Warning: {line}", file=sys.stderr)


def _documents(filenames: list[str]) -> list[dict[str, Any]]:
    from engine.api import read_manifests

    docs: list[dict[str, Any]] = []
    for name in filenames:
        docs += [doc for _, doc in read_manifests(name, stdin=sys.stdin)]
    if not docs:
        raise BadRequestError(f"no objects passed to apply: {', '.join(filenames)} holds none")
    return docs


def apply(args: argparse.Namespace) -> int:
    docs = _documents(args.filename)
    with Client.from_config() as client:
        out = client.apply(docs, namespace=_ns(args), create_only=args.create_only,
                           dry_run=args.dry_run)
    _warn(out.get("warnings") or [])
    suffix = " (dry run)" if args.dry_run else ""
    for r in out["results"]:
        ref = f"{r['kind'].lower()}{'.' + r['group'] if r.get('group') else ''}/{r['name']}"
        print(ref if args.output == "name" else f"{ref} {r['action']}{suffix}")
    return 0


def _split_kind(args: argparse.Namespace) -> tuple[ResourceInfo, list[str]]:
    kind, names = args.kind, list(args.names)
    if "/" in kind:
        kind, _, first = kind.partition("/")
        if not first:
            raise BadRequestError(f"{args.kind}: a name is required after the slash")
        names.insert(0, first)
    return resolve(kind), names


def _print_objects(args: argparse.Namespace, info: ResourceInfo, items: list[dict[str, Any]],
                   *, single: bool) -> None:
    if args.output in ("json", "yaml"):  # as kubectl: managedFields are the server's bookkeeping
        items = [{**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "managedFields"}}
                 if isinstance(o.get("metadata"), dict) and "managedFields" in o["metadata"] else o
                 for o in items]
    if args.output == "json":
        data: Any = items[0] if single and len(items) == 1 else {
            "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
        print(json.dumps(data, indent=4))
    elif args.output == "yaml":
        data = items[0] if single and len(items) == 1 else {
            "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
        import yaml  # only -o yaml pays for a YAML library

        print(yaml.safe_dump(data, sort_keys=False), end="")
    elif args.output == "name":
        group = f".{info.group}" if info.group else ""
        for obj in items:
            print(f"{info.kind.lower()}{group}/{obj['metadata']['name']}")
    else:
        if info.plural == "jobs" and args.output == "wide":
            items = _with_queue_places(items)
        text = format_table(info.plural, items, now=utcnow(), wide=args.output == "wide",
                            all_namespaces=args.all_namespaces, show_labels=args.show_labels,
                            no_headers=getattr(args, "no_headers", False))
        if text:
            print(text.rstrip("\n"))


def _with_queue_places(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of `jobs`, each waiting one with its place in its queue (from the queues' status)."""
    from engine.printers.queues import places
    with Client.from_config() as client:
        where = places(client.list("queues", namespace=None)["items"])
    return [{**j, QUEUE_PLACE: where.get(("Job", j["metadata"].get("namespace"), j["metadata"]["name"]))}
            for j in jobs]


def _get_kinds(args: argparse.Namespace) -> int:
    """`tug get svc,ep,ing`: each kind's table in turn, names as KIND/NAME, as kubectl does."""
    if args.names or "/" in args.kind:
        raise BadRequestError("there is no need to specify a resource type as a separate argument when "
                              "passing arguments in resource/name form; with several types, give no names")
    if args.watch:
        raise BadRequestError("you may only specify a single resource type with --watch")
    infos = [resolve(kind) for kind in args.kind.split(",") if kind]
    found: list[tuple[ResourceInfo, list[dict[str, Any]]]] = []
    with Client.from_config() as client:
        for info in infos:
            ns = None if args.all_namespaces or not info.namespaced else _ns(args)
            items = client.list(info, namespace=ns, label_selector=args.selector,
                                field_selector=args.field_selector)["items"]
            if items:
                found.append((info, items))
    if args.output in ("json", "yaml"):
        _print_objects(args, infos[0], [obj for _, items in found for obj in items], single=False)
    elif not found:
        where = "any" if args.all_namespaces else _ns(args)
        print(f"No resources found in {where} namespace.", file=sys.stderr)
    else:
        for i, (info, items) in enumerate(found):
            if args.output != "name":
                group = f".{info.group}" if info.group else ""
                items = [{**o, "metadata": {**o["metadata"],
                                            "name": f"{info.kind.lower()}{group}/{o['metadata']['name']}"}}
                         for o in items]
            if i and args.output != "name":
                print()
            _print_objects(args, info, items, single=False)
    return 0


def get(args: argparse.Namespace) -> int:
    if "," in args.kind:
        return _get_kinds(args)
    info, names = _split_kind(args)
    ns = None if args.all_namespaces or not info.namespaced else _ns(args)
    with Client.from_config() as client:
        if names:
            items, missing = [], []
            for name in names:
                try:
                    items.append(client.get(info, name, namespace=ns or "default"))
                except NotFoundError as exc:
                    missing.append(exc.message)
            if items:
                _print_objects(args, info, items, single=len(names) == 1)
            for msg in missing:
                print(f"Error from server (NotFound): {msg}", file=sys.stderr)
            if args.watch and items:
                _watch(client, args, info, ns, names, items[0]["metadata"]["resourceVersion"])
            return 1 if missing else 0
        listing = client.list(info, namespace=ns, label_selector=args.selector,
                              field_selector=args.field_selector)
        items = listing["items"]
        if items or args.output in ("json", "yaml"):
            _print_objects(args, info, items, single=False)
        elif not args.watch:
            where = "" if not info.namespaced else (
                " in any namespace" if ns is None else f" in {ns} namespace")
            print(f"No resources found{where}.", file=sys.stderr)
        if args.watch:
            _watch(client, args, info, ns, [], listing["metadata"]["resourceVersion"],
                   header=not items)
    return 0


def _watch(client: Client, args: argparse.Namespace, info: ResourceInfo, ns: str | None,
           names: list[str], rv: str, *, header: bool = False) -> None:
    """Print each change as a row (or a document with -o json|yaml), like `kubectl get -w`."""
    first = True
    for _kind, obj in client.watch(info, namespace=ns, resource_version=rv,
                                  label_selector=args.selector, field_selector=args.field_selector):
        if names and obj["metadata"]["name"] not in names:
            continue
        if args.output in ("json", "yaml", "name"):
            _print_objects(args, info, [obj], single=True)
        else:
            text = format_table(info.plural, [obj], now=utcnow(), wide=args.output == "wide",
                                all_namespaces=args.all_namespaces, show_labels=args.show_labels,
                                no_headers=not (header and first))
            print(text.rstrip("\n"))
        first = False
        sys.stdout.flush()


def describe(args: argparse.Namespace) -> int:
    info, names = _split_kind(args)
    ns = None if args.all_namespaces or not info.namespaced else _ns(args)
    with Client.from_config() as client:
        if names:
            items = [client.get(info, name, namespace=ns or "default") for name in names]
        else:
            items = client.list(info, namespace=ns, label_selector=args.selector)["items"]
            if not items:
                print(f"No resources found in {ns or 'any'} namespace.", file=sys.stderr)
                return 0
        print("\n\n\n".join(describe_one(client, info, obj) for obj in items))
    return 0


def describe_one(client: Client, info: ResourceInfo, obj: dict[str, Any], *,
                 clock: Clock = utcnow) -> str:
    """`tug describe`'s text for `obj`, with its events (and a node's or a Job's pods), read
    through `client` (the TUI shows the same text)."""
    from engine.printers import describe as describe_text

    meta = obj["metadata"]
    events = client.list("events", namespace=meta.get("namespace") or "default",
                         field_selector=f"involvedObject.uid={meta['uid']}")["items"]
    pods: list[dict[str, Any]] = []
    if info.plural == "nodes":
        pods = client.list("pods", namespace=None, field_selector=f"spec.nodeName={meta['name']}")["items"]
    elif info.plural == "jobs":
        pods = job_pods(client, meta["name"], meta.get("namespace") or "default")
    endpoints = None
    if info.plural == "services":
        try:
            endpoints = client.get("endpoints", meta["name"], namespace=meta.get("namespace") or "default")
        except NotFoundError:
            endpoints = None
    obj = _with_gpu_use(client, info.plural, obj)
    return describe_text(info.plural, obj, events=events, now=clock(), pods=pods,
                         endpoints=endpoints).rstrip("\n")


def job_pods(client: Client, name: str, namespace: str) -> list[dict[str, Any]]:
    """The Job's pods, and the deleted ones from their PodRecords (marked DELETED)."""
    from engine.printers.describe_job import DELETED
    selector = f"batch.kubernetes.io/job-name={name}"
    pods = client.list("pods", namespace=namespace, label_selector=selector)["items"]
    live = {p["metadata"]["name"] for p in pods}
    for record in client.list("podrecords", namespace=namespace, label_selector=selector)["items"]:
        pod = record.get("pod") or {}
        if pod.get("metadata", {}).get("name") not in live:
            pod["metadata"].setdefault("annotations", {})[DELETED] = "true"
            pods.append(pod)
    return pods


def _latest_tick(client: Client, node: str | None) -> dict[str, Any] | None:
    """The node's latest live sample, or None where there is none (no runtime, no GPUs)."""
    if not node:
        return None
    try:
        history = client.request("GET", f"/apis/tugboat.dev/v1/nodes/{node}/gpus",
                                 params={"since": time.time() - 60})
    except TugError:
        return None
    return (history.get("samples") or [None])[-1]


def _with_gpu_use(client: Client, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A node or pod with what its GPUs' processes use now, for `describe` to show."""
    from gpu.attribution import node_gpu_processes, pod_gpu_top
    status = obj.get("status") or {}
    if plural not in ("nodes", "pods") or not status.get("gpus"):
        return obj
    node = obj["metadata"]["name"] if plural == "nodes" else (obj.get("spec") or {}).get("nodeName")
    tick = _latest_tick(client, node)
    if tick is None:
        return obj
    if plural == "nodes":
        procs = node_gpu_processes(tick)
        used = {g["uuid"]: g.get("memoryUsedMiB") for g in tick.get("gpus") or []}
        gpus = [{**g, "memoryUsedMiB": used.get(g.get("uuid")),
                 "processes": procs.get(g.get("uuid"), [])} for g in status["gpus"]]
    else:
        mine = {g["uuid"]: g.get("memoryUsedMiB") for g in pod_gpu_top(obj, tick, None)}
        gpus = [{**g, "podMemoryUsedMiB": mine.get(g.get("uuid"))} for g in status["gpus"]]
    return {**obj, "status": {**status, "gpus": gpus}}


def delete(args: argparse.Namespace) -> int:
    targets: list[tuple[ResourceInfo, str, str]] = []
    if args.grace_period == 0 and not args.force:
        raise BadRequestError("--grace-period=0 removes pods without waiting for them to stop; "
                              "add --force to confirm")
    grace = args.grace_period
    if args.force and grace is None:
        grace = 0
    with Client.from_config() as client:
        if args.filename:
            for doc in _documents(args.filename):
                info = resolve(doc.get("kind") or "")
                meta = doc.get("metadata") or {}
                ns = meta.get("namespace") or _ns(args)
                if not meta.get("name"):
                    raise BadRequestError(
                        f"{info.kind} in {', '.join(args.filename)} has no metadata.name "
                        f"(generateName objects are deleted by name or with -l)")
                targets.append((info, ns, meta["name"]))
        else:
            if not args.kind:
                raise BadRequestError("give a resource type and names, -l SELECTOR, --all, or -f FILE")
            info, names = _split_kind(args)
            ns = _ns(args)
            if not names:
                if not args.selector and not args.all:
                    raise BadRequestError(
                        "resource(s) were provided, but no name was specified: give names, "
                        "-l SELECTOR or --all")
                items = client.list(info, namespace=ns if info.namespaced else None,
                                    label_selector=args.selector)["items"]
                names = [o["metadata"]["name"] for o in items]
                if not names:
                    print("No resources found", file=sys.stderr)
                    return 0
            targets += [(info, ns, n) for n in names]
        failed = 0
        uids: list[tuple[ResourceInfo, str, str, str]] = []
        for info, ns, name in targets:
            try:
                out = client.delete(info, name, namespace=ns,
                                    propagation=args.cascade.capitalize(), grace_seconds=grace)
            except NotFoundError as exc:
                if not args.ignore_not_found:
                    print(f"Error from server (NotFound): {exc.message}", file=sys.stderr)
                    failed += 1
                continue
            print(f'{info.kind.lower()} "{name}" deleted')
            uid = ((out.get("details") or {}).get("uid") or (out.get("metadata") or {}).get("uid")
                   or "")
            uids.append((info, ns, name, uid))
        if args.wait:
            wait_gone(client, uids, timeout=args.timeout)
    return 1 if failed else 0


def wait_gone(client: Client, targets: list[tuple[ResourceInfo, str, str, str]], *,
              timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for info, ns, name, uid in targets:
        while True:
            try:
                obj = client.get(info, name, namespace=ns)
            except NotFoundError:
                break
            if uid and obj["metadata"].get("uid") != uid:
                break  # a new object took the name
            if time.monotonic() > deadline:
                raise TugError(f'timed out waiting for {info.kind.lower()} "{name}" to be deleted')
            time.sleep(0.2)


def version(args: argparse.Namespace) -> int:
    out: dict[str, Any] = {"clientVersion": {"gitVersion": CLIENT_VERSION}}
    if not args.client:
        with Client.from_config() as client:
            out["serverVersion"] = client.version()
    if args.output == "json":
        print(json.dumps(out, indent=2))
    elif args.output == "yaml":
        import yaml

        print(yaml.safe_dump(out, sort_keys=False), end="")
    else:
        print(f"Client Version: {CLIENT_VERSION}")
        if "serverVersion" in out:
            print(f"Server Version: {out['serverVersion'].get('gitVersion')}")
    return 0
