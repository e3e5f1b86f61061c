"""Keeping one cryptofeed connection alive: reconnect with capped backoff, heartbeats, reports.

cryptofeed's own ``ConnectionHandler`` reconnects too, but it only logs a drop, and its delay
doubles without a cap (after ten failures the next try is 17 minutes away). This runner keeps
cryptofeed's parts — the connection object, the exchange's ``subscribe`` and
``message_handler`` — and owns the life cycle around them:

- a drop (the exchange closed, a read failed, or the connection went stale) is reported once
  through ``on_lost(reason)``; when the connection is back and subscribed, ``on_restored``;
- reconnect delays start at ``backoff_initial_s``, double per failed attempt up to
  ``backoff_max_s``, with ±20 % jitter so many clients do not return in step; a connection
  that was up starts again from the initial delay;
- heartbeats: websocket pings every ``ping_interval_s`` that must be answered within
  ``ping_timeout_s`` (set on the connection by the venue), and a watchdog that closes a
  connection which delivered nothing for ``stale_after_s``.

It exposes ``conn`` and ``running`` like cryptofeed's handler, so ``Feed.stop()`` and
``Feed.shutdown()`` work on it unchanged.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import attrs

LOG = logging.getLogger(__name__)


class RetriesExhaustedError(ConnectionError):
    """A connection could not be re-established within ``max_retries`` attempts."""


@attrs.frozen(kw_only=True)
class ReconnectPolicy:
    """How a connection is kept up (see the module docstring)."""

    max_retries: int = -1
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    stale_after_s: float = 60.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (1-based)."""
        base = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** (attempt - 1))
        return base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ConnectionRunner:
    """Runs one cryptofeed connection until stopped (see the module docstring)."""

    def __init__(
        self,
        conn: Any,
        subscribe: Callable[[Any], Awaitable[None]],
        handler: Callable[[Any, Any, float], Awaitable[None]],
        authenticate: Callable[[Any], Awaitable[None]],
        *,
        policy: ReconnectPolicy,
        on_lost: Callable[[str, str], None],
        on_restored: Callable[[str, int, int], None],
        rng: random.Random | None = None,
    ) -> None:
        self.conn = conn
        self.subscribe = subscribe
        self.handler = handler
        self.authenticate = authenticate
        self.policy = policy
        self.on_lost = on_lost
        self.on_restored = on_restored
        #: Cleared by ``Feed.stop()``; the runner ends at the next message or retry.
        self.running = True
        #: Completed connections (for tests and diagnostics).
        self.connects = 0
        self._rng = rng or random.Random()
        self._last_rx = 0.0
        self._stale = False

    @property
    def name(self) -> str:
        """cryptofeed's id of the connection, e.g. ``BINANCE_FUTURES.ws.3``."""
        return str(getattr(self.conn, "id", "connection"))

    async def run(self) -> None:
        """Connect, subscribe, pump messages; on a drop report and reconnect, until stopped."""
        attempt = 0
        down_since: float | None = None
        while self.running:
            try:
                async with self.conn.connect() as connection:
                    await self.authenticate(connection)
                    await self.subscribe(connection)
                    self.connects += 1
                    if down_since is not None:
                        down_ns = int((time.monotonic() - down_since) * 1e9)
                        self.on_restored(self.name, down_ns, attempt)
                    attempt = 0
                    down_since = None
                    reason = await self._pump(connection)
            except Exception as exc:  # every failure of a live feed is a reconnect, not a crash
                if not self.running:
                    break
                reason = _describe(exc)
                LOG.warning("%s: %s", self.name, reason, exc_info=True)
            if not self.running:
                break
            if down_since is None:
                down_since = time.monotonic()
                self.on_lost(self.name, reason)
            attempt += 1
            if 0 <= self.policy.max_retries < attempt:
                raise RetriesExhaustedError(
                    f"{self.name}: no connection after {self.policy.max_retries} retries "
                    f"(last: {reason})"
                )
            delay = self.policy.delay(attempt, self._rng)
            LOG.info("%s: reconnect attempt %d in %.2f s", self.name, attempt, delay)
            await anyio.sleep(delay)

    async def _pump(self, connection: Any) -> str:
        """Feed every message to the exchange's handler; return why the stream ended."""
        ws = getattr(connection, "conn", None)
        self._stale = False
        self._last_rx = time.monotonic()
        async with anyio.create_task_group() as tg:
            if self.policy.stale_after_s > 0:
                tg.start_soon(self._watchdog, connection)
            async for message in connection.read():
                if not self.running:
                    break
                self._last_rx = time.monotonic()
                await self.handler(message, connection, connection.last_message)
            tg.cancel_scope.cancel()
        if not self.running:
            return "stopped"
        if self._stale:
            return f"stale: no message for {self.policy.stale_after_s:g} s"
        code = getattr(ws, "close_code", None)
        why = getattr(ws, "close_reason", None)
        if code is None:
            return "closed by the exchange"
        return f"closed by the exchange (code {code}{', ' + why if why else ''})"

    async def _watchdog(self, connection: Any) -> None:
        limit = self.policy.stale_after_s
        period = min(1.0, limit / 4.0)
        while True:
            await anyio.sleep(period)
            if time.monotonic() - self._last_rx > limit:
                self._stale = True
                LOG.warning("%s: no message for %.3g s, reconnecting", self.name, limit)
                await connection.close()
                return
