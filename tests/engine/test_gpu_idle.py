"""Idle GPUs with a driven clock: under the threshold for the whole window is one idle spell
(one event), busy again ends it, no figure (a simulated GPU) never starts one."""

from __future__ import annotations

import pytest

from gpu.idle import IdlePolicy, IdleSpell, IdleTracker
from gpu.inventory import GpuSample


def sample(uuid: str, util: int | None, *, lost: bool = False) -> GpuSample:
    return GpuSample(uuid=uuid, time=0.0, utilization_gpu=util, utilization_memory=None,
                     memory_used_mib=None, memory_free_mib=None, temperature_c=None, power_w=None,
                     power_limit_w=None, ecc_uncorrected=None, processes=(), xids=(), lost=lost)


HELD = {"g0": ["ns/train"], "g1": ["ns/infer"]}


def test_a_held_gpu_under_the_threshold_for_the_window_starts_one_spell() -> None:
    t = IdleTracker(IdlePolicy(threshold_pct=5, window_s=600))
    began = []
    for now in range(0, 1300, 60):
        began += t.update("n", [sample("g0", 2), sample("g1", 80)], HELD, float(now))
    assert began == [IdleSpell("n", "g0", "ns/train", 0.0)]  # once, at 600 s
    assert t.idle() == [("n", "g0", "ns/train")]
    assert t.update("n", [sample("g0", 40)], HELD, 1300.0) == []  # busy: the spell ends
    assert t.idle() == []
    assert t.update("n", [sample("g0", 1)], HELD, 1400.0) == []
    assert t.update("n", [sample("g0", 1)], HELD, 2000.0) == [IdleSpell("n", "g0", "ns/train", 1400.0)]


@pytest.mark.parametrize("util", [5, 50, 100])
def test_at_or_over_the_threshold_is_busy(util: int) -> None:
    t = IdleTracker(IdlePolicy(threshold_pct=5, window_s=60))
    assert all(t.update("n", [sample("g0", util)], HELD, float(now)) == [] for now in range(0, 600, 30))


def test_no_figure_never_starts_a_spell_and_an_unheld_gpu_is_never_idle() -> None:
    t = IdleTracker(IdlePolicy(window_s=60))
    for now in range(0, 600, 30):
        assert t.update("n", [sample("g0", None), sample("g2", 0), sample("g1", 0, lost=True)],
                        HELD, float(now)) == []
    assert t.idle() == []


def test_a_released_gpu_or_a_gone_pod_ends_its_spell() -> None:
    t = IdleTracker(IdlePolicy(window_s=60))
    for now in (0.0, 60.0):
        t.update("n", [sample("g0", 0)], HELD, now)
    assert t.idle("n") == [("n", "g0", "ns/train")]
    t.update("n", [sample("g0", 0)], {}, 90.0)  # the pod ended: nobody holds it
    assert t.idle() == []
    assert t.update("n", [sample("g0", 0)], HELD, 100.0) == []  # a new holder starts afresh
    assert t.update("n", [sample("g0", 0)], HELD, 160.0) == [IdleSpell("n", "g0", "ns/train", 100.0)]
    t.forget("n")
    assert t.idle() == []


@pytest.mark.parametrize(("threshold", "window"), [(0, 60), (101, 60), (5, 0), (5, -1)])
def test_a_policy_out_of_range_is_refused(threshold: float, window: float) -> None:
    with pytest.raises(ValueError):
        IdlePolicy(threshold_pct=threshold, window_s=window)


def test_top_and_metrics_say_which_gpus_are_idle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.server.metrics import Metrics
    from engine.store import Store
    from gpu import simulated_inventory
    from gpu.attribution import node_top

    inventory = simulated_inventory(2, node="n")
    first = inventory.gpus[0].uuid
    row = node_top("n", {"status": {}}, None, inventory, {}, frozenset({first}))
    assert [g["idle"] for g in row["gpus"]] == [True, False]
    store = Store(tmp_path / "s.db")
    try:
        metrics = Metrics(store)
        metrics.gpu_idle = lambda: [("n", first, "ns/train")]
        text = metrics.render()[0].decode()
        assert f'tugboat_gpu_idle{{gpu="{first}",node="n",pod="ns/train"}} 1.0' in text
        metrics.gpu_idle = list  # the spell ended: its series goes
        assert "tugboat_gpu_idle{" not in metrics.render()[0].decode()
    finally:
        store.close()
