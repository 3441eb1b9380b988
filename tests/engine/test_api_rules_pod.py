"""Pod spec rules: containers, env, probes, volumes, scheduling, resources, GPUs, warnings."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api import validate_object

from .api_builders import NI, container, deployment, pod, problems_of


# -- containers and pods -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"containers": []}, "spec.containers: must have at least one container"),
        (
            {"containers": [container(name="Main")]},
            "spec.containers[0].name: must be a lowercase RFC 1123 label",
        ),
        (
            {"containers": [container(), container()]},
            'spec.containers[1].name: Duplicate value "main"',
        ),
        (
            {"containers": [container()], "initContainers": [container()]},
            'spec.containers[0].name: Duplicate value "main"',
        ),
        ({"containers": [container(image="")]}, "spec.containers[0].image: required"),
        (
            {"containers": [container(ports=[{"containerPort": 0}])]},
            "spec.containers[0].ports[0].containerPort: must be between 1 and 65535, inclusive, got 0",
        ),
        (
            {"containers": [container(ports=[{"containerPort": 70000}])]},
            "spec.containers[0].ports[0].containerPort: must be between 1 and 65535, inclusive, got 70000",
        ),
        (
            {"containers": [container(ports=[{"containerPort": 80, "hostPort": 99999}])]},
            "spec.containers[0].ports[0].hostPort: must be between 1 and 65535, inclusive",
        ),
        (
            {
                "containers": [
                    container(
                        ports=[
                            {"containerPort": 80, "name": "a", "protocol": "TCP"},
                            {"containerPort": 81, "name": "a"},
                        ]
                    )
                ]
            },
            'spec.containers[0].ports[1].name: Duplicate value "a"',
        ),
        (
            {"containers": [container(ports=[{"containerPort": 80, "protocol": "tcp"}])]},
            'spec.containers[0].ports[0].protocol: Unsupported value "tcp"',
        ),
        (
            {"containers": [container(env=[{"name": "A=B", "value": "x"}])]},
            "spec.containers[0].env[0].name: must be printable ASCII characters other than '='",
        ),
        (
            {
                "containers": [
                    container(
                        env=[
                            {
                                "name": "A",
                                "value": "x",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            }
                        ]
                    )
                ]
            },
            "spec.containers[0].env[0].valueFrom: may not be specified when `value` is not empty",
        ),
        (
            {
                "containers": [
                    container(
                        env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.x"}}}]
                    )
                ]
            },
            'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value "spec.x"',
        ),
        (
            {"containers": [container(env=[{"name": "A", "valueFrom": {}}])]},
            "spec.containers[0].env[0].valueFrom: must specify exactly one of fieldRef",
        ),
        (
            {"containers": [container(volumeMounts=[{"name": "nope", "mountPath": "/x"}])]},
            'spec.containers[0].volumeMounts[0].name: must name a volume of the pod, got "nope" (Not found)',
        ),
        (
            {"containers": [container(livenessProbe={"periodSeconds": 5})]},
            "spec.containers[0].livenessProbe: must specify a handler type",
        ),
        (
            {
                "containers": [
                    container(
                        livenessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}
                    )
                ]
            },
            "spec.containers[0].livenessProbe: may not specify more than 1 handler type, got exec, tcpSocket",
        ),
        (
            {
                "containers": [
                    container(livenessProbe={"exec": {"command": ["true"]}, "successThreshold": 2})
                ]
            },
            "spec.containers[0].livenessProbe.successThreshold: must be 1, got 2",
        ),
        (
            {"containers": [container(readinessProbe={"httpGet": {"port": "Not_A_Name"}})]},
            "spec.containers[0].readinessProbe.httpGet.port: must be a port number (1-65535) or an IANA",
        ),
        (
            {
                "containers": [
                    container(readinessProbe={"tcpSocket": {"port": 80}, "periodSeconds": -1})
                ]
            },
            "spec.containers[0].readinessProbe.periodSeconds: must be greater than or equal to 0, got -1",
        ),
        (
            {
                "containers": [container()],
                "initContainers": [
                    container(name="init", readinessProbe={"exec": {"command": ["true"]}})
                ],
            },
            (
                "spec.initContainers[0].readinessProbe: may not be set for init containers without "
                "restartPolicy=Always"
            ),
        ),
        (
            {"containers": [container(lifecycle={"preStop": {}})]},
            "spec.containers[0].lifecycle.preStop: must specify exactly one handler type",
        ),
        (
            {"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]},
            "spec.volumes[0]: may not specify more than 1 volume type, got emptyDir, hostPath",
        ),
        (
            {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
            'spec.volumes[1].name: Duplicate value "v"',
        ),
        (
            {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": ""}}]},
            "spec.volumes[0].persistentVolumeClaim.claimName: required",
        ),
        (
            {"terminationGracePeriodSeconds": -1},
            "spec.terminationGracePeriodSeconds: must be greater than or equal to 0, got -1",
        ),
        ({"activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds: must be between 1 and"),
        ({"nodeSelector": {"gpu type": "a100"}}, "spec.nodeSelector: key must be a qualified name"),
        ({"hostname": "Trainer"}, "spec.hostname: must be a lowercase RFC 1123 label"),
        (
            {"tolerations": [{"operator": "Equal", "value": "x"}]},
            "spec.tolerations[0].operator: must be Exists when `key` is empty",
        ),
        (
            {"tolerations": [{"key": "k", "operator": "Exists", "value": "x"}]},
            "spec.tolerations[0].value: must be empty when `operator` is 'Exists'",
        ),
        (
            {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]},
            "spec.tolerations[0].effect: must be 'NoExecute' when `tolerationSeconds` is set",
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "gpus", "operator": "Gt", "values": ["a"]}
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            (
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                "nodeSelectorTerms[0].matchExpressions[0].values[0]: must be an integer for Gt"
            ),
        ),
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "zone", "operator": "In"}]}
                            ]
                        }
                    }
                }
            },
            (
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                "nodeSelectorTerms[0].matchExpressions[0].values: must be specified when `operator` is 'In'"
            ),
        ),
        (
            {"hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a"]}, {"ip": "1.2.3", "hostnames": ["b"]}]},
            'spec.hostAliases[1].ip: Invalid value: "1.2.3": must be a valid IP address',
        ),
        (
            {"hostAliases": [{"ip": "::1", "hostnames": ["ok", "Not_OK"]}]},
            "spec.hostAliases[0].hostnames[1]: must be a lowercase RFC 1123 subdomain",
        ),
    ],
)
def test_pod_rules(spec: dict[str, Any], expected: str) -> None:
    details = problems_of(pod(**spec))
    assert any(d.startswith(expected) for d in details), details


def test_full_pod_is_valid() -> None:
    doc = pod(
        initContainers=[container(name="setup", command=["sh", "-c", "echo"])],
        containers=[
            container(
                command=["python", "train.py"],
                args=["--epochs", "$(EPOCHS)"],
                workingDir="/app",
                env=[
                    {"name": "EPOCHS", "value": "3"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {
                        "name": "TIER",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}},
                    },
                    {"name": "CFG", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
                    {
                        "name": "TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "s", "key": "t", "optional": True}},
                    },
                    {
                        "name": "CPU",
                        "valueFrom": {
                            "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}
                        },
                    },
                ],
                envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
                ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                resources={
                    "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": 2},
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                },
                volumeMounts=[
                    {"name": "data", "mountPath": "/data", "readOnly": True},
                    {"name": "scratch", "mountPath": "/tmp/s"},
                ],
                livenessProbe={"httpGet": {"path": "/healthz", "port": "http"}},
                readinessProbe={"grpc": {"port": 9090}},
                startupProbe={"tcpSocket": {"port": 8080}, "failureThreshold": 30},
                lifecycle={"preStop": {"exec": {"command": ["sleep", "5"]}}},
            )
        ],
        volumes=[
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi", "medium": "Memory"}},
            {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}},
            {"name": "sec", "secret": {"secretName": "s"}},
            {"name": "host", "hostPath": {"path": "/mnt", "type": "Directory"}},
        ],
        nodeSelector={"gpu": "a100"},
        nodeName="node-1",
        hostname="h",
        subdomain="s",
        tolerations=[
            {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"operator": "Exists"},
        ],
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["4"]}]}
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {
                            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]
                        },
                    }
                ],
            }
        },
        priorityClassName="high",
        priority=1000,
        schedulerName="default-scheduler",
        serviceAccountName="trainer",
        activeDeadlineSeconds=3600,
        securityContext={"runAsUser": 1000, "fsGroup": 2000},
    )
    result = validate_object(doc)
    assert result.warnings == []
    assert result.obj["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "2"


# -- resources and GPUs (section 6) --------------------------------------------------------------
PATH = "spec.containers[0].resources"


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({"limits": {"nvidia.com/gpu": 1}}, None),
        ({"limits": {"nvidia.com/gpu": 2}, "requests": {"nvidia.com/gpu": 2}}, None),
        ({"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": 2}}, None),
        ({"limits": {"nvidia.com/gpu": 0}}, None),
        ({"limits": {"example.com/foo": 3}}, None),
        (
            {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 2}},
            f'{PATH}.requests[nvidia.com/gpu]: must be equal to nvidia.com/gpu limit of 2, got "1"',
        ),
        (
            {"requests": {"nvidia.com/gpu": 1}},
            (
                f"{PATH}.limits[nvidia.com/gpu]: Limit must be set for non overcommitable resources, "
                "got a request of 1 and no limit"
            ),
        ),
        (
            {"limits": {"nvidia.com/gpu": 0.5}},
            f'{PATH}.limits[nvidia.com/gpu]: must be an integer, got "500m"',
        ),
        (
            {"limits": {"nvidia.com/gpu": "500m"}},
            f'{PATH}.limits[nvidia.com/gpu]: must be an integer, got "500m"',
        ),
        (
            {"limits": {"hugepages-2Mi": "100Mi"}, "requests": {"hugepages-2Mi": "50Mi"}},
            f'{PATH}.requests[hugepages-2Mi]: must be equal to hugepages-2Mi limit of 100Mi, got "50Mi"',
        ),
        (
            {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
            f'{PATH}.requests[cpu]: must be less than or equal to cpu limit of 1, got "2"',
        ),
        (
            {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}},
            f'{PATH}.requests[memory]: must be less than or equal to memory limit of 1Gi, got "2Gi"',
        ),
        ({"requests": {"cpu": "1500m"}, "limits": {"cpu": "2"}}, None),
        ({"requests": {"cpu": 2}}, None),
        (
            {"requests": {"cpu": "-1"}},
            f'{PATH}.requests[cpu]: must be greater than or equal to 0, got "-1"',
        ),
        ({"limits": {"gpu": 1}}, f"{PATH}.limits: resource names must be cpu, memory"),
    ],
)
def test_resource_rules(resources: dict[str, Any], expected: str | None) -> None:
    doc = pod(containers=[container(resources=resources)])
    if expected is None:
        validate_object(doc)
    else:
        details = problems_of(doc)
        assert any(d.startswith(expected) for d in details), details


def test_bad_gpu_limit_reported_once() -> None:
    details = problems_of(
        pod(containers=[container(resources={"limits": {"nvidia.com/gpu": 0.5}})])
    )
    assert details == [f'{PATH}.limits[nvidia.com/gpu]: must be an integer, got "500m"']


# -- not-implemented fields ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "warnings"),
    [
        ({"hostNetwork": True}, ["spec.hostNetwork"]),
        ({"hostNetwork": False}, []),
        ({"dnsPolicy": "ClusterFirst"}, []),
        ({"dnsPolicy": "Default"}, ["spec.dnsPolicy"]),
        ({"dnsConfig": {"nameservers": ["1.1.1.1"]}}, ["spec.dnsConfig"]),
        ({"hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a"]}]}, []),  # served: /etc/hosts
        ({"topologySpreadConstraints": [{"maxSkew": 1}]}, ["spec.topologySpreadConstraints"]),
        ({"runtimeClassName": "nvidia"}, ["spec.runtimeClassName"]),
        ({"imagePullSecrets": [{"name": "reg"}]}, ["spec.imagePullSecrets"]),
        ({"imagePullSecrets": []}, []),
        (
            {"shareProcessNamespace": True, "hostPID": True, "hostIPC": True},
            ["spec.hostPID", "spec.hostIPC", "spec.shareProcessNamespace"],
        ),
        (
            {"readinessGates": [{"conditionType": "x"}], "overhead": {"cpu": "1"}},
            ["spec.overhead", "spec.readinessGates"],
        ),
        ({"ephemeralContainers": [{"name": "debug"}]}, ["spec.ephemeralContainers"]),
        ({"affinity": {"podAntiAffinity": {"x": 1}}}, ["spec.affinity.podAntiAffinity"]),
        (
            {
                "containers": [
                    container(securityContext={"privileged": True}, tty=True, stdin=False)
                ]
            },
            ["spec.containers[0].securityContext", "spec.containers[0].tty"],
        ),
        (
            {
                "containers": [
                    container(),
                    container(name="b", resizePolicy=[{"x": 1}], volumeDevices=[{"name": "d"}]),
                ]
            },
            ["spec.containers[1].resizePolicy", "spec.containers[1].volumeDevices"],
        ),
        (
            {"volumes": [{"name": "v", "nfs": {"server": "s", "path": "/"}}]},
            ["spec.volumes[0].nfs"],
        ),
        (
            {"containers": [container(lifecycle={"postStart": {"exec": {"command": ["x"]}}})]},
            ["spec.containers[0].lifecycle.postStart"],
        ),
    ],
)
def test_not_implemented_warnings(spec: dict[str, Any], warnings: list[str]) -> None:
    result = validate_object(pod(**spec))
    assert sorted(result.warnings) == sorted(f"{w}: {NI}" for w in warnings)


def test_not_implemented_fields_are_kept() -> None:
    doc = pod(hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a"]}], dnsPolicy="None")
    spec = validate_object(doc).obj["spec"]
    assert spec["hostAliases"] == [{"ip": "1.2.3.4", "hostnames": ["a"]}]
    assert spec["dnsPolicy"] == "None"


def test_warnings_inside_templates() -> None:
    doc = deployment()
    doc["spec"]["template"]["spec"]["affinity"] = {"podAffinity": {"required": []}}
    assert validate_object(doc).warnings == [f"spec.template.spec.affinity.podAffinity: {NI}"]
