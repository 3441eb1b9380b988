"""Waiting on a condition inside a pilot test (the app's loop keeps running meanwhile)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `check` until it returns something truthy (returned); fail after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := check()):
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
    return value
