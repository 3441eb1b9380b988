"""Fields the server writes into an object when it is created and keeps on every update, as
Kubernetes' PrepareForCreate/PrepareForUpdate do: a Job's selector on its own uid, and the
matching labels on its pod template (unless spec.manualSelector is true). And the annotations
controllers set (a Job's queue admission, a Deployment's revision), which a manifest applied
again does not carry and must not take away."""

from __future__ import annotations

import json

from engine.api.apps import REVISION
from engine.api.batch import CONTROLLER_UID_LABEL, JOB_NAME_LABEL
from engine.api.batch import generated_selector as job_selector
from engine.errors import InvalidError
from engine.objects import ADMISSION
from engine.store.objects import Obj, metadata


def on_create(resource: str, obj: Obj) -> None:
    """Fill what the server generates, in place, once the object has its uid and name."""
    if resource == "jobs":
        _job(obj, job_selector(str(metadata(obj)["uid"])))


def on_update(resource: str, stored: Obj, new: Obj) -> None:
    """Keep what the server generated (a manifest re-applied never carries it), in place; a Job's
    selector cannot change."""
    _keep_annotations(stored, new)
    if resource != "jobs":
        return
    spec, old = new.get("spec"), stored.get("spec")
    if not isinstance(spec, dict) or not isinstance(old, dict):
        return
    if spec.get("manualSelector") is not True and "selector" not in spec and "selector" in old:
        spec["selector"] = old["selector"]
        if spec["selector"] == job_selector(str(metadata(stored).get("uid"))):
            _job(new, spec["selector"])
    if spec.get("selector") != old.get("selector"):
        detail = (f"spec.selector: field is immutable, was {json.dumps(old.get('selector'), sort_keys=True)}"
                  f", got {json.dumps(spec.get('selector'), sort_keys=True)}")
        raise InvalidError(f'jobs "{metadata(stored).get("name")}" is invalid: {detail}', details=[detail])


def _job(obj: Obj, selector: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    spec["selector"] = selector
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    tmeta = template.setdefault("metadata", {})
    if not isinstance(tmeta, dict):
        return
    labels = tmeta.get("labels") if isinstance(tmeta.get("labels"), dict) else {}
    uid, name = selector["matchLabels"][CONTROLLER_UID_LABEL], metadata(obj).get("name")
    tmeta["labels"] = {**labels, CONTROLLER_UID_LABEL: uid, JOB_NAME_LABEL: name,
                       "controller-uid": uid, "job-name": name}


def _keep_annotations(stored: Obj, new: Obj) -> None:
    kept = {key: value for key, value in (metadata(stored).get("annotations") or {}).items()
            if key in (ADMISSION, REVISION)}
    md = metadata(new)
    given = md.get("annotations")
    if not kept or (given is not None and not isinstance(given, dict)):
        return
    md["annotations"] = {**kept, **(given or {})}
