"""A pod's volumes on its node: emptyDir directories (on /dev/shm for `medium: Memory`), hostPath
checks by type, configMap/secret/downwardAPI files written with the kubelet's atomic swap (a
`..data` link to a timestamped directory, so a reader never sees half an update), subPath,
readOnly; and the container's command wrapped so that it runs in a mount namespace of its own
with each volume at its mount path (engine/runtime/mountns.py), or `-v` flags for a container
runtime. Removed with the pod. Whether this node can make mount namespaces is probed once."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.api.quantity import parse_quantity
from engine.net.hostsfile import hosts_text
from storage.claims import CLAIM_KEY

Obj = dict[str, Any]
MOUNTNS = Path(__file__).with_name("mountns.py")
DATA = "..data"
_support: dict[str, str | None] = {}  # "probe" -> None (works) or why not

HOST_PATH_CHECKS = {  # type -> (test, what it must be)
    "Directory": (stat.S_ISDIR, "a directory"), "File": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket"), "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device")}


class VolumeFailure(Exception):
    """A volume that cannot be mounted; `retry`: it may work later (FailedMount, as a
    hostPath that is not there yet), else the pod fails with `reason`."""

    def __init__(self, reason: str, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry = retry


def pod_roots(log_root: Path) -> list[Path]:
    """Where pods' volumes live on a node, first choice first (beside the logs)."""
    return [log_root.parent / "pods", Path(tempfile.gettempdir()) / "tugboat-pods"]


def mount_support(base: Path) -> str | None:
    """None when this node can give a process a mount namespace of its own; else why not
    (asked once per process: a helper run that makes a namespace, a tmpfs and a bind)."""
    if "probe" not in _support:
        why: str | None = None
        try:
            base.mkdir(parents=True, exist_ok=True)
            out = subprocess.run([sys.executable, "-I", "-S", str(MOUNTNS), "--probe", str(base)],
                                 capture_output=True, text=True, timeout=20)
            if out.returncode != 0:
                why = (out.stderr.strip().splitlines() or [f"the probe exited {out.returncode}"])[-1]
                if os.geteuid() != 0:
                    why += f" (tugboat runs as uid {os.geteuid()}: run it as root, or allow " \
                           f"unprivileged user namespaces)"
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = f"the probe could not run: {exc}"
        _support["probe"] = why
    return _support["probe"]


def write_projection(target: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write a configMap/secret/downwardAPI volume as the kubelet's AtomicWriter: the files in
    a new timestamped directory, `..data` swapped to it in one rename, a link per top-level name."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = Path(tempfile.mkdtemp(prefix=time.strftime("..%Y_%m_%d_%H_%M_%S."), dir=target))
    for rel, f in files.items():
        parts = [p for p in rel.split("/") if p]
        if not parts or ".." in parts:
            continue  # validated at write; never outside the volume
        path = stamp.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(f.get("data") or ""))
        path.chmod(int(f.get("mode", 0o644)) & 0o777)
    stamp.chmod(0o755)
    swap = target / "..data_tmp"
    if swap.is_symlink() or swap.exists():
        swap.unlink()
    swap.symlink_to(stamp.name)
    swap.rename(target / DATA)
    tops = {[p for p in rel.split("/") if p][0] for rel in files if [p for p in rel.split("/") if p]}
    for top in tops:
        if not (target / top).is_symlink():
            (target / top).symlink_to(f"{DATA}/{top}")
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            if entry.name not in (DATA, stamp.name) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name not in tops and entry.is_symlink():
            entry.unlink()


def disk_usage(path: Path) -> int:
    """Bytes the files under `path` take on disk, as `du` counts them (blocks, links not followed)."""
    total = 0
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(top, name)).st_blocks * 512
            except OSError:
                continue
    return total


class PodVolumes:
    """The volumes of one pod on this node."""

    def __init__(self, pod: Obj, base: Path, files: dict[str, dict[str, dict[str, Any]]] | None) -> None:
        self.pod = pod
        self.uid = str(pod["metadata"]["uid"])
        self.dir = base / self.uid
        self.files = files or {}
        self.volumes = {str(v.get("name")): v for v in (pod.get("spec") or {}).get("volumes") or []
                        if isinstance(v, dict)}
        self._sources: dict[str, Path] = {}

    def _shm(self) -> Path:
        shm = Path("/dev/shm")
        usable = shm.is_dir() and os.access(shm, os.W_OK)
        return shm / "tugboat-pods" / self.uid if usable else self.dir / "memory"

    def source(self, name: str) -> Path:
        """The node path behind volume `name`, made on first use."""
        if name in self._sources:
            return self._sources[name]
        volume = self.volumes.get(name)
        if volume is None:
            raise VolumeFailure("FailedMount", f"volume {name!r} is not one of the pod's volumes")
        failed = f'MountVolume.SetUp failed for volume "{name}" : '
        if volume.get("emptyDir") is not None:
            memory = (volume["emptyDir"] or {}).get("medium") == "Memory"
            path = (self._shm() if memory else self.dir / "volumes") / name
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)  # as the kubelet makes an emptyDir: any user of the pod may write
        elif volume.get("hostPath") is not None:
            path = self._host_path(volume["hostPath"], failed)
        elif volume.get("persistentVolumeClaim") is not None:  # its volume's directory on this node
            where = (self.files.get(name) or {}).get(CLAIM_KEY) or {}
            if not where.get("path"):
                raise VolumeFailure("FailedMount", f"{failed}its claim's volume is not known yet", retry=True)
            path = self._host_path({"path": where["path"], "type": "DirectoryOrCreate"}, failed, mode=0o777)
        elif any(volume.get(k) is not None for k in ("configMap", "secret", "downwardAPI")):
            path = self.dir / "volumes" / name
            write_projection(path, self.files.get(name, {}))
        else:
            kind = next((k for k, v in volume.items() if k != "name" and v is not None), "this kind")
            raise VolumeFailure("FailedMount", f"{failed}{kind} volumes are not served by tugboat yet")
        self._sources[name] = path
        return path

    @staticmethod
    def _host_path(source: Obj, failed: str, mode: int = 0o755) -> Path:
        path, kind = Path(str(source.get("path"))), str(source.get("type") or "")
        try:
            if kind in ("DirectoryOrCreate", "") and not path.exists():
                path.mkdir(mode=0o755, parents=True)  # "" : as a container runtime does
                path.chmod(mode)  # a claim's new volume: any user of its pods may write, as local-path
            elif kind == "FileOrCreate" and not path.exists():
                path.touch(mode=0o644)
            check = HOST_PATH_CHECKS.get(kind)
            if check is not None and not (path.exists() and check[0](path.stat().st_mode)):
                raise VolumeFailure("FailedMount", f"{failed}hostPath type check failed: {path} is not "
                                                   f"{check[1]}", retry=True)
        except OSError as exc:
            raise VolumeFailure("FailedMount", f"{failed}{exc.strerror or exc}: {path}", retry=True) from None
        return path

    def limited(self) -> bool:
        """Whether an emptyDir of the pod has a sizeLimit to watch."""
        return any(isinstance(v.get("emptyDir"), dict) and v["emptyDir"].get("sizeLimit")
                   for v in self.volumes.values())

    def over_limit(self) -> str | None:
        """The kubelet's eviction message for the first emptyDir using more than its sizeLimit."""
        for name, volume in self.volumes.items():
            limit = (volume.get("emptyDir") or {}).get("sizeLimit") if isinstance(volume, dict) else None
            if not limit or name not in self._sources:
                continue
            if disk_usage(self._sources[name]) > parse_quantity(str(limit)).value():
                return f'Usage of EmptyDir volume "{name}" exceeds the limit "{limit}". '
        return None

    def update(self, files: dict[str, dict[str, dict[str, Any]]]) -> None:
        """New contents of the projected volumes (a ConfigMap, Secret or label changed)."""
        for name, contents in files.items():
            if CLAIM_KEY in contents:
                continue  # a claim's volume: a directory, not files
            if name in self._sources and contents != self.files.get(name):
                write_projection(self._sources[name], contents)
        self.files = files

    def mounts(self, container: Obj) -> list[Obj]:
        """The helper's mounts for `container`: node path, mount path, readOnly, file."""
        out = []
        for m in container.get("volumeMounts") or []:
            source = self.source(str(m.get("name")))
            sub = str(m.get("subPath") or "")
            if sub:
                parts = [p for p in sub.split("/") if p]
                if ".." in parts:
                    raise VolumeFailure("FailedMount", f"subPath {sub!r} leaves the volume")
                source = source.joinpath(*parts)
                if not source.exists() and not source.is_symlink():
                    source.mkdir(parents=True, exist_ok=True)  # as the kubelet makes a missing subPath
                source = source.resolve()
            out.append({"source": str(source), "target": str(m.get("mountPath")),
                        "readOnly": bool(m.get("readOnly")), "file": not source.is_dir()})
        return out

    def hosts_mount(self, hosts: dict[str, list[Any]] | None, container: Obj) -> Obj | None:
        """The pod's /etc/hosts (engine/net/hostsfile.py: the node's, its hostAliases, the
        Services), written once, as a mount for `container`; None when there is nothing to add,
        when the container mounts its own /etc/hosts, or when this node cannot give it a mount
        namespace (names are added only where that costs nothing else)."""
        if not hosts or not any(hosts.values()) or mount_support(self.dir.parent) is not None:
            return None
        if any(str(m.get("mountPath") or "").rstrip("/") == "/etc/hosts"
               for m in container.get("volumeMounts") or []):
            return None
        path = self.dir / "etc-hosts"
        if not path.exists():
            try:
                node = Path("/etc/hosts").read_text(errors="replace")
            except OSError:
                node = ""
            self.dir.mkdir(parents=True, exist_ok=True)
            path.write_text(hosts_text(node, hosts))
            path.chmod(0o644)
        return {"source": str(path), "target": "/etc/hosts", "readOnly": False, "file": True}

    def wrap(self, container: Obj, argv: list[str], cwd: str | None,
             extra: list[Obj] | None = None) -> list[str]:
        """`argv` run by the helper in a mount namespace with the container's volumes."""
        why = mount_support(self.dir.parent)
        if why is not None:
            raise VolumeFailure("VolumeMountsUnsupported",
                                f"container {container.get('name')!r} mounts volumes, and this node cannot "
                                f"give a process a mount namespace of its own: {why}")
        root = self.dir / "roots" / str(container.get("name"))
        root.mkdir(parents=True, exist_ok=True)
        spec = {"root": str(root), "cwd": cwd, "mounts": [*self.mounts(container), *(extra or [])]}
        return [sys.executable, "-I", "-S", str(MOUNTNS), json.dumps(spec), "--", *argv]

    def runtime_flags(self, container: Obj) -> list[str]:
        """`-v` flags for docker or podman."""
        return [x for m in self.mounts(container)
                for x in ("-v", f"{m['source']}:{m['target']}{':ro' if m['readOnly'] else ''}")]

    def remove(self) -> None:
        """Everything the pod's volumes hold on this node (a hostPath is the node's own)."""
        for path in (self.dir, Path("/dev/shm") / "tugboat-pods" / self.uid):
            shutil.rmtree(path, ignore_errors=True)
        self._sources = {}
