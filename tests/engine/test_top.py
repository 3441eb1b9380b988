"""Tests for `tug top nodes|pods`: the kubectl-top cells and tables, and the verb's IO."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.cli import build_parser, main
from engine.cli import top as top_cli
from engine.printers import format_top_gpus, format_top_nodes, format_top_pods
from engine.printers.top import (
    format_cpu,
    format_gpu_memory,
    format_memory,
    format_mib,
    format_percent,
)

GiB = 2**30


def gpu(index: int, *, util: int | None = 40, used: int | None = 6144, total: int | None = 81920,
        pods: list[str] | None = None, simulated: bool = False, health: str = "Healthy",
        product: str = "NVIDIA H100 80GB HBM3") -> dict[str, Any]:
    return {"index": index, "uuid": f"GPU-{index:04d}", "product": product,
            "simulated": simulated, "health": health, "utilizationGpu": util,
            "memoryUsedMiB": used, "memoryTotalMiB": total,
            "temperatureC": None if simulated else 41 + index,
            "powerW": None if simulated else 312.6, "pods": pods or []}


def h100_node() -> dict[str, Any]:
    return {"name": "gpu-node-1", "cpuCores": 3.25, "cpuCapacity": 16.0,
            "memoryBytes": 24 * GiB + 512 * 2**20, "memoryCapacity": 128 * GiB,
            "gpus": [gpu(1, util=20, used=2048, pods=["ml/train-0"], health="Unhealthy"),
                     gpu(0, util=60, used=10240, pods=["ml/train-0"]),
                     gpu(2, util=None, used=None),
                     gpu(3, util=0, used=0)]}


def sim_node() -> dict[str, Any]:
    return {"name": "laptop", "cpuCores": 0.25, "cpuCapacity": 8.0, "memoryBytes": None,
            "memoryCapacity": None,
            "gpus": [gpu(0, util=None, used=None, simulated=True, product="Simulated GPU",
                         pods=["default/sim-job"])]}


def cpu_node() -> dict[str, Any]:
    return {"name": "cpu-only", "cpuCores": None, "cpuCapacity": 4.0, "memoryBytes": 1234 * 2**20,
            "memoryCapacity": 0, "gpus": []}


def pod(name: str, ns: str = "default", gpus: list[dict[str, Any]] | None = None,
        cpu: float | None = 0.5, mem: int | None = 300 * 2**20) -> dict[str, Any]:
    return {"namespace": ns, "name": name, "node": "gpu-node-1", "cpuCores": cpu,
            "memoryBytes": mem, "gpus": gpus or []}


def pod_gpu(index: int, util: int | None, used: int | None) -> dict[str, Any]:
    return {"index": index, "uuid": f"GPU-{index:04d}", "utilizationGpu": util,
            "memoryUsedMiB": used, "memoryTotalMiB": 81920}


def split(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


# ----- cells --------------------------------------------------------------------------------

@pytest.mark.parametrize(("cores", "want"), [
    (0.25, "250m"), (3.25, "3250m"), (0.0, "0m"), (0.0004, "0m"), (1.9996, "2000m"), (None, "n/a")])
def test_cpu_is_millicores(cores: float | None, want: str) -> None:
    assert format_cpu(cores) == want


@pytest.mark.parametrize(("nbytes", "want"), [
    (1234 * 2**20, "1234Mi"), (2**20 - 1, "0Mi"), (GiB + 2**19, "1024Mi"), (None, "n/a")])
def test_memory_is_whole_mebibytes(nbytes: int | None, want: str) -> None:
    assert format_memory(nbytes) == want


@pytest.mark.parametrize(("used", "cap", "want"), [
    (2.0, 16.0, "12%"), (0.999, 1.0, "99%"), (1.0, 1.0, "100%"), (None, 8.0, "n/a"),
    (1.0, None, "n/a"), (1.0, 0, "n/a")])
def test_percent_truncates_and_needs_a_capacity(used: float | None, cap: float | None,
                                                want: str) -> None:
    assert format_percent(used, cap) == want


def test_gpu_memory_units() -> None:
    assert format_mib(512) == "512Mi"
    assert format_mib(12288) == "12.0Gi"
    assert format_gpu_memory(12288, 81920) == "12.0Gi/80.0Gi"
    assert format_gpu_memory(300, None) == "300Mi"
    assert format_gpu_memory(None, 81920) == "n/a"


# ----- tug top nodes ---------------------------------------------------------------------------

def test_node_table_columns_and_summaries() -> None:
    text = format_top_nodes([h100_node(), sim_node(), cpu_node()], show_gpus=False)
    assert split(text) == [
        ["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%", "GPUS", "GPU-UTIL", "GPU-MEM"],
        # Two of four GPUs held; GPU 2's unknown utilization is left out of the mean of
        # 20, 60 and 0; memory sums the three GPUs whose use is known.
        ["gpu-node-1", "3250m", "20%", "25088Mi", "19%", "2/4", "27%", "12.0Gi/240.0Gi"],
        ["laptop", "250m", "3%", "n/a", "n/a", "1/1", "n/a", "n/a"],
        ["cpu-only", "n/a", "n/a", "1234Mi", "n/a", "0/0", "n/a", "n/a"],
    ]


def test_node_table_aligns_like_kubectl() -> None:
    lines = format_top_nodes([h100_node(), sim_node()], show_gpus=False).splitlines()
    # Go tabwriter, kubectl get settings: column width = widest cell + 3.
    assert lines[0].startswith("NAME         CPU(cores)   CPU%   MEMORY(bytes)   ")
    assert lines[2].startswith("laptop       250m         3%     n/a             ")
    assert not any(line.endswith(" ") for line in lines)


def test_gpu_table_per_gpu_by_index() -> None:
    text = format_top_gpus([h100_node(), sim_node(), cpu_node()])
    rows = text.splitlines()
    assert rows[0].split() == ["NODE", "GPU", "PRODUCT", "UTIL", "MEMORY", "TEMP", "POWER",
                               "HEALTH", "POD"]
    cells = [[c.strip() for c in _columns(rows[0], line)] for line in rows[1:]]
    assert cells == [
        ["gpu-node-1", "0", "NVIDIA H100 80GB HBM3", "60%", "10.0Gi/80.0Gi", "41C", "313W",
         "Healthy", "ml/train-0"],
        ["gpu-node-1", "1", "NVIDIA H100 80GB HBM3", "20%", "2.0Gi/80.0Gi", "42C", "313W",
         "Unhealthy", "ml/train-0"],
        ["gpu-node-1", "2", "NVIDIA H100 80GB HBM3", "n/a", "n/a", "43C", "313W", "Healthy",
         "<none>"],
        ["gpu-node-1", "3", "NVIDIA H100 80GB HBM3", "0%", "0Mi/80.0Gi", "44C", "313W",
         "Healthy", "<none>"],
        ["laptop", "0", "Simulated GPU (simulated)", "n/a", "n/a", "n/a", "n/a", "Healthy",
         "default/sim-job"],
    ]


def _columns(header: str, line: str) -> list[str]:
    """Cut an aligned line at the header's column starts (cells may hold spaces)."""
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    return [line[a:b] for a, b in zip(starts, [*starts[1:], None], strict=True)]


def test_gpu_table_follows_node_table_after_a_blank_line() -> None:
    text = format_top_nodes([h100_node(), cpu_node()])
    nodes, gpus = text.split("\n\n")
    assert len(nodes.splitlines()) == 3
    assert gpus.splitlines()[0].startswith("NODE ")
    assert len(gpus.splitlines()) == 5


def test_no_gpu_table_without_gpus_or_with_no_gpus() -> None:
    assert "\n\n" not in format_top_nodes([cpu_node()])
    assert "PRODUCT" not in format_top_nodes([h100_node()], show_gpus=False)
    assert format_top_gpus([cpu_node()]) == ""


def test_node_no_headers_and_empty() -> None:
    text = format_top_nodes([sim_node()], no_headers=True)
    assert [line.split()[0] for line in text.splitlines() if line] == ["laptop", "laptop"]
    assert format_top_nodes([]) == ""


# ----- tug top pods ----------------------------------------------------------------------------

def test_pod_table_multi_gpu_and_unknowns() -> None:
    pods = [pod("train-0", "ml", gpus=[pod_gpu(0, 60, 10240), pod_gpu(1, 21, 2048)]),
            pod("sim-job", gpus=[pod_gpu(0, None, None)], mem=None),
            pod("web", cpu=None)]
    assert split(format_top_pods(pods)) == [
        ["NAME", "CPU(cores)", "MEMORY(bytes)", "GPUS", "GPU-UTIL", "GPU-MEM"],
        ["train-0", "500m", "300Mi", "2", "40%", "12.0Gi"],
        ["sim-job", "500m", "n/a", "1", "n/a", "n/a"],
        ["web", "n/a", "300Mi", "0", "n/a", "n/a"],
    ]


def test_pod_gpu_memory_sums_only_known_values() -> None:
    pods = [pod("p", gpus=[pod_gpu(0, 50, 700), pod_gpu(1, None, None)])]
    assert split(format_top_pods(pods, no_headers=True)) == [["p", "500m", "300Mi", "2", "50%",
                                                              "700Mi"]]


def test_pod_table_all_namespaces_adds_namespace_first() -> None:
    pods = [pod("train-0", "ml", gpus=[pod_gpu(0, 60, 10240)]), pod("web")]
    lines = format_top_pods(pods, all_namespaces=True).splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert lines[1].split()[:2] == ["ml", "train-0"]
    assert lines[2].startswith("default     web ")
    assert format_top_pods([], all_namespaces=True) == ""


# ----- the verb --------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["top"], ["top", "nodes"], ["top", "pods"]])
def test_top_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, "--help"])
    assert exit_.value.code == 0
    assert "usage: tug " + " ".join(argv) in capsys.readouterr().out


def test_top_pods_flags() -> None:
    args = build_parser().parse_args(["top", "pods", "-A", "-l", "app=x", "--no-headers",
                                      "-o", "json"])
    assert (args.all_namespaces, args.selector, args.no_headers, args.output) == (
        True, "app=x", True, "json")
    args = build_parser().parse_args(["top", "nodes", "--no-gpus"])
    assert args.no_gpus and args.func.function is top_cli.nodes


def test_top_without_what_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["top"]) == 2
    assert "usage: tug top" in capsys.readouterr().err


class FakeClient:
    """Stands in for Client: records requests and answers with canned items."""

    calls: list[tuple[str, str, dict[str, Any] | None]] = []
    items: list[dict[str, Any]] = []

    @classmethod
    def from_config(cls) -> FakeClient:
        return cls()

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None) -> Any:
        FakeClient.calls.append((method, path, params))
        return {"items": FakeClient.items}


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    FakeClient.calls, FakeClient.items = [], []
    monkeypatch.setattr(top_cli, "Client", FakeClient)
    return FakeClient


def test_top_pods_asks_for_the_namespace_and_selector(
        fake: type[FakeClient], capsys: pytest.CaptureFixture[str]) -> None:
    fake.items = [pod("train-0", "ml", gpus=[pod_gpu(0, 60, 10240)])]
    assert main(["top", "pods", "-n", "ml", "-l", "app=train"]) == 0
    assert fake.calls[-1] == ("GET", "/apis/tugboat.dev/v1/top/pods",
                              {"namespace": "ml", "labelSelector": "app=train"})
    assert capsys.readouterr().out.splitlines()[1].split()[0] == "train-0"
    assert main(["top", "pods", "-A"]) == 0
    assert fake.calls[-1][2] == {"namespace": None, "labelSelector": None}
    assert main(["top", "pods"]) == 0
    assert fake.calls[-1][2] == {"namespace": "default", "labelSelector": None}


def test_top_nodes_json_is_the_servers_items(
        fake: type[FakeClient], capsys: pytest.CaptureFixture[str]) -> None:
    fake.items = [sim_node()]
    assert main(["top", "nodes", "-o", "json"]) == 0
    assert fake.calls == [("GET", "/apis/tugboat.dev/v1/top/nodes", None)]
    assert json.loads(capsys.readouterr().out) == [sim_node()]


def test_top_nodes_table(fake: type[FakeClient], capsys: pytest.CaptureFixture[str]) -> None:
    fake.items = [h100_node()]
    assert main(["top", "nodes"]) == 0
    assert capsys.readouterr().out == format_top_nodes([h100_node()]) + "\n"


def test_nothing_found_is_a_message_not_an_error(
        fake: type[FakeClient], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["top", "nodes"]) == 0
    assert capsys.readouterr() == ("", "No resources found.\n")
    assert main(["top", "pods", "-n", "ml"]) == 0
    assert capsys.readouterr().err == "No resources found in ml namespace.\n"
    assert main(["top", "pods", "-A"]) == 0
    assert capsys.readouterr().err == "No resources found in any namespace.\n"
    assert main(["top", "pods", "-o", "json"]) == 0
    assert capsys.readouterr().out == "[]\n"
