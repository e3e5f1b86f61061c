"""For tests: a local server speaking Discord's webhook API on 127.0.0.1.

``POST /api/webhooks/<id>/<token>`` takes ``{"username", "embeds": [...]}`` and answers 204;
a wrong token answers 401 ``{"message": "Invalid Webhook Token", "code": 50027}``; scripted
answers let a test send 429 ``{"message": "You are being rate limited.", "retry_after": s,
"global": false}`` with ``Retry-After``, as Discord does.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from aiohttp import web


class DiscordServer:
    """What arrived (payloads in order), attempt times, and answers to give first."""

    def __init__(self, webhook_id: str = "1234567890", token: str = "tok-abc") -> None:
        self.webhook_id = webhook_id
        self.token = token
        self.payloads: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.attempts: list[float] = []
        self.rate_limit_next: list[float] = []  # retry_after values for the next requests
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts.append(anyio.current_time())
        if (request.match_info["id"], request.match_info["token"]) != (self.webhook_id, self.token):
            return web.json_response(
                {"message": "Invalid Webhook Token", "code": 50027}, status=401
            )
        if self.rate_limit_next:
            after = self.rate_limit_next.pop(0)
            return web.json_response(
                {"message": "You are being rate limited.", "retry_after": after, "global": False},
                status=429,
                headers={"Retry-After": str(int(after) + 1), "X-RateLimit-Scope": "shared"},
            )
        body = await request.read()
        payload = json.loads(body)
        if not payload.get("embeds") and not payload.get("content"):
            return web.json_response(
                {"message": "Cannot send an empty message", "code": 50006}, status=400
            )
        self.raw.append(body.decode())
        self.payloads.append(payload)
        return web.Response(
            status=204,
            headers={
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "4",
                "X-RateLimit-Reset-After": "2",
            },
        )


@contextlib.asynccontextmanager
async def serve(server: DiscordServer) -> AsyncIterator[DiscordServer]:
    """Run ``server``; ``server.url`` is the webhook URL until the block ends."""
    app = web.Application()
    app.router.add_post("/api/webhooks/{id}/{token}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/api/webhooks/{server.webhook_id}/{server.token}"
    try:
        yield server
    finally:
        await runner.cleanup()
