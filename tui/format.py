"""Pure formatting for the TUI: bars, sparklines, quota and GPU cells, a node's state and its
GPUs' holders. No textual, no IO, so each is tested on its own (tests/tui/test_format.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.api.quantity import parse_quantity

NA = "n/a"
_SPARKS = "▁▂▃▄▅▆▇█"


def bar(used: float | None, limit: float | None, width: int = 10) -> str:
    """A bar `width` cells wide filled in proportion to used/limit ("n/a" padded when unknown)."""
    if used is None or not limit or limit <= 0:
        return NA.ljust(width)
    filled = max(0, min(width, round(width * used / limit)))
    return "█" * filled + "░" * (width - filled)


def sparkline(values: Sequence[float | None], *, top: float = 100.0, width: int = 20) -> str:
    """The last `width` values as block characters scaled to `top` (a gap where one is unknown)."""
    out = []
    for value in list(values)[-width:]:
        if value is None:
            out.append(" ")
        else:
            level = max(0.0, min(1.0, value / top)) if top > 0 else 0.0
            out.append(_SPARKS[min(len(_SPARKS) - 1, int(level * (len(_SPARKS) - 1) + 0.5))])
    return "".join(out)


def amount(resource: str, value: Any) -> float | None:
    """A quantity as a number of its unit (cpu in cores, memory in bytes), None if unreadable."""
    try:
        return float(parse_quantity(str(value)).amount)
    except (ValueError, TypeError, ArithmeticError):
        return None


def quota_lines(queue: dict[str, Any], width: int = 12) -> list[tuple[str, str, str]]:
    """(resource, bar, "used/limit") for each resource the queue limits, in name order."""
    quota = ((queue.get("spec") or {}).get("quota") or {})
    used = ((queue.get("status") or {}).get("used") or {})
    out = []
    for res in sorted(quota):
        u, limit = used.get(res, "0"), quota[res]
        out.append((res, bar(amount(res, u), amount(res, limit), width), f"{u}/{limit}"))
    return out


def percent(value: float | None) -> str:
    return NA if value is None else f"{value:.0f}%"


def mib(value: float | None) -> str:
    if value is None:
        return NA
    return f"{value / 1024:.1f}Gi" if value >= 1024 else f"{value:.0f}Mi"


# Every screen colours a cell by what it says, through these four tones (styled in theme.tcss).
_TONES = {
    "good": ("Running", "Ready", "Succeeded", "Complete", "Completed", "Healthy", "True", "Active",
             "Bound", "Available"),
    "bad": ("Failed", "Error", "CrashLoopBackOff", "NotReady", "Unhealthy", "OOMKilled", "Evicted",
            "ImagePullBackOff", "ErrImagePull", "DeadlineExceeded", "BackoffLimitExceeded", "Lost",
            "Unknown", "False", "Unreadable"),
    "wait": ("Pending", "ContainerCreating", "Terminating", "SchedulingDisabled", "Suspended",
             "Waiting", "Queued", "Init", "Warning"),
    "idle": ("IDLE",),
}
TONED_COLUMNS = frozenset({"STATUS", "PHASE", "TYPE", "REASON", "STATE", "HEALTH", "UTIL"})
_TONE_OF = {word: tone for tone, words in _TONES.items() for word in words}


def tone(cell: str) -> str | None:
    """The tone of a cell ("good", "bad", "wait", "idle") from its words, or None: idle wins
    (a held GPU doing nothing), then bad, then wait, then good; "1/2 Running" reads as good."""
    found = {_TONE_OF[w] for w in cell.replace(",", " ").replace(":", " ").split() if w in _TONE_OF}
    if not found:
        return None
    return next(t for t in ("idle", "bad", "wait", "good") if t in found)


def node_state(node: dict[str, Any]) -> str:
    """Ready/NotReady, SchedulingDisabled when cordoned, and the taints' effects."""
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    parts = ["Ready" if ready else "NotReady"]
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        parts.append("SchedulingDisabled")
    parts += [f"{t.get('key')}:{t.get('effect')}" for t in spec.get("taints") or []]
    return ",".join(parts)


def gpu_holders(pods: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(node, GPU index) -> namespace/name of the pod the binding gave it."""
    out = {}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        named = ((pod["metadata"].get("annotations") or {}).get("tugboat.dev/gpus") or "")
        if node and (pod.get("status") or {}).get("phase") in ("Pending", "Running"):
            for index in filter(None, named.split(",")):
                out[(node, index.strip())] = f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
    return out
