"""`tug kubeconfig [--merge]`: a kubeconfig for the control plane of $TUG_HOME (server, the CA
that signed its certificate, the token, a context with a namespace), printed, or merged into
$KUBECONFIG's first file (or ~/.kube/config) and made current, as kind and minikube do."""

from __future__ import annotations

import argparse
import base64
import os
import sys
from pathlib import Path
from typing import Any

from engine.config import read_config, write_private
from engine.errors import BadRequestError

Obj = dict[str, Any]


def build(name: str, namespace: str) -> Obj:
    """The kubeconfig of $TUG_HOME's control plane, under `name`."""
    cfg = read_config()
    cluster: Obj = {"server": cfg.server}
    if cfg.ca:
        try:
            cluster["certificate-authority-data"] = base64.b64encode(Path(cfg.ca).read_bytes()).decode()
        except OSError as exc:
            raise BadRequestError(f"cannot read the CA file {cfg.ca}: {exc.strerror}") from None
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": name, "user": {"token": cfg.token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
            "current-context": name}


def target() -> Path:
    """Where --merge writes: $KUBECONFIG's first file, else ~/.kube/config."""
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(paths[0]).expanduser() if paths else Path.home() / ".kube" / "config"


def merge(existing: Obj, ours: Obj) -> Obj:
    """`existing` with our cluster, user and context put in (replacing those of the same name)
    and made the current context; everything else kept as it was."""
    out = dict(existing)
    for key in ("clusters", "users", "contexts"):
        mine = ours[key][0]
        kept = [e for e in out.get(key) or [] if not (isinstance(e, dict) and e.get("name") == mine["name"])]
        out[key] = kept + [mine]
    out["current-context"] = ours["current-context"]
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    return out


def kubeconfig(args: argparse.Namespace) -> int:
    import yaml

    ours = build(args.context, args.namespace or "default")
    if not args.merge:
        sys.stdout.write(yaml.safe_dump(ours, sort_keys=False))
        return 0
    path = target()
    existing: Any = {}
    if path.exists():
        try:
            existing = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise BadRequestError(f"cannot read the kubeconfig {path}: {exc}") from None
        if not isinstance(existing, dict):
            raise BadRequestError(f"{path} is not a kubeconfig (not a mapping): left as it is")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, yaml.safe_dump(merge(existing, ours), sort_keys=False).encode())
    print(f"merged context {args.context!r} into {path} and made it current "
          f"(kubectl config use-context to switch back)")
    return 0
