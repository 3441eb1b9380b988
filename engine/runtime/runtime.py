"""The control plane's side of Ray: keeps Node objects in step with Ray's nodes, runs each
bound pod as a detached PodActor on its node, writes what the actors report back to the
store, stops pods that are deleted, and adopts running actors after a restart."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from engine.clock import Clock, format_time, utcnow
from engine.clusterconfig import SIMULATED_GPU, SIMULATED_GPU_MEMORY, RunnersConfig, declared
from engine.errors import NotFoundError, TugError, UnavailableError
from engine.events import EventRecorder
from engine.net.endpoints import pod_backends
from engine.objects import TERMINAL_PHASES, internal_ip, is_ready
from engine.runtime.actors import (
    AGENT_VERSION,
    POD_ACTOR_PREFIX,
    WATCH_TIMEOUT_S,
    NodeAgent,
    actor_name,
)
from engine.runtime.baseline import actor_start
from engine.runtime.cluster import RAY_NAMESPACE
from engine.runtime.logread import read_log
from engine.runtime.nodes import NODE_ID_LABEL, current_entries, gone_node, node_name, node_object
from engine.runtime.podconfig import configured
from engine.runtime.podreports import PodReports
from engine.runtime.podstart import SETTLE_S, PodHandle, PodStarts
from engine.runtime.podstatus import with_addresses
from engine.runtime.pool import RunnerPool
from engine.runtime.routes import RoutePusher
from engine.runtime.telemetry import Telemetry
from engine.runtime.volumefiles import projected_volumes
from engine.runtime.volumesync import refresh_volumes
from engine.scheduler.gpus import awaits_naming
from gpu import Inventory, node_gpu_fields, simulated_inventory
from gpu.idle import IdlePolicy

log = logging.getLogger("tugboat.runtime")

NODE_SYNC_PERIOD_S = 1.0
STOP_SLACK_S = 15.0
ROUTE_WAIT_S = 2.0  # at most this long for the proxies to stop sending a stopping pod connections
AGENT_PREFIX = "agent.v"


class Runtime(PodReports, PodStarts):
    """Runs in the control plane's event loop; the only part of the control plane that calls Ray."""

    def __init__(self, store: Any, *, log_root: Path, clock: Clock = utcnow,
                 simulated_gpu_product: str = "Simulated GPU", sample_period: float = 2.0,
                 gpu_idle: IdlePolicy | None = None, ingress_port: int | None = None,
                 runners: RunnersConfig | None = None) -> None:
        self.store = store
        self.log_root = log_root
        self.clock = clock
        self.events = EventRecorder(store, component="kubelet", clock=clock)
        self._pods: dict[str, PodHandle] = {}
        self._nodes: dict[str, dict[str, Any]] = {}  # node name -> node object
        self._agents: dict[str, Any] = {}
        self._info: dict[str, dict[str, Any]] = {}  # Ray node id -> what its agent reported
        self._info_pending: set[str] = set()
        self._inventory: dict[str, Inventory] = {}  # node name -> its GPUs
        self._unhealthy: dict[str, dict[str, str]] = {}  # node name -> {gpu uuid: reason}
        self.simulated_gpu_product = simulated_gpu_product
        self.telemetry = Telemetry(self, period=sample_period, idle=gpu_idle)
        self.routes = RoutePusher(store, self._route_agents, head=self._head, ingress_port=ingress_port)
        self._tasks: list[asyncio.Task[None]] = []
        self.pool = RunnerPool(runners or RunnersConfig())
        self._releasing: set[asyncio.Task[None]] = set()

    # ----- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.pool.discover()  # before any pod is adopted: which runner serves which pod
        self.sync_nodes()
        items, rv = self.store.list("pods")
        for pod in items:
            self._on_pod_safely("ADDED", pod, adopt=True)
        self.pool.release_strays(set(self._pods))
        self.pool.start()
        self._collect_orphans()
        self._tasks = [asyncio.create_task(self._node_loop(), name="runtime-nodes"),
                       asyncio.create_task(self._pod_loop(rv), name="runtime-pods"),
                       asyncio.create_task(self.telemetry.run(), name="runtime-samples"),
                       asyncio.create_task(refresh_volumes(self._pods, self.store), name="runtime-volumes")]
        await self.routes.start()

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The loops this runs (for readiness: one that is done has stopped)."""
        return list(self._tasks) + self.routes.tasks

    async def close(self) -> None:
        """Stop watching; the pod actors (and the node proxies) keep running, adopted next start."""
        await self.routes.close()
        await self.pool.close()
        tasks = self._tasks + [h.task for h in self._pods.values() if h.task]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ----- nodes ------------------------------------------------------------------------------

    def sync_nodes(self) -> None:
        now = format_time(self.clock())
        stored = {n["metadata"]["name"]: n for n in self.store.list("nodes", None)[0]}
        entries = current_entries(ray.nodes())
        present = {node_name(e) for e in entries}
        for name, prev in stored.items():
            if name not in present:
                gone = gone_node(prev, now=now)
                if gone is not None:
                    self._nodes.pop(name, None)
                    gone["metadata"].pop("resourceVersion", None)
                    self.store.apply_all([("update", "nodes", gone), ("update_status", "nodes", gone)])
                    self.events.record(gone, "Warning", "NodeNotReady",
                                       f"Node {name} status is now: NodeNotReady (not in the "
                                       f"Ray cluster)", component="node-controller")
                    self._lose_pods(name)
        for entry in entries:
            name = node_name(entry)
            prev = stored.get(name)
            if prev is None and not entry.get("Alive"):
                continue  # a node that died before we ever saw it
            info = self._node_info(entry) if entry.get("Alive") else None
            if info is None and prev is not None:
                info = {**(prev.get("status") or {}).get("nodeInfo", {})}
            node = node_object(entry, info=info, now=now, previous=prev,
                               gpu=self._gpu_fields(name, entry, info))
            self._nodes[name] = node
            try:
                if prev is None:
                    self.store.create("nodes", node, namespaced=False)
                    self.events.record(node, "Normal", "RegisteredNode",
                                       f"Node {name} event: Registered Node {name} in tugboat",
                                       component="node-controller")
                else:
                    self.store.update("nodes", node)  # a no-op when nothing changed
                    self.store.update_status("nodes", node)
                    was = (prev.get("status") or {}).get("conditions") or [{}]
                    if was[0].get("status") != node["status"]["conditions"][0]["status"]:
                        ready = node["status"]["conditions"][0]["status"] == "True"
                        self.events.record(node, "Normal" if ready else "Warning",
                                           "NodeReady" if ready else "NodeNotReady",
                                           f"Node {name} status is now: "
                                           f"{'NodeReady' if ready else 'NodeNotReady'}",
                                           component="node-controller")
                        if not ready:
                            self._lose_pods(name)
            except TugError as exc:
                log.warning("node %s: %s", name, exc)
        self.pool.track({str(node_id) for n in self._nodes.values() if is_ready(n)
                         and (node_id := (n["metadata"].get("labels") or {}).get(NODE_ID_LABEL))})

    def _gpu_fields(self, name: str, entry: dict[str, Any],
                    info: dict[str, Any] | None) -> dict[str, Any] | None:
        """The node's GPUs: simulated ones declared at `ray start`, or what NVML found there."""
        raw = entry.get("Resources") or {}
        if raw.get(SIMULATED_GPU):
            said = declared(raw)
            inventory = simulated_inventory(
                int(raw.get("GPU", 0)), product=said["gpu_product"] or self.simulated_gpu_product,
                memory_mib=int(raw.get(SIMULATED_GPU_MEMORY, 81920)), node=name,
                models=said["gpu_models"])
        elif info and info.get("gpu"):
            inventory = Inventory.from_dict(info["gpu"])
            if not inventory.gpus and name not in self._inventory:  # say it once per node
                log.warning("node %s has no GPUs (%s); `tug up --simulate-gpus N` declares "
                            "simulated ones to try GPU jobs", name, inventory.reason)
        else:
            return None
        self._inventory[name] = inventory
        return node_gpu_fields(inventory, self._unhealthy.get(name, {}))

    def _node_info(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """What the node's agent said about it; asked for in the background on first sight,
        so a node whose agent is slow to start never stalls the control plane."""
        node_id = str(entry["NodeID"])
        if node_id in self._info:
            return self._info[node_id]
        if node_id not in self._info_pending:
            self._info_pending.add(node_id)
            asyncio.get_running_loop().create_task(self._fetch_info(node_id))
        return None

    async def _fetch_info(self, node_id: str) -> None:
        try:
            asked = self._agent(node_id).info.remote(str(self.log_root))
            self._info[node_id] = await asyncio.wait_for(asked, 120)
            self.sync_nodes()
        except Exception as exc:  # noqa: BLE001 - a node we cannot describe is still a node
            log.warning("node %s: no node info: %s", node_id, exc)
        finally:
            self._info_pending.discard(node_id)

    def _agent(self, node_id: str) -> Any:
        if node_id not in self._agents:
            name = f"{AGENT_PREFIX}{AGENT_VERSION}.{node_id}"
            try:
                self._agents[node_id] = ray.get_actor(name, namespace=RAY_NAMESPACE)
            except ValueError:
                self._agents[node_id] = NodeAgent.options(
                    name=name, namespace=RAY_NAMESPACE, lifetime="detached", get_if_exists=True,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                ).remote()
        return self._agents[node_id]

    async def _node_loop(self) -> None:
        while True:
            await asyncio.sleep(NODE_SYNC_PERIOD_S)
            try:
                self.sync_nodes()
            except Exception:  # noqa: BLE001 - the loop never dies
                log.exception("node sync failed")

    # The runtime's view, for Telemetry (same process, same loop).
    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self._nodes

    def inventory(self, node: str) -> Inventory | None:
        return self._inventory.get(node)

    def set_unhealthy(self, node: str, unhealthy: dict[str, str]) -> None:
        """New health verdicts for `node`'s GPUs: they leave (or rejoin) allocatable now."""
        self._unhealthy[node] = dict(unhealthy)
        self.sync_nodes()

    def agent(self, node_id: str) -> Any:
        return self._agent(node_id)

    def _head(self) -> tuple[str, str] | None:
        """The node this control plane's Ray connection is on (it serves Ingresses): name, IP."""
        here = ray.get_runtime_context().get_node_id()
        return next(((name, internal_ip(n)) for name, n in self._nodes.items()
                     if (n["metadata"].get("labels") or {}).get(NODE_ID_LABEL) == here), None)

    def _route_agents(self) -> dict[str, tuple[Any, str]]:
        """The agents of the nodes that are up, with their IPs: each runs its node's Service proxy."""
        ids = {name: ((n["metadata"].get("labels") or {}).get(NODE_ID_LABEL), internal_ip(n))
               for name, n in self._nodes.items() if is_ready(n)}
        return {name: (self._agent(node_id), ip) for name, (node_id, ip) in ids.items() if node_id}

    def pod_actor(self, uid: str) -> Any:
        handle = self._pods.get(uid)
        return handle.actor if handle is not None else None

    def node_id(self, name: str) -> str | None:
        node = self._nodes.get(name)
        if node is None:
            try:
                node = self.store.get("nodes", None, name)
            except NotFoundError:
                return None
        return (node["metadata"].get("labels") or {}).get(NODE_ID_LABEL)

    # ----- pods -------------------------------------------------------------------------------

    async def _pod_loop(self, since: str) -> None:
        while True:
            try:
                async for kind, pod in self.store.watch("pods", since=since):
                    since = pod["metadata"]["resourceVersion"]
                    self._on_pod_safely(kind, pod)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist and go on
                log.exception("pod watch failed; relisting")
                items, since = self.store.list("pods")
                listed = {p["metadata"]["uid"] for p in items}
                for uid, handle in list(self._pods.items()):
                    if uid not in listed and not handle.stopping:  # deleted during the gap
                        handle.stopping = True
                        asyncio.get_running_loop().create_task(self._kill(handle))
                for pod in items:
                    self._on_pod_safely("MODIFIED", pod, adopt=True)

    def _on_pod_safely(self, kind: str, pod: dict[str, Any], *, adopt: bool = False) -> None:
        """One bad pod object must not stop the runtime from serving the others."""
        try:
            self._on_pod(kind, pod, adopt=adopt)
        except Exception:  # noqa: BLE001
            log.exception("pod %s: cannot act on it", (pod.get("metadata") or {}).get("name"))

    def _on_pod(self, kind: str, pod: dict[str, Any], *, adopt: bool = False) -> None:
        """React to one pod change. `adopt`: the pod may have an actor from an earlier
        control plane (startup); otherwise only a pod that has started can have one."""
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid = meta["uid"]
        handle = self._pods.get(uid)
        if kind == "DELETED":
            if handle is not None and not handle.stopping:
                handle.stopping = True
                asyncio.get_running_loop().create_task(self._kill(handle))
            return
        if not spec.get("nodeName"):
            return
        phase = (pod.get("status") or {}).get("phase")
        if meta.get("deletionTimestamp"):
            if handle is None:
                if phase in TERMINAL_PHASES or not (pod.get("status") or {}).get("startTime"):
                    self._finalize(pod)
                    return
                handle = self._adopt_or_create(pod, adopt=True)
            if not handle.stopping:
                handle.stopping = True
                asyncio.get_running_loop().create_task(self._stop(pod, handle))
            return
        if handle is None and phase not in TERMINAL_PHASES:
            if awaits_naming(pod, self._nodes.get(spec["nodeName"])):
                log.debug("pod %s: waits for the scheduler to choose its GPUs", meta["name"])
                return
            log.debug("pod %s: bound to %s", meta["name"], spec["nodeName"])
            self._adopt_or_create(pod, adopt=adopt)

    def _adopt_or_create(self, pod: dict[str, Any], *, adopt: bool) -> PodHandle:
        uid = pod["metadata"]["uid"]
        handle = PodHandle(uid)
        self._pods[uid] = handle
        adopt = adopt or bool((pod.get("status") or {}).get("startTime"))
        handle.task = asyncio.get_running_loop().create_task(
            self._run_pod(pod, handle, adopt=adopt), name=f"pod-{pod['metadata']['name']}")
        return handle

    async def _run_pod(self, pod: dict[str, Any], handle: PodHandle, *, adopt: bool) -> None:
        try:
            await self._drive(pod, handle, adopt=adopt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - report, never kill the loop
            log.exception("pod %s", pod["metadata"]["name"])
            if not handle.stopping:  # (a stop under way releases it when done)
                self._release(handle)  # never leave a detached actor holding resources
            self._fail(pod, "RuntimeError", f"tugboat runtime error: {exc}")
        finally:
            if not handle.stopping:
                self._pods.pop(handle.uid, None)

    async def _drive(self, pod: dict[str, Any], handle: PodHandle, *, adopt: bool) -> None:
        meta = pod["metadata"]
        name = actor_name(pod)
        adopted = False
        if adopt:  # a runner serving it, else its own actor (a GCS round trip)
            handle.runner = self.pool.adopt(meta["uid"])
            if handle.runner is not None:
                handle.actor, adopted = handle.runner.handle, True
            else:
                try:
                    handle.actor = ray.get_actor(name, namespace=RAY_NAMESPACE)
                    adopted = True
                except ValueError:
                    pass
        if not adopted:
            if (pod.get("status") or {}).get("startTime"):
                self._fail(pod, "PodLost", "its Ray actor is gone (the node or the Ray cluster "
                                           "was lost while the control plane was down)")
                return
            node_id = self.node_id(pod["spec"]["nodeName"])
            if node_id is None:
                self._fail(pod, "NodeLost", f"node {pod['spec']['nodeName']} is unknown")
                return
            handle.configuring = True  # until its ConfigMaps and Secrets are there (a stop needn't wait)
            config = await configured(pod, self.store, stopping=lambda: handle.stopping,
                                      tell=lambda reason, why, status: self._waits(pod, reason, why, status))
            if config is None:
                handle.configuring = False
                return
            refs, files = config
            handle.files = files
            handle.mark("configured")
            node = self._nodes.get(pod["spec"]["nodeName"])  # its addresses: the actor reports them back
            pod = with_addresses(pod, internal_ip(node) if node else "")
            services = self.store.list("services")[0]  # their variables and names, as at its start
            started = await self._on_runner(pod, handle, node_id, services, refs, files)
            handle.configuring = False
            if started is None or handle.stopping or not (
                    started or self._new_actor(pod, handle, node_id, services, refs, files)):
                return
        if projected_volumes(pod):
            handle.key = (meta.get("namespace") or "default", meta["name"])
        # A pod just started is first written once it changes from the runner's first Pending
        # (usually at once: Running), or after SETTLE_S: a write saved per pod, none delayed.
        # An adopted actor replays its whole event list: record only what is newer than the
        # events already stored for this pod.
        version, seen, timeout = (0, 0, WATCH_TIMEOUT_S) if adopted else (1, 0, SETTLE_S)
        settle = None if adopted or handle.first else time.monotonic() + SETTLE_S
        first, handle.first = handle.first, None  # a runner answered `run` with its settled status
        held: list[tuple[str, str, str, str | None]] = []  # events of snapshots not written (settling)
        recorded_until = self._last_event_time(pod) if adopted else ""
        unavailable = 0
        while True:
            try:
                snap, first = first or await handle.actor.watch.remote(version, seen, timeout,
                                                                       uid=meta["uid"]), None
                unavailable = 0
            except ActorUnavailableError:
                unavailable += 1
                if handle.stopping or unavailable > 30:
                    raise
                await asyncio.sleep(1.0)
                continue
            except (ActorDiedError, RayActorError) as exc:
                if handle.stopping:
                    return
                self._lost(pod, exc)
                self._release(handle)  # a dead runner leaves its pool (killing a dead actor: nothing)
                return
            if snap.get("uid", meta["uid"]) != meta["uid"]:  # a runner that no longer serves it
                if handle.runner is not None and not handle.released:
                    self.pool.forget(meta["uid"])
                    handle.runner, handle.actor, handle.released = None, None, True
                if not handle.stopping:
                    self._fail(pod, "PodLost", "its runner no longer serves it (the runner was "
                                               "reused or restarted while the control plane was down)")
                return
            version, seen = snap["version"], snap["eventCount"]
            log.debug("pod %s: actor reports %s", meta["name"], snap["status"].get("phase"))
            events = held + [(ev["type"], ev["reason"], ev["message"], ev.get("time"))
                             for ev in snap["events"]
                             if not (recorded_until and str(ev.get("time", "")) <= recorded_until)]
            status = snap["status"]
            if settle is not None and status.get("phase") == "Pending" and settle > time.monotonic():
                held, timeout = events, settle - time.monotonic()  # still starting: written once it runs
                continue
            settle, held, timeout = None, [], WATCH_TIMEOUT_S
            written = self._write_status(pod, status, events)
            if handle.marks and status.get("phase") != "Pending":  # its start path, once
                handle.mark(f"{status.get('phase')} written")
                log.debug("pod %s: started: %s ms", meta["name"], handle.timings())
                handle.marks = []
            elif handle.marks:
                handle.mark("status written")
            if not written:
                if not handle.stopping:  # the pod is gone from the store: so is its actor
                    self._release(handle)
                return
            if status.get("phase") in TERMINAL_PHASES and not handle.stopping:
                self._release(handle)  # frees its resources; the logs stay on the node
                return

    async def _stop(self, pod: dict[str, Any], handle: PodHandle) -> None:
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        try:
            for _ in range(100):  # a pod deleted right after binding: its actor is being made
                if handle.actor is not None or (handle.configuring and not handle.handing_over):
                    break
                await asyncio.sleep(0.05)
            if handle.actor is not None:  # no proxy sends it new connections first (bounded)
                backends = pod_backends(pod)
                if await self.routes.unrouted(backends, ROUTE_WAIT_S):  # then what it was sent ends
                    await self.routes.drained(backends, ROUTE_WAIT_S)
                # An actor Ray never placed, or a process the kernel cannot end, must not
                # leave the pod Terminating forever: past grace + STOP_SLACK_S it is killed.
                status = await asyncio.wait_for(handle.actor.stop.remote(float(grace), handle.uid),
                                                float(grace) + STOP_SLACK_S)
                self._write_status(pod, status)
        except (RayActorError, ActorUnavailableError, TimeoutError):
            pass  # already gone, or would not stop in time: killed below
        except Exception:  # noqa: BLE001
            log.exception("stopping pod %s", pod["metadata"]["name"])
        finally:
            if handle.task is not None:
                handle.task.cancel()
            self._release(handle)
            self._pods.pop(handle.uid, None)
            self._finalize(pod)

    async def _kill(self, handle: PodHandle) -> None:
        if handle.task is not None:
            handle.task.cancel()
        self._release(handle)
        self._pods.pop(handle.uid, None)

    def _finalize(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            self.store.delete("pods", meta["namespace"], meta["name"], grace_seconds=0,
                              uid=meta["uid"])
        except TugError:
            pass

    def _collect_orphans(self) -> None:
        wanted = {actor_name(pod) for pod in self.store.list("pods")[0]}
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry.get("namespace") != RAY_NAMESPACE:
                continue
            name = entry.get("name", "")
            stale_agent = name.startswith("agent.") and not name.startswith(
                f"{AGENT_PREFIX}{AGENT_VERSION}.")
            if (name.startswith(POD_ACTOR_PREFIX) and name not in wanted) or stale_agent:
                try:
                    ray.kill(ray.get_actor(name, namespace=RAY_NAMESPACE))
                    log.info("killed orphan actor %s", name)
                except (ValueError, RayActorError):
                    pass

    # ----- benchmark baseline ------------------------------------------------------------------

    async def bench_actor_start(self, *, count: int, node: str | None, sequential: bool) -> list[float]:
        """Seconds to first answer of `count` raw Ray actors on `node` (or a ready one): the
        baseline `tug bench pods` compares pod start against, all at once or one at a time."""
        ready = [n["metadata"]["labels"][NODE_ID_LABEL] for n in self._nodes.values() if is_ready(n)]
        node_id = (self.node_id(node) if node else None) or (ready[0] if ready else None)
        if node_id is None:
            raise UnavailableError("no ready node to start baseline actors on")
        return await actor_start(node_id, count=count, sequential=sequential)

    # ----- logs -----------------------------------------------------------------------------

    async def read_log(self, pod: dict[str, Any], *, container: str | None, previous: bool,
                       tail_lines: int, offset: int, timestamps: bool = False,
                       since_ns: int | None = None) -> tuple[bytes, int]:
        """engine/runtime/logread.py: a container's log bytes from its node, and the next offset."""
        return await read_log(self, pod, container=container, previous=previous, tail_lines=tail_lines,
                              offset=offset, timestamps=timestamps, since_ns=since_ns)
