"""Keeps running pods' configMap, secret and downwardAPI volumes current, as the kubelet's
periodic sync does: every few seconds each pod that has such volumes gets their files made
again from the store (engine/runtime/volumefiles.py) and, when they changed, sent to its actor,
which swaps them in atomically. Cost follows the pods that have such volumes. Also removes a
local-path volume's directory on its node, for the storage controller."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from engine.errors import NotFoundError
from engine.runtime.volumefiles import Missing, volume_files

log = logging.getLogger("tugboat.runtime")

PERIOD_S = 5.0  # the kubelet's is a minute plus its cache's time to live


async def refresh_volumes(handles: dict[str, Any], store: Any, *, period: float = PERIOD_S) -> None:
    """For ever: each handle with `key` (namespace, name) and a live actor gets its files
    pushed when they differ from what it was last given (`files`)."""
    while True:
        await asyncio.sleep(period)
        for handle in list(handles.values()):
            key = getattr(handle, "key", None)
            if key is None or handle.actor is None or handle.stopping:
                continue
            try:
                files = volume_files(store.get("pods", key[0], key[1]), store)
            except (NotFoundError, Missing):
                continue  # gone, or something it needs is gone: the files stay as they were
            except Exception:  # noqa: BLE001 - one pod never stops the others
                log.exception("pod %s/%s: making its volume files failed", *key)
                continue
            if files == handle.files:
                continue
            try:
                await handle.actor.set_volume_files.remote(files, handle.uid)
                handle.files = files
            except Exception as exc:  # noqa: BLE001 - a gone actor is the pod loop's to see
                log.debug("pod %s/%s: volume files not delivered: %s", *key, exc)


async def remove_volume(runtime: Any, node: str, path: str, base: str) -> bool:
    """Remove a local-path volume's directory on `node` (the storage controller's Delete
    reclaim); False when it was already gone. Raises when the node cannot be asked."""
    node_id = runtime.node_id(node)
    if node_id is None:
        raise NotFoundError(f"node {node} is unknown: the volume's directory {path} stays")
    return bool(await asyncio.wait_for(runtime.agent(node_id).remove_volume.remote(path, base), 60))
