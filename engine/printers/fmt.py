"""Cell formatting shared by printers: kubectl ages, timestamps, labels, selectors, quantities."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from engine.clock import parse_time

Obj = Mapping[str, Any]

NONE = "<none>"
QUEUE_PLACE = "_queue"  # key of the waiting-place a CLI attaches to a copy of a Job it prints
UNKNOWN = "<unknown>"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "P": 1e15, "E": 1e18}


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Walk nested dicts and lists; `default` when a step is missing or the value is null."""
    cur = obj
    for key in path:
        if isinstance(key, int):
            if not isinstance(cur, list) or not -len(cur) <= key < len(cur):
                return default
            cur = cur[key]
        elif isinstance(cur, Mapping) and key in cur:
            cur = cur[key]
        else:
            return default
    return default if cur is None else cur


def aware(now: datetime) -> datetime:
    """Treat a naive `now` as UTC so it compares with parsed timestamps."""
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def format_age(seconds: float) -> str:
    """A duration as kubectl prints ages (apimachinery's HumanDuration)."""
    secs = int(seconds)  # truncates toward zero, like Go's int(d.Seconds())
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def to_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp; None when absent or unreadable."""
    if isinstance(value, datetime):
        return aware(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def since(value: Any, now: datetime) -> str:
    """Age of a timestamp at `now`, "<unknown>" when there is none."""
    t = to_time(value)
    if t is None:
        return UNKNOWN
    return format_age((aware(now) - t).total_seconds())


def age_of(obj: Obj, now: datetime) -> str:
    """The AGE column: time since metadata.creationTimestamp."""
    return since(dig(obj, "metadata", "creationTimestamp"), now)


def rfc1123z(value: Any, now: datetime | None = None) -> str:
    """A timestamp as kubectl describe prints it ("Mon, 02 Jan 2006 15:04:05 +0000").

    Shown in the zone of `now` when given, as kubectl shows the client's local time.
    """
    t = to_time(value)
    if t is None:
        return NONE if value in (None, "") else str(value)
    if now is not None and now.tzinfo is not None:
        t = t.astimezone(now.tzinfo)
    offset = t.strftime("%z") or "+0000"
    return (f"{_DAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year} "
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} {offset}")


def scalar(value: Any) -> str:
    """A JSON scalar as a cell: Go-style lowercase booleans, "" for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """`k=v,k2=v2` sorted by key, or "<none>"."""
    if not labels:
        return NONE
    return ",".join(f"{k}={scalar(labels[k])}" for k in sorted(labels))


def format_selector(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector as kubectl's FormatLabelSelector writes it, "<none>" when empty."""
    if not selector:
        return NONE
    reqs: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        reqs.append((key, f"{key}={scalar(value)}"))
    for expr in selector.get("matchExpressions") or []:
        key, op = str(expr.get("key", "")), str(expr.get("operator", ""))
        values = ",".join(sorted(str(v) for v in expr.get("values") or []))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op, f"{key} {op} ({values})")
        reqs.append((key, text))
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs) or NONE


def container_cells(containers: list[Obj] | None) -> tuple[str, str]:
    """The CONTAINERS and IMAGES cells of wide workload tables."""
    containers = containers or []
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def has_condition(obj: Obj, ctype: str) -> bool:
    """Whether status.conditions holds `ctype` with status "True"."""
    return any(c.get("type") == ctype and c.get("status") == "True"
               for c in dig(obj, "status", "conditions", default=[]))


def parse_quantity(value: Any) -> float:
    """A Kubernetes quantity ("500m", "4Gi", "1e3", 8) as a number; 0 when unreadable."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        for suffix, mult in _BINARY.items():
            if text.endswith(suffix):
                return float(text[: -len(suffix)]) * mult
        if text and text[-1] in _DECIMAL:
            return float(text[:-1]) * _DECIMAL[text[-1]]
        return float(text)
    except ValueError:
        return 0.0


def join_host_port(host: str, port: Any) -> str:
    """Go's net.JoinHostPort: brackets around IPv6 hosts."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def lb_ingress(obj: Obj, *, wide: bool) -> str:
    """status.loadBalancer.ingress IPs or hostnames, shortened unless wide, as kubectl does."""
    hosts = [str(i.get("ip") or i.get("hostname") or "")
             for i in dig(obj, "status", "loadBalancer", "ingress", default=[])]
    text = ",".join(sorted({h for h in hosts if h}))
    if not wide and len(text) > 16:
        return text[:13] + "..."
    return text


def estimated(place: Obj | None, now: datetime) -> str:
    """When a waiting workload should start: "in 12m", "now", "unknown" (no basis), or <none>."""
    if not place:
        return NONE
    text = place.get("estimatedStart")
    if not text:
        return "unknown"
    when = to_time(text)
    if when is None:
        return "unknown"
    seconds = (when - now).total_seconds()
    return "now" if seconds <= 0 else f"in {format_age(seconds)}"
