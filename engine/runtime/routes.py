"""Keeps every node's Service proxy on the current route table: follows Services and Endpoints
through the store's watch, makes the table (engine/net/routes.py) when they change, and sends it
to each node agent, which answers once its proxy serves it. `unrouted` waits until no proxy
forwards to given backends any more: the runtime asks it before a pod's containers are told to
stop, so a rollout sends no new connection to a pod that is going away."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from engine.controllers.loop import follow
from engine.net.routes import backends_of, route_table

log = logging.getLogger("tugboat.routes")

PUSH_TIMEOUT_S = 10.0  # an agent that does not answer in this long is tried again later
RECHECK_S = 2.0  # how often agents that have not confirmed the table (a new node) are sent it


class RoutePusher:
    def __init__(self, store: Any, agents: Callable[[], dict[str, Any]]) -> None:
        self.store = store
        self.agents = agents  # node name -> its NodeAgent handle, for the nodes that are up
        self._services: dict[str, dict[str, Any]] = {}
        self._endpoints: dict[str, dict[str, Any]] = {}
        self._whole = {"services": False, "endpoints": False}
        self.table: list[dict[str, Any]] = []
        self.version = 0
        self.confirmed: dict[str, tuple[int, set[tuple[str, int]]]] = {}  # node -> version, backends
        self.states: dict[str, dict[str, Any]] = {}  # node -> what its proxy said last
        self.changed_at: dict[int, float] = {}  # version -> when the data that made it came
        self._dirty = asyncio.Event()
        self._confirm = asyncio.Condition()
        self._pushing: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(follow(self.store, r, h, who="routes", synced=self._synced(r)),
                                          name=f"routes-{r}")
                      for r, h in (("services", self._on_service), ("endpoints", self._on_endpoints))]
        self.tasks.append(asyncio.create_task(self._loop(), name="routes"))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _synced(self, resource: str) -> Callable[[bool], None]:
        def synced(whole: bool) -> None:
            self._whole[resource] = whole
            self._dirty.set()
        return synced

    def _on(self, cache: dict[str, dict[str, Any]], kind: str, obj: dict[str, Any]) -> None:
        if kind == "RELIST":
            cache.clear()
            return
        key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        if kind == "DELETED":
            cache.pop(key, None)
        else:
            cache[key] = obj
        self._dirty.set()

    def _on_service(self, kind: str, obj: dict[str, Any]) -> None:
        self._on(self._services, kind, obj)

    def _on_endpoints(self, kind: str, obj: dict[str, Any]) -> None:
        self._on(self._endpoints, kind, obj)

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), RECHECK_S)
            except TimeoutError:
                pass
            self._dirty.clear()
            await asyncio.sleep(0)  # what the watches already have comes in first
            try:
                self._step()
            except Exception:  # noqa: BLE001 - the loop never dies
                log.exception("routes: making the table failed")

    def _step(self) -> None:
        if all(self._whole.values()):
            table = route_table(list(self._services.values()), self._endpoints)
            if table != self.table or self.version == 0:
                self.table, self.version = table, self.version + 1
                self.changed_at[self.version] = time.monotonic()
                for old in [v for v in self.changed_at if v < self.version - 64]:
                    del self.changed_at[old]
        if self.version == 0:
            return
        agents = self.agents()
        for node in set(self.confirmed) - set(agents):
            del self.confirmed[node]  # a node that is gone serves nothing
        for node, agent in agents.items():
            if node not in self._pushing and self.confirmed.get(node, (0, set()))[0] != self.version:
                self._pushing.add(node)
                asyncio.get_running_loop().create_task(self._push(node, agent, self.version, self.table))

    async def _push(self, node: str, agent: Any, version: int, table: list[dict[str, Any]]) -> None:
        try:
            state = await asyncio.wait_for(agent.set_routes.remote(table, version), PUSH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - that node is tried again on the next check
            log.warning("routes: node %s did not take table %d: %s", node, version, exc)
            return
        finally:
            self._pushing.discard(node)
        self.states[node] = state
        async with self._confirm:
            self.confirmed[node] = (version, backends_of(table))
            self._confirm.notify_all()
        if version != self.version:
            self._dirty.set()  # a newer table came meanwhile

    def routed(self, backends: set[tuple[str, int]]) -> list[str]:
        """The nodes whose proxy may still forward to any of `backends`: those that confirmed a
        table that has one, and those that have confirmed none yet."""
        nodes = self.agents()
        return sorted(n for n in nodes if n not in self.confirmed or self.confirmed[n][1] & backends)

    async def unrouted(self, backends: set[tuple[str, int]], timeout: float) -> bool:
        """Wait (at most `timeout` s) until no proxy forwards to `backends`; whether that came."""
        if not backends or self.version == 0:
            return True
        self._dirty.set()
        try:
            async with self._confirm:
                await asyncio.wait_for(self._confirm.wait_for(lambda: not self.routed(backends)), timeout)
            return True
        except TimeoutError:
            return False
