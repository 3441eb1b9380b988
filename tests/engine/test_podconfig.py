"""engine/runtime/podconfig.py: which ConfigMaps and Secrets a pod's env names, their data as
env sees it, and the waiting status (CreateContainerConfigError) while one is missing."""

from __future__ import annotations

import base64
from typing import Any

from engine.errors import NotFoundError
from engine.runtime.podconfig import CONFIG_ERROR, data_of, referenced, resolve, waiting_status


class _Store:
    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {(o["kind"], o["metadata"]["name"]): o for o in objs}

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        kind = {"configmaps": "ConfigMap", "secrets": "Secret"}[plural]
        if (kind, name) not in self.objs:
            raise NotFoundError(f"{plural} {name!r} not found")
        return self.objs[(kind, name)]


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _secret(name: str, **data: str) -> dict[str, Any]:
    return {"kind": "Secret", "metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def _pod(env: list[dict[str, Any]], env_from: list[dict[str, Any]] | None = None,
         init: bool = False) -> dict[str, Any]:
    main = {"name": "main", "image": "busybox", "env": env, "envFrom": env_from or []}
    spec: dict[str, Any] = {"containers": [main]}
    if init:
        spec = {"initContainers": [main], "containers": [{"name": "after", "image": "busybox"}]}
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec}


def _key(kind: str, name: str, key: str, optional: bool | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return {"valueFrom": {{"ConfigMap": "configMapKeyRef", "Secret": "secretKeyRef"}[kind]: ref}}


def test_referenced_names_every_configmap_and_secret_of_every_container() -> None:
    pod = _pod([{"name": "A", **_key("Secret", "s1", "k")}, {"name": "B", "value": "plain"}],
               env_from=[{"configMapRef": {"name": "c1"}}, {"secretRef": {"name": "s2"}}], init=True)
    assert referenced(pod) == {("Secret", "s1"), ("ConfigMap", "c1"), ("Secret", "s2")}


def test_a_secret_is_decoded_and_one_that_is_not_base64_reads_empty() -> None:
    assert data_of(_secret("s", token="abc")) == {"token": "abc"}
    assert data_of({"kind": "Secret", "data": {"bad": "@@not base64@@"}}) == {"bad": ""}
    assert data_of({"kind": "ConfigMap", "data": ["not", "a", "map"]}) == {}


def test_resolve_gives_the_data_or_what_is_missing_without_any_value() -> None:
    pod = _pod([{"name": "T", **_key("Secret", "s", "token")},
                {"name": "M", **_key("ConfigMap", "c", "mode")}])
    refs, problem, container = resolve(pod, _Store(_cm("c", mode="fast"), _secret("s", other="hidden")))
    assert problem == "env T: couldn't find key 'token' in Secret 's'" and container == "main"
    assert "hidden" not in problem
    refs, problem, container = resolve(pod, _Store(_cm("c", mode="fast"), _secret("s", token="t0k")))
    assert (problem, container) == (None, None)
    assert refs == {"ConfigMap/c": {"mode": "fast"}, "Secret/s": {"token": "t0k"}}


def test_an_optional_reference_to_a_missing_object_or_key_is_left_out() -> None:
    pod = _pod([{"name": "A", **_key("ConfigMap", "gone", "k", optional=True)},
                {"name": "B", **_key("ConfigMap", "c", "absent", optional=True)}],
               env_from=[{"secretRef": {"name": "gone-too", "optional": True}}])
    assert resolve(pod, _Store(_cm("c", x="1")))[1] is None


def test_a_required_envfrom_object_that_is_missing_is_named() -> None:
    pod = _pod([], env_from=[{"configMapRef": {"name": "settings"}}])
    assert resolve(pod, _Store())[1] == "envFrom configMapRef: ConfigMap 'settings' not found"


def test_the_waiting_status_marks_the_container_that_waits_and_the_rest_behind_it() -> None:
    status = waiting_status(_pod([], init=True), "why", "main")
    assert status["phase"] == "Pending"
    waits = {"waiting": {"reason": CONFIG_ERROR, "message": "why"}}
    assert status["initContainerStatuses"][0]["state"] == waits
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    plain = waiting_status(_pod([]), "why", "main")
    assert plain["containerStatuses"][0]["state"]["waiting"]["reason"] == CONFIG_ERROR
    assert "initContainerStatuses" not in plain
