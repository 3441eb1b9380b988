"""The kubelet of one pod: runs its init containers then its containers, restarts them
under restartPolicy with CrashLoopBackOff, stops them gracefully, and keeps a versioned
pod status and event list that the control plane long-polls. Plain threads, no Ray.
"""

from __future__ import annotations

import copy
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from engine.api import container_env, expand_command
from engine.clock import format_time, utcnow
from engine.runtime.podconfig import resolver_of
from engine.runtime.podstatus import waiting_container
from engine.runtime.probes import KINDS, Prober, check
from engine.runtime.process import ContainerProcess, GroupReaper, ProcessSpec, new_tag, run_hook
from engine.runtime.startup import StartFailure, allocate_ports, container_runtime, port_env
from engine.runtime.volumes import PodVolumes, VolumeFailure, pod_roots

BACKOFF_INITIAL_S = 10.0
BACKOFF_CAP_S = 300.0
BACKOFF_RESET_AFTER_S = 600.0
MIN_GRACE_AFTER_TERM_S = 2.0


EVICTION_CHECK_S = 10.0  # how often the eviction pass looks at emptyDir sizeLimits, as the kubelet's


def crashloop_delay(crashes: int) -> float:
    """Wait before restart number `crashes` (1-based) since the last reset: 0, 10, 20, 40 … 300 s."""
    if crashes <= 1:
        return 0.0
    return min(BACKOFF_INITIAL_S * 2 ** (crashes - 2), BACKOFF_CAP_S)


def node_log_roots(preferred: Path) -> list[Path]:
    """Where a node keeps container logs: the control plane's log directory where this node
    can write it (always, on the control plane's machine), else one under the node's temp
    directory. Pod actors write to the first that works; node agents read from either."""
    return [preferred, Path(tempfile.gettempdir()) / "tugboat-logs"]


def pod_log_dir(pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace', 'default')}_{meta['name']}_{meta['uid']}"


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


_INHERITED_ENV = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")


@dataclass
class _Container:
    spec: dict[str, Any]
    init: bool
    status: dict[str, Any]
    proc: ContainerProcess | None = None
    launched: ProcessSpec | None = None  # how its current run was started (exec runs alike)
    ports: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    retry: bool = False  # its last start failed on a volume: try again, whatever the policy
    wake: threading.Event = field(default_factory=threading.Event)


class PodRunner:
    """Runs one pod on this node. `pod` is the pod object as bound by the scheduler."""

    def __init__(self, pod: dict[str, Any], *, log_root: Path, gpus: list[int] | None = None,
                 service_env: dict[str, str] | None = None,
                 refs: dict[str, dict[str, str]] | None = None,
                 files: dict[str, dict[str, dict[str, Any]]] | None = None,
                 hosts: dict[str, list[Any]] | None = None) -> None:
        self.pod = pod
        self.service_env = dict(service_env or {})  # its namespace's Services, as at its start
        self.hosts = hosts  # what its /etc/hosts adds (engine/net/hostsfile.py), as at its start
        self.resolver = resolver_of(refs or {})  # the ConfigMaps and Secrets its env names, as at its start
        meta, spec = pod["metadata"], pod["spec"]
        self.name = meta["name"]
        self.policy = spec.get("restartPolicy", "Always")
        self._replica = any(isinstance(r, dict) and r.get("controller") and r.get("kind") == "ReplicaSet"
                            for r in pod["metadata"].get("ownerReferences") or [])
        self.log_dir = self._writable(node_log_roots(log_root)) / pod_log_dir(pod)
        self.volumes = PodVolumes(pod, self._writable(pod_roots(log_root)), files)
        self._cond = threading.Condition()
        self._version = 1
        self._events: list[dict[str, str]] = []
        self._stopping = False
        self._init = [_Container(c, True, waiting_container(c, "PodInitializing"))
                      for c in spec.get("initContainers") or []]
        self._main = [_Container(c, False, waiting_container(c, "ContainerCreating"))
                      for c in spec.get("containers") or []]
        old = pod.get("status") or {}
        now = format_time(utcnow())
        self.status: dict[str, Any] = {
            "phase": "Pending",
            "conditions": [c for c in old.get("conditions") or [] if c.get("type") == "PodScheduled"],
            "hostIP": old.get("hostIP"),
            "podIP": old.get("podIP"),
            "startTime": now,
        }
        self.gpus = list(gpus or [])
        if gpus:  # the node's GPU indexes this pod holds; the control plane adds their UUIDs
            self.status["gpus"] = [{"index": i} for i in gpus]
        self._set_condition("Initialized", not self._init, now)
        self._set_condition("ContainersReady", False, now)
        self._set_condition("Ready", False, now)
        self._main_thread: threading.Thread | None = None
        self._reaper = GroupReaper()

    # ----- the control plane's view ------------------------------------------------------

    def start(self) -> None:
        self._main_thread = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)
        self._main_thread.start()
        if self.volumes.limited():
            threading.Thread(target=self._watch_limits, name=f"limits-{self.name}", daemon=True).start()

    def _watch_limits(self) -> None:
        """The kubelet's eviction pass: a pod whose emptyDir outgrew its sizeLimit is stopped at
        once and fails with reason Evicted."""
        while True:
            time.sleep(EVICTION_CHECK_S)
            with self._cond:
                if self._stopping or self.status["phase"] in ("Succeeded", "Failed"):
                    return
            why = self.volumes.over_limit()
            if why is None:
                continue
            with self._cond:
                self.status.update(reason="Evicted", message=why)
                self._event("Warning", "Evicted", why)
            self.stop(0)
            with self._cond:
                self.status["phase"] = "Failed"
                self._changed()
            return

    def watch(self, since_version: int, since_event: int, timeout: float) -> dict[str, Any]:
        """Block until the status changed after `since_version` (or `timeout`); return a snapshot."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._version <= since_version and len(self._events) <= since_event:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return {
                "version": self._version,
                "status": self._snapshot(),
                "events": list(self._events[since_event:]),
                "eventCount": len(self._events),
            }

    def stop(self, grace_seconds: float) -> dict[str, Any]:
        """preStop, SIGTERM, wait out the grace period, SIGKILL; for every running container."""
        with self._cond:
            self._stopping = True
            for c in self._init + self._main:
                c.wake.set()
        deadline = time.monotonic() + grace_seconds + MIN_GRACE_AFTER_TERM_S
        threads = [threading.Thread(target=self._stop_one, args=(c, grace_seconds), daemon=True)
                   for c in self._init + self._main if c.proc is not None and c.proc.running]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self._main_thread is not None:
            # A container that was starting when stop() began got SIGTERM from its supervisor;
            # past the grace period it gets SIGKILL like the others.
            self._main_thread.join(timeout=max(deadline - time.monotonic(), 0.5))
            if self._main_thread.is_alive():
                for c in self._init + self._main:
                    if c.proc is not None and c.proc.running:
                        c.proc.signal_group(signal.SIGKILL)
                self._main_thread.join(timeout=5)
        self.volumes.remove()
        with self._cond:
            return self._snapshot()

    def close(self) -> None:
        """Its host lets it go (a warm runner, engine/runtime/runner.py): every watch still
        waiting on it returns now."""
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def leaders(self) -> list[int]:
        """Main pids of the containers running now."""
        with self._cond:
            return [c.proc.pid for c in self._init + self._main if c.proc and c.proc.running]

    def running(self, name: str | None) -> tuple[dict[str, Any], ProcessSpec] | str:
        """Container `name`'s spec and how its current run started, while it runs (`kubectl
        exec`, engine/runtime/execs.py); else why not."""
        with self._cond:
            c = next((c for c in self._init + self._main if c.spec["name"] == name), None)
            if c is None:
                return f"container {name} is not valid for pod {self.name}"
            if c.proc is None or not c.proc.running or c.launched is None:
                return f"container {name} of pod {self.name} is not running"
            return c.spec, c.launched

    def usage(self, window: float) -> dict[str, Any]:
        """CPU cores (averaged over `window` seconds) and resident memory of every process of
        the running containers, as `kubectl top pod` reports them."""
        def tree() -> list[psutil.Process]:
            procs = []
            for pid in self.leaders():
                try:
                    root = psutil.Process(pid)
                    procs += [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
            return procs

        def cpu(procs: list[psutil.Process]) -> dict[int, float]:
            out = {}
            for p in procs:
                try:
                    t = p.cpu_times()
                    out[p.pid] = t.user + t.system
                except psutil.Error:
                    continue
            return out

        before = cpu(tree())
        time.sleep(max(window, 0.05))
        procs = tree()
        after = cpu(procs)
        used = sum(after[pid] - before.get(pid, 0.0) for pid in after)
        memory = 0
        for p in procs:
            try:
                memory += p.memory_info().rss
            except psutil.Error:
                continue
        return {"cpuCores": max(used, 0.0) / max(window, 0.05), "memoryBytes": memory}

    def log_path(self, container: str, restart: int) -> Path:
        return self.log_dir / container / f"{restart}.log"

    # ----- internals -----------------------------------------------------------------------

    def _run(self) -> None:
        for c in self._init:
            self._supervise(c)
            if c.status["state"].get("terminated", {}).get("exitCode") != 0:
                return  # _supervise marked it done and recomputed the phase
        with self._cond:
            self._set_condition("Initialized", True, format_time(utcnow()))
            self._changed()
        threads = [threading.Thread(target=self._supervise, args=(c,), daemon=True,
                                    name=f"ctr-{self.name}-{c.spec['name']}") for c in self._main]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _supervise(self, c: _Container) -> None:
        """Start, wait, and restart one container until it is done or the pod stops."""
        crashes = 0
        policy = "OnFailure" if c.init and self.policy == "Always" else self.policy
        while True:
            with self._cond:
                if self._stopping:
                    break
            started = time.monotonic()
            code = self._start_and_wait(c)
            if code is None:  # could not even be described (no container runtime for an image)
                if not c.retry and (policy != "Always" or not self._replica):
                    break  # a terminal spec problem: the pod fails with its reason
                # a replica stays waiting with its reason and tries again later, as a kubelet
                # does on ImagePullBackOff: never Failed, so its ReplicaSet does not replace it
                # in a loop
                crashes += 1
                c.wake.wait(crashloop_delay(crashes + 1))
                continue
            ran = time.monotonic() - started
            with self._cond:
                if self._stopping or not should_restart(policy, code):
                    break
            crashes = 1 if ran > BACKOFF_RESET_AFTER_S else crashes + 1
            delay = crashloop_delay(crashes)
            if delay > 0:
                msg = (f"back-off {delay:g}s restarting failed container={c.spec['name']} "
                       f"pod={self.name}")
                with self._cond:
                    c.status["lastState"] = c.status["state"]
                    c.status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
                    self._event("Warning", "BackOff",
                                f"Back-off restarting failed container {c.spec['name']} "
                                f"in pod {self.name}")
                    self._changed()
                c.wake.wait(delay)
            with self._cond:
                if self._stopping:
                    break
                c.status["restartCount"] += 1
                if "terminated" in c.status["state"]:
                    c.status["lastState"] = c.status["state"]
        with self._cond:
            c.done = True
            self._finish_phase()

    def _start_and_wait(self, c: _Container) -> int | None:
        name = c.spec["name"]
        try:
            spec = self._process_spec(c)
        except StartFailure as failure:
            c.retry = failure.mount
            with self._cond:
                waiting = "ContainerCreating" if failure.mount else failure.reason
                c.status["state"] = {"waiting": {"reason": waiting, "message": failure.message}}
                if not failure.mount:
                    self.status["reason"] = failure.reason
                    self.status["message"] = failure.message
                self._event("Warning", failure.reason if failure.mount else "Failed", failure.message)
                self._changed()
            return None
        tag = new_tag()
        self._reaper.expect(tag)  # before it starts: a host killed at any moment takes it along
        try:
            proc = ContainerProcess(spec, tag=tag)
            self._reaper.watch(proc)  # at once: a dying host must take the group with it
        except OSError as exc:
            self._reaper.release(tag)
            now = format_time(utcnow())
            msg = f"failed to start container {name!r}: {exc.strerror or exc}: {spec.argv[0]!r}"
            with self._cond:
                c.status["state"] = {"terminated": {
                    "exitCode": 128, "reason": "StartError", "message": msg,
                    "startedAt": now, "finishedAt": now}}
                self._event("Warning", "Failed", msg)
                self._changed()
            return 128
        probes = {} if c.init else {k: c.spec[k] for k in KINDS if isinstance(c.spec.get(k), dict)}
        with self._cond:
            c.proc, c.launched = proc, spec
            if self._stopping:  # stop() began while this (re)start was under way
                proc.signal_group(signal.SIGTERM)
            c.status["state"] = {"running": {"startedAt": format_time(utcnow())}}
            c.status["started"] = "startupProbe" not in probes
            c.status["ready"] = not c.init and "readinessProbe" not in probes
            c.status["containerID"] = f"process://{proc.pid}"
            self._event("Normal", "Started", f"Started container {name}")
            self._refresh_ready()
            self._changed()
        stop = threading.Event()
        if probes:
            self._probe(c, proc, probes, spec, stop)
        code = proc.wait()
        stop.set()
        assert code is not None
        # Like a container's PID namespace: when its main process ends, so does the rest.
        proc.kill_all()
        self._reaper.forget(proc)
        proc.drain()  # its last words are in the log before the status says it ended
        with self._cond:
            started = c.status["state"].get("running", {}).get("startedAt")
            c.status["state"] = {"terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": started,
                "finishedAt": format_time(utcnow()),
                "containerID": c.status.get("containerID"),
            }}
            c.status["ready"] = False
            self._refresh_ready()
            self._changed()
        return code

    def _process_spec(self, c: _Container) -> ProcessSpec:
        spec = c.spec
        if spec.get("ports") and not c.ports:  # once: the same ports across restarts
            c.ports = allocate_ports(spec)
            with self._cond:
                c.status["hostPorts"] = c.ports
        try:
            env = container_env(self.pod, spec, extra={**self.service_env, **port_env(c.ports)},
                                resolver=self.resolver)
        except ValueError as exc:
            raise StartFailure("CreateContainerConfigError", str(exc)) from exc
        # The node's basics, then the GPUs Ray gave the pod (exactly those: none is "" so a pod
        # that asked for no GPU sees none), then the pod's own env.
        base_env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")}
        for key in _INHERITED_ENV:
            if key in os.environ:
                base_env[key] = os.environ[key]
        base_env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in self.gpus)
        if self.gpus:  # the indexes are NVML's (PCI bus order); CUDA's own default order is fastest first
            base_env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        full_env = {**base_env, **env}
        command = expand_command(list(spec.get("command") or []), full_env)
        args = expand_command(list(spec.get("args") or []), full_env)
        restart = c.status["restartCount"]
        log_path = self.log_path(spec["name"], restart)
        if command:
            plain = ProcessSpec(command + args, full_env, spec.get("workingDir"), log_path)
            return self._own_mounts(c, plain)
        image = spec.get("image") or ""
        runtime = container_runtime()
        if runtime:
            argv = [runtime, "run", "--rm", "--init", "--name",
                    f"tug-{self.pod['metadata']['uid'][:8]}-{spec['name']}-{restart}"]
            for key, value in env.items():
                argv += ["-e", f"{key}={value}"]
            if self.gpus:
                argv += ["--gpus", "device=" + ",".join(str(g) for g in self.gpus)]
            if spec.get("workingDir"):
                argv += ["-w", spec["workingDir"]]
            for port in c.ports:
                argv += ["-p", f"{port['hostPort']}:{port['containerPort']}/"
                               f"{str(port['protocol']).lower()}"]
            try:
                argv += self.volumes.runtime_flags(spec)
            except VolumeFailure as exc:
                raise StartFailure(exc.reason, exc.message, mount=exc.retry) from None
            return ProcessSpec(argv + [image] + args, full_env, None, log_path)
        if args:
            with self._cond:
                self._event("Warning", "EntrypointUnknown",
                            f"no container runtime (docker or podman) on this node: the entrypoint "
                            f"of image {image!r} is unknown, so container {spec['name']!r} runs "
                            f"its args as the command line")
            return self._own_mounts(c, ProcessSpec(args, full_env, spec.get("workingDir"), log_path))
        raise StartFailure(
            "ContainerRuntimeUnavailable",
            f"container {spec['name']!r} names image {image!r} and no command, which needs a "
            f"container runtime (docker or podman), and none is usable on this node; "
            f"give the container a command to run it as a process")

    def _own_mounts(self, c: _Container, spec: ProcessSpec) -> ProcessSpec:
        """A container that mounts volumes, or whose pod has names for /etc/hosts (where the node
        can), runs in a mount namespace of its own (volumes.py)."""
        hosts = self.volumes.hosts_mount(self.hosts, c.spec)
        if not c.spec.get("volumeMounts") and hosts is None:
            return spec
        try:
            spec.argv = self.volumes.wrap(c.spec, spec.argv, spec.cwd, [hosts] if hosts else None)
        except VolumeFailure as exc:
            raise StartFailure(exc.reason, exc.message, mount=exc.retry) from None
        spec.cwd = None  # the helper changes to it inside
        return spec

    def _probe(self, c: _Container, proc: ContainerProcess, probes: dict[str, dict[str, Any]],
               spec: ProcessSpec, stop: threading.Event) -> None:
        """Start this run's probes (engine/runtime/probes.py); they end with `stop`."""
        started = threading.Event()
        if "startupProbe" not in probes:
            started.set()
        name = c.spec["name"]
        title = {"startupProbe": "Startup", "livenessProbe": "Liveness", "readinessProbe": "Readiness"}

        def failed(kind: str, output: str) -> None:
            with self._cond:
                if c.proc is proc and not stop.is_set():
                    self._event("Warning", "Unhealthy", f"{title[kind]} probe failed: {output}".strip())
                    self._changed()

        def verdict(kind: str, ok: bool) -> None:
            with self._cond:
                if c.proc is not proc or stop.is_set():
                    return
                if kind == "readinessProbe":
                    c.status["ready"] = ok
                    self._refresh_ready()
                elif kind == "startupProbe":
                    c.status["started"] = True
                    started.set()
                else:
                    self._event("Normal", "Killing", f"Container {name} failed {kind[:-5]} probe, "
                                                     f"will be restarted")
                self._changed()
            if kind != "readinessProbe" and not ok:  # liveness or startup: kill, then restart
                probe = probes[kind]
                grace = probe.get("terminationGracePeriodSeconds")
                if not isinstance(grace, int) or isinstance(grace, bool) or grace < 0:
                    grace = self._grace()
                self._stop_one(c, float(grace))

        def run(timeout: float, probe: dict[str, Any]) -> tuple[bool, str]:
            return check(probe, ports=c.ports, env=spec.env, cwd=spec.cwd, timeout=timeout)

        for kind, probe in probes.items():
            Prober(kind, probe, lambda t, p=probe: run(t, p), verdict=verdict, failed=failed, stop=stop,
                   gate=None if kind == "startupProbe" else started).start()

    def _grace(self) -> int:
        grace = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return grace if isinstance(grace, int) and not isinstance(grace, bool) and grace >= 0 else 30

    def _stop_one(self, c: _Container, grace: float) -> None:
        proc = c.proc
        if proc is None:
            return
        deadline = time.monotonic() + grace
        with self._cond:
            self._event("Normal", "Killing", f"Stopping container {c.spec['name']}")
            self._changed()
        pre = ((c.spec.get("lifecycle") or {}).get("preStop") or {}).get("exec")
        if pre and grace > 0 and proc.running:
            env = container_env(self.pod, c.spec, extra=self.service_env, resolver=self.resolver)
            run_hook(list(pre.get("command") or []), env=env, cwd=c.spec.get("workingDir"),
                     timeout=grace)
        proc.signal_group(signal.SIGTERM)
        left = max(deadline - time.monotonic(), MIN_GRACE_AFTER_TERM_S if grace > 0 else 0.0)
        if proc.wait(left) is None:
            proc.signal_group(signal.SIGKILL)
            proc.wait()

    def _finish_phase(self) -> None:
        """Recompute the phase once a container is done for good (caller holds the lock)."""
        init_failed = any(c.done and c.status["state"].get("terminated", {}).get("exitCode") != 0
                          for c in self._init)
        if init_failed or any(c.done and "waiting" in c.status["state"] for c in self._main + self._init):
            self.status["phase"] = "Failed"
        elif self._main and all(c.done for c in self._main):
            codes = [c.status["state"].get("terminated", {}).get("exitCode") for c in self._main]
            self.status["phase"] = "Succeeded" if all(code == 0 for code in codes) else "Failed"
        if self.status["phase"] in ("Succeeded", "Failed"):
            self.volumes.remove()  # an ended pod's emptyDirs go, as the kubelet tears its volumes down
        self._changed()

    def _refresh_ready(self) -> None:
        now = format_time(utcnow())
        if any("running" in c.status["state"] for c in self._main) and self.status["phase"] == "Pending":
            self.status["phase"] = "Running"
        ready = bool(self._main) and all(c.status.get("ready") for c in self._main)
        self._set_condition("ContainersReady", ready, now)
        self._set_condition("Ready", ready, now)

    def _set_condition(self, kind: str, value: bool, now: str) -> None:
        text = "True" if value else "False"
        for cond in self.status["conditions"]:
            if cond["type"] == kind:
                if cond["status"] != text:
                    cond["status"] = text
                    cond["lastTransitionTime"] = now
                return
        self.status["conditions"].append({"type": kind, "status": text, "lastTransitionTime": now})

    def _event(self, kind: str, reason: str, message: str) -> None:
        self._events.append({"type": kind, "reason": reason, "message": message,
                             "time": format_time(utcnow())})

    def _changed(self) -> None:
        self._version += 1
        self._cond.notify_all()

    def _snapshot(self) -> dict[str, Any]:
        status = copy.deepcopy(self.status)
        status["initContainerStatuses"] = [copy.deepcopy(c.status) for c in self._init] or None
        status["containerStatuses"] = [copy.deepcopy(c.status) for c in self._main]
        return {k: v for k, v in status.items() if v is not None}

    @staticmethod
    def _writable(roots: list[Path]) -> Path:
        for root in roots:
            try:
                root.mkdir(parents=True, exist_ok=True)
                return root
            except OSError:
                continue
        return roots[-1]
