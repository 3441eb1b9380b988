"""A fixed clock for the store tests (the `clock` and `store` fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now
