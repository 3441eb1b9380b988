"""EndpointSlices: the pure planner (reference part 2, §2.3, §2.5 and the test vectors of §6) as
tables, against a small in-memory store that applies its actions the way the real one does."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from engine.clock import format_time, utcnow
from engine.net.endpoints import HEADLESS
from engine.net.endpointslices import (
    CONTROLLER,
    MANAGED_BY,
    SERVICE_NAME,
    Create,
    Delete,
    Update,
    desired_endpoints,
    plan,
)

GONE = format_time(utcnow())


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": f"svc-{name}", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "127.77.0.9",
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                     **spec}}


def pod(name: str, *, ready: bool = True, host_port: int | None = 31000, ip: str = "127.0.0.1",
        labels: dict[str, str] | None = None, phase: str = "Running", **extra: Any) -> dict[str, Any]:
    """A pod as its node reports it: its node's address and the host port of container port `http`."""
    status: dict[str, Any] = {"phase": phase, "podIP": ip,
                              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if host_port is not None:
        status["containerStatuses"] = [{"name": "main", "hostPorts": [
            {"name": "http", "containerPort": 8000, "hostPort": host_port, "protocol": "TCP"}]}]
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}",
            "labels": labels if labels is not None else {"app": "web"}}
    spec_extra = extra.pop("spec", {})
    meta.update(extra)
    return {"metadata": meta,
            "spec": {"nodeName": "n1", "containers": [{"name": "main", "ports": [
                {"name": "http", "containerPort": 8000}]}], **spec_extra},
            "status": status}


class Slices:
    """What the store does with the planner's actions: names generated, resourceVersions counted,
    a write with a stale version refused."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._names = itertools.count()
        self._rv = itertools.count(1)
        self.writes = 0

    def apply(self, actions: list[Any]) -> list[Any]:
        for action in actions:
            self.writes += 1
            if isinstance(action, Create):
                obj = copy.deepcopy(action.slice)
                name = f"{obj['metadata'].pop('generateName')}{next(self._names):05d}"
                obj["metadata"].update(name=name, uid=f"uid-{name}", resourceVersion=str(next(self._rv)))
                self.items[name] = obj
            elif isinstance(action, Update):
                obj = copy.deepcopy(action.slice)
                name = obj["metadata"]["name"]
                assert obj["metadata"]["resourceVersion"] == self.items[name]["metadata"]["resourceVersion"]
                obj["metadata"]["resourceVersion"] = str(next(self._rv))
                self.items[name] = obj
            else:
                assert self.items.pop(action.name)["metadata"]["uid"] == action.uid
        return actions

    def sync(self, svc: dict[str, Any] | None, pods: list[dict[str, Any]], **kw: Any) -> list[Any]:
        return self.apply(plan(svc, pods, list(self.items.values()), **kw))

    def sizes(self) -> dict[str, int]:
        return {name: len(s["endpoints"]) for name, s in sorted(self.items.items())}

    def pods_in(self) -> dict[str, list[str]]:
        return {name: [e["targetRef"]["name"] for e in s["endpoints"]]
                for name, s in sorted(self.items.items())}


def _only(groups: dict[Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    assert len(groups) == 1
    return next(iter(groups.values()))


# -- which pods, and their conditions ---------------------------------------------------------------
@pytest.mark.parametrize(("extra", "publish", "expected"), [
    ({}, False, {"ready": True, "serving": True, "terminating": False}),  # vector 14
    ({"ready": False}, False, {"ready": False, "serving": False, "terminating": False}),  # 15
    ({"deletionTimestamp": GONE}, False, {"ready": False, "serving": True, "terminating": True}),  # 16
    ({"ready": False, "deletionTimestamp": GONE}, True,
     {"ready": True, "serving": False, "terminating": True}),  # 17
    ({"ready": False}, True, {"ready": True, "serving": False, "terminating": False}),
])
def test_conditions(extra: dict[str, Any], publish: bool, expected: dict[str, bool]) -> None:
    svc = service(publishNotReadyAddresses=publish)
    [endpoint] = _only(desired_endpoints(svc, [pod("a", **extra)]))
    assert endpoint["conditions"] == expected


def test_which_pods_become_endpoints() -> None:
    pods = [pod("ready"), pod("bye", deletionTimestamp=GONE), pod("slow", ready=False),
            pod("other", labels={"app": "db"}), pod("noip", ip=""), pod("done", phase="Succeeded"),
            pod("failed", phase="Failed"),
            {**pod("elsewhere"), "metadata": {**pod("elsewhere")["metadata"], "namespace": "x"}}]
    endpoints = _only(desired_endpoints(service(), pods))
    # terminating pods stay in a slice (unlike the Endpoints), marked so
    assert [e["targetRef"]["name"] for e in endpoints] == ["bye", "ready", "slow"]
    assert endpoints[1] == {"addresses": ["127.0.0.1"],
                            "conditions": {"ready": True, "serving": True, "terminating": False},
                            "targetRef": {"kind": "Pod", "namespace": "default", "name": "ready",
                                          "uid": "uid-ready"},
                            "nodeName": "n1"}


def test_zone_and_hostname() -> None:
    named = pod("a", spec={"hostname": "db-0", "subdomain": "web"})
    other = pod("b", spec={"hostname": "db-1", "subdomain": "elsewhere"})
    endpoints = _only(desired_endpoints(service(), [named, other], zones={"n1": "zone-a"}))
    assert [e.get("hostname") for e in endpoints] == ["db-0", None]
    assert [e["zone"] for e in endpoints] == ["zone-a", "zone-a"]


def test_the_address_of_the_services_family() -> None:
    v6 = service(ipFamilies=["IPv6"])
    both = pod("both", spec={}, ip="127.0.0.1")
    both["status"]["podIPs"] = [{"ip": "127.0.0.1"}, {"ip": "::1"}]
    assert [e["addresses"] for e in _only(desired_endpoints(v6, [both, pod("v4")]))] == [["::1"]]
    s = Slices()
    s.sync(v6, [both])
    assert [x["addressType"] for x in s.items.values()] == ["IPv6"]


# -- grouping, the cap, the placeholder -------------------------------------------------------------
def test_pods_are_grouped_by_the_ports_they_resolve() -> None:
    """Vector 18 and beyond: each pod's host port is its own, so pods with different ones sit in
    different slices; one whose named port resolves to nothing sits in a slice with no ports."""
    s = Slices()
    s.sync(service(), [pod("a", host_port=31000), pod("b", host_port=31001), pod("c", host_port=31000),
                       pod("none", host_port=None)])
    by_ports = {tuple(p["port"] for p in x["ports"]): [e["targetRef"]["name"] for e in x["endpoints"]]
                for x in s.items.values()}
    assert by_ports == {(31000,): ["a", "c"], (31001,): ["b"], (): ["none"]}
    some = next(x for x in s.items.values() if x["ports"])
    assert some["ports"] == [{"name": "http", "port": 31000, "protocol": "TCP"}] \
        or some["ports"] == [{"name": "http", "port": 31001, "protocol": "TCP"}]


def test_two_ports_one_unresolved_gives_the_ports_it_resolves() -> None:
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                         {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP",
                          "appProtocol": "http"}])
    s = Slices()
    s.sync(svc, [pod("a")])
    [only] = s.items.values()
    assert only["ports"] == [{"name": "http", "port": 31000, "protocol": "TCP"}]
    withmetrics = pod("b")
    withmetrics["spec"]["containers"][0]["ports"].append({"name": "metrics", "containerPort": 9999})
    withmetrics["status"]["containerStatuses"][0]["hostPorts"].append(
        {"name": "metrics", "containerPort": 9999, "hostPort": 32000, "protocol": "TCP"})
    s.sync(svc, [pod("a"), withmetrics])
    assert sorted(map(len, (x["ports"] for x in s.items.values()))) == [1, 2]
    two = next(x for x in s.items.values() if len(x["ports"]) == 2)
    assert two["ports"][1] == {"name": "metrics", "port": 32000, "protocol": "TCP", "appProtocol": "http"}


def test_at_most_100_endpoints_a_slice_and_a_second_pass_writes_nothing() -> None:
    s = Slices()
    pods = [pod(f"p{i:03d}") for i in range(250)]
    s.sync(service(), pods)
    assert sorted(s.sizes().values()) == [50, 100, 100]
    assert s.sync(service(), pods) == []
    names = set(s.items)
    s.sync(service(), [*pods, pod("p999")])  # one more: into the slice that has room
    assert set(s.items) == names and sorted(s.sizes().values()) == [51, 100, 100]


def test_an_empty_service_keeps_one_placeholder_and_reuses_it() -> None:
    s = Slices()
    actions = s.sync(service(), [])
    assert [type(a) for a in actions] == [Create]
    [placeholder] = s.items.values()
    assert placeholder["endpoints"] == [] and placeholder["ports"] == []
    assert placeholder["addressType"] == "IPv4"
    assert s.sync(service(), []) == []
    name = next(iter(s.items))
    s.sync(service(), [pod("a")])
    assert list(s.items) == [name] and s.pods_in() == {name: ["a"]}  # updated, not replaced
    s.sync(service(), [])
    assert list(s.items) == [name] and s.sizes() == {name: 0}  # back to the placeholder


def test_metadata() -> None:
    s = Slices()
    svc = service()
    svc["metadata"]["labels"] = {"team": "a", SERVICE_NAME: "spoof", MANAGED_BY: "me", HEADLESS: "x"}
    [create] = plan(svc, [pod("a")], [])
    assert isinstance(create, Create)
    meta = create.slice["metadata"]
    assert meta["generateName"] == "web-" and meta["namespace"] == "default"
    assert meta["labels"] == {"team": "a", SERVICE_NAME: "web", MANAGED_BY: CONTROLLER}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                        "uid": "svc-web", "controller": True, "blockOwnerDeletion": True}]
    assert create.slice["apiVersion"] == "discovery.k8s.io/v1" and create.slice["kind"] == "EndpointSlice"
    s.sync(service(clusterIP="None"), [pod("a")])
    [headless] = s.items.values()
    assert headless["metadata"]["labels"][HEADLESS] == ""
    s.sync(service(), [pod("a")])  # the Service gets an address: the label goes, in place
    assert HEADLESS not in next(iter(s.items.values()))["metadata"]["labels"]
    relabelled = service()
    relabelled["metadata"]["labels"] = {"team": "b"}
    [update] = s.sync(relabelled, [pod("a")])
    assert isinstance(update, Update) and update.slice["metadata"]["labels"]["team"] == "b"


# -- stability ----------------------------------------------------------------------------------
def test_changes_are_written_in_place_to_the_slice_that_holds_the_pod() -> None:
    s = Slices()
    pods = [pod(f"p{i:03d}") for i in range(150)]
    s.sync(service(), pods)
    before = s.pods_in()
    holder = next(name for name, held in before.items() if "p120" in held)
    pods[120] = pod("p120", ready=False)
    [update] = s.sync(service(), pods)
    assert isinstance(update, Update) and update.slice["metadata"]["name"] == holder
    assert s.pods_in() == before
    # a pod that goes leaves its slice; the rest stay where they are
    actions = s.sync(service(), pods[:120] + pods[121:])
    assert [type(a) for a in actions] == [Update]
    assert all(names == [n for n in before[slice_name] if n != "p120"]
               for slice_name, names in s.pods_in().items())


def test_a_slice_no_longer_needed_is_reused_before_one_is_made() -> None:
    s = Slices()
    s.sync(service(), [pod("a", host_port=31000)])
    [name] = s.items
    actions = s.sync(service(), [pod("a", host_port=31005)])  # a new port list: same slice, rewritten
    assert [type(a) for a in actions] == [Update] and list(s.items) == [name]
    assert s.items[name]["ports"][0]["port"] == 31005
    # more slices than needed: the extra ones go
    s.sync(service(), [pod(f"p{i:03d}", host_port=31000 + i % 3) for i in range(9)])
    assert len(s.items) == 3
    s.sync(service(), [pod("z")])
    assert len(s.items) == 1


def test_only_its_own_slices_are_touched() -> None:
    s = Slices()
    s.sync(service(), [pod("a")])
    [mine] = s.items
    users = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
             "metadata": {"name": "web-by-hand", "namespace": "default", "uid": "u-hand",
                          "resourceVersion": "1", "labels": {SERVICE_NAME: "web"}},
             "endpoints": [{"addresses": ["10.0.0.9"]}], "ports": []}
    s.items["web-by-hand"] = users
    assert s.sync(service(), [pod("a")]) == []
    # a slice of ours owned by an older Service of the same name goes; ours stays
    old = copy.deepcopy(s.items[mine])
    old["metadata"].update(name="web-old", uid="u-old", ownerReferences=[
        {"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "svc-older", "controller": True}])
    s.items["web-old"] = old
    assert s.sync(service(), [pod("a")]) == [Delete("web-old", "u-old")]
    # no Service (or one that selects nothing): its own slices go, the user's stay
    assert s.sync(None, [pod("a")]) == [Delete(mine, f"uid-{mine}")]
    s.sync(service(), [pod("a")])
    assert len(s.sync(service(selector=None), [pod("a")])) == 1
    assert len(s.sync(service(type="ExternalName"), [pod("a")])) == 0
    assert list(s.items) == ["web-by-hand"]


def test_a_pod_in_two_slices_is_kept_in_one() -> None:
    s = Slices()
    s.sync(service(), [pod("a"), pod("b")])
    [name] = s.items
    twin = copy.deepcopy(s.items[name])
    twin["metadata"].update(name="web-twin", uid="u-twin")
    s.items["web-twin"] = twin
    s.sync(service(), [pod("a"), pod("b")])
    assert sorted(n for held in s.pods_in().values() for n in held) == ["a", "b"]
    assert s.sync(service(), [pod("a"), pod("b")]) == []
