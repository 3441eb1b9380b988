"""What the storage controller does for one claim or one volume (reference k8s-semantics-2 §4.6,
§4.7), as a plan: bind a claim to the smallest free volume that fits it, or make a local-path
volume on the node of its first pod; keep claims' and volumes' phases; release and reclaim a
volume whose claim is gone (Delete, Retain); lift the protection finalizers once nothing uses
the object. Pure: no store, no clock."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from storage.claims import (
    HOSTNAME,
    LOCAL_PROVISIONER,
    PROVISIONED_BY,
    PV_PROTECTION,
    PVC_PROTECTION,
    SELECTED_NODE,
    Claims,
    best_volume,
    provisioned,
    volume_path,
)

Obj = dict[str, Any]
Event = tuple[Obj, str, str, str]  # (object, Normal|Warning, reason, message)
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
WAITING = "waiting for first consumer to be created before binding"


@dataclass
class Plan:
    create: Obj | None = None  # a PersistentVolume to make
    volume: Obj | None = None  # the volume's new metadata/spec
    volume_status: Obj | None = None  # the volume's new status
    claim: Obj | None = None  # the claim's new metadata/spec
    claim_status: Obj | None = None  # the claim's new status
    reclaim: Obj | None = None  # a volume to delete, its directory first
    events: list[Event] = field(default_factory=list)


def _key(pvc: Obj) -> tuple[str, str]:
    return (pvc["metadata"].get("namespace") or "", pvc["metadata"]["name"])


def _without(obj: Obj, finalizer: str) -> Obj | None:
    """The object with `finalizer` removed (None when it has none)."""
    if finalizer not in (obj["metadata"].get("finalizers") or []):
        return None
    out = copy.deepcopy(obj)
    out["metadata"]["finalizers"] = [f for f in out["metadata"]["finalizers"] if f != finalizer]
    return out


def _phase(obj: Obj, phase: str, **more: Any) -> Obj | None:
    """The object's status in `phase` (with `more`), or None when it already is."""
    status = dict(obj.get("status") or {})
    wanted = {**status, "phase": phase, **more}
    return None if wanted == status else wanted


def _claim_ref(pvc: Obj) -> Obj:
    meta = pvc["metadata"]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta.get("namespace"),
            "name": meta["name"], "uid": meta["uid"]}


def _bind(plan: Plan, pvc: Obj, pv: Obj, *, made: bool = False) -> None:
    """Bind both ways: the volume's claimRef and phase, the claim's volumeName and phase."""
    name = pv["metadata"]["name"]
    if not made and ((pv.get("spec") or {}).get("claimRef") or {}).get("uid") != pvc["metadata"]["uid"]:
        plan.volume = copy.deepcopy(pv)
        plan.volume["spec"]["claimRef"] = _claim_ref(pvc)
    plan.volume_status = {"phase": "Bound"} if made else _phase(pv, "Bound")
    annotations = pvc["metadata"].get("annotations") or {}
    if (pvc.get("spec") or {}).get("volumeName") != name or annotations.get(BIND_COMPLETED) != "yes":
        claim = plan.claim or copy.deepcopy(pvc)
        claim["spec"]["volumeName"] = name
        claim["metadata"].setdefault("annotations", {})[BIND_COMPLETED] = "yes"
        plan.claim = claim
    spec = pv.get("spec") or {}
    plan.claim_status = _phase(pvc, "Bound", capacity=dict(spec.get("capacity") or {}),
                               accessModes=list(spec.get("accessModes") or []))


def plan_claim(pvc: Obj, claims: Claims, base: str) -> Plan:
    """Bind the claim, make its volume, or say why it waits; let it go once nothing uses it."""
    plan = Plan()
    meta, spec = pvc["metadata"], pvc.get("spec") or {}
    users = claims.users.get(_key(pvc), [])
    if meta.get("deletionTimestamp"):
        if not users:
            plan.claim = _without(pvc, PVC_PROTECTION)
        return plan
    named = spec.get("volumeName")
    if named:
        pv = claims.pvs.get(str(named))
        ref = ((pv or {}).get("spec") or {}).get("claimRef") or {}
        if pv is None:
            if (pvc.get("status") or {}).get("phase") == "Bound":
                plan.claim_status = _phase(pvc, "Lost")
                plan.events.append((pvc, "Warning", "ClaimLost",
                                    "Bound claim has lost its PersistentVolume. Data on the volume is lost!"))
            else:
                plan.claim_status = _phase(pvc, "Pending")
        elif (ref.get("name") and ((ref.get("namespace") or ""), ref["name"]) != _key(pvc)) \
                or (ref.get("uid") and ref["uid"] != meta["uid"]):
            plan.claim_status = _phase(pvc, "Pending")
            plan.events.append((pvc, "Warning", "FailedBinding",
                                f'volume "{named}" already bound to a different claim.'))
        else:
            _bind(plan, pvc, pv)
        return plan
    # a volume that names this claim, then the smallest free one that fits
    mine = [pv for pv in claims.pvs.values()
            if not (pv["metadata"].get("deletionTimestamp"))
            and (((pv.get("spec") or {}).get("claimRef") or {}).get("namespace") or "",
                 ((pv.get("spec") or {}).get("claimRef") or {}).get("name")) == _key(pvc)
            and ((pv.get("spec") or {}).get("claimRef") or {}).get("uid") in (None, "", meta["uid"])]
    pv = mine[0] if mine else best_volume(pvc, list(claims.pvs.values()))
    if pv is not None:
        _bind(plan, pvc, pv)
        return plan
    plan.claim_status = _phase(pvc, "Pending")
    _provision(plan, pvc, claims, base, users)
    return plan


def _provision(plan: Plan, pvc: Obj, claims: Claims, base: str, users: list[Obj]) -> None:
    class_name = str((pvc.get("spec") or {}).get("storageClassName") or "")
    sc = claims.classes.get(class_name)
    if not class_name:
        plan.events.append((pvc, "Normal", "FailedBinding",
                            "no persistent volumes available for this claim and no storage class is set"))
        return
    if sc is None:
        plan.events.append((pvc, "Warning", "ProvisioningFailed",
                            f'storageclass.storage.k8s.io "{class_name}" not found'))
        return
    provisioner = str(sc.get("provisioner"))
    if provisioner != LOCAL_PROVISIONER:
        plan.events.append((pvc, "Normal", "ExternalProvisioning",
                            f"Waiting for a volume to be created either by the external provisioner "
                            f"'{provisioner}' or manually by the system administrator. If volume creation "
                            f"is delayed, please verify that the provisioner is running and correctly "
                            f"registered."))
        return
    if sc.get("volumeBindingMode") != "WaitForFirstConsumer":
        plan.events.append((pvc, "Warning", "ProvisioningFailed",
                            f"{LOCAL_PROVISIONER} makes a volume on the node of the claim's first pod: "
                            f'StorageClass "{class_name}" needs volumeBindingMode: WaitForFirstConsumer'))
        return
    annotations = pvc["metadata"].get("annotations") or {}
    placed = sorted((p for p in users if (p.get("spec") or {}).get("nodeName")),
                    key=lambda p: (str(p["metadata"].get("creationTimestamp")), p["metadata"]["name"]))
    node = annotations.get(SELECTED_NODE) or (placed[0]["spec"]["nodeName"] if placed else None)
    if not node:
        plan.events.append((pvc, "Normal", "WaitForFirstConsumer", WAITING))
        return
    pv = provisioned(pvc, sc, str(node), base)
    plan.create = pv
    claim = copy.deepcopy(pvc)
    claim["metadata"].setdefault("annotations", {})[SELECTED_NODE] = str(node)
    plan.claim = claim
    _bind(plan, pvc, pv, made=True)
    plan.events.append((pvc, "Normal", "ProvisioningSucceeded",
                        f"Successfully provisioned volume {pv['metadata']['name']}"))


def plan_volume(pv: Obj, claims: Claims) -> Plan:
    """Keep the volume's phase; release it when its claim is gone and reclaim it by its policy;
    let a deleted one go once no claim is bound to it."""
    plan = Plan()
    spec = pv.get("spec") or {}
    ref = spec.get("claimRef") or {}
    pvc = claims.pvcs.get(((ref.get("namespace") or ""), str(ref.get("name")))) if ref.get("name") else None
    if pvc is not None and ref.get("uid") and pvc["metadata"]["uid"] != ref["uid"]:
        pvc = None  # a claim of that name made since: not ours
    bound = pvc is not None and (pvc.get("spec") or {}).get("volumeName") == pv["metadata"]["name"]
    if pv["metadata"].get("deletionTimestamp"):
        if not bound:
            plan.volume = _without(pv, PV_PROTECTION)
        return plan
    if not ref.get("name"):
        plan.volume_status = _phase(pv, "Available")
    elif pvc is not None:
        plan.volume_status = _phase(pv, "Bound") if bound else None
    elif ref.get("uid"):  # its claim is gone
        policy = spec.get("persistentVolumeReclaimPolicy") or "Retain"
        ours = (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY) == LOCAL_PROVISIONER
        if policy == "Delete" and ours:
            plan.volume_status = _phase(pv, "Released")
            plan.reclaim = pv
        elif policy == "Delete":
            plan.volume_status = _phase(pv, "Failed", message=(
                f'error getting deleter volume plugin for volume "{pv["metadata"]["name"]}": '
                f"no deletable volume plugin matched"))
        else:
            plan.volume_status = _phase(pv, "Released")
    return plan


def volume_node(pv: Obj) -> str | None:
    """The node a volume lives on (the hostname in its required node affinity)."""
    terms = ((((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
             .get("nodeSelectorTerms") or [])
    for term in terms:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == HOSTNAME and expr.get("operator") == "In" and expr.get("values"):
                return str(expr["values"][0])
    return None


def reclaim_target(pv: Obj) -> tuple[str, str] | None:
    """(node, directory) to remove for a local-path volume, or None when it names no node."""
    node, path = volume_node(pv), volume_path(pv)
    return (node, path) if node and path else None
