"""The API over HTTPS: the CA and certificate under $TUG_HOME/pki (made once, reused, made again
for a new name), a client that trusts another CA told so in one line, plain HTTP only on
loopback, and `tug kubeconfig` (printed, merged) used by the real kubectl."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.cli.kubeconfig import merge
from engine.client import Client
from engine.controlplane import ControlPlane
from engine.errors import BadRequestError, UnavailableError
from engine.pki import default_names, ensure_pki

from .conftest import InProcessServer

REPO = Path(__file__).resolve().parents[2]


def test_the_ca_is_made_once_and_the_server_certificate_again_for_a_new_name(tmp_path: Path) -> None:
    from cryptography import x509

    names = default_names("127.0.0.1")
    first = ensure_pki(tmp_path, names)
    ca, cert = first.ca.read_bytes(), first.cert.read_bytes()
    assert ensure_pki(tmp_path, names).cert.read_bytes() == cert  # reused as it is
    again = ensure_pki(tmp_path, [*names, "10.9.8.7", "gpu-box.lab"])
    assert again.ca.read_bytes() == ca and again.cert.read_bytes() != cert  # same CA, new certificate
    san = x509.load_pem_x509_certificate(again.cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert {"localhost", "gpu-box.lab"} <= set(san.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "10.9.8.7"} <= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE(os.stat(tmp_path / "pki" / key).st_mode) == 0o600


def test_a_client_that_trusts_another_ca_is_told_in_one_line(api_server: InProcessServer,
                                                              tmp_path: Path) -> None:
    other = ensure_pki(tmp_path / "other", ["127.0.0.1"])
    with api_server.client() as c:
        server, token = c.server, c.token
    with pytest.raises(UnavailableError) as err:
        Client(server, token, ca=str(other.ca)).list("pods")
    assert "certificate this client does not trust" in err.value.message
    assert "\n" not in err.value.message


def test_plain_http_only_on_loopback(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="loopback only"):
        ControlPlane(tmp_path / "a", ray_address=None, host="0.0.0.0", tls=False)
    srv = InProcessServer(tmp_path / "b", tls=False)
    try:
        cfg = yaml.safe_load((tmp_path / "b" / "config").read_text())
        assert cfg["server"].startswith("http://127.0.0.1:") and "ca" not in cfg
        with srv.client() as c:
            assert c.list("pods")["items"] == []
    finally:
        srv.close()


def test_merge_keeps_other_contexts_and_makes_ours_current() -> None:
    ours = {"clusters": [{"name": "tugboat", "cluster": {"server": "https://127.0.0.1:6780"}}],
            "users": [{"name": "tugboat", "user": {"token": "t"}}],
            "contexts": [{"name": "tugboat", "context": {"cluster": "tugboat", "user": "tugboat"}}],
            "current-context": "tugboat"}
    theirs = {"apiVersion": "v1", "kind": "Config", "current-context": "prod",
              "clusters": [{"name": "prod", "cluster": {"server": "https://prod"}},
                           {"name": "tugboat", "cluster": {"server": "https://old"}}],
              "users": [{"name": "prod", "user": {"token": "p"}}],
              "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}]}
    out = merge(theirs, ours)
    assert out["current-context"] == "tugboat"
    assert [c["name"] for c in out["clusters"]] == ["prod", "tugboat"]
    assert out["clusters"][1]["cluster"]["server"] == "https://127.0.0.1:6780"
    assert [c["name"] for c in out["contexts"]] == ["prod", "tugboat"]


def _tug(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env={**os.environ, "TUG_HOME": str(home), **(env or {})})


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
def test_kubectl_talks_to_the_api_with_the_kubeconfig(api_server: InProcessServer, tmp_path: Path) -> None:
    printed = _tug(api_server.home, "kubeconfig", "-n", "team")
    assert printed.returncode == 0, printed.stderr
    config = yaml.safe_load(printed.stdout)
    assert config["contexts"][0]["context"]["namespace"] == "team"
    kubeconfig = tmp_path / "kube" / "config"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [],
                                          "users": [], "contexts": [], "current-context": ""}))
    merged = _tug(api_server.home, "kubeconfig", "--merge", env={"KUBECONFIG": str(kubeconfig)})
    assert merged.returncode == 0, merged.stderr
    assert str(kubeconfig) in merged.stdout
    assert stat.S_IMODE(os.stat(kubeconfig).st_mode) == 0o600
    # kubectl sends the token over TLS it checked against our CA
    out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "--raw", "/readyz"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    wrong = yaml.safe_load(kubeconfig.read_text())
    wrong["users"][0]["user"]["token"] = "not-the-token"
    kubeconfig.write_text(yaml.safe_dump(wrong))
    out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "--raw", "/readyz"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Unauthorized" in out.stderr, out.stderr
