"""How a bound pod gets a host, and how its host lets it go: a warm runner from the node's pool
(engine/runtime/pool.py) where one comes, else a Ray actor of its own (PodActor, sized by the
pod's requests); at the end a runner cleans up and serves the next pod, an own actor is killed."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorDiedError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from engine.errors import NotFoundError
from engine.failpoints import failpoint
from engine.net.envvars import service_env
from engine.net.hostsfile import pod_hosts
from engine.runtime.actors import PodActor, actor_name, ray_options
from engine.runtime.cluster import RAY_NAMESPACE
from engine.runtime.pool import Runner, RunnerPool, eligible
from gpu import Inventory

log = logging.getLogger("tugboat.runtime")

SETTLE_S = 0.5  # a started pod's first status is written once it leaves Pending, or after this long
RUNNER_ANNOTATION = "tugboat.dev/runner"  # the warm runner a pod was handed to, stored before the handover


class PodHandle:
    """The runtime's record of one pod it runs (or adopted)."""

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.actor: Any = None
        self.task: asyncio.Task[None] | None = None
        self.stopping = False
        self.configuring = False
        self.stopped = asyncio.Event()
        self.key: tuple[str, str] | None = None  # (namespace, name) when it has projected volumes
        self.files: Any = None  # the projected volumes' files its actor was given
        self.runner: Runner | None = None  # the warm runner serving it (None: an actor of its own)
        self.handing_over = False  # between taking a runner and its answer to `run`
        self.released = False  # its host was let go (once only: a runner may serve another pod next)
        self.first: dict[str, Any] | None = None  # the status its runner answered `run` with, not yet written
        self.marks: list[tuple[str, float]] = [("seen", time.perf_counter())]  # its start path, timed

    def mark(self, step: str) -> None:
        self.marks.append((step, time.perf_counter()))

    def timings(self) -> str:
        """Each step of the start path since the one before, in ms: where the time went."""
        return ", ".join(f"{step} {(t - before) * 1000:.1f}"
                         for (_, before), (step, t) in zip(self.marks, self.marks[1:], strict=False))


class PodStarts:
    """Mixed into engine/runtime/runtime.Runtime, whose state these use."""

    store: Any
    log_root: Path
    pool: RunnerPool
    _inventory: dict[str, Inventory]
    _releasing: set[asyncio.Task[None]]

    def _lost(self, pod: dict[str, Any], exc: Exception) -> None: ...

    async def _on_runner(self, pod: dict[str, Any], handle: PodHandle, node_id: str,
                         services: list[dict[str, Any]], refs: Any, files: Any) -> bool | None:
        """Hand `pod` to a warm runner on its node (engine/runtime/pool.py); True once it runs
        there, False where it takes an actor of its own (no runner came, or it needs Ray's GPUs),
        None where it must not start at all (it went, or its runner may have started it).
        The runner's name is stored in the pod before the handover, and the runner refuses a
        run from any control plane but the one that claimed it last: after a kill -9 at any
        point, the next control plane adopts the pod where it runs, or starts it once."""
        meta = pod["metadata"]
        if not eligible(pod, self._inventory.get(pod["spec"]["nodeName"])):
            return False
        handle.handing_over = True
        try:
            runner = await self.pool.take(node_id)
            handle.mark("runner")
            if runner is None:
                return False
            try:
                args = (self.pool.epoch, pod, str(self.log_root), service_env(pod, services), refs, files,
                        pod_hosts(pod, services))
                recorded = not handle.stopping and self._record_runner(pod, runner.name)
            except BaseException:
                self.pool.put_back(runner)
                raise
            if not recorded:
                self.pool.put_back(runner)
                return None
            handle.mark("recorded")
            failpoint("runner-handover")
            answer = asyncio.ensure_future(runner.handle.run.remote(*args, SETTLE_S))
            try:
                said = await asyncio.shield(answer)
            except asyncio.CancelledError:  # deleted meanwhile: what it started is released once it answers
                self._in_background(self._release_late(answer, runner, meta["uid"]))
                raise
            except ActorDiedError as exc:  # it died before it could start anything: an actor then
                log.warning("pod %s: runner %s died (%s); starting an actor", meta["name"], runner.name, exc)
                self.pool.drop(runner)
                return False
            except Exception as exc:  # noqa: BLE001 - it may have started the pod: never start it twice
                self.pool.drop(runner)
                self._lost(pod, exc)
                return None
            if said.get("refused") is not None:  # nothing started; the runner is another's or busy: not ours
                log.warning("pod %s: runner %s refused it (%s)", meta["name"], runner.name, said["refused"])
                self.pool.forget_lent(runner)
                return False
            self.pool.serve(meta["uid"], runner)
            handle.runner, handle.actor, handle.first = runner, runner.handle, said.get("snapshot")
            handle.mark("run")
        finally:
            handle.handing_over = False
        failpoint("runner-started")
        return True

    async def _release_late(self, answer: asyncio.Future[Any], runner: Runner, uid: str) -> None:
        try:
            said = await answer
        except Exception:  # noqa: BLE001
            self.pool.drop(runner)
            return
        if said.get("refused") is not None:
            self.pool.drop(runner)
            return
        self.pool.serve(uid, runner)
        await self.pool.give_back(uid)

    def _record_runner(self, pod: dict[str, Any], name: str) -> bool:
        """Store which runner will serve `pod` (annotation RUNNER_ANNOTATION); False if it is gone."""
        meta = pod["metadata"]
        try:
            cur = self.store.get("pods", meta["namespace"], meta["name"])
        except NotFoundError:
            return False
        if cur["metadata"]["uid"] != meta["uid"] or cur["metadata"].get("deletionTimestamp"):
            return False
        cur["metadata"].setdefault("annotations", {})[RUNNER_ANNOTATION] = name
        cur["metadata"].pop("resourceVersion", None)
        self.store.update("pods", cur)
        return True

    def _new_actor(self, pod: dict[str, Any], handle: PodHandle, node_id: str,
                   services: list[dict[str, Any]], refs: Any, files: Any) -> bool:
        """Start `pod` in a Ray actor of its own on its node (sized by its requests)."""
        meta = pod["metadata"]
        log.debug("pod %s: creating actor on %s", meta["name"], node_id)
        t0 = time.perf_counter()
        try:
            handle.actor = PodActor.options(
                name=actor_name(pod), namespace=RAY_NAMESPACE, lifetime="detached", max_restarts=0,
                # waits while the node's resources are still held by a pod that just
                # ended (Ray frees them a moment after tugboat does): failing at once
                # there failed a pod the scheduler had rightly placed
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                **ray_options(pod),
            ).remote(pod, str(self.log_root), service_env(pod, services), refs, files,
                     pod_hosts(pod, services))
        except Exception as exc:  # noqa: BLE001 - Ray refuses at once: node gone or full
            self._lost(pod, exc)
            return False
        log.debug("pod %s: actor submitted in %.1f ms", meta["name"], (time.perf_counter() - t0) * 1000)
        return True

    def _release(self, handle: PodHandle) -> None:
        """The pod's host is done with it: a warm runner cleans up and serves the next pod; an
        actor of its own is killed. Once per pod: a runner let go may serve another pod next."""
        if handle.released:
            return
        handle.released = True
        if handle.runner is not None:
            failpoint("runner-release")
            handle.runner, handle.actor = None, None
            self._in_background(self.pool.give_back(handle.uid))
        else:
            self._kill_actor(handle.actor)

    def _in_background(self, release: Any) -> None:
        """Run a runner's release without waiting for it, held until done (not collected early)."""
        task = asyncio.get_running_loop().create_task(release)
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    @staticmethod
    def _kill_actor(actor: Any) -> None:
        if actor is None:
            return
        try:
            ray.kill(actor)
        except Exception:  # noqa: BLE001 - already dead is fine
            pass
