"""`tug top nodes|pods`: fetch CPU, memory and GPU usage from the server and print it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.client import Client
from engine.printers import format_top_nodes, format_top_pods

TOP_PATH = "/apis/tugboat.dev/v1/top"


def _items(data: Any) -> list[dict[str, Any]]:
    return list((data or {}).get("items") or [])


def _print(args: argparse.Namespace, items: list[dict[str, Any]], text: str, where: str) -> int:
    if args.output == "json":
        print(json.dumps(items, indent=4))
    elif text:
        print(text)
    else:
        print(f"No resources found{where}.", file=sys.stderr)
    return 0


def nodes(args: argparse.Namespace) -> int:
    with Client.from_config() as client:
        items = _items(client.request("GET", f"{TOP_PATH}/nodes"))
    text = format_top_nodes(items, no_headers=args.no_headers, show_gpus=not args.no_gpus)
    return _print(args, items, text, "")


def pods(args: argparse.Namespace) -> int:
    ns = None if args.all_namespaces else (args.namespace or "default")
    with Client.from_config() as client:
        items = _items(client.request("GET", f"{TOP_PATH}/pods",
                                      params={"namespace": ns, "labelSelector": args.selector}))
    text = format_top_pods(items, all_namespaces=args.all_namespaces, no_headers=args.no_headers)
    return _print(args, items, text, " in any namespace" if ns is None else f" in {ns} namespace")
