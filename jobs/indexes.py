"""Completed and failed index sets as Kubernetes writes them: "0-2,4,5,7" (runs of 3 or more
as a-b, shorter runs listed)."""

from __future__ import annotations

from collections.abc import Iterable


def format_indexes(indexes: Iterable[int]) -> str:
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        else:
            parts.extend(str(x) for x in ordered[i:j + 1])
        i = j + 1
    return ",".join(parts)


def parse_indexes(text: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "-" in part:
            first, last = part.split("-", 1)
            out.update(range(int(first), int(last) + 1))
        else:
            out.add(int(part))
    return out
