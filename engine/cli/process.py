"""`tug up`, `tug down`, `tug server`: start and stop the local Ray head and the control plane."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import psutil

from engine.clusterconfig import NodeSpec, RunnersConfig, SchedulerConfig, WorkloadsConfig, load_config
from engine.clusterconfig import dev_cluster as dev_cluster_nodes
from engine.config import ray_auth_env, tug_home
from engine.errors import BadRequestError, TugError, UnavailableError

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "configs" / "demo"  # what `tug up --demo` applies
DEMO_CLUSTER = REPO / "configs" / "clusters" / "demo.yaml"  # its nodes where no GPU is found


def _logging(path: Path | None = None) -> None:
    """The control plane's log: stderr, or `path` while the terminal UI has the screen."""
    target = {"filename": str(path)} if path is not None else {"stream": sys.stderr}
    logging.basicConfig(level=os.environ.get("TUG_LOG_LEVEL", "INFO").upper(), force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", **target)


def _gpu_idle(args: argparse.Namespace) -> Any:
    from gpu.idle import IdlePolicy

    try:
        return IdlePolicy(threshold_pct=args.gpu_idle_threshold, window_s=args.gpu_idle_minutes * 60)
    except ValueError as exc:
        raise BadRequestError(f"--gpu-idle-threshold/--gpu-idle-minutes: {exc}") from None


def _interactive(args: argparse.Namespace) -> bool:
    return not args.headless and sys.stdin.isatty() and sys.stdout.isatty()


def _machine_has_gpus() -> bool:
    from gpu.nvml import Nvml

    return bool(Nvml().discover().gpus)


def _apply_demo(home: Path) -> None:
    """Apply configs/demo/ to the control plane of `home` (what `tug up --demo` shows)."""
    from engine.api import read_manifests
    from engine.client import Client

    docs = [doc for _, doc in read_manifests(str(DEMO))]
    with Client.from_config(home) as client:
        out = client.apply(docs, namespace="default")
    made = ", ".join(f"{r['kind'].lower()}/{r['name']}" for r in out["results"])
    print(f"demo applied from {DEMO.relative_to(REPO)}: {made}", file=sys.stderr, flush=True)


def _period(args: argparse.Namespace) -> float:
    if args.sample_period < 1:
        raise BadRequestError(f"--sample-period: expected at least 1 second, got {args.sample_period:g}")
    return float(args.sample_period)


def _hpa_period(args: argparse.Namespace) -> float:
    period = float(getattr(args, "hpa_sync_period", 15.0))
    if not period >= 1:
        raise BadRequestError(f"--hpa-sync-period: expected at least 1 second, got {period:g}")
    return period


def _ingress_port(args: argparse.Namespace) -> int | None:
    port = int(getattr(args, "ingress_port", -1))
    if not -1 <= port <= 65535:
        raise BadRequestError(f"--ingress-port: expected a port from 0 to 65535 (or -1: none), got {port}")
    return None if port == -1 else port


def _tls(args: argparse.Namespace) -> dict[str, Any]:
    return {"tls": not getattr(args, "insecure_http", False), "san": list(getattr(args, "san", None) or [])}


def _announce(url: str, home: str) -> None:
    print(f"tugboat is up: API {url}, config {home}/config\n"
          f"  try: tug apply -f configs/examples/hello-pod.yaml && tug get pods -w\n"
          f"  kubectl: `tug kubeconfig --merge` (or KUBECONFIG=<(tug kubeconfig) kubectl get pods)\n"
          f"  stop with Ctrl-C (pods keep running) or `tug down` (stops everything)",
          file=sys.stderr, flush=True)


def up(args: argparse.Namespace) -> int:
    if args.config and args.simulate_gpus is not None:
        raise BadRequestError("--config and --simulate-gpus: give one (the config declares GPUs)")
    scheduler, workloads, runners = None, None, None
    if args.demo and not args.config and args.simulate_gpus is None and not _machine_has_gpus():
        args.config = str(DEMO_CLUSTER)  # simulated GPUs where the machine has none
    if args.config:
        config = load_config(Path(args.config))
        nodes, scheduler, workloads = config.nodes, config.scheduler, config.workloads
        runners = config.runners
    else:
        if args.simulate_gpus is not None and args.simulate_gpus < 1:
            raise BadRequestError("--simulate-gpus: expected a positive number of GPUs")
        nodes = [NodeSpec(cpus=args.num_cpus, gpus=args.simulate_gpus or 0,
                          gpu_memory_mib=args.gpu_memory)]
    return _run_local(args, nodes, scheduler=scheduler, workloads=workloads, runners=runners)


def dev_cluster(args: argparse.Namespace) -> int:
    return _run_local(args, dev_cluster_nodes(args.nodes, args.gpus_per_node,
                                              cpus_per_node=args.cpus_per_node,
                                              gpu_memory_mib=args.gpu_memory))


def _scheduler(args: argparse.Namespace, given: SchedulerConfig | None) -> SchedulerConfig:
    """--scoring-strategy wins over a config file's choice; the default is LeastAllocated."""
    if args.scoring_strategy:
        return SchedulerConfig(strategy=args.scoring_strategy,
                               resources=(given or SchedulerConfig()).resources)
    return given or SchedulerConfig()


def _runners(args: argparse.Namespace, given: RunnersConfig | None) -> RunnersConfig:
    """--runners MIN:MAX wins over a config file's `runners`; the default is RunnersConfig's."""
    return RunnersConfig.parse(args.runners) if args.runners else given or RunnersConfig()


def _run_local(args: argparse.Namespace, nodes: list[NodeSpec], *,
               scheduler: SchedulerConfig | None = None, workloads: WorkloadsConfig | None = None,
               runners: RunnersConfig | None = None) -> int:
    """Start (or reuse) the local Ray cluster of $TUG_HOME with `nodes`, then serve."""
    period = _period(args)  # every user mistake before anything starts
    ingress = _ingress_port(args)
    hpa_period = _hpa_period(args)
    idle = _gpu_idle(args)
    runners = _runners(args, runners)
    home = tug_home()
    os.environ.update(ray_auth_env(home))  # before ray is imported: it reads them then
    from engine.controlplane import ControlPlane, serve
    from engine.runtime import local_head_address, start_local_head
    from engine.runtime.cluster import join_local_node

    interactive = _interactive(args)
    if interactive:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        (home / "logs").mkdir(mode=0o700, exist_ok=True)
    _logging(home / "logs" / "control-plane.log" if interactive else None)
    node_ip = getattr(args, "node_ip", "127.0.0.1")
    if local_head_address(home):
        print("Reusing the local Ray cluster of this $TUG_HOME (`tug down` to start afresh)",
              file=sys.stderr, flush=True)
        address = start_local_head(home, node=nodes[0], node_ip=node_ip)
    else:
        print(f"Starting a local Ray cluster of {len(nodes)} node(s)…", file=sys.stderr, flush=True)
        address = start_local_head(home, node=nodes[0], node_ip=node_ip)
        for node in nodes[1:]:
            join_local_node(home, node, node_ip=node_ip)
    cp = ControlPlane(home, ray_address=address, ray_auth=ray_auth_env(home), host=args.bind,
                      port=args.port, sample_period=period,
                      scheduler=_scheduler(args, scheduler), gpu_idle=idle, workloads=workloads,
                      ingress_port=ingress, hpa_sync_period=hpa_period,
                      runners=runners, **_tls(args))
    demo = bool(getattr(args, "demo", False))
    if interactive:
        _serve_with_tui(cp, home, demo=demo)
    else:
        def ready(c: ControlPlane) -> None:
            _announce(c.url, str(home))
            if demo:  # a client of this very loop must not block it: apply from a thread
                threading.Thread(target=_apply_demo, args=(home,), daemon=True).start()
        asyncio.run(serve(cp, ready=ready))
    print("control plane stopped; pods keep running on Ray (`tug down` stops them)",
          file=sys.stderr)
    return 0


def _serve_with_tui(cp: Any, home: Path, *, demo: bool) -> None:
    """Serve `cp` from a thread of its own and give the terminal to the UI; quitting the UI
    stops the control plane (as Ctrl-C does headless), the pods keep running."""
    from engine.client import Client
    from engine.config import read_config
    from tui.app import TugApp

    if cp.ray_address:  # in the main thread, where Ray can set its signal handlers
        from engine.runtime.cluster import connect

        connect(cp.ray_address, auth=cp.ray_auth)
    loop = asyncio.new_event_loop()
    started, failed = threading.Event(), []
    stop = asyncio.Event()

    async def run() -> None:
        try:
            await cp.start()
        except BaseException as exc:
            failed.append(exc)
            started.set()
            raise
        started.set()
        try:
            await stop.wait()
        finally:
            await cp.stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(run()), name="control-plane",
                              daemon=True)
    thread.start()
    started.wait()
    if failed:
        thread.join(10)
        if isinstance(failed[0], Exception):
            raise failed[0]
        return
    notice = None
    try:
        if demo:
            try:
                _apply_demo(home)
            except TugError as exc:  # the cluster still runs: say so on screen
                notice = f"the demo could not be applied: {exc.message} {' '.join(exc.details)}"
        cfg = read_config(home)
        TugApp(Client(cfg.server, cfg.token, timeout=10, ca=cfg.ca), notice=notice).run()
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def server(args: argparse.Namespace) -> int:
    from engine.controlplane import ControlPlane, serve

    _logging()
    home = tug_home()
    cp = ControlPlane(home, ray_address=args.ray_address, host=args.bind, port=args.port,
                      sample_period=_period(args), scheduler=_scheduler(args, None),
                      gpu_idle=_gpu_idle(args), ingress_port=_ingress_port(args),
                      hpa_sync_period=_hpa_period(args), runners=_runners(args, None), **_tls(args))
    asyncio.run(serve(cp, ready=lambda c: _announce(c.url, str(home))))
    return 0


def down(args: argparse.Namespace) -> int:
    from engine import pidfile
    from engine.controlplane import control_plane, lock_path, pid_path
    from engine.runtime import stop_local_head

    home = tug_home()
    owner = control_plane(home)
    proc = owner.process() if owner is not None else None
    if proc is not None:
        try:
            proc.terminate()  # psutil signals only the very process it found (pid and start time)
            proc.wait(20)
        except psutil.TimeoutExpired:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
        except psutil.AccessDenied:
            raise UnavailableError(f"the control plane of {home} (pid {proc.pid}) belongs to "
                                   f"another user: stop it as that user") from None
        print(f"stopped the control plane (pid {proc.pid})")
    elif pidfile.locked(lock_path(home)):
        # Some process holds the lock but the pid file names no one: a control plane starting
        # right now, or a damaged file. Neither may be guessed at.
        raise UnavailableError(f"a process holds the lock of {home} ({lock_path(home)}) but "
                               f"{pid_path(home)} does not name it; nothing was stopped (try "
                               f"again in a moment, or find it with `fuser {lock_path(home)}`)")
    elif pid_path(home).exists():
        pid_path(home).unlink(missing_ok=True)
        print(f"no control plane was running; removed the stale {pid_path(home)} (it names no "
              f"running control plane of this home, so no process was signalled)")
    else:
        print("no control plane was running")
    n = stop_local_head(home)
    print(f"stopped the local Ray cluster ({n} processes) and every pod on it" if n
          else "no local Ray cluster was running")
    return 0
