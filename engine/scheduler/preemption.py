"""Preemption (kube-scheduler's DefaultPreemption, reference §5.5): for a pod that fits nowhere,
find the node where evicting the fewest, lowest-priority pods makes it fit. Pure."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.scheduler.filters import run_filters
from engine.scheduler.placement import NodeState

NEVER = "Never"


def priority_of(pod: Mapping[str, Any]) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def _start(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("startTime") or "")


@dataclass(frozen=True)
class Candidate:
    node: str
    victims: tuple[dict[str, Any], ...]

    def rank(self) -> tuple[int, int, int, str]:
        """Smaller is better (pickOneNodeForPreemption without PDBs): the lowest highest-victim
        priority, the smallest priority sum, the fewest victims, then the latest start among
        the highest-priority victims (negated by sorting on its reverse below)."""
        top = max(priority_of(v) for v in self.victims)
        return (top, sum(priority_of(v) for v in self.victims), len(self.victims),
                _invert(max(_start(v) for v in self.victims if priority_of(v) == top)))


def _invert(text: str) -> str:
    """A key that sorts later timestamps first."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in text)


def eligible(pod: Mapping[str, Any]) -> bool:
    return (pod.get("spec") or {}).get("preemptionPolicy") != NEVER


def victims_on(pod: dict[str, Any], state: NodeState, bound: Sequence[dict[str, Any]]) -> Candidate | None:
    """Remove every lower-priority pod; if `pod` then fits, add them back highest priority (then
    earliest started) first, keeping each that still lets it fit; the rest are the victims."""
    mine = priority_of(pod)
    lower = [p for p in bound
             if priority_of(p) < mine and not (p.get("metadata") or {}).get("deletionTimestamp")]
    if not lower:
        return None
    trial = copy.deepcopy(state)
    for p in lower:
        trial.remove(p)
    if run_filters(pod, trial.node, trial) is not None:
        return None
    victims = []
    for p in sorted(lower, key=lambda p: (-priority_of(p), _start(p))):
        trial.add(p)
        if run_filters(pod, trial.node, trial) is not None:
            trial.remove(p)
            victims.append(p)
    return Candidate(state.name, tuple(victims)) if victims else None


def choose(pod: dict[str, Any], states: Mapping[str, NodeState],
           bound: Mapping[str, Sequence[dict[str, Any]]], *, skip: frozenset[str] = frozenset()
           ) -> Candidate | None:
    """The best node to preempt on for `pod`, with its victims, or None (opted out, or no
    eviction of lower-priority pods would make room anywhere). Ties go to the first node by name."""
    if not eligible(pod):
        return None
    found = [c for name in sorted(states) if name not in skip
             and (c := victims_on(pod, states[name], bound.get(name, ()))) is not None]
    return min(found, key=Candidate.rank, default=None)
