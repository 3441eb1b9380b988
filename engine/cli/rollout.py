"""`tug rollout status|history|undo|pause|resume|restart`, `tug scale`, `tug autoscale`, `tug set image|env`:
kubectl's verbs around Deployments, with its messages. Rollback is kubectl's too: the chosen
revision's template is written back into the Deployment, and an ordinary rollout follows."""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

from engine.api import resolve
from engine.api.registry import ResourceInfo
from engine.cli.objects import _ns
from engine.cli.workloads import _seconds
from engine.client import Client
from engine.clock import format_time, utcnow
from engine.errors import BadRequestError, NotFoundError, TugError
from workloads.deployment import NOT_COPIED, revision, without_hash

Obj = dict[str, Any]
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
SCALES = {"deployments": "replicas", "replicasets": "replicas", "jobs": "parallelism"}


def target(text: str, name: str | None = None) -> tuple[ResourceInfo, str]:
    """KIND/NAME or KIND NAME."""
    kind, _, named = text.partition("/")
    name = named or name
    if not name:
        raise BadRequestError(f"expected KIND/NAME, e.g. deployment/web, got {text!r}")
    return resolve(kind), name


def _shown(info: ResourceInfo, name: str) -> str:
    return f"{info.kind.lower()}{'.' + info.group if info.group else ''}/{name}"


def _deployment(args: argparse.Namespace) -> tuple[ResourceInfo, str]:
    info, name = target(args.target, getattr(args, "name", None))
    if info.plural != "deployments":
        raise BadRequestError(f"rollout {args.action}: only deployments roll out here, got {info.plural}")
    return info, name


def status_line(d: Obj) -> tuple[str, bool]:
    """kubectl's rollout status sentence for `d`, and whether the rollout is done; a
    TugError when its progress deadline passed."""
    name = d["metadata"]["name"]
    status, spec = d.get("status") or {}, d.get("spec") or {}
    if d["metadata"].get("generation", 1) > (status.get("observedGeneration") or 0):
        return "Waiting for deployment spec update to be observed...", False
    progressing = next((c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        raise TugError(f'deployment "{name}" exceeded its progress deadline')
    want = spec.get("replicas", 1)
    updated, replicas = status.get("updatedReplicas") or 0, status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    if updated < want:
        return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new '
                f"replicas have been updated..."), False
    if replicas > updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {replicas - updated} old replicas '
                f"are pending termination..."), False
    if available < updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated '
                f"replicas are available..."), False
    return f'deployment "{name}" successfully rolled out', True


def owned_sets(client: Client, d: Obj) -> list[Obj]:
    uid = d["metadata"]["uid"]
    return [rs for rs in client.list("replicasets", namespace=d["metadata"].get("namespace"))["items"]
            if any(r.get("uid") == uid and r.get("controller")
                   for r in rs["metadata"].get("ownerReferences") or [])]


def rollout(args: argparse.Namespace) -> int:
    action = args.action
    info, name = _deployment(args)
    ns = _ns(args)
    shown = _shown(info, name)
    with Client.from_config() as client:
        if action == "status":
            return _status(client, name, ns, watch=args.watch, timeout=_seconds(args.timeout))
        d = client.get(info, name, namespace=ns)
        paused = bool((d.get("spec") or {}).get("paused"))
        if action in ("pause", "resume"):
            if paused == (action == "pause"):
                print(f"{shown} {'already paused' if paused else 'is not paused'}")
                return 0 if action == "pause" else 1
            client.patch(info, name, {"spec": {"paused": action == "pause"}}, namespace=ns)
            print(f"{shown} {'paused' if action == 'pause' else 'resumed'}")
            return 0
        if action == "restart":
            if paused:
                raise TugError(f"{shown}: can't restart paused deployment (run rollout resume first)")
            stamp = format_time(utcnow())
            restarted = {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}
            client.patch(info, name, {"spec": restarted}, namespace=ns)
            print(f"{shown} restarted")
            return 0
        sets = sorted(owned_sets(client, d), key=revision)
        if action == "history":
            return _history(shown, sets, args.revision)
        return _undo(client, d, sets, shown, args.to_revision)


def _status(client: Client, name: str, ns: str, *, watch: bool, timeout: float) -> int:
    deadline = time.monotonic() + timeout if timeout > 0 else None
    last = ""
    while True:
        line, done = status_line(client.get("deployments", name, namespace=ns))
        if line != last:
            print(line, flush=True)
            last = line
        if done or not watch:
            return 0 if done else 1
        if deadline is not None and time.monotonic() >= deadline:
            raise TugError("timed out waiting for the condition")
        time.sleep(0.5)


def _history(shown: str, sets: list[Obj], wanted: int) -> int:
    if wanted:
        match = next((rs for rs in sets if revision(rs) == wanted), None)
        if match is None:
            raise NotFoundError(f"unable to find the specified revision {wanted}")
        import yaml

        template = match["spec"].get("template") or {}
        print(f"{shown} with revision #{wanted}")
        print("Pod Template:")
        print("\n".join(f"  {line}" for line in yaml.safe_dump(template, sort_keys=False).splitlines()))
        return 0
    print(shown)
    print(f"{'REVISION':<10}CHANGE-CAUSE")
    for rs in sets:
        if revision(rs):
            cause = (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE) or "<none>"
            print(f"{revision(rs):<10}{cause}")
    return 0


def _undo(client: Client, d: Obj, sets: list[Obj], shown: str, to: int) -> int:
    if (d.get("spec") or {}).get("paused"):
        raise TugError(f"you cannot rollback a paused deployment; resume it first with "
                       f"'tug rollout resume {shown}' and try again")
    revisions = sorted({revision(rs) for rs in sets if revision(rs)})
    if to == 0:
        if len(revisions) < 2:
            raise TugError("no rollout history found for " + shown)
        to = revisions[-2]
    match = next((rs for rs in sets if revision(rs) == to), None)
    if match is None:
        raise NotFoundError(f"unable to find specified revision {to} in history")
    template = without_hash(match["spec"].get("template"))
    if template == (d.get("spec") or {}).get("template"):
        print(f"{shown} skipped rollback (current template already matches revision {to})")
        return 0
    d = copy.deepcopy(d)
    d["spec"]["template"] = template
    notes = d["metadata"].setdefault("annotations", {})
    for key, value in (match["metadata"].get("annotations") or {}).items():
        if key not in NOT_COPIED:  # as the controller copies them, the other way
            notes[key] = value
    client.update(d)
    print(f"{shown} rolled back")
    return 0


def scale(args: argparse.Namespace) -> int:
    """`tug scale deployment/X --replicas N` (also rs, and a Job's parallelism)."""
    info, name = target(args.target, args.name)
    field = SCALES.get(info.plural)
    if field is None:
        raise BadRequestError(f"scale: {info.plural} do not scale (deployments, replicasets and jobs do)")
    if args.replicas < 0:
        raise BadRequestError("--replicas: must not be negative")
    with Client.from_config() as client:
        client.patch(info, name, {"spec": {field: args.replicas}}, namespace=_ns(args))
    print(f"{_shown(info, name)} scaled")
    return 0


def autoscale(args: argparse.Namespace) -> int:
    """`tug autoscale deployment/X --min N --max M --cpu-percent P`: an HPA named after X."""
    info, name = target(args.target, args.name)
    if info.plural not in ("deployments", "replicasets"):
        raise BadRequestError(f"autoscale: cannot autoscale {info.plural} (deployments and "
                              f"replicasets have a scale)")
    if args.max < 1:
        raise BadRequestError(f"--max=MAXPODS is required and must be at least 1, max: {args.max}")
    if args.min is not None and not 1 <= args.min <= args.max:
        raise BadRequestError(f"--min=MINPODS must be from 1 to --max=MAXPODS, max: {args.max}, "
                              f"min: {args.min}")
    if args.cpu_percent is not None and args.cpu_percent < 1:
        raise BadRequestError(f"--cpu-percent: must be at least 1, got {args.cpu_percent}")
    spec: Obj = {"scaleTargetRef": {"apiVersion": f"{info.group}/{info.version}", "kind": info.kind,
                                    "name": name}, "maxReplicas": args.max}
    if args.min is not None:
        spec["minReplicas"] = args.min
    if args.cpu_percent is not None:
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": args.cpu_percent}}}]
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": args.hpa_name or name, "namespace": _ns(args)}, "spec": spec}
    with Client.from_config() as client:
        client.get(info, name, namespace=_ns(args))  # the target must exist, as kubectl checks
        client.create(hpa, namespace=_ns(args))
    print(f"horizontalpodautoscaler.autoscaling/{args.hpa_name or name} autoscaled")
    return 0


def _pod_spec(obj: Obj) -> Obj:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec
    if obj.get("kind") == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def set_image(args: argparse.Namespace) -> int:
    """`tug set image deployment/X c=IMAGE [d=IMAGE2 ...]` (`*=IMAGE`: every container)."""
    info, name = target(args.target)
    pairs = []
    for text in args.pairs:
        container, sep, image = text.partition("=")
        if not sep or not container or not image:
            raise BadRequestError(f"expected CONTAINER=IMAGE, got {text!r}")
        pairs.append((container, image))
    with Client.from_config() as client:
        obj = client.get(info, name, namespace=_ns(args))
        spec = _pod_spec(obj)
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        for container, image in pairs:
            hit = [c for c in containers if container in ("*", c.get("name"))]
            if not hit:
                raise NotFoundError(f'unable to find container named "{container}"')
            for c in hit:
                c["image"] = image
        client.update(obj)
    print(f"{_shown(info, name)} image updated")
    return 0


def set_env(args: argparse.Namespace) -> int:
    """`tug set env deployment/X K=V [K2-] [-c CONTAINER]`."""
    info, name = target(args.target)
    changes: list[tuple[str, str | None]] = []
    for text in args.pairs:
        if text.endswith("-") and "=" not in text:
            changes.append((text[:-1], None))
            continue
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise BadRequestError(f"expected KEY=VALUE or KEY-, got {text!r}")
        changes.append((key, value))
    with Client.from_config() as client:
        obj = client.get(info, name, namespace=_ns(args))
        containers = [c for c in _pod_spec(obj).get("containers") or []
                      if args.container in (None, c.get("name"))]
        if not containers:
            raise NotFoundError(f'unable to find container named "{args.container}"')
        for c in containers:
            env = [e for e in c.get("env") or [] if e.get("name") not in {k for k, _ in changes}]
            env += [{"name": k, "value": v} for k, v in changes if v is not None]
            c["env"] = env
        client.update(obj)
    print(f"{_shown(info, name)} env updated")
    return 0
