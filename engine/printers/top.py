"""`kubectl top`-style tables of node, pod and GPU usage, built from the server's top items."""

from __future__ import annotations

from collections.abc import Sequence

from engine.printers.fmt import NONE, UNKNOWN, Obj, dig
from engine.printers.tabwriter import GET_MINWIDTH, GET_PADDING, tabwrite

# A value the server does not know (a simulated GPU, a node without metrics). Never a guess.
NA = "n/a"

NODE_HEADERS = ["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%", "GPUS", "GPU-UTIL",
                "GPU-MEM"]
GPU_HEADERS = ["NODE", "GPU", "PRODUCT", "UTIL", "MEMORY", "TEMP", "POWER", "HEALTH", "POD"]
POD_HEADERS = ["NAME", "CPU(cores)", "MEMORY(bytes)", "GPUS", "GPU-UTIL", "GPU-MEM"]


def format_cpu(cores: float | None) -> str:
    """Cores in use as kubectl top prints them: millicores, "250m"."""
    return NA if cores is None else f"{round(cores * 1000)}m"


def format_memory(nbytes: int | None) -> str:
    """Bytes in use as kubectl top prints them: whole MiB, rounded down, "1234Mi"."""
    return NA if nbytes is None else f"{int(nbytes) // 2**20}Mi"


def format_percent(used: float | None, capacity: float | None) -> str:
    """Use as a share of capacity, truncated to a whole percent like kubectl top ("12%")."""
    if used is None or not capacity or capacity <= 0:
        return NA
    return f"{int(used * 100 / capacity)}%"


def format_mib(mib: float | None) -> str:
    """GPU memory: "512Mi" below a GiB, "12.0Gi" from there on."""
    if mib is None:
        return NA
    return f"{int(mib)}Mi" if mib < 1024 else f"{mib / 1024:.1f}Gi"


def format_gpu_memory(used: float | None, total: float | None) -> str:
    """"used/total" GPU memory; just the use when the total is unknown, n/a when the use is."""
    if used is None:
        return NA
    return format_mib(used) if total is None else f"{format_mib(used)}/{format_mib(total)}"


def _mean_util(gpus: Sequence[Obj]) -> str:
    # Unknown utilizations are left out of the mean rather than counted as 0%.
    known = [g["utilizationGpu"] for g in gpus if g.get("utilizationGpu") is not None]
    return f"{round(sum(known) / len(known))}%" if known else NA


def _summed_memory(gpus: Sequence[Obj]) -> str:
    known = [g for g in gpus if g.get("memoryUsedMiB") is not None]
    if not known:
        return NA
    totals = [g.get("memoryTotalMiB") for g in known]
    total = None if any(t is None for t in totals) else sum(t for t in totals if t is not None)
    return format_gpu_memory(sum(g["memoryUsedMiB"] for g in known), total)


def _gpus(item: Obj) -> list[Obj]:
    return list(dig(item, "gpus", default=[]))


def top_node_row(node: Obj) -> list[str]:
    """One node's cells under NODE_HEADERS; GPUS is "held by pods/total"."""
    gpus = _gpus(node)
    held = sum(1 for g in gpus if dig(g, "pods"))
    return [
        str(dig(node, "name", default="")),
        format_cpu(node.get("cpuCores")),
        format_percent(node.get("cpuCores"), node.get("cpuCapacity")),
        format_memory(node.get("memoryBytes")),
        format_percent(node.get("memoryBytes"), node.get("memoryCapacity")),
        f"{held}/{len(gpus)}",
        _mean_util(gpus),
        _summed_memory(gpus),
    ]


def top_gpu_rows(node: Obj) -> list[list[str]]:
    """One row per GPU of a node, by index, under GPU_HEADERS."""
    rows = []
    for gpu in sorted(_gpus(node), key=lambda g: dig(g, "index", default=0)):
        product = str(dig(gpu, "product", default="")) or UNKNOWN
        if gpu.get("simulated"):
            product += " (simulated)"
        util, temp, power = gpu.get("utilizationGpu"), gpu.get("temperatureC"), gpu.get("powerW")
        rows.append([
            str(dig(node, "name", default="")),
            str(dig(gpu, "index", default="")),
            product,
            NA if util is None else f"{util}%",
            format_gpu_memory(gpu.get("memoryUsedMiB"), gpu.get("memoryTotalMiB")),
            NA if temp is None else f"{temp}C",
            NA if power is None else f"{power:.0f}W",
            str(dig(gpu, "health", default=UNKNOWN)),
            ",".join(dig(gpu, "pods", default=[])) or NONE,
        ])
    return rows


def top_pod_row(pod: Obj) -> list[str]:
    """One pod's cells under POD_HEADERS; GPU-MEM is what the pod's own processes use."""
    gpus = _gpus(pod)
    used = [g["memoryUsedMiB"] for g in gpus if g.get("memoryUsedMiB") is not None]
    return [
        str(dig(pod, "name", default="")),
        format_cpu(pod.get("cpuCores")),
        format_memory(pod.get("memoryBytes")),
        str(len(gpus)),
        _mean_util(gpus),
        format_mib(sum(used)) if used else NA,
    ]


def _cell(value: str) -> str:
    # A tab or newline inside a cell would break the column layout.
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _align(headers: list[str], rows: list[list[str]], *, no_headers: bool) -> str:
    lines = rows if no_headers else [headers, *rows]
    text = "\n".join("\t".join(_cell(cell) for cell in line) for line in lines)
    return tabwrite(text, minwidth=GET_MINWIDTH, padding=GET_PADDING)


def format_top_gpus(nodes: Sequence[Obj], *, no_headers: bool = False) -> str:
    """The per-GPU table of `tug top nodes`; "" when no node has a GPU."""
    rows = [row for node in nodes for row in top_gpu_rows(node)]
    return _align(GPU_HEADERS, rows, no_headers=no_headers) if rows else ""


def format_top_nodes(nodes: Sequence[Obj], *, no_headers: bool = False,
                     show_gpus: bool = True) -> str:
    """The text `tug top nodes` prints, without a trailing newline; "" for no items.

    The node table, then (unless show_gpus is False) a blank line and the per-GPU table.
    """
    if not nodes:
        return ""
    text = _align(NODE_HEADERS, [top_node_row(n) for n in nodes], no_headers=no_headers)
    gpus = format_top_gpus(nodes, no_headers=no_headers) if show_gpus else ""
    return f"{text}\n\n{gpus}" if gpus else text


def format_top_pods(pods: Sequence[Obj], *, all_namespaces: bool = False,
                    no_headers: bool = False) -> str:
    """The text `tug top pods` prints, without a trailing newline; "" for no items."""
    if not pods:
        return ""
    headers, rows = POD_HEADERS, [top_pod_row(p) for p in pods]
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
        rows = [[str(dig(p, "namespace", default="")), *row]
                for p, row in zip(pods, rows, strict=True)]
    return _align(headers, rows, no_headers=no_headers)
