"""Queues through the real API and scheduler (no Ray): the default queue, queue labels checked
at apply, PriorityClass resolution, Jobs held suspended until admitted, quota holding a Job
back with its place and reason in `tug get jobs -o wide`, `tug get queues`, `tug describe queue`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.client import Client
from engine.errors import ForbiddenError, InvalidError

from .conftest import InProcessServer, until
from .test_cli import tug


def job(name: str, gpus: int, *, queue: str | None = None, parallelism: int = 1,
        suspend: bool | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if queue:
        meta["labels"] = {"tugboat.dev/queue": queue}
    spec: dict[str, Any] = {"parallelism": parallelism, "template": {"spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox", "command": ["true"],
                        "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}}
    if suspend is not None:
        spec["suspend"] = suspend
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def gpu_node(name: str, gpus: int) -> dict[str, Any]:
    alloc = {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": str(gpus)}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def _controller(c: Client) -> dict[str, Any]:
    """An owner reference to a live controller that makes no pods of its own and takes none
    over: a Deployment of no replicas (a ReplicaSet's controller would adopt or release them)."""
    rs = c.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rs"},
                   "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "rs"}}, "template": {
                       "metadata": {"labels": {"app": "rs"}},
                       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": "rs",
            "uid": rs["metadata"]["uid"], "controller": True}


def admission(c: Client, name: str) -> str | None:
    return (c.get("jobs", name)["metadata"].get("annotations") or {}).get("tugboat.dev/admission")


def test_queue_labels_are_checked_and_the_default_queue_exists(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        assert c.get("queues", "default", namespace=None)["spec"]["strategy"] == "BestEffortFIFO"
        with pytest.raises(InvalidError) as err:
            c.create(job("j", 1, queue="team-a"))
        want = 'metadata.labels[tugboat.dev/queue]: queue "team-a" not found (queues: default)'
        assert want in err.value.details
        assert c.list("jobs")["items"] == []  # nothing was stored
        queue = {"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "team-a"},
                 "spec": {"quota": {"nvidia.com/gpu": "2"}}}
        c.apply([queue, job("j", 1, queue="team-a")])  # one apply may bring its own queue
        assert c.get("jobs", "j")["metadata"]["labels"]["tugboat.dev/queue"] == "team-a"


def test_pod_priority_comes_from_its_class(api_server: InProcessServer) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"priorityClassName": "high",
                    "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}
    with api_server.client() as c:
        with pytest.raises(ForbiddenError, match='pods "p" is forbidden: no PriorityClass with name high'):
            c.create(pod)
        c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                  "metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"},
                 namespace="default")
        c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                  "metadata": {"name": "normal"}, "value": 10, "globalDefault": True}, namespace="default")
        spec = c.create(pod)["spec"]
        assert spec["priority"] == 1000 and spec["preemptionPolicy"] == "Never"
        plain = c.create({**pod, "metadata": {"name": "q"},
                          "spec": {"containers": pod["spec"]["containers"]}})["spec"]
        assert plain["priority"] == 10 and plain["priorityClassName"] == "normal"


def test_jobs_wait_suspended_until_their_queue_admits_them(api_server: InProcessServer) -> None:
    home = api_server.home
    store = api_server.cp.store
    api_server.call(store.create, "nodes", gpu_node("g1", 4), namespaced=False)
    with api_server.client() as c:
        c.apply([{"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "team-a"},
                  "spec": {"quota": {"nvidia.com/gpu": "2"}, "strategy": "StrictFIFO"}},
                 job("first", 1, queue="team-a", parallelism=2),
                 job("second", 1, queue="team-a")])
        until(lambda: admission(c, "first") == "Admitted")
        assert c.get("jobs", "first")["spec"]["suspend"] is False
        def waiting() -> list[dict[str, Any]]:
            return (c.get("queues", "team-a", namespace=None).get("status") or {}).get("pending", [])

        second = until(lambda: next((w for w in waiting() if w["name"] == "second"), None))
        assert second["position"] == 1 and second["reason"] == "QuotaExceeded"
        assert second["message"] == "queue team-a is at its quota: nvidia.com/gpu 2/2 in use (need 1)"
        assert c.get("jobs", "second")["spec"]["suspend"] is True
        # a user's own suspension is not the queue's: such a Job is not admitted
        c.create(job("mine", 1, suspend=True))
        # a Job of the same queue created after it, with room for both: the pass that admits it
        # judged "mine" too, and would have admitted it first
        c.create(job("witness", 1))
        until(lambda: admission(c, "witness") == "Admitted")
        assert admission(c, "mine") is None and c.get("jobs", "mine")["spec"]["suspend"] is True
        # re-applying an admitted Job keeps it admitted
        c.apply([job("first", 1, queue="team-a", parallelism=2)])
        assert admission(c, "first") == "Admitted" and c.get("jobs", "first")["spec"]["suspend"] is False

    wide = tug(home, "get", "jobs", "-o", "wide").stdout
    row = next(line for line in wide.splitlines() if line.startswith("second "))
    assert "Queued" in row and "team-a" in row
    assert row.split("team-a", 1)[1].split()[:2] == ["1", "unknown"]  # position 1, start: no basis
    assert "queue team-a is at its quota: nvidia.com/gpu 2/2 in use (need 1)" in row
    queues = tug(home, "get", "queues").stdout.splitlines()
    team = next(line for line in queues if line.startswith("team-a "))
    assert team.split()[:5] == ["team-a", "StrictFIFO", "1", "1", "1"]  # first runs its pods
    assert "nvidia.com/gpu 2/2" in team
    described = tug(home, "describe", "queue", "team-a").stdout
    assert "Strategy:" in described and "StrictFIFO" in described
    assert "default/second" in described and "QuotaExceeded" in described


def test_a_higher_priority_pod_preempts_the_fewest_lower_ones(api_server: InProcessServer) -> None:
    store = api_server.cp.store
    api_server.call(store.apply_all, [("create", "nodes", gpu_node(n, 4), False) for n in ("g1", "g2")])

    def gpu_pod(name: str, gpus: int, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {**spec, "terminationGracePeriodSeconds": 5, "containers": [
                    {"name": "c", "image": "busybox", "command": ["sleep", "600"],
                     "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}

    with api_server.client() as c:
        c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                  "metadata": {"name": "urgent"}, "value": 1000})
        c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                  "metadata": {"name": "polite"}, "value": 1000, "preemptionPolicy": "Never"})
        for name, gpus in (("big", 4), ("small-1", 2), ("small-2", 2)):
            c.create(gpu_pod(name, gpus))
        until(lambda: all(c.get("pods", n)["spec"].get("nodeName") for n in ("big", "small-1", "small-2")))
        c.create(gpu_pod("waits", 2, priorityClassName="polite"))  # may not preempt: it waits
        c.create(gpu_pod("urgent", 4, priorityClassName="urgent"))
        urgent = until(lambda: (c.get("pods", "urgent").get("status") or {}).get("nominatedNodeName")
                        and c.get("pods", "urgent"))
        # the nomination and the eviction are two writes: wait for the eviction too
        victims = until(lambda: [n for n in ("big", "small-1", "small-2")
                                  if c.get("pods", n)["metadata"].get("deletionTimestamp")])
        assert len(victims) == 1  # one victim of priority 0 beats two
        victim = c.get("pods", victims[0])
        assert urgent["status"]["nominatedNodeName"] == victim["spec"]["nodeName"]
        target = next(x for x in victim["status"]["conditions"] if x["type"] == "DisruptionTarget")
        assert target["reason"] == "PreemptionByScheduler" and "default/urgent" in target["message"]
        assert victim["metadata"]["deletionGracePeriodSeconds"] == 5  # graceful, with its own grace
        assert not c.get("pods", "waits")["metadata"].get("deletionTimestamp")
        assert not (c.get("pods", "waits").get("status") or {}).get("nominatedNodeName")
        c.delete("pods", victims[0], grace_seconds=0)  # its runtime would report it stopped
        bound = until(lambda: c.get("pods", "urgent")["spec"].get("nodeName"))
        assert bound == victim["spec"]["nodeName"]
        reasons = {e["reason"] for e in c.list("events")["items"]
                   if e["involvedObject"]["name"] == victims[0]}
        assert "Preempted" in reasons


def test_a_gang_is_admitted_whole_reserved_and_given_back_when_it_does_not_start(
        api_server: InProcessServer) -> None:
    store = api_server.cp.store
    api_server.call(store.apply_all, [("create", "nodes", gpu_node(n, 4), False) for n in ("g1", "g2")])
    with api_server.client() as c:
        too_big = job("too-big", 4, parallelism=3)
        too_big["metadata"]["annotations"] = {"tugboat.dev/gang": "true"}
        c.create(too_big)

        def verdict(name: str) -> dict[str, Any] | None:
            pending = (c.get("queues", "default", namespace=None).get("status") or {}).get("pending", [])
            return next((w for w in pending if w["name"] == name), None)

        held = until(lambda: verdict("too-big"))
        assert held["message"].startswith("gang of 3: only 2 fit together; 0/2 nodes are available")
        assert c.list("pods", label_selector="batch.kubernetes.io/job-name=too-big")["items"] == []
        c.delete("jobs", "too-big")

        gang = job("gang", 2, parallelism=3)
        gang["metadata"]["annotations"] = {"tugboat.dev/gang": "true",
                                           "tugboat.dev/gang-timeout-seconds": "3"}
        c.create(gang)
        until(lambda: admission(c, "gang") == "Admitted")
        reserved = json.loads(c.get("jobs", "gang")["metadata"]["annotations"]["tugboat.dev/gang-nodes"])
        assert len(reserved) == 3

        def bound() -> list[str] | None:
            pods = c.list("pods", label_selector="batch.kubernetes.io/job-name=gang")["items"]
            nodes = [p["spec"].get("nodeName") for p in pods]
            return nodes if len(nodes) == 3 and all(nodes) else None

        assert sorted(until(bound)) == sorted(reserved)  # each pod took a reserved slot
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "grab"},
                  "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"],
                                           "resources": {"limits": {"nvidia.com/gpu": "4"}}}]}})
        assert "free 2, need 4" in until(lambda: verdict("grab"))["message"]
        # without a runtime its pods never run: past the timeout the gang goes back to its queue
        until(lambda: admission(c, "gang") == "Pending", timeout=30)
        assert c.get("jobs", "gang")["spec"]["suspend"] is True
        assert "tugboat.dev/gang-nodes" not in c.get("jobs", "gang")["metadata"]["annotations"]
        said = [e["message"] for e in c.list("events")["items"] if e["reason"] == "GangTimeout"]
        assert said == ["gang of 3 did not start within 3s (0/3 pods running); its reservation is released "
                        "and it waits in queue default again"]


def test_a_high_priority_job_waiting_for_room_preempts(api_server: InProcessServer) -> None:
    store = api_server.cp.store
    api_server.call(store.create, "nodes", gpu_node("g1", 4), namespaced=False)
    with api_server.client() as c:
        c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                  "metadata": {"name": "urgent"}, "value": 1000})
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "low"},
                  "spec": {"terminationGracePeriodSeconds": 3, "containers": [
                      {"name": "c", "image": "busybox", "command": ["sleep", "600"],
                       "resources": {"limits": {"nvidia.com/gpu": "4"}}}]}})
        until(lambda: c.get("pods", "low")["spec"].get("nodeName"))
        urgent = job("urgent", 4)
        urgent["spec"]["template"]["spec"]["priorityClassName"] = "urgent"
        c.create(urgent)
        low = until(lambda: (p := c.get("pods", "low"))["metadata"].get("deletionTimestamp") and p)
        target = next(x for x in low["status"]["conditions"] if x["type"] == "DisruptionTarget")
        assert target["message"].endswith("(job default/urgent)")
        assert admission(c, "urgent") == "Pending"  # it waits until the victim has stopped
        c.delete("pods", "low", grace_seconds=0)  # what the runtime does once it stopped
        until(lambda: admission(c, "urgent") == "Admitted")
        pods = until(lambda: c.list("pods", label_selector="batch.kubernetes.io/job-name=urgent")["items"])
        assert until(lambda: c.get("pods", pods[0]["metadata"]["name"])["spec"].get("nodeName")) == "g1"
        assert c.get("pods", pods[0]["metadata"]["name"])["spec"]["priority"] == 1000


def test_room_freed_by_preemption_is_kept_for_the_preemptor(api_server: InProcessServer) -> None:
    store = api_server.cp.store
    api_server.call(store.create, "nodes", gpu_node("g1", 4), namespaced=False)

    def gpu_pod(name: str, **extra: Any) -> dict[str, Any]:
        spec = {"terminationGracePeriodSeconds": 3, "containers": [
            {"name": "c", "image": "busybox", "command": ["sleep", "600"],
             "resources": {"limits": {"nvidia.com/gpu": "4"}}}]}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **extra.pop("meta", {})},
                "spec": {**spec, **extra}}

    with api_server.client() as c:
        c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                  "metadata": {"name": "urgent"}, "value": 1000})
        c.create(gpu_pod("low"))
        until(lambda: c.get("pods", "low")["spec"].get("nodeName"))
        c.create(gpu_pod("hi", priorityClassName="urgent"))
        until(lambda: (c.get("pods", "hi").get("status") or {}).get("nominatedNodeName") == "g1")
        # a low-priority pod that a controller owns arrives while the victim stops
        owner = _controller(c)
        c.create(gpu_pod("filler", meta={"ownerReferences": [owner]}))
        c.delete("pods", "low", grace_seconds=0)
        assert until(lambda: c.get("pods", "hi")["spec"].get("nodeName")) == "g1"
        assert not c.get("pods", "filler")["spec"].get("nodeName")


def test_a_gang_preempts_only_as_many_as_its_pods_need_together(api_server: InProcessServer) -> None:
    store = api_server.cp.store
    api_server.call(store.apply_all, [("create", "nodes", gpu_node(n, 4), False) for n in ("g1", "g2")])
    with api_server.client() as c:
        c.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                  "metadata": {"name": "urgent"}, "value": 1000})
        for name in ("low-1", "low-2"):  # each fills a node
            c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                      "spec": {"terminationGracePeriodSeconds": 3, "containers": [
                          {"name": "c", "image": "busybox", "command": ["sleep", "600"],
                           "resources": {"limits": {"nvidia.com/gpu": "4"}}}]}})
        until(lambda: all(c.get("pods", n)["spec"].get("nodeName") for n in ("low-1", "low-2")))
        pair = job("pair", 2, parallelism=2)  # two pods of 2 GPUs: one freed node holds both
        pair["metadata"]["annotations"] = {"tugboat.dev/gang": "true"}
        pair["spec"]["template"]["spec"]["priorityClassName"] = "urgent"
        c.create(pair)
        until(lambda: any(e["reason"] == "Preempting" for e in c.list("events")["items"]))
        # passes after the eviction judge the waiting gang again: none may evict a second pod.
        # A pod that fits nowhere, created now, is told so by such a pass (a pass is one
        # synchronous step of the server's loop: once its condition is written, that pass is over)
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "witness"},
                  "spec": {"nodeSelector": {"no-such": "node"},
                           "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}})
        until(lambda: any(x["type"] == "PodScheduled" and x["status"] == "False"
                           for x in (c.get("pods", "witness").get("status") or {}).get("conditions") or []))
        c.delete("pods", "witness", grace_seconds=0)
        victims = [n for n in ("low-1", "low-2") if c.get("pods", n)["metadata"].get("deletionTimestamp")]
        assert len(victims) == 1, victims
        # a low-priority pod that a controller owns arrives while the victim stops: the room is
        # held for both of the gang's pods, not only one
        owner = _controller(c)
        c.create({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "filler", "ownerReferences": [owner]},
                  "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"],
                                           "resources": {"limits": {"nvidia.com/gpu": "2"}}}]}})
        c.delete("pods", victims[0], grace_seconds=0)
        until(lambda: admission(c, "pair") == "Admitted")
        selector = "batch.kubernetes.io/job-name=pair"
        pods = until(lambda: [p for p in c.list("pods", label_selector=selector)["items"]
                               if p["spec"].get("nodeName")] or None)
        assert not c.get("pods", "filler")["spec"].get("nodeName")
        assert not any(c.get("pods", n)["metadata"].get("deletionTimestamp")
                       for n in ("low-1", "low-2") if n not in victims)
        assert pods


def test_two_preemptors_share_the_room_one_eviction_frees(api_server: InProcessServer) -> None:
    store = api_server.cp.store
    api_server.call(store.apply_all, [("create", "nodes", gpu_node(n, 4), False) for n in ("g1", "g2")])

    def gpu_pod(name: str, gpus: int, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {**spec, "terminationGracePeriodSeconds": 3, "containers": [
                    {"name": "c", "image": "busybox", "command": ["sleep", "600"],
                     "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}

    with api_server.client() as c:
        for name in ("low-1", "low-2"):
            c.create(gpu_pod(name, 4))
        until(lambda: all(c.get("pods", n)["spec"].get("nodeName") for n in ("low-1", "low-2")))
        # two urgent pods that arrive together (one transaction: one scheduling pass sees both)
        urgent = [{**gpu_pod(n, 2, priority=1000), "metadata": {"name": n, "namespace": "default"}}
                  for n in ("hi-1", "hi-2")]
        api_server.call(store.apply_all, [("create", "pods", p) for p in urgent])

        def nominations() -> list[str] | None:
            said = [(c.get("pods", n).get("status") or {}).get("nominatedNodeName") for n in ("hi-1", "hi-2")]
            return said if all(said) else None

        nominated = until(nominations)
        victims = [n for n in ("low-1", "low-2") if c.get("pods", n)["metadata"].get("deletionTimestamp")]
        assert len(victims) == 1, victims
        assert nominated == [c.get("pods", victims[0])["spec"]["nodeName"]] * 2
        said = [e["message"] for e in c.list("events")["items"]
                if e["reason"] == "Nominated" and e["involvedObject"]["name"] in ("hi-1", "hi-2")]
        assert any("is held for it" in m for m in said), said
        c.delete("pods", victims[0], grace_seconds=0)
        assert {until(lambda n=n: c.get("pods", n)["spec"].get("nodeName")) for n in ("hi-1", "hi-2")} == {
            nominated[0]}


def test_an_update_keeps_the_gpus_the_scheduler_named() -> None:
    from engine.server.admission import admit

    bound = {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": "p", "annotations": {"tugboat.dev/gpus": "2"}}, "spec": {"nodeName": "m"}}
    edited = {**bound, "metadata": {"name": "p", "annotations": {"tugboat.dev/gpus": "0", "x": "y"}}}
    assert admit(_NoStore(), "pods", edited, bound)["metadata"]["annotations"] == {
        "tugboat.dev/gpus": "2", "x": "y"}
    dropped = {**bound, "metadata": {"name": "p"}}
    assert admit(_NoStore(), "pods", dropped, bound)["metadata"]["annotations"] == {"tugboat.dev/gpus": "2"}


class _NoStore:
    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        raise AssertionError("not read")

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]:
        raise AssertionError("not read")


def test_a_huge_parallelism_costs_what_exists(api_server: InProcessServer) -> None:
    """A Job asking for more pods than any cluster holds is admitted once one fits, runs what
    fits, and the control plane keeps answering: no pass builds a list of `parallelism` pods
    (the Job controller creates at most 500 per sync, as Kubernetes')."""
    parallelism = 2**31 - 1
    with api_server.client() as c:
        c.create(gpu_node("n1", 0))
        cpu_job = job("wide", 0, parallelism=parallelism)
        cpu_job["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1"}}
        c.create(cpu_job)
        until(lambda: admission(c, "wide") == "Admitted")

        def pods() -> list[dict[str, Any]]:
            return c.list("pods", label_selector="job-name=wide")["items"]
        until(lambda: sum(1 for p in pods() if p["spec"].get("nodeName")) == 16)  # 16 CPUs
        assert c.text("/readyz") == "ok"
        c.delete("jobs", "wide", propagation="Background")
        gang = job("gang", 0, parallelism=parallelism)
        gang["metadata"]["annotations"] = {"tugboat.dev/gang": "true"}
        c.create(gang)
        until(lambda: "the nodes take at most" in json.dumps(c.get("queues", "default", namespace=None)
                                                               .get("status") or {}))
        assert c.text("/readyz") == "ok"


def test_a_forged_controller_reference_exempts_nothing(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "tugboat.dev/v1", "kind": "Queue", "metadata": {"name": "tight"},
                  "spec": {"quota": {"nvidia.com/gpu": "0"}}})
        real = _controller(c)
        for ref, needle in (({**real, "uid": "forged"}, 'controller Deployment "rs" with uid forged'),
                            ({**real, "name": "ghost"}, 'controller Deployment "ghost"'),
                            ({**real, "kind": "Job", "apiVersion": "batch/v1"}, 'controller Job "rs"')):
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "sneaky", "labels": {"tugboat.dev/queue": "nope"},
                                "ownerReferences": [ref]},
                   "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}
            with pytest.raises(InvalidError) as err:
                c.create(pod)
            assert any(needle in d and "metadata.ownerReferences[0]" in d for d in err.value.details)
        assert [p["metadata"]["name"] for p in c.list("pods")["items"]] == []
        ok = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "owned", "ownerReferences": [real]},
              "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}
        assert c.create(ok)["metadata"]["name"] == "owned"


@pytest.mark.parametrize("verb", ["create", "apply"])
def test_podrecords_are_the_control_planes_alone(api_server: InProcessServer, verb: str) -> None:
    record = {"apiVersion": "tugboat.dev/v1", "kind": "PodRecord", "metadata": {"name": "r"},
              "pod": {"metadata": {"name": "x", "namespace": "default", "uid": "../../../etc"}}}
    with api_server.client() as c:
        with pytest.raises((ForbiddenError, InvalidError)) as err:
            c.create(record) if verb == "create" else c.apply([record])
        assert "written by the control plane only" in str(err.value) + " ".join(err.value.details)
        assert c.list("podrecords")["items"] == []
