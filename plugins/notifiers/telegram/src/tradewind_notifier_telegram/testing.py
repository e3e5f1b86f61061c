"""For tests: a local server speaking the Telegram Bot API on 127.0.0.1.

``POST /bot<token>/sendMessage`` and ``/bot<token>/getUpdates`` answer with the Bot API's
envelope: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ...,
"description": ..., "parameters": {"retry_after": s}}``. A wrong token answers 401
Unauthorized; an unknown chat 400 "Bad Request: chat not found". ``getUpdates`` long-polls:
it returns the queued updates from ``offset`` on, or waits (at most ``max_poll_s``) for one.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import anyio
from aiohttp import web


class TelegramServer:
    """A bot's view of Telegram: sent messages, queued updates, scripted 429s."""

    def __init__(
        self,
        token: str = "123456:ABC-test",
        chats: tuple[str, ...] = ("42",),
        max_poll_s: float = 0.5,
    ) -> None:
        self.token = token
        self.chats = set(chats)
        self.max_poll_s = max_poll_s
        self.sent: list[dict[str, Any]] = []
        self.attempts: list[float] = []
        self.updates: list[dict[str, Any]] = []
        self.too_many_next: list[int] = []  # retry_after of the next sendMessage calls
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1000)
        self._new = anyio.Event()
        self.base_url = ""

    def command(
        self, chat_id: int, text: str, *, user_id: int = 7, username: str = "trader"
    ) -> None:
        """Queue a message a user sent to the bot."""
        self.updates.append(
            {
                "update_id": next(self._update_ids),
                "message": {
                    "message_id": next(self._ids),
                    "date": 1700000000,
                    "text": text,
                    "chat": {"id": chat_id, "type": "private"},
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": "T",
                        "username": username,
                    },
                },
            }
        )
        self._new.set()

    def texts_to(self, chat_id: str) -> list[str]:
        """Texts sent to ``chat_id``, in order."""
        return [m["text"] for m in self.sent if str(m["chat_id"]) == str(chat_id)]

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        payload = await request.json()
        method = request.match_info["method"]
        if method == "sendMessage":
            self.attempts.append(anyio.current_time())
            if self.too_many_next:
                after = self.too_many_next.pop(0)
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {after}",
                        "parameters": {"retry_after": after},
                    },
                    status=429,
                )
            if str(payload.get("chat_id")) not in self.chats:
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
                    status=400,
                )
            if not payload.get("text"):
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: message text is empty",
                    },
                    status=400,
                )
            self.sent.append(payload)
            result = {
                "message_id": next(self._ids),
                "date": 1700000000,
                "chat": {"id": int(payload["chat_id"]), "type": "private"},
                "text": payload["text"],
            }
            return web.json_response({"ok": True, "result": result})
        if method == "getUpdates":
            offset = int(payload.get("offset", 0))
            wait = min(float(payload.get("timeout", 0)), self.max_poll_s)
            pending = [u for u in self.updates if u["update_id"] >= offset]
            if not pending and wait > 0:
                self._new = anyio.Event()
                with anyio.move_on_after(wait):
                    await self._new.wait()
                pending = [u for u in self.updates if u["update_id"] >= offset]
            return web.json_response({"ok": True, "result": pending})
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )


@contextlib.asynccontextmanager
async def serve(server: TelegramServer) -> AsyncIterator[TelegramServer]:
    """Run ``server``; ``server.base_url`` is its address until the block ends."""
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
