"""The one client of the tugboat API, used by the CLI, the TUI and the tests (no Ray; HTTP
through engine/transport.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine.api import ResourceInfo, resolve
from engine.config import ClientConfig, read_config
from engine.errors import TugError, from_status
from engine.paths import object_path
from engine.transport import Response, Transport


class Client:
    def __init__(self, server: str, token: str, *, timeout: float = 30.0, ca: str | None = None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.ca = ca  # the CA file an https server is checked against (None: the system's)
        self._http = Transport(self.server, headers={"Authorization": f"Bearer {token}"},
                               timeout=timeout, ca=ca)
        self.warnings: list[str] = []

    @classmethod
    def from_config(cls, home: Path | None = None, **kw: Any) -> Client:
        cfg: ClientConfig = read_config(home)
        return cls(cfg.server, cfg.token, ca=cfg.ca, **kw)

    def close(self) -> None:
        """Nothing stays open between requests; kept so a Client is a context manager."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- transport ----------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> Any:
        resp = self._http.request(method, path, params=params,
                                  body=None if body is None else json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"} if body is not None else None)
        self.warnings = _warnings(resp)
        return _decode(resp)

    def text(self, path: str) -> str:
        """A GET of a plain-text page (/metrics, /healthz)."""
        resp = self._http.request("GET", path)
        if resp.status != 200:
            _decode(resp)
        return resp.text

    def stream(self, path: str, *, params: dict[str, Any] | None = None,
               timeout: float | None = None,
               on_open: Callable[[Callable[[], None]], None] | None = None) -> Iterator[bytes]:
        """The raw bytes of a streaming GET (watch, logs -f) as they arrive; `on_open` gets a
        function that ends the stream from another thread."""
        with self._http.stream(path, params=params, timeout=timeout, on_open=on_open) as (resp, chunks):
            if resp.status >= 400:
                _decode(resp)
            yield from chunks

    # ----- objects ----------------------------------------------------------------------------

    def get(self, resource: str | ResourceInfo, name: str, *, namespace: str = "default") -> dict[str, Any]:
        info = _info(resource)
        return self.request("GET", object_path(info, namespace, name))

    def list(self, resource: str | ResourceInfo, *, namespace: str | None = "default",
             label_selector: str | None = None, field_selector: str | None = None,
             limit: int | None = None, continue_token: str | None = None) -> dict[str, Any]:
        """The Kubernetes List object; namespace None lists all namespaces. With `limit`, one
        page: its `metadata.continue` (if more remain) is the next page's `continue_token`."""
        info = _info(resource)
        return self.request("GET", object_path(info, namespace),
                            params={"labelSelector": label_selector,
                                    "fieldSelector": field_selector,
                                    "limit": limit, "continue": continue_token})

    def create(self, obj: dict[str, Any], *, namespace: str = "default") -> dict[str, Any]:
        info = _info(obj.get("kind", ""))
        ns = (obj.get("metadata") or {}).get("namespace") or namespace
        return self.request("POST", object_path(info, ns), body=obj)

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        info = _info(obj.get("kind", ""))
        meta = obj["metadata"]
        return self.request("PUT", object_path(info, meta.get("namespace"), meta["name"]), body=obj)

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        info = _info(obj.get("kind", ""))
        meta = obj["metadata"]
        return self.request("PUT", object_path(info, meta.get("namespace"), meta["name"]) + "/status",
                            body=obj)

    def patch(self, resource: str | ResourceInfo, name: str, patch: dict[str, Any], *,
              namespace: str = "default") -> dict[str, Any]:
        info = _info(resource)
        return self.request("PATCH", object_path(info, namespace, name), body=patch)

    def delete(self, resource: str | ResourceInfo, name: str, *, namespace: str = "default",
               propagation: str | None = None, grace_seconds: int | None = None) -> dict[str, Any]:
        info = _info(resource)
        return self.request("DELETE", object_path(info, namespace, name),
                            params={"propagationPolicy": propagation,
                                    "gracePeriodSeconds": grace_seconds})

    def delete_collection(self, resource: str | ResourceInfo, *, namespace: str | None = "default",
                          label_selector: str | None = None, propagation: str | None = None,
                          grace_seconds: int | None = None) -> dict[str, Any]:
        info = _info(resource)
        return self.request("DELETE", object_path(info, namespace),
                            params={"labelSelector": label_selector,
                                    "propagationPolicy": propagation,
                                    "gracePeriodSeconds": grace_seconds})

    def apply(self, documents: list[dict[str, Any]], *, namespace: str = "default",
              create_only: bool = False, dry_run: bool = False) -> dict[str, Any]:
        """Validate and store every document atomically; returns results and warnings."""
        return self.request("POST", "/apis/tugboat.dev/v1/apply",
                            body={"documents": documents, "namespace": namespace,
                                  "mode": "create" if create_only else "apply", "dryRun": dry_run})

    def watch(self, resource: str | ResourceInfo, *, namespace: str | None = "default",
              resource_version: str | None = None, label_selector: str | None = None,
              field_selector: str | None = None, timeout: float | None = None,
              timeout_seconds: int | None = None,
              on_open: Callable[[Callable[[], None]], None] | None = None
              ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(type, object) events; from `resource_version` (exclusive), or a list then changes.
        `timeout_seconds`: the server ends the watch cleanly after that long (watch again from
        the last event's resourceVersion); `timeout`: the socket's, for a silent connection."""
        info = _info(resource)
        buf = b""
        for chunk in self.stream(object_path(info, namespace),
                                 params={"watch": "true", "resourceVersion": resource_version,
                                         "labelSelector": label_selector,
                                         "fieldSelector": field_selector,
                                         "timeoutSeconds": timeout_seconds},
                                 timeout=timeout, on_open=on_open):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    event = json.loads(line)
                    if event["type"] == "ERROR":
                        raise from_status(event["object"],
                                          http_code=int(event["object"].get("code") or 500))
                    yield event["type"], event["object"]

    def logs(self, pod: str, *, namespace: str = "default", container: str | None = None,
             previous: bool = False, tail: int | None = None, follow: bool = False,
             on_open: Callable[[Callable[[], None]], None] | None = None,
             timestamps: bool = False) -> Iterator[bytes]:
        """A container's log as it comes; with `timestamps` each line starts with the time it
        was written (RFC 3339 with nanoseconds, UTC) and a space, as `kubectl logs --timestamps`."""
        info = _info("pods")
        params = {"container": container, "previous": "true" if previous else None,
                  "tailLines": tail if tail is not None and tail >= 0 else None,  # -1: all, as kubectl
                  "follow": "true" if follow else None,
                  "timestamps": "true" if timestamps else None}
        return self.stream(object_path(info, namespace, pod) + "/log", params=params, on_open=on_open)

    def version(self) -> dict[str, Any]:
        return self.request("GET", "/version")

    def healthz(self) -> str:
        return self.text("/healthz")

    def bench_ray_actors(self, *, count: int, sequential: bool = False,
                         node: str | None = None) -> list[float]:
        out = self.request("POST", "/apis/tugboat.dev/v1/bench/ray-actors",
                           body={"count": count, "sequential": sequential, "node": node})
        return [float(x) for x in out["startSeconds"]]


def _info(resource: str | ResourceInfo) -> ResourceInfo:
    return resource if isinstance(resource, ResourceInfo) else resolve(resource)


def _warnings(resp: Response) -> list[str]:
    out = []
    for raw in resp.headers.get_all("warning") or []:
        # http.client reads header bytes as latin-1; the server writes UTF-8 (field paths may
        # hold any map key)
        value = raw.encode("latin-1", "replace").decode("utf-8", "replace")
        text = value.split(" ", 2)[-1].strip()
        out.append(text[1:-1] if text.startswith('"') and text.endswith('"') else text)
    return out


def _decode(resp: Response) -> Any:
    try:
        data = json.loads(resp.body)
    except ValueError:
        data = None
    if resp.status >= 400:
        if isinstance(data, dict) and data.get("kind") == "Status":
            raise from_status(data, http_code=resp.status)
        err = TugError(f"HTTP {resp.status}: {resp.text[:200]}")
        err.code = resp.status
        raise err
    return data
