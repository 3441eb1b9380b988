"""Object builders and helpers shared by the engine.api validation and rules tests."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api import validate_object
from engine.errors import InvalidError

NI = "not implemented by tugboat yet; accepted and ignored"


def problems_of(doc: Any, **kw: Any) -> list[str]:
    with pytest.raises(InvalidError) as info:
        validate_object(doc, **kw)
    return info.value.details


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "main", "image": "busybox:1.36", **fields}


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [container()])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {**base, **spec},
    }


def job(
    name: str = "j",
    restart: str | None = "Never",
    pod_spec: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    template_spec: dict[str, Any] = {"containers": [container()], **(pod_spec or {})}
    if restart is not None:
        template_spec["restartPolicy"] = restart
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": template_spec}, **spec},
    }


def cronjob(name: str = "c", **spec: Any) -> dict[str, Any]:
    job_spec = job()["spec"]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": job_spec}, **spec},
    }
