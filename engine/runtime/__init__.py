"""The Ray side of tugboat: the only package that imports ray."""

from engine.runtime.cluster import (
    connect,
    local_head_address,
    start_local_head,
    stop_local_head,
)
from engine.runtime.runtime import Runtime

__all__ = ["Runtime", "connect", "local_head_address", "start_local_head",
           "stop_local_head"]
