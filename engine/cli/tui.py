"""`tug tui` (and `tug` alone): open the terminal UI on a control plane, the configured one
($TUG_HOME/config) or --server/--token (and --certificate-authority); say how to start one
when none answers."""

from __future__ import annotations

import argparse
import os
import sys

from engine.client import Client
from engine.config import read_config
from engine.errors import BadRequestError, TugError, UnavailableError


def client_for(args: argparse.Namespace) -> Client:
    """The client the UI uses: --server and --token, or $TUG_HOME/config; checked to answer."""
    server, token = getattr(args, "server", None), getattr(args, "token", None)
    if bool(server) != bool(token):
        raise BadRequestError("give --server and --token together (or neither, to use $TUG_HOME/config)")
    ca = getattr(args, "certificate_authority", None)
    if not server:
        cfg = read_config()
        server, token, ca = cfg.server, cfg.token, ca or cfg.ca
    client = Client(server, token, timeout=10, ca=ca)
    try:
        client.healthz()
    except (TugError, OSError) as exc:
        raise UnavailableError(f"no tugboat control plane answers at {server} ({exc}); start one "
                               f"with `tug up` (or `tug up --demo` to see it at work)") from None
    return client


def tui(args: argparse.Namespace) -> int:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise BadRequestError("tug tui needs a terminal (stdin and stdout); for scripts use the "
                              "other verbs (`tug get`, `tug describe`, ...)")
    client = client_for(args)
    from tui.app import TugApp

    TugApp(client, namespace=args.namespace or os.environ.get("TUG_NAMESPACE") or "default",
           readonly=args.readonly).run()
    return 0
