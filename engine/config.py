"""$TUG_HOME and its client config file (mode 0600, like a kubeconfig): server, token, and the
CA file an https server is checked against.

tugboat writes the config as JSON, which is also YAML: a CLI call reads it without loading a
YAML parser, and a config someone wrote by hand in YAML is still read."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UnavailableError


def tug_home() -> Path:
    return Path(os.environ.get("TUG_HOME") or Path.home() / ".tugboat").expanduser()


# What $TUG_HOME holds that nobody else may read: the store (Secrets), tokens, the pid record.
_PRIVATE_FILES = ("store.db", "store.db-wal", "store.db-shm", "config", "server.pid",
                  "server.lock", "ray_auth_token")


def private_home(home: Path) -> Path:
    """Create `home` private (0700), and tighten what an earlier tugboat left under the
    umask: its files to 0600, its `logs/` to 0700 (symlinks are left alone)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    for name in _PRIVATE_FILES:
        path = home / name
        if path.is_file() and not path.is_symlink():
            os.chmod(path, 0o600)
    logs = home / "logs"
    if logs.is_dir() and not logs.is_symlink():
        os.chmod(logs, 0o700)
    return home


def write_private(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """Write `path` atomically with mode 0600: a new temp file beside it (O_EXCL|O_NOFOLLOW),
    synced, renamed over `path` (or, with replace=False, linked to it only if `path` does not
    exist yet), then the directory synced. A crash leaves the old file or the new one, never a
    part. Returns False when replace=False found `path` there already (it is left as it is)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
            written = True
        else:
            try:
                os.link(tmp, path)
                written = True
            except FileExistsError:
                written = False
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return written


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str
    ca: str | None = None  # the CA file an https server's certificate is checked against


def config_path(home: Path) -> Path:
    return home / "config"


def read_config(home: Path | None = None) -> ClientConfig:
    """The client config of `home`; a clear error when tugboat has never been started there."""
    home = home or tug_home()
    path = config_path(home)
    try:
        data = _load(path)
    except FileNotFoundError:
        raise UnavailableError(
            f"no tugboat config at {path}: start tugboat with `tug up` (or `tug server`), "
            f"or set TUG_HOME to the directory of a running one") from None
    except (OSError, ValueError) as exc:
        raise UnavailableError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not data.get("server") or not data.get("token"):
        raise UnavailableError(f"{path} must have `server` and `token`")
    ca = data.get("ca")
    return ClientConfig(server=str(data["server"]).rstrip("/"), token=str(data["token"]),
                        ca=str(ca) if ca else None)


def _load(path: Path) -> Any:
    """The config's data: JSON as tugboat writes it, else YAML (ValueError when it is neither)."""
    text = path.read_text()
    try:
        return json.loads(text)
    except ValueError:
        import yaml

        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(str(exc)) from None


def existing_token(home: Path) -> str | None:
    try:
        data = _load(config_path(home))
    except (OSError, ValueError):
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return str(token) if token else None


def api_token(home: Path) -> str:
    """The API token of `home`: the one its config has, or a new one."""
    return existing_token(home) or secrets.token_urlsafe(32)


def write_config(home: Path, *, server: str, token: str | None = None, ca: str | None = None) -> ClientConfig:
    """Write (or rewrite) the config with mode 0600, keeping an existing token."""
    private_home(home)
    token = token or api_token(home)
    data = {"server": server, "token": token, **({"ca": ca} if ca else {})}
    write_private(config_path(home), (json.dumps(data, indent=2) + "\n").encode())
    return ClientConfig(server=server, token=token, ca=ca)


def ray_auth_env(home: Path) -> dict[str, str]:
    """Ray's token authentication for a head tugboat starts, with the token under $TUG_HOME
    (created on first use). Ray reads these variables when it is imported: set them first."""
    token = home / "ray_auth_token"
    try:
        usable = len(token.read_text().strip()) >= 32
    except OSError:
        usable = False
    if not usable:
        private_home(home)
        value = secrets.token_hex(32).encode()
        # Two `tug up`s at once: the first link wins and both use its token. A file left empty
        # or short (a crash mid-write before writes were atomic) is replaced.
        if not write_private(token, value, replace=False) and len(token.read_text().strip()) < 32:
            write_private(token, value)
    return {"RAY_AUTH_TOKEN_PATH": str(token), "RAY_AUTH_MODE": "token"}
