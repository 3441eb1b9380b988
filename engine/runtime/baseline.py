"""The baseline `tug bench` compares against: raw Ray actors (engine/runtime/probe.py) started
on one node, all at once or one at a time, timed from create to first answer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from engine.runtime.probe import Probe


def _kill(actor: Any) -> None:
    try:
        ray.kill(actor)
    except Exception:  # noqa: BLE001 - already dead is fine
        pass


async def actor_start(node_id: str, *, count: int, sequential: bool) -> list[float]:
    """Seconds from create to first answer of `count` raw Ray actors on the Ray node `node_id`."""
    strategy = NodeAffinitySchedulingStrategy(node_id, soft=False)
    actors: list[Any] = []

    async def one() -> float:
        t0 = time.perf_counter()
        actor = Probe.options(scheduling_strategy=strategy).remote()
        actors.append(actor)
        await actor.ready.remote()
        return time.perf_counter() - t0

    try:
        if sequential:
            took = []
            for _ in range(count):
                took.append(await one())
                _kill(actors.pop())
            return took
        # Like the pods they are compared with, they all stay up until the last is ready.
        return list(await asyncio.gather(*(one() for _ in range(count))))
    finally:
        for actor in actors:
            _kill(actor)
