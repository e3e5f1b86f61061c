"""The base of notifiers that deliver through the outbox.

A plugin subclasses :class:`OutboxNotifier`, gives its config class (extending
:class:`~tradewind.notify.routing.NotifierOptions`) and implements :meth:`deliver`, raising
:class:`~tradewind.notify.message.RetryLater` for transient failures (with ``retry_after``
when the channel says how long to wait) and :class:`~tradewind.notify.message.Undeliverable`
for permanent ones. Routing, digests, daily summaries, the outbox, retries, backoff and rate
limits are the host's (:mod:`tradewind.notify.host`), the same for every channel.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tradewind.model import Event
from tradewind.notify.message import Message, RetryLater
from tradewind.notify.ratelimit import RateLimit
from tradewind.notify.routing import NotifierOptions, Router


class OutboxNotifier:
    """A notifier whose messages go through the outbox. Subclasses implement :meth:`deliver`."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = NotifierOptions
    capabilities: ClassVar[frozenset[str]] = frozenset({"text", "outbox"})

    def __init__(self, config: Any) -> None:
        self.config = config
        #: Set by the host: the ``[notifiers.<instance>]`` key.
        self.instance: str = self.name
        #: Set by the host: the engine's control surface (None outside a run).
        self.control: Any = None

    def rate_limit(self) -> RateLimit:
        """This channel's rate limit; override with the service's documented limit."""
        return RateLimit(0)

    async def start(self) -> None:
        """Open connections."""

    async def deliver(self, message: Message) -> None:
        """Send one message; raise RetryLater or Undeliverable on failure."""
        raise NotImplementedError

    async def run(self) -> None:
        """Background work for the whole run (Telegram's command polling); none by default."""

    async def notify(self, event: Event) -> None:
        """Render ``event`` and deliver it at once, retrying transient failures a few times.

        This is the path outside an engine run (a script, the conformance suite). In a run
        the host routes events through the outbox instead, and calls :meth:`deliver`.
        """
        import anyio

        router = Router(self.instance, self.config)
        for msg in router.route(event, event.ts_ns):
            for attempt in range(3):
                try:
                    await self.deliver(msg)
                    break
                except RetryLater as exc:
                    if attempt == 2:
                        raise
                    await anyio.sleep(min(exc.retry_after or 0.5, 5.0))

    async def close(self) -> None:
        """Release connections; idempotent."""
