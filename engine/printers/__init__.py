"""kubectl-style output for tug: `get` tables, `describe` text and the ages and statuses in them."""

from __future__ import annotations

from engine.printers.describe import describe
from engine.printers.fmt import age_of, format_age, format_labels, format_selector
from engine.printers.pods import PodSummary, node_status, pod_status, summarize_pod
from engine.printers.table import format_table, table_cells
from engine.printers.tabwriter import tabwrite
from engine.printers.top import format_top_gpus, format_top_nodes, format_top_pods

__all__ = [
    "PodSummary",
    "age_of",
    "describe",
    "format_age",
    "format_labels",
    "format_selector",
    "format_table",
    "format_top_gpus",
    "format_top_nodes",
    "format_top_pods",
    "node_status",
    "pod_status",
    "summarize_pod",
    "table_cells",
    "tabwrite",
]
