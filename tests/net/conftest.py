"""The networking tests' in-process control plane: the engine tests' fixture, shared."""

from __future__ import annotations

from tests.engine.conftest import api_server  # noqa: F401 - the fixture, shared
