"""engine/runtime/pool.py's bookkeeping, without Ray (its Ray side is in
tests/integration/test_runners.py): a node never holds more than `max` runners whatever state
they are in, a pod waiting for one gets the next one freed, a runner freed with nobody waiting
goes idle, and which pods may use a runner at all."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.clusterconfig import RunnersConfig
from engine.runtime import pool as pool_module
from engine.runtime.pool import Runner, RunnerPool, eligible
from gpu.inventory import GpuInfo, Inventory


class _Call:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[Any, ...]] = []

    def remote(self, *args: Any) -> asyncio.Future[Any]:
        self.calls.append(args)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(self.answer)
        return done


class _Handle:
    """Stands in for a runner's actor handle: release answers as told."""

    def __init__(self, released: bool = True) -> None:
        self.release = _Call(released)


def _pool(max_: int, idle: int) -> tuple[RunnerPool, list[Runner]]:
    pool = RunnerPool(RunnersConfig(min_idle=0, max=max_))
    pool._nodes = {"n"}
    runners = [Runner(f"runner.n.{i}", "n", _Handle()) for i in range(idle)]
    pool._idle["n"] = list(runners)
    return pool, runners


def test_a_waiting_pod_gets_the_next_runner_freed_and_the_count_never_passes_max(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "WAIT_S", 5.0)

    async def scenario() -> None:
        pool, _ = _pool(2, 2)
        a, b = await pool.take("n"), await pool.take("n")
        assert a is not None and b is not None and pool.count("n") == 2  # lent: still counted
        pool.serve("pod-a", a)
        pool.serve("pod-b", b)
        waiting = asyncio.create_task(pool.take("n"))  # at max: waits for one to be freed
        await asyncio.sleep(0)
        assert not waiting.done() and pool.count("n") == 2
        await pool.give_back("pod-a")
        assert await waiting is a and pool.count("n") == 2
        assert a.handle.release.calls == [("pod-a",)]
        pool.serve("pod-c", a)
        await pool.give_back("pod-b")  # nobody waits: idle again
        assert pool.idle("n") == 1 and pool.count("n") == 2
    asyncio.run(scenario())


def test_nothing_freed_in_time_means_an_actor_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "WAIT_S", 0.05)

    async def scenario() -> None:
        pool, _ = _pool(1, 1)
        taken = await pool.take("n")
        assert taken is not None
        pool.serve("pod-a", taken)
        assert await pool.take("n") is None  # its one runner is busy: the old path
        assert await pool.take("other-node") is None  # no runner there, and none may be made
        off, _ = _pool(0, 0)
        assert await off.take("n") is None  # pool of size 0
    asyncio.run(scenario())


def test_a_runner_that_cannot_clean_up_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[Any] = []
    monkeypatch.setattr(pool_module, "_kill", killed.append)

    async def scenario() -> None:
        pool, _ = _pool(2, 1)
        bad = await pool.take("n")
        assert bad is not None
        bad.handle = _Handle(released=False)  # it serves another pod than the one named
        pool.serve("pod-a", bad)
        await pool.give_back("pod-a")
        assert killed == [bad.handle] and pool.idle("n") == 0 and pool.count("n") == 0
        pool.put_back(Runner("runner.n.9", "n", _Handle()))  # taken, never used: idle again
        assert pool.idle("n") == 1
    asyncio.run(scenario())


def test_which_pods_a_runner_may_host() -> None:
    def pod(gpus: int = 0, named: str | None = None, own: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": "p", "annotations": {}}
        if named is not None:
            meta["annotations"]["tugboat.dev/gpus"] = named
        if own is not None:
            meta["annotations"]["tugboat.dev/own-actor"] = own
        limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
        return {"metadata": meta, "spec": {"containers": [{"name": "c", "resources": {"limits": limits}}]}}

    def gpu(index: int, mig: bool = False) -> GpuInfo:
        return GpuInfo(index=index, uuid=f"GPU-{index}", product="A100", memory_mib=40960,
                       compute_capability="8.0", mig_mode=mig)

    def inventory(*gpus: GpuInfo) -> Inventory:
        return Inventory(gpus=gpus, driver_version="550", cuda_driver_version="12.4", reason=None)
    plain = inventory(gpu(0), gpu(1))
    assert eligible(pod(), None)
    assert not eligible(pod(own="true"), None) and eligible(pod(own="false"), None)
    assert eligible(pod(1, named="1"), plain)
    assert not eligible(pod(1), plain)  # GPUs the scheduler did not name: Ray must choose them
    assert not eligible(pod(1, named="0"), inventory(gpu(0, mig=True)))

