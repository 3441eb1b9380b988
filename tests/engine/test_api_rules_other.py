"""Rules of the other kinds: Service, ConfigMap, Secret, PVC, Ingress, HPA, PriorityClass, ..."""

from __future__ import annotations

from typing import Any

import pytest

from .api_builders import problems_of


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {}},
            "spec.ports: required (at least one port)",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"ports": [{"port": 80}, {"port": 81}]},
            },
            "spec.ports[0].name: required when there is more than one port",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"ports": [{"port": 80, "nodePort": 30001}]},
            },
            "spec.ports[0].nodePort: may only be set for type NodePort or LoadBalancer",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"type": "ExternalName"},
            },
            "spec.externalName: required",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"type": "Headless", "ports": [{"port": 80}]},
            },
            'spec.type: Unsupported value "Headless"',
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "data": {"bad key": "x"},
            },
            "data: key must be a valid config key",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}},
            "data[a]: expected a string, got 1",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "data": {"a": "not base64!"},
            },
            "data[a]: expected base64-encoded bytes",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "d"},
                "spec": {"resources": {"requests": {"storage": "1Gi"}}},
            },
            "spec.accessModes: required",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "d"},
                "spec": {"accessModes": ["ReadWriteOnce"]},
            },
            "spec.resources.requests[storage]: required",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "d"},
                "spec": {"accessModes": ["RWO"], "resources": {"requests": {"storage": "1Gi"}}},
            },
            'spec.accessModes[0]: Unsupported value "RWO"',
        ),
        (
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "i"},
                "spec": {
                    "rules": [
                        {
                            "http": {
                                "paths": [
                                    {
                                        "path": "api",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "s", "port": {}}},
                                    }
                                ]
                            }
                        }
                    ]
                },
            },
            "spec.rules[0].http.paths[0].path: must be an absolute path for pathType Prefix",
        ),
        (
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "i"},
                "spec": {
                    "rules": [
                        {
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "s", "port": {}}},
                                    }
                                ]
                            }
                        }
                    ]
                },
            },
            "spec.rules[0].http.paths[0].backend.service.port: must specify exactly one of name or number",
        ),
        (
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "i"},
                "spec": {},
            },
            "spec: must specify defaultBackend or at least one rule",
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "w"},
                    "minReplicas": 5,
                    "maxReplicas": 2,
                },
            },
            "spec.maxReplicas: must be greater than or equal to minReplicas (5), got 2",
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w"}},
            },
            "spec.maxReplicas: required",
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "w"},
                    "maxReplicas": 3,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization"}},
                        }
                    ],
                },
            },
            "spec.metrics[0].resource.target.averageUtilization: required when type is Utilization",
        ),
        (
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "w"},
                    "maxReplicas": 3,
                    "metrics": [{"type": "Pods"}],
                },
            },
            "spec.metrics[0].pods: required when type is Pods",
        ),
        (
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "x"},
                "value": 2000000000,
            },
            "value: must be less than or equal to 1000000000, got 2000000000",
        ),
        (
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "system-mine"},
                "value": 1,
            },
            "metadata.name: the 'system-' prefix is reserved",
        ),
        (
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "x"},
            },
            "value: required",
        ),
        (
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "n"},
                "spec": {"taints": [{"key": "gpu", "effect": "Sometimes"}]},
            },
            'spec.taints[0].effect: Unsupported value "Sometimes"',
        ),
        (
            {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}},
            "involvedObject: required",
        ),
        (
            {
                "apiVersion": "tugboat.dev/v1",
                "kind": "Queue",
                "metadata": {"name": "q"},
                "spec": {"quota": {"nvidia.com/gpu": "-1"}},
            },
            'spec.quota[nvidia.com/gpu]: must be greater than or equal to 0, got "-1"',
        ),
        (
            {
                "apiVersion": "tugboat.dev/v1",
                "kind": "Queue",
                "metadata": {"name": "q"},
                "spec": {"quota": {"cpu": "lots"}},
            },
            "spec.quota[cpu]: quantities must match the regular expression",
        ),
        (
            {
                "apiVersion": "tugboat.dev/v1",
                "kind": "Queue",
                "metadata": {"name": "q"},
                "spec": {"cohort": "x"},
            },
            "spec.cohort: unknown field",
        ),
    ],
)
def test_other_kinds_invalid(doc: dict[str, Any], expected: str) -> None:
    details = problems_of(doc)
    assert any(d.startswith(expected) for d in details), details
