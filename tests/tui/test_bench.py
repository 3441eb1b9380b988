"""`tug bench tui` runs end to end on a small cluster and reports every figure beside the stock
DataTable's (speed is measured there, never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_tui_json_has_every_figure_and_the_baseline() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "bench", "tui", "--nodes", "3",
                          "--gpus-per-node", "2", "--pods", "300", "-o", "json"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)  # -o json prints one object and nothing else
    assert (report["nodes"], report["gpus_per_node"], report["pods"]) == (3, 2, 300)
    for key in ("first_paint_ms", "refresh_ms", "key_p99_ms", "key_down_p99_ms", "key_pagedown_p99_ms",
                "key_filter_p99_ms", "key_command_p99_ms", "key_floor_ms", "prompt_floor_ms", "loaded_ms",
                "rss_mb", "first_paint_speedup", "refresh_speedup"):
        assert report[key] > 0, key
    for key in ("first_paint_ms", "loaded_ms", "refresh_ms", "key_p99_ms"):
        assert report["baseline"][key] > 0, key
    assert report["first_paint_ms"] <= report["loaded_ms"]  # a row is drawn before all are in


def test_bench_tui_bad_flags() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "bench", "tui", "--pods", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "--pods: expected a positive integer" in out.stderr
    assert "Traceback" not in out.stderr
