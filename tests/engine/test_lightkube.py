"""Contract with lightkube, the other maintained Python client: each kind of
test_official_client.py is created, read, listed, patched, server-side applied, watched and
deleted through lightkube's typed resources, and every answer loads into its models."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client, KubeConfig
from lightkube.types import PatchType

from .conftest import InProcessServer, kubeconfig_of
from .test_official_client import KINDS

# the official client's API class -> lightkube's resource module
MODULES = {"CoreV1Api": "core_v1", "AppsV1Api": "apps_v1", "BatchV1Api": "batch_v1",
           "NetworkingV1Api": "networking_v1", "AutoscalingV2Api": "autoscaling_v2",
           "StorageV1Api": "storage_v1", "SchedulingV1Api": "scheduling_v1", "DiscoveryV1Api": "discovery_v1"}


@pytest.fixture()
def lk(api_server: InProcessServer, tmp_path: Path) -> Iterator[Client]:
    config = KubeConfig.from_file(kubeconfig_of(api_server, tmp_path / "kubeconfig"))
    yield Client(config, field_manager="contract-test")


@pytest.mark.parametrize("api_name, kind, namespaced, body, model", KINDS, ids=[k[1] for k in KINDS])
def test_each_kind_round_trips_through_lightkube(lk: Client, api_name: str, kind: str, namespaced: bool,
                                                 body: dict[str, Any], model: str) -> None:
    module = importlib.import_module(f"lightkube.resources.{MODULES[api_name]}")
    res = getattr(module, model[2:])  # V1ConfigMap -> ConfigMap
    name, ns = f"lk-{kind.replace('_', '-')}", ("default" if namespaced else None)
    manifest = {"apiVersion": res._api_info.resource.api_version, "kind": res._api_info.resource.kind,
                "metadata": {"name": name, "labels": {"contract": "lk"}}, **body}
    made = lk.create(res.from_dict(manifest), namespace=ns)
    assert isinstance(made, res) and made.metadata.uid and made.metadata.creationTimestamp
    assert lk.get(res, name, namespace=ns).metadata.resourceVersion
    assert [o.metadata.name for o in lk.list(res, namespace=ns, labels={"contract": "lk"})] == [name]
    patched = lk.patch(res, name, {"metadata": {"labels": {"p": "1"}}}, namespace=ns,
                       patch_type=PatchType.MERGE)
    assert {"contract": "lk", "p": "1"}.items() <= patched.metadata.labels.items()
    meta = {**manifest["metadata"], "annotations": {"by": "apply"}}
    applied = lk.apply(res.from_dict({**manifest, "metadata": meta}), namespace=ns)
    assert applied.metadata.annotations["by"] == "apply"
    owners = [(e.manager, e.operation) for e in applied.metadata.managedFields]
    assert ("contract-test", "Apply") in owners
    # lightkube watches on (it reconnects): the first event is the object, as it is now
    event, obj = next(iter(lk.watch(res, namespace=ns, labels={"contract": "lk"}, server_timeout=5)))
    assert event == "ADDED" and isinstance(obj, res) and obj.metadata.annotations["by"] == "apply"
    lk.delete(res, name, namespace=ns)
