"""The real kubectl against the session's control plane, with real processes on Ray: apply
a Job and a Deployment, wait for the Job to complete, read its pod's logs, scale the
Deployment, follow its pods with get -w, delete with a grace period. Skipped, saying so, where
kubectl is not installed."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ControlPlaneProc, wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None,
                                reason="kubectl is not installed on this machine")

JOB = f"""apiVersion: batch/v1
kind: Job
metadata:
  name: kc-count
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: count
        image: python:3.11
        command: ["{sys.executable}", "-c", "for i in range(3): print('line', i)"]
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: kc-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: kc-web}
  template:
    metadata:
      labels: {app: kc-web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: python:3.11
        command: ["sleep", "1000"]
        resources: {requests: {cpu: 10m}}
"""


def test_kubectl_drives_jobs_and_deployments(control_plane: ControlPlaneProc, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(control_plane.tug("kubeconfig").stdout)

    def kubectl(*args: str, timeout: float = 120) -> str:
        out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True,
                             text=True, timeout=timeout)
        assert out.returncode == 0, f"kubectl {' '.join(args)}: {out.stderr}"
        return out.stdout
    (tmp_path / "job.yaml").write_text(JOB)
    (tmp_path / "web.yaml").write_text(DEPLOYMENT)
    try:
        assert kubectl("apply", "-f", str(tmp_path / "job.yaml")).strip() == "job.batch/kc-count created"
        said = kubectl("wait", "--for=condition=complete", "job/kc-count", "--timeout=120s", timeout=150)
        assert said.strip() == "job.batch/kc-count condition met"
        # kubectl finds the Job's pod by the selector the server generated on its uid
        logs = kubectl("logs", "job/kc-count")
        assert logs.split("\n")[:3] == ["line 0", "line 1", "line 2"]
        assert kubectl("logs", "-l", "batch.kubernetes.io/job-name=kc-count") == logs
        assert kubectl("logs", "job/kc-count", "--since=1h") == logs  # sinceSeconds, by the log's time index
        assert kubectl("logs", "job/kc-count", "--since=1h", "--tail=1") == "line 2\n"
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        assert kubectl("logs", "job/kc-count", f"--since-time={later}") == ""
        described = kubectl("describe", "job", "kc-count")
        assert "batch.kubernetes.io/controller-uid=" in described and "1 Succeeded" in described
        assert kubectl("apply", "-f", str(tmp_path / "job.yaml")).strip() == "job.batch/kc-count unchanged"
        rows = [line.split() for line in kubectl("get", "jobs").splitlines()]
        assert rows[0][:3] == ["NAME", "STATUS", "COMPLETIONS"]
        assert rows[1][:3] == ["kc-count", "Complete", "1/1"]

        kubectl("apply", "-f", str(tmp_path / "web.yaml"))
        watch = subprocess.Popen(["kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-l",
                                  "app=kc-web", "-w", "--request-timeout=120s"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            scaled = kubectl("scale", "deployment/kc-web", "--replicas=2").strip()
            assert scaled == "deployment.apps/kc-web scaled"
            kubectl("rollout", "status", "deployment/kc-web", "--timeout=120s", timeout=150)
            def running() -> list[str] | None:
                lines = kubectl("get", "pods", "-l", "app=kc-web", "--no-headers").splitlines()
                return lines if len(lines) == 2 and all("Running" in x for x in lines) else None
            ready = wait_for(running, timeout=120, what="two Running replicas")
            name = ready[0].split()[0]

            def top() -> list[list[str]] | None:  # once the node agents have sampled them
                out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "top", "pods", "-l",
                                      "app=kc-web"], capture_output=True, text=True, timeout=60)
                rows = [line.split() for line in out.stdout.splitlines()]
                return rows if out.returncode == 0 and len(rows) == 3 else None
            rows = wait_for(top, timeout=60, what="kubectl top pods")
            assert rows[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
            assert {r[0] for r in rows[1:]} == {line.split()[0] for line in ready}
            assert all(r[2].endswith("Mi") for r in rows[1:])
            nodes = kubectl("top", "nodes").splitlines()
            assert nodes[0].split()[:2] == ["NAME", "CPU(cores)"] and len(nodes) >= 2
            assert kubectl("delete", "pod", name, "--grace-period=1").strip() == f'pod "{name}" deleted'
        finally:
            watch.terminate()
            seen = watch.communicate(timeout=30)[0]
        header, *events = seen.splitlines()
        assert header.split()[:3] == ["NAME", "READY", "STATUS"]
        assert any(line.split()[0] == name and "Running" in line for line in events), seen
        # drain the replicas' node (only them: the session's other tests use it too), then uncordon
        node = wait_for(lambda: running() and kubectl("get", "pods", "-l", "app=kc-web", "-o",
                                                      "jsonpath={.items[0].spec.nodeName}"),
                        timeout=120, what="the replicas to run again")
        try:
            out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "drain", node,
                                  "--pod-selector=app=kc-web", "--grace-period=1", "--timeout=120s"],
                                 capture_output=True, text=True, timeout=150)
            assert out.returncode == 0 and f"node/{node} drained" in out.stdout + out.stderr, out.stderr
            assert kubectl("get", "node", node, "-o", "jsonpath={.spec.unschedulable}") == "true"
        finally:
            kubectl("uncordon", node)
        assert kubectl("get", "node", node, "-o", "jsonpath={.spec.unschedulable}") in ("", "false")
        wait_for(running, timeout=120, what="the replicas to run again once the node is uncordoned")
    finally:
        subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "delete", "job/kc-count",
                        "deployment/kc-web", "--ignore-not-found"], capture_output=True, timeout=120)
        with control_plane.client() as client:
            wait_for(lambda: not client.list("pods", label_selector="app=kc-web")["items"], timeout=120,
                     what="the replicas to go")


EXEC_POD = """apiVersion: v1
kind: Pod
metadata:
  name: kc-exec
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: python:3.11
    command: ["sh", "-c", "echo made-by-main > /data/note; exec PYTHON -m http.server $PORT -d /data"]
    ports: [{containerPort: 8000}]
    workingDir: /tmp
    env: [{name: GREETING, value: hello}]
    volumeMounts: [{name: scratch, mountPath: /data}]
    resources: {requests: {cpu: 10m}}
  volumes: [{name: scratch, emptyDir: {}}]
"""


def test_kubectl_exec_runs_in_the_containers_environment(control_plane: ControlPlaneProc,
                                                         tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(control_plane.tug("kubeconfig").stdout)
    base = ["kubectl", "--kubeconfig", str(kubeconfig)]

    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], input=stdin, capture_output=True, text=True, timeout=120)
    (tmp_path / "pod.yaml").write_text(EXEC_POD.replace("PYTHON", sys.executable))
    assert kubectl("apply", "-f", str(tmp_path / "pod.yaml")).returncode == 0
    try:
        assert kubectl("wait", "--for=condition=Ready", "pod/kc-exec", "--timeout=100s").returncode == 0
        said = kubectl("exec", "kc-exec", "--", "sh", "-c", 'echo "$GREETING $(pwd) $(cat /data/note)"; '
                       "echo oops >&2; exit 3")
        assert (said.returncode, said.stdout, said.stderr) == (
            3, "hello /tmp made-by-main\n", "oops\ncommand terminated with exit code 3\n")
        piped = kubectl("exec", "-i", "kc-exec", "--", "sh", "-c", "tr a-z A-Z; echo done",
                        stdin="one\ntwo\n")
        assert (piped.returncode, piped.stdout) == (0, "ONE\nTWO\ndone\n")
        # kubectl cp is tar over exec, both ways, into and out of the container's volume
        (tmp_path / "in.txt").write_text("from outside\n")
        assert kubectl("cp", str(tmp_path / "in.txt"), "kc-exec:/data/in.txt").returncode == 0
        assert kubectl("exec", "kc-exec", "--", "cat", "/data/in.txt").stdout == "from outside\n"
        copied = kubectl("cp", "kc-exec:/data/note", str(tmp_path / "note"))
        assert copied.returncode == 0, copied.stderr
        assert (tmp_path / "note").read_text() == "made-by-main\n"
        # port-forward: SPDY over a WebSocket to the control plane, then TCP to the pod's host port
        forward = subprocess.Popen([*base, "port-forward", "pod/kc-exec", "0:8000"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            assert forward.stdout is not None
            said_line = forward.stdout.readline()
            found = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8000", said_line)
            assert found, said_line + forward.stderr.read() if forward.stderr else said_line
            url = f"http://127.0.0.1:{found.group(1)}/"
            for name, text in (("note", "made-by-main\n"), ("in.txt", "from outside\n")):
                with urllib.request.urlopen(url + name, timeout=60) as answer:
                    assert answer.read().decode() == text
        finally:
            forward.kill()
            forward.wait()
        refused = kubectl("exec", "kc-exec", "-c", "nope", "--", "true")
        assert refused.returncode == 1 and "container nope is not valid for pod kc-exec" in refused.stderr
        # -it: a terminal of its own (kubectl needs one on its side too: a pty here)
        leader, follower = pty.openpty()
        proc = subprocess.Popen([*base, "exec", "-it", "kc-exec", "--", "sh", "-c", "tty; stty size"],
                                stdin=follower, stdout=follower, stderr=follower, close_fds=True)
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: kubectl and everything on its terminal ended
                break
            if not chunk:
                break
            out += chunk
        os.close(leader)
        assert proc.wait(timeout=60) == 0, out
        lines = out.decode().split()
        assert lines[0].startswith("/dev/pts/") and len(lines) >= 3 and lines[1].isdigit(), out
    finally:
        subprocess.run([*base, "delete", "pod", "kc-exec", "--ignore-not-found", "--grace-period=1"],
                       capture_output=True, timeout=120)
