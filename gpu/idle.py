"""Idle GPUs: a GPU held by a running pod whose utilization stays under a threshold (5%) for a
window (10 minutes) is idle until it is busy again. Pure: samples and the time come in, the
idle spells that began come out; a GPU that reports no utilization (a simulated one) is never
idle, and neither is one nobody holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gpu.inventory import GpuSample

Key = tuple[str, str, str]  # (node, GPU uuid, pod "namespace/name")


@dataclass(frozen=True)
class IdlePolicy:
    threshold_pct: float = 5.0  # utilization under this counts as idle
    window_s: float = 600.0  # ... when it lasts this long

    def __post_init__(self) -> None:
        if not 0 < self.threshold_pct <= 100:
            raise ValueError(f"the idle threshold must be in (0, 100]%, got {self.threshold_pct:g}")
        if self.window_s <= 0:
            raise ValueError(f"the idle window must be positive, got {self.window_s:g} s")


@dataclass(frozen=True)
class IdleSpell:
    node: str
    uuid: str
    pod: str
    since: float  # when utilization went under the threshold


class IdleTracker:
    def __init__(self, policy: IdlePolicy | None = None) -> None:
        self.policy = policy or IdlePolicy()
        self._below: dict[Key, float] = {}  # under the threshold since
        self._idle: set[Key] = set()

    def update(self, node: str, samples: Sequence[GpuSample], held: Mapping[str, Iterable[str]],
               now: float) -> list[IdleSpell]:
        """Take one tick of `node` (its GPU samples; GPU uuid -> the pods holding it); the
        idle spells that began with it."""
        seen: set[Key] = set()
        began = []
        for sample in samples:
            util = sample.utilization_gpu
            for pod in held.get(sample.uuid, ()):
                key = (node, sample.uuid, pod)
                if util is None or sample.lost:
                    continue  # no figure: neither idle nor busy (its spell, if any, goes on)
                seen.add(key)
                if util >= self.policy.threshold_pct:
                    self._below.pop(key, None)
                    self._idle.discard(key)
                    continue
                since = self._below.setdefault(key, now)
                if now - since >= self.policy.window_s and key not in self._idle:
                    self._idle.add(key)
                    began.append(IdleSpell(node, sample.uuid, pod, since))
        for key in [k for k in self._below if k[0] == node and k not in seen
                    and not _still_held(k, samples, held)]:
            self._below.pop(key, None)  # released, or its pod is gone
            self._idle.discard(key)
        return began

    def idle(self, node: str | None = None) -> list[Key]:
        """The GPUs idle now, as (node, uuid, pod), for `node` or all."""
        return sorted(k for k in self._idle if node is None or k[0] == node)

    def forget(self, node: str) -> None:
        for key in [k for k in self._below if k[0] == node]:
            self._below.pop(key, None)
            self._idle.discard(key)


def _still_held(key: Key, samples: Sequence[GpuSample], held: Mapping[str, Iterable[str]]) -> bool:
    """A GPU that gave no figure this tick but is still held by the same pod keeps its spell."""
    _, uuid, pod = key
    return any(s.uuid == uuid for s in samples) and pod in held.get(uuid, ())
