"""pods/NAME/exec over WebSocket, as kubectl 1.32 speaks it: subprotocol v5.channel.k8s.io
(or v4); each binary message starts with its stream: 0 stdin, 1 stdout, 2 stderr, 3 the
closing Status (JSON; exit code in its causes), 4 a terminal resize ({"Width", "Height"}),
255 a stream closed (v5: [255, 0] ends stdin). The command runs on the pod's node
(engine/runtime/execremote.py); this module only moves bytes and says how it ended."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from engine.errors import BadRequestError, NotFoundError, TugError
from engine.runtime.podstatus import pick_container
from engine.server import writes

log = logging.getLogger("tugboat.exec")

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
MAX_MESSAGE = 1 << 20


def _ended(code: int, command: list[str]) -> dict[str, Any]:
    status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if code != 0:
        status.update(status="Failure", reason="NonZeroExitCode",
                      message=f"command terminated with non-zero exit code: error executing command "
                              f"{command}, exit code {code}",
                      details={"causes": [{"reason": "ExitCode", "message": str(code)}]})
    return status


async def serve(request: web.Request, store: Any, runtime: Any, namespace: str,
                name: str) -> web.StreamResponse:
    """Run the request's command in the pod's container and stream it over a WebSocket."""
    command = request.query.getall("command", [])
    if not command:
        raise BadRequestError("command: at least one command= parameter is required")
    if runtime is None:
        raise NotFoundError("this control plane runs no pods (it was started without a runtime)")
    pod = store.get("pods", namespace, name)
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase in ("Succeeded", "Failed"):
        raise BadRequestError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    container = pick_container(pod, request.query.get("container") or None)
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=MAX_MESSAGE, autoping=True)
    ready = ws.can_prepare(request)
    if not ready.ok or ready.protocol is None:
        raise BadRequestError(f"exec is served over a WebSocket with subprotocol {' or '.join(PROTOCOLS)} "
                              f"(as kubectl 1.30 and later speak it); upgrade the connection")
    await ws.prepare(request)
    from engine.runtime import execremote  # here: only a control plane with a runtime imports Ray

    try:
        session = await execremote.start(pod, container, command, tty=writes.flag(request, "tty"),
                                         stdin=writes.flag(request, "stdin"),
                                         actor=runtime.pod_actor(pod["metadata"]["uid"]))
    except TugError as exc:
        await ws.send_bytes(bytes([ERROR]) + json.dumps(exc.to_status()).encode())
        await ws.close()
        return ws
    pump = asyncio.create_task(_client_to_command(ws, session))
    try:
        await _command_to_client(ws, session, command, stdout=writes.flag(request, "stdout"),
                                 stderr=writes.flag(request, "stderr"))
    finally:
        pump.cancel()
        await session.end()
        await ws.close()
    return ws


async def _command_to_client(ws: web.WebSocketResponse, session: Any, command: list[str], *,
                             stdout: bool, stderr: bool) -> None:
    while not ws.closed:
        got = await session.read()
        if got["stdout"] and stdout:
            await ws.send_bytes(bytes([STDOUT]) + got["stdout"])
        if got["stderr"] and stderr:
            await ws.send_bytes(bytes([STDERR]) + got["stderr"])
        if got["exit"] is not None:
            await ws.send_bytes(bytes([ERROR]) + json.dumps(_ended(int(got["exit"]), command)).encode())
            return


async def _client_to_command(ws: web.WebSocketResponse, session: Any) -> None:
    """Stdin and resizes from the client, in order; a closed socket ends the command."""
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            stream, data = msg.data[0], msg.data[1:]
            if stream == STDIN and data:
                await session.write(bytes(data))
            elif stream == CLOSE and data[:1] == bytes([STDIN]):
                await session.write(b"", close=True)
            elif stream == RESIZE:
                try:
                    size = json.loads(data)
                    await session.resize(int(size["Width"]), int(size["Height"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a malformed resize changes nothing
    except TugError as exc:  # the session ended under us; the reading side reports how
        log.debug("exec stdin: %s", exc)
