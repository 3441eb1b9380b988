"""The control plane process: the store, the scheduler, the Ray runtime and the API server in
one event loop, started and stopped together; `tug up` and `tug server` run it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from engine import pidfile
from engine.api.names import is_loopback
from engine.clock import Clock, utcnow
from engine.clusterconfig import RunnersConfig, SchedulerConfig, WorkloadsConfig
from engine.config import api_token, private_home, write_config
from engine.controllers import EventTTL, TaintEviction
from engine.controllers.namespaces import NamespaceController
from engine.errors import AlreadyExistsError, BadRequestError, UnavailableError
from engine.net.endpoints_controller import EndpointsController
from engine.net.ingress import CLASS as INGRESS_CLASS
from engine.net.ingress import CONTROLLER as INGRESS_CONTROLLER
from engine.net.ingress import DEFAULT_CLASS
from engine.scheduler import Scheduler
from engine.server import Server
from engine.server.metrics import Metrics
from engine.store import Store
from gpu.idle import IdlePolicy
from storage.claims import DEFAULT_CLASS as STORAGE_DEFAULT
from storage.claims import LOCAL_PATH, LOCAL_PROVISIONER

log = logging.getLogger("tugboat")


def pid_path(home: Path) -> Path:
    return home / "server.pid"


def lock_path(home: Path) -> Path:
    return home / "server.lock"


def control_plane(home: Path) -> pidfile.Owner | None:
    """This home's control plane, if one runs: the process its pid file records (pid and start
    time, this home) while the home's lock is held. A pid file naming any other process, or
    left by a control plane that died, counts as none."""
    owners = pidfile.live(pid_path(home), home=home)
    if owners and owners[0].role == "control-plane" and pidfile.locked(lock_path(home)):
        return owners[0]
    return None


def running_pid(home: Path) -> int | None:
    owner = control_plane(home)
    return owner.pid if owner is not None else None


class ControlPlane:
    def __init__(self, home: Path, *, ray_address: str | None, ray_auth: dict[str, str] | None = None,
                 host: str = "127.0.0.1", port: int = 0, store_history: int = 10000,
                 sample_period: float = 2.0, scheduler: SchedulerConfig | None = None,
                 gpu_idle: IdlePolicy | None = None, workloads: WorkloadsConfig | None = None,
                 ingress_port: int | None = None, hpa_sync_period: float = 15.0,
                 runners: RunnersConfig | None = None,
                 tls: bool = True, san: list[str] | None = None, clock: Clock = utcnow) -> None:
        self.tls = tls  # HTTPS with $TUG_HOME/pki (engine/pki.py); False: plain HTTP, loopback only
        self.san = list(san or [])  # more names the server certificate gives
        if not tls and not is_loopback(host):
            raise BadRequestError(f"plain HTTP is served on loopback only, not on {host}: "
                                  f"drop --insecure-http, or --bind 127.0.0.1")
        self.ingress_port = ingress_port  # the Ingress router's, on the head node (None: no router)
        self.home = home
        self.clock = clock  # every part's time (a fixed one in the TUI's snapshot tests)
        self.gpu_idle = gpu_idle
        self.ray_address = ray_address
        self.ray_auth = ray_auth
        self.host = host
        self.port = port
        self.store_history = store_history
        self.sample_period = sample_period
        self.scheduler_config = scheduler or SchedulerConfig()
        self.workloads_config = workloads or WorkloadsConfig()
        self.runners_config = runners or RunnersConfig()
        self.store: Store | None = None
        self.runtime: Any = None
        self.scheduler: Scheduler | None = None
        self.jobs: Any = None  # jobs.JobController, imported when the control plane starts
        self.cronjobs: Any = None  # jobs.CronJobController
        self.replicasets: Any = None  # workloads.ReplicaSetController
        self.endpoints: EndpointsController | None = None
        self.deployments: Any = None  # workloads.DeploymentController
        self.hpa_sync_period = hpa_sync_period
        self.autoscalers: Any = None  # workloads.HpaController
        self.volumes: Any = None  # storage.StorageController
        self.namespaces: NamespaceController | None = None
        self._runner: web.AppRunner | None = None
        self._event_ttl: asyncio.Task[None] | None = None
        self._taints: asyncio.Task[None] | None = None
        self.url = ""
        self._lock: pidfile.HomeLock | None = None

    async def start(self) -> None:
        private_home(self.home)
        lock = pidfile.HomeLock(lock_path(self.home))
        if not lock.acquire():
            other = running_pid(self.home)
            who = f"pid {other}" if other is not None else "another process"
            raise UnavailableError(f"a tugboat control plane ({who}) already runs for "
                                   f"{self.home}; stop it with `tug down`")
        self._lock = lock
        pidfile.write(pid_path(self.home), [pidfile.owner_of(os.getpid(), home=self.home,
                                                             role="control-plane")])
        self.store = Store(self.home / "store.db", history=self.store_history, clock=self.clock)
        for ns in ("default", "kube-system"):
            try:
                self.store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": ns}, "spec": {},
                                                 "status": {"phase": "Active"}}, namespaced=False)
            except AlreadyExistsError:
                pass
        with contextlib.suppress(AlreadyExistsError):  # the default class: the Ingresses tugboat serves
            self.store.create("ingressclasses", {
                "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"name": INGRESS_CLASS, "annotations": {DEFAULT_CLASS: "true"}},
                "spec": {"controller": INGRESS_CONTROLLER}}, namespaced=False)
        with contextlib.suppress(AlreadyExistsError):  # the default class: volumes made on pods' nodes
            self.store.create("storageclasses", {
                "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": LOCAL_PATH, "annotations": {STORAGE_DEFAULT: "true"}},
                "provisioner": LOCAL_PROVISIONER, "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer"}, namespaced=False)
        with contextlib.suppress(AlreadyExistsError):  # the queue every Job and bare Pod joins by default
            self.store.create("queues", {"apiVersion": "tugboat.dev/v1", "kind": "Queue",
                                         "metadata": {"name": "default"},
                                         "spec": {"strategy": "BestEffortFIFO"}}, namespaced=False)
        if self.ray_address:
            # We handle SIGTERM ourselves; Ray's handler would print a stack dump first. Ray
            # reads this when it is imported, so it is set before the runtime is.
            os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
            from engine.runtime import Runtime, connect

            connect(self.ray_address, auth=self.ray_auth)
            self.runtime = Runtime(self.store, log_root=self.home / "logs",
                                   sample_period=self.sample_period, gpu_idle=self.gpu_idle,
                                   ingress_port=self.ingress_port, runners=self.runners_config)
            await self.runtime.start()
        self.scheduler = Scheduler(self.store, config=self.scheduler_config, clock=self.clock)
        await self.scheduler.start()
        from jobs import CronJobController, JobController, JobMetrics

        metrics = Metrics(self.store)
        job_metrics = JobMetrics(metrics.registry)
        self.jobs = JobController(self.store, metrics=job_metrics, clock=self.clock)
        await self.jobs.start()
        self.cronjobs = CronJobController(self.store, metrics=job_metrics, clock=self.clock)
        await self.cronjobs.start()
        from workloads import DeploymentController, HpaConfig, HpaController, ReplicaSetController

        self.replicasets = ReplicaSetController(
            self.store, clock=self.clock,
            unreachable_toleration_s=self.workloads_config.unreachable_toleration_s)
        await self.replicasets.start()
        self.deployments = DeploymentController(self.store, clock=self.clock)
        await self.deployments.start()
        self.autoscalers = HpaController(
            self.store, clock=self.clock, config=HpaConfig(sync_period_s=self.hpa_sync_period),
            samples=self.runtime.telemetry.pod_samples if self.runtime is not None else None)
        await self.autoscalers.start()
        from storage.controller import StorageController

        remove = None
        if self.runtime is not None:
            from engine.runtime.volumesync import remove_volume

            remove = functools.partial(remove_volume, self.runtime)
        self.volumes = StorageController(self.store, base=str(self.home / "local-path"), remove=remove,
                                         clock=self.clock)
        await self.volumes.start()
        self.endpoints = EndpointsController(self.store, clock=self.clock)
        await self.endpoints.start()
        self.namespaces = NamespaceController(self.store, clock=self.clock)
        await self.namespaces.start()  # finishes any namespace a crash left Terminating
        self._event_ttl = asyncio.create_task(EventTTL(self.store, clock=self.clock).run(), name="event-ttl")
        self._taints = asyncio.create_task(TaintEviction(self.store, clock=self.clock).run(),
                                           name="taint-eviction")
        if self.runtime is not None:
            metrics.gpu_idle = self.runtime.telemetry.idle.idle
        token = api_token(self.home)
        server = Server(self.store, token=token, runtime=self.runtime, metrics=metrics,
                        not_ready=self.not_ready)
        self._runner = web.AppRunner(server.app, access_log=None, handle_signals=False,
                                    handler_cancellation=True, shutdown_timeout=2.0)
        await self._runner.setup()
        ssl_context, ca = None, None
        if self.tls:
            from engine.pki import default_names, ensure_pki, server_context

            pki = ensure_pki(self.home, default_names(self.host, self.san))
            ssl_context, ca = server_context(pki), str(pki.ca)
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            raise UnavailableError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}; "
                                   f"is another tugboat using it? pick one with --port") from None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.url = f"{'https' if self.tls else 'http'}://{host}:{port}"
        write_config(self.home, server=self.url, token=token, ca=ca)

    def not_ready(self) -> list[str]:
        """Why this control plane cannot do its work now ([] when it can): the store must
        answer, and every loop (scheduler, controllers, runtime, sweeps) must be running."""
        problems = []
        try:
            if self.store is None:
                raise UnavailableError("not open")
            self.store.ping()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            problems.append(f"store: {exc}")
        loops: dict[str, list[Any]] = {
            "scheduler": self.scheduler.tasks if self.scheduler else [],
            "job controller": self.jobs.tasks if self.jobs else [],
            "cronjob controller": self.cronjobs.tasks if self.cronjobs else [],
            "replicaset controller": self.replicasets.tasks if self.replicasets else [],
            "deployment controller": self.deployments.tasks if self.deployments else [],
            "horizontal pod autoscaler": self.autoscalers.tasks if self.autoscalers else [],
            "namespace controller": self.namespaces.tasks if self.namespaces else [],
            "endpoint controller": self.endpoints.tasks if self.endpoints else [],
            "persistentvolume controller": self.volumes.tasks if self.volumes else [],
            "runtime": self.runtime.tasks if self.runtime else [],
            "sweeps": [t for t in (self._event_ttl, self._taints) if t is not None]}
        for name, tasks in loops.items():
            stopped = [t.get_name() for t in tasks if t.done()]
            if stopped:
                problems.append(f"{name}: stopped ({', '.join(stopped)})")
        return problems

    async def stop(self) -> None:
        """Stop serving; pods keep running on Ray and are adopted by the next control plane."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self.scheduler is not None:
            await self.scheduler.close()
        for controller in (self.jobs, self.cronjobs, self.replicasets, self.deployments, self.autoscalers,
                           self.endpoints, self.namespaces, self.volumes):
            if controller is not None:
                await controller.close()
        for task in (self._event_ttl, self._taints):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.runtime is not None:
            await self.runtime.close()
        if self.store is not None:
            self.store.close()
        if self._lock is not None:
            pid_path(self.home).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None


async def serve(cp: ControlPlane, *, ready: Any = None) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await cp.start()
        if ready is not None:
            ready(cp)
        await stop.wait()
    finally:
        await cp.stop()
