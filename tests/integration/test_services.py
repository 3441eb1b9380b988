"""Services on real Ray with real processes: a Service over a 3-replica HTTP Deployment spreads
connections over all three through its clusterIP, its nodePort and an Ingress, skips a replica
that is not ready, a rolling update behind both fails no request (no preStop in the manifest), and the pods
made after it get its variables."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import engine.net
from engine.client import Client
from engine.errors import NotFoundError

from .conftest import REPO, ControlPlaneProc, wait_for

WHOAMI = Path(engine.net.__file__).with_name("whoami.py")


def deployment(flags: Path, version: str = "v1", *, name: str = "who", replicas: int = 3) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 2, "containers": [{
                                      "name": "web", "image": "python:3.11",
                                      "command": [sys.executable, str(WHOAMI)],
                                      "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {
                                                  "fieldPath": "metadata.name"}}},
                                              {"name": "VERSION", "value": version}],
                                      "ports": [{"name": "http", "containerPort": 8000}],
                                      "resources": {"requests": {"cpu": "10m"}},
                                      "readinessProbe": {
                                          "exec": {"command": ["sh", "-c", f'test ! -e "{flags}/$POD_NAME"']},
                                          "periodSeconds": 1}}]}}}}


INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "who"},
           "spec": {"rules": [{"http": {"paths": [
               {"path": "/app", "pathType": "Prefix",
                "backend": {"service": {"name": "who", "port": {"name": "http"}}}},
               {"path": "/none", "pathType": "Exact",
                "backend": {"service": {"name": "missing", "port": {"number": 80}}}}]}}]}}

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "who"},
           "spec": {"type": "NodePort", "selector": {"app": "who"},
                    "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}}


def gone(client: Client, name: str) -> None:
    """Delete the test's Deployment, Service and Ingress `name`, and wait until its ReplicaSets
    and pods are gone too (the next test's Deployment of that name would adopt them)."""
    for kind in ("ingresses", "services", "deployments"):
        try:
            client.delete(kind, name)
        except NotFoundError:
            pass
    wait_for(lambda: not client.list("pods", label_selector=f"app={name}")["items"]
             and not client.list("replicasets", label_selector=f"app={name}")["items"],
             timeout=120, what=f"the pods and ReplicaSets of {name} to go")


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def status_of(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def ready_pods(client: Client) -> set[str]:
    ep = client.get("endpoints", "who")
    return {a["targetRef"]["name"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}


def answers(url: str, count: int) -> set[str]:
    """The pods that answered `count` requests; none while the address does not answer yet."""
    try:
        return {get(url) for _ in range(count)}
    except OSError:  # (urllib's errors are OSErrors) not served yet
        return set()


def test_a_service_spreads_skips_the_unready_and_loses_nothing_in_a_rollout(
        control_plane: ControlPlaneProc, tmp_path: Path) -> None:
    with control_plane.client() as client:
        client.create(deployment(tmp_path))
        svc = client.create(SERVICE)
        client.create(INGRESS)
        vip = f"http://{svc['spec']['clusterIP']}:8080/"
        node_port = f"http://127.0.0.1:{svc['spec']['ports'][0]['nodePort']}/"
        try:
            pods = wait_for(lambda: len(p := ready_pods(client)) == 3 and p, timeout=120,
                            what="three ready endpoints")
            wait_for(lambda: answers(vip, 9) == pods, timeout=30, what="the clusterIP to reach all three")
            assert answers(node_port, 9) == pods
            lb = wait_for(lambda: ((client.get("ingresses", "who").get("status") or {}).get("loadBalancer")
                                   or {}).get("ingress"), timeout=30, what="the Ingress's address")
            router = f"http://{lb[0]['ip']}:{lb[0]['ports'][0]['port']}"
            wait_for(lambda: answers(router + "/app", 9) == pods, timeout=30,
                     what="the Ingress to reach all three")
            assert status_of(router + "/elsewhere") == (404, "no Ingress rule matches 127.0.0.1/elsewhere\n")
            assert status_of(router + "/none") == (503, "service default/missing has no ready endpoint\n")

            out = sorted(pods)[0]
            (tmp_path / out).touch()  # its readiness probe fails: it leaves the Service
            wait_for(lambda: ready_pods(client) == pods - {out}, timeout=30, what="one replica to leave")
            wait_for(lambda: answers(vip, 8) == pods - {out}, timeout=10, what="the proxy to skip it")
            (tmp_path / out).unlink()
            wait_for(lambda: answers(vip, 9) == pods, timeout=30, what="it to come back")

            # tug expose: a second Service with the Deployment's selector
            said = control_plane.tug("expose", "deployment/who", "--port", "9090", "--target-port", "http",
                                     "--name", "who2").stdout
            assert said.strip() == "service/who2 exposed"
            two = client.get("services", "who2")["spec"]
            assert two["selector"] == {"app": "who"} and two["ports"][0]["targetPort"] == "http"
            wait_for(lambda: answers(f"http://{two['clusterIP']}:9090/", 9) == pods, timeout=30,
                     what="the exposed Service to reach all three")
            client.delete("services", "who2")
            # tug port-forward: to one pod by port name, and to a ready pod of the Service
            for what, port in ((f"pod/{out}", "http"), ("svc/who", "8080")):
                forward = subprocess.Popen(
                    [sys.executable, "-m", "engine.cli", "port-forward", what, f":{port}"],
                    env=control_plane.env, stdout=subprocess.PIPE, text=True, cwd=REPO)
                try:
                    assert forward.stdout is not None
                    line = forward.stdout.readline()
                    assert line.startswith("Forwarding from 127.0.0.1:"), line
                    assert line.endswith(f" -> {port}\n"), line
                    local = line.split()[2]
                    name = get(f"http://{local}/")
                    assert name in pods and (what == "svc/who" or name == out)
                finally:
                    forward.terminate()
                    forward.wait(10)

            failures: list[str] = []
            served = [0]
            stop = threading.Event()

            def hammer() -> None:
                while not stop.is_set():
                    for url in (vip, router + "/app"):
                        try:
                            get(url)
                            served[0] += 1
                        except (OSError, urllib.error.URLError) as exc:
                            failures.append(f"{url}: {exc!r}")
            thread = threading.Thread(target=hammer, daemon=True)
            thread.start()
            client.apply([deployment(tmp_path, "v2")])
            def rolled() -> bool:
                d = client.get("deployments", "who")
                st = d.get("status") or {}
                return st.get("observedGeneration") == d["metadata"]["generation"] and \
                    st.get("updatedReplicas") == st.get("availableReplicas") == st.get("replicas") == 3
            wait_for(rolled, timeout=180, what="the rollout to v2")
            new = wait_for(lambda: len(p := ready_pods(client)) == 3 and not p & pods and p, timeout=60,
                           what="the new pods behind the Service")
            wait_for(lambda: answers(vip, 9) == new, timeout=30, what="the proxy to reach the new pods")
            wait_for(lambda: answers(router + "/app", 9) == new, timeout=30, what="the Ingress to reach them")
            # pods made after the Service know it, as the kubelet tells them
            assert get(vip + "env/WHO_SERVICE_HOST") == svc["spec"]["clusterIP"]
            assert get(vip + "env/WHO_SERVICE_PORT_HTTP") == "8080"
            stop.set()
            thread.join(30)
            assert served[0] > 50 and failures == [], (served[0], failures[:5])
            # and by name, from inside a pod, as with a cluster's DNS (its own /etc/hosts)
            script = ("import socket, urllib.request as u\n"
                      "for url in ('http://who:8080/', 'http://who.default.svc.cluster.local:8080/'):\n"
                      "    print(u.urlopen(url, timeout=10).read().decode())\n"
                      "print(socket.gethostbyname('me.example'))\n")
            client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "curl"},
                           "spec": {"restartPolicy": "Never", "hostAliases": [
                                        {"ip": "127.0.0.1", "hostnames": ["me.example"]}],
                                    "containers": [{"name": "curl", "image": "python:3.11",
                                                    "command": [sys.executable, "-c", script]}]}})
            try:
                phase = wait_for(lambda: (client.get("pods", "curl").get("status") or {}).get("phase")
                                 in ("Succeeded", "Failed") and client.get("pods", "curl")["status"]["phase"],
                                 timeout=60, what="the pod that asks the Service by name")
                said = b"".join(client.logs("curl")).decode().split()
                assert phase == "Succeeded", said
                assert len(said) == 3 and set(said[:2]) <= new and said[2] == "127.0.0.1", said
            finally:
                client.delete("pods", "curl")
        finally:
            gone(client, "who")


def test_addresses_outlive_a_control_plane_kill_and_a_canary_takes_its_share(
        control_plane: ControlPlaneProc, tmp_path: Path) -> None:
    with control_plane.client() as client:
        client.create(deployment(tmp_path))
        svc = client.create(SERVICE)
        client.create(INGRESS)
        try:
            pods = wait_for(lambda: len(p := ready_pods(client)) == 3 and p, timeout=120,
                            what="three ready endpoints")
            lb = wait_for(lambda: ((client.get("ingresses", "who").get("status") or {}).get("loadBalancer")
                                   or {}).get("ingress"), timeout=30, what="the Ingress's address")
        except BaseException:
            gone(client, "who")
            raise
    urls = [f"http://{svc['spec']['clusterIP']}:8080/", f"http://127.0.0.1:{svc['spec']['ports'][0]['nodePort']}/",
            f"http://{lb[0]['ip']}:{lb[0]['ports'][0]['port']}/app"]
    for url in urls:
        wait_for(lambda url=url: answers(url, 9) == pods, timeout=30, what=f"{url} to reach all three")
    control_plane.kill9()
    try:
        for url in urls:  # the node agents keep serving while no control plane runs
            assert answers(url, 9) == pods, url
    finally:
        control_plane.start()
    with control_plane.client() as client:
        try:
            for url in urls:
                wait_for(lambda url=url: answers(url, 9) == pods, timeout=30, what=f"{url} after the restart")
            after = client.get("services", "who")["spec"]
            assert after["clusterIP"] == svc["spec"]["clusterIP"] and after["ports"] == svc["spec"]["ports"]

            # a canary Ingress with weight 20 for the same path takes a fifth of the requests
            client.create(deployment(tmp_path, name="next", replicas=1))
            client.create({**SERVICE, "metadata": {"name": "next"},
                           "spec": {"selector": {"app": "next"}, "ports": SERVICE["spec"]["ports"]}})
            client.create({**INGRESS, "metadata": {"name": "next", "annotations": {
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": "20"}},
                "spec": {"rules": [{"http": {"paths": [{"path": "/app", "pathType": "Prefix", "backend": {
                    "service": {"name": "next", "port": {"name": "http"}}}}]}}]}})
            # (its readiness probe passes before its server listens: wait until it answers)
            wait_for(lambda: any(a.startswith("next-") for a in answers(urls[2], 40)), timeout=120,
                     what="the canary to answer")
            n = 500
            canary = sum(get(urls[2]).startswith("next-") for _ in range(n))
            bound = 4 * (n * 0.2 * 0.8) ** 0.5  # four standard deviations of Binomial(500, 0.2): ~36
            assert abs(canary - 0.2 * n) <= bound, canary
        finally:
            gone(client, "next")
            gone(client, "who")


def test_an_address_a_proxy_cannot_take_is_said_on_the_service(control_plane: ControlPlaneProc) -> None:
    import socket

    with socket.socket() as squatter:  # no SO_REUSEPORT: no proxy can listen beside it
        squatter.bind(("127.77.254.9", 8080))
        squatter.listen()
        with control_plane.client() as client:
            client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "squat"},
                           "spec": {"type": "NodePort", "clusterIP": "127.77.254.9",
                                    "selector": {"app": "squat"},
                                    "ports": [{"port": 8080, "targetPort": 9}]}})
            try:
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "squat", "labels": {"app": "squat"}},
                       "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                           "name": "web", "image": "python:3.11", "command": [sys.executable, str(WHOAMI)],
                           "ports": [{"containerPort": 9}], "resources": {"requests": {"cpu": "10m"}}}]}}
                client.create(pod)
                def said() -> str | None:
                    conditions = (client.get("services", "squat").get("status") or {}).get("conditions") or []
                    mine = [c for c in conditions if c["type"] == "ClusterIPListening"]
                    return mine[0]["message"] if mine and mine[0]["status"] == "False" else None
                message = wait_for(said, timeout=120, what="the Service to say its clusterIP is not served")
                node_port = client.get("services", "squat")["spec"]["ports"][0]["nodePort"]
                assert "cannot listen on 127.77.254.9:8080" in message
                assert f"still reachable on nodePort {node_port}" in message
                squatter.close()  # the address is free: the proxies take it and the condition goes
                wait_for(lambda: said() is None, timeout=60, what="the condition to go")
            finally:
                client.delete("pods", "squat")
                client.delete("services", "squat")


UDP_ECHO = ("import os, socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('', int(os.environ['PORT'])))\n"
            "while True:\n"
            "    data, addr = s.recvfrom(65535)\n"
            "    s.sendto(os.environ['POD_NAME'].encode() + b':' + data, addr)\n")


def test_a_udp_service_port_reaches_its_pods(control_plane: ControlPlaneProc) -> None:
    import socket

    with control_plane.client() as client:
        client.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo"},
                       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "echo"}},
                                "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {
                                    "terminationGracePeriodSeconds": 1, "containers": [{
                                        "name": "echo", "image": "python:3.11",
                                        "command": [sys.executable, "-c", UDP_ECHO],
                                        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {
                                            "fieldPath": "metadata.name"}}}],
                                        "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}],
                                        "resources": {"requests": {"cpu": "10m"}}}]}}}})
        svc = client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
                             "spec": {"selector": {"app": "echo"}, "ports": [
                                 {"name": "dns", "port": 5353, "protocol": "UDP", "targetPort": "dns"}]}})
        try:
            ip = svc["spec"]["clusterIP"]
            ep = wait_for(lambda: (e := client.get("endpoints", "echo")) and sum(
                len(s.get("addresses") or []) for s in e.get("subsets") or []) == 2 and e,
                timeout=120, what="two ready echo pods behind the Service")
            assert {p["protocol"] for s in ep["subsets"] for p in s["ports"]} == {"UDP"}
            pods = {a["targetRef"]["name"] for s in ep["subsets"] for a in s["addresses"]}

            def ask(text: str) -> str | None:
                """One datagram from a client socket of its own (a flow), its echo or None."""
                with socket.socket(type=socket.SOCK_DGRAM) as sock:
                    sock.settimeout(2)
                    sock.connect((ip, 5353))
                    try:
                        sock.send(text.encode())
                        return sock.recv(65535).decode()
                    except OSError:  # not served yet (refused, or no answer)
                        return None
            first = wait_for(lambda: ask("hi"), timeout=60, what="the clusterIP to answer over UDP")
            assert first.split(":", 1)[1] == "hi" and first.split(":", 1)[0] in pods
            # each new client is a new flow: round robin reaches both pods (a datagram with no
            # answer in 2 s on a busy machine is UDP's way, not a wrong answer: it is left out)
            def answered() -> set[str]:
                return {answer.split(":")[0] for _ in range(6) if (answer := ask("x")) is not None}
            seen = wait_for(lambda: (s := answered()) >= pods and s, timeout=60, what="both pods to answer")
            assert seen == pods
            out = control_plane.tug("get", "svc", "echo").stdout
            assert "5353/UDP" in out
        finally:
            gone(client, "echo")
