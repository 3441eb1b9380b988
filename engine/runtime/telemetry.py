"""Live telemetry of the cluster: every node agent sampled each tick (GPUs through NVML,
CPU and memory), kept in memory only, GPU health verdicts fed back to the nodes, and the
`tug top` views. Runs in the control plane's loop beside the runtime it reads from."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engine.objects import is_ready
from engine.runtime.clusterview import ClusterView
from engine.runtime.gpus import GpuMonitor
from engine.runtime.nodes import NODE_ID_LABEL
from gpu import GpuSample, simulated_samples
from gpu.attribution import container_leaders, holders, node_top, pod_gpu_top
from gpu.idle import IdlePolicy, IdleTracker

log = logging.getLogger("tugboat.telemetry")


class Telemetry:
    def __init__(self, runtime: ClusterView, *, period: float = 2.0,
                 idle: IdlePolicy | None = None) -> None:
        self.rt = runtime
        self.monitor = GpuMonitor(period=period)
        self.idle = IdleTracker(idle)
        self._unhealthy: dict[str, dict[str, str]] = {}
        self._pods: dict[str, dict[str, dict[str, Any]]] = {}  # node -> pod -> its last usage

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.monitor.period)
            try:
                await self.sample_once()
            except Exception:  # noqa: BLE001 - the loop never dies
                log.exception("sampling failed")

    async def sample_once(self) -> None:
        """One tick on every ready node, all at once."""
        by_node: dict[str, list[dict[str, Any]]] = {}
        for pod in self.rt.store.list("pods")[0]:
            by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
        ready = {name: node for name, node in list(self.rt.nodes.items()) if is_ready(node)}
        for gone in set(self._pods) - set(ready):  # a lost node's pods have no usage to speak of
            del self._pods[gone]
        await asyncio.gather(*(self._sample_node(name, node, by_node.get(name, []))
                               for name, node in ready.items()))

    async def _sample_node(self, name: str, node: dict[str, Any],
                           pods: list[dict[str, Any]]) -> None:
        node_id = (node["metadata"].get("labels") or {}).get(NODE_ID_LABEL)
        if not node_id:
            return
        try:
            tick = await asyncio.wait_for(
                self.rt.agent(node_id).sample.remote(container_leaders(pods)), 10)
        except Exception as exc:  # noqa: BLE001 - a slow or gone agent skips a tick
            log.debug("node %s: no sample: %s", name, exc)
            return
        inventory = self.rt.inventory(name)
        if inventory is not None and inventory.simulated:
            samples = simulated_samples(inventory, tick["time"])
        else:
            samples = [GpuSample.from_dict(d) for d in tick["gpus"]]
        self._pods[name] = {pod: {**usage, "time": tick["time"]}
                            for pod, usage in (tick.get("pods") or {}).items()}
        changed = self.monitor.record(name, samples, now=tick["time"], usage=tick["usage"],
                                      owners=tick["owners"])
        self._track_idle(name, samples, pods, tick["time"])
        if not changed:
            return
        before = self._unhealthy.get(name, {})
        self._unhealthy[name] = self.monitor.unhealthy(name)
        self.rt.set_unhealthy(name, self._unhealthy[name])
        held = holders(pods)
        for uuid, reason in self._unhealthy[name].items():
            if before.get(uuid) == reason:
                continue
            for key in held.get(uuid, []):
                pod = next(p for p in pods if f"{p['metadata']['namespace']}/"
                           f"{p['metadata']['name']}" == key)
                self.rt.events.record(pod, "Warning", "GPUUnhealthy",
                                   f"GPU {uuid} on node {name} is unhealthy: {reason}", host=name)

    def _track_idle(self, name: str, samples: list[GpuSample], pods: list[dict[str, Any]],
                    now: float) -> None:
        """Follow each held GPU's utilization; a pod whose GPU went idle gets one GPUIdle
        event per idle spell."""
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        inventory = self.rt.inventory(name)
        index = {g.uuid: g.index for g in (inventory.gpus if inventory else ())}
        policy = self.idle.policy
        for spell in self.idle.update(name, samples, holders(running), now):
            pod = next((p for p in running if f"{p['metadata']['namespace']}/"
                        f"{p['metadata']['name']}" == spell.pod), None)
            if pod is not None:
                self.rt.events.record(
                    pod, "Warning", "GPUIdle",
                    f"GPU {index.get(spell.uuid, '?')} ({spell.uuid}) on node {name} has been "
                    f"under {policy.threshold_pct:g}% utilization for {policy.window_s / 60:g} "
                    f"minutes", host=name)

    def pod_samples(self, pods: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """pod uid -> its last sample, for the pods among `pods` that have one: "time",
        "windowSeconds", "cpuMilli", "memoryBytes", and "gpuPercent" (the mean utilization of
        the GPUs it holds) or "gpuMissing" (why there is none). The HPA reads these."""
        out = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName") or ""
            meta = pod["metadata"]
            usage = self._pods.get(node, {}).get(f"{meta.get('namespace')}/{meta['name']}")
            if usage is None:
                continue
            sample = dict(usage)
            inventory = self.rt.inventory(node)
            utils = [g["utilizationGpu"] for g in pod_gpu_top(pod, self.monitor.latest(node), inventory)
                     if g.get("utilizationGpu") is not None]
            if inventory is not None and inventory.simulated:
                sample["gpuMissing"] = f"the GPUs of node {node} are simulated and report no utilization"
            elif not (pod.get("status") or {}).get("gpus"):
                sample["gpuMissing"] = "the pod holds no GPU"
            elif not utils:
                sample["gpuMissing"] = f"NVML reported no utilization for the pod's GPUs on node {node}"
            else:
                sample["gpuPercent"] = sum(utils) / len(utils)
            out[meta["uid"]] = sample
        return out

    def idle_uuids(self, node: str, pod: str | None = None) -> frozenset[str]:
        """The uuids of `node`'s idle GPUs (held by `pod` only, when given)."""
        return frozenset(uuid for _, uuid, holder in self.idle.idle(node) if pod in (None, holder))

    def gpu_history(self, node: str, *, since: float = 0.0) -> dict[str, Any]:
        inventory = self.rt.inventory(node)
        return {"node": node, "inventory": inventory.to_dict() if inventory else None,
                "periodSeconds": self.monitor.period,
                "unhealthy": self.monitor.unhealthy(node),
                "samples": self.monitor.history(node, since=since)}

    def top_nodes(self) -> list[dict[str, Any]]:
        held = holders(self.rt.store.list("pods")[0])
        return [node_top(name, node, self.monitor.latest(name), self.rt.inventory(name), held,
                         self.idle_uuids(name))
                for name, node in sorted(self.rt.nodes.items()) if is_ready(node)]

    async def top_pods(self, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`tug top pods` rows for the running pods among `pods` (usage measured now)."""
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
                   and self.rt.pod_actor(p["metadata"]["uid"]) is not None]

        async def one(pod: dict[str, Any]) -> dict[str, Any]:
            actor = self.rt.pod_actor(pod["metadata"]["uid"])
            try:
                usage = await asyncio.wait_for(actor.usage.remote(0.5, pod["metadata"]["uid"]), 10)
            except Exception:  # noqa: BLE001 - a pod that just ended shows n/a
                usage = {}
            node = pod["spec"]["nodeName"]
            return {"namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
                    "node": node, "cpuCores": usage.get("cpuCores"),
                    "memoryBytes": usage.get("memoryBytes"),
                    "gpus": pod_gpu_top(pod, self.monitor.latest(node), self.rt.inventory(node),
                                        self.idle_uuids(node, f"{pod['metadata']['namespace']}/"
                                                              f"{pod['metadata']['name']}"))}

        return list(await asyncio.gather(*(one(p) for p in running)))

