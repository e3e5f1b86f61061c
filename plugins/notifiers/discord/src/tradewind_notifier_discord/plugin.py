"""The Discord notifier: each message as an embed, POSTed to a channel's webhook.

The webhook URL (``https://discord.com/api/webhooks/<id>/<token>``) holds its token, so it is
read from an environment variable (``webhook_url = "env:NAME"``). Severity colours the embed;
the message's fields (instrument, side, price, quantity, P&L...) become embed fields.

Rate limits: Discord's per-webhook bucket (5 requests per 2 seconds by default), the
``X-RateLimit-Remaining``/``X-RateLimit-Reset-After`` headers when the bucket runs dry, and a
429's ``retry_after`` (JSON body, seconds) are all honoured.
"""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp
import attrs
from tradewind import hookimpl
from tradewind.model import Severity
from tradewind.notify import Message, NotifierOptions, OutboxNotifier, RateLimit, RetryLater
from tradewind.notify.message import parse_retry_after, raise_for_status
from tradewind.notify.templates import iso_utc
from tradewind.secrets import Secret

#: Embed colours by severity.
COLOURS = {
    int(Severity.DEBUG): 0x95A5A6,
    int(Severity.INFO): 0x3498DB,
    int(Severity.WARNING): 0xF1C40F,
    int(Severity.CRITICAL): 0xE74C3C,
}
#: Discord's limits on embeds.
TITLE_MAX, DESCRIPTION_MAX, FIELDS_MAX, FIELD_VALUE_MAX = 256, 4096, 25, 1024


@attrs.frozen(kw_only=True)
class DiscordConfig(NotifierOptions):
    """Options of the Discord notifier (plus the routing options of every notifier)."""

    #: The channel webhook's URL, as env:NAME (it contains the webhook's token).
    webhook_url: Secret | None = None
    #: Name shown as the sender.
    username: str = "tradewind"
    #: Seconds to wait for Discord's answer.
    timeout_s: float = 10.0
    #: Requests per second and burst: Discord's webhook bucket is 5 per 2 s.
    rate_per_s: float = 2.5
    burst: int = 5


def embed_payload(message: Message, username: str) -> dict[str, Any]:
    """The JSON POSTed for ``message``: one embed."""
    fields = [
        {"name": k, "value": str(v)[:FIELD_VALUE_MAX] or "-", "inline": True}
        for k, v in message.fields.items()
        if k not in ("ids", "lines")
    ][:FIELDS_MAX]
    return {
        "username": username,
        "embeds": [
            {
                "title": message.title[:TITLE_MAX],
                "description": message.text[:DESCRIPTION_MAX],
                "color": COLOURS.get(message.severity, COLOURS[int(Severity.INFO)]),
                "fields": fields,
                "timestamp": iso_utc(message.ts_ns).replace(" UTC", "Z").replace(" ", "T"),
                "footer": {"text": f"tradewind · {message.kind} · {message.id}"},
            }
        ],
    }


class DiscordNotifier(OutboxNotifier):
    """Posts messages as embeds to a Discord channel webhook."""

    name: ClassVar[str] = "discord"
    config_class: ClassVar[type] = DiscordConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"text", "outbox", "embeds"})

    def __init__(self, config: DiscordConfig) -> None:
        super().__init__(config)
        self.config: DiscordConfig = config
        self._session: aiohttp.ClientSession | None = None
        self._url: str | None = None
        self._limit = RateLimit(config.rate_per_s, config.burst)

    def rate_limit(self) -> RateLimit:
        """Discord's webhook bucket (shared with the headers' and 429s' pauses)."""
        return self._limit

    async def start(self) -> None:
        """Read the webhook URL from its variable and open the HTTP session."""
        if self.config.webhook_url is None:
            raise ValueError(
                f"notifier '{self.instance}' (discord) needs webhook_url = \"env:NAME\" "
                f"@ $.notifiers.{self.instance}.webhook_url"
            )
        self._url = self.config.webhook_url.reveal()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_s)
            )

    async def deliver(self, message: Message) -> None:
        """POST one embed; honour 429 ``retry_after`` and the rate-limit headers."""
        if self._session is None or self._url is None:
            await self.start()
        assert self._session is not None and self._url is not None
        payload = embed_payload(message, self.config.username)
        try:
            async with self._session.post(self._url, json=payload) as resp:
                remaining = resp.headers.get("X-RateLimit-Remaining")
                reset_after = parse_retry_after(resp.headers.get("X-RateLimit-Reset-After"))
                if remaining == "0" and reset_after:
                    self._limit.block_for(reset_after)
                retry_after = None
                detail = ""
                if resp.status >= 400:
                    try:
                        data = await resp.json(content_type=None)
                    except ValueError:
                        data = {"message": (await resp.text())[:200]}
                    if isinstance(data, dict):
                        detail = str(data.get("message", ""))
                        if "retry_after" in data:
                            retry_after = float(data["retry_after"])
                    if retry_after is None:
                        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                raise_for_status(
                    resp.status, channel="Discord", detail=detail, retry_after=retry_after
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"Discord unreachable: {type(exc).__name__}") from exc

    def redact(self, text: str) -> str:
        """``text`` without the webhook URL (it holds the token)."""
        return text.replace(self._url, "<webhook url>") if self._url else text

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@hookimpl
def tradewind_register_notifiers(registry: Any) -> None:
    """Register the Discord notifier."""
    registry.add(DiscordNotifier)
