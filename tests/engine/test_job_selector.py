"""A Job's selector is generated on its uid when it is created (engine/store/generated.py), as
kube-apiserver does, so `kubectl logs job/X` and `kubectl describe job` find its pods and no
other Job's (tests/integration/test_kubectl.py reads a Job's logs so); re-applying the
manifest keeps it, and it cannot be changed."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InvalidError

from .conftest import InProcessServer, until


def _job(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {
        "template": {"metadata": {"labels": {"app": "same"}}, "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}},
        **spec}}


def test_a_jobs_selector_is_its_own_uid_and_is_kept(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        a, b = c.create(_job("a")), c.create(_job("b"))
        uid = a["metadata"]["uid"]
        assert a["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = a["spec"]["template"]["metadata"]["labels"]
        assert labels == {"app": "same", "batch.kubernetes.io/controller-uid": uid,
                          "batch.kubernetes.io/job-name": "a", "controller-uid": uid, "job-name": "a"}
        assert b["spec"]["selector"] != a["spec"]["selector"]

        # the same manifest again (tug apply, a full update) keeps what the server generated
        # and the queue's annotation (it suspends the Job while no node is there)
        until(lambda: (c.get("jobs", "a")["metadata"].get("annotations") or {}).get("tugboat.dev/admission"))
        result = c.apply([_job("a")])["results"][0]
        assert result["action"] == "unchanged"
        assert c.get("jobs", "a")["metadata"]["annotations"]["tugboat.dev/admission"] == "Pending"
        assert c.get("jobs", "a")["spec"]["selector"] == a["spec"]["selector"]
        # kubectl label/annotate send a patch of the stored object, selector included: accepted
        c.patch("jobs", "a", {"metadata": {"labels": {"team": "x"}}})
        with pytest.raises(InvalidError) as refused:
            c.patch("jobs", "a", {"spec": {"selector": {"matchLabels": {"app": "same"}}}})
        assert "spec.selector: field is immutable" in str(refused.value.details)
        assert c.get("jobs", "a")["spec"]["selector"] == a["spec"]["selector"]


def test_a_selector_of_ones_own_needs_manual_selector(api_server: InProcessServer) -> None:
    with api_server.client() as c:
        with pytest.raises(InvalidError) as refused:
            c.create(_job("x", selector={"matchLabels": {"app": "same"}}))
        assert "spec.selector: `selector` will be auto-generated" in str(refused.value.details)
        made = c.create(_job("m", manualSelector=True, selector={"matchLabels": {"app": "same"}}))
        assert made["spec"]["selector"] == {"matchLabels": {"app": "same"}}
        assert made["spec"]["template"]["metadata"]["labels"] == {"app": "same"}


def test_a_deployments_revision_stays_when_its_manifest_is_applied_again(api_server: InProcessServer) -> None:
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "9"]}]}}}}
    with api_server.client() as c:
        assert c.apply([web])["results"][0]["action"] == "created"
        revision = "deployment.kubernetes.io/revision"
        until(lambda: (c.get("deployments", "web")["metadata"].get("annotations") or {}).get(revision))
        assert c.apply([web])["results"][0]["action"] == "unchanged"
        assert c.get("deployments", "web")["metadata"]["annotations"][revision] == "1"
        web["metadata"]["annotations"] = {"team": "x"}
        assert c.apply([web])["results"][0]["action"] == "configured"
        assert c.get("deployments", "web")["metadata"]["annotations"] == {"team": "x", revision: "1"}
