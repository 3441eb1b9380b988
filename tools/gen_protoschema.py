"""Writes engine/api/protoschema.json: the protobuf field numbers of the Kubernetes kinds tugboat
reads in protobuf (what kubectl's typed generators send), from the `generated.proto` files of
a checkout of k8s.io/api and k8s.io/apimachinery at the release tugboat speaks (v0.32.x):

    python tools/gen_protoschema.py API_DIR APIMACHINERY_DIR > engine/api/protoschema.json

Not run by the tests or the CI; the output is committed."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOTS = [f"k8s.io.api.{m}" for m in (
    "core.v1.Pod", "core.v1.Node", "core.v1.Event", "core.v1.Namespace", "core.v1.Service",
    "core.v1.Endpoints", "discovery.v1.EndpointSlice", "core.v1.PersistentVolumeClaim",
    "core.v1.PersistentVolume", "storage.v1.StorageClass", "core.v1.ConfigMap", "core.v1.Secret",
    "apps.v1.Deployment", "apps.v1.ReplicaSet", "batch.v1.Job", "batch.v1.CronJob",
    "networking.v1.Ingress", "networking.v1.IngressClass", "autoscaling.v2.HorizontalPodAutoscaler",
    "autoscaling.v1.HorizontalPodAutoscaler", "autoscaling.v1.Scale", "scheduling.v1.PriorityClass",
    "authorization.v1.SelfSubjectAccessReview", "authorization.v1.SelfSubjectRulesReview",
    "authentication.v1.SelfSubjectReview", "policy.v1.Eviction")]
ROOTS.append("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
SCALARS = {"string", "int32", "int64", "bool", "bytes", "double", "float"}
FIELD = re.compile(r"(optional|repeated)?\s*(map<\s*\w+\s*,\s*[\w.]+\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;")


def short(name: str) -> str:
    return name.removeprefix("k8s.io.api.").removeprefix("k8s.io.apimachinery.pkg.")


def main(dirs: list[str]) -> None:
    messages: dict[str, tuple[str, list[tuple[int, str, str, bool]]]] = {}
    for base in dirs:
        for path in Path(base).rglob("generated.proto"):
            text = re.sub(r"//[^\n]*", "", path.read_text())
            found = re.search(r"^package ([\w.]+);", text, re.M)
            assert found, path
            for m in re.finditer(r"^message (\w+) \{(.*?)^\}", text, re.M | re.S):
                fields = [(int(n), name, typ, label == "repeated")
                          for label, typ, name, n in FIELD.findall(m[2])]
                messages[f"{found[1]}.{m[1]}"] = (found[1], fields)

    def resolve(package: str, typ: str) -> str:
        if typ in SCALARS:
            return typ
        if typ.startswith("map<"):
            key, value = (t.strip() for t in typ[4:-1].split(","))
            return f"{{{key}:{resolve(package, value)}}}"
        typ = typ.lstrip(".")
        for candidate in (typ, f"{package}.{typ}"):
            if candidate in messages:
                return "." + short(candidate)
        raise KeyError(f"{package}: {typ}")

    out: dict[str, str] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if short(name) in out:
            continue
        package, fields = messages[name]
        parts = []
        for number, field, typ, repeated in sorted(fields):
            kind = resolve(package, typ)
            parts.append(f"{number} {field} {kind}{'*' if repeated else ''}")
            for inner in re.findall(r"\.([\w.]+)", kind):
                todo.append(next(n for n in messages if short(n) == inner))
        out[short(name)] = ";".join(parts)
    # JSON, one message a line: {"MESSAGE": "NUMBER NAME TYPE[*];...", ...} (`*`: repeated; `.MSG` a
    # message; `{KEY:VALUE}` a map), read by engine/api/protobuf.py
    print("{" + ",\n".join(f"{json.dumps(name)}: {json.dumps(out[name])}" for name in sorted(out)) + "}")


if __name__ == "__main__":
    main(sys.argv[1:])
