"""`tug up`, `tug down`, `tug server`: start and stop the local Ray head and the control plane."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time

from engine.config import ray_auth_env, tug_home
from engine.errors import BadRequestError


def _logging() -> None:
    logging.basicConfig(level=os.environ.get("TUG_LOG_LEVEL", "INFO").upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _announce(url: str, home: str) -> None:
    print(f"tugboat is up: API {url}, config {home}/config\n"
          f"  try: tug apply -f configs/examples/hello-pod.yaml && tug get pods -w\n"
          f"  stop with Ctrl-C (pods keep running) or `tug down` (stops everything)",
          file=sys.stderr, flush=True)


def up(args: argparse.Namespace) -> int:
    if args.simulate_gpus is not None and args.simulate_gpus < 1:
        raise BadRequestError("--simulate-gpus: expected a positive number of GPUs")
    home = tug_home()
    os.environ.update(ray_auth_env(home))  # before ray is imported: it reads them then
    from engine.controlplane import ControlPlane, serve
    from engine.runtime import start_local_head

    _logging()
    if not args.headless:
        print("tug up: the terminal UI is not built yet; running headless", file=sys.stderr)
    print("Starting (or reusing) the local Ray head…", file=sys.stderr, flush=True)
    address = start_local_head(home, num_cpus=args.num_cpus, node_ip=args.node_ip,
                               simulate_gpus=args.simulate_gpus, gpu_memory_mib=args.gpu_memory)
    cp = ControlPlane(home, ray_address=address, ray_auth=ray_auth_env(home), host=args.bind,
                      port=args.port)
    asyncio.run(serve(cp, ready=lambda c: _announce(c.url, str(home))))
    print("control plane stopped; pods keep running on Ray (`tug down` stops them)",
          file=sys.stderr)
    return 0


def server(args: argparse.Namespace) -> int:
    from engine.controlplane import ControlPlane, serve

    _logging()
    home = tug_home()
    cp = ControlPlane(home, ray_address=args.ray_address, host=args.bind, port=args.port)
    asyncio.run(serve(cp, ready=lambda c: _announce(c.url, str(home))))
    return 0


def down(args: argparse.Namespace) -> int:
    from engine.controlplane import running_pid
    from engine.runtime import stop_local_head

    home = tug_home()
    pid = running_pid(home)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        print(f"stopped the control plane (pid {pid})")
    else:
        print("no control plane was running")
    n = stop_local_head(home)
    print(f"stopped the local Ray cluster ({n} processes) and every pod on it" if n
          else "no local Ray cluster was running")
    return 0
