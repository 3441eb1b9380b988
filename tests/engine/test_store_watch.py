"""Store watches: listing then following, order without gaps, resume, 410 Gone, selectors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.errors import AlreadyExistsError, BadRequestError, GoneError
from engine.store import EventType, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store.db")
    yield s
    s.close()


def pod(name: str, ns: str = "default", labels: dict[str, str] | None = None,
        node: str = "") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node} if node else {}}


async def take(it: AsyncIterator[Any], n: int) -> list[Any]:
    async def run() -> list[Any]:
        return [await anext(it) for _ in range(n)]
    return await asyncio.wait_for(run(), timeout=5)


async def nothing_more(it: AsyncIterator[Any]) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(anext(it), timeout=0.05)


def names(events: list[tuple[Any, ...]]) -> list[tuple[str, str]]:
    return [(str(e[-2]), e[-1]["metadata"]["name"]) for e in events]


async def test_watch_lists_then_follows(store: Store) -> None:
    store.create("pods", pod("b"))
    store.create("pods", pod("a"))
    store.create("nodes", {"metadata": {"name": "n"}}, namespaced=False)
    w = store.watch("pods")
    assert names(await take(w, 2)) == [("ADDED", "a"), ("ADDED", "b")]
    store.update("pods", pod("a", labels={"x": "1"}))
    store.delete("pods", "default", "b")
    events = await take(w, 2)
    assert names(events) == [("MODIFIED", "a"), ("DELETED", "b")]
    assert events[0][0] is EventType.MODIFIED
    assert [e[1]["metadata"]["resourceVersion"] for e in events] == ["4", "5"]
    await nothing_more(w)


async def test_watch_since_zero_is_a_list(store: Store) -> None:
    store.create("pods", pod("a"))
    assert names(await take(store.watch("pods", since="0"), 1)) == [("ADDED", "a")]


async def test_watch_from_a_version_is_exclusive(store: Store) -> None:
    for i in range(5):
        store.create("pods", pod(f"p{i}"))
    w = store.watch("pods", since="2")
    assert names(await take(w, 3)) == [("ADDED", "p2"), ("ADDED", "p3"), ("ADDED", "p4")]
    await nothing_more(w)


async def test_watch_order_without_gaps_while_writing(store: Store) -> None:
    w = store.watch("pods", since=store.resource_version())
    seen: list[int] = []

    async def consume() -> None:
        async for _, obj in w:
            seen.append(int(obj["metadata"]["resourceVersion"]))
            if len(seen) % 7 == 0:
                await asyncio.sleep(0)  # a slow reader falls behind the writer
            if len(seen) == 1500:
                return

    task = asyncio.create_task(consume())
    for i in range(500):
        store.create("pods", pod(f"p{i}"))
        store.update("pods", pod(f"p{i}", labels={"n": str(i)}))
        store.delete("pods", "default", f"p{i}")
        if i % 10 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(task, timeout=10)
    assert seen == list(range(1, 1501))


async def test_slow_watcher_does_not_block_writers(store: Store) -> None:
    w = store.watch("pods")
    for i in range(1200):  # more than one read batch, nobody reading
        store.create("pods", pod(f"p{i:04}"))
    events = await take(w, 1200)
    assert [e[1]["metadata"]["name"] for e in events] == [f"p{i:04}" for i in range(1200)]


async def test_watch_all_and_namespace_filter(store: Store) -> None:
    everything = store.watch_all()
    in_ns2 = store.watch("pods", "ns2", since="0")
    store.create("pods", pod("a"))
    store.create("nodes", {"metadata": {"name": "n"}}, namespaced=False)
    store.create("pods", pod("b", ns="ns2"))
    events = await take(everything, 3)
    assert [(r, t) for r, t, _ in events] == [("pods", "ADDED"), ("nodes", "ADDED"),
                                              ("pods", "ADDED")]
    assert names(await take(in_ns2, 1)) == [("ADDED", "b")]
    await nothing_more(in_ns2)


async def test_noop_and_failed_writes_send_nothing(store: Store) -> None:
    store.create("pods", pod("a"))
    w = store.watch("pods", since=store.resource_version())
    store.update("pods", pod("a"))
    store.update_status("pods", pod("a"))
    with pytest.raises(AlreadyExistsError):
        store.apply_all([("create", "pods", pod("b")), ("create", "pods", pod("a"))])
    await nothing_more(w)
    store.create("pods", pod("c"))
    events = await take(w, 1)
    assert names(events) == [("ADDED", "c")]
    assert events[0][1]["metadata"]["resourceVersion"] == "2"


def test_gone_after_compaction(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db", history=10)
    for i in range(250):
        s.create("pods", pod(f"p{i}"))
    with pytest.raises(GoneError) as err:
        s.watch("pods", since="5")
    assert err.value.code == 410
    message = str(err.value)
    assert message.startswith("too old resource version: 5 (")
    compacted = int(message.split("(")[1].rstrip(")"))
    assert 240 - 100 <= compacted <= 240  # at most `history` + one compaction interval kept
    s.watch("pods", since=str(compacted))
    with pytest.raises(GoneError):
        s.watch("pods", since=str(compacted - 1))
    with pytest.raises(BadRequestError):
        s.watch("pods", since="abc")
    s.close()


async def test_watcher_that_falls_behind_compaction_gets_gone(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db", history=10)
    s.create("pods", pod("first"))
    w = s.watch("pods", since="1")
    for i in range(150):
        s.create("pods", pod(f"p{i}"))
    with pytest.raises(GoneError):
        await take(w, 1)
    s.close()


async def test_filtered_watch_of_a_quiet_resource_is_not_gone(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db", history=10)
    w = s.watch("services", since=s.resource_version())
    reader = asyncio.create_task(take(w, 1))
    await asyncio.sleep(0.01)
    for i in range(250):
        s.create("pods", pod(f"p{i}"))
        await asyncio.sleep(0)
    s.create("services", {"metadata": {"name": "svc", "namespace": "default"}})
    assert names(await reader) == [("ADDED", "svc")]
    s.close()


async def test_label_selector_transitions(store: Store) -> None:
    store.create("pods", pod("a", labels={"app": "web"}))
    store.create("pods", pod("b", labels={"app": "db"}))
    w = store.watch("pods", label_selector="app=web")
    assert names(await take(w, 1)) == [("ADDED", "a")]
    store.update("pods", pod("b", labels={"app": "web"}))     # starts matching
    store.update("pods", pod("a", labels={"app": "web", "v": "2"}))
    store.update("pods", pod("a", labels={"app": "db"}))       # stops matching
    store.update("pods", pod("a", labels={"app": "db", "v": "3"}))  # still out
    store.delete("pods", "default", "a")                        # never seen again
    store.delete("pods", "default", "b")
    assert names(await take(w, 4)) == [("ADDED", "b"), ("MODIFIED", "a"),
                                       ("DELETED", "a"), ("DELETED", "b")]
    await nothing_more(w)


async def test_label_transitions_when_resuming_from_a_version(store: Store) -> None:
    store.create("pods", pod("a", labels={"app": "web"}))
    w = store.watch("pods", since=store.resource_version(), label_selector="app=web")
    store.update("pods", pod("a", labels={"app": "db"}))
    assert names(await take(w, 1)) == [("DELETED", "a")]


async def test_field_selector_watch(store: Store) -> None:
    store.create("pods", pod("a"))
    w = store.watch("pods", field_selector="spec.nodeName=n1")
    store.update("pods", pod("a", node="n1"))
    store.create("pods", pod("b", node="n2"))
    store.update_status("pods", {"metadata": {"name": "a", "namespace": "default"},
                                 "status": {"phase": "Running"}})
    events = await take(w, 2)
    assert names(events) == [("ADDED", "a"), ("MODIFIED", "a")]
    assert events[1][1]["status"] == {"phase": "Running"}


async def test_waiting_watcher_is_woken_by_writes(store: Store) -> None:
    w = store.watch("pods", since="0")
    reader = asyncio.create_task(take(w, 2))
    await asyncio.sleep(0.01)  # the reader is now parked waiting for a commit
    store.create("pods", pod("a"))
    store.create("pods", pod("b"))
    assert names(await reader) == [("ADDED", "a"), ("ADDED", "b")]


def test_sync_writes_with_a_waiting_watcher_in_another_loop(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db")

    async def main() -> list[Any]:
        w = s.watch("pods", since="0")
        reader = asyncio.create_task(take(w, 1))
        await asyncio.sleep(0.01)
        await asyncio.to_thread(s.create, "pods", pod("a"))  # notify from a loopless thread
        return await reader

    assert names(asyncio.run(main())) == [("ADDED", "a")]
    s.close()


async def test_close_ends_watchers(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db")
    w = s.watch("pods")

    async def drain() -> list[Any]:
        return [e async for e in w]

    task = asyncio.create_task(drain())
    await asyncio.sleep(0.01)
    s.close()
    assert await asyncio.wait_for(task, timeout=5) == []


async def test_watch_resumes_after_reopen(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db")
    s.create("pods", pod("a"))
    s.create("pods", pod("b"))
    s.close()
    s = Store(tmp_path / "s.db")
    w = s.watch("pods", since="1")
    assert names(await take(w, 1)) == [("ADDED", "b")]
    s.close()
