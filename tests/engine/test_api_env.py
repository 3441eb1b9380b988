"""Container environment and `$(VAR)` expansion, by the kubelet's rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from engine.api import container_env, expand_command
from engine.api.env import expand, field_value

ENV = {"VAR_A": "A", "VAR_B": "B", "VAR_EMPTY": "", "BIG_MONEY": "$1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("$(VAR_A)$(VAR_B)", "AB"),
        ("$(VAR_EMPTY)", ""),
        ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),  # escaped reference
        ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
        ("$$$$$$$(BIG_MONEY)", "$$$$1"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),  # unresolvable stays as is
        ("foo$()bar", "foo$()bar"),
        ("$(VAR_A", "$(VAR_A"),  # incomplete reference
        ("$(VAR_A)$(", "A$("),
        ("$VAR_A", "$VAR_A"),  # no parentheses: not a reference
        ("$", "$"),
        ("foo$", "foo$"),
        ("$$", "$"),
        ("$(VAR_A)$", "A$"),
        ("echo $(VAR_A) && echo $$HOME", "echo A && echo $HOME"),
        ("no references", "no references"),
        ("", ""),
        ("$($(VAR_A))", "$($(VAR_A))"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, ENV) == expected


def test_expand_command() -> None:
    assert expand_command(["sh", "-c", "echo $(VAR_A) $(NOPE) $$(VAR_B)"], ENV) == [
        "sh",
        "-c",
        "echo A $(NOPE) $(VAR_B)",
    ]
    assert expand_command([], ENV) == []


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": "prod",
            "uid": "u-1",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"team": "ml"},
        },
        "spec": {"nodeName": "node-1", "serviceAccountName": "builder", **spec},
        "status": {
            "podIP": "10.0.0.5",
            "hostIP": "192.168.1.2",
            "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
        },
    }


def test_values_refer_to_earlier_entries_only() -> None:
    container = {
        "name": "c",
        "env": [
            {"name": "A", "value": "a"},
            {"name": "B", "value": "$(A)-b-$(C)"},
            {"name": "C", "value": "c"},
            {"name": "D", "value": "$(C)$$(A)"},
        ],
    }
    env = container_env(_pod(), container)
    assert env["B"] == "a-b-$(C)"
    assert env["D"] == "c$(A)"
    assert list(env) == ["HOSTNAME", "A", "B", "C", "D"]


def test_later_entry_overrides_earlier() -> None:
    container = {"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2$(A)"}]}
    assert container_env(_pod(), container)["A"] == "21"


@pytest.mark.parametrize(
    ("field_path", "expected"),
    [
        ("metadata.name", "web-0"),
        ("metadata.namespace", "prod"),
        ("metadata.uid", "u-1"),
        ("metadata.labels['app']", "web"),
        ("metadata.labels['missing']", ""),
        ("metadata.annotations['team']", "ml"),
        ("spec.nodeName", "node-1"),
        ("spec.serviceAccountName", "builder"),
        ("status.podIP", "10.0.0.5"),
        ("status.hostIP", "192.168.1.2"),
        ("status.podIPs", "10.0.0.5,fd00::5"),
    ],
)
def test_field_ref(field_path: str, expected: str) -> None:
    container = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": field_path}}}],
    }
    assert container_env(_pod(), container)["X"] == expected


def test_field_ref_not_yet_known_is_empty() -> None:
    pod = _pod()
    del pod["status"]
    container = {
        "name": "c",
        "env": [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
    }
    assert container_env(pod, container)["IP"] == ""


def test_field_ref_unsupported() -> None:
    with pytest.raises(ValueError, match="unsupported fieldPath"):
        field_value(_pod(), "spec.containers")


def test_hostname() -> None:
    assert container_env(_pod(), {"name": "c"}) == {"HOSTNAME": "web-0"}
    assert container_env(_pod(hostname="trainer"), {"name": "c"})["HOSTNAME"] == "trainer"


def test_extra_is_visible_and_overridable() -> None:
    container = {
        "name": "c",
        "env": [
            {"name": "SHARD", "value": "shard-$(JOB_COMPLETION_INDEX)"},
            {"name": "OVERRIDE", "value": "mine"},
        ],
    }
    env = container_env(_pod(), container, extra={"JOB_COMPLETION_INDEX": "3", "OVERRIDE": "x"})
    assert env["SHARD"] == "shard-3"
    assert env["OVERRIDE"] == "mine"
    assert env["JOB_COMPLETION_INDEX"] == "3"


@pytest.mark.parametrize("key", ["configMapKeyRef", "secretKeyRef"])
def test_key_refs_need_a_resolver(key: str) -> None:
    container = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {key: {"name": "cfg", "key": "k"}}}],
    }
    with pytest.raises(ValueError, match="must be looked up first"):
        container_env(_pod(), container)


def test_key_refs_with_resolver() -> None:
    store: dict[tuple[str, str], Mapping[str, str]] = {
        ("ConfigMap", "cfg"): {"mode": "fast", "LEVEL": "3"},
        ("Secret", "creds"): {"token": "s3cret"},
    }

    def resolver(kind: str, name: str) -> Mapping[str, str] | None:
        return store.get((kind, name))

    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {
                "name": "OPT",
                "valueFrom": {"secretKeyRef": {"name": "gone", "key": "x", "optional": True}},
            },
            {"name": "ALL", "value": "$(MODE)/$(CFG_LEVEL)"},
        ],
    }
    env = container_env(_pod(), container, resolver=resolver)
    assert env["MODE"] == "fast"
    assert env["TOKEN"] == "s3cret"
    assert env["CFG_mode"] == "fast"
    assert env["ALL"] == "fast/3"
    assert "OPT" not in env

    missing = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope"}}}],
    }
    with pytest.raises(ValueError, match="couldn't find key 'nope'"):
        container_env(_pod(), missing, resolver=resolver)
    absent = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "zz", "key": "k"}}}],
    }
    with pytest.raises(ValueError, match="Secret 'zz' not found"):
        container_env(_pod(), absent, resolver=resolver)


@pytest.mark.parametrize(
    ("resource", "divisor", "expected"),
    [
        ("limits.cpu", None, "2"),
        ("limits.cpu", "1m", "1500"),
        ("requests.cpu", None, "1"),
        ("limits.memory", "1Mi", "512"),
        ("limits.memory", None, "536870912"),
    ],
)
def test_resource_field_ref(resource: str, divisor: str | None, expected: str) -> None:
    ref: dict[str, Any] = {"resource": resource}
    if divisor:
        ref["divisor"] = divisor
    container = {
        "name": "c",
        "resources": {"limits": {"cpu": "1500m", "memory": "512Mi"}, "requests": {"cpu": "500m"}},
        "env": [{"name": "X", "valueFrom": {"resourceFieldRef": ref}}],
    }
    assert container_env(_pod(), container)["X"] == expected


def test_resource_field_ref_unset_limit() -> None:
    container = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
    }
    with pytest.raises(ValueError, match="allocatable"):
        container_env(_pod(), container)
