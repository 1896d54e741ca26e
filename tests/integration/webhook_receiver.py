"""A real HTTP webhook receiver on 127.0.0.1 (aiohttp, own thread) that answers 200/429/500 on demand."""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque

from aiohttp import web

ALERT_ID = re.compile(r"alert ([0-9a-f]{20})")


class WebhookReceiver:
    def __init__(self) -> None:
        self.plan: deque[int] = deque()  # statuses for the next requests; then `default`
        self.default = 200
        self.retry_after = 0.3
        self.requests: list[dict] = []  # {path, status, alert_id, body, at}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.plan.popleft() if self.plan else self.default
        try:
            data = json.loads(body)
            text = data.get("text") or data["embeds"][0]["footer"]["text"]
        except (ValueError, KeyError, IndexError, TypeError):
            text = ""
        m = ALERT_ID.search(text) or ALERT_ID.search(json.dumps(data) if text else "")
        self.requests.append({"path": request.path, "status": status, "at": time.monotonic(),
                              "alert_id": m.group(1) if m else None, "body": body})
        if status == 429:
            return web.json_response({"message": "You are being rate limited.", "retry_after": self.retry_after,
                                      "global": False}, status=429, headers={"Retry-After": "1"})
        return web.Response(status=status, text="ok" if status < 300 else "error")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        await self._runner.cleanup()

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        assert self._ready.wait(10), "receiver did not start"
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def accepted(self, path: str) -> list[str]:
        return [r["alert_id"] for r in list(self.requests) if r["path"] == path and r["status"] < 300]

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
