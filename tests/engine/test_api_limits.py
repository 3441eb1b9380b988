"""Numbers as hostile input: Kubernetes' int32/int64 bounds on fields, quantities that
overflow, durations past Go's, and query parameters that are not integers are a 4xx naming
the field or parameter, and store nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engine.api import parse_quantity, validate_object
from engine.errors import InvalidError

from .conftest import InProcessServer, trust


def _job(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {**spec, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "i", "command": ["true"]}]}}}}


@pytest.mark.parametrize(("spec", "needle"), [
    ({"parallelism": 10**20}, "spec.parallelism: must be less than or equal to 2147483647"),
    ({"completions": 2**31}, "spec.completions: must be less than or equal to 2147483647"),
    ({"backoffLimit": -(2**31) - 1}, "spec.backoffLimit: must be greater than or equal to -2147483648"),
    ({"activeDeadlineSeconds": 2**63},
     "spec.activeDeadlineSeconds: must be less than or equal to 9223372036854775807"),
])
def test_integer_fields_have_kubernetes_bounds(spec: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidError) as err:
        validate_object(_job(**spec), default_namespace="default")
    assert any(needle in line for line in err.value.details), err.value.details


def test_the_largest_int32_is_accepted() -> None:
    job = validate_object(_job(parallelism=2**31 - 1, backoffLimit=2**31 - 1), default_namespace="default")
    assert job.obj["spec"]["parallelism"] == 2**31 - 1


@pytest.mark.parametrize("text", ["1e400", "1E308", "9" * 500, "8Ei", "9223372036854775808", "1e1001"])
def test_quantities_past_int64_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="at most 9223372036854775807"):
        parse_quantity(text)


@pytest.mark.parametrize("text", ["7Ei", "9223372036854775807", "1e-400", "0.5"])
def test_quantities_up_to_int64_parse(text: str) -> None:
    assert parse_quantity(text).amount >= 0


def _post(api_server: InProcessServer, path: str, body: dict[str, Any]) -> httpx.Response:
    with api_server.client() as c:
        return httpx.post(c.server + path, json=body, headers={"Authorization": f"Bearer {c.token}"},
                          verify=trust(c))


def _pod(cpu: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "i", "command": ["true"], "resources": {"requests": {"cpu": cpu}}}]}}


@pytest.mark.parametrize("cpu", ["1e400", "1E308", "9" * 500])
def test_an_overflowing_quantity_is_a_422_with_its_field(api_server: InProcessServer, cpu: str) -> None:
    resp = _post(api_server, "/api/v1/namespaces/default/pods", _pod(cpu))
    assert resp.status_code == 422, resp.text
    assert any(c.get("field") == "spec.containers[0].resources.requests[cpu]"
               for c in resp.json()["details"]["causes"])
    with api_server.client() as c:
        assert c.list("pods")["items"] == []


def test_a_schedule_past_gos_longest_duration_is_a_422(api_server: InProcessServer) -> None:
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
            "spec": {"schedule": "@every 99999999999999h", "jobTemplate": {"spec": _job()["spec"]}}}
    resp = _post(api_server, "/apis/batch/v1/namespaces/default/cronjobs", cron)
    assert resp.status_code == 422, resp.text
    assert "spec.schedule" in resp.text and "2562047h" in resp.text


@pytest.mark.parametrize(("method", "path", "params", "needle"), [
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true", "resourceVersion": str(10**30)},
     "resourceVersion: must be from 0 to 9223372036854775807"),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true", "resourceVersion": "abc"},
     'resourceVersion: expected an integer, got "abc"'),
    ("GET", "/api/v1/namespaces/default/pods", {"resourceVersion": "abc"}, "resourceVersion: expected"),
    ("GET", "/api/v1/namespaces/default/pods", {"limit": "abc"}, 'limit: expected an integer, got "abc"'),
    ("GET", "/api/v1/pods", {"limit": "-5"}, "limit: must be from 0"),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true", "timeoutSeconds": "nan"},
     "timeoutSeconds: expected an integer"),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true", "timeoutSeconds": "inf"},
     "timeoutSeconds: expected an integer"),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true", "timeoutSeconds": "-1"},
     "timeoutSeconds: must be from 0"),
    ("GET", "/api/v1/namespaces/default/pods/p/log", {"tailLines": str(10**30)}, "tailLines: must be from 0"),
    ("GET", "/api/v1/namespaces/default/pods/p/log", {"tailLines": "1.5"}, "tailLines: expected an integer"),
    ("DELETE", "/api/v1/namespaces/default/pods/p", {"gracePeriodSeconds": str(10**30)},
     "gracePeriodSeconds: must be from 0"),
    ("DELETE", "/api/v1/namespaces/default/pods/p", {"gracePeriodSeconds": "nan"},
     "gracePeriodSeconds: expected an integer"),
])
def test_query_parameters_are_integers_in_range(api_server: InProcessServer, method: str, path: str,
                                                params: dict[str, str], needle: str) -> None:
    with api_server.client() as c:
        c.create(_pod("1"))
        resp = httpx.request(method, c.server + path, params=params, timeout=10, verify=trust(c),
                             headers={"Authorization": f"Bearer {c.token}"})
        assert resp.status_code == 400, resp.text
        assert needle in resp.json()["message"]
        assert [p["metadata"]["name"] for p in c.list("pods")["items"]] == ["p"]
