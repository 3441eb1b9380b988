"""`tug edit KIND NAME`, and the TUI's `e`: the object as YAML in $EDITOR; saved, it replaces
the stored one; refused, the editor opens again on what was written, the error on top (as
kubectl edit does); saved unchanged, nothing happens."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from collections.abc import Callable
from typing import Any

from engine.errors import TugError

Obj = dict[str, Any]
REFUSED = "# the edit was refused: "
DETAIL = "#   "


def editor_command() -> list[str]:
    return (os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi").split()


def run_editor(path: str) -> None:
    subprocess.run([*editor_command(), path], check=False)


def edit_loop(obj: Obj, save: Callable[[Obj], Any], *, edit: Callable[[str], None] = run_editor) -> bool:
    """Edit `obj` (status left out) until `save` takes it or the file is saved unchanged;
    whether it was saved. `edit(path)` runs the editor on a file."""
    import yaml

    text = yaml.safe_dump({k: v for k, v in obj.items() if k != "status"}, sort_keys=False)
    while True:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
            fh.write(text)
            path = fh.name
        try:
            edit(path)
            with open(path) as fh:
                edited = fh.read()
        finally:
            os.unlink(path)
        body = "\n".join(line for line in edited.splitlines()
                         if not line.startswith(REFUSED) and not line.startswith(DETAIL))
        if edited == text:
            return False  # saved as it was shown: nothing to do
        try:
            doc = yaml.safe_load(body)
            if not isinstance(doc, dict):
                raise TugError("the file must hold one object (a YAML mapping)")
            save(doc)
        except (TugError, yaml.YAMLError) as exc:
            problem = getattr(exc, "message", None) or str(exc).splitlines()[0]
            details = "".join(f"{DETAIL}{d}\n" for d in getattr(exc, "details", []))
            text = f"{REFUSED}{problem}\n{details}{body}\n"
            continue
        return True


def edit(args: argparse.Namespace) -> int:
    from engine.api import resolve
    from engine.cli.objects import _ns
    from engine.client import Client

    kind, _, named = args.kind.partition("/")
    name = named or args.name
    if not name:
        raise TugError(f"expected KIND NAME or KIND/NAME, got {args.kind!r}")
    info = resolve(kind)
    shown = f"{info.kind.lower()}{'.' + info.group if info.group else ''}/{name}"
    with Client.from_config() as client:
        obj = client.get(info, name, namespace=_ns(args))
        if edit_loop(obj, client.update):
            print(f"{shown} edited")
        else:
            print("Edit cancelled, no changes made.")
    return 0
