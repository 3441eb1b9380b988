"""engine/net/hostsfile.py: the names a pod's /etc/hosts gets for Services and hostAliases."""

from __future__ import annotations

from typing import Any

from engine.net.hostsfile import hosts_text, pod_hosts


def svc(name: str, ns: str = "default", ip: Any = "127.77.0.9", kind: str = "ClusterIP") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"type": kind, "clusterIP": ip}}


POD = {"metadata": {"name": "p", "namespace": "default"},
       "spec": {"hostAliases": [{"ip": "10.0.0.7", "hostnames": ["db.local", "db"]}, {"ip": "10.0.0.8"}]}}


def test_services_get_their_cluster_names_and_the_bare_one_in_the_pods_namespace() -> None:
    hosts = pod_hosts(POD, [svc("web", "shop", "127.77.0.2"), svc("web", ip="127.77.0.1"),
                            svc("headless", ip="None"), svc("ext", kind="ExternalName", ip=None),
                            {"metadata": {"name": 5}, "spec": []}])
    assert hosts == {
        "aliases": [("10.0.0.7", ["db.local", "db"])],  # an alias without hostnames adds nothing
        "services": [
            ("127.77.0.1", ["web", "web.default", "web.default.svc", "web.default.svc.cluster.local"]),
            ("127.77.0.2", ["web.shop", "web.shop.svc", "web.shop.svc.cluster.local"])]}


def test_the_file_keeps_the_nodes_lines_then_adds_aliases_and_services() -> None:
    hosts = pod_hosts(POD, [svc("web")])
    text = hosts_text("127.0.0.1\tlocalhost\n10.1.1.1\tnode1\n", hosts)
    assert text == ("127.0.0.1\tlocalhost\n10.1.1.1\tnode1\n"
                    "\n# Entries added by HostAliases.\n10.0.0.7\tdb.local\tdb\n"
                    "\n# Services, added by tugboat.\n"
                    "127.77.0.9\tweb\tweb.default\tweb.default.svc\tweb.default.svc.cluster.local\n")
    assert hosts_text("", {"aliases": [], "services": []}) == "127.0.0.1\tlocalhost\n"
