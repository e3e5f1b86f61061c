"""For tests: a webhook receiver on 127.0.0.1: records each POST, verifies the HMAC
signature, and can answer with scripted statuses (429 with Retry-After, 500, 400) or hold
requests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from aiohttp import web

from tradewind_notifier_webhook.plugin import verify_signature


class Receiver:
    """Bodies received, in order; ``script`` is a list of (status, headers) answered first."""

    def __init__(self, key: str | None = None, hold_s: float = 0.0) -> None:
        self.key = key
        self.hold_s = hold_s
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.attempts: list[tuple[float, str]] = []  # (loop time, delivery id)
        self.bad_signatures = 0
        self.script: list[tuple[int, dict[str, str]]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempts.append(
            (anyio.current_time(), request.headers.get("X-Tradewind-Delivery", ""))
        )
        if self.hold_s:
            await anyio.sleep(self.hold_s)
        if self.script:
            status, headers = self.script.pop(0)
            return web.Response(status=status, headers=headers, text=f"scripted {status}")
        if self.key is not None and not verify_signature(
            body, request.headers.get("X-Tradewind-Signature", ""), self.key
        ):
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        self.raw.append(body.decode())
        self.bodies.append(json.loads(body))
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def serve(receiver: Receiver) -> AsyncIterator[Receiver]:
    """Run ``receiver`` at http://127.0.0.1:<port>/hook until the block ends."""
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()
