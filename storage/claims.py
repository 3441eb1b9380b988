"""PersistentVolumeClaims and PersistentVolumes, the pure part (reference k8s-semantics-2 §4.6,
§4.7): names and annotations, the default StorageClass, which volume fits a claim (the smallest
that does), the local-path volume provisioned for a claim on the node its first pod went to,
who uses a claim, and what the scheduler must know of a pod's claims (may it run anywhere, and
where). No store, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.api.quantity import parse_quantity
from engine.errors import TugError
from engine.labels import selector_from_label_selector

PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
LOCAL_PATH = "local-path"  # the built-in class
LOCAL_PROVISIONER = "tugboat.dev/local-path"
HOSTNAME = "kubernetes.io/hostname"
CLAIM_KEY = "..claim"  # in a pod's volume files: the node path behind a claim (never a file name)
# What the scheduler reads from its copy of a pod with claims (storage/claims.scheduling_view).
VOLUME_BLOCKED = "tugboat.dev/volumeBlocked"  # why it cannot be placed at all
VOLUME_NODES = "tugboat.dev/volumeNodeAffinity"  # [(NodeSelector terms, reason)] each node must pass
VOLUME_STORAGE = "tugboat.dev/volumeStorage"  # bytes to provision on the chosen node

Obj = dict[str, Any]
TERMINAL = ("Succeeded", "Failed")


def default_class(classes: list[Obj]) -> str | None:
    """The default StorageClass's name (the newest, when several say so), as DefaultStorageClass."""
    marked = [c for c in classes
              if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS) == "true"]
    if not marked:
        return None
    newest = max(marked, key=lambda c: (str(c["metadata"].get("creationTimestamp")), c["metadata"]["name"]))
    return str(newest["metadata"]["name"])


def claim_names(pod: Obj) -> list[str]:
    """The claims a pod's volumes name, in order."""
    return [str(v["persistentVolumeClaim"].get("claimName"))
            for v in (pod.get("spec") or {}).get("volumes") or []
            if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)]


def users(pvc: Obj, pods: list[Obj]) -> list[Obj]:
    """The pods that use the claim and have not ended (a pod not yet placed counts)."""
    ns, name = pvc["metadata"].get("namespace"), pvc["metadata"]["name"]
    return [p for p in pods if p["metadata"].get("namespace") == ns and name in claim_names(p)
            and (p.get("status") or {}).get("phase") not in TERMINAL]


def requested(pvc: Obj) -> int:
    """The claim's storage request in bytes (0 when unreadable)."""
    raw = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    try:
        return parse_quantity(str(raw)).value() if raw is not None else 0
    except (ValueError, TugError):
        return 0


def _capacity(pv: Obj) -> int:
    raw = ((pv.get("spec") or {}).get("capacity") or {}).get("storage")
    try:
        return parse_quantity(str(raw)).value() if raw is not None else 0
    except (ValueError, TugError):
        return 0


def fits(pv: Obj, pvc: Obj) -> bool:
    """Whether a free PersistentVolume can serve the claim (static binding's rules)."""
    pv_spec, spec = pv.get("spec") or {}, pvc.get("spec") or {}
    if (pv_spec.get("claimRef") or {}).get("name") or (pv.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if str(pv_spec.get("storageClassName") or "") != str(spec.get("storageClassName") or ""):
        return False
    if not set(spec.get("accessModes") or []) <= set(pv_spec.get("accessModes") or []):
        return False
    if (pv_spec.get("volumeMode") or "Filesystem") != (spec.get("volumeMode") or "Filesystem"):
        return False
    if spec.get("selector"):
        pv_labels = (pv.get("metadata") or {}).get("labels")
        try:
            if not selector_from_label_selector(spec["selector"]).matches(pv_labels):
                return False
        except TugError:
            return False
    return _capacity(pv) >= requested(pvc)


def best_volume(pvc: Obj, pvs: list[Obj]) -> Obj | None:
    """The smallest free volume that fits the claim (its volumeName's, when it names one)."""
    named = (pvc.get("spec") or {}).get("volumeName")
    choices = [pv for pv in pvs if fits(pv, pvc) and (not named or pv["metadata"]["name"] == named)]
    return min(choices, key=lambda pv: (_capacity(pv), pv["metadata"]["name"])) if choices else None


def volume_name(pvc: Obj) -> str:
    return f"pvc-{pvc['metadata']['uid']}"


def provisioned(pvc: Obj, sc: Obj, node: str, base: str) -> Obj:
    """The local-path volume for a claim on `node`: a directory under `base` on that node."""
    meta, spec = pvc["metadata"], pvc.get("spec") or {}
    name = volume_name(pvc)
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: str(sc.get("provisioner"))},
                         "finalizers": [PV_PROTECTION]},
            "spec": {"capacity": {"storage": str(((spec.get("resources") or {}).get("requests") or {})
                                                 .get("storage") or "0")},
                     "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                     "persistentVolumeReclaimPolicy": str(sc.get("reclaimPolicy") or "Delete"),
                     "storageClassName": sc["metadata"]["name"], "volumeMode": "Filesystem",
                     "hostPath": {"path": f"{base.rstrip('/')}/{name}_{meta['namespace']}_{meta['name']}",
                                  "type": "DirectoryOrCreate"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": HOSTNAME, "operator": "In", "values": [node]}]}]}},
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                  "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}}}


def volume_path(pv: Obj) -> str | None:
    spec = pv.get("spec") or {}
    for key in ("hostPath", "local"):
        if isinstance(spec.get(key), dict) and spec[key].get("path"):
            return str(spec[key]["path"])
    return None


@dataclass(frozen=True)
class Claims:
    """The store's claims, volumes and classes, indexed for the scheduler and the runtime."""

    pvcs: dict[tuple[str, str], Obj]  # (namespace, name) -> claim
    pvs: dict[str, Obj]  # name -> volume
    classes: dict[str, Obj]  # name -> StorageClass
    users: dict[tuple[str, str], list[Obj]]  # (namespace, claim) -> the pods using it, not ended

    @classmethod
    def of(cls, pvcs: list[Obj], pvs: list[Obj], classes: list[Obj], pods: Iterable[Obj] = ()) -> Claims:
        using: dict[tuple[str, str], list[Obj]] = {}
        for p in pods:
            if (p.get("status") or {}).get("phase") not in TERMINAL:
                for name in claim_names(p):
                    using.setdefault((p["metadata"].get("namespace") or "", name), []).append(p)
        return cls({(c["metadata"].get("namespace") or "", c["metadata"]["name"]): c for c in pvcs},
                   {v["metadata"]["name"]: v for v in pvs}, {c["metadata"]["name"]: c for c in classes},
                   using)

    def bound_volume(self, pvc: Obj) -> Obj | None:
        """The volume a Bound claim has (None while it has none)."""
        name = (pvc.get("spec") or {}).get("volumeName")
        if not name or (pvc.get("status") or {}).get("phase") != "Bound":
            return None
        return self.pvs.get(str(name))

    def waits_for_consumer(self, pvc: Obj) -> bool:
        sc = self.classes.get(str((pvc.get("spec") or {}).get("storageClassName") or ""))
        return sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"


def _on(node: str) -> list[Obj]:
    """Node selector terms that only `node` passes."""
    return [{"matchExpressions": [{"key": HOSTNAME, "operator": "In", "values": [node]}]}]


def scheduling_view(pod: Obj, claims: Claims) -> Obj:
    """The pod as the scheduler should judge it: unchanged without claims; else a copy whose
    spec says why it cannot be placed, which node terms its volumes need, and how much storage
    its first-consumer claims will take on the chosen node."""
    names = claim_names(pod)
    if not names:
        return pod
    ns = pod["metadata"].get("namespace") or ""
    blocked, terms, storage = None, [], 0
    for name in names:
        pvc = claims.pvcs.get((ns, name))
        if pvc is None:
            blocked = f'persistentvolumeclaim "{name}" not found'
            break
        if (pvc.get("metadata") or {}).get("deletionTimestamp"):
            blocked = f'persistentvolumeclaim "{name}" is being deleted'
            break
        modes = set((pvc.get("spec") or {}).get("accessModes") or [])
        others = [p for p in claims.users.get((ns, name), [])
                  if p["metadata"]["uid"] != pod["metadata"]["uid"] and (p.get("spec") or {}).get("nodeName")]
        if "ReadWriteOncePod" in modes and others:
            blocked = ("node has pod using PersistentVolumeClaim with the same name and "
                       "ReadWriteOncePod access mode")
            break
        pv = claims.bound_volume(pvc)
        if pv is not None:
            required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
            if required.get("nodeSelectorTerms"):
                terms.append((required["nodeSelectorTerms"], "node(s) had volume node affinity conflict"))
        elif claims.waits_for_consumer(pvc):
            chosen = ((pvc.get("metadata") or {}).get("annotations") or {}).get(SELECTED_NODE) \
                or (others[0]["spec"]["nodeName"] if others else None)
            if chosen:  # its volume is being made there, for the pod placed first
                terms.append((_on(chosen), "node(s) had volume node affinity conflict"))
            else:
                storage += requested(pvc)
        else:
            blocked = "pod has unbound immediate PersistentVolumeClaims"
            break
        if modes == {"ReadWriteOnce"} and others:
            node = others[0]["spec"]["nodeName"]
            terms.append((_on(node), f'node(s) did not have persistentvolumeclaim "{name}" '
                                     f"(ReadWriteOnce, in use on node {node})"))
    spec = dict(pod.get("spec") or {})
    if blocked:
        spec[VOLUME_BLOCKED] = blocked
    if terms:
        spec[VOLUME_NODES] = terms
    if storage:
        spec[VOLUME_STORAGE] = storage
    return {**pod, "spec": spec}


def one_node_per_claim(binds: list[tuple[Obj, str]],
                       claims: Claims) -> tuple[list[tuple[Obj, str]], list[tuple[Obj, str]]]:
    """(kept, later): of the pods placed in one pass, those that share a claim whose volume is
    not made yet with a pod placed before them on another node wait for the next pass."""
    chosen: dict[tuple[str, str], str] = {}
    kept, later = [], []
    for pod, node in binds:
        ns = pod["metadata"].get("namespace") or ""
        fresh = [(ns, n) for n in claim_names(pod)
                 if (ns, n) in claims.pvcs and claims.bound_volume(claims.pvcs[(ns, n)]) is None]
        if any(chosen.get(key, node) != node for key in fresh):
            later.append((pod, node))
            continue
        chosen.update(dict.fromkeys(fresh, node))
        kept.append((pod, node))
    return kept, later
