"""The webhook notifier: each message as a JSON POST to a URL, optionally HMAC-signed.

Body (UTF-8 JSON)::

    {"id": "...", "notifier": "...", "kind": "trade", "severity": "info", "title": "...",
     "text": "...", "ts_ns": 1700000000000000000, "fields": {"instrument": "...", ...}}

Headers: ``X-Tradewind-Delivery`` (the message id; the same on every retry, so a receiver can
drop duplicates) and, with ``secret`` set, ``X-Tradewind-Signature: sha256=<hex>``: the
HMAC-SHA256 of the raw body under the secret. Verify it with :func:`verify_signature`.

2xx is delivered; 429 (``Retry-After`` honoured), 408 and 5xx are retried; other statuses
fail for good.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, ClassVar

import aiohttp
import attrs
from tradewind import hookimpl
from tradewind.notify import (
    Message,
    NotifierOptions,
    OutboxNotifier,
    RateLimit,
    RetryLater,
    parse_retry_after,
    raise_for_status,
)
from tradewind.secrets import Secret

SIGNATURE_HEADER = "X-Tradewind-Signature"
DELIVERY_HEADER = "X-Tradewind-Delivery"


@attrs.frozen(kw_only=True)
class WebhookConfig(NotifierOptions):
    """Options of the webhook notifier (plus the routing options of every notifier)."""

    #: Where the JSON is POSTed (http or https).
    url: str = ""
    #: HMAC-SHA256 key for the signature header, as env:NAME; none: unsigned.
    secret: Secret | None = None
    #: Name of the signature header.
    signature_header: str = SIGNATURE_HEADER
    #: Seconds to wait for the receiver's answer.
    timeout_s: float = 10.0
    #: Requests per second (0: unlimited) and the burst allowed.
    rate_per_s: float = 10.0
    burst: int = 20


def sign(body: bytes, key: str) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``body`` under ``key``."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str, key: str) -> bool:
    """True when ``header`` is the signature of ``body`` under ``key`` (constant-time)."""
    return hmac.compare_digest(sign(body, key), header or "")


def body_of(message: Message) -> bytes:
    """The JSON body POSTed for ``message``."""
    return json.dumps(
        {
            "id": message.id,
            "notifier": message.notifier,
            "kind": message.kind,
            "severity": message.severity_name,
            "title": message.title,
            "text": message.text,
            "ts_ns": message.ts_ns,
            "fields": dict(message.fields),
        },
        sort_keys=True,
    ).encode()


class WebhookNotifier(OutboxNotifier):
    """POSTs messages as JSON to ``config.url``."""

    name: ClassVar[str] = "webhook"
    config_class: ClassVar[type] = WebhookConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"text", "outbox", "signed"})

    def __init__(self, config: WebhookConfig) -> None:
        super().__init__(config)
        self.config: WebhookConfig = config
        self._session: aiohttp.ClientSession | None = None
        self._key: str | None = None

    def rate_limit(self) -> RateLimit:
        """``rate_per_s`` with ``burst``."""
        return RateLimit(self.config.rate_per_s, self.config.burst)

    async def start(self) -> None:
        """Check the URL, read the secret, open the HTTP session."""
        if not self.config.url.startswith(("http://", "https://")):
            raise ValueError(
                f"notifier '{self.instance}' (webhook) needs url = \"http(s)://...\" "
                f"@ $.notifiers.{self.instance}.url, got {self.config.url!r}"
            )
        self._key = self.config.secret.reveal() if self.config.secret else None
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_s)
            )

    async def deliver(self, message: Message) -> None:
        """POST one message."""
        if self._session is None:
            await self.start()
        assert self._session is not None
        body = body_of(message)
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: message.id}
        if self._key is not None:
            headers[self.config.signature_header] = sign(body, self._key)
        try:
            async with self._session.post(self.config.url, data=body, headers=headers) as resp:
                text = await resp.text()
                raise_for_status(
                    resp.status,
                    channel="webhook receiver",
                    detail=text,
                    retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"webhook receiver unreachable: {type(exc).__name__}: {exc}") from exc

    def redact(self, text: str) -> str:
        """``text`` without the signing key."""
        return text.replace(self._key, "***") if self._key else text

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@hookimpl
def tradewind_register_notifiers(registry: Any) -> None:
    """Register the webhook notifier."""
    registry.add(WebhookNotifier)
