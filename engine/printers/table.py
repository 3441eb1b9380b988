"""`kubectl get`-style tables: which columns each resource prints and how the rows line up."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.printers import columns as c
from engine.printers import network as n
from engine.printers import queues as q
from engine.printers.fmt import Obj, aware, dig, format_labels
from engine.printers.pods import node_row, pod_row
from engine.printers.tabwriter import GET_MINWIDTH, GET_PADDING, tabwrite

RowFn = Callable[[Obj, datetime, bool], list[str]]
TableFn = Callable[[Sequence[Obj], datetime, bool], tuple[list[str], list[list[str]]]]

_WORKLOAD_WIDE = ["CONTAINERS", "IMAGES", "SELECTOR"]

# Cluster-scoped resources never get a NAMESPACE column, even with --all-namespaces.
CLUSTER_SCOPED = frozenset({"nodes", "namespaces", "priorityclasses", "queues", "ingressclasses"})


@dataclass(frozen=True)
class Columns:
    """A fixed column layout: headers, the extra headers of -o wide, and the row builder."""

    headers: list[str]
    wide: list[str]
    row: RowFn

    def table(self, items: Sequence[Obj], now: datetime, wide: bool
              ) -> tuple[list[str], list[list[str]]]:
        headers = self.headers + (self.wide if wide else [])
        return headers, [safe_row(self.row, item, now, wide, len(headers)) for item in items]


def safe_row(row: RowFn, item: Obj, now: datetime, wide: bool, width: int) -> list[str]:
    """The item's row; for an object this printer cannot read (a malformed status that got into
    the store), its name and `<unreadable>` instead of a traceback that hides every other row."""
    try:
        return row(item, now, wide)
    except Exception as exc:  # noqa: BLE001 - one bad object must not hide the rest
        name = str(dig(item, "metadata", "name", default="") or "")
        return [name, f"<unreadable: {type(exc).__name__}>", *["<unknown>"] * (width - 2)][:width]


COLUMNS: dict[str, Columns] = {
    "pods": Columns(["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
                    ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"], pod_row),
    "nodes": Columns(["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
                     ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
                      "CONTAINER-RUNTIME", "GPU", "GPU-PRODUCT"], node_row),
    "events": Columns(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], [], c.event_row),
    "namespaces": Columns(["NAME", "STATUS", "AGE"], [], c.namespace_row),
    "deployments": Columns(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
                           _WORKLOAD_WIDE, c.deployment_row),
    "replicasets": Columns(["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
                           _WORKLOAD_WIDE, c.replicaset_row),
    "jobs": Columns(["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
                    [*_WORKLOAD_WIDE, "QUEUE", "POSITION", "START", "REASON"], c.job_row),
    "queues": Columns(["NAME", "STRATEGY", "PENDING", "ADMITTED", "RUNNING", "QUOTA (USED/LIMIT)", "AGE"],
                      [], q.queue_row),
    "cronjobs": Columns(["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE",
                         "AGE"], _WORKLOAD_WIDE, c.cronjob_row),
    "services": Columns(["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
                        ["SELECTOR"], n.service_row),
    "endpoints": Columns(["NAME", "ENDPOINTS", "AGE"], [], n.endpoints_row),
    "endpointslices": Columns(["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], [],
                              n.endpointslice_row),
    "ingresses": Columns(["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], [],
                         n.ingress_row),
    "horizontalpodautoscalers": Columns(["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS",
                                         "REPLICAS", "AGE"], [], n.hpa_row),
    "persistentvolumeclaims": Columns(["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES",
                                       "STORAGECLASS", "AGE"], ["VOLUMEMODE", "NODE"], c.pvc_row),
    "persistentvolumes": Columns(["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM",
                                  "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"],
                                 ["VOLUMEMODE", "NODE"], c.pv_row),
    "storageclasses": Columns(["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                               "ALLOWVOLUMEEXPANSION", "AGE"], [], c.storageclass_row),
    "configmaps": Columns(["NAME", "DATA", "AGE"], [], c.configmap_row),
    "secrets": Columns(["NAME", "TYPE", "DATA", "AGE"], [], c.secret_row),
    "ingressclasses": Columns(["NAME", "CONTROLLER", "PARAMETERS", "AGE"], [], c.ingressclass_row),
    "priorityclasses": Columns(["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE"], [],
                               c.priorityclass_row),
}
_WIDE_EVENT_HEADERS = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE",
                       "FIRST SEEN", "COUNT", "NAME"]
_GENERIC = Columns(["NAME", "AGE"], [], c.generic_row)
_DYNAMIC: dict[str, TableFn] = {}


def _cell(value: str) -> str:
    # A tab or newline inside a cell would break the column layout.
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def table_cells(resource: str, items: Sequence[Obj], *, now: datetime, wide: bool = False
                ) -> tuple[list[str], list[list[str]]]:
    """Headers and cell rows for a resource, before namespace/label columns and alignment."""
    resource = resource.lower()
    if resource == "events":
        items = sorted(items, key=c.event_time)
        if wide:
            return _WIDE_EVENT_HEADERS, [safe_row(c.event_row, e, now, True, len(_WIDE_EVENT_HEADERS))
                                         for e in items]
    if resource in _DYNAMIC:
        return _DYNAMIC[resource](items, now, wide)
    return COLUMNS.get(resource, _GENERIC).table(items, now, wide)


def format_table(resource: str, items: Sequence[Obj], *, now: datetime, wide: bool = False,
                 all_namespaces: bool = False, show_labels: bool = False,
                 no_headers: bool = False) -> str:
    """The text `kubectl get <resource>` prints, without a trailing newline; "" for no items."""
    if not items:
        return ""
    now = aware(now)
    resource = resource.lower()
    if resource == "events":
        items = sorted(items, key=c.event_time)
    headers, rows = table_cells(resource, items, now=now, wide=wide)
    if all_namespaces and resource not in CLUSTER_SCOPED and (
            resource in COLUMNS or any(dig(i, "metadata", "namespace") for i in items)):
        headers = ["NAMESPACE", *headers]
        rows = [[str(dig(item, "metadata", "namespace", default="")), *row]
                for item, row in zip(items, rows, strict=True)]
    if show_labels:
        headers = [*headers, "LABELS"]
        rows = [[*row, format_labels(dig(item, "metadata", "labels"))]
                for item, row in zip(items, rows, strict=True)]
    lines = rows if no_headers else [headers, *rows]
    text = "\n".join("\t".join(_cell(cell) for cell in line) for line in lines)
    return tabwrite(text, minwidth=GET_MINWIDTH, padding=GET_PADDING)
