"""The Job and CronJob verbs against the real control plane (no Ray: pods are bound, not run):
create job --from=cronjob, suspend/resume, patch, wait (timeout, delete, condition), logs job/X
with no pods, and the mistakes users make."""

from __future__ import annotations

from .conftest import InProcessServer, until
from .test_cli import tug

CRON = """apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    metadata: {labels: {team: a}}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: [echo, hi]}]
"""


def test_create_job_from_a_cronjob_and_suspend_resume(api_server: InProcessServer) -> None:
    home = api_server.home
    assert tug(home, "apply", "-f", "-", input=CRON).returncode == 0
    out = tug(home, "create", "job", "run-now", "--from=cronjob/nightly")
    assert out.returncode == 0 and out.stdout.strip() == "job.batch/run-now created"
    with api_server.client() as c:
        job = c.get("jobs", "run-now")
        assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
        assert job["metadata"]["labels"] == {"team": "a"}
        assert job["metadata"]["ownerReferences"][0]["name"] == "nightly"
    assert tug(home, "suspend", "cronjob", "nightly").stdout.strip() == "cronjob.batch/nightly suspended"
    listing = tug(home, "get", "cronjobs").stdout.splitlines()
    assert listing[0].split()[:4] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND"]
    assert listing[1].split()[:6] == ["nightly", "0", "3", "*", "*", "*"] and "True" in listing[1]
    assert tug(home, "resume", "cronjob", "nightly").stdout.strip() == "cronjob.batch/nightly resumed"
    out = tug(home, "patch", "cronjob", "nightly", "-p", '{"spec":{"suspend":true}}')
    assert out.returncode == 0 and out.stdout.strip() == "cronjob.batch/nightly patched"
    with api_server.client() as c:
        assert c.get("cronjobs", "nightly")["spec"]["suspend"] is True


def test_wait_for_conditions_and_deletion(api_server: InProcessServer) -> None:
    home = api_server.home
    assert tug(home, "apply", "-f", "-", input=CRON).returncode == 0
    tug(home, "create", "job", "w", "--from=cronjob/nightly")
    out = tug(home, "wait", "--for=condition=complete", "job/w", "--timeout=1s")
    assert out.returncode == 1
    assert out.stderr.strip() == "error: timed out waiting for the condition on jobs/w"
    with api_server.client() as c:  # what the Job controller writes when its pods end
        job = c.get("jobs", "w")
        job["status"] = {**(job.get("status") or {}),
                         "conditions": [{"type": "Complete", "status": "True"}]}
        c.update_status(job)
    out = tug(home, "wait", "--for=condition=Complete", "job/w", "--timeout=10s")
    assert out.returncode == 0 and out.stdout.strip() == "job.batch/w condition met"
    tug(home, "delete", "job", "w", "--wait=false")
    out = tug(home, "wait", "--for=delete", "job/w", "--timeout=30s")
    assert out.returncode == 0, out.stderr  # it saw the deletion (a timeout exits 1)


def test_user_mistakes_are_one_line_errors(api_server: InProcessServer) -> None:
    home = api_server.home
    for args, needle in [
        (("create", "job", "x", "--from=deployment/web"), "--from: expected cronjob/NAME"),
        (("create", "pod", "x", "--from=cronjob/a"), "only `tug create job NAME --from=cronjob/NAME`"),
        (("create",), "create: give -f FILE"),
        (("create", "job", "x", "--from=cronjob/missing"), 'cronjobs "missing" not found'),
        (("wait", "--for=ready", "job/x"), "--for: expected condition=NAME[=VALUE] or delete"),
        (("wait", "--for=delete", "job"), "expected KIND/NAME"),
        (("wait", "--for=delete", "job/x", "--timeout=soon"), "--timeout: expected a duration"),
        (("patch", "cronjob", "x", "-p", "{nope"), "-p: not JSON"),
        (("suspend", "pod", "x"), "only cronjobs and jobs can be suspended"),
        (("logs", "job/none"), 'jobs "none" not found'),
    ]:
        out = tug(home, *args)
        assert out.returncode != 0 and needle in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_suspend_holds_a_queued_job_and_resume_lets_it_go(api_server: InProcessServer) -> None:
    home = api_server.home
    assert tug(home, "apply", "-f", "-", input=CRON).returncode == 0
    tug(home, "create", "job", "held", "--from=cronjob/nightly")  # no nodes yet: it waits in its queue
    assert tug(home, "get", "jobs", "held").stdout.splitlines()[1].split()[1] == "Queued"
    assert tug(home, "suspend", "job", "held").stdout.strip() == "job.batch/held suspended"
    assert tug(home, "get", "jobs", "held").stdout.splitlines()[1].split()[1] == "Suspended"
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "8", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}
    api_server.call(api_server.cp.store.create, "nodes", node, namespaced=False)
    # a Job created after the node is admitted only by a scheduling pass that has the node; that
    # pass judged the held Job too (it was stored before), and admits in creation order
    assert tug(home, "create", "job", "witness", "--from=cronjob/nightly").returncode == 0
    with api_server.client() as c:
        until(lambda: c.get("jobs", "witness")["metadata"]["annotations"].get("tugboat.dev/admission")
              == "Admitted")
        job = c.get("jobs", "held")
        assert job["spec"]["suspend"] is True
        assert job["metadata"]["annotations"]["tugboat.dev/admission"] == "Pending"
    assert tug(home, "resume", "job", "held").returncode == 0
    with api_server.client() as c:
        until(lambda: c.get("jobs", "held")["metadata"]["annotations"].get("tugboat.dev/admission")
              == "Admitted")
        assert "tugboat.dev/hold" not in c.get("jobs", "held")["metadata"]["annotations"]
