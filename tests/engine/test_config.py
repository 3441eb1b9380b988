"""The client config: written private as JSON (which is YAML too), read back either way."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from engine.config import read_config, write_config
from engine.errors import UnavailableError


def test_written_as_private_json_and_read_back(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, server="http://127.0.0.1:1234")
    path = tmp_path / "config"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"server": "http://127.0.0.1:1234", "token": cfg.token}
    assert read_config(tmp_path) == cfg
    again = write_config(tmp_path, server="http://127.0.0.1:5678")
    assert again.token == cfg.token  # the token outlives a new address


def test_a_config_written_by_hand_in_yaml_is_read(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("# mine\nserver: http://10.0.0.1:6780/\ntoken: abc\n")
    cfg = read_config(tmp_path)
    assert (cfg.server, cfg.token) == ("http://10.0.0.1:6780", "abc")


@pytest.mark.parametrize("text", ["server: [unclosed\n", "- a list\n", "server: x\n"])
def test_a_broken_config_is_one_clear_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "config").write_text(text)
    with pytest.raises(UnavailableError, match=str(tmp_path / "config")):
        read_config(tmp_path)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_home_files_are_private_and_an_old_home_is_tightened(tmp_path: Path) -> None:
    from engine.controlplane import ControlPlane
    from tests.engine.conftest import InProcessServer

    home = tmp_path / "tug"
    old = os.umask(0o022)
    try:
        home.mkdir(mode=0o755)
        (home / "logs").mkdir(mode=0o755)
        for name in ("store.db", "config"):
            (home / name).write_text("")
            os.chmod(home / name, 0o644)
        (home / "config").write_text('{"server": "http://127.0.0.1:1", "token": "t"}')
        srv = InProcessServer(home)
    finally:
        os.umask(old)
    try:
        assert isinstance(srv.cp, ControlPlane)
        assert _mode(home) == 0o700 and _mode(home / "logs") == 0o700
        for name in ("store.db", "store.db-wal", "config", "server.pid", "server.lock"):
            assert _mode(home / name) == 0o600, name
    finally:
        srv.close()


def test_a_new_home_is_private_from_the_start(tmp_path: Path) -> None:
    from tests.engine.conftest import InProcessServer

    old = os.umask(0o022)
    try:
        srv = InProcessServer(tmp_path / "new" / "tug")
    finally:
        os.umask(old)
    try:
        assert _mode(tmp_path / "new" / "tug") == 0o700
        assert _mode(tmp_path / "new" / "tug" / "store.db") == 0o600
    finally:
        srv.close()


def test_ray_token_is_written_once_atomically_and_an_empty_one_is_replaced(tmp_path: Path) -> None:
    import concurrent.futures

    from engine.config import ray_auth_env

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        envs = list(pool.map(lambda _: ray_auth_env(tmp_path), range(16)))
    token = tmp_path / "ray_auth_token"
    first = token.read_text()
    assert len(first) == 64 and _mode(token) == 0o600
    assert all(e["RAY_AUTH_TOKEN_PATH"] == str(token) for e in envs)
    assert ray_auth_env(tmp_path) and token.read_text() == first  # kept once written
    token.write_text("")  # what a crash mid-write used to leave
    ray_auth_env(tmp_path)
    assert len(token.read_text()) == 64 and token.read_text() != first
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
