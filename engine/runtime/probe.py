"""The baseline for `tug bench`: the cheapest actor Ray can start (create + first call).
It imports nothing but ray, so it measures Ray alone."""

from __future__ import annotations

import os

import ray


@ray.remote(num_cpus=0)
class Probe:
    def ready(self) -> int:
        return os.getpid()
