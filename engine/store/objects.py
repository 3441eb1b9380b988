"""Pure rules for stored objects' metadata: identity, names, generation, finalizers, owners."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from engine.errors import BadRequestError, ConflictError, InvalidError

Obj = dict[str, Any]

FOREGROUND_FINALIZER = "foregroundDeletion"
DEFAULT_GRACE_SECONDS = 30
MAX_GRACE_SECONDS = 2**31 - 1  # a longer grace period is this one (68 years): no time overflows
# Kubernetes leaves out vowels and look-alike characters so generated names spell no words.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Set by the store on every write; a client's copy of them means nothing.
_SERVER_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "generation", "resourceVersion")


def clone(obj: Obj) -> Obj:
    """A deep copy through JSON, which also proves the object can be stored."""
    try:
        return loads(json.dumps(obj))
    except (TypeError, ValueError) as e:
        raise BadRequestError(f"object is not valid JSON: {e}") from None


def dumps(obj: Obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def loads(text: str) -> Obj:
    obj: Obj = json.loads(text)
    return obj


def metadata(obj: Obj) -> Obj:
    md = obj.get("metadata")
    if md is None:
        md = obj["metadata"] = {}
    if not isinstance(md, dict):
        raise BadRequestError("metadata: expected an object")
    return md


def namespace_of(obj: Obj) -> str:
    """The namespace as stored: '' for cluster-scoped objects."""
    return str(metadata(obj).get("namespace") or "")


def name_of(resource: str, obj: Obj) -> str:
    name = metadata(obj).get("name")
    if not name:
        raise BadRequestError(f"{resource}: metadata.name is required")
    return str(name)


def uid_of(obj: Obj) -> str:
    return str(metadata(obj)["uid"])


def random_suffix() -> str:
    """The five characters appended to metadata.generateName."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def finalizers(obj: Obj) -> list[str]:
    return list(metadata(obj).get("finalizers") or [])


def set_finalizers(obj: Obj, names: list[str]) -> None:
    if names:
        metadata(obj)["finalizers"] = names
    else:
        metadata(obj).pop("finalizers", None)


def owner_uids(obj: Obj) -> set[str]:
    return {str(ref["uid"]) for ref in metadata(obj).get("ownerReferences") or [] if ref.get("uid")}


def drop_owner(obj: Obj, owner_uid: str) -> None:
    """Remove the ownerReference to one owner (the field goes when it empties)."""
    md = metadata(obj)
    refs = [r for r in md.get("ownerReferences") or [] if r.get("uid") != owner_uid]
    if refs:
        md["ownerReferences"] = refs
    else:
        md.pop("ownerReferences", None)


def is_terminating(obj: Obj) -> bool:
    return bool(metadata(obj).get("deletionTimestamp"))


def is_removable(obj: Obj) -> bool:
    """Terminating, no finalizers left and no grace period still running."""
    md = metadata(obj)
    return (is_terminating(obj) and not finalizers(obj)
            and not md.get("deletionGracePeriodSeconds"))


def grace_of(obj: Obj) -> int:
    """The grace period a graceful deletion gets when the caller names none."""
    spec = obj.get("spec") or {}
    value = spec.get("terminationGracePeriodSeconds") if isinstance(spec, dict) else None
    return int(value) if value is not None else DEFAULT_GRACE_SECONDS


def needs_graceful(resource: str, obj: Obj) -> bool:
    """The default rule: a pod bound to a node and not finished stops before it goes away."""
    if resource != "pods":
        return False
    phase = (obj.get("status") or {}).get("phase")
    return bool((obj.get("spec") or {}).get("nodeName")) and phase not in ("Succeeded", "Failed")


def generation_changed(old: Obj, new: Obj) -> bool:
    """Whether the desired state changed: `spec`, or (no spec) all but metadata and status."""
    if "spec" in old or "spec" in new:
        return old.get("spec") != new.get("spec")
    skip = ("metadata", "status")
    return ({k: v for k, v in old.items() if k not in skip}
            != {k: v for k, v in new.items() if k not in skip})


def check_version(resource: str, stored: Obj, given: Obj) -> None:
    """Optimistic concurrency: a given resourceVersion must be the stored one."""
    rv = metadata(given).get("resourceVersion")
    if rv and str(rv) != metadata(stored).get("resourceVersion"):
        raise ConflictError(
            f'Operation cannot be fulfilled on {resource} "{metadata(stored)["name"]}": the '
            "object has been modified; please apply your changes to the latest version "
            "and try again")


def prepare_create(resource: str, obj: Obj, *, namespaced: bool) -> Obj:
    """A copy of a new object without server-set fields, its scope checked."""
    new = clone(obj)
    md = metadata(new)
    if namespaced and not md.get("namespace"):
        raise BadRequestError(f"{resource}: metadata.namespace is required")
    if not namespaced:
        md.pop("namespace", None)
    if not md.get("name") and not md.get("generateName"):
        raise BadRequestError(f"{resource}: metadata.name or metadata.generateName is required")
    for field in _SERVER_FIELDS:
        md.pop(field, None)
    md["generation"] = 1
    return new


def merge_update(resource: str, stored: Obj, given: Obj) -> Obj:
    """The object an update stores: the given one with the stored status and server fields."""
    new = clone(given)
    md = metadata(new)
    smd = metadata(stored)
    for field in (*_SERVER_FIELDS, "namespace", "name"):
        if field in smd:
            md[field] = smd[field]
        else:
            md.pop(field, None)
    if "status" in stored:
        new["status"] = stored["status"]
    else:
        new.pop("status", None)
    added = set(finalizers(new)) - set(finalizers(stored))
    if is_terminating(stored) and added:
        detail = (f"metadata.finalizers: Forbidden: no new finalizers can be added while the "
                  f"object is being deleted (tried {', '.join(sorted(added))})")
        raise InvalidError(f'{resource} "{smd["name"]}" is invalid: {detail}', details=[detail])
    if generation_changed(stored, new):
        md["generation"] = int(smd.get("generation", 1)) + 1
    return new


def keep_managed(stored: Obj, given: Obj) -> Obj:
    """For apply: a manifest that does not mention finalizers or ownerReferences keeps the
    stored ones, which controllers and deletions set (a manifest never carries them)."""
    new = clone(given)
    md = metadata(new)
    for field in ("finalizers", "ownerReferences"):
        if field not in md and field in metadata(stored):
            md[field] = metadata(stored)[field]
    return new


def merge_status(stored: Obj, given: Obj) -> Obj:
    """The object a status update stores: the stored one with the given status."""
    new = clone(stored)
    if "status" in given:
        new["status"] = clone({"s": given["status"]})["s"]
    else:
        new.pop("status", None)
    return new


def new_uid() -> str:
    return str(uuid.uuid4())
