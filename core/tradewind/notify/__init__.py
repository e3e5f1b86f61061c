"""Notifications: routing, templates, the outbox and delivery, shared by every notifier.

Plugin authors subclass :class:`OutboxNotifier` and implement ``deliver``; see
docs/notifiers.md.
"""

from tradewind.notify.base import OutboxNotifier
from tradewind.notify.events import WatchlistExpiring
from tradewind.notify.host import NotifierHost
from tradewind.notify.message import (
    DeliveryError,
    Message,
    RetryLater,
    Undeliverable,
    parse_retry_after,
    raise_for_status,
)
from tradewind.notify.outbox import Outbox
from tradewind.notify.ratelimit import RateLimit
from tradewind.notify.routing import NotifierOptions, Router
from tradewind.notify.templates import DEFAULT_TEMPLATES, Templates

__all__ = [
    "DEFAULT_TEMPLATES",
    "DeliveryError",
    "Message",
    "NotifierHost",
    "NotifierOptions",
    "Outbox",
    "OutboxNotifier",
    "RateLimit",
    "RetryLater",
    "Router",
    "Templates",
    "Undeliverable",
    "WatchlistExpiring",
    "parse_retry_after",
    "raise_for_status",
]
