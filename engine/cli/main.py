"""`tug`: the kubectl-style command line. Parses arguments and dispatches; never imports Ray
for client verbs, and turns every TugError into one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from engine.errors import BadRequestError, TugError

Command = Callable[[argparse.Namespace], int]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--namespace", default=None, help="the namespace (default: default)")


def _serve_flags(p: argparse.ArgumentParser) -> None:
    """What every command that runs a control plane takes."""
    p.add_argument("--bind", default="127.0.0.1", help="address the API listens on")
    p.add_argument("--port", type=int, default=6780, help="API port (0 picks a free one)")
    p.add_argument("--san", action="append", default=[], metavar="NAME",
                   help="another DNS name or IP the API's certificate names (repeatable)")
    p.add_argument("--insecure-http", action="store_true",
                   help="serve the API over plain HTTP (loopback only; kubectl then sends no token)")
    p.add_argument("--sample-period", type=float, default=2.0, metavar="SECONDS",
                   help="how often node agents sample GPUs, CPU and memory (at least 1)")
    p.add_argument("--hpa-sync-period", type=float, default=15.0, metavar="SECONDS",
                   help="how often each HorizontalPodAutoscaler is synced (default 15, at least 1)")
    p.add_argument("--gpu-idle-threshold", type=float, default=5.0, metavar="PERCENT",
                   help="a held GPU under this utilization counts as idle (default 5)")
    p.add_argument("--gpu-idle-minutes", type=float, default=10.0, metavar="MINUTES",
                   help="... once it has been so this long: GPUIdle event, tugboat_gpu_idle (default 10)")
    p.add_argument("--ingress-port", type=int, default=8080, metavar="PORT",
                   help="port of the Ingress router on the head node (default 8080; 0 picks a free "
                        "one, -1 serves no Ingress)")
    p.add_argument("--runners", default=None, metavar="MIN:MAX",
                   help="warm pod runners per node: at least MIN idle, at most MAX in all (default 4:16; "
                        "0:0 starts each pod in a new Ray actor)")
    p.add_argument("--scoring-strategy", choices=["LeastAllocated", "MostAllocated"],
                   default=None, help="how the scheduler ranks nodes that fit (default "
                                      "LeastAllocated; MostAllocated bin-packs)")


def _local_flags(p: argparse.ArgumentParser) -> None:
    """What the commands that start a local Ray cluster take, besides _serve_flags."""
    p.add_argument("--headless", action="store_true",
                   help="run the control plane in the foreground without the TUI")
    p.add_argument("--gpu-memory", type=int, default=81920, metavar="MIB",
                   help="memory of each simulated GPU in MiB (default 81920)")


def _tui_flags(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--server", default=None, help="the API's URL (default: $TUG_HOME/config)")
    p.add_argument("--token", default=None, help="the API's bearer token (with --server)")
    p.add_argument("--certificate-authority", default=None, metavar="FILE",
                   help="the CA file the https server's certificate is checked against "
                        "(default: $TUG_HOME's, else the system's)")
    p.add_argument("--readonly", action="store_true", help="turn off every key that changes something")


def _flag(text: str) -> bool:
    """kubectl's boolean flag values: --wait=false, --wait=true."""
    if text.lower() in ("true", "t", "1", "yes"):
        return True
    if text.lower() in ("false", "f", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _create(args: argparse.Namespace) -> int:
    from engine.cli import objects, workloads

    if args.from_ is not None:
        return workloads.create_from(args)
    if not args.filename:
        raise BadRequestError("create: give -f FILE, or create job NAME --from=cronjob/NAME")
    return objects.apply(args)


class _verb:  # noqa: N801 - used like a function: func=_verb("objects", "get")
    """The function `name` of engine/cli/<module>.py, imported only when the verb runs: a verb
    pays for its own imports and no other's (`tug get pods` never loads the benchmarks)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    @property
    def function(self) -> Command:
        fn: Command = getattr(importlib.import_module(f"engine.cli.{self.module}"), self.name)
        return fn

    def __call__(self, args: argparse.Namespace) -> int:
        return self.function(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tug", description=(
        "tugboat: a small Kubernetes for GPU work, built on Ray. "
        "Apply the manifests you know; tugboat runs them on Ray nodes."))
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    p = sub.add_parser("up", help="start a local Ray cluster and the control plane")
    _local_flags(p)
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs the local Ray node offers")
    p.add_argument("--simulate-gpus", type=int, default=None, metavar="N",
                   help="declare N simulated GPUs on the local node (for machines without any)")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="a ClusterConfig (see configs/clusters/) declaring the local nodes")
    p.add_argument("--demo", action="store_true",
                   help="also apply configs/demo/ (queues, GPU Jobs, a CronJob, a service); "
                        "simulated GPUs (2 nodes x 4) where the machine has none")
    _serve_flags(p)
    p.add_argument("--node-ip", default="127.0.0.1",
                   help="address of the local Ray head (use the machine's IP to let others join)")
    p.set_defaults(func=_verb("process", "up"))

    p = sub.add_parser("dev-cluster",
                       help="several Ray nodes with simulated GPUs on this machine, and the "
                            "control plane on top (for demos and tests)")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--gpus-per-node", type=int, default=4)
    p.add_argument("--cpus-per-node", type=int, default=None)
    _local_flags(p)
    _serve_flags(p)
    p.set_defaults(func=_verb("process", "dev_cluster"))

    p = sub.add_parser("down", help="stop the control plane, every pod and the local Ray cluster")
    p.set_defaults(func=_verb("process", "down"))

    p = sub.add_parser("server", help="run the control plane on an existing Ray cluster")
    p.add_argument("--ray-address", required=True, help="HOST:PORT of the Ray head (GCS)")
    _serve_flags(p)
    p.set_defaults(func=_verb("process", "server"))

    for verb, helptext in (("apply", "create or update objects from manifests"),
                           ("create", "create objects from manifests (error if they exist), or a "
                                      "Job from a CronJob: create job NAME --from=cronjob/CRON")):
        p = sub.add_parser(verb, help=helptext)
        p.add_argument("-f", "--filename", action="append", required=verb == "apply",
                       help="a file, a directory of *.yaml/*.yml/*.json, or - for stdin")
        _common(p)
        p.add_argument("--dry-run", action="store_true", help="validate only; store nothing")
        p.add_argument("-o", "--output", choices=["name"], default=None)
        p.set_defaults(func=_verb("objects", "apply"), create_only=verb == "create")
        if verb == "create":
            p.add_argument("kind", nargs="?", help="with --from: job")
            p.add_argument("name", nargs="?", help="with --from: the new Job's name")
            p.add_argument("--from", dest="from_", default=None, help="cronjob/NAME: run its template now")
            p.set_defaults(func=_create)

    p = sub.add_parser("wait", help="wait for a condition on an object, or for it to be deleted")
    p.add_argument("target", help="KIND/NAME, e.g. job/train")
    p.add_argument("--for", dest="for_", required=True,
                   help="condition=NAME[=VALUE] (e.g. condition=complete, condition=failed) or delete")
    p.add_argument("--timeout", default="30s", help="e.g. 90s, 10m, 1h (default 30s)")
    _common(p)
    p.set_defaults(func=_verb("workloads", "wait"))

    p = sub.add_parser("patch", help="change an object with a JSON merge patch")
    p.add_argument("kind")
    p.add_argument("name")
    p.add_argument("-p", "--patch", required=True, help='e.g. \'{"spec":{"suspend":true}}\'')
    p.add_argument("--type", choices=["merge"], default="merge")
    _common(p)
    p.set_defaults(func=_verb("workloads", "patch"))

    for verb in ("suspend", "resume"):
        p = sub.add_parser(verb, help=f"{verb} a CronJob (no new Jobs) or a Job")
        p.add_argument("kind", help="cronjob or job")
        p.add_argument("name")
        _common(p)
        p.set_defaults(func=_verb("workloads", "suspend"))

    p = sub.add_parser("rollout", help="see and steer a Deployment's rollout")
    p.add_argument("action", choices=["status", "history", "undo", "pause", "resume", "restart"])
    p.add_argument("target", help="deployment/NAME")
    p.add_argument("name", nargs="?", help="NAME, when the first word is only the kind")
    p.add_argument("--to-revision", type=int, default=0, help="undo: the revision to go back to")
    p.add_argument("--revision", type=int, default=0, help="history: show this revision's template")
    p.add_argument("-w", "--watch", type=_flag, default=True, help="status: wait until done (default true)")
    p.add_argument("--timeout", default="0s", help="status: give up after this long (0s: never)")
    _common(p)
    p.set_defaults(func=_verb("rollout", "rollout"))

    p = sub.add_parser("autoscale", help="make a HorizontalPodAutoscaler for a Deployment or ReplicaSet")
    p.add_argument("target", help="KIND/NAME, or KIND then NAME")
    p.add_argument("name", nargs="?")
    p.add_argument("--max", type=int, required=True, help="the most replicas it may set")
    p.add_argument("--min", type=int, default=None, help="the fewest (default 1)")
    p.add_argument("--cpu-percent", type=int, default=None,
                   help="target CPU use, in percent of the pods' requests (default 80)")
    p.add_argument("--name", dest="hpa_name", default=None, help="the HPA's name (default: the target's)")
    _common(p)
    p.set_defaults(func=_verb("rollout", "autoscale"))

    p = sub.add_parser("scale", help="set a Deployment's or ReplicaSet's replicas, or a Job's parallelism")
    p.add_argument("target", help="KIND/NAME, or KIND then NAME")
    p.add_argument("name", nargs="?")
    p.add_argument("--replicas", type=int, required=True)
    _common(p)
    p.set_defaults(func=_verb("rollout", "scale"))

    p = sub.add_parser("set", help="change a workload's images or environment")
    ssub = p.add_subparsers(dest="what", required=True)
    for what, helptext, fn in (("image", "set container images: CONTAINER=IMAGE ... (*=IMAGE: all)",
                                "set_image"),
                               ("env", "set (KEY=VALUE) or remove (KEY-) environment variables", "set_env")):
        sp = ssub.add_parser(what, help=helptext)
        sp.add_argument("target", help="KIND/NAME")
        sp.add_argument("pairs", nargs="+")
        if what == "env":
            sp.add_argument("-c", "--container", default=None, help="only this container")
        _common(sp)
        sp.set_defaults(func=_verb("rollout", fn))

    p = sub.add_parser("expose", help="make a Service for a deployment, replicaset, pod or service")
    p.add_argument("target", help="KIND/NAME, or KIND then NAME")
    p.add_argument("name_arg", nargs="?", metavar="name")
    p.add_argument("--port", type=int, default=None, help="the Service's port (default: the pods' ports)")
    p.add_argument("--target-port", default=None, help="the pods' port, by number or name (default: --port)")
    p.add_argument("--type", default="ClusterIP", choices=["ClusterIP", "NodePort", "LoadBalancer"])
    p.add_argument("--name", dest="service_name", default=None, help="the Service's name (default: NAME)")
    p.add_argument("--protocol", default="TCP", choices=["TCP", "UDP", "SCTP"])
    p.add_argument("-l", "--selector", default=None, help="k=v,... (default: the target's selector)")
    _common(p)
    p.set_defaults(func=_verb("network", "expose"))

    p = sub.add_parser("port-forward", help="forward local ports to a pod, or to a ready pod of a service")
    p.add_argument("target", help="pod/NAME or svc/NAME")
    p.add_argument("ports", nargs="+", metavar="[LOCAL:]PORT")
    p.add_argument("--address", default="127.0.0.1", help="local address to listen on")
    _common(p)
    p.set_defaults(func=_verb("network", "port_forward"))

    p = sub.add_parser("edit", help="edit an object in $EDITOR; saved, it is applied")
    p.add_argument("kind", help="KIND, or KIND/NAME")
    p.add_argument("name", nargs="?")
    _common(p)
    p.set_defaults(func=_verb("edit", "edit"))

    p = sub.add_parser("get", help="list objects, or show some")
    p.add_argument("kind", help="resource type: pods, po, deploy, jobs, nodes, ... (or KIND/NAME)")
    p.add_argument("names", nargs="*")
    _common(p)
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("-o", "--output", choices=["wide", "yaml", "json", "name"], default=None)
    p.add_argument("-l", "--selector", default=None, help="label selector, e.g. app=web,tier!=db")
    p.add_argument("--field-selector", default=None, help="e.g. status.phase=Running")
    p.add_argument("-w", "--watch", action="store_true", help="after listing, watch for changes")
    p.add_argument("--show-labels", action="store_true")
    p.add_argument("--no-headers", action="store_true")
    p.set_defaults(func=_verb("objects", "get"))

    p = sub.add_parser("describe", help="show an object in detail, with its events")
    p.add_argument("kind")
    p.add_argument("names", nargs="*")
    _common(p)
    p.add_argument("-l", "--selector", default=None)
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.set_defaults(func=_verb("objects", "describe"))

    p = sub.add_parser("delete", help="delete objects by name, by manifest, or by label")
    p.add_argument("kind", nargs="?")
    p.add_argument("names", nargs="*")
    p.add_argument("-f", "--filename", action="append", default=None)
    _common(p)
    p.add_argument("-l", "--selector", default=None)
    p.add_argument("--all", action="store_true", help="every object of the kind in the namespace")
    p.add_argument("--wait", nargs="?", const=True, default=True, type=_flag,
                   help="wait until the objects are gone (default: yes; --wait=false or --no-wait: no)")
    p.add_argument("--no-wait", dest="wait", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--grace-period", type=int, default=None)
    p.add_argument("--force", action="store_true", help="with --grace-period=0: remove at once")
    p.add_argument("--cascade", choices=["background", "foreground", "orphan"], default="background")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits")
    p.add_argument("--ignore-not-found", action="store_true")
    p.set_defaults(func=_verb("objects", "delete"))

    p = sub.add_parser("logs", help="print the logs of a pod's container")
    p.add_argument("pod", help="POD, pod/POD or job/JOB (its newest pod)")
    _common(p)
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-p", "--previous", action="store_true", help="the previous run's logs")
    p.add_argument("-c", "--container", default=None)
    p.add_argument("--tail", type=int, default=None)
    p.add_argument("--timestamps", action="store_true",
                   help="begin each line with the time it was written (RFC 3339, UTC)")
    p.set_defaults(func=_verb("logs", "logs"))

    p = sub.add_parser("cordon", help="mark a node unschedulable")
    p.add_argument("node")
    p.set_defaults(func=_verb("nodes", "cordon"))
    p = sub.add_parser("uncordon", help="mark a node schedulable again")
    p.add_argument("node")
    p.set_defaults(func=_verb("nodes", "uncordon"))
    p = sub.add_parser("drain", help="cordon a node and evict its pods, honouring grace periods")
    p.add_argument("node")
    p.add_argument("--force", action="store_true",
                   help="also delete pods that no controller will recreate")
    p.add_argument("--grace-period", type=int, default=None,
                   help="seconds each pod gets (default: its own terminationGracePeriodSeconds)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the pods")
    p.set_defaults(func=_verb("nodes", "drain"))

    p = sub.add_parser("tui", help="the terminal UI: queues, nodes and GPUs, every resource, live")
    _tui_flags(p)
    p.set_defaults(func=_verb("tui", "tui"))

    p = sub.add_parser("kubeconfig", help="print a kubeconfig for this control plane (kubectl, k9s, clients)")
    p.add_argument("--merge", action="store_true",
                   help="merge it into $KUBECONFIG (its first file) or ~/.kube/config and make it current")
    p.add_argument("--context", default="tugboat", help="the name of its cluster, user and context")
    _common(p)
    p.set_defaults(func=_verb("kubeconfig", "kubeconfig"))

    p = sub.add_parser("version", help="print the client and server versions")
    p.add_argument("--client", action="store_true")
    p.add_argument("-o", "--output", choices=["json", "yaml"], default=None)
    p.set_defaults(func=_verb("objects", "version"))

    p = sub.add_parser("bench", help="measure tugboat against a baseline in the same run")
    bsub = p.add_subparsers(dest="what", metavar="WHAT")
    bp = bsub.add_parser("pods", help="pod start with warm runners, and in actors of their own, "
                                      "against raw Ray actor start")
    bp.add_argument("--count", type=int, default=50, help="pods (and Ray actors) in a burst (default 50)")
    bp.add_argument("--sequential", type=int, default=20, help="pods started one at a time (default 20)")
    bp.add_argument("--job-completions", type=int, default=200)
    bp.add_argument("--job-parallelism", type=int, default=20)
    bp.add_argument("-n", "--namespace", default="default")
    bp.add_argument("-o", "--output", choices=["json"], default=None)
    bp.add_argument("--timeout", type=float, default=300.0)
    bp.set_defaults(func=_verb("benchpods", "pods"))
    bp = bsub.add_parser("scheduler", help="placement decisions/s and bound pods/s on simulated "
                         "nodes (no Ray), against a full scan of every node")
    bp.add_argument("--nodes", type=int, default=1000)
    bp.add_argument("--gpus-per-node", type=int, default=8)
    bp.add_argument("--pods", type=int, default=10000)
    bp.add_argument("--baseline-pods", type=int, default=200,
                    help="pods the slow full-scan baseline places (the first N of the same workload)")
    bp.add_argument("--mixed-every", type=int, default=0, metavar="N",
                    help="one node in N has GPUs of two kinds (half A100, half H100); 0: none")
    bp.add_argument("-o", "--output", choices=["json"], default=None)
    bp.set_defaults(func=_verb("bench", "scheduler"))
    bp = bsub.add_parser("cron", help="Job creation skew of CronJobs all due in the same minute "
                         "(waits for the minute to turn)")
    bp.add_argument("--cronjobs", type=int, default=1000)
    bp.add_argument("-o", "--output", choices=["json"], default=None)
    bp.set_defaults(func=_verb("bench", "cron"))
    bp = bsub.add_parser("tui", help="the terminal UI at scale (first paint, refresh, keys, RSS) "
                                     "against Textual's stock DataTable on the same rows")
    bp.add_argument("--nodes", type=int, default=1000)
    bp.add_argument("--gpus-per-node", type=int, default=8)
    bp.add_argument("--pods", type=int, default=10000)
    bp.add_argument("-o", "--output", choices=["json"], default=None)
    bp.set_defaults(func=_verb("bench", "tui"))
    bp = bsub.add_parser("cli", help="wall time of short tug verbs (new processes) against "
                         "`python -c pass`, on the control plane of $TUG_HOME")
    bp.add_argument("--runs", type=int, default=10)
    bp.add_argument("--pod", default=None, help="also time `tug logs POD`")
    bp.add_argument("-n", "--namespace", default="default")
    bp.add_argument("-o", "--output", choices=["json"], default=None)
    bp.set_defaults(func=_verb("bench", "cli"))
    bp = bsub.add_parser("heal", help="a Deployment healing on a local dev cluster (process, actor "
                         "and node killed; a rollout) against raw Ray actor start")
    bp.add_argument("--replicas", type=int, default=6)
    bp.add_argument("--repeat", type=int, default=10)
    bp.add_argument("--node-loss", type=_flag, default=True, help="also kill nodes (default true)")
    bp.add_argument("-n", "--namespace", default="default")
    bp.add_argument("-o", "--output", choices=["json"], default=None)
    bp.set_defaults(func=_verb("bench", "heal"))
    bp = bsub.add_parser("net", help="requests through a Service and an Ingress against straight to a "
                         "replica, and endpoint changes to the proxies, on the control plane of $TUG_HOME")
    bp.add_argument("--replicas", type=int, default=3)
    bp.add_argument("--requests", type=int, default=2000)
    bp.add_argument("--concurrency", type=int, default=8)
    bp.add_argument("--flips", type=int, default=20, help="endpoint changes each way (default 20)")
    bp.add_argument("--rounds", type=int, default=10,
                    help="turns the requests are split into, alternating between the three ways (default 10)")
    bp.add_argument("-o", "--output", choices=["json"], default=None)
    bp.set_defaults(func=_verb("bench", "net"))
    p.set_defaults(func=lambda a: _usage(p))

    # Not `p`: bench's lambda above reads `p` when it runs, so `p` must stay bench's parser.
    top_p = sub.add_parser("top", help="show CPU, memory and GPU use of nodes or pods")
    tsub = top_p.add_subparsers(dest="what", metavar="WHAT")
    tp = tsub.add_parser("nodes", aliases=["node", "no"],
                         help="CPU, memory and GPU use of each node, then of each GPU")
    tp.add_argument("--no-gpus", action="store_true", help="leave out the per-GPU table")
    tp.add_argument("--no-headers", action="store_true")
    tp.add_argument("-o", "--output", choices=["json"], default=None)
    tp.set_defaults(func=_verb("top", "nodes"))
    tp = tsub.add_parser("pods", aliases=["pod", "po"], help="CPU, memory and GPU use of each pod")
    _common(tp)
    tp.add_argument("-A", "--all-namespaces", action="store_true")
    tp.add_argument("-l", "--selector", default=None, help="label selector, e.g. app=web,tier!=db")
    tp.add_argument("--no-headers", action="store_true")
    tp.add_argument("-o", "--output", choices=["json"], default=None)
    tp.set_defaults(func=_verb("top", "pods"))
    top_p.set_defaults(func=lambda a: _usage(top_p))
    return parser


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["tui", *argv]  # `tug` alone opens the terminal UI, as `k9s` does
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except TugError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for line in exc.details:
            print(f"  {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
