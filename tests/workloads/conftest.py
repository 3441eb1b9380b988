"""The workload controllers' engine-level tests run against a real in-process control plane
(store, scheduler, controllers, API server; no Ray) through the real client: the engine tests'
fixture. Pods there are never run; a test writes the status a node would."""

from __future__ import annotations

from tests.engine.conftest import api_server  # noqa: F401 - the fixture, shared
