"""The TUI's tests drive the real app (App.run_test) against a real in-process control plane
(store, scheduler, API server; no Ray) through the real client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import InProcessServer


@pytest.fixture()
def api_server(tmp_path: Path) -> Iterator[InProcessServer]:
    srv = InProcessServer(tmp_path / "tug")
    try:
        yield srv
    finally:
        srv.close()
