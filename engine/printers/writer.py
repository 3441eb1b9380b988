"""The describe writer (kubectl's PrefixWriter over a tabwriter) and sections all kinds share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.printers.columns import event_time
from engine.printers.fmt import NONE, Obj, dig, rfc1123z, scalar, since
from engine.printers.tabwriter import DESCRIBE_MINWIDTH, DESCRIBE_PADDING, tabwrite

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_MAX_ANNOTATION = 140


def clean(value: Any) -> str:
    """A value as one cell of one line: tabs and newlines would break the layout."""
    return scalar(value).replace("\t", " ").replace("\r", "").replace("\n", " ")


class PrefixWriter:
    """Collects describe text; each level indents two spaces; cells end with a tab."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self._parts.append("  " * level + text)

    def field(self, level: int, label: str, value: Any) -> None:
        """`Label:<tab>value`, aligned with the neighbouring fields."""
        self.write(level, f"{label}:\t{clean(value)}\n")

    def raw(self, level: int, text: str) -> None:
        """Lines that must not align (YAML, data values): tabs expanded, each line indented."""
        for line in text.rstrip("\n").split("\n"):
            self.write(level, line.expandtabs(8) + "\n")

    def render(self) -> str:
        return tabwrite("".join(self._parts), minwidth=DESCRIBE_MINWIDTH,
                        padding=DESCRIBE_PADDING).rstrip("\n")


def write_map(w: PrefixWriter, title: str, mapping: Mapping[str, Any] | None,
              *, level: int = 0) -> None:
    """`Title:  k=v` then one `k=v` per line under it, sorted; "<none>" when empty."""
    w.write(level, f"{title}:\t")
    if not mapping:
        w.write(0, f"{NONE}\n")
        return
    for i, key in enumerate(sorted(mapping)):
        if i:
            w.write(level, "\t")
        w.write(0, f"{clean(key)}={clean(mapping[key])}\n")


def write_annotations(w: PrefixWriter, annotations: Mapping[str, Any] | None) -> None:
    """Annotations as `key: value`, long or multi-line values broken out, as kubectl."""
    shown = {k: v for k, v in (annotations or {}).items() if k != LAST_APPLIED}
    w.write(0, "Annotations:\t")
    if not shown:
        w.write(0, f"{NONE}\n")
        return
    for i, key in enumerate(sorted(shown)):
        if i:
            w.write(0, "\t")
        value = scalar(shown[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION or "\n" in value:
            w.write(0, f"{key}:\n")
            for part in value.split("\n"):
                cut = _MAX_ANNOTATION - 2
                part = part[:cut] + "..." if len(part) > cut else part
                w.write(0, f"  {part.expandtabs(8)}\n")
        else:
            w.write(0, f"{key}: {clean(value)}\n")


def taint_text(taint: Obj) -> str:
    """`key=value:Effect` (taints) — the value part only when set."""
    text = str(taint.get("key", ""))
    if taint.get("value"):
        text += f"={taint['value']}"
    if taint.get("effect"):
        text += f":{taint['effect']}"
    return text


def toleration_text(tol: Obj) -> str:
    """A toleration as kubectl prints it: `key=value:Effect op=Exists for 300s`."""
    text = taint_text(tol)
    if tol.get("operator") == "Exists" and not tol.get("value"):
        text += " op=Exists" if tol.get("key") or tol.get("effect") else "op=Exists"
    if tol.get("tolerationSeconds") is not None:
        text += f" for {tol['tolerationSeconds']}s"
    return text


def write_list(w: PrefixWriter, title: str, entries: list[str]) -> None:
    """`Title:  first` then the rest aligned under it; "<none>" when empty."""
    w.write(0, f"{title}:\t")
    if not entries:
        w.write(0, f"{NONE}\n")
        return
    for i, entry in enumerate(entries):
        w.write(0, ("\t" if i else "") + clean(entry) + "\n")


def controller_of(obj: Obj) -> str:
    """`Kind/name` of the owner reference marked controller, or ""."""
    for ref in dig(obj, "metadata", "ownerReferences", default=[]):
        if ref.get("controller"):
            return f"{ref.get('kind', '')}/{ref.get('name', '')}"
    return ""


def event_interval(event: Obj, now: datetime) -> str:
    """The Age cell of describe's events: `10s`, or `5s (x3 over 20s)` for repeats."""
    first_at = (event.get("eventTime") or event.get("firstTimestamp")
                or event.get("lastTimestamp") or dig(event, "metadata", "creationTimestamp"))
    first = since(first_at, now)
    series = event.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        return f"{last} (x{series.get('count', 0)} over {first})"
    count = int(event.get("count") or 0)
    if count > 1:
        return f"{since(event.get('lastTimestamp') or first_at, now)} (x{count} over {first})"
    return first


def write_events(w: PrefixWriter, events: Sequence[Obj], now: datetime) -> None:
    """The closing Events table (Type Reason Age From Message), oldest first."""
    if not events:
        w.write(0, f"Events:\t{NONE}\n")
        return
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for event in sorted(events, key=event_time):
        source = dig(event, "source", "component") or event.get("reportingController") or ""
        message = str(event.get("message") or event.get("note") or "").strip()
        w.write(1, f"{clean(event.get('type'))}\t{clean(event.get('reason'))}\t"
                   f"{event_interval(event, now)}\t{clean(source)}\t{clean(message)}\n")


def write_metadata(w: PrefixWriter, obj: Obj, now: datetime, *, created: bool = True) -> None:
    """Name, Namespace (when namespaced), Labels, Annotations, CreationTimestamp, Controlled By."""
    meta: Obj = obj.get("metadata") or {}
    w.field(0, "Name", meta.get("name", ""))
    if meta.get("namespace"):
        w.field(0, "Namespace", meta["namespace"])
    write_map(w, "Labels", meta.get("labels"))
    write_annotations(w, meta.get("annotations"))
    if created and meta.get("creationTimestamp"):
        w.field(0, "CreationTimestamp", rfc1123z(meta["creationTimestamp"], now))
    if controller_of(obj):
        w.field(0, "Controlled By", controller_of(obj))
