"""Volumes without Ray: the files of configMap, secret and downwardAPI volumes (keys, items,
modes, optional, what is missing), the kubelet's atomic swap on update, hostPath type checks,
symlinks followed inside the container's root, and the API's checks of volume paths."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from engine.api.validation import validate_object
from engine.errors import InvalidError, NotFoundError
from engine.runtime.mountns import resolve_in
from engine.runtime.volumefiles import Missing, volume_files
from engine.runtime.volumes import PodVolumes, VolumeFailure, write_projection


class _Store:
    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {(o["kind"], o["metadata"]["name"]): o for o in objs}

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        kind = {"configmaps": "ConfigMap", "secrets": "Secret"}[plural]
        if (kind, name) not in self.objs:
            raise NotFoundError(f"{plural} {name!r} not found")
        return self.objs[(kind, name)]


def _pod(*volumes: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1", "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "250m"}}}],
                     "volumes": list(volumes)}}


def _text(files: dict[str, Any], volume: str, path: str) -> str:
    return base64.b64decode(files[volume][path]["data"]).decode()


CM = {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"},
      "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}}
SECRET = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"token": base64.b64encode(b"xyz").decode()}}


def test_keys_items_modes_and_binary_data() -> None:
    items = [{"key": "b", "path": "sub/b.txt"}, {"key": "a", "path": "a", "mode": 0o400}]
    some = {"name": "cm", "defaultMode": 0o600, "items": items}
    files = volume_files(_pod({"name": "all", "configMap": {"name": "cm"}},
                              {"name": "some", "configMap": some},
                              {"name": "sec", "secret": {"secretName": "s"}}), _Store(CM, SECRET))
    assert sorted(files["all"]) == ["a", "b", "bin"]
    assert base64.b64decode(files["all"]["bin"]["data"]) == b"\x00\x01"
    assert files["all"]["a"]["mode"] == 0o644
    assert sorted(files["some"]) == ["a", "sub/b.txt"]
    assert files["some"]["sub/b.txt"]["mode"] == 0o600 and files["some"]["a"]["mode"] == 0o400
    assert _text(files, "sec", "token") == "xyz"  # decoded: the file holds the secret's bytes


def test_what_is_missing_is_said_and_optional_is_empty() -> None:
    with pytest.raises(Missing, match='volume "v" : configmap "nope" not found'):
        volume_files(_pod({"name": "v", "configMap": {"name": "nope"}}), _Store())
    with pytest.raises(Missing, match="non-existent config key: zz"):
        volume_files(_pod({"name": "v", "configMap": {"name": "cm", "items": [{"key": "zz", "path": "z"}]}}),
                     _Store(CM))
    with pytest.raises(Missing, match="couldn't find key 'k' in Secret 's'"):
        volume_files(_pod({"name": "v", "secret": {"secretName": "s", "items": [{"key": "k", "path": "k"}]}}),
                     _Store(SECRET))
    files = volume_files(_pod({"name": "v", "secret": {"secretName": "gone", "optional": True}}), _Store())
    assert files == {"v": {}}


def test_downward_api_files() -> None:
    pod = _pod({"name": "info", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu",
                                             "divisor": "1m"}}]}},
        labels={"b": 'say "hi"', "a": "1"})
    files = volume_files(pod, _Store())
    assert _text(files, "info", "labels") == 'a="1"\nb="say \\"hi\\""'
    assert _text(files, "info", "name") == "p"
    assert _text(files, "info", "cpu") == "250"


def test_an_update_swaps_in_whole(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    write_projection(target, {"a": {"data": base64.b64encode(b"1").decode(), "mode": 0o644},
                              "old": {"data": "", "mode": 0o644}})
    first = os.readlink(target / "..data")
    write_projection(target, {"a": {"data": base64.b64encode(b"2").decode(), "mode": 0o644}})
    assert (target / "a").read_text() == "2"
    assert not (target / "old").exists() and not (target / "old").is_symlink()
    assert os.readlink(target / "..data") != first and not (target / first).exists()
    assert sorted(p.name for p in target.iterdir()) == sorted(["..data", os.readlink(target / "..data"), "a"])


def test_host_path_types(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    pod = _pod({"name": "d", "hostPath": {"path": str(tmp_path / "file"), "type": "Directory"}},
               {"name": "f", "hostPath": {"path": str(tmp_path / "made"), "type": "FileOrCreate"}},
               {"name": "c", "hostPath": {"path": str(tmp_path / "new" / "d"), "type": "DirectoryOrCreate"}},
               {"name": "n", "nfs": {"server": "x", "path": "/"}})
    volumes = PodVolumes(pod, tmp_path / "pods", None)
    with pytest.raises(VolumeFailure, match="is not a directory"):
        volumes.source("d")
    assert volumes.source("f").is_file() and volumes.source("c").is_dir()
    with pytest.raises(VolumeFailure, match="nfs volumes are not served by tugboat yet"):
        volumes.source("n")


def test_symlinks_are_followed_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "var").mkdir(parents=True)
    (root / "run").mkdir()
    (root / "var" / "run").symlink_to("/run")
    (root / "lib").symlink_to("usr/lib")
    assert resolve_in(str(root), "/var/run/app") == "/run/app"
    assert resolve_in(str(root), "/lib/x/../y") == "/usr/lib/y"
    assert resolve_in(str(root), "/a/../../etc") == "/etc"


@pytest.mark.parametrize(("mount", "says"), [
    ({"name": "v", "mountPath": "relative"}, "mountPath: must be an absolute path"),
    ({"name": "v", "mountPath": "/x", "subPath": "../up"}, "subPath: must not contain '..'"),
    ({"name": "v", "mountPath": "/x", "subPath": "/abs"}, "subPath: must be a relative path"),
])
def test_the_api_refuses_paths_that_leave(mount: dict[str, Any], says: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "i", "volumeMounts": [mount]}],
                    "volumes": [{"name": "v", "emptyDir": {}}]}}
    with pytest.raises(InvalidError) as err:
        validate_object(pod)
    assert any(says in d for d in err.value.details)


def test_the_api_refuses_item_paths_that_leave() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "i"}],
                    "volumes": [{"name": "v", "configMap": {"name": "cm",
                                                            "items": [{"key": "k", "path": "../k"}]}},
                                {"name": "w", "downwardAPI": {"items": [{"path": "x"}]}}]}}
    with pytest.raises(InvalidError) as err:
        validate_object(pod)
    assert any("volumes[0].configMap.items[0].path: must not contain '..'" in d for d in err.value.details)
    assert any("volumes[1].downwardAPI.items[0]: must specify exactly one of" in d for d in err.value.details)
