"""The WebSocket gateway: `/ws` (protocol: backbone.stream_protocol) and the `/streams` demo page.

`install_stream(app, settings=...)` adds the routes to a FastAPI app (the HTTP API app of
serve_app.app, or a bare app in tests). Per socket: a reader task (client ops), a writer task
(drains the socket's bounded ClientQueue) and nothing else; the data comes from the replica's
StreamHub (one pull loop per channel), created lazily on the serving event loop.

API key: when configured, `api_key` query parameter or `x-api-key` header; otherwise the socket
is accepted and closed with code 4401. Invalid client messages get an `error` message and the
socket carries on.
"""
from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse

from backbone.fanout import ClientQueue
from backbone.stream_protocol import (ProtocolError, Resume, Subscribe, Unsubscribe, encode, error_message,
                                      parse_client_message)

from .stream_hub import StreamHub
from .stream_sources import RaySources

log = logging.getLogger("serve_app.stream")
CLOSE_UNAUTHORIZED = 4401
STATIC = Path(__file__).resolve().parent / "static"
_ids = itertools.count(1)


class StreamClient:
    """One WebSocket: its queue, per-channel skip marks, and the writer's wake-up event."""

    def __init__(self, ws: WebSocket, max_messages: int, book_backlog: int) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.queue = ClientQueue(max_messages, book_backlog)
        self.min_seq: dict[str, int] = {}
        self._wake = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def write_loop(self) -> None:
        q, ws = self.queue, self.ws
        while True:
            text = q.pop()
            if text is None:
                self._wake.clear()
                if len(q) == 0:
                    await self._wake.wait()
                continue
            await ws.send_text(text)
            self.sent += 1

    def __hash__(self) -> int:
        return self.id

    def __eq__(self, other: object) -> bool:
        return self is other


def _authorized(ws: WebSocket, api_key: str | None) -> bool:
    if not api_key:
        return True
    given = ws.headers.get("x-api-key") or ws.query_params.get("api_key")
    return given is not None and hmac.compare_digest(given.encode(), api_key.encode())


async def _handle(hub: StreamHub, client: StreamClient, text: Any) -> None:
    """One client message; whatever goes wrong becomes an `error` message, never a dead socket."""
    try:
        await _apply_op(hub, client, parse_client_message(text))
    except Exception:  # noqa: BLE001 - logged with its trace; the client gets a typed error
        log.exception("stream op failed for client %s", client.id)
        client.queue.push_control(encode(error_message("INTERNAL_ERROR", "the request could not be handled")))
        client.wake()


async def _apply_op(hub: StreamHub, client: StreamClient, op: Any) -> None:
    if isinstance(op, ProtocolError):
        client.queue.push_control(encode(error_message(op)))
        client.wake()
    elif isinstance(op, Subscribe):
        for ch in op.channels:
            await hub.subscribe(client, ch)
    elif isinstance(op, Unsubscribe):
        for ch in op.channels:
            hub.unsubscribe(client, ch)
    elif isinstance(op, Resume):
        await hub.resume(client, op.channel, op.epoch, op.from_seq)


def install_stream(app: FastAPI, *, settings=None, api_key: str | None = None,
                   hub_factory: Callable[[], StreamHub] | None = None, sectors=None,
                   max_messages: int = 2000, book_backlog: int = 64, grace_s: float = 5.0) -> None:
    """Register `/ws` and `/streams` on `app`. The hub is built on first use, inside the server's loop.
    `sectors`: async callable returning the latest sector aggregation (None: none yet). `grace_s`:
    how long a channel's upstream demand outlives its last client."""
    if api_key is None and settings is not None and settings.api_key is not None:
        api_key = settings.api_key.get_secret_value()
    factory = hub_factory or (lambda: StreamHub(RaySources(settings), sectors=sectors, grace_s=grace_s))
    app.state.stream_hub = None

    def hub() -> StreamHub:
        if app.state.stream_hub is None:
            app.state.stream_hub = factory()
        return app.state.stream_hub

    @app.websocket("/ws")
    async def ws_endpoint(ws: WebSocket) -> None:
        await ws.accept()
        if not _authorized(ws, api_key):
            await ws.close(code=CLOSE_UNAUTHORIZED, reason="missing or wrong API key")
            return
        h = hub()
        client = StreamClient(ws, max_messages, book_backlog)
        h.add_client(client)
        writer = asyncio.get_running_loop().create_task(client.write_loop())
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                text = msg.get("text")
                await _handle(h, client, text if text is not None else msg.get("bytes"))
                if writer.done():  # the send side failed: the socket is gone
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            h.remove_client(client)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    @app.get("/streams", include_in_schema=False)
    async def streams_page() -> FileResponse:
        return FileResponse(STATIC / "streams.html", media_type="text/html")


def create_stream_app(settings=None, **kw) -> FastAPI:
    """A FastAPI app with only the stream routes (tests, benchmarks, a stream-only deployment)."""
    app = FastAPI(title="KIS backbone streams")
    install_stream(app, settings=settings, **kw)
    from fastapi.staticfiles import StaticFiles
    app.mount("/static", StaticFiles(directory=STATIC), name="static")  # the /streams page's book.js

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/ws/stats", include_in_schema=False)
    async def stats() -> dict:
        h = app.state.stream_hub
        return h.stats() if h is not None else {"clients": 0}
    return app
