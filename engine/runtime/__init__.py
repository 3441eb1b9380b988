"""The Ray side of tugboat: the only package that imports ray.

Names load on first use: a Ray worker that hosts a pod imports only the actor's module,
not the control plane's half of the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_attributes

_LAZY = {
    "Runtime": "runtime",
    "connect": "cluster",
    "local_head_address": "cluster",
    "start_local_head": "cluster",
    "stop_local_head": "cluster",
}

if TYPE_CHECKING:
    from engine.runtime.cluster import (
        connect,
        local_head_address,
        start_local_head,
        stop_local_head,
    )
    from engine.runtime.runtime import Runtime


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["Runtime", "connect", "local_head_address", "start_local_head", "stop_local_head"]
