"""A real control plane without Ray (store, scheduler, API server) in a background thread."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.client import Client
from engine.clock import Clock, utcnow
from engine.controlplane import ControlPlane


def until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy (returned); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
    return value


class InProcessServer:
    def __init__(self, home: Path, *, history: int = 10000, clock: Clock = utcnow, **settings: Any) -> None:
        self.home = home
        self.loop = asyncio.new_event_loop()
        self.cp = ControlPlane(home, ray_address=None, port=0, store_history=history, clock=clock, **settings)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.cp.start(), self.loop).result(30)

    def client(self) -> Client:
        return Client.from_config(self.home)

    def call(self, fn, *args, **kw):  # type: ignore[no-untyped-def]
        """Run `fn` in the server's loop thread (the store is single-threaded)."""
        async def run():  # type: ignore[no-untyped-def]
            return fn(*args, **kw)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def close(self) -> None:
        """Stop the control plane (again: nothing)."""
        if not self.thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.cp.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def kubeconfig_of(srv: InProcessServer, path: Path) -> Path:
    """`path`, holding the kubeconfig `tug kubeconfig` prints for this control plane."""
    env = {**os.environ, "TUG_HOME": str(srv.home)}
    out = subprocess.run([sys.executable, "-m", "engine.cli", "kubeconfig"], capture_output=True, text=True,
                         env=env, cwd=Path(__file__).resolve().parents[2], timeout=60, check=True)
    path.write_text(out.stdout)
    return path


def trust(client: Client) -> ssl.SSLContext | bool:
    """What httpx checks the server's certificate against: the CA of the client's config."""
    return ssl.create_default_context(cafile=client.ca) if client.ca else True


@pytest.fixture()
def api_server(tmp_path: Path) -> Iterator[InProcessServer]:
    srv = InProcessServer(tmp_path / "tug")
    try:
        yield srv
    finally:
        srv.close()


# -- store fixtures shared by test_store.py and test_store_gc.py ---------------------------------
from engine.store import Store  # noqa: E402

from .store_helpers import FakeClock  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store(tmp_path / "store.db", clock=clock)
    yield s
    s.close()
