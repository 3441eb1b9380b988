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
