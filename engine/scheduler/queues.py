"""Queue admission (Kueue's model over kube-scheduler's): workloads (a Job with all its pods, or a
bare Pod) wait in their Queue and are admitted by priority then age when the queue's quota and
the cluster's capacity allow. Pure: the scheduler loop reads the store and writes the verdicts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.objects import amount, pod_requests
from engine.scheduler.filters import NOT_RESOURCES, fmt_amount
from engine.scheduler.placement import Decision

# Why a workload still waits (the pod condition's reason; the queue status repeats it).
UNSCHEDULABLE = "Unschedulable"  # no node has room now
QUOTA = "QuotaExceeded"  # its queue's quota is used up
BEHIND = "WaitingInQueue"  # StrictFIFO: an older workload of its queue waits first
NO_QUEUE = "QueueNotFound"  # its queue was deleted

# Pods of one Job (not a gang) placed for its admission in one pass: Kubernetes' Job controller
# creates at most 500 pods per sync, and the rest start as room frees. A pass costs what the
# cluster holds, never what a parallelism says.
BURST = 500


class Placement(Protocol):
    states: dict[str, Any]  # node name -> NodeState

    def place(self, pod: dict[str, Any]) -> Decision: ...
    def assume(self, pod: dict[str, Any], node: str) -> None: ...
    def release(self, pod: dict[str, Any], node: str) -> None: ...


@dataclass
class Workload:
    """What a queue admits as one: a bare Pod, or a Job with the pods it runs at once."""

    kind: str  # "Pod" or "Job"
    namespace: str
    name: str
    queue: str
    priority: int
    created: str
    # its pods: a bare Pod's one; a Job's template (its pods are all alike), `count` standing for
    # the rest, so that a parallelism of 10^9 costs one dict here
    pods: list[dict[str, Any]]
    admitted: bool = False  # holds quota already (a bound bare pod, an admitted Job)
    gang: bool = False  # all its pods start together or none does
    charge: dict[str, float] | None = field(default=None, repr=False)  # requests(), once known
    obj: dict[str, Any] = field(default_factory=dict, repr=False)
    count: int = -1  # how many pods it runs at once; -1: len(pods)

    def __post_init__(self) -> None:
        if self.count < 0:
            self.count = len(self.pods)

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def all_pods(self, limit: int) -> Iterator[dict[str, Any]]:
        """Its first `limit` pods (the last of `pods` repeated up to `count`)."""
        n = min(self.count, limit)
        return itertools.islice(itertools.chain(self.pods, itertools.repeat(self.pods[-1])), n)

    def trial(self) -> Iterator[dict[str, Any]]:
        """The pods its admission places: all of a gang's, at most BURST of any other."""
        return self.all_pods(self.count if self.gang else BURST)

    def requests(self) -> dict[str, float]:
        """What it charges to its queue's quota: the sum of its pods' requests (read once)."""
        if self.charge is not None:
            return self.charge
        total: dict[str, float] = {}
        extra = max(0, self.count - len(self.pods))  # the template's copies beyond `pods`
        for i, pod in enumerate(self.pods):
            times = 1 + (extra if i == len(self.pods) - 1 else 0)
            for res, q in pod_requests(pod).items():
                if res not in NOT_RESOURCES:
                    total[res] = total.get(res, 0.0) + amount(q, res) * times
        self.charge = total
        return total


@dataclass
class QueueState:
    name: str
    quota: dict[str, float]  # resource -> limit; a resource not named is not limited
    strict: bool  # StrictFIFO: the head blocks the rest
    used: dict[str, float] = field(default_factory=dict)
    admitted: int = 0


@dataclass(frozen=True)
class Verdict:
    workload: Workload
    nodes: tuple[str, ...]  # where its pods go when admitted (a Job's pods are placed later)
    reason: str = ""  # empty when admitted
    message: str = ""
    position: int = 0  # 1-based among its queue's waiting workloads, 0 when admitted

    @property
    def admitted(self) -> bool:
        return not self.reason


def queue_states(queues: Sequence[Mapping[str, Any]]) -> dict[str, QueueState]:
    from engine.api import parse_quantity

    out = {}
    for q in queues:
        spec = q.get("spec") or {}
        quota = {res: amount(parse_quantity(v), res) for res, v in (spec.get("quota") or {}).items()}
        out[q["metadata"]["name"]] = QueueState(q["metadata"]["name"], quota,
                                                spec.get("strategy") == "StrictFIFO")
    return out


def order_key(w: Workload) -> tuple[int, str, str, str]:
    """Higher priority first, then the older, then by name (PrioritySort's order)."""
    return (-w.priority, w.created, w.namespace, w.name)


def quota_problem(q: QueueState, need: Mapping[str, float]) -> str | None:
    for res in sorted(q.quota):
        want = need.get(res, 0.0)
        if want > 0 and q.used.get(res, 0.0) + want > q.quota[res] + 1e-9:
            return (f"queue {q.name} is at its quota: {res} {fmt_amount(res, q.used.get(res, 0.0))}/"
                    f"{fmt_amount(res, q.quota[res])} in use (need {fmt_amount(res, want)})")
    return None


def pod_room(placer: Placement) -> int:
    """How many more pods the nodes take at most (their pod counts; resources aside)."""
    return sum(max(0, int(state.max_pods()) - state.pods) for state in placer.states.values())


def _place_all(w: Workload, placer: Placement) -> tuple[tuple[str, ...], str]:
    """Place the pods of `w`: a gang all or none, others as many as fit (at least one, at
    most BURST). (nodes of the placed pods, "") or ((), why the first that failed cannot fit)."""
    if w.gang and w.count > (room := pod_room(placer)):
        return (), f"gang of {w.count}: the nodes take at most {room} more pods"
    placed: list[tuple[dict[str, Any], str]] = []
    for pod in w.trial():
        decision = placer.place(pod)
        if decision.node is None:
            if placed and not w.gang:
                break  # the rest wait for room one by one once it runs
            for p, node in reversed(placed):
                placer.release(p, node)
            prefix = (f"gang of {w.count}: only {len(placed)} fit together; " if w.gang
                      else "")
            return (), prefix + decision.message
        placer.assume(pod, decision.node)
        placed.append((pod, decision.node))
    return tuple(node for _, node in placed), ""


def admit(queues: dict[str, QueueState], workloads: Sequence[Workload],
          placer: Placement) -> list[Verdict]:
    """One admission pass. Admitted workloads charge their queue; the waiting ones, in order,
    are admitted while quota and capacity allow (their pods assumed on `placer`). In a
    BestEffortFIFO queue a later workload may pass one that cannot fit; in StrictFIFO not."""
    for w in workloads:
        q = queues.get(w.queue)
        if w.admitted and q is not None:
            for res, value in w.requests().items():
                q.used[res] = q.used.get(res, 0.0) + value
            q.admitted += 1
    verdicts: list[Verdict] = []
    positions: dict[str, int] = {}
    heads: dict[str, Workload] = {}  # StrictFIFO queue -> the first workload that could not go
    for w in sorted((w for w in workloads if not w.admitted), key=order_key):
        q = queues.get(w.queue)
        if q is None:
            verdicts.append(Verdict(w, (), NO_QUEUE, f"queue {w.queue} does not exist", 0))
            continue
        position = positions.get(q.name, 0) + 1
        if q.name in heads:
            head = heads[q.name]
            positions[q.name] = position
            verdicts.append(Verdict(w, (), BEHIND, f"waiting behind {head.kind.lower()} "
                                    f"{head.namespace}/{head.name} in StrictFIFO queue {q.name}",
                                    position))
            continue
        need = w.requests()
        why, reason, nodes = quota_problem(q, need), QUOTA, ()
        if why is None:
            nodes, why = _place_all(w, placer)
            reason = UNSCHEDULABLE
        if why:
            positions[q.name] = position
            verdicts.append(Verdict(w, (), reason, why, position))
            if q.strict:
                heads[q.name] = w
            continue
        for res, value in need.items():
            q.used[res] = q.used.get(res, 0.0) + value
        q.admitted += 1
        verdicts.append(Verdict(w, nodes))
    return verdicts
