"""The warm runners of each node, from the control plane's side (engine/runtime/runner.py is
the runner): which are idle, which pod each busy one serves; `take` hands a pod an idle runner
(or, briefly, the next one freed or made), `give_back` returns one once its pod's end is
stored. A node keeps `min_idle` idle runners, made one at a time in the background; under
demand it grows to `max`, and idle runners beyond `min_idle` go after IDLE_S. At start the
runners an earlier control plane left are found by name and claimed: idle ones join the pool,
busy ones are `serving` until their pods are adopted (or released, when their pods are gone)."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from engine.clusterconfig import RunnersConfig
from engine.objects import GPU, OWN_ACTOR_ANNOTATION, bound_gpus, pod_requests
from engine.runtime.cluster import RAY_NAMESPACE
from engine.runtime.runner import RUNNER_PREFIX, RunnerActor, runner_name
from gpu import Inventory

log = logging.getLogger("tugboat.runners")

WAIT_S = 1.0  # how long a pod waits at max for a busy runner to be freed before it takes an actor
MADE_WAIT_S = 10.0  # ... below max, for one being made for it (as long as an actor's start, and it stays)
MAKE_AT_ONCE = 2  # runners a node's pool makes at the same time
IDLE_S = 60.0  # an idle runner beyond a node's minimum goes after this long
SHRINK_PERIOD_S = 10.0
READY_TIMEOUT_S = 120.0
RELEASE_TIMEOUT_S = 60.0
CLAIM_TIMEOUT_S = 30.0


@dataclass
class Runner:
    name: str
    node_id: str
    handle: Any
    idle_since: float = 0.0


def _kill(handle: Any) -> None:
    try:
        ray.kill(handle)
    except Exception:  # noqa: BLE001 - already dead is fine
        pass


def eligible(pod: dict[str, Any], inventory: Inventory | None) -> bool:
    """Whether a warm runner may host `pod`: not where it asks for an actor of its own
    (annotation OWN_ACTOR_ANNOTATION "true"); then where it asks for no GPU, or the scheduler named
    its GPUs on a node with no MIG device (a runner holds no Ray GPU, so Ray cannot choose)."""
    if ((pod["metadata"].get("annotations") or {}).get(OWN_ACTOR_ANNOTATION) or "").lower() == "true":
        return False
    if GPU not in pod_requests(pod):
        return True
    if bound_gpus(pod) is None or inventory is None:
        return False
    return not any(g.mig_mode or g.parent_uuid for g in inventory.gpus)


class RunnerPool:
    def __init__(self, config: RunnersConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.epoch = uuid.uuid4().hex  # this control plane's claim on the runners it finds or makes
        self._idle: dict[str, list[Runner]] = collections.defaultdict(list)
        self._busy: dict[str, Runner] = {}  # pod uid -> the runner serving it
        self._lent: dict[str, Runner] = {}  # runner name -> a runner taken, its pod not yet handed over
        self._cleaning: dict[str, Runner] = {}  # runner name -> a runner releasing its last pod
        self._making: dict[str, int] = collections.defaultdict(int)
        self._waiters: dict[str, collections.deque[asyncio.Future[Runner]]] = \
            collections.defaultdict(collections.deque)
        self._filling: set[str] = set()
        self._nodes: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.serving: dict[str, Runner] = {}  # found at start: pod uid -> its runner, until adopted

    # ----- what the runtime asks ----------------------------------------------------------

    def count(self, node_id: str) -> int:
        return (len(self._idle[node_id]) + self._making[node_id]
                + sum(1 for r in [*self._busy.values(), *self.serving.values(), *self._lent.values(),
                                  *self._cleaning.values()] if r.node_id == node_id))

    def idle(self, node_id: str) -> int:
        return len(self._idle[node_id])

    async def take(self, node_id: str) -> Runner | None:
        """An idle runner on `node_id`, else the next one freed or made there (within WAIT_S
        when the node is at max, MADE_WAIT_S while one can be made); None (start a new actor)
        when the pool is off, or nothing comes in time."""
        if self.config.max == 0 or node_id not in self._nodes:
            return None
        idle = self._idle[node_id]
        if idle:
            runner = idle.pop()
            self._lent[runner.name] = runner
            self._fill(node_id)
            return runner
        if self.count(node_id) >= self.config.max and not any(
                r.node_id == node_id for r in [*self._busy.values(), *self._lent.values()]):
            return None  # nothing there will be freed
        waiter: asyncio.Future[Runner] = asyncio.get_running_loop().create_future()
        patience = WAIT_S if self.count(node_id) >= self.config.max else MADE_WAIT_S
        self._waiters[node_id].append(waiter)
        self._fill(node_id)
        try:
            runner = await asyncio.wait_for(asyncio.shield(waiter), patience)
        except TimeoutError:
            if not waiter.done() or waiter.cancelled():
                waiter.cancel()
                return None
            runner = waiter.result()
        except asyncio.CancelledError:  # the pod went while it waited: what it was given goes back
            if waiter.done() and not waiter.cancelled():
                self.put_back(waiter.result())
            waiter.cancel()
            raise
        finally:
            if waiter in self._waiters[node_id]:
                self._waiters[node_id].remove(waiter)
        self._lent[runner.name] = runner
        return runner

    def serve(self, uid: str, runner: Runner) -> None:
        """`runner` now serves pod `uid` (its run was accepted)."""
        self._lent.pop(runner.name, None)
        self._busy[uid] = runner

    def adopt(self, uid: str) -> Runner | None:
        """The runner an earlier control plane left serving pod `uid`, now this one's."""
        runner = self.serving.pop(uid, None)
        if runner is not None:
            self._busy[uid] = runner
        return runner

    def put_back(self, runner: Runner) -> None:
        """A runner taken but never given a pod (its pod went meanwhile)."""
        self._lent.pop(runner.name, None)
        self._offer(runner)

    def forget_lent(self, runner: Runner) -> None:
        """A runner taken that turned out not to be this pool's to lend (it serves a pod, or
        another control plane claimed it): out of the pool, left running."""
        self._lent.pop(runner.name, None)

    def forget(self, uid: str) -> None:
        """The runner recorded as serving pod `uid` serves another: out of the pool, left running."""
        self._busy.pop(uid, None)

    def drop(self, runner: Runner) -> None:
        """A runner that failed a call: gone from the pool, and killed."""
        self._lent.pop(runner.name, None)
        _kill(runner.handle)

    async def give_back(self, uid: str) -> None:
        """Pod `uid` ended and its end is stored: its runner cleans up, then serves another."""
        runner = self._busy.pop(uid, None) or self.serving.pop(uid, None)
        if runner is None:
            return
        self._cleaning[runner.name] = runner
        t0 = time.perf_counter()
        try:
            released = await asyncio.wait_for(runner.handle.release.remote(uid), RELEASE_TIMEOUT_S)
            log.debug("runner %s: released pod %s in %.1f ms", runner.name, uid,
                      (time.perf_counter() - t0) * 1000)
        except Exception as exc:  # noqa: BLE001 - a runner that cannot clean up is not reused
            log.warning("runner %s: release failed (%s); killed", runner.name, exc)
            released = False
        finally:
            self._cleaning.pop(runner.name, None)
        if released:
            self._offer(runner)
        else:
            _kill(runner.handle)

    # ----- nodes, start and stop ----------------------------------------------------------

    def track(self, node_ids: set[str]) -> None:
        """The nodes that are ready now: each is kept at its minimum of idle runners; the idle
        runners of a node that left are forgotten (a node that died took them with it)."""
        for gone in self._nodes - node_ids:
            self._idle.pop(gone, None)
        self._nodes = set(node_ids)
        for node_id in node_ids:
            self._fill(node_id)

    async def discover(self) -> None:
        """Claim the runners an earlier control plane left (see the module's docstring)."""
        listed = await asyncio.to_thread(ray.util.list_named_actors, all_namespaces=True)
        names = [e["name"] for e in listed
                 if e.get("namespace") == RAY_NAMESPACE and str(e.get("name", "")).startswith(RUNNER_PREFIX)]

        async def claim(name: str) -> None:
            handle = None
            try:
                handle = await asyncio.to_thread(ray.get_actor, name, namespace=RAY_NAMESPACE)
                state: dict[str, Any] = await asyncio.wait_for(handle.state.remote(self.epoch),
                                                               CLAIM_TIMEOUT_S)
            except ValueError:
                return  # gone since it was listed
            except Exception as exc:  # noqa: BLE001 - one that cannot answer is not trusted
                log.warning("runner %s does not answer (%s); killed", name, exc)
                if handle is not None:
                    _kill(handle)
                return
            runner = Runner(name, str(state["node"]), handle, idle_since=self.clock())
            if state["uid"]:
                self.serving[str(state["uid"])] = runner
            elif self.count(runner.node_id) >= self.config.max:  # more than this pool keeps
                _kill(handle)
            else:
                self._idle[runner.node_id].append(runner)
        await asyncio.gather(*(claim(n) for n in names), return_exceptions=True)
        if names:
            log.info("found %d runner(s), %d serving a pod", len(names), len(self.serving))

    def release_strays(self, adopted: set[str]) -> None:
        """Runners still serving pods that were not adopted (deleted, or ended, while no control
        plane ran): what is left of each pod is stopped, and the runner freed."""
        for uid in [u for u in self.serving if u not in adopted]:
            self._spawn(self.give_back(uid))

    def start(self) -> None:
        self._spawn(self._shrink_loop())

    async def close(self) -> None:
        """Stop making and shrinking; the runners stay, claimed by the next control plane."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ----- internals ----------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _offer(self, runner: Runner) -> None:
        """A runner free now: to the first pod waiting on its node, else idle (or killed, past max)."""
        waiters = self._waiters[runner.node_id]
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(runner)
                self._lent[runner.name] = runner  # counted until its pod is handed over
                return
        if runner.node_id not in self._nodes or self.count(runner.node_id) >= self.config.max:
            _kill(runner.handle)
            return
        runner.idle_since = self.clock()
        self._idle[runner.node_id].append(runner)

    def _fill(self, node_id: str) -> None:
        if node_id not in self._filling and node_id in self._nodes and self.config.max > 0:
            self._filling.add(node_id)
            self._spawn(self._fill_node(node_id))

    async def _fill_node(self, node_id: str) -> None:
        """Runners made MAKE_AT_ONCE at a time (Ray starts a few workers a second; pods run
        meanwhile) until the node has its minimum idle plus one for each pod waiting, within max."""
        async def maker() -> None:
            while (node_id in self._nodes and self.count(node_id) < self.config.max
                   and len(self._idle[node_id]) + self._making[node_id] < self.config.min_idle
                   + sum(1 for w in self._waiters[node_id] if not w.done())):
                await self._make(node_id)
        try:
            await asyncio.gather(*(maker() for _ in range(MAKE_AT_ONCE)))
        finally:
            self._filling.discard(node_id)

    async def _make(self, node_id: str) -> None:
        self._making[node_id] += 1
        name = runner_name(node_id, uuid.uuid4().hex[:8])
        handle = None
        try:
            handle = RunnerActor.options(  # type: ignore[attr-defined]
                name=name, namespace=RAY_NAMESPACE, lifetime="detached", max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(self.epoch)
            await asyncio.wait_for(handle.state.remote(), READY_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a node that cannot start one now: try later
            log.warning("runner on node %s: not started (%s)", node_id, exc)
            if handle is not None:
                _kill(handle)
            self._making[node_id] -= 1
            await asyncio.sleep(5.0)
            return
        self._making[node_id] -= 1
        self._offer(Runner(name, node_id, handle))

    async def _shrink_loop(self) -> None:
        while True:
            await asyncio.sleep(SHRINK_PERIOD_S)
            now = self.clock()
            for idle in self._idle.values():
                idle.sort(key=lambda r: r.idle_since)
                while len(idle) > self.config.min_idle and now - idle[0].idle_since > IDLE_S:
                    _kill(idle.pop(0).handle)
