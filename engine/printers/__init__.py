"""kubectl-style output for tug: `get` tables, `describe` text and the ages and statuses in them.

Names load on first use, so `tug get pods` does not pay for describe or top."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_attributes

_LAZY = {
    "describe": "describe_kinds", "age_of": "fmt", "format_age": "fmt", "format_labels": "fmt",
    "format_selector": "fmt", "PodSummary": "pods", "node_status": "pods", "pod_status": "pods",
    "summarize_pod": "pods", "format_table": "table", "table_cells": "table", "tabwrite": "tabwriter",
    "format_top_gpus": "top", "format_top_nodes": "top", "format_top_pods": "top",
}

if TYPE_CHECKING:
    from engine.printers.describe_kinds import describe
    from engine.printers.fmt import age_of, format_age, format_labels, format_selector
    from engine.printers.pods import PodSummary, node_status, pod_status, summarize_pod
    from engine.printers.table import format_table, table_cells
    from engine.printers.tabwriter import tabwrite
    from engine.printers.top import format_top_gpus, format_top_nodes, format_top_pods

__getattr__ = lazy_attributes(__name__, _LAZY)

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
