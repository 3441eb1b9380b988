"""Contract with the official `kubernetes` Python client: every kind tugboat serves that the
client has a typed API for is created, listed, read, patched, watched and deleted through it,
and each answer deserializes into the client's model of that kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from .conftest import InProcessServer, kubeconfig_of

POD_SPEC = {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}
TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": POD_SPEC}
# (API, the method names' kind part, namespaced, a body to create, the client's model of it)
KINDS: list[tuple[str, str, bool, dict[str, Any], str]] = [
    ("CoreV1Api", "config_map", True, {"data": {"k": "v"}}, "V1ConfigMap"),
    ("CoreV1Api", "secret", True, {"stringData": {"k": "v"}}, "V1Secret"),
    ("CoreV1Api", "pod", True, {"spec": {**POD_SPEC, "restartPolicy": "Never"}}, "V1Pod"),
    ("CoreV1Api", "service", True, {"spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}},
     "V1Service"),
    ("CoreV1Api", "endpoints", True, {"subsets": []}, "V1Endpoints"),
    ("CoreV1Api", "persistent_volume_claim", True,
     {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
     "V1PersistentVolumeClaim"),
    ("CoreV1Api", "persistent_volume", False,
     {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
               "hostPath": {"path": "/tmp/x"}, "storageClassName": "manual"}}, "V1PersistentVolume"),
    ("CoreV1Api", "namespace", False, {}, "V1Namespace"),
    ("AppsV1Api", "deployment", True,
     {"spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": TEMPLATE}},
     "V1Deployment"),
    ("AppsV1Api", "replica_set", True,
     {"spec": {"replicas": 0, "selector": {"matchLabels": {"app": "y"}},
               "template": {**TEMPLATE, "metadata": {"labels": {"app": "y"}}}}}, "V1ReplicaSet"),
    ("BatchV1Api", "job", True, {"spec": {"suspend": True, "template": {"spec": {**POD_SPEC,
                                                                                 "restartPolicy": "Never"}}}},
     "V1Job"),
    ("BatchV1Api", "cron_job", True, {"spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {
        "spec": {**POD_SPEC, "restartPolicy": "Never"}}}}}}, "V1CronJob"),
    ("NetworkingV1Api", "ingress", True, {"spec": {"defaultBackend": {"service": {"name": "s",
                                                                                   "port": {"number": 80}}}}},
     "V1Ingress"),
    ("NetworkingV1Api", "ingress_class", False, {"spec": {"controller": "example.com/x"}}, "V1IngressClass"),
    ("AutoscalingV2Api", "horizontal_pod_autoscaler", True,
     {"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
               "maxReplicas": 3}},
     "V2HorizontalPodAutoscaler"),
    ("StorageV1Api", "storage_class", False, {"provisioner": "example.com/x"}, "V1StorageClass"),
    ("SchedulingV1Api", "priority_class", False, {"value": 10}, "V1PriorityClass"),
    ("DiscoveryV1Api", "endpoint_slice", True, {"addressType": "IPv4", "endpoints": []}, "V1EndpointSlice"),
]


@pytest.fixture()
def api(api_server: InProcessServer, tmp_path: Path) -> Iterator[client.ApiClient]:
    kubeconfig = kubeconfig_of(api_server, tmp_path / "kubeconfig")
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        yield api_client


@pytest.mark.parametrize("api_name, kind, namespaced, body, model", KINDS, ids=[k[1] for k in KINDS])
def test_each_kind_round_trips_through_the_typed_client(api: client.ApiClient, api_name: str, kind: str,
                                                         namespaced: bool, body: dict[str, Any],
                                                         model: str) -> None:
    typed = getattr(client, api_name)(api)
    scope = ("namespaced_", ("default",)) if namespaced else ("", ())
    name = f"ct-{kind.replace('_', '-')}"
    made = getattr(typed, f"create_{scope[0]}{kind}")(
        *scope[1], {"metadata": {"name": name, "labels": {"contract": "yes"}}, **body})
    assert type(made).__name__ == model and made.metadata.name == name and made.metadata.uid
    assert made.metadata.creation_timestamp is not None
    read = getattr(typed, f"read_{scope[0]}{kind}")(name, *scope[1])
    assert type(read).__name__ == model and read.metadata.resource_version
    listed = getattr(typed, f"list_{scope[0]}{kind}")(*scope[1], label_selector="contract=yes")
    assert [i.metadata.name for i in listed.items] == [name] and type(listed.items[0]).__name__ == model
    patched = getattr(typed, f"patch_{scope[0]}{kind}")(name, *scope[1], {"metadata": {"labels": {"p": "1"}}})
    assert {"contract": "yes", "p": "1"}.items() <= patched.metadata.labels.items()
    seen = [e["object"] for e in watch.Watch().stream(getattr(typed, f"list_{scope[0]}{kind}"), *scope[1],
                                                      label_selector="contract=yes", timeout_seconds=1)]
    assert [type(o).__name__ for o in seen] == [model] and seen[0].metadata.labels["p"] == "1"
    getattr(typed, f"delete_{scope[0]}{kind}")(name, *scope[1])


def test_nodes_read_with_every_field_the_client_requires(api: client.ApiClient,
                                                          api_server: InProcessServer) -> None:
    with api_server.client() as c:  # a node whose status names one field of nodeInfo
        c.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ct-node"}})
        node = c.get("nodes", "ct-node")
        c.request("PUT", "/api/v1/nodes/ct-node/status",
                  body={**node, "status": {"nodeInfo": {"kubeletVersion": "tugboat-0.1.0"}}})
    nodes = client.CoreV1Api(api).list_node().items
    assert [n.metadata.name for n in nodes] == ["ct-node"]
    info = client.CoreV1Api(api).read_node("ct-node").status.node_info
    assert info.kubelet_version == "tugboat-0.1.0"


def test_a_pod_bound_through_the_binding_subresource(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod("default", {"metadata": {"name": "unbound"}, "spec": {
        **POD_SPEC, "schedulerName": "my-scheduler"}})
    binding = client.V1Binding(metadata=client.V1ObjectMeta(name="unbound", annotations={"by": "mine"}),
                               target=client.V1ObjectReference(kind="Node", name="n9"))
    core.create_namespaced_pod_binding("unbound", "default", binding, _preload_content=False)
    pod = core.read_namespaced_pod("unbound", "default")
    assert pod.spec.node_name == "n9" and pod.metadata.annotations["by"] == "mine"
    assert [c.type for c in pod.status.conditions if c.status == "True"] == ["PodScheduled"]
    with pytest.raises(client.ApiException) as again:
        core.create_namespaced_pod_binding("unbound", "default", binding, _preload_content=False)
    assert again.value.status == 409 and "already assigned to node" in again.value.body
