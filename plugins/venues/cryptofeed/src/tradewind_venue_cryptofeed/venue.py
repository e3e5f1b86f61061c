"""The cryptofeed data venue: any exchange cryptofeed supports, as tick batches and feed events.

How it runs. cryptofeed is asyncio code; its ``FeedHandler`` wants to own an event loop
(``run_forever``, signal handlers, a uvloop policy). The venue does not use it: it builds the
exchange's ``Feed``, asks it for its connections (``Feed.connect()``) and runs each one as an
asyncio task on the host's running loop, through
:class:`~tradewind_venue_cryptofeed.connection.ConnectionRunner`. Callbacks therefore run on
the host loop and hand trades to the consumer without a thread hop or a lock. The two
blocking things cryptofeed does — the symbol-table download and building the feed object,
which may trigger it — run in a worker thread (``anyio.to_thread``). See
docs/venues/cryptofeed.md for why this was preferred over a feed thread.

One feed per symbol. cryptofeed fixes a feed's symbols when it is built (its subscribe
messages or stream URL are made from them on connect), so the instrument set changes while
streaming (capability ``"subscribe"``, the watchlist driving the instrument set) by starting
a symbol's own feed (``subscribe``) and stopping it (``unsubscribe``); the other symbols'
connections are not touched. All feeds share the session: its callbacks, tape and fan-out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, overload

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream
from tradewind.clock import Clock, WallClock
from tradewind.errors import ConfigError, VenueError
from tradewind.model import BookTop, ConnectionLost, Event, Instrument, TickBatch
from tradewind.protocols import EventSink

from tradewind_venue_cryptofeed.config import CryptofeedConfig
from tradewind_venue_cryptofeed.connection import ConnectionRunner, ReconnectPolicy
from tradewind_venue_cryptofeed.constants import (
    CHANNEL_CAPABILITY,
    CONTIGUOUS_ID_EXCHANGES,
    PLUGIN_NAME,
)
from tradewind_venue_cryptofeed.events import ConnectionRestored
from tradewind_venue_cryptofeed.market import FundingRate, L2Book
from tradewind_venue_cryptofeed.providers import (
    SymbolTable,
    load_symbol_table,
    redirected_feed_class,
)
from tradewind_venue_cryptofeed.session import MARKET_CHANNELS, FeedSession, MarketFanout
from tradewind_venue_cryptofeed.tape import TradeTape

LOG = logging.getLogger(__name__)


@attrs.define
class _FeedRun:
    """One symbol's running cryptofeed feed: its connections' runners and tasks."""

    feed: Any
    runners: list[ConnectionRunner] = attrs.Factory(list)
    tasks: list[asyncio.Task[None]] = attrs.Factory(list)


def gap_mode_for(config: CryptofeedConfig) -> str:
    """The tape's gap mode: ``auto`` picks trade ids where the exchange's ids are contiguous."""
    if config.gap_detection == "auto":
        return "trade_id" if config.exchange in CONTIGUOUS_ID_EXCHANGES else "time"
    return config.gap_detection


class CryptofeedVenue:
    """Market data from a cryptofeed exchange (data only; it never executes).

    ``CryptofeedVenue(config=..., instance=...)``. Two keyword-only extras, for tests and for
    users with their own cryptofeed feed classes: ``feed_class`` replaces the exchange's class
    (e.g. a subclass whose ``websocket_endpoints`` point elsewhere), ``clock`` stamps events.
    """

    name: ClassVar[str] = "cryptofeed"
    config_class: ClassVar[type] = CryptofeedConfig
    # Everything the venue can do; an instance narrows it to its configured channels.
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"data", "trades", "book", "funding", "liquidations", "subscribe"}
    )

    def __init__(
        self,
        config: CryptofeedConfig,
        instance: str = PLUGIN_NAME,
        *,
        feed_class: type | None = None,
        clock: Clock | None = None,
    ) -> None:
        from cryptofeed.exchanges import EXCHANGE_MAP

        self.config = config
        self.instance = instance
        self.capabilities = frozenset(  # type: ignore[misc]  # per-instance, from config
            {"data", "trades", "subscribe"}
            | {CHANNEL_CAPABILITY[c] for c in config.channels if c != "trades"}
        )
        self.feed_class: type = feed_class or EXCHANGE_MAP[config.exchange]
        if config.ws_host or config.rest_host:
            ca = None
            if config.ca_file is not None:
                ca = Path(config.ca_file)
                if not ca.is_absolute():
                    ca = Path(config.base_dir) / ca
                if not ca.is_file():
                    raise ConfigError(
                        f"venue '{instance}' ([venues.{instance}] ca_file): no file {ca}"
                    )
            self.feed_class = redirected_feed_class(
                self.feed_class, ws_host=config.ws_host, rest_host=config.rest_host, ca_file=ca
            )
        self.clock: Clock = clock or WallClock()
        #: Every event the venue emitted (the last 10,000), also when no sink is set.
        self.events: deque[Event] = deque(maxlen=10_000)
        self.fanout = MarketFanout(self._emit, self.clock.now_ns)
        self._sink: EventSink | None = None
        self._table: SymbolTable | None = None
        self._added: list[Instrument] = []
        self._session: FeedSession | None = None
        #: The running feeds, by normalised symbol; the session's routes (symbol -> keys).
        self._runs: dict[str, _FeedRun] = {}
        self._symbol_routes: dict[str, list[str]] = {}
        #: Instrument keys not streamed now (``unsubscribe``); symbols whose feed is starting
        #: or stopping, and the tasks doing it.
        self._unsubscribed: set[str] = set()
        self._changing: dict[str, asyncio.Task[None]] = {}

    # -- lifecycle --------------------------------------------------------------------------
    async def connect(self) -> None:
        """Load the exchange's symbol table (blocking REST, in a thread) and check the symbols."""
        if self._table is None:
            try:
                self._table = await anyio.to_thread.run_sync(load_symbol_table, self.feed_class)
            except Exception as exc:
                raise VenueError(
                    f"venue '{self.instance}' (cryptofeed {self.config.exchange}): could not "
                    f"load the symbol table: {exc}"
                ) from exc
        where = f"venue '{self.instance}' ([venues.{self.instance}] symbols): "
        for symbol in self.config.symbols:
            self._table.resolve(symbol, where=where)

    async def close(self) -> None:
        """Stop the feed and every connection, end subscriber streams; idempotent."""
        await self._stop()
        self.fanout.close()

    async def instruments(self) -> Sequence[Instrument]:
        """The configured symbols, then the instruments the engine added, as Instruments."""
        if self._table is None:
            await self.connect()
        assert self._table is not None
        out = [self._table.instrument(self.instance, s) for s in self.config.symbols]
        seen = {i.key for i in out}
        out.extend(i for i in self._added if i.key not in seen)
        return out

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Instruments the engine routes to this venue for data."""
        self._added.extend(instruments)

    def set_sink(self, sink: EventSink) -> None:
        """Where ConnectionLost, ConnectionRestored, FeedGap and DataQuality events go."""
        self._sink = sink

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        if self._sink is not None:
            try:
                self._sink.on_event(event)
            except Exception:  # a broken sink must not take the feed down with it
                LOG.exception("venue '%s': the sink refused %r", self.instance, event)

    # -- data -------------------------------------------------------------------------------
    async def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """Yield trade batches of ``instruments`` as they arrive, until :meth:`close`.

        Each batch holds one instrument's trades, in time order, at most ``batch_max`` of them,
        and is cut ``batch_ms`` after its first trade arrived at the latest. The feed (and the
        book, funding and liquidation channels configured) runs while this is iterated.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise VenueError(
                f"venue '{self.instance}' (cryptofeed) needs anyio's asyncio backend: "
                "cryptofeed is asyncio code"
            ) from None
        if self._session is not None:
            raise VenueError(
                f"venue '{self.instance}' (cryptofeed) is already streaming; "
                "one stream per venue instance"
            )
        if not instruments:
            raise VenueError(f"venue '{self.instance}' (cryptofeed): no instruments to stream")
        session = await self._start(instruments)
        try:
            while True:
                batch = await session.next_batch()
                if batch is None:
                    return
                if batch.instrument in self._unsubscribed:
                    continue  # in flight when it was unsubscribed
                yield batch
        finally:
            if self._session is session:
                await self._stop()

    def open_session(self, routes: Mapping[str, Sequence[str]]) -> FeedSession:
        """A session (callbacks, tape, fan-out) for ``routes``: normalised symbol -> keys.

        :meth:`stream_trades` uses it; so do tests and benchmarks that feed cryptofeed objects
        from elsewhere (its recorded-session playback) through the same normalisation.
        """
        cfg = self.config
        tape = TradeTape(
            venue=self.instance,
            batch_max=cfg.batch_max,
            batch_ms=cfg.batch_ms,
            gap_mode=gap_mode_for(cfg),
            time_gap_ns=int(cfg.time_gap_s * 1e9),
            id_window=cfg.id_window,
            emit=self._emit,
            now_ns=self.clock.now_ns,
        )
        return FeedSession(
            routes=routes,
            channels=cfg.channels,
            tape=tape,
            fanout=self.fanout,
            l2_depth=cfg.l2_depth,
        )

    def _routes(self, instruments: Sequence[Instrument]) -> dict[str, list[str]]:
        assert self._table is not None
        routes: dict[str, list[str]] = {}
        for inst in instruments:
            where = f"venue '{self.instance}' (cryptofeed), instrument {inst.key}: "
            norm = self._table.resolve(inst.symbol, where=where)
            routes.setdefault(norm, []).append(inst.key)
        return routes

    async def _start(self, instruments: Sequence[Instrument]) -> FeedSession:
        if self._table is None:
            await self.connect()
        routes = self._routes(instruments)
        session = self.open_session(routes)
        self._session = session
        self._symbol_routes = routes
        try:
            for norm in sorted(routes):
                if self._wanted(norm):
                    await self._start_feed(norm)
        except BaseException:
            await self._stop()
            raise
        return session

    def _wanted(self, norm: str) -> bool:
        return any(key not in self._unsubscribed for key in self._symbol_routes.get(norm, ()))

    async def _start_feed(self, norm: str) -> None:
        """Build ``norm``'s feed (in a thread) and run its connections on this loop."""
        session = self._session
        assert session is not None
        cfg = self.config
        kwargs: dict[str, Any] = {
            "symbols": [norm],
            "channels": cfg.cf_channels,
            "callbacks": session.callbacks(),
            "config": {},  # never read CRYPTOFEED_CONFIG or a config.yaml behind the host's back
            "sandbox": cfg.sandbox,
            **dict(cfg.feed_options),
        }
        try:
            feed = await anyio.to_thread.run_sync(lambda: self.feed_class(**kwargs))
            connections = feed.connect()
        except Exception as exc:
            raise VenueError(
                f"venue '{self.instance}' (cryptofeed {cfg.exchange}): could not build the "
                f"feed of {norm}: {exc}"
            ) from exc
        if self._session is not session:  # stopped meanwhile
            return
        run = _FeedRun(feed)
        self._runs[norm] = run
        policy = ReconnectPolicy(
            max_retries=cfg.max_retries,
            backoff_initial_s=cfg.backoff_initial_s,
            backoff_max_s=cfg.backoff_max_s,
            stale_after_s=cfg.stale_after_s,
        )
        loop = asyncio.get_running_loop()
        for conn, subscribe, handler, authenticate in connections:
            ws_kwargs = getattr(conn, "ws_kwargs", None)
            if isinstance(ws_kwargs, dict):
                ws_kwargs["ping_interval"] = cfg.ping_interval_s
                ws_kwargs["ping_timeout"] = cfg.ping_timeout_s
            runner = ConnectionRunner(
                conn,
                subscribe,
                handler,
                authenticate,
                policy=policy,
                on_lost=self._on_lost,
                on_restored=self._on_restored,
            )
            run.runners.append(runner)
            feed.connection_handlers.append(runner)
            task = loop.create_task(runner.run(), name=f"{self.instance}:{runner.name}")
            task.add_done_callback(self._runner_done)
            run.tasks.append(task)

    async def _stop_feed(self, run: _FeedRun) -> None:
        run.feed.stop()
        for task in run.tasks:
            task.cancel()
        with anyio.CancelScope(shield=True):
            if run.tasks:
                await asyncio.gather(*run.tasks, return_exceptions=True)
            try:
                await run.feed.shutdown()
            except Exception:
                LOG.warning("venue '%s': feed shutdown failed", self.instance, exc_info=True)

    # -- the instrument set while streaming (capability "subscribe") -------------------------
    def subscribe_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Stream these instruments' trades again: their symbol's feed starts."""
        self._unsubscribed.difference_update(i.key for i in instruments)
        self._change({self._norm(i) for i in instruments})

    def unsubscribe(self, instruments: Sequence[Instrument]) -> None:
        """Stop streaming these instruments: their symbol's feed stops (once none of its
        instruments is wanted) and no trade of theirs is delivered from now on."""
        keys = {i.key for i in instruments}
        self._unsubscribed.update(keys)
        if self._session is not None:
            for key in keys:  # pending trades go, and ids restart without a false gap
                self._session.tape.lanes.pop(key, None)
        self._change({self._norm(i) for i in instruments})

    def _norm(self, inst: Instrument) -> str:
        for norm, keys in self._symbol_routes.items():
            if inst.key in keys:
                return norm
        return ""

    def _change(self, norms: set[str]) -> None:
        """Start or stop the feeds of ``norms`` to match what is wanted (in tasks: building a
        feed and closing one take a while)."""
        if self._session is None:
            return  # applied when the stream starts
        loop = asyncio.get_running_loop()
        for norm in norms:
            if norm and norm not in self._changing:
                task = loop.create_task(self._settle(norm), name=f"{self.instance}:{norm}")
                self._changing[norm] = task

    async def _settle(self, norm: str) -> None:
        session = self._session
        try:
            # Until the feed matches the wish (it may change again while this awaits).
            while self._session is session and session is not None:
                running = norm in self._runs
                wanted = self._wanted(norm)
                if wanted and not running:
                    await self._start_feed(norm)
                elif running and not wanted:
                    await self._stop_feed(self._runs.pop(norm))
                else:
                    return
        except Exception as exc:
            LOG.warning("venue '%s': %s", self.instance, exc)
            if session is not None and self._session is session:
                session.fail(exc)
        finally:
            self._changing.pop(norm, None)

    def _runner_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._session is None:
            return
        exc = task.exception()
        if exc is not None:
            self._session.fail(exc)

    def _on_lost(self, connection: str, reason: str) -> None:
        self._emit(
            ConnectionLost(
                ts_ns=self.clock.now_ns(), venue=self.instance, reason=f"{connection}: {reason}"
            )
        )
        if self._session is not None:
            self._session.tape.mark_outage()

    def _on_restored(self, connection: str, down_ns: int, attempts: int) -> None:
        self._emit(
            ConnectionRestored(
                ts_ns=self.clock.now_ns(),
                venue=self.instance,
                connection=connection,
                down_ns=down_ns,
                attempts=attempts,
            )
        )

    async def _stop(self) -> None:
        session, runs, changing = self._session, list(self._runs.values()), self._changing
        self._session, self._runs, self._changing = None, {}, {}
        for task in changing.values():
            task.cancel()
        with anyio.CancelScope(shield=True):
            if changing:
                await asyncio.gather(*changing.values(), return_exceptions=True)
            for run in runs:
                await self._stop_feed(run)
        if session is not None:
            session.close()

    # -- market data besides trades ---------------------------------------------------------
    @overload
    def subscribe(
        self, channel: str, *, max_buffer: int | None = None
    ) -> MemoryObjectReceiveStream[Any]: ...

    @overload
    def subscribe(self, channel: Sequence[Instrument]) -> None: ...

    def subscribe(
        self, channel: str | Sequence[Instrument], *, max_buffer: int | None = None
    ) -> MemoryObjectReceiveStream[Any] | None:
        """With a channel name: a stream of its values while the feed runs: "book"
        (BookTop), "l2" (L2Book), "funding" (FundingRate) or "liquidations" (Liquidation).
        With instruments: stream their trades again (capability ``"subscribe"``, see
        :meth:`subscribe_instruments`)."""
        if not isinstance(channel, str):
            self.subscribe_instruments(channel)
            return None
        if channel not in MARKET_CHANNELS:
            raise VenueError(
                f"venue '{self.instance}' (cryptofeed): no channel {channel!r}; "
                f"choose from {', '.join(MARKET_CHANNELS)}"
            )
        if channel not in self.config.channels:
            raise VenueError(
                f"venue '{self.instance}' (cryptofeed): channel {channel!r} is not configured; "
                f"add it to [venues.{self.instance}] channels (now {self.config.channels})"
            )
        return self.fanout.subscribe(channel, max_buffer or self.config.subscriber_buffer)

    def book_top(self, instrument: str) -> BookTop | None:
        """The latest best bid and offer of ``instrument`` (from "book"), or None."""
        value = self.fanout.latest["book"].get(instrument)
        return value if isinstance(value, BookTop) else None

    def l2_book(self, instrument: str) -> L2Book | None:
        """The latest depth book of ``instrument`` (from "l2"), or None."""
        value = self.fanout.latest["l2"].get(instrument)
        return value if isinstance(value, L2Book) else None

    def funding_rate(self, instrument: str) -> FundingRate | None:
        """The latest funding state of ``instrument`` (from "funding"), or None."""
        value = self.fanout.latest["funding"].get(instrument)
        return value if isinstance(value, FundingRate) else None

    def stats(self) -> Mapping[str, int]:
        """Counters of the running (or last) session: trades in, accepted, duplicates, gaps."""
        session = self._session
        if session is None:
            return {}
        tape = session.tape
        return {
            "trades_in": session.trades_in,
            "accepted": tape.accepted,
            "pending": tape.pending(),
            "duplicates": tape.duplicates,
            "gaps": tape.gaps,
            "unrouted": session.unrouted,
            "connects": sum(r.connects for run in self._runs.values() for r in run.runners),
        }
