"""Per-pod CPU and memory on one node, sampled each telemetry tick: the CPU time of every
process a pod's containers started (reaped children included), as a rate between two ticks,
and their resident memory. What the HPA scales on and what `kubectl top pod` would show."""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil


@dataclass
class PodUsage:
    """Keeps each pod's CPU seconds of the tick before, so that the next tick gives a rate."""

    _last: dict[str, tuple[float, float]] = field(default_factory=dict)  # pod -> (cpu s, time)

    def sample(self, leaders: dict[int, str], now: float) -> dict[str, dict[str, float | int]]:
        """pod ("namespace/name") -> {"cpuMilli", "memoryBytes", "windowSeconds"} for each pod
        with a running container (`leaders`: container main pid -> pod). A pod seen for the
        first time has no rate yet and is left out until the next tick."""
        if not leaders:
            self._last = {}
            return {}
        children: dict[int, list[int]] = {}
        stats: dict[int, tuple[float, int]] = {}
        for proc in psutil.process_iter(["ppid", "cpu_times", "memory_info"]):
            info = proc.info
            times, memory = info.get("cpu_times"), info.get("memory_info")
            if times is None:
                continue  # gone, or not ours to read
            children.setdefault(int(info.get("ppid") or 0), []).append(proc.pid)
            stats[proc.pid] = (times.user + times.system + getattr(times, "children_user", 0.0)
                               + getattr(times, "children_system", 0.0),
                               int(memory.rss) if memory is not None else 0)
        totals: dict[str, list[float]] = {}
        for pid, pod in leaders.items():
            acc = totals.setdefault(pod, [0.0, 0.0])
            todo, seen = [pid], set()
            while todo:
                here = todo.pop()
                if here in seen or here not in stats:
                    continue
                seen.add(here)
                acc[0] += stats[here][0]
                acc[1] += stats[here][1]
                todo += children.get(here, [])
        out: dict[str, dict[str, float | int]] = {}
        last, self._last = self._last, {pod: (cpu, now) for pod, (cpu, _) in totals.items()}
        for pod, (cpu, memory) in totals.items():
            before = last.get(pod)
            if before is None or now <= before[1]:
                continue
            window = now - before[1]
            out[pod] = {"cpuMilli": int(max(cpu - before[0], 0.0) / window * 1000),
                        "memoryBytes": int(memory), "windowSeconds": window}
        return out
