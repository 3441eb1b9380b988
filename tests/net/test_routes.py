"""engine/net/routes.py: the route table from Services and Endpoints, and the sentence a
Service gets when some node's proxy cannot listen for it."""

from __future__ import annotations

from typing import Any

from engine.net.routes import NODE_ADDRESS, listen_problems, route_table

SVC: dict[str, Any] = {
    "metadata": {"namespace": "default", "name": "web"},
    "spec": {"type": "NodePort", "clusterIP": "127.77.0.5", "sessionAffinity": "ClientIP", "ports": [
        {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
        {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}]}}
EP: dict[str, Any] = {"subsets": [
    {"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}], "notReadyAddresses": [{"ip": "10.0.0.9"}],
     "ports": [{"name": "http", "port": 8000, "protocol": "TCP"},
               {"name": "dns", "port": 5300, "protocol": "UDP"},
               {"name": "http", "port": 9999, "protocol": "UDP"}]}]}


def test_each_tcp_and_udp_port_is_a_route_to_the_ready_addresses_of_its_protocol() -> None:
    table = route_table([SVC], {"default/web": EP})
    assert table == [
        {"service": "default/web:dns", "listen": [["127.77.0.5", 53], [NODE_ADDRESS, 30053]],
         "backends": [["10.0.0.1", 5300], ["10.0.0.2", 5300]], "affinity_s": 10800, "protocol": "UDP"},
        {"service": "default/web:http", "listen": [["127.77.0.5", 80], [NODE_ADDRESS, 30080]],
         "backends": [["10.0.0.1", 8000], ["10.0.0.2", 8000]], "affinity_s": 10800}]


def test_a_headless_or_external_service_has_no_route() -> None:
    headless = {**SVC, "spec": {**SVC["spec"], "type": "ClusterIP", "clusterIP": "None"}}
    headless["spec"]["ports"] = [{k: v for k, v in p.items() if k != "nodePort"}
                                 for p in SVC["spec"]["ports"]]
    external = {**SVC, "spec": {"type": "ExternalName", "externalName": "example.com"}}
    assert route_table([headless, external], {"default/web": EP}) == []


def test_a_port_a_node_cannot_listen_on_is_said_per_protocol() -> None:
    table = route_table([SVC], {"default/web": EP})
    states = {"n1": {"problems": {"127.77.0.5:53/UDP": "Permission denied"}},
              "n2": {"problems": {"127.77.0.5:80": "Address already in use"}}}
    assert listen_problems(table, states) == {"default/web": (
        "node n1 cannot listen on 127.77.0.5:53: Permission denied (a port below 1024 needs root or "
        "CAP_NET_BIND_SERVICE); still reachable on nodePort 30053; "
        "node n2 cannot listen on 127.77.0.5:80: Address already in use (a port below 1024 needs root or "
        "CAP_NET_BIND_SERVICE); still reachable on nodePort 30080")}
    assert listen_problems(table, {"n1": {"problems": {}}}) == {}
