"""The default IngressClass, through the real API: the control plane makes `tugboat` the
default class at start; an Ingress created without a class gets it (DefaultIngressClass, on
create only); one that names a class, by field or legacy annotation, keeps its own."""

from __future__ import annotations

from typing import Any

from tests.engine.conftest import InProcessServer


def _ingress(name: str, **extra: Any) -> dict[str, Any]:
    meta = {"name": name, **extra.pop("meta", {})}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
            "spec": {**extra, "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}


def test_an_ingress_without_a_class_gets_the_default_one(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        default = c.get("ingressclasses", "tugboat", namespace="")
        assert default["spec"]["controller"] == "tugboat.dev/ingress-router"
        assert default["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
        assert c.create(_ingress("plain"))["spec"]["ingressClassName"] == "tugboat"
        assert c.create(_ingress("nginx", ingressClassName="nginx"))["spec"]["ingressClassName"] == "nginx"
        legacy = c.create(_ingress("legacy", meta={"annotations": {"kubernetes.io/ingress.class": "other"}}))
        assert "ingressClassName" not in legacy["spec"]
        # on create only: an update that drops the class leaves it dropped
        plain = c.get("ingresses", "plain")
        del plain["spec"]["ingressClassName"]
        assert "ingressClassName" not in c.update(plain)["spec"]
