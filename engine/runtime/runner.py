"""A warm pod runner: a started, detached Ray actor on one node that runs one pod after another
(a PodRunner each), so a pod's start is a process spawn, not a Ray worker's start. It holds no
Ray resources (the scheduler placed the pod and named its GPUs). It serves a pod from `run`
until the control plane, having stored how the pod ended, calls `release`: then nothing of the
pod is left (its processes and their descendants killed, exec sessions ended, volumes removed)
and it is idle again. Runs are refused from a control plane other than the one that last
claimed the runner (`epoch`), so a call sent by a control plane that died cannot start a pod."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import ray

from engine.objects import bound_gpus
from engine.runtime.actors import WATCH_TIMEOUT_S, PodHost
from engine.runtime.execs import ExecRefused, Sessions
from engine.runtime.podrunner import PodRunner

RUNNER_PREFIX = "runner."
REAP_WAIT_S = 5.0


def runner_name(node_id: str, tag: str) -> str:
    return f"{RUNNER_PREFIX}{node_id[:16]}.{tag}"


def _children(pid: int) -> list[int] | None:
    """`pid`'s children from /proc/PID/task/*/children (a read per thread, not a scan of every
    process); None where the kernel does not list them."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found += [int(c) for c in fh.read().split()]
        except FileNotFoundError:
            if tid == str(pid):
                return None  # no such file at all: the kernel lacks it
        except OSError:
            continue
    return found


def _descendants() -> list[psutil.Process]:
    me = os.getpid()
    if _children(me) is None:
        return psutil.Process(me).children(recursive=True)
    out, todo = [], [me]
    while todo:
        for child in _children(todo.pop()) or []:
            try:
                out.append(psutil.Process(child))
            except psutil.Error:
                continue
            todo.append(child)
    return out


def _reap_descendants() -> int:
    """Kill every process left under this one (a container's stray children); how many."""
    try:
        left = _descendants()
    except psutil.Error:
        return 0
    for proc in left:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=REAP_WAIT_S)
    return len(left)


@ray.remote(num_cpus=0, max_concurrency=4, concurrency_groups={"control": 3})
class RunnerActor(PodHost):
    """Every call about a pod names it (`uid`) and does nothing for any other pod, so a late call
    meant for the pod before cannot touch the next one; `state`, `run` and `release` have threads
    of their own (group "control"), never queued behind long watches."""

    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self.uid: str | None = None
        self.runner: PodRunner | None = None  # type: ignore[assignment]
        self.execs = Sessions()
        self._lock = threading.Lock()
        self._releasing = False

    def _serving(self, uid: str | None) -> PodRunner | None:
        """The pod's runner while this serves pod `uid` and is not letting it go (call with the lock)."""
        if self._releasing or self.runner is None or (uid is not None and uid != self.uid):
            return None
        return self.runner

    @ray.method(concurrency_group="control")  # type: ignore[misc]
    def state(self, epoch: str | None = None) -> dict[str, Any]:
        """The pod it serves (None: idle), its pid and Ray node; with `epoch`, the control plane that
        asks claims it (runs sent by any other are refused from now on)."""
        with self._lock:
            if epoch is not None:
                self.epoch = epoch
            return {"uid": self.uid, "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}

    @ray.method(concurrency_group="control")  # type: ignore[misc]
    def run(self, epoch: str, pod: dict[str, Any], log_root: str, service_env: dict[str, str],
            refs: dict[str, dict[str, str]], files: dict[str, dict[str, dict[str, Any]]],
            hosts: dict[str, list[Any]], settle: float = 0.0) -> dict[str, Any]:
        """Start `pod`: {"refused": why} when it was not (nothing started), else {"snapshot":
        watch's answer} once the pod left Pending or `settle` seconds passed (the first status
        the control plane writes: one call less per pod than a run and then a watch)."""
        with self._lock:
            if epoch != self.epoch:
                return {"refused": "claimed by another control plane"}
            if self.uid is not None:
                return {"refused": f"serving pod {self.uid}"}
            self.uid = uid = pod["metadata"]["uid"]
            runner = PodRunner(pod, log_root=Path(log_root), gpus=list(bound_gpus(pod) or ()),
                               service_env=service_env, refs=refs, files=files, hosts=hosts)
            runner.start()
            self.runner = runner
        deadline, version, events = time.monotonic() + settle, 1, 0
        while (left := deadline - time.monotonic()) > 0:
            seen = runner.watch(version, events, left)
            version, events = seen["version"], seen["eventCount"]
            if seen["status"].get("phase") != "Pending":
                break
        return {"snapshot": {**runner.watch(0, 0, 0), "uid": uid}}  # all of it, events from the first

    def watch(self, since_version: int, since_event: int, timeout: float = WATCH_TIMEOUT_S,
              uid: str | None = None) -> dict[str, Any]:
        """PodActor's watch, saying which pod it is about: at once, with uid None or another
        pod's, when it does not serve `uid`."""
        with self._lock:
            runner, serving = self._serving(uid), self.uid
        if runner is None:
            return {"uid": serving if serving != uid else None, "version": since_version, "status": {},
                    "events": [], "eventCount": since_event}
        return {**runner.watch(since_version, since_event, timeout), "uid": serving}

    def stop(self, grace_seconds: float, uid: str | None = None) -> dict[str, Any]:
        with self._lock:
            runner = self._serving(uid)
        if runner is None:
            return {}
        self.execs.end_all()
        return runner.stop(grace_seconds)

    def usage(self, window: float = 0.5, uid: str | None = None) -> dict[str, Any]:
        with self._lock:
            runner = self._serving(uid)
        return runner.usage(window) if runner is not None else {}

    def set_volume_files(self, files: dict[str, dict[str, dict[str, Any]]], uid: str | None = None) -> None:
        with self._lock:
            runner = self._serving(uid)
        if runner is not None:
            runner.volumes.update(files)

    def exec_start(self, container: str, command: list[str], tty: bool, stdin: bool,
                   uid: str | None = None) -> str:
        with self._lock:  # held while it starts: a release that follows ends the session
            if self._serving(uid) is None:
                raise ExecRefused("the pod is not running on this node any more")
            return super().exec_start(container, command, tty, stdin)

    @ray.method(concurrency_group="control")  # type: ignore[misc]
    def release(self, uid: str) -> bool:
        """Once the control plane stored how pod `uid` ended: stop what is left of it and clean
        up, then idle. False (and nothing done) when it does not serve `uid`."""
        with self._lock:
            if self.uid != uid or self._releasing:
                return False
            self._releasing = True
            runner = self.runner
        try:
            if runner is not None:
                runner.stop(0)  # ended already: joins its threads and removes its volumes
                runner.close()  # a watch still waiting on it returns now
            self.execs.end_all()
            _reap_descendants()
        finally:
            with self._lock:
                self.runner, self.uid, self._releasing = None, None, False
        return True
