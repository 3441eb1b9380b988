"""The HTTP API: Kubernetes-shaped paths, JSON, bearer-token auth, `?watch=true` streams,
pod logs, `/healthz`, `/metrics`, and tugboat's atomic batch apply."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from engine.api import ResourceInfo, validate_documents
from engine.clock import parse_time
from engine.errors import (
    MAX_CAUSES,
    BadRequestError,
    MethodNotAllowedError,
    NotFoundError,
    TooLargeError,
    TugError,
    UnauthorizedError,
)
from engine.labels import parse_field_selector, parse_selector
from engine.paths import Target, parse_target
from engine.server import (
    applying,
    discovery,
    eviction,
    execstream,
    metrics_api,
    openapi,
    portforward,
    scaling,
    selfreview,
    tables,
    watching,
    writes,
)
from engine.server.bodies import MAX_BODY_BYTES, parse_body
from engine.server.crud import Api
from engine.server.metrics import UNAUTHENTICATED, UNMATCHED, Metrics
from engine.store import pages
from engine.store.objects import loads
from engine.store.watch import WatchFilter

log = logging.getLogger("tugboat.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, *, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(text=json.dumps(data), status=status, content_type="application/json")
    warnings = warnings or []
    if len(warnings) > MAX_CAUSES:  # the answer's size follows the limit, not the input
        warnings = [*warnings[:MAX_CAUSES], f"... and {len(warnings) - MAX_CAUSES} more warning(s)"]
    for w in warnings:
        resp.headers.add("Warning", f'299 - "{w.replace(chr(34), chr(39))}"')
    return resp


ROUTE_KEY = web.RequestKey("route", str)  # the resource a request reached, for /metrics


def _route_label(request: web.Request, code: int) -> str:
    """The metrics label of a request, from the route table and the registry only."""
    if code == 401:
        return UNAUTHENTICATED
    if ROUTE_KEY in request:
        return request[ROUTE_KEY]
    info = request.match_info.route.resource
    canonical = info.canonical if info is not None else ""
    return canonical if canonical and "{tail" not in canonical else UNMATCHED


INT64_MAX = 2**63 - 1


def _int_param(request: web.Request, name: str, *, minimum: int = 0,
               maximum: int = INT64_MAX) -> int | None:
    """An integer query parameter within [minimum, maximum], None when absent; else a 400
    naming it (Kubernetes' int64 parameters: never a float, NaN, infinity or 10^30)."""
    raw = request.query.get(name, "")
    if raw == "":
        return None
    text = raw.strip()
    if not (text.lstrip("-").isdigit() and text.isascii()):
        raise BadRequestError(f'{name}: expected an integer, got "{raw[:40]}"')
    value = int(text) if len(text) <= 20 else None  # past 20 digits it is out of range anyway
    if value is None or not minimum <= value <= maximum:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise BadRequestError(f"{name}: must be from {minimum} to {maximum}, got {shown}")
    return value


def _resource_version(request: web.Request) -> str | None:
    """The resourceVersion parameter: a revision number (at most int64), None when absent."""
    value = _int_param(request, "resourceVersion")
    return None if value is None else str(value)


def _log_since(request: web.Request, now: float) -> int | None:
    """sinceSeconds or sinceTime (`kubectl logs --since|--since-time`) as nanoseconds, or None."""
    seconds, text = _int_param(request, "sinceSeconds", minimum=1), request.query.get("sinceTime")
    if seconds is not None and text is not None:
        raise BadRequestError("at most one of sinceTime or sinceSeconds may be specified")
    try:
        when = now - seconds if seconds is not None else parse_time(text).timestamp() if text else None
    except ValueError:
        raise BadRequestError(f"sinceTime: expected an RFC 3339 time, got {text[:40]!r}") from None
    return None if when is None else int(when * 1e9)


class Server:
    """Builds the aiohttp application around the store, the API verbs and the runtime."""

    def __init__(self, store: Any, *, token: str, runtime: Any = None,
                 metrics: Metrics | None = None,
                 not_ready: Callable[[], list[str]] | None = None) -> None:
        self.store = store
        self.not_ready = not_ready or (lambda: [])
        self.api = Api(store)
        self.token = token
        self.runtime = runtime
        self.metrics = metrics or Metrics(store)
        self.app = web.Application(middlewares=[self._errors, self._auth, writes.dry_run_scope],
                                   client_max_size=MAX_BODY_BYTES)
        r = self.app.router
        r.add_get("/healthz", self._livez)
        r.add_get("/livez", self._livez)
        r.add_get("/readyz", self._readyz)
        r.add_get("/version", self._version)
        r.add_get("/metrics", self._metrics)
        r.add_post("/apis/tugboat.dev/v1/apply", self._apply)
        r.add_post("/apis/tugboat.dev/v1/bench/ray-actors", self._bench_actors)
        r.add_get("/apis/tugboat.dev/v1/top/nodes", self._top_nodes)
        r.add_get("/apis/tugboat.dev/v1/top/pods", self._top_pods)
        r.add_get("/apis/tugboat.dev/v1/nodes/{name}/gpus", self._node_gpus)
        for path in ("", "/nodes", "/nodes/{name}", "/pods", "/namespaces/{namespace}/pods",
                     "/namespaces/{namespace}/pods/{name}"):  # kubectl top
            r.add_get(f"/apis/metrics.k8s.io/v1beta1{path}", self._metrics_api)
        selfreview.add_routes(r)  # kubectl auth can-i|whoami
        r.add_get("/openapi/v3", self._openapi)
        r.add_get("/openapi/v3/{tail:.*}", self._openapi)
        r.add_get("/api", self._discover)  # discovery: what kubectl reads first
        r.add_get("/apis", self._discover)
        r.add_get("/api/{version}", self._discover)
        r.add_get("/apis/{group}/{version}", self._discover)
        r.add_route("*", "/api/{version}/{tail:.*}", self._resource)
        r.add_route("*", "/apis/{group}/{version}/{tail:.*}", self._resource)

    # ----- middleware --------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise UnauthorizedError("Unauthorized: a valid bearer token is required "
                                    "(see `token` in $TUG_HOME/config)")
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        code = 500
        try:
            resp = await handler(request)
            code = resp.status
            return resp
        except TugError as exc:
            code = exc.code
            return _json(exc.to_status(), status=exc.code)
        except web.HTTPException as exc:
            code = exc.status
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # noqa: BLE001 - an API bug must answer, not hang
            log.exception("%s %s", request.method, request.path)
            return _json(TugError(f"internal error: {exc}").to_status(), status=500)
        finally:
            self.metrics.observe(request.method, _route_label(request, code), code,
                                 time.perf_counter() - started)

    # ----- plain endpoints ---------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return _json(discovery.version())

    async def _openapi(self, request: web.Request) -> web.Response:
        """/openapi/v3 and each group version's document (engine/server/openapi.py)."""
        tail = request.match_info.get("tail")
        if tail is None:
            return _json(openapi.index())
        group_version = tail.split("/", 1)[1] if tail.startswith(("api/", "apis/")) else ""
        doc = await asyncio.to_thread(openapi.document, group_version) if group_version else None
        if doc is None:
            raise NotFoundError(f"no OpenAPI document for {tail}")
        return web.Response(body=doc, content_type="application/json")

    async def _discover(self, request: web.Request) -> web.Response:
        """/api, /apis, /api/v1, /apis/GROUP/VERSION (engine/server/discovery.py)."""
        m = request.match_info
        if "version" not in m and discovery.wants_aggregated(request.headers.get("Accept", "")):
            extra = {metrics_api.GROUP_VERSION: metrics_api.RESOURCES}
            return web.Response(text=json.dumps(discovery.aggregated(request.path == "/api", extra)),
                                headers={"Content-Type": discovery.AGGREGATED})
        if "version" not in m:
            return _json(discovery.core_versions(request.host) if request.path == "/api"
                         else discovery.group_list())
        group_version = f"{m['group']}/{m['version']}" if "group" in m else m["version"]
        found = discovery.resource_list(group_version)
        if found is None:
            raise NotFoundError(f"the server could not find the requested resource: no API {group_version}")
        return _json(found)

    async def _livez(self, request: web.Request) -> web.Response:
        """The event loop answers; nothing else is touched (a slow store never fails it)."""
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        """The store answers and every loop of the control plane runs; else 503 with why."""
        problems = self.not_ready()
        if problems:
            return web.Response(text="\n".join(problems) + "\n", status=503)
        return web.Response(text="ok")

    async def _metrics(self, request: web.Request) -> web.Response:
        body, ctype = self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": ctype})

    async def _apply(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        docs = body.get("documents")
        if not isinstance(docs, list):
            raise BadRequestError("documents: expected a list of objects")
        namespace = str(body.get("namespace") or "default")
        checked = await asyncio.to_thread(validate_documents, docs, default_namespace=namespace)
        results, warnings = self.api.apply(
            docs, namespace=namespace, create_only=body.get("mode") == "create",
            dry_run=bool(body.get("dryRun")), checked=checked)
        return _json({"kind": "ApplyResult", "apiVersion": "tugboat.dev/v1",
                      "results": results, "warnings": warnings}, warnings=warnings)

    async def _bench_actors(self, request: web.Request) -> web.Response:
        if self.runtime is None:
            raise NotFoundError("this control plane has no runtime")
        body = await self._body(request)
        count = body.get("count", 10)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
            raise BadRequestError("count: expected an integer from 1 to 1000")
        timings = await self.runtime.bench_actor_start(count=count, node=body.get("node"),
                                                       sequential=bool(body.get("sequential")))
        return _json({"startSeconds": timings})

    # ----- live telemetry (memory only: never a store write per sample) -----------------------

    def _need_runtime(self) -> Any:
        if self.runtime is None:
            raise NotFoundError("this control plane has no runtime, so no live samples")
        return self.runtime

    async def _top_nodes(self, request: web.Request) -> web.Response:
        return _json({"items": self._need_runtime().telemetry.top_nodes()})

    async def _top_pods(self, request: web.Request) -> web.Response:
        runtime = self._need_runtime()
        ns = request.query.get("namespace") or None
        pods, _ = self.store.list("pods", ns, **self._selectors(request))
        return _json({"items": await runtime.telemetry.top_pods(pods)})

    async def _metrics_api(self, request: web.Request) -> web.Response:
        """metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics (engine/server/metrics_api.py)."""
        path, m = request.path.rstrip("/"), request.match_info
        if path.endswith("/v1beta1"):
            return _json(metrics_api.RESOURCES)
        runtime, now = self._need_runtime(), self.store.now()
        if "/nodes" in path:
            rows = runtime.telemetry.top_nodes()
            items = metrics_api.node_metrics([r for r in rows if m.get("name") in (None, r["name"])], now)
            if m.get("name") and not items:
                raise NotFoundError(f'nodemetrics.metrics.k8s.io "{m["name"]}" not found')
            return _json(metrics_api.one("NodeMetrics", items[0]) if m.get("name")
                         else metrics_api.listed("NodeMetrics", items))
        pods, _ = self.store.list("pods", m.get("namespace"), **self._selectors(request))
        if m.get("name"):
            pods = [p for p in pods if p["metadata"]["name"] == m["name"]]
        by_key = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
        items = metrics_api.pod_metrics(await runtime.telemetry.top_pods(pods), by_key, now)
        if m.get("name") and not items:
            raise NotFoundError(f'podmetrics.metrics.k8s.io "{m["namespace"]}/{m["name"]}" not found')
        return _json(metrics_api.one("PodMetrics", items[0]) if m.get("name")
                     else metrics_api.listed("PodMetrics", items))

    async def _node_gpus(self, request: web.Request) -> web.Response:
        runtime = self._need_runtime()
        name = request.match_info["name"]
        self.store.get("nodes", None, name)  # 404 for a node that does not exist
        try:
            since = float(request.query.get("since") or 0)
        except ValueError:
            raise BadRequestError("since: expected a unix time in seconds") from None
        return _json(runtime.telemetry.gpu_history(name, since=since))

    # ----- resources -------------------------------------------------------------------------

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        version = m["version"]
        group = m.get("group", "")
        if "group" not in m and request.path.startswith("/apis/"):
            raise NotFoundError(f"no such API group: {request.path}")
        # The raw path, split before unescaping: "a%2Fb" is one (invalid) name, not two segments.
        raw = request.raw_path.split("?", 1)[0].split("/")[3 if "group" not in m else 4:]
        target = parse_target(group, version, [unquote(seg) for seg in raw])
        request[ROUTE_KEY] = (f"{'/apis/' + group if group else '/api'}/{version}/{target.info.plural}"
                              + (f"/{target.sub}" if target.sub else ""))
        writes.check_params(request)
        asked = f"{group}/{version}" if group else version
        if asked != target.info.api_version:  # an older version still accepted (registry DEPRECATED_APIS)
            return writes.relabel(await self._verb(request, target), target.info.api_version, asked)
        return await self._verb(request, target)

    async def _verb(self, request: web.Request, target: Target) -> web.StreamResponse:
        method = request.method
        if target.sub == "log":
            if method != "GET":
                raise MethodNotAllowedError(f"{method} is not allowed on pods/log: logs are read with GET")
            return await self._logs(request, target)
        if target.sub == "scale":
            return _json(await scaling.serve(request, target, self.api, self.store, self._body))
        if target.sub in ("eviction", "binding"):
            return await self._evict(request, target)
        if target.sub == "portforward" and target.name and target.namespace:
            return await portforward.serve(request, self.store, target.namespace, target.name)
        if target.sub == "exec" and target.name and target.namespace:
            return await execstream.serve(request, self.store, self.runtime, target.namespace, target.name)
        if target.sub == "status" and method not in ("GET", "PUT"):
            raise MethodNotAllowedError(f"{method} is not allowed on {target.info.plural}/status: "
                                        f"read it with GET, replace it with PUT")
        if target.name is None:
            if method == "GET":
                if writes.flag(request, "watch"):
                    return await self._watch(request, target)
                return self._list(request, target)
            if method == "POST":
                body = await self._body(request)
                checked = await asyncio.to_thread(self.api.validate, target.info, target.namespace, body)
                obj, warnings = self.api.create(target.info, target.namespace, body, checked=checked)
                return _json(obj, status=201, warnings=warnings)
            if method == "DELETE":
                return await self._delete_collection(request, target)
        else:
            assert target.name is not None
            ns = target.namespace if target.info.namespaced else None
            if target.info.namespaced and ns is None:
                raise NotFoundError(f"{target.info.plural} are namespaced: the path needs "
                                    f"/namespaces/NAMESPACE/")
            if method == "GET":
                obj = self.store.get(target.info.plural, ns, target.name)
                if target.sub is None and tables.wants_table(request.headers.get("Accept", "")):
                    rv = str(obj["metadata"].get("resourceVersion") or "")
                    return _json(tables.table(target.info, [obj], rv, self.store.now(),
                                              tables.include(request.query)))
                return _json(obj)
            if method == "PUT" and target.sub == "status":
                body = await self._body(request)
                await asyncio.to_thread(self.api.check_status, target.info, target.name, body)
                return _json(self.api.update_status(target.info, ns, target.name, body, checked=True))
            if method in ("PUT", "PATCH"):
                # validation runs in a worker thread; the store is read and written here only
                kind = writes.patch_kind(request) if method == "PATCH" else ""
                manager = writes.manager(request, apply=kind == "apply")
                if kind == "apply":
                    obj, warnings, code = await applying.serve(
                        self.api, request, target.info, ns, target.name, manager)
                    return _json(obj, status=code, warnings=warnings)
                body = await self._body(request, allow_list=kind == "json")
                if method == "PATCH":
                    body = self.api.patched(target.info, ns, target.name, body, kind)
                checked = await asyncio.to_thread(self.api.validate, target.info, ns, body)
                obj, warnings = self.api.update(target.info, ns, target.name, body, checked=checked,
                                                manager=manager)
                return _json(obj, warnings=warnings)
            if method == "DELETE":
                return await self._delete(request, target, ns)
        raise MethodNotAllowedError(f"method {method} is not allowed on {request.path}")

    async def _evict(self, request: web.Request, target: Target) -> web.Response:
        """pods/eviction and pods/binding (engine/server/eviction.py)."""
        if request.method != "POST":
            raise MethodNotAllowedError(f"{request.method} is not allowed on pods/{target.sub}: POST it")
        if target.name is None or target.namespace is None:
            raise NotFoundError(f"pods/{target.sub} is served at "
                                f"/api/v1/namespaces/NAMESPACE/pods/NAME/{target.sub}")
        act = eviction.evict if target.sub == "eviction" else eviction.bind
        return _json(act(self.store, target.namespace, target.name, await self._body(request)), status=201)

    def _selectors(self, request: web.Request) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if request.query.get("labelSelector"):
            out["label_selector"] = parse_selector(request.query["labelSelector"])
        if request.query.get("fieldSelector"):
            out["field_selector"] = parse_field_selector(request.query["fieldSelector"])
        return out

    def _list(self, request: web.Request, target: Target) -> web.Response:
        rv = _resource_version(request)  # else current: newer than any "NotOlderThan", "0" included
        limit = _int_param(request, "limit") or 0
        selectors = self._selectors(request)
        exact = watching.version_match(request, watch=False) == "Exact"
        if limit or request.query.get("continue") or exact:
            return self._page(request, target, limit, selectors, at=int(rv) if exact and rv else None)
        if tables.wants_table(request.headers.get("Accept", "")):  # kubectl get: printed here
            items, rv = self.store.list(target.info.plural, target.namespace, **selectors)
            return _json(tables.table(target.info, items, rv, self.store.now(),
                                      tables.include(request.query)))
        if not selectors:  # the stored texts as they are: no parse and dump of every object
            texts, rv = self.store.list_json(target.info.plural, target.namespace)
            return _texts_response(target.info, texts, rv, {})
        items, rv = self.store.list(target.info.plural, target.namespace, **selectors)
        return _json(_list_object(target.info, items, rv))

    def _page(self, request: web.Request, target: Target, limit: int,
              selectors: dict[str, Any], at: int | None = None) -> web.Response:
        """One page of a list (`limit`, `continue`), all pages one snapshot (engine/store/pages.py);
        `at`: the list as it was then (resourceVersionMatch=Exact; 410 once compacted)."""
        plural = target.info.plural
        rv, after = at, None
        if request.query.get("continue"):
            rv, after = pages.read_token(request.query["continue"], plural)
        rows, at = self.store.list_page(plural, target.namespace, rv=rv, after=after)
        if selectors:
            labels, fields = selectors.get("label_selector"), selectors.get("field_selector")
            flt = WatchFilter(plural, target.namespace, labels, fields)
            rows = [(key, text) for key, text in rows if flt.selects(loads(text))]
        page = rows[:limit] if limit else rows
        meta: dict[str, Any] = {}
        if limit and len(rows) > limit:
            meta["continue"] = pages.token(plural, int(at), page[-1][0])
            if not selectors:  # as Kubernetes: counted only where no selector filters
                meta["remainingItemCount"] = len(rows) - limit
        if tables.wants_table(request.headers.get("Accept", "")):
            return _json(tables.table(target.info, [loads(text) for _, text in page], str(at),
                                      self.store.now(), tables.include(request.query), meta))
        return _texts_response(target.info, [text for _, text in page], at, meta)

    async def _delete(self, request: web.Request, target: Target, ns: str | None) -> web.Response:
        opts = await self._delete_options(request)
        assert target.name is not None
        obj = self.api.delete(target.info, ns, target.name, **opts)
        if obj is None:  # nothing to show: a Status, as Kubernetes answers then
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                          "details": {"name": target.name, "kind": target.info.plural}})
        # As kube-apiserver: the object, in its last state (with a deletionTimestamp while a
        # grace period or finalizers hold it), so a typed client reads it as its kind.
        return _json(obj, status=202 if obj["metadata"].get("deletionTimestamp") else 200)

    async def _delete_collection(self, request: web.Request, target: Target) -> web.Response:
        opts = await self._delete_options(request)
        opts.pop("uid", None), opts.pop("rv", None)
        items, rv = self.store.list(target.info.plural, target.namespace, **self._selectors(request))
        deleted = self.api.delete_collection(target.info, target.namespace, items, **opts)
        return _json(_list_object(target.info, deleted, rv))

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        """The query's options, else the DeleteOptions body's (what kubectl sends)."""
        body = await self._body(request) if (await request.read()).strip() else {}
        return writes.delete_options(body, propagation=request.query.get("propagationPolicy") or None,
                                     grace=_int_param(request, "gracePeriodSeconds"))

    async def _body(self, request: web.Request, *, allow_list: bool = False) -> Any:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise TooLargeError(f"the request body is larger than {MAX_BODY_BYTES // 2**20} MiB, "
                                f"the limit for one request (as Kubernetes' per object)") from None
        return await asyncio.to_thread(parse_body, raw, allow_list=allow_list,
                                       content_type=request.content_type)

    # ----- streams ---------------------------------------------------------------------------

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        """engine/server/watching.py."""
        return await watching.serve(request, self.store, target, _resource_version(request),
                                    _int_param(request, "timeoutSeconds") or None, self._selectors(request))

    async def _logs(self, request: web.Request, target: Target) -> web.StreamResponse:
        ns = target.namespace or "default"
        assert target.name is not None
        tail = _int_param(request, "tailLines")
        tail = -1 if tail is None else tail
        q = request.query
        pod = self._pod_or_record(ns, target.name)
        if self.runtime is None:
            raise NotFoundError("this control plane has no runtime to read logs from")
        container = q.get("container") or None
        previous = writes.flag(request, "previous")
        timestamps = writes.flag(request, "timestamps")
        since = _log_since(request, self.store.now().timestamp())
        data, offset = await self.runtime.read_log(pod, container=container, previous=previous,
                                                   tail_lines=tail, offset=0, timestamps=timestamps,
                                                   since_ns=since)
        resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await resp.prepare(request)
        while data:  # the whole file, a few MiB per read
            await resp.write(data)
            data, offset = await self.runtime.read_log(pod, container=container,
                                                       previous=previous, tail_lines=-1,
                                                       offset=offset, timestamps=timestamps)
        if writes.flag(request, "follow") and not previous:
            await self._follow(resp, pod, container, offset, timestamps=timestamps)
        await resp.write_eof()
        return resp

    def _pod_or_record(self, namespace: str, name: str) -> dict[str, Any]:
        """The pod, or the last state its Job keeps of it once it is deleted."""
        try:
            return self.store.get("pods", namespace, name)
        except NotFoundError:
            try:
                return dict(self.store.get("podrecords", namespace, name)["pod"])
            except NotFoundError:
                raise NotFoundError(f'pods "{name}" not found') from None

    async def _follow(self, resp: web.StreamResponse, pod: dict[str, Any], container: str | None,
                      offset: int, *, timestamps: bool = False) -> None:
        """Stream what the container writes until its run ends (like `kubectl logs -f`); the
        offset is one into the raw log file, also when the lines sent carry their times."""
        meta = pod["metadata"]
        restarts = _restarts(pod, container)
        ended = False
        while True:
            await asyncio.sleep(0.2)
            try:
                data, offset = await self.runtime.read_log(pod, container=container, previous=False,
                                                           tail_lines=-1, offset=offset,
                                                           timestamps=timestamps)
            except TugError:
                return
            if data:
                await resp.write(data)
                continue
            if ended:
                return
            try:
                current = self.store.get("pods", meta["namespace"], meta["name"])
            except NotFoundError:
                current = None
            if (current is None or current["metadata"]["uid"] != meta["uid"]
                    or _restarts(current, container) != restarts or not _running(current, container)):
                ended = True  # one more read for what was written just before the end


def _restarts(pod: dict[str, Any], container: str | None) -> int:
    for s in (pod.get("status") or {}).get("containerStatuses") or []:
        if container in (None, s.get("name")):
            return int(s.get("restartCount", 0))
    return 0


def _running(pod: dict[str, Any], container: str | None) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for s in statuses:
        if container in (None, s.get("name")):
            state = s.get("state") or {}
            return "running" in state or ("waiting" in state and (pod.get("status") or {}).get(
                "phase") not in ("Succeeded", "Failed"))
    return (pod.get("status") or {}).get("phase") in (None, "Pending", "Running")


def _texts_response(info: ResourceInfo, texts: list[str], rv: str, meta: dict[str, Any]) -> web.Response:
    """A List of stored object texts, sent on as they are (no parse and dump of each)."""
    head = _list_object(info, [], rv)
    head["metadata"].update(meta)
    start = json.dumps(head)[:-len("[]}")]
    return web.Response(text=start + "[" + ",".join(texts) + "]}", content_type="application/json")


def _list_object(info: ResourceInfo, items: list[dict[str, Any]], rv: str) -> dict[str, Any]:
    return {"kind": f"{info.kind}List", "apiVersion": info.api_version,
            "metadata": {"resourceVersion": rv}, "items": items}
