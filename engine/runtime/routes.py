"""Keeps every node's Service proxy on the current route table: follows Services, Endpoints
and Ingresses through the store's watch, makes the table (engine/net/routes.py) when they
change, and sends it to each node agent, which answers once its proxy serves it; the head
node's agent also gets the Ingress router's port and rules (engine/net/ingress.py), and once it
serves them, each Ingress (and LoadBalancer Service) says where in its status. `unrouted` waits until no proxy
forwards to given backends any more: the runtime asks it before a pod's containers are told to
stop, so a rollout sends no new connection to a pod that is going away, and `drained` then
waits until the connections and requests already sent to it are done."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from engine.clock import format_time, utcnow
from engine.controllers.loop import follow
from engine.errors import ConflictError, NotFoundError
from engine.net.ingress import ingress_table, ours
from engine.net.routes import LISTENING, backends_of, listen_problems, route_table

log = logging.getLogger("tugboat.routes")

PUSH_TIMEOUT_S = 10.0  # an agent that does not answer in this long is tried again later
RECHECK_S = 2.0  # how often agents that have not confirmed the table (a new node) are sent it


def _serving(agents: dict[str, tuple[Any, str]], head: str | None) -> set[str]:
    """The nodes whose proxy serves the table: one per IP address (the nodes of a dev cluster
    share this machine's network: one of them, the head if it is one, listens for all), so
    no address is shared by two listeners, and another tugboat on this machine that takes
    one is refused loudly instead of sharing its connections."""
    by_ip: dict[str, list[str]] = {}
    for name, (_, ip) in agents.items():
        by_ip.setdefault(ip, []).append(name)
    return {head if head in names else min(names) for names in by_ip.values()}


class RoutePusher:
    def __init__(self, store: Any, agents: Callable[[], dict[str, tuple[Any, str]]], *,
                 head: Callable[[], tuple[str, str] | None] = lambda: None,
                 ingress_port: int | None = None) -> None:
        self.store = store
        self.agents = agents  # node name -> (its NodeAgent handle, its IP), for the nodes that are up
        self.head = head  # (name, IP) of the node that serves Ingresses
        self.ingress_port = ingress_port  # None: no Ingress router
        self._services: dict[str, dict[str, Any]] = {}
        self._endpoints: dict[str, dict[str, Any]] = {}
        self._ingresses: dict[str, dict[str, Any]] = {}
        self._whole = {"services": False, "endpoints": False, "ingresses": False}
        self.table: list[dict[str, Any]] = []
        self.rules: list[dict[str, Any]] = []
        self.served: tuple[str, int] | None = None  # where the router answers: head IP, port
        self.version = 0
        self.confirmed: dict[str, tuple[int, set[tuple[str, int]]]] = {}  # node -> version, backends
        self.states: dict[str, dict[str, Any]] = {}  # node -> what its proxy said last
        self._dirty = asyncio.Event()
        self._confirm = asyncio.Condition()
        self._pushing: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(follow(self.store, r, h, who="routes", synced=self._synced(r)),
                                          name=f"routes-{r}")
                      for r, h in (("services", self._on_service), ("endpoints", self._on_endpoints),
                                   ("ingresses", self._on_ingress))]
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

    def _on_ingress(self, kind: str, obj: dict[str, Any]) -> None:
        self._on(self._ingresses, kind, obj)

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
            rules = ingress_table(list(self._ingresses.values()), self._services, self._endpoints) \
                if self.ingress_port is not None else []
            if table != self.table or rules != self.rules or self.version == 0:
                self.table, self.rules, self.version = table, rules, self.version + 1
        if self.version == 0:
            return
        if self.served is not None:
            self._say_where(*self.served)
        self._say_problems()
        agents = self.agents()
        for node in set(self.confirmed) - set(agents):
            del self.confirmed[node]  # a node that is gone serves nothing
        head = self.head()
        serving = _serving(agents, head[0] if head else None)
        for node, (agent, _) in agents.items():
            retry = bool((self.states.get(node) or {}).get("problems"))  # a port taken may be free now
            behind = self.confirmed.get(node, (0, set()))[0] != self.version
            if node not in self._pushing and (retry or behind):
                self._pushing.add(node)
                ingress = {"port": self.ingress_port, "rules": self.rules} \
                    if head and node == head[0] and self.ingress_port is not None else None
                asyncio.get_running_loop().create_task(
                    self._push(node, agent, self.version, self.table if node in serving else [], ingress))

    async def _push(self, node: str, agent: Any, version: int, table: list[dict[str, Any]],
                    ingress: dict[str, Any] | None) -> None:
        try:
            state = await asyncio.wait_for(agent.set_routes.remote(table, version, ingress),
                                           PUSH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - that node is tried again on the next check
            log.warning("routes: node %s did not take table %d: %s", node, version, exc)
            return
        finally:
            self._pushing.discard(node)
        self.states[node] = state
        self._dirty.set()  # what it could not serve goes on its Services
        async with self._confirm:
            self.confirmed[node] = (version, backends_of(table + (ingress or {}).get("rules", [])))
            self._confirm.notify_all()
        head = self.head()
        if ingress is not None and head and (state.get("ingress") or {}).get("port"):
            self.served = (head[1], int(state["ingress"]["port"]))
            self._say_where(*self.served)
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

    async def drained(self, backends: set[tuple[str, int]], timeout: float) -> bool:
        """Wait (at most `timeout` s) until no node's proxy or router has a connection or request
        open to `backends` (begun before they left the table); whether that came."""
        if not backends or self.version == 0:
            return True
        head = self.head()
        agents = self.agents()
        serving = [agents[n][0] for n in _serving(agents, head[0] if head else None)]
        wanted = sorted([ip, port] for ip, port in backends)
        try:
            done = await asyncio.wait_for(
                asyncio.gather(*(agent.drain.remote(wanted, timeout) for agent in serving)), timeout + 1)
        except Exception as exc:  # noqa: BLE001 - a node that cannot say does not hold the pod up
            log.warning("routes: waiting for connections to %s to end: %s", wanted, exc)
            return False
        return all(done)

    def _say_where(self, ip: str, port: int) -> None:
        """Each of our Ingresses: served at the head node's IP and the router's port; each
        LoadBalancer Service: at the head node's IP (on its nodePorts)."""
        for plural, cache in (("ingresses", self._ingresses), ("services", self._services)):
            for obj in list(cache.values()):
                if plural == "ingresses" and ours(obj):
                    want = [{"ip": ip, "ports": [{"port": port, "protocol": "TCP"}]}]
                elif plural == "services" and (obj.get("spec") or {}).get("type") == "LoadBalancer":
                    want = [{"ip": ip}]
                else:
                    continue
                status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
                if (status.get("loadBalancer") or {}).get("ingress") == want:
                    continue
                try:
                    self.store.update_status(plural, {**obj, "status": {**status,
                                                                        "loadBalancer": {"ingress": want}}})
                except (ConflictError, NotFoundError):
                    self._dirty.set()  # its newer version comes by the watch

    def _say_problems(self) -> None:
        """A Service some node's proxy cannot listen for gets condition ClusterIPListening
        False saying why; it goes once every node serves it."""
        nodes = set(self.agents())
        problems = listen_problems(self.table, {n: st for n, st in self.states.items() if n in nodes})
        for key, svc in list(self._services.items()):
            status = svc.get("status") if isinstance(svc.get("status"), dict) else {}
            conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
            mine = next((c for c in conditions if c.get("type") == LISTENING), None)
            why = problems.get(key)
            if (mine or {}).get("message") == why or (mine is None and why is None):
                continue
            others = [c for c in conditions if c.get("type") != LISTENING]
            if why is not None:
                others.append({"type": LISTENING, "status": "False", "reason": "CannotListen", "message": why,
                               "lastTransitionTime": format_time(utcnow())})
            try:
                self.store.update_status("services", {**svc, "status": {**status, "conditions": others}})
            except (ConflictError, NotFoundError):
                self._dirty.set()
