"""`tug logs`: a container's output, current or previous run, whole, tailed or followed,
optionally with each line's time."""

from __future__ import annotations

import argparse
import sys

from engine.cli.workloads import job_pod
from engine.client import Client


def logs(args: argparse.Namespace) -> int:
    pod = args.pod.split("/", 1)[1] if args.pod.startswith(("pod/", "pods/", "po/")) else args.pod
    with Client.from_config() as client:
        if args.pod.startswith(("job/", "jobs/", "job.batch/")):
            pod = job_pod(client, args.pod.split("/", 1)[1], args.namespace or "default")
        out = sys.stdout.buffer
        for chunk in client.logs(pod, namespace=args.namespace or "default",
                                 container=args.container, previous=args.previous,
                                 tail=args.tail, follow=args.follow,
                                 timestamps=args.timestamps):
            out.write(chunk)
            out.flush()
    return 0
