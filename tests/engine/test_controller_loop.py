"""The controllers' shared loop on a real store: a handler that throws leaves no half-filled
cache and no sync runs on one; a key whose sync fails is retried on its own with capped
exponential backoff while the others go on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.controllers.loop import MAX_BACKOFF_S, RETRY_S, KeyedLoop, backoff, follow
from engine.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store.db")
    yield s
    s.close()


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}


async def _until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
    return value


def test_backoff_doubles_from_the_first_retry_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [RETRY_S, 2 * RETRY_S, 4 * RETRY_S, 8 * RETRY_S]
    assert backoff(10**6) == MAX_BACKOFF_S  # no overflow however long it fails


async def test_a_handler_that_throws_mid_list_leaves_no_partial_cache(store: Store) -> None:
    for name in ("a", "b", "c"):
        store.create("configmaps", _cm(name))
    cache: dict[str, dict[str, Any]] = {}
    told: list[bool] = []
    broken = {"b"}

    def handle(kind: str, obj: dict[str, Any]) -> None:
        if kind == "RELIST":
            cache.clear()
            return
        if obj["metadata"]["name"] in broken:
            raise RuntimeError("cannot take this one")
        cache[obj["metadata"]["name"]] = obj

    task = asyncio.create_task(follow(store, "configmaps", handle, who="test", synced=told.append))
    try:
        await _until(lambda: told)
        assert told[0] is False  # "a" went in before "b" failed: the list was not whole ...
        assert cache == {}  # ... and what it had cached is gone, not left looking complete
        broken.clear()
        await _until(lambda: True in told)
        assert sorted(cache) == ["a", "b", "c"]  # the relist after its backoff is whole
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class _Recorder(KeyedLoop):
    name = "recorder"

    def __init__(self, store: Store, bad: set[str]) -> None:
        super().__init__(store)
        self.bad = bad
        self.synced: list[list[str]] = []
        self.tries: dict[str, list[float]] = {}
        self.reported: list[tuple[str, float]] = []
        self.names: set[str] = set()

    async def start(self) -> None:
        self.start_following(("configmaps", self.handle))

    def handle(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "RELIST":
            self.names.clear()
            return
        self.names.add(obj["metadata"]["name"])
        self.enqueue(obj["metadata"]["name"])

    def sync_keys(self, keys: list[str]) -> None:
        self.synced.append(list(keys))
        for key in keys:
            if key in self.bad:
                self.tries.setdefault(key, []).append(asyncio.get_running_loop().time())
                raise ValueError(f"{key} is malformed")

    def on_failure(self, key: str, exc: Exception, retry_in: float) -> None:
        self.reported.append((key, retry_in))


async def test_a_failing_key_backs_off_alone_and_never_delays_the_others(store: Store) -> None:
    for name in ("bad", "good1", "good2"):
        store.create("configmaps", _cm(name))
    loop = _Recorder(store, {"bad"})
    await loop.start()
    try:
        await _until(lambda: len(loop.tries.get("bad", [])) >= 4)
        # the first batch failed on "bad"; each key was then synced on its own, so both good
        # ones went through in the same wake-up, without waiting for any retry
        assert ["good1"] in loop.synced and ["good2"] in loop.synced
        assert loop.synced.index(["good1"]) < 3
        retries = [k for k in loop.synced if k == ["good1"] or k == ["good2"]]
        assert len(retries) == 2  # a key that went through is not synced again
        waits = [b - a for a, b in zip(loop.tries["bad"][1:], loop.tries["bad"][2:], strict=False)]
        assert waits[1] > waits[0] * 1.5  # the backoff grows
        assert [w for _, w in loop.reported[:3]] == [RETRY_S, 2 * RETRY_S, 4 * RETRY_S]
        assert all(k == "bad" for k, _ in loop.reported)
        loop.bad.clear()  # fixed: the next try goes through and the backoff starts over
        before = len(loop.synced)
        await _until(lambda: ["bad"] in loop.synced[before:], timeout=20)
        assert "bad" not in loop._failures
        store.create("configmaps", _cm("new"))
        await _until(lambda: any("new" in keys for keys in loop.synced))
    finally:
        await loop.close()


async def test_no_sync_runs_while_a_cache_is_not_whole(store: Store) -> None:
    store.create("configmaps", _cm("a"))
    loop = _Recorder(store, set())
    broken = {"on": True}
    plain = loop.handle

    def handle(kind: str, obj: dict[str, Any]) -> None:
        plain(kind, obj)  # marks the key dirty first, as a real handler would
        if broken["on"] and kind == "LISTED":
            raise RuntimeError("list cannot be taken")

    loop.handle = handle  # type: ignore[method-assign]
    await loop.start()
    try:
        await _until(lambda: loop._whole == {"configmaps": False} and loop._dirty)
        await asyncio.sleep(0)  # the wake-up it got finds the cache not whole ...
        assert loop.synced == []  # ... and syncs nothing: "a" would look deleted
        broken["on"] = False
        await _until(lambda: loop.synced)
        assert loop.synced[0] == ["a"] and loop.names == {"a"}
    finally:
        await loop.close()
