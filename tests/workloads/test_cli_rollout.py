"""`tug rollout`, `tug scale`, `tug set image|env` and `tug edit` as processes against a real
control plane (no Ray: the test plays the nodes, writing Ready for each new pod)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from tests.engine.conftest import InProcessServer, until
from tests.engine.test_cli import tug
from tests.workloads.test_deploy_controller import deployment, image_of, live_pods, play_nodes, ready

REVISION = "deployment.kubernetes.io/revision"


def settle(api_server: InProcessServer, image: str, replicas: int) -> None:
    """Play the nodes until `replicas` pods of `image` are all ready and nothing else runs."""
    with api_server.client() as c:
        def done() -> bool:
            pods = live_pods(c)
            if len(pods) == replicas and all(ready(p) and image_of(p) == image for p in pods):
                d = c.get("deployments", "web")
                return (d["status"].get("availableReplicas") == replicas
                        and d["status"].get("updatedReplicas") == replicas)
            play_nodes(c)
            return False
        until(done)


def revisions(api_server: InProcessServer) -> dict[str, dict[str, Any]]:
    with api_server.client() as c:
        return {rs["metadata"]["annotations"][REVISION]: rs for rs in c.list("replicasets")["items"]}


def test_rollout_verbs_scale_and_set(api_server: InProcessServer) -> None:
    home = api_server.home
    with api_server.client() as c:
        c.create(deployment(replicas=2))
    settle(api_server, "v1", 2)
    out = tug(home, "rollout", "status", "deployment/web")
    assert out.returncode == 0 and out.stdout.strip() == 'deployment "web" successfully rolled out'

    out = tug(home, "set", "image", "deployment/web", "c=v2")
    assert out.returncode == 0 and out.stdout.strip() == "deployment.apps/web image updated"
    assert tug(home, "set", "image", "deploy/web", "nope=v3").stderr.strip() == \
        'error: unable to find container named "nope"'
    out = tug(home, "rollout", "status", "deployment/web", "--watch=false")
    assert out.returncode == 1 and out.stdout.startswith("Waiting for deployment")
    settle(api_server, "v2", 2)
    history = tug(home, "rollout", "history", "deployment/web").stdout.splitlines()
    assert history[0] == "deployment.apps/web"
    assert [line.split()[0] for line in history[1:]] == ["REVISION", "1", "2"]
    shown = tug(home, "rollout", "history", "deployment/web", "--revision=1").stdout
    assert "with revision #1" in shown and "image: v1" in shown

    out = tug(home, "rollout", "undo", "deployment/web")  # back to v1: revision 1 becomes 3
    assert out.stdout.strip() == "deployment.apps/web rolled back"
    settle(api_server, "v1", 2)
    sets = revisions(api_server)
    assert sorted(sets) == ["2", "3"]
    assert sets["3"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    out = tug(home, "rollout", "undo", "deployment/web", "--to-revision=3")
    assert "skipped rollback (current template already matches revision 3)" in out.stdout
    out = tug(home, "rollout", "undo", "deployment/web", "--to-revision=9")
    assert out.returncode == 1 and "unable to find specified revision 9" in out.stderr

    assert tug(home, "rollout", "pause", "deployment/web").stdout.strip() == "deployment.apps/web paused"
    out = tug(home, "rollout", "undo", "deployment/web")
    assert out.returncode == 1 and "cannot rollback a paused deployment" in out.stderr
    out = tug(home, "rollout", "restart", "deployment/web")
    assert out.returncode == 1 and "paused" in out.stderr
    with api_server.client() as c:
        until(lambda: any(x.get("reason") == "DeploymentPaused"
                          for x in c.get("deployments", "web")["status"].get("conditions") or []))
    assert tug(home, "rollout", "resume", "deployment/web").stdout.strip() == "deployment.apps/web resumed"

    assert tug(home, "scale", "deployment/web", "--replicas=3").stdout.strip() == "deployment.apps/web scaled"
    settle(api_server, "v1", 3)
    out = tug(home, "scale", "pods", "x", "--replicas=3")
    assert out.returncode == 1 and "do not scale" in out.stderr

    out = tug(home, "set", "env", "deployment/web", "MODE=fast")
    assert out.stdout.strip() == "deployment.apps/web env updated"
    with api_server.client() as c:
        env = c.get("deployments", "web")["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env == [{"name": "MODE", "value": "fast"}]
    tug(home, "set", "env", "deployment/web", "MODE-")
    assert tug(home, "rollout", "restart", "deployment/web").stdout.strip() == "deployment.apps/web restarted"
    with api_server.client() as c:
        template = c.get("deployments", "web")["spec"]["template"]
        assert "env" not in template["spec"]["containers"][0] or not template["spec"]["containers"][0]["env"]
        assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]


def _editor(tmp_path: Path, *steps: str) -> dict[str, str]:
    """An $EDITOR that runs the next shell step on the file each time it is opened."""
    count = tmp_path / "count"
    count.write_text("0")
    cases = "\n".join(f"  {i}) {step} ;;" for i, step in enumerate(steps))
    script = tmp_path / "editor.sh"
    script.write_text(f'#!/bin/sh\nn=$(cat {count})\necho $((n+1)) > {count}\n'
                      f'case $n in\n{cases}\nesac\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "EDITOR": str(script)}


def test_edit_applies_reopens_on_a_refusal_and_cancels_unchanged(api_server: InProcessServer,
                                                                 tmp_path: Path) -> None:
    home = api_server.home
    with api_server.client() as c:
        c.create(deployment(replicas=2))
    env = _editor(tmp_path, "sed -i 's/replicas: 2/replicas: 4/' \"$1\"")
    out = tug(home, "edit", "deployment", "web", env=env)
    assert out.returncode == 0 and out.stdout.strip() == "deployment.apps/web edited"
    with api_server.client() as c:
        assert c.get("deployments", "web")["spec"]["replicas"] == 4

    # a refused edit (replicas not a number) reopens with the reason on top; quit unchanged
    env = _editor(tmp_path, "sed -i 's/replicas: 4/replicas: many/' \"$1\"",
                  "grep -q '^# the edit was refused' \"$1\" && cp \"$1\" " + str(tmp_path / "seen"))
    out = tug(home, "edit", "deploy/web", env=env)
    assert out.returncode == 0 and out.stdout.strip() == "Edit cancelled, no changes made."
    assert "spec.replicas" in (tmp_path / "seen").read_text()
    with api_server.client() as c:
        assert c.get("deployments", "web")["spec"]["replicas"] == 4
