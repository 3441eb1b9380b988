"""Cron schedule syntax as CronJob accepts it (robfig/cron ParseStandard), parsed to value sets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
# (name, low, high, names)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+|[0-9]+\.)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class CronSchedule:
    """A parsed schedule: the allowed values of each field, or a fixed interval for `@every`."""

    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days_of_month: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    days_of_week: frozenset[int] = frozenset()
    # Standard cron: when both day fields are restricted, a day matching either one fires.
    dom_restricted: bool = False
    dow_restricted: bool = False
    every: timedelta | None = None


_MAX_DURATION_S = (2**63 - 1) / 1e9  # time.Duration is int64 nanoseconds


def parse_go_duration(text: str) -> timedelta:
    """A Go `time.ParseDuration` string ("1h30m", "90s", "1.5h") as a timedelta."""
    pos, seconds = 0, 0.0
    if not text:
        raise ValueError("empty duration")
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        seconds += float(match[1]) * _UNIT_SECONDS[match[2]]
        pos = match.end()
    if not seconds <= _MAX_DURATION_S:  # NaN-safe: a Go time.Duration is at most ~292 years
        raise ValueError(f"invalid duration {text!r}: longer than Go's maximum of 2562047h")
    return timedelta(seconds=seconds)


def parse_schedule(text: str) -> CronSchedule:
    """Parse a CronJob schedule; raise ValueError saying what is wrong."""
    spec = text.strip()
    if spec.startswith("@every "):
        delay = parse_go_duration(spec[len("@every ") :].strip())
        if delay <= timedelta(0):
            raise ValueError("@every needs a positive duration")
        # robfig rounds delays under a second up to one second
        return CronSchedule(every=max(delay, timedelta(seconds=1)))
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise ValueError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    parts = spec.split()
    if len(parts) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(parts)}")
    sets = [_parse_field(part, *field) for part, field in zip(parts, _FIELDS, strict=True)]
    return CronSchedule(
        minutes=sets[0],
        hours=sets[1],
        days_of_month=sets[2],
        months=sets[3],
        days_of_week=sets[4],
        dom_restricted=not _is_star(parts[2]),
        dow_restricted=not _is_star(parts[4]),
    )


def _is_star(part: str) -> bool:
    return part.split("/")[0] in ("*", "?")


def _parse_field(
    part: str, name: str, low: int, high: int, names: dict[str, int]
) -> frozenset[int]:
    values: set[int] = set()
    for item in part.split(","):
        range_part, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not _is_number(step_text) or int(step_text) == 0:
                raise ValueError(f"{name}: invalid step {step_text!r}")
            step = int(step_text)
        if range_part in ("*", "?"):
            start, end = low, high
        else:
            start_text, dash, end_text = range_part.partition("-")
            start = _value(start_text, name, names)
            end = _value(end_text, name, names) if dash else (high if slash else start)
        if start < low or end > high:
            raise ValueError(f"{name}: {item!r} is outside {low}-{high}")
        if start > end:
            raise ValueError(f"{name}: range {item!r} starts after it ends")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, name: str, names: dict[str, int]) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not _is_number(text):
        raise ValueError(f"{name}: {text!r} is not a number")
    return int(text)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def schedule_problem(text: str) -> str | None:
    """Why a schedule is not accepted, or None when it is."""
    if "TZ" in text:
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    try:
        parse_schedule(text)
    except ValueError as exc:
        return str(exc)
    return None
