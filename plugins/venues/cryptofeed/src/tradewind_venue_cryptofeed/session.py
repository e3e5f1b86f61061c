"""One run of a feed: cryptofeed's callbacks in, tick batches and market data out.

A :class:`FeedSession` is what the venue hands cryptofeed as callbacks. It routes each
normalised object to the instruments that asked for its symbol, runs trades through the
:class:`~tradewind_venue_cryptofeed.tape.TradeTape`, and publishes book, L2, funding and
liquidation values to a :class:`MarketFanout`. It does no I/O, so the same object serves a live
feed, cryptofeed's recorded-session playback and the benchmark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from tradewind.errors import VenueError
from tradewind.model import DataQuality, Event, TickBatch

from tradewind_venue_cryptofeed.constants import CHANNELS
from tradewind_venue_cryptofeed.schemas import (
    book_to_l2,
    funding_to_domain,
    liquidation_to_domain,
    side_code,
    ticker_to_book_top,
    trade_id_to_int,
    ts_to_ns,
)
from tradewind_venue_cryptofeed.tape import TradeTape

LOG = logging.getLogger(__name__)

#: Market-data channels other than trades, and what each delivers.
MARKET_CHANNELS: tuple[str, ...] = ("book", "l2", "funding", "liquidations")


class MarketFanout:
    """Latest values per instrument, and bounded streams for subscribers.

    A subscriber that does not keep up loses items, never the feed: the item is not queued for
    it, and the loss is reported as a DataQuality (``{"<channel>_dropped": n}``) when it
    starts (n = 1) and when it ends (n = the episode's total). The latest values
    (``latest[channel][instrument]``) are always current.
    """

    def __init__(self, emit: Callable[[Event], None], now_ns: Callable[[], int]) -> None:
        self._emit = emit
        self._now_ns = now_ns
        self.latest: dict[str, dict[str, Any]] = {c: {} for c in MARKET_CHANNELS}
        self._subs: dict[str, list[list[Any]]] = {c: [] for c in MARKET_CHANNELS}
        #: Items delivered per channel (to the latest values), for tests and diagnostics.
        self.counts: dict[str, int] = dict.fromkeys(MARKET_CHANNELS, 0)

    def subscribe(self, channel: str, max_buffer: int) -> MemoryObjectReceiveStream[Any]:
        """A stream of every value of ``channel`` from now on."""
        send: MemoryObjectSendStream[Any]
        send, receive = anyio.create_memory_object_stream[Any](max_buffer)
        # [send stream, dropped in the current episode]
        self._subs[channel].append([send, 0])
        return receive

    def publish(self, channel: str, instrument: str, value: Any) -> None:
        """Record ``value`` as the latest of ``instrument`` and offer it to every subscriber."""
        if channel != "liquidations":
            self.latest[channel][instrument] = value
        self.counts[channel] += 1
        subs = self._subs[channel]
        if not subs:
            return
        for entry in list(subs):
            send = entry[0]
            try:
                send.send_nowait(value)
            except anyio.WouldBlock:
                entry[1] += 1
                if entry[1] == 1:
                    self._report(channel, instrument, 1)
                continue
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                subs.remove(entry)
                continue
            if entry[1]:
                self._report(channel, instrument, entry[1])
                entry[1] = 0

    def _report(self, channel: str, instrument: str, n: int) -> None:
        self.report(instrument, {f"{channel}_dropped": n})

    def report(self, instrument: str, rejected: dict[str, int]) -> None:
        """Emit a DataQuality for ``instrument``."""
        self._emit(DataQuality(ts_ns=self._now_ns(), instrument=instrument, rejected=rejected))

    def close(self) -> None:
        """End every subscriber's stream (reporting losses not yet reported)."""
        for channel, subs in self._subs.items():
            for send, dropped in subs:
                if dropped:
                    self._report(channel, "*", dropped)
                send.close()
            subs.clear()


class FeedSession:
    """Routes cryptofeed callbacks to the tape and the fan-out; hands out batches.

    :param routes: cryptofeed-normalised symbol -> instrument keys that want it.
    :param channels: the configured channel names ("trades", "book", ...).
    """

    def __init__(
        self,
        *,
        routes: Mapping[str, Sequence[str]],
        channels: Sequence[str],
        tape: TradeTape,
        fanout: MarketFanout,
        l2_depth: int,
    ) -> None:
        self.routes = {sym: tuple(keys) for sym, keys in routes.items()}
        self.channels = tuple(channels)
        self.tape = tape
        self.fanout = fanout
        self.l2_depth = l2_depth
        #: Trades cryptofeed delivered for routed symbols, and for symbols nobody asked for.
        self.trades_in = 0
        self.unrouted = 0
        #: Objects that could not be converted (each reported as a DataQuality).
        self.rejected = 0
        self._waiter: anyio.Event | None = None
        self._closed = False
        self._error: BaseException | None = None
        self._drained: list[TickBatch] | None = None

    def callbacks(self) -> dict[str, Callable[[Any, float], Awaitable[None]]]:
        """cryptofeed callbacks for the configured channels, keyed by cryptofeed channel."""
        table: dict[str, Callable[[Any, float], Awaitable[None]]] = {
            "trades": self.on_trade,
            "book": self.on_ticker,
            "l2": self.on_book,
            "funding": self.on_funding,
            "liquidations": self.on_liquidation,
        }
        return {CHANNELS[c]: table[c] for c in self.channels}

    # -- cryptofeed callbacks ---------------------------------------------------------------
    async def on_trade(self, trade: Any, receipt_ts: float) -> None:
        """A normalised trade: route it into the tape."""
        keys = self.routes.get(trade.symbol)
        if keys is None:
            self.unrouted += 1
            return
        self.trades_in += 1
        try:
            stamp = trade.timestamp
            if stamp is None:  # an exchange without trade times: the receipt time
                stamp = float(receipt_ts)
            ts = round(stamp * 1_000_000) * 1_000  # = schemas.ts_to_ns, inlined (hot path)
            price = float(trade.price)
            size = float(trade.amount)
            side = side_code(trade.side)
            tid = trade_id_to_int(trade.id)
        except Exception as exc:
            self._reject(keys, "trades", exc)
            return
        mono = time.monotonic()
        wake = False
        add = self.tape.add
        for key in keys:
            wake = add(key, ts, price, size, side, tid, mono, receipt_ts) or wake
        if wake:
            self._wake()

    async def on_ticker(self, ticker: Any, receipt_ts: float) -> None:
        """Best bid / offer -> BookTop."""
        for key in self.routes.get(ticker.symbol, ()):
            try:
                value = ticker_to_book_top(ticker, key, receipt_ts)
            except Exception as exc:
                self._reject((key,), "book", exc)
                continue
            self.fanout.publish("book", key, value)

    async def on_book(self, book: Any, receipt_ts: float) -> None:
        """Depth book update -> L2Book of the top ``l2_depth`` levels."""
        for key in self.routes.get(book.symbol, ()):
            try:
                value = book_to_l2(book, key, self.l2_depth, receipt_ts)
            except Exception as exc:
                self._reject((key,), "l2", exc)
                continue
            self.fanout.publish("l2", key, value)

    async def on_funding(self, funding: Any, receipt_ts: float) -> None:
        """Funding / mark price -> FundingRate."""
        for key in self.routes.get(funding.symbol, ()):
            try:
                value = funding_to_domain(funding, key, receipt_ts)
            except Exception as exc:
                self._reject((key,), "funding", exc)
                continue
            self.fanout.publish("funding", key, value)

    async def on_liquidation(self, liq: Any, receipt_ts: float) -> None:
        """Forced order -> Liquidation."""
        for key in self.routes.get(liq.symbol, ()):
            try:
                value = liquidation_to_domain(liq, key, receipt_ts)
            except Exception as exc:
                self._reject((key,), "liquidations", exc)
                continue
            self.fanout.publish("liquidations", key, value)

    def _reject(self, keys: Sequence[str], channel: str, exc: Exception) -> None:
        # An object cryptofeed parsed but the venue cannot convert (a None price, an unknown
        # side): dropped, reported, and logged with its cause — never a reconnect loop.
        LOG.warning("cannot convert a %s update: %s", channel, exc, exc_info=True)
        self.rejected += 1
        for key in keys:
            self.fanout.report(key, {f"{channel}_unconvertible": 1})

    # -- consumer side ----------------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.set()

    def fail(self, exc: BaseException) -> None:
        """The feed died: the consumer's next wait raises."""
        if self._error is None:
            self._error = exc
        self._wake()

    def close(self) -> None:
        """No more input: the consumer gets what is pending, then the end."""
        self._closed = True
        self._wake()

    async def next_batch(self) -> TickBatch | None:
        """The next due batch, waiting as long as needed; None once closed and drained."""
        while True:
            if self._error is not None:
                raise VenueError(f"the cryptofeed feed stopped: {self._error}") from self._error
            if self._closed:
                if self._drained is None:
                    self._drained = self.tape.drain()
                return self._drained.pop(0) if self._drained else None
            now = time.monotonic()
            batch = self.tape.take_ready(now)
            if batch is not None:
                return batch
            deadline = self.tape.next_deadline()
            self._waiter = waiter = anyio.Event()
            try:
                if deadline is None:
                    await waiter.wait()
                else:
                    with anyio.move_on_after(max(0.0, deadline - now)):
                        await waiter.wait()
            finally:
                self._waiter = None


__all__ = ["MARKET_CHANNELS", "FeedSession", "MarketFanout", "ts_to_ns"]
