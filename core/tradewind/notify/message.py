"""What a notifier delivers: a rendered :class:`Message`, and the errors a delivery can end in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from tradewind.model import Severity


@attrs.frozen(kw_only=True)
class Message:
    """One notification, rendered from an event (or a digest of several, or a daily summary).

    ``id`` is unique and stable across restarts (it is the outbox key); receivers can use it
    to de-duplicate. ``fields`` carries the values the templates used (instrument, side, price,
    quantity, pnl...), as text, so channels with structured layouts (Discord embeds, webhook
    JSON) can show them as such.
    """

    id: str
    notifier: str
    kind: str
    severity: int
    title: str
    text: str
    ts_ns: int
    fields: Mapping[str, str] = attrs.field(factory=dict)
    #: Set when the message answers someone (a Telegram command's chat id); "" = the channel's
    #: configured destination.
    target: str = ""

    @property
    def severity_name(self) -> str:
        """``info``, ``warning``, ``critical``..."""
        try:
            return Severity(self.severity).name.lower()
        except ValueError:
            return str(self.severity)

    def to_json(self) -> str:
        """The message as JSON (its outbox form)."""
        return json.dumps(
            {
                "id": self.id,
                "notifier": self.notifier,
                "kind": self.kind,
                "severity": self.severity,
                "title": self.title,
                "text": self.text,
                "ts_ns": self.ts_ns,
                "fields": dict(self.fields),
                "target": self.target,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Message:
        """The message :meth:`to_json` wrote."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            id=data["id"],
            notifier=data["notifier"],
            kind=data["kind"],
            severity=int(data["severity"]),
            title=data["title"],
            text=data["text"],
            ts_ns=int(data["ts_ns"]),
            fields={str(k): str(v) for k, v in data.get("fields", {}).items()},
            target=data.get("target", ""),
        )


class DeliveryError(Exception):
    """A delivery failed. Raised by a notifier's ``deliver``."""


class RetryLater(DeliveryError):
    """A transient failure (connection refused, 5xx, 429): the host retries with backoff, or
    after ``retry_after`` seconds when the channel said how long to wait."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Undeliverable(DeliveryError):
    """A permanent failure (bad token, unknown chat, 4xx other than 429): not retried; the
    message is journaled as undelivered with this reason."""


def raise_for_status(
    status: int, *, channel: str, detail: str = "", retry_after: float | None = None
) -> None:
    """Map an HTTP answer to the delivery outcome: 2xx returns; 429, 408 and 5xx raise
    RetryLater (with ``retry_after`` when the channel gave one); any other status raises
    Undeliverable. ``detail`` is the channel's own error text (never a URL with a token)."""
    if 200 <= status < 300:
        return
    text = f"{channel} answered HTTP {status}" + (f": {detail[:300]}" if detail else "")
    if status == 429 or status == 408 or status >= 500:
        raise RetryLater(text, retry_after=retry_after)
    raise Undeliverable(text)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
