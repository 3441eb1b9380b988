"""$TUG_HOME and its client config file (mode 0600, like a kubeconfig): server and token.

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


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str


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
    return ClientConfig(server=str(data["server"]).rstrip("/"), token=str(data["token"]))


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


def write_config(home: Path, *, server: str, token: str | None = None) -> ClientConfig:
    """Write (or rewrite) the config with mode 0600, keeping an existing token."""
    home.mkdir(parents=True, exist_ok=True)
    token = token or api_token(home)
    path = config_path(home)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"server": server, "token": token}, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return ClientConfig(server=server, token=token)


def ray_auth_env(home: Path) -> dict[str, str]:
    """Ray's token authentication for a head tugboat starts, with the token under $TUG_HOME
    (created on first use). Ray reads these variables when it is imported: set them first."""
    token = home / "ray_auth_token"
    if not token.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return {"RAY_AUTH_TOKEN_PATH": str(token), "RAY_AUTH_MODE": "token"}
