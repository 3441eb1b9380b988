"""The node-port map a pod's status gives its `tugboat.dev/ports` annotation."""

from __future__ import annotations

import json
from typing import Any

from engine.runtime.podstatus import PORTS_ANNOTATION, annotate_ports, port_map


def _status(*ports: dict[str, Any]) -> dict[str, Any]:
    return {"containerStatuses": [{"name": "main", "hostPorts": list(ports)},
                                  {"name": "side", "hostPorts": "junk"}, {"name": "bare"}]}


def test_ports_by_name_else_container_port_first_wins_and_junk_is_skipped() -> None:
    status = _status({"name": "http", "containerPort": 8000, "hostPort": 31235},
                     {"containerPort": 9090, "hostPort": 31236},
                     {"name": "http", "containerPort": 8001, "hostPort": 31237},
                     {"name": "bad", "containerPort": 1, "hostPort": "31238"})
    assert port_map(status) == {"http": 31235, "9090": 31236}
    assert port_map(None) == {} and port_map({"containerStatuses": None}) == {}


def test_annotates_once_and_keeps_other_annotations() -> None:
    pod: dict[str, Any] = {"metadata": {"name": "p", "annotations": {"keep": "me"}}}
    status = _status({"name": "http", "containerPort": 8000, "hostPort": 31235})
    assert annotate_ports(pod, status) is True
    assert pod["metadata"]["annotations"]["keep"] == "me"
    assert json.loads(pod["metadata"]["annotations"][PORTS_ANNOTATION]) == {"http": 31235}
    assert annotate_ports(pod, status) is False  # says so already: no second write
    bare: dict[str, Any] = {"metadata": {"name": "q"}}
    assert annotate_ports(bare, {"containerStatuses": []}) is False and "annotations" not in bare["metadata"]
