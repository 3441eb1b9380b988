"""Service variables as the kubelet sets them (reference part 2, §2.7)."""

from __future__ import annotations

from typing import Any

from engine.api.env import container_env
from engine.net.envvars import service_env


def _svc(name: str, ip: str | None, *ports: dict[str, Any], ns: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {**({"clusterIP": ip} if ip else {}), "ports": list(ports)}}


POD = {"metadata": {"name": "p", "namespace": "default"}, "spec": {}}


def test_the_variables_of_a_two_port_service() -> None:
    env = service_env(POD, [_svc("redis-primary", "127.77.1.5",
                                 {"name": "redis", "port": 6379, "protocol": "TCP"},
                                 {"name": "metrics", "port": 9121})])
    assert env == {
        "REDIS_PRIMARY_SERVICE_HOST": "127.77.1.5",
        "REDIS_PRIMARY_SERVICE_PORT": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_REDIS": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_METRICS": "9121",
        "REDIS_PRIMARY_PORT": "tcp://127.77.1.5:6379",
        "REDIS_PRIMARY_PORT_6379_TCP": "tcp://127.77.1.5:6379",
        "REDIS_PRIMARY_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_6379_TCP_PORT": "6379",
        "REDIS_PRIMARY_PORT_6379_TCP_ADDR": "127.77.1.5",
        "REDIS_PRIMARY_PORT_9121_TCP": "tcp://127.77.1.5:9121",
        "REDIS_PRIMARY_PORT_9121_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_9121_TCP_PORT": "9121",
        "REDIS_PRIMARY_PORT_9121_TCP_ADDR": "127.77.1.5",
    }


def test_which_services_count() -> None:
    services = [_svc("headless", "None", {"port": 80}), _svc("noip", None, {"port": 80}),
                _svc("other", "127.77.1.6", {"port": 80}, ns="x"), _svc("web", "127.77.1.7", {"port": 80}),
                {"metadata": {"name": "junk", "namespace": "default"}, "spec": "junk"}]
    assert sorted(service_env(POD, services)) == sorted(
        ["WEB_SERVICE_HOST", "WEB_SERVICE_PORT", "WEB_PORT", "WEB_PORT_80_TCP", "WEB_PORT_80_TCP_PROTO",
         "WEB_PORT_80_TCP_PORT", "WEB_PORT_80_TCP_ADDR"])
    assert service_env({**POD, "spec": {"enableServiceLinks": False}}, services) == {}


def test_a_container_env_overrides_them_and_can_refer_to_them() -> None:
    extra = service_env(POD, [_svc("web", "127.77.1.7", {"port": 80})])
    container = {"name": "c", "env": [{"name": "WEB_SERVICE_PORT", "value": "8080"},
                                      {"name": "URL", "value": "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/"}]}
    env = container_env(POD, container, extra=extra)
    assert env["WEB_SERVICE_PORT"] == "8080" and env["URL"] == "http://127.77.1.7:8080/"
    assert env["WEB_PORT_80_TCP_ADDR"] == "127.77.1.7"
