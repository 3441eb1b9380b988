"""The API's verbs on the store: create, update, patch, delete and the atomic batch apply.
Validation happens here, so nothing invalid reaches the store; no HTTP in this module."""

from __future__ import annotations

import copy
from typing import Any

from engine.api import ResourceInfo, Validated, resolve, ssa, validate_documents, validate_object
from engine.api.patches import json_patch, merge_patch, strategic_merge
from engine.api.status import check_status, full_node_info
from engine.clock import format_time
from engine.controllers.namespaces import NAMESPACE_FINALIZER, PROTECTED
from engine.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    MethodNotAllowedError,
    NotFoundError,
)
from engine.net.allocate import Taken
from engine.objects import finished
from engine.server.admission import admit
from engine.store import generated
from engine.store.store import DRY_RUN

# Fields of metadata that the system owns: an apply or update never sets them from input.
_SYSTEM_META = ("uid", "resourceVersion", "generation", "creationTimestamp",
                "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields")
_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


class Api:
    """What the HTTP layer calls. `store` is engine.store.Store."""

    def __init__(self, store: Any) -> None:
        self.store = store

    # ----- reads ---------------------------------------------------------------------------

    def ensure_namespace(self, info: ResourceInfo, namespace: str | None,
                         *, also: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        if not info.namespaced or namespace in also:
            return
        try:
            ns = self.store.get("namespaces", None, namespace)
        except NotFoundError:
            raise NotFoundError(f'namespaces "{namespace}" not found') from None
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise ForbiddenError(f"unable to create new content in namespace {namespace} because it "
                                 "is being terminated")

    # ----- writes --------------------------------------------------------------------------

    def create(self, info: ResourceInfo, namespace: str | None, body: dict[str, Any], *,
               checked: Validated | None = None,
               managed: list[Any] | None = None) -> tuple[dict[str, Any], list[str]]:
        """`checked`: `validate`'s answer for `body`, when the caller ran it already (the
        server runs it in a worker thread, so a huge body never holds the event loop);
        `managed`: the managedFields a server-side apply gives the new object."""
        checked = checked or self.validate(info, namespace, body)
        self.ensure_namespace(info, checked.obj["metadata"].get("namespace"))
        obj = admit(self.store, info.plural, _strip_system(checked.obj), None)
        if managed:
            obj["metadata"]["managedFields"] = managed
        return self.store.create(info.plural, obj, namespaced=info.namespaced), checked.warnings

    def update(self, info: ResourceInfo, namespace: str | None, name: str, body: dict[str, Any], *,
               checked: Validated | None = None, manager: str = "unknown",
               managed: list[Any] | None = None) -> tuple[dict[str, Any], list[str]]:
        """`managed`: the managedFields a server-side apply computed; else an object that
        tracks its fields' managers (one server-side applied) gives `manager` what it changed."""
        checked = checked or self.validate(info, namespace, body)
        if checked.obj["metadata"].get("name") != name:
            raise BadRequestError(
                f'the name of the object ({checked.obj["metadata"].get("name")}) does not match '
                f'the name on the URL ({name})')
        current = self.store.get(info.plural, namespace, name)
        obj = admit(self.store, info.plural, self._merge_update(info, current, checked.obj), current)
        if managed is None:
            managed = ssa.record_update(current, obj, manager=manager, now=format_time(self.store.now()))
        if managed is not None:
            obj["metadata"]["managedFields"] = managed
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv:
            obj["metadata"]["resourceVersion"] = str(rv)
        return self.store.update(info.plural, obj), checked.warnings

    def patch(self, info: ResourceInfo, namespace: str | None, name: str, patch: dict[str, Any]
              ) -> tuple[dict[str, Any], list[str]]:
        return self.update(info, namespace, name, self.patched(info, namespace, name, patch))

    def applied(self, info: ResourceInfo, namespace: str | None, name: str, config: Any, *,
                manager: str, force: bool) -> dict[str, Any] | None:
        """Server-side apply of `config` (engine/api/ssa.py): the object it makes, carrying its
        managedFields and the stored resourceVersion; None where there is no object yet (then
        create `config`, with `created_fields`)."""
        if not isinstance(config, dict) or not isinstance(config.get("metadata", {}), dict):
            raise BadRequestError("an applied configuration must be an object, its metadata an object")
        if (config.get("metadata") or {}).get("name") not in (None, name):
            raise BadRequestError(f"the name of the object ({config['metadata']['name']}) does not match "
                                  f"the name on the URL ({name})")
        config.setdefault("metadata", {})["name"] = name
        if any(config.get(k) in (None, "") for k in ("apiVersion", "kind")):
            raise BadRequestError("an applied configuration must give apiVersion and kind")
        try:
            current = self.store.get(info.plural, namespace, name)
        except NotFoundError:
            return None
        out = ssa.apply(_strip_status(current), config, manager=manager, force=force,
                        now=format_time(self.store.now()))
        out["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return out

    def created_fields(self, config: dict[str, Any], manager: str) -> list[Any]:
        """The managedFields of an object server-side apply creates from `config`."""
        made = ssa.apply(None, config, manager=manager, force=False, now=format_time(self.store.now()))
        return list(made["metadata"]["managedFields"])

    def patched(self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
                kind: str = "merge") -> dict[str, Any]:
        """The stored object with `patch` applied (`kind`: merge, strategic or json; see
        engine/api/patches.py), carrying the stored resourceVersion (so an update of it is
        refused if the object changed meanwhile)."""
        if kind != "json" and (not isinstance(patch.get("metadata", {}), dict)
                               or not isinstance(patch.get("spec", {}), (dict, type(None)))):
            raise BadRequestError("the patch's metadata and spec must be objects")
        current = self.store.get(info.plural, namespace, name)
        base = _strip_status(current)
        if kind == "json":
            merged = json_patch(base, patch)
            if not isinstance(merged, dict):
                raise BadRequestError("the patched object is not an object")
        else:
            merged = (strategic_merge if kind == "strategic" else merge_patch)(base, patch)
        merged.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return merged

    @staticmethod
    def check_status(info: ResourceInfo, name: str, body: dict[str, Any]) -> None:
        """Whether `body` may be written as the status of `info` NAME (pure: any thread)."""
        meta = body.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise BadRequestError(f"metadata: expected an object, got {type(meta).__name__}")
        if (meta or {}).get("name") not in (None, name):
            raise BadRequestError("the name of the object does not match the name on the URL")
        if info.plural == "podrecords":
            raise ForbiddenError("podrecords are written by the control plane only")
        check_status(info.plural, info.kind, name, body.get("status"))

    def update_status(self, info: ResourceInfo, namespace: str | None, name: str,
                      body: dict[str, Any], *, checked: bool = False) -> dict[str, Any]:
        if not checked:
            self.check_status(info, name, body)
        status = body.get("status")
        if isinstance(status, dict):  # a null field is an absent one, as on every other write
            status = {k: v for k, v in status.items() if v is not None}
            if info.plural == "nodes" and isinstance(status.get("nodeInfo"), dict):
                status["nodeInfo"] = full_node_info(status["nodeInfo"])
        current = self.store.get(info.plural, namespace, name)
        current["status"] = status
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv:
            current["metadata"]["resourceVersion"] = str(rv)
        else:
            current["metadata"].pop("resourceVersion", None)
        return self.store.update_status(info.plural, current)

    def delete(self, info: ResourceInfo, namespace: str | None, name: str, *,
               propagation: str | None = None, grace: int | None = None,
               uid: str | None = None, rv: str | None = None) -> dict[str, Any] | None:
        """`uid`, `rv`: DeleteOptions' preconditions (409 when the object is not that one)."""
        _check_delete_options(propagation, grace)
        obj = self.store.get(info.plural, namespace, name)
        if rv is not None and obj["metadata"].get("resourceVersion") != rv:
            raise ConflictError(f'Operation cannot be fulfilled on {info.plural} "{name}": the '
                                f"ResourceVersion in the precondition ({rv}) does not match the "
                                f'ResourceVersion in record ({obj["metadata"].get("resourceVersion")}). '
                                f"The object might have been modified")
        graceful = False
        if info.plural == "pods":
            spec = obj.get("spec") or {}
            bound = bool(spec.get("nodeName"))
            if grace is None:
                grace = int(spec.get("terminationGracePeriodSeconds", 30))
            graceful = bound and not finished(obj) and grace > 0
            if bound and not finished(obj) and grace == 0:
                graceful = False  # force: removed now, the runtime kills the actor on DELETED
        if info.plural == "namespaces":
            return self._delete_namespace(name, uid)
        return self.store.delete(info.plural, namespace, name,
                                 propagation=propagation or "Background",
                                 grace_seconds=grace, graceful=graceful, uid=uid)

    def delete_collection(self, info: ResourceInfo, namespace: str | None, items: list[dict[str, Any]], *,
                          propagation: str | None = None, grace: int | None = None
                          ) -> list[dict[str, Any]]:
        """Delete the listed `items` in one transaction (all or none); the ones deleted."""
        if info.plural == "namespaces":
            raise MethodNotAllowedError("namespaces cannot be deleted as a collection: delete each "
                                        "by name")
        _check_delete_options(propagation, grace)
        targets = [(obj["metadata"].get("namespace"), obj["metadata"]["name"], obj["metadata"]["uid"])
                   for obj in items]
        done = self.store.delete_all(info.plural, targets, propagation=propagation or "Background",
                                     grace_seconds=grace)
        return [obj for obj, after in zip(items, done, strict=True) if after is not None]

    def _delete_namespace(self, name: str, uid: str | None) -> dict[str, Any]:
        """Mark the namespace Terminating, held by the namespace controller's finalizer until
        everything in it is gone (engine/controllers/namespaces.py): one request, however much
        it holds, and a crash half-way is finished from the store."""
        if name in PROTECTED:
            raise ForbiddenError(f'namespaces "{name}" is forbidden: this namespace may not be deleted')
        ns = self.store.get("namespaces", None, name)
        if uid is not None and ns["metadata"].get("uid") != uid:
            raise ConflictError(f"Precondition failed: UID in precondition: {uid}, "
                                f"UID in object meta: {ns['metadata'].get('uid')}")
        if DRY_RUN.get():  # its three writes would each be rolled back: answer what they make
            held = ns["metadata"].get("finalizers") or []
            if NAMESPACE_FINALIZER not in held:
                ns["metadata"]["finalizers"] = [*held, NAMESPACE_FINALIZER]
            ns["metadata"].setdefault("deletionTimestamp", format_time(self.store.now()))
            return {**ns, "status": {**(ns.get("status") or {}), "phase": "Terminating"}}
        if not ns["metadata"].get("deletionTimestamp"):
            held = ns["metadata"].get("finalizers") or []
            if NAMESPACE_FINALIZER not in held:
                ns["metadata"]["finalizers"] = [*held, NAMESPACE_FINALIZER]
                ns = self.store.update("namespaces", ns)
            ns = self.store.delete("namespaces", None, name, uid=ns["metadata"]["uid"])
        if (ns.get("status") or {}).get("phase") != "Terminating":
            ns = self.store.update_status("namespaces", {**ns, "status": {
                **(ns.get("status") or {}), "phase": "Terminating"}})
        return ns

    def apply(self, documents: list[dict[str, Any]], *, namespace: str, create_only: bool = False,
              dry_run: bool = False, checked: list[Validated] | None = None
              ) -> tuple[list[dict[str, Any]], list[str]]:
        """Validate every document (unless `checked` holds `validate_documents`' answer), then
        store all of them in one transaction (or none)."""
        if checked is None:
            checked = validate_documents(documents, default_namespace=namespace)
        new_namespaces = {c.obj["metadata"]["name"] for c in checked
                          if c.resource.plural == "namespaces"}
        new_queues = frozenset(c.obj["metadata"]["name"] for c in checked if c.resource.plural == "queues")
        problems: list[str] = []
        ops: list[tuple[str, str, dict[str, Any], bool]] = []
        results: list[dict[str, Any]] = []
        op_results: list[int] = []  # for each op, its index in results
        warnings: list[str] = []
        seen: set[tuple[str, str | None, str]] = set()
        reserved = Taken()  # the addresses this apply's Services take, one after another
        for i, c in enumerate(checked, 1):
            info, obj = c.resource, c.obj
            meta = obj["metadata"]
            ident = f'{info.kind} "{meta.get("name") or meta.get("generateName")}"'
            warnings += [f"{ident}: {w}" for w in c.warnings]
            ns = meta.get("namespace") if info.namespaced else None
            try:
                self.ensure_namespace(info, ns, also=new_namespaces)
            except (NotFoundError, BadRequestError) as exc:
                problems.append(f"document {i} ({ident}): {exc}")
                continue
            key = (info.plural, ns, meta.get("name") or "")
            if meta.get("name") and key in seen:
                problems.append(f"document {i} ({ident}): appears twice in this apply")
                continue
            seen.add(key)
            current = None
            if meta.get("name"):
                try:
                    current = self.store.get(info.plural, ns, meta["name"])
                except NotFoundError:
                    current = None
            try:
                if current is None:
                    obj = admit(self.store, info.plural, obj, None, new_queues=new_queues, reserved=reserved)
                else:
                    updated = admit(self.store, info.plural, self._merge_update(info, current, obj),
                                    current, new_queues=new_queues, reserved=reserved)
            except (InvalidError, ForbiddenError) as exc:
                problems += [f"document {i} ({ident}): {d}" for d in exc.details or [str(exc)]]
                continue
            if current is None:
                ops.append(("create", info.plural, _strip_system(obj), info.namespaced))
                op_results.append(len(results))
                results.append(_result(info, obj, "created"))
            elif create_only:
                problems.append(f'document {i} ({ident}): {info.plural} "{meta["name"]}" '
                                f"already exists")
            else:
                same = _comparable(updated) == _comparable(current)
                if not same:
                    ops.append(("update", info.plural, updated, info.namespaced))
                    op_results.append(len(results))
                results.append(_result(info, obj, "unchanged" if same else "configured"))
        if problems:
            raise InvalidError(f"{len(problems)} problem(s); nothing was applied", details=problems)
        if not dry_run and ops:
            for index, obj in zip(op_results, _objects(self.store.apply_all(ops)), strict=True):
                results[index]["name"] = obj["metadata"]["name"]  # generateName resolved
        return results, warnings

    # ----- helpers ---------------------------------------------------------------------------

    @staticmethod
    def validate(info: ResourceInfo, namespace: str | None, body: dict[str, Any]) -> Validated:
        """`body` checked and defaulted as `info` (pure: it reads no store, so any thread)."""
        if not isinstance(body, dict):
            raise BadRequestError("the request body must be a JSON object")
        body = dict(body)
        body.setdefault("apiVersion", info.api_version)
        body.setdefault("kind", info.kind)
        checked = validate_object(body, default_namespace=namespace if info.namespaced else None)
        if checked.resource.plural != info.plural:
            raise BadRequestError(
                f"a {checked.resource.kind} was sent to the {info.plural} endpoint")
        got_ns = checked.obj["metadata"].get("namespace")
        if info.namespaced and namespace and got_ns != namespace:
            raise BadRequestError(
                f"the namespace of the provided object ({got_ns}) does not match the namespace "
                f"sent on the request ({namespace})")
        return checked

    def _merge_update(self, info: ResourceInfo, current: dict[str, Any],
                      desired: dict[str, Any]) -> dict[str, Any]:
        """The stored object with the user's fields replaced and the system's fields kept."""
        out = {k: copy.deepcopy(v) for k, v in desired.items() if k != "status"}
        meta = dict(desired.get("metadata") or {})
        for key in _SYSTEM_META:
            if key in current["metadata"]:
                meta[key] = current["metadata"][key]
            else:
                meta.pop(key, None)
        for key in ("ownerReferences", "finalizers"):
            if key not in meta and key in current["metadata"]:
                meta[key] = current["metadata"][key]
        meta.pop("resourceVersion", None)
        out["metadata"] = meta
        if info.plural == "pods":
            out["spec"] = _pod_update_spec(current.get("spec") or {}, desired.get("spec") or {})
        generated.on_update(info.plural, current, out)
        if "status" in current:
            out["status"] = current["status"]
        return out


def _pod_update_spec(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(desired)
    if current.get("nodeName"):
        spec["nodeName"] = current["nodeName"]
    if "priority" in current and "priority" not in spec:  # admission's: an omitted one stays
        spec["priority"] = current["priority"]
    fixed_now = {k: v for k, v in current.items() if k not in _POD_MUTABLE}
    fixed_new = {k: v for k, v in spec.items() if k not in _POD_MUTABLE}
    if _without_images(fixed_now) != _without_images(fixed_new):
        raise InvalidError(
            "pod updates may not change fields other than spec.containers[*].image, "
            "spec.activeDeadlineSeconds, spec.tolerations or spec.terminationGracePeriodSeconds",
            details=["spec: Forbidden: pod updates may not change fields other than "
                     "`spec.containers[*].image`, `spec.activeDeadlineSeconds`, "
                     "`spec.tolerations` (only additions to existing tolerations) or "
                     "`spec.terminationGracePeriodSeconds`; delete the pod and create it again"])
    return spec


def _without_images(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    for c in spec.get("containers") or []:
        c.pop("image", None)
        c.pop("imagePullPolicy", None)
    return spec


def _strip_system(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                "deletionGracePeriodSeconds", "generation", "managedFields"):
        obj["metadata"].pop(key, None)
    return obj


def _strip_status(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "status"}


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    out = _strip_status(obj)
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items()
                       if k not in ("resourceVersion", "managedFields")}
    return out


def _result(info: ResourceInfo, obj: dict[str, Any], action: str) -> dict[str, Any]:
    meta = obj["metadata"]
    return {"kind": info.kind, "resource": info.plural, "group": info.group,
            "namespace": meta.get("namespace") if info.namespaced else None,
            "name": meta.get("name") or meta.get("generateName"), "action": action}


def _objects(stored: list[Any]) -> list[dict[str, Any]]:
    return [s[1] if isinstance(s, tuple) else s for s in stored]


__all__ = ["Api", "merge_patch", "resolve"]


def _check_delete_options(propagation: str | None, grace: int | None) -> None:
    if propagation not in (None, "Background", "Foreground", "Orphan"):
        raise BadRequestError(
            f'propagationPolicy: Unsupported value "{propagation}": supported values '
            f'"Background", "Foreground", "Orphan"')
    if grace is not None and grace < 0:
        raise BadRequestError("gracePeriodSeconds: must be greater than or equal to 0")
