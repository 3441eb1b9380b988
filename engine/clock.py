"""Time for tugboat: an injectable clock and the RFC 3339 format Kubernetes writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real clock: an aware UTC datetime."""
    return datetime.now(UTC)


def format_time(dt: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes timestamps."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp ("...Z" or with an offset) into an aware datetime."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def time_or_none(text: Any) -> datetime | None:
    """`parse_time` of a field read from a stored object: None when it is absent or not a time."""
    try:
        return parse_time(text) if isinstance(text, str) and text else None
    except ValueError:
        return None
