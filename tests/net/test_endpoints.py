"""Endpoints: the pure rules (reference part 2, §2.3-§2.6) as a table, then the controller
against a real in-process control plane, with the status a node would write."""

from __future__ import annotations

from typing import Any

import pytest

from engine.client import Client
from engine.clock import format_time, utcnow
from engine.errors import NotFoundError
from engine.net.endpoints import CONTROLLER, HEADLESS, MANAGED_BY, endpoints_for, target_port
from engine.net.routes import ready_backends
from tests.engine.conftest import InProcessServer, until


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                     **spec}}


def pod(name: str, *, ready: bool = True, host_port: int | None = 31000, ip: str = "10.0.0.1",
        labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running", "podIP": ip,
                              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if host_port is not None:
        status["containerStatuses"] = [{"name": "main", "hostPorts": [
            {"name": "http", "containerPort": 8000, "hostPort": host_port, "protocol": "TCP"}]}]
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "labels": labels if labels is not None else {"app": "web"}, **extra},
            "spec": {"nodeName": "n1", "containers": [{"name": "main", "ports": [
                {"name": "http", "containerPort": 8000}, {"name": "metrics", "containerPort": 9090}]}]},
            "status": status}


@pytest.mark.parametrize(("target", "expected"), [
    ("http", 31000),  # a name: the host port the runtime gave that container port
    (8000, 31000),  # a declared number: the same
    ("8000", 31000),
    (7000, 7000),  # a number not declared: that port on the node (the process binds it itself)
    ("metrics", None),  # declared, no host port given yet
    ("nope", None),  # no such name
    (0, None),
])
def test_target_ports(target: Any, expected: int | None) -> None:
    assert target_port(pod("a"), {"port": 80, "targetPort": target}) == expected


def test_a_named_port_of_another_protocol_does_not_match() -> None:
    assert target_port(pod("a"), {"port": 80, "targetPort": "http", "protocol": "UDP"}) is None


def test_which_pods_count_and_where_they_go() -> None:
    gone = format_time(utcnow())
    pods = [pod("ready", host_port=31000), pod("slow", ready=False, host_port=31001),
            pod("bye", host_port=31002, deletionTimestamp=gone), pod("other", labels={"app": "db"}),
            pod("noip", ip=""), pod("unresolved", host_port=None),
            {**pod("done"), "status": {**pod("done")["status"], "phase": "Succeeded"}},
            {**pod("elsewhere"), "metadata": {**pod("elsewhere")["metadata"], "namespace": "x"}}]
    ep = endpoints_for(service(), pods)
    assert ep["metadata"]["labels"] == {"team": "a", MANAGED_BY: CONTROLLER}
    by_port = {s["ports"][0]["port"]: s for s in ep["subsets"]}
    assert sorted(by_port) == [31000, 31001]  # one subset per port set: each pod has its own port
    assert [a["targetRef"]["name"] for a in by_port[31000]["addresses"]] == ["ready"]
    assert [a["targetRef"]["name"] for a in by_port[31001]["notReadyAddresses"]] == ["slow"]
    assert by_port[31000]["ports"] == [{"name": "http", "port": 31000, "protocol": "TCP"}]
    assert by_port[31000]["addresses"][0]["nodeName"] == "n1"
    assert ready_backends(ep, "http") == [["10.0.0.1", 31000]]
    published = endpoints_for(service(publishNotReadyAddresses=True), pods)
    assert sorted(a["targetRef"]["name"] for s in published["subsets"] for a in s.get("addresses", [])) == [
        "bye", "ready", "slow"]  # every one ready, the terminating one included
    assert HEADLESS in endpoints_for(service(clusterIP="None"), pods)["metadata"]["labels"]
    assert "subsets" not in endpoints_for(service(), [])


def test_a_thousand_addresses_at_most() -> None:
    pods = [pod(f"p{i:04d}", host_port=None) for i in range(1003)]
    ep = endpoints_for(service(ports=[{"port": 80, "targetPort": 8080}]), pods)
    assert len(ep["subsets"]) == 1 and len(ep["subsets"][0]["addresses"]) == 1000
    assert ep["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}


def _web_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "1"],
                                     "ports": [{"name": "http", "containerPort": 8000}]}]}}


def _run(c: Client, name: str, port: int, *, ready: bool) -> None:
    """What the node writes for a running pod with its node port."""
    p = c.get("pods", name)
    p["status"] = pod(name, ready=ready, host_port=port, ip="127.0.0.1")["status"]
    c.update_status(p)


def _addresses(c: Client) -> tuple[list[int], list[int]] | None:
    try:
        ep = c.get("endpoints", "web")
    except NotFoundError:
        return None
    ready = sorted(s["ports"][0]["port"] for s in ep.get("subsets", []) if s.get("addresses"))
    waiting = sorted(s["ports"][0]["port"] for s in ep.get("subsets", []) if s.get("notReadyAddresses"))
    return ready, waiting


def test_the_controller_follows_pods_and_services(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create(service())
        assert until(lambda: _addresses(c)) == ([], [])
        c.create(_web_pod("a"))
        c.create(_web_pod("b"))
        _run(c, "a", 31000, ready=True)
        _run(c, "b", 31001, ready=False)
        until(lambda: _addresses(c) == ([31000], [31001]))
        _run(c, "b", 31001, ready=True)
        until(lambda: _addresses(c) == ([31000, 31001], []))
        # someone else's write is put back
        ep = c.get("endpoints", "web")
        ep["subsets"] = []
        c.update(ep)
        until(lambda: _addresses(c) == ([31000, 31001], []))
        # a pod whose labels stop matching leaves
        b = c.get("pods", "b")
        b["metadata"]["labels"] = {"app": "other"}
        c.update(b)
        until(lambda: _addresses(c) == ([31000], []))
        c.delete("services", "web")
        until(lambda: _addresses(c) is None)


def test_a_service_without_a_selector_keeps_the_endpoints_a_user_writes(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        c.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                  "spec": {"ports": [{"port": 80}]}})
        mine = c.create({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext"},
                         "subsets": [{"addresses": [{"ip": "127.0.0.5"}], "ports": [{"port": 9000}]}]})
        c.create(service())  # a managed one beside it, to know the controller has looked
        until(lambda: _addresses(c) is not None)
        c.delete("services", "ext")
        c.delete("services", "web")
        until(lambda: _addresses(c) is None)
        assert c.get("endpoints", "ext")["subsets"] == mine["subsets"]  # never the controller's


def test_describe_and_get_show_the_addresses(api_server: InProcessServer) -> None:
    from engine.api import resolve
    from engine.cli.objects import describe_one
    from engine.printers.network import endpoints_row, service_row

    with api_server.client() as c:
        svc = c.create({**service(), "spec": {**service()["spec"], "type": "NodePort"}})
        c.create(_web_pod("a"))
        _run(c, "a", 31000, ready=True)
        until(lambda: _addresses(c) == ([31000], []))
        text = describe_one(c, resolve("svc"), c.get("services", "web"))
        lines = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        assert lines["IP"].strip() == svc["spec"]["clusterIP"]
        assert lines["NodePort"].split() == ["http", f"{svc['spec']['ports'][0]['nodePort']}/TCP"]
        assert lines["Endpoints"].strip() == "127.0.0.1:31000"
        assert lines["External Traffic Policy"].strip() == "Cluster"
        now = utcnow()
        row = service_row(c.get("services", "web"), now, False)
        assert row[2] == svc["spec"]["clusterIP"]
        assert row[4] == f"80:{svc['spec']['ports'][0]['nodePort']}/TCP"
        assert endpoints_row(c.get("endpoints", "web"), now, False)[1] == "127.0.0.1:31000"


def test_tug_get_several_kinds_at_once(api_server: InProcessServer) -> None:
    import json
    import os
    import subprocess
    import sys

    def tug(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True,
                              env={**os.environ, "TUG_HOME": str(api_server.home)}, timeout=60)

    with api_server.client() as c:
        c.create(service())
        until(lambda: _addresses(c) is not None)
    out = tug("get", "svc,ep,ing")
    assert out.returncode == 0, out.stderr
    tables = out.stdout.split("\n\n")
    assert len(tables) == 2  # no Ingress: no table
    assert tables[0].splitlines()[0].split()[:3] == ["NAME", "TYPE", "CLUSTER-IP"]
    assert tables[0].splitlines()[1].startswith("service/web ")
    assert tables[1].splitlines()[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert tables[1].splitlines()[1].startswith("endpoints/web ")
    assert tug("get", "svc,ep", "-o", "name").stdout.splitlines() == ["service/web", "endpoints/web"]
    listing = json.loads(tug("get", "svc,ep", "-o", "json").stdout)
    assert [i["kind"] for i in listing["items"]] == ["Service", "Endpoints"]
    assert tug("get", "ing,cm").stderr.strip() == "No resources found in default namespace."
    refused = tug("get", "svc,ep", "-w")
    assert refused.returncode == 1 and "single resource type" in refused.stderr
