"""Declared local nodes: what `tug up --config FILE` and `tug dev-cluster` start on one
machine (CPUs, simulated GPUs, a name, labels), and how a node carries that through Ray.

Ray has no node names or labels of its own here, so a declared node carries them as
zero-cost marker resources (`tugboat.dev/name:gpu-a`, `tugboat.dev/label:zone=a`,
`tugboat.dev/gpu-product:…`) that the runtime reads back from `ray.nodes()`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import InvalidError

SIMULATED_GPU = "tugboat_simulated_gpu"
SIMULATED_GPU_MEMORY = "tugboat_simulated_gpu_memory_mib"
NAME_PREFIX = "tugboat.dev/name:"
LABEL_PREFIX = "tugboat.dev/label:"
PRODUCT_PREFIX = "tugboat.dev/gpu-product:"
MODEL_PREFIX = "tugboat.dev/gpu-model:"  # one per GPU of a mixed node: "<index>:<memoryMiB>:<product>"
DEFAULT_GPU_PRODUCT = "Simulated GPU"
DEFAULT_GPU_MEMORY_MIB = 81920
MAX_GPUS_PER_NODE = 256
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NODE_KEYS = {"name", "cpus", "gpus", "gpuProduct", "gpuMemoryMiB", "labels"}
_GPU_KEYS = {"product", "memoryMiB", "count"}


@dataclass(frozen=True)
class NodeSpec:
    cpus: int | None = None
    gpus: int = 0
    gpu_product: str = DEFAULT_GPU_PRODUCT
    gpu_memory_mib: int = DEFAULT_GPU_MEMORY_MIB
    name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # a node with GPUs of several kinds: (product, memory MiB) per index; gpus is their number
    gpu_models: tuple[tuple[str, int], ...] = ()

    def ray_args(self) -> list[str]:
        """The `ray start` arguments that make a Ray node this one."""
        args = [] if self.cpus is None else [f"--num-cpus={self.cpus}"]
        resources: dict[str, float] = {}
        if self.gpus:
            args.append(f"--num-gpus={self.gpus}")
            resources.update({SIMULATED_GPU: self.gpus, SIMULATED_GPU_MEMORY: self.gpu_memory_mib,
                              PRODUCT_PREFIX + self.gpu_product: 1})
            for i, (product, memory_mib) in enumerate(self.gpu_models):
                resources[f"{MODEL_PREFIX}{i}:{memory_mib}:{product}"] = 1
        if self.name:
            resources[NAME_PREFIX + self.name] = 1
        for key, value in self.labels.items():
            resources[f"{LABEL_PREFIX}{key}={value}"] = 1
        if resources:
            args.append("--resources=" + json.dumps(resources))
        return args


def declared(resources: dict[str, Any]) -> dict[str, Any]:
    """What a Ray node's resources say was declared: name, labels, simulated GPU product."""
    out: dict[str, Any] = {"name": None, "labels": {}, "gpu_product": None, "gpu_models": []}
    models: dict[int, tuple[str, int]] = {}
    for key in resources:
        if key.startswith(NAME_PREFIX):
            out["name"] = key[len(NAME_PREFIX):]
        elif key.startswith(LABEL_PREFIX):
            k, _, v = key[len(LABEL_PREFIX):].partition("=")
            out["labels"][k] = v
        elif key.startswith(PRODUCT_PREFIX):
            out["gpu_product"] = key[len(PRODUCT_PREFIX):]
        elif key.startswith(MODEL_PREFIX):
            index, memory_mib, product = key[len(MODEL_PREFIX):].split(":", 2)
            models[int(index)] = (product, int(memory_mib))
    out["gpu_models"] = [models[i] for i in sorted(models)]
    return out


def dev_cluster(nodes: int, gpus_per_node: int, *, cpus_per_node: int | None = None,
                gpu_memory_mib: int = DEFAULT_GPU_MEMORY_MIB) -> list[NodeSpec]:
    if nodes < 1:
        raise InvalidError("--nodes: expected at least 1", details=["--nodes: expected >= 1"])
    if gpus_per_node < 0:
        raise InvalidError("--gpus-per-node: expected 0 or more",
                           details=["--gpus-per-node: expected >= 0"])
    return [NodeSpec(cpus=cpus_per_node, gpus=gpus_per_node, gpu_memory_mib=gpu_memory_mib,
                     name=f"node-{i}") for i in range(nodes)]


@dataclass(frozen=True)
class SchedulerConfig:
    """How the scheduler ranks nodes: kube-scheduler's NodeResourcesFit scoringStrategy."""

    strategy: str = "LeastAllocated"
    resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))


MAX_TOLERATION_S = 2**31 - 1


@dataclass(frozen=True)
class WorkloadsConfig:
    """What the Deployment and ReplicaSet controllers give each pod they make: a toleration of
    the `node.kubernetes.io/unreachable` NoExecute taint for this long (Kubernetes' default
    is 300 s; 0, tugboat's, adds none: a pod on a lost node is replaced at once)."""

    unreachable_toleration_s: int = 0


MAX_RUNNERS = 256


@dataclass(frozen=True)
class RunnersConfig:
    """Warm pod runners per node (engine/runtime/pool.py): at least `min_idle` wait idle, and a
    node has at most `max` in all; `max` 0 starts every pod in a new Ray actor."""

    min_idle: int = 4
    max: int = 16

    @classmethod
    def parse(cls, text: str) -> RunnersConfig:
        """`MIN:MAX` as --runners gives it."""
        low, sep, high = text.partition(":")
        problems: list[str] = []
        made = _runners({"minIdle": int(low), "max": int(high)} if sep and low.isdigit() and high.isdigit()
                        else text, problems, where="--runners")
        if problems:
            said = problems[0].replace("--runners.minIdle:", "--runners: MIN") \
                .replace("--runners.max:", "--runners: MAX")
            raise InvalidError(said if sep else f"--runners: expected MIN:MAX, got {text!r}")
        return made


def _runners(raw: Any, problems: list[str], where: str = "runners") -> RunnersConfig:
    if raw is None:
        return RunnersConfig()
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with minIdle and max")
        return RunnersConfig()
    problems += [f"{where}.{k}: unknown field" for k in sorted(set(raw) - {"minIdle", "max"}, key=str)]
    values = {}
    for key, default in (("minIdle", RunnersConfig.min_idle), ("max", RunnersConfig.max)):
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RUNNERS:
            problems.append(f"{where}.{key}: expected an integer from 0 to {MAX_RUNNERS}, got {value!r}")
            return RunnersConfig()
        values[key] = value
    if values["minIdle"] > values["max"]:
        problems.append(f"{where}.minIdle: {values['minIdle']} is more than max ({values['max']})")
        return RunnersConfig()
    return RunnersConfig(min_idle=values["minIdle"], max=values["max"])


@dataclass(frozen=True)
class ClusterConfig:
    nodes: list[NodeSpec]
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    workloads: WorkloadsConfig = field(default_factory=WorkloadsConfig)
    runners: RunnersConfig = field(default_factory=RunnersConfig)


def _workloads(raw: Any, problems: list[str]) -> WorkloadsConfig:
    if raw is None:
        return WorkloadsConfig()
    if not isinstance(raw, dict):
        problems.append("workloads: expected a mapping")
        return WorkloadsConfig()
    known = {"unreachableTolerationSeconds"}
    problems += [f"workloads.{k}: unknown field" for k in sorted(set(raw) - known, key=str)]
    seconds = raw.get("unreachableTolerationSeconds", 0)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_TOLERATION_S:
        problems.append(f"workloads.unreachableTolerationSeconds: expected an integer from 0 to "
                        f"{MAX_TOLERATION_S}, got {seconds!r}")
        return WorkloadsConfig()
    return WorkloadsConfig(unreachable_toleration_s=seconds)


def _scheduler(raw: Any, problems: list[str]) -> SchedulerConfig:
    if raw is None:
        return SchedulerConfig()
    if not isinstance(raw, dict):
        problems.append("scheduler: expected a mapping")
        return SchedulerConfig()
    problems += [f"scheduler.{k}: unknown field" for k in sorted(set(raw) - {"scoringStrategy"})]
    strategy = raw.get("scoringStrategy") or {}
    if not isinstance(strategy, dict):
        problems.append("scheduler.scoringStrategy: expected a mapping")
        return SchedulerConfig()
    problems += [f"scheduler.scoringStrategy.{k}: unknown field"
                 for k in sorted(set(strategy) - {"type", "resources"})]
    kind = strategy.get("type", "LeastAllocated")
    if kind not in ("LeastAllocated", "MostAllocated"):
        problems.append(f'scheduler.scoringStrategy.type: Unsupported value "{kind}": supported '
                        f'values "LeastAllocated", "MostAllocated"')
    resources: list[tuple[str, int]] = []
    for i, r in enumerate(strategy.get("resources") or [{"name": "cpu", "weight": 1},
                                                         {"name": "memory", "weight": 1}]):
        where = f"scheduler.scoringStrategy.resources[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            problems.append(f"{where}.name: expected a resource name")
            continue
        weight = r.get("weight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            problems.append(f"{where}.weight: expected an integer from 1 to 100, got {weight!r}")
            continue
        resources.append((r["name"], weight))
    return SchedulerConfig(strategy=str(kind), resources=tuple(resources))


def load_config(path: Path) -> ClusterConfig:
    """A cluster config file: its nodes, scheduler and workload settings; every problem named
    by its field path."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidError(f"{path} is not valid YAML", details=[str(exc)]) from None
    problems: list[str] = []
    if not isinstance(data, dict) or data.get("kind") != "ClusterConfig":
        raise InvalidError(f"{path}: expected a document with kind: ClusterConfig",
                           details=["kind: expected \"ClusterConfig\""])
    for key in set(data) - {"apiVersion", "kind", "nodes", "scheduler", "workloads", "runners"}:
        problems.append(f"{key}: unknown field")
    scheduler = _scheduler(data.get("scheduler"), problems)
    workloads = _workloads(data.get("workloads"), problems)
    runners = _runners(data.get("runners"), problems)
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        problems.append("nodes: expected a list of at least one node")
        raw_nodes = []
    specs: list[NodeSpec] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        problems += [f"{where}.{k}: unknown field" for k in sorted(set(raw) - _NODE_KEYS, key=str)]
        name = raw.get("name")
        if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
            problems.append(f"{where}.name: expected a lowercase DNS label, got {name!r}")
            name = None
        if name in names:
            problems.append(f"{where}.name: {name!r} is used twice")
        names.add(name or "")
        models: list[tuple[str, int]] = []
        if isinstance(raw.get("gpus"), list):
            models = _gpu_models(raw, where, problems)
            raw = {k: v for k, v in raw.items() if k != "gpus"}
        ints = {}
        for key, minimum in (("cpus", 1), ("gpus", 0), ("gpuMemoryMiB", 1)):
            value = raw.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < minimum):
                problems.append(f"{where}.{key}: expected an integer >= {minimum}, got {value!r}")
                value = None
            ints[key] = value
        labels = raw.get("labels") or {}
        if not isinstance(labels, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            problems.append(f"{where}.labels: expected a map of strings to strings")
            labels = {}
        product = raw.get("gpuProduct", DEFAULT_GPU_PRODUCT)
        if not isinstance(product, str) or not product:
            problems.append(f"{where}.gpuProduct: expected a string")
            product = DEFAULT_GPU_PRODUCT
        if models:
            specs.append(NodeSpec(cpus=ints["cpus"], gpus=len(models), gpu_product=models[0][0],
                                  gpu_memory_mib=models[0][1], name=name, labels=dict(labels),
                                  gpu_models=tuple(models) if len(set(models)) > 1 else ()))
            continue
        specs.append(NodeSpec(cpus=ints["cpus"], gpus=ints["gpus"] or 0, gpu_product=product,
                              gpu_memory_mib=ints["gpuMemoryMiB"] or DEFAULT_GPU_MEMORY_MIB,
                              name=name, labels=dict(labels)))
    if problems:
        raise InvalidError(f"{path} is invalid: {len(problems)} problem(s)", details=problems)
    return ClusterConfig(nodes=specs, scheduler=scheduler, workloads=workloads, runners=runners)


def _gpu_models(raw: dict[str, Any], where: str, problems: list[str]) -> list[tuple[str, int]]:
    """A node's `gpus` given as a list of {product, memoryMiB, count} (a node with GPUs of
    several kinds): (product, memory) for each GPU, in index order."""
    problems += [f"{where}.{k}: not allowed with a list of gpus (give each entry its own)"
                 for k in ("gpuProduct", "gpuMemoryMiB") if k in raw]
    models: list[tuple[str, int]] = []
    for j, entry in enumerate(raw["gpus"]):
        at = f"{where}.gpus[{j}]"
        if not isinstance(entry, dict):
            problems.append(f"{at}: expected a mapping with product, memoryMiB and count")
            continue
        problems += [f"{at}.{k}: unknown field" for k in sorted(set(entry) - _GPU_KEYS, key=str)]
        product, memory, count = entry.get("product"), entry.get("memoryMiB"), entry.get("count", 1)
        ok = True
        if not isinstance(product, str) or not product.strip():
            problems.append(f"{at}.product: expected a GPU product name, got {product!r}")
            ok = False
        for key, value, most in (("memoryMiB", memory, 2**31), ("count", count, MAX_GPUS_PER_NODE)):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
                problems.append(f"{at}.{key}: expected an integer from 1 to {most}, got {value!r}")
                ok = False
        if ok:
            models += [(str(product), int(memory))] * int(count)
    if len(models) > MAX_GPUS_PER_NODE:
        problems.append(f"{where}.gpus: at most {MAX_GPUS_PER_NODE} GPUs on a node, got {len(models)}")
    if not raw["gpus"]:
        problems.append(f"{where}.gpus: expected at least one GPU in the list")
    return models
