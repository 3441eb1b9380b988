"""The `tug` command line as a user runs it: real subprocesses against a real API server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import build_parser

from .conftest import InProcessServer

VERBS = ["up", "dev-cluster", "down", "server", "apply", "create", "get", "describe", "delete", "logs",
         "wait", "patch", "suspend", "resume", "rollout", "scale", "set", "edit", "expose", "port-forward",
         "cordon", "uncordon", "drain", "top",
         "version", "bench", "tui"]


def tug(home: Path, *args: str, input: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**(env or os.environ), "TUG_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([verb, "--help"])
    assert exit_.value.code == 0
    assert "usage: tug " + verb in capsys.readouterr().out


def test_no_server_is_one_clear_line(tmp_path: Path) -> None:
    out = tug(tmp_path, "get", "pods")
    assert out.returncode == 1
    assert out.stderr.startswith("error: no tugboat config at ")
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_user_mistakes_are_errors_not_tracebacks(api_server: InProcessServer) -> None:
    home = api_server.home
    bad = ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"
           "spec: {containers: [{name: c, image: i, bogus: 1}]}\n")
    cases = [
        (("get", "flurbs"), 'the server doesn\'t have a resource type "flurbs"'),
        (("apply", "-f", "/no/such/file.yaml"), "/no/such/file.yaml"),
        (("apply", "-f", "-"), "spec.containers[0].bogus: unknown field"),
        (("apply", "-f", "-", "--dry-run"), "spec.containers[0].bogus"),
        (("delete", "pods"), "no name was specified"),
        (("logs", "nope"), 'pods "nope" not found'),
    ]
    for args, needle in cases:
        out = tug(home, *args, input=bad)
        assert out.returncode != 0, args
        assert needle in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_apply_get_delete_round_trip(api_server: InProcessServer) -> None:
    home = api_server.home
    manifest = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, labels: {app: a}}\n"
                "data: {k: v}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
    out = tug(home, "apply", "-f", "-", input=manifest)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["configmap/settings created", "namespace/team created"]
    assert tug(home, "apply", "-f", "-", input=manifest).stdout.splitlines() == [
        "configmap/settings unchanged", "namespace/team unchanged"]
    assert tug(home, "get", "cm", "-o", "name").stdout == "configmap/settings\n"
    listing = json.loads(tug(home, "get", "configmaps", "-o", "json").stdout)
    assert listing["kind"] == "List" and listing["items"][0]["data"] == {"k": "v"}
    one = json.loads(tug(home, "get", "cm", "settings", "-o", "json").stdout)
    assert one["kind"] == "ConfigMap"
    table = tug(home, "get", "cm", "--show-labels").stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE", "LABELS"] and "app=a" in table[1]
    assert tug(home, "get", "pods").stderr.strip() == "No resources found in default namespace."
    out = tug(home, "delete", "-l", "app=a", "cm")
    assert out.stdout.strip() == 'configmap "settings" deleted'
    assert "No resources found" in tug(home, "get", "cm").stderr


def test_version(api_server: InProcessServer) -> None:
    out = tug(api_server.home, "version")
    assert out.returncode == 0
    assert out.stdout.startswith("Client Version: v0.1.0\nServer Version: v1.")


@pytest.mark.parametrize("args,needle", [
    (("up", "--sample-period", "0.5"), "--sample-period: expected at least 1 second"),
    (("up", "--simulate-gpus", "0"), "--simulate-gpus: expected a positive number"),
    (("up", "--config", "/no/such/cluster.yaml"), "cannot read /no/such/cluster.yaml"),
    (("dev-cluster", "--nodes", "0"), "--nodes: expected at least 1"),
    (("up", "--ingress-port", "70000"),
     "--ingress-port: expected a port from 0 to 65535 (or -1: none), got 70000"),
])
def test_bad_up_flags_start_nothing(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    from engine.runtime.cluster import ray_dir

    out = tug(tmp_path, *args)
    assert out.returncode == 1 and needle in out.stderr and "Traceback" not in out.stderr
    assert not ray_dir(tmp_path).exists()


def test_cordon_and_uncordon_a_node(api_server: InProcessServer) -> None:
    home = api_server.home
    node = ("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n")
    assert tug(home, "apply", "-f", "-", input=node).returncode == 0
    assert tug(home, "cordon", "n1").stdout.strip() == "node/n1 cordoned"
    assert tug(home, "cordon", "n1").stdout.strip() == "node/n1 already cordoned"
    with api_server.client() as c:
        assert c.get("nodes", "n1")["spec"]["unschedulable"] is True
    assert tug(home, "uncordon", "n1").stdout.strip() == "node/n1 uncordoned"
    with api_server.client() as c:
        assert not c.get("nodes", "n1")["spec"].get("unschedulable")
    out = tug(home, "drain", "nope")
    assert out.returncode == 1 and 'nodes "nope" not found' in out.stderr


def test_delete_by_file_needs_names(api_server: InProcessServer) -> None:
    home = api_server.home
    keep = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\n"
    assert tug(home, "apply", "-f", "-", input=keep).returncode == 0
    out = tug(home, "delete", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\n"
                                               "metadata: {generateName: run-}\n")
    assert out.returncode == 1 and "has no metadata.name" in out.stderr
    out = tug(home, "delete", "cm/")
    assert out.returncode == 1 and "a name is required" in out.stderr
    assert tug(home, "get", "cm", "-o", "name").stdout == "configmap/keep\n"


def test_bench_cli_times_each_verb_against_the_baseline(api_server: InProcessServer) -> None:
    out = tug(api_server.home, "bench", "cli", "--runs", "2", "-o", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["baseline"] == "python -c pass" and report["baseline_p50_ms"] > 0
    assert set(report["verbs"]) == {"tug version", "tug get pods", "tug get nodes"}
    for row in report["verbs"].values():
        assert 0 < row["p50_ms"] <= row["p90_ms"]
        assert row["over_baseline_ms"] == pytest.approx(row["p50_ms"] - report["baseline_p50_ms"], abs=0.2)


def test_bench_cli_says_which_verb_failed(tmp_path: Path) -> None:
    out = tug(tmp_path, "bench", "cli", "--runs", "1")
    assert out.returncode == 1
    assert "tug version exited 1: error: no tugboat config at" in out.stderr


def test_a_client_verb_loads_no_http_library_ray_pydantic_or_yaml(api_server: InProcessServer) -> None:
    """What keeps `tug get pods` quick: none of the heavy libraries is imported for it."""
    code = ("import sys\nfrom engine.cli import main\nrc = main(['get', 'pods'])\n"
            "heavy = sorted(m for m in ('httpx', 'ray', 'pydantic', 'yaml', 'aiohttp', 'psutil')"
            " if m in sys.modules)\nprint('HEAVY', heavy)\nsys.exit(rc)")
    env = {**os.environ, "TUG_HOME": str(api_server.home)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "HEAVY []"
