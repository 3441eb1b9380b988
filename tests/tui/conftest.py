"""The TUI's tests drive the real app (App.run_test) against a real in-process control plane
(store, scheduler, API server; no Ray) through the real client: the engine tests' fixture."""

from __future__ import annotations

from tests.engine.conftest import api_server  # noqa: F401 - the fixture, shared
