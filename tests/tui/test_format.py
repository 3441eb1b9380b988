"""The TUI's pure formatting: bars, sparklines, quota lines, percentages and MiB."""

from __future__ import annotations

import pytest

from tui.format import NA, bar, mib, percent, quota_lines, sparkline, tone


@pytest.mark.parametrize(("used", "limit", "want"), [
    (0, 4, "░░░░░░░░"), (2, 4, "████░░░░"), (4, 4, "████████"), (9, 4, "████████"),
    (1, 3, "███░░░░░"), (None, 4, "n/a     "), (1, 0, "n/a     "), (1, None, "n/a     "),
])
def test_bar_fills_in_proportion_and_says_na_when_unknown(used: float | None, limit: float | None,
                                                        want: str) -> None:
    assert bar(used, limit, 8) == want


def test_sparkline_scales_to_top_keeps_the_last_values_and_gaps_unknowns() -> None:
    assert sparkline([0, 50, 100]) == "▁▅█"
    assert sparkline([0, None, 100]) == "▁ █"
    assert sparkline(list(range(100)), width=5) == sparkline([95, 96, 97, 98, 99])
    assert sparkline([]) == ""
    assert sparkline([150, -5]) == "█▁"  # clamped


def test_quota_lines_read_quantities_in_their_units() -> None:
    queue = {"spec": {"quota": {"nvidia.com/gpu": "4", "memory": "8Gi", "cpu": "2"}},
             "status": {"used": {"nvidia.com/gpu": "3", "memory": "2Gi", "cpu": "500m"}}}
    lines = quota_lines(queue, width=4)
    assert lines == [("cpu", "█░░░", "500m/2"), ("memory", "█░░░", "2Gi/8Gi"),
                     ("nvidia.com/gpu", "███░", "3/4")]
    assert quota_lines({"spec": {"quota": {"nvidia.com/gpu": "2"}}}, width=2) == [
        ("nvidia.com/gpu", "░░", "0/2")]
    assert quota_lines({"spec": {"quota": {"x": "lots"}}}, width=3) == [("x", "n/a", "0/lots")]


def test_percent_and_mib() -> None:
    assert percent(None) == NA and percent(12.6) == "13%"
    assert mib(None) == NA and mib(512) == "512Mi" and mib(16384) == "16.0Gi"


@pytest.mark.parametrize(("cell", "want"), [
    ("Running", "good"), ("Completed", "good"), ("Ready", "good"), ("Healthy", "good"),
    ("Failed", "bad"), ("CrashLoopBackOff", "bad"), ("NotReady", "bad"),
    ("Ready,SchedulingDisabled", "wait"),  # cordoned: not all good
    ("NotReady,SchedulingDisabled", "bad"), ("Pending", "wait"), ("Init:0/1", "wait"),
    ("Healthy IDLE", "idle"), ("37% IDLE", "idle"), ("Warning", "wait"),
    ("", None), ("my-running-pod", None), ("3/4", None),
])
def test_tone_reads_the_words_of_a_cell(cell: str, want: str | None) -> None:
    assert tone(cell) == want
