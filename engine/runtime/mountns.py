"""Runs one container process in a mount namespace of its own, with its volumes bound at their
mount paths, and changes nothing on the node: a tmpfs root holds a bind of each top-level
entry of the node's `/`, a mount path that does not exist on the node is made inside that
tmpfs (or in a tmpfs overlay of its nearest existing parent), then the process chroots there
and execs. Started as a script (standard library only) by engine/runtime/volumes.py:

    python -I -S mountns.py SPEC_JSON -- ARGV...
    python -I -S mountns.py --probe ROOT

SPEC: {"root": dir for the tmpfs root, "cwd": dir or null, "mounts": [{"source", "target",
"readOnly", "file"}]}. Runs as root, or in a user namespace of its own where unprivileged
ones are allowed; exits 125 with one line on stderr if a step fails."""

from __future__ import annotations

import ctypes
import json
import os
import sys

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
FAILED = 125  # as `docker run` exits when the runtime itself fails

_libc = ctypes.CDLL(None, use_errno=True)


class Failure(Exception):
    pass


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise Failure(f"{what}: {os.strerror(err)}")


def _enc(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = _enc
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source or fstype} on {target}")


def private_namespace() -> None:
    """A mount namespace of our own: directly as root; otherwise inside a user namespace that
    maps our own uid and gid to themselves (where the kernel lets unprivileged users have one)."""
    if os.geteuid() == 0:
        _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    else:
        uid, gid = os.geteuid(), os.getegid()
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
        maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
        for name, text in maps:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the node


def build_root(root: str) -> None:
    """A tmpfs at `root` with each top-level entry of `/` bound (or linked) into it."""
    os.makedirs(root, exist_ok=True)
    mount("tugboat-root", root, "tmpfs", 0, "mode=0755")
    for entry in sorted(os.listdir("/")):
        here, there = "/" + entry, os.path.join(root, entry)
        if os.path.islink(here):
            os.symlink(os.readlink(here), there)
        elif os.path.isdir(here):
            os.mkdir(there)
            mount(here, there, None, MS_BIND | MS_REC)
        elif os.path.isfile(here):
            open(there, "w").close()
            mount(here, there, None, MS_BIND)


def resolve_in(root: str, path: str) -> str:
    """`path` with its symlinks followed as if `root` were `/` (an absolute link such as
    /var/run -> /run leads to root + /run, never to the node's own /run)."""
    parts = [p for p in os.path.normpath(path).split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            done = done[:-1]
            continue
        here = os.path.join(root, *done, part)
        if os.path.islink(here) and hops < 40:
            hops += 1
            link = os.readlink(here)
            if link.startswith("/"):
                done = []
            parts = [p for p in link.split("/") if p and p != "."] + parts
            continue
        done.append(part)
    return "/" + "/".join(done)


def _overlays(root: str, targets: list[str]) -> None:
    """Cover each node directory that must gain a mount point with a tmpfs overlay (ours is the
    upper layer), before any volume is bound: an overlay mounted later would hide binds."""
    parents = set()
    for target in targets:
        if os.path.lexists(target):
            continue  # bound over as it is
        parent = os.path.dirname(target.rstrip("/")) or "/"
        while parent != "/" and not os.path.isdir(parent):
            parent = os.path.dirname(parent)
        if parent != "/":
            parents.add(parent)
    for i, parent in enumerate(sorted(parents, key=lambda p: p.count("/"))):
        work = os.path.join(root, ".tugboat", str(i))
        os.makedirs(os.path.join(work, "upper"))
        os.makedirs(os.path.join(work, "work"))
        mount("overlay", os.path.join(root, parent.lstrip("/")), "overlay", 0,
              f"lowerdir={parent},upperdir={work}/upper,workdir={work}/work")


def bind_volumes(root: str, mounts: list[dict[str, object]]) -> None:
    """Bind each volume at its target, parents first; a missing target is made in our tmpfs,
    in an overlay, or (nested in another volume) in that volume, as a container runtime does."""
    targets = [(resolve_in(root, str(m["target"])), m) for m in mounts]
    ordered = sorted(targets, key=lambda tm: tm[0].count("/"))
    _overlays(root, [t for t, _ in ordered])
    for target, m in ordered:
        inside = os.path.join(root, target.lstrip("/"))
        if not os.path.lexists(inside):
            if m.get("file"):
                os.makedirs(os.path.dirname(inside), exist_ok=True)
                open(inside, "a").close()
            else:
                os.makedirs(inside, exist_ok=True)
        mount(str(m["source"]), inside, None, MS_BIND | MS_REC)
        if m.get("readOnly"):
            mount(None, inside, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def enter(spec: dict[str, object]) -> None:
    root = str(spec["root"])
    private_namespace()
    build_root(root)
    bind_volumes(root, list(spec.get("mounts") or []))  # type: ignore[arg-type]
    cwd = str(spec.get("cwd") or os.getcwd())
    os.chroot(root)
    try:
        os.makedirs(cwd, exist_ok=True)
        os.chdir(cwd)
    except OSError:
        os.chdir("/")


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["--probe"]:  # can this node do it? (the node agent asks once)
            probe = os.path.join(argv[1], "probe")
            enter({"root": probe, "mounts": [{"source": "/", "target": "/tugboat-probe", "readOnly": True}]})
            return 0 if os.path.isdir("/tugboat-probe/proc") else FAILED
        spec, rest = json.loads(argv[0]), argv[argv.index("--") + 1:]
        enter(spec)
    except (Failure, OSError, ValueError, KeyError, IndexError) as exc:
        print(f"tugboat: cannot mount the pod's volumes: {exc}", file=sys.stderr)
        return FAILED
    try:
        os.execvp(rest[0], rest)
    except OSError as exc:
        print(f"tugboat: cannot run {rest[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return FAILED  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
