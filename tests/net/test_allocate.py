"""Services' clusterIPs and nodePorts: the pure allocator, then through the real API (create,
apply of several at once, updates that omit or change them, conflicts named by field)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.errors import InvalidError, TugError
from engine.net.allocate import Taken, allocate
from tests.engine.conftest import InProcessServer


def first(low: int, high: int) -> int:
    """The search for a free address starts at the bottom (the service picks at random)."""
    return low


def svc(name: str = "web", kind: str = "ClusterIP", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": kind, "selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                     **spec}}


def test_first_free_above_the_static_band_then_below_it() -> None:
    taken = Taken()
    one = allocate(svc(), None, taken, first)["spec"]
    assert one["clusterIP"] == "127.77.1.0" and one["clusterIPs"] == ["127.77.1.0"]
    assert one["ipFamilies"] == ["IPv4"] and "nodePort" not in one["ports"][0]
    assert allocate(svc("b"), None, taken, first)["spec"]["clusterIP"] == "127.77.1.1"
    full = Taken(ips={f"127.77.{i // 256}.{i % 256}" for i in range(256, 65535)})
    assert allocate(svc(), None, full, first)["spec"]["clusterIP"] == "127.77.0.1"
    full.ips |= {f"127.77.0.{i}" for i in range(1, 256)}
    with pytest.raises(InvalidError) as err:
        allocate(svc(), None, full, first)
    assert err.value.details == ["spec.clusterIP: Internal error: no free address left in 127.77.0.0/16"]


def test_a_random_start_then_the_next_free_one_then_the_band() -> None:
    taken = Taken(ips={"127.77.200.7"}, node_ports={32767})
    at = 200 * 256 + 6  # 127.77.200.6

    def start(lo: int, hi: int) -> int:
        return at

    assert allocate(svc(), None, taken, start)["spec"]["clusterIP"] == "127.77.200.6"
    assert allocate(svc(), None, taken, start)["spec"]["clusterIP"] == "127.77.200.8"
    top = allocate(svc("n", "NodePort"), None, taken, lambda lo, hi: hi - 1)
    port = top["spec"]["ports"][0]["nodePort"]
    assert port == 30086  # the top one taken: around to the bottom above the band


def test_node_ports_from_30086_unique_and_kept_across_updates() -> None:
    taken = Taken()
    two = svc(kind="NodePort", ports=[{"name": "a", "port": 80},
                                      {"name": "b", "port": 81, "nodePort": 30086}])
    out = allocate(copy.deepcopy(two), None, taken, first)["spec"]["ports"]
    assert [p["nodePort"] for p in out] == [30087, 30086]
    stored = allocate(copy.deepcopy(two), None, Taken(), first)
    again = svc(kind="NodePort", ports=[{"name": "b", "port": 81}, {"name": "a", "port": 80}])
    kept = allocate(again, stored, Taken(), first)["spec"]
    assert kept["clusterIP"] == stored["spec"]["clusterIP"]
    assert {p["name"]: p["nodePort"] for p in kept["ports"]} == {"a": 30087, "b": 30086}
    as_cluster_ip = allocate(svc(), stored, Taken(), first)["spec"]
    assert "nodePort" not in as_cluster_ip["ports"][0]  # ClusterIP: none kept


def test_what_cannot_be_honoured_is_named() -> None:
    taken = Taken(ips={"127.77.1.0"}, node_ports={30100})
    for given, problem in [
        ("10.96.0.10", "provided IP is not in the valid range. The range of valid IPs is 127.77.0.0/16"),
        ("127.77.1.0", "provided IP is already allocated"),
        ("127.77.0.0", "not in the valid range"),
        ("nope", "must be a valid IPv4 address or None"),
    ]:
        with pytest.raises(InvalidError) as err:
            allocate(svc(clusterIP=given), None, taken, first)
        assert len(err.value.details) == 1
        assert err.value.details[0].startswith(f'spec.clusterIP: Invalid value: "{given}"')
        assert problem in err.value.details[0]
    with pytest.raises(InvalidError) as err:
        allocate(svc(kind="NodePort", ports=[{"port": 80, "nodePort": 30100}]), None, taken, first)
    assert err.value.details == [
        "spec.ports[0].nodePort: Invalid value: 30100: provided port is already allocated"]
    stored = allocate(svc(), None, Taken(), first)
    with pytest.raises(InvalidError) as err:
        allocate(svc(clusterIP="127.77.9.9"), stored, Taken(), first)
    assert err.value.details == ['spec.clusterIP: Invalid value: "127.77.9.9": field is immutable']
    headless = allocate(svc(clusterIP="None"), None, Taken(), first)["spec"]
    assert headless["clusterIP"] == "None" and "ipFamilies" not in headless
    external = allocate(svc(kind="ExternalName", externalName="example.com", clusterIP="127.77.2.2"),
                        stored, Taken(), first)["spec"]
    assert "clusterIP" not in external and "clusterIPs" not in external


def test_through_the_api(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        web = c.create(svc())
        ip = web["spec"]["clusterIP"]
        assert ip.startswith("127.77.")
        out = c.apply([svc("a", "NodePort"), svc("b", "NodePort"), svc("c")])
        made = {n: c.get("services", n)["spec"] for n in ("a", "b", "c")}
        assert len({s["clusterIP"] for s in made.values()} | {ip}) == 4, out
        assert made["a"]["ports"][0]["nodePort"] != made["b"]["ports"][0]["nodePort"]
        # an update that omits the clusterIP (a manifest applied again) keeps it; a change is refused
        c.apply([svc()])
        assert c.get("services", "web")["spec"]["clusterIP"] == ip
        with pytest.raises(TugError) as err:
            c.apply([svc(clusterIP="127.77.200.1")])
        assert "spec.clusterIP: Invalid value" in str(err.value.details)
        assert "immutable" in str(err.value.details)
        with pytest.raises(TugError) as err:
            c.create(svc("d", clusterIP=ip))
        assert "provided IP is already allocated" in str(err.value.details)
        port = made["a"]["ports"][0]["nodePort"]
        with pytest.raises(TugError) as err:
            c.create(svc("e", "NodePort", ports=[{"port": 80, "nodePort": port}]))
        assert f"spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated" in \
            err.value.details
        assert c.get("services", "a")["spec"]["ports"][0]["nodePort"] == port  # nothing changed
        c.delete("services", "a")
        assert c.create(svc("e", "NodePort", ports=[{"port": 80, "nodePort": port}]))["spec"]["ports"][0][
            "nodePort"] == port  # freed with its Service
