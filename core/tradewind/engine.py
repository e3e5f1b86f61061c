"""The engine: one code path for backtest, paper and live.

Per instrument it keeps candles of every configured timeframe and the analyzers' state. Trade
batches are sliced at decision points (candle boundaries); everything between two decision
points is processed vectorised. At a boundary the closed candles go to the analyzers, then
the strategy decides, the filters judge, and the order manager sends. Exit monitors see every
batch of an instrument with an open position; a batch is split at the trade where an exit
triggers, so the close order only meets trades that printed after the decision.

Backtest, paper and live differ only in the clock, the data venue and the execution venue.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import duckdb
from anyio.streams.memory import MemoryObjectSendStream

from tradewind.bus import EventBus
from tradewind.clock import Clock, SimClock, WallClock
from tradewind.config import Config, Mode
from tradewind.errors import ConfigError, JournalError
from tradewind.journal import Journal
from tradewind.journal_errors import journal_error
from tradewind.lifecycle import StopControl, backtest_run_id, close_quietly, stop_orders
from tradewind.market.candles import CandleAggregator
from tradewind.market.validation import TickValidator
from tradewind.model import (
    Candle,
    DataQuality,
    Event,
    ExitDecision,
    FundingPayment,
    Instrument,
    Order,
    OrderType,
    PositionClosed,
    RunFinished,
    RunStarted,
    Severity,
    Signal,
    SignalEvent,
    SystemError,
    TickBatch,
    TimeInForce,
    Veto,
    VetoEvent,
)
from tradewind.orders import OrderManager
from tradewind.portfolio import Portfolio
from tradewind.protocols import SINGULAR
from tradewind.reconcile import prepare_session
from tradewind.registry import RunInfo
from tradewind.sizing import size_for
from tradewind.strategy import Strategy
from tradewind.timeframes import format_timeframe, parse_timeframe

log = logging.getLogger("tradewind.engine")


_MISSING = object()


class AnalyzerValues(Mapping[str, float]):
    """Analyzer outputs addressed as ``<instance>.<output>``, read only when asked for.

    At a decision point the strategy reads a handful of values; an analyzer's ``values()`` is
    called the first time one of its outputs is read after :meth:`refresh`, and its mapping
    is kept until the next refresh (so an analyzer may compute expensive outputs lazily).
    """

    def __init__(self, analyzers: Sequence[tuple[str, Any]]) -> None:
        self._analyzers = dict(analyzers)
        self._cache: dict[str, Mapping[str, float]] = {}

    def refresh(self) -> None:
        """Forget the mappings read so far: the analyzers have new candles."""
        self._cache.clear()

    def _of(self, instance: str) -> Mapping[str, float]:
        got = self._cache.get(instance)
        if got is None:
            got = self._cache[instance] = self._analyzers[instance].values()
        return got

    def get(self, name: str, default: Any = math.nan) -> Any:  # type: ignore[override]
        """The value of ``name``, or ``default`` when no analyzer reports it."""
        instance, _, key = name.partition(".")
        if instance not in self._analyzers:
            return default
        return self._of(instance).get(key, default)

    def __getitem__(self, name: str) -> float:
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        for instance in self._analyzers:
            for key in self._of(instance):
                yield f"{instance}.{key}"

    def __len__(self) -> int:
        return sum(len(self._of(instance)) for instance in self._analyzers)


@attrs.define
class _InstrumentState:
    instrument: Instrument
    data_venue: str
    exec_venue: Any
    aggregator: CandleAggregator
    validator: TickValidator
    analyzers: list[tuple[str, Any]]
    tick_analyzers: list[Any]
    next_boundary: int | None = None
    values: AnalyzerValues = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.values = AnalyzerValues(self.analyzers)


@attrs.frozen(kw_only=True)
class RunResult:
    """What a run produced: its id, summary metrics and the equity curve."""

    run_id: str
    summary: Mapping[str, Any]
    equity_curve: Sequence[tuple[int, float]]
    closed_trades: Sequence[tuple[int, str, Decimal]]
    fills: Sequence[Any]
    price_curve: Mapping[str, Sequence[tuple[int, float]]] = attrs.Factory(dict)


class Engine:
    """Builds the configured plugins and runs them over a feed."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        run_id: str | None = None,
        journal_path: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        from tradewind.builtins.replay import apply_run_bounds

        config = apply_run_bounds(config)
        self.config = config
        #: Called after each feed batch with (ticks in the batch, total expected or None).
        self.progress = progress
        # Everything the engine owns reads time from this clock and waits with this sleep:
        # a backtest never reads the wall clock and never really sleeps.
        self.clock: Clock = clock or (SimClock() if config.mode is Mode.BACKTEST else WallClock())
        self.sleep: Callable[[float], Awaitable[None]] = sleep or _clock_sleep(self.clock)
        #: SIGINT/SIGTERM (paper, live) and :meth:`stop` end the run between two steps.
        self.stopper = StopControl()
        host = config.host
        self.venues: dict[str, Any] = {}
        for key, vinst in config.instances("venues").items():
            cls = host.plugin_class("venues", vinst.plugin)
            cfg = vinst.config
            if attrs.has(type(cfg)) and any(f.name == "base_dir" for f in attrs.fields(type(cfg))):
                cfg = attrs.evolve(cfg, base_dir=str(config.path.parent))
            self.venues[key] = cls(config=cfg, instance=key)
        self.instruments: dict[str, Instrument] = {}
        for i, sec in enumerate(config.instruments):
            instrument = sec.to_instrument()
            self._check_venue(sec.venue, "execution", f"$.instruments[{i}].venue")
            self._check_venue(sec.data or sec.venue, "data", f"$.instruments[{i}].data")
            if instrument.key in self.instruments:
                raise ConfigError(
                    f"instrument {instrument.key} is configured twice @ $.instruments[{i}]"
                )
            self.instruments[instrument.key] = instrument
        for key, venue in self.venues.items():
            mine = [
                inst
                for sec, inst in zip(config.instruments, self.instruments.values(), strict=True)
                if key in (sec.venue, sec.data or sec.venue)
            ]
            if hasattr(venue, "add_instruments"):
                venue.add_instruments(mine)
        cash = Decimal(0)
        for sec in config.instruments:
            bal = getattr(self.venues[sec.venue].config, "starting_balance", None)
            if bal is not None:
                cash = Decimal(bal)
        self.portfolio = Portfolio(self.instruments, cash)
        if run_id is None:
            # A backtest's id is derived from its config and data (identical reruns write
            # identical journals); a paper or live run is a new event each time.
            backtest = config.mode is Mode.BACKTEST
            run_id = backtest_run_id(config, self.venues.values()) if backtest else uuid.uuid4().hex
        self.run_id = run_id
        self.orders = OrderManager(
            self.portfolio, self.run_id, sleep=self.sleep, clock=_seconds(self.clock)
        )
        for venue in self.venues.values():
            venue.set_sink(self.orders)

        self.strategy = Strategy(config.strategy)
        self.strategy_tf = parse_timeframe(config.strategy.timeframe)
        tfs = sorted(set(config.timeframes_ns) | {self.strategy_tf})
        self.timeframes = tuple(tfs)
        self.step = math.gcd(*tfs)
        for venue in self.venues.values():
            if hasattr(venue, "set_decision_step"):
                venue.set_decision_step(self.step)

        filters = config.instances("filters")
        ordered = sorted(
            filters.values(),
            key=lambda p: (
                0 if getattr(host.plugin_class("filters", p.plugin), "essential", False) else 1
            ),
        )
        self.filters = [host.plugin_class("filters", p.plugin)(config=p.config) for p in ordered]
        self.exits = [
            host.plugin_class("exits", p.plugin)(config=p.config)
            for p in config.instances("exits").values()
        ]
        self.notifiers = [
            host.plugin_class("notifiers", p.plugin)(config=p.config)
            for p in config.instances("notifiers").values()
        ]

        self.state: dict[str, _InstrumentState] = {}
        for sec, inst in zip(config.instruments, self.instruments.values(), strict=True):
            analyzers = []
            for key, p in config.instances("analyzers").items():
                cls = host.plugin_class("analyzers", p.plugin)
                analyzers.append((key, cls(config=p.config, instrument=inst)))
            self.state[inst.key] = _InstrumentState(
                instrument=inst,
                data_venue=sec.data or sec.venue,
                exec_venue=self.venues[sec.venue],
                aggregator=CandleAggregator(inst.key, tfs),
                validator=TickValidator(inst.key),
                analyzers=analyzers,
                tick_analyzers=[a for _, a in analyzers if "ticks" in a.capabilities],
            )
        self.bus = EventBus(capacity=4096)
        self.journal: Journal | None = None
        #: The summary made as the run ended (also when it ended with an error).
        self.last_summary: dict[str, Any] = {}
        self._journal_path = journal_path
        self.equity_curve: list[tuple[int, float]] = []
        #: Strategy-timeframe closes per instrument, for the report's price chart.
        self.price_curve: dict[str, list[tuple[int, float]]] = {}
        self.signals = 0
        self.vetoes: dict[str, int] = {}
        self.ticks = 0
        self.candles = 0
        self.decision_points = 0
        self.entries_sent = 0
        self._risk_pct = Decimal(repr(config.strategy.risk_pct))
        self._max_leverage = Decimal(repr(config.strategy.max_leverage))

    def _check_venue(self, key: str, capability: str, where: str) -> None:
        venue = self.venues.get(key)
        if venue is None:
            raise ConfigError(f"no [venues.{key}] instance @ {where}")
        if capability not in venue.capabilities:
            raise ConfigError(
                f"{SINGULAR['venues']} instance '{key}' ({type(venue).name}) cannot serve as "
                f"{capability} venue: its capabilities are "
                f"{', '.join(sorted(venue.capabilities))} @ {where}"
            )

    # -- run ------------------------------------------------------------------------------
    def stop(self, reason: str = "stop requested") -> None:
        """End the run after the current step (as SIGINT/SIGTERM do in paper and live)."""
        self.stopper.request(reason)

    async def run(self) -> RunResult:
        """Connect, replay or stream until the feed ends (or a stop), and return the result.

        Whatever ends the run, the journal is flushed, ``RunFinished`` is published, and the
        venues, the notifiers and the journal are closed (shielded from cancellation). A
        journal that cannot be opened or written raises JournalError (one line) after that.
        """
        cfg = self.config
        summary: dict[str, Any] = {}
        info = RunInfo(
            run_id=self.run_id,
            mode=cfg.mode.value,
            config_path=str(cfg.path),
            instruments=tuple(self.instruments),
        )
        failure: BaseException | None = None
        try:
            self._open_journal()
            info = attrs.evolve(info, run_id=self.run_id)
            if cfg.mode is not Mode.BACKTEST and self.handle_signals:
                summary = await self._with_signals(info)
            else:
                summary = await self._session(info)
        except BaseExceptionGroup as group:
            # Task groups wrap what one task raised; a single error is reported as itself.
            failure = group.exceptions[0] if len(group.exceptions) == 1 else group
            if failure is group:
                raise
            raise failure from None
        except BaseException as exc:
            failure = exc
            raise
        finally:
            await self._shutdown(info, summary, failure)
        return RunResult(
            run_id=self.run_id,
            summary=summary,
            equity_curve=self.equity_curve,
            closed_trades=self.orders.closed_trades,
            fills=self.orders.fills,
            price_curve=self.price_curve,
        )

    #: Turn SIGINT/SIGTERM into a clean stop (paper and live; the CLI's ``run`` sets it).
    handle_signals = False
    _finished = False

    async def _with_signals(self, info: RunInfo) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        try:
            async with anyio.create_task_group() as tg:
                self.stopper.force_scope = tg.cancel_scope
                await tg.start(self.stopper.watch_signals)
                try:
                    summary = await self._session(info)
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        return summary or self.last_summary  # a second signal cut the session short

    def _open_journal(self) -> None:
        cfg = self.config
        journal_path = self._journal_path or str(cfg.resolve(cfg.run.journal))
        journal = Journal(Path(journal_path), self.run_id)
        self.journal = journal
        if cfg.mode is Mode.BACKTEST:
            # The same backtest again into the same journal: a new, still derived, run id.
            taken = journal.query(
                "SELECT count(*) FROM runs WHERE run_id = ? OR run_id LIKE ?",
                [self.run_id, self.run_id + "-%"],
            )[0][0]
            if taken:
                self.run_id = journal.run_id = f"{self.run_id}-{taken + 1}"
                self.orders.run_id = self.run_id
                self.orders.id_prefix = f"tw-{self.run_id[:12]}"
        journal.start(cfg.mode.value, str(cfg.path), self.clock.now_ns())
        if cfg.mode is not Mode.BACKTEST:
            # One durable commit per engine step, and before an order leaves for a real venue.
            journal.group_commit = True
            journal.simulated_venues = frozenset(
                key for key, v in self.venues.items() if "simulated" in v.capabilities
            )
        self.bus.subscribe("journal", journal.record, lossless=True)
        for n, notifier in zip(cfg.instances("notifiers"), self.notifiers, strict=True):
            self.bus.subscribe(f"notifier:{n}", _severity_gate(notifier))

    async def _session(self, info: RunInfo) -> dict[str, Any]:
        cfg = self.config
        for venue in self.venues.values():
            await venue.connect()
        # Reconcile with every execution venue before anything can trade; a failure
        # raises ReconciliationError and the run never starts.
        await prepare_session(self)
        summary: dict[str, Any] = {}
        async with self.bus:
            try:
                for notifier in self.notifiers:
                    await notifier.start()
                cfg.host.pm.hook.tradewind_run_start(run=info)
                await self.bus.publish(
                    RunStarted(ts_ns=self.clock.now_ns(), run_id=self.run_id, mode=cfg.mode.value)
                )
                await self._publish_pending()  # what reconciliation found
                await self._consume_feed()
                await self._finish_candles()
                if cfg.mode is not Mode.BACKTEST:
                    await stop_orders(
                        self,
                        cancel_entries=cfg.run.cancel_entries_on_stop,
                        flatten=cfg.run.flatten_on_stop,
                    )
                    await self._publish_pending()
            finally:
                # Always: the last events, RunFinished, and every queued event delivered.
                with anyio.CancelScope(shield=True):
                    summary = self.last_summary = self.summary()
                    if self.stopper.requested:
                        summary["stopped"] = self.stopper.reason
                    try:
                        await self._publish_pending()
                    finally:
                        self._finished = True
                        await self.bus.publish(
                            RunFinished(
                                ts_ns=self.clock.now_ns(),
                                run_id=self.run_id,
                                summary={
                                    k: v for k, v in summary.items() if isinstance(v, int | float)
                                },
                            )
                        )
        return summary

    async def _consume_feed(self) -> None:
        """Process the feed batch by batch until it ends or a stop is requested.

        The feed runs in a task of its own and hands batches over a one-slot stream, so a
        stop request cancels only the wait for the next batch (never a step in progress, and
        never a venue's stream in the middle of its own task groups).
        """
        total = self.expected_ticks()
        send, receive = anyio.create_memory_object_stream[TickBatch](1)

        async def pump() -> None:
            async with send:
                async for batch in self._feed():
                    await send.send(batch)

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump)
                async with receive:
                    while not self.stopper.requested:
                        with self.stopper.waiting():
                            try:
                                batch = await receive.receive()
                            except anyio.EndOfStream:
                                break
                        self.stopper.done_waiting()
                        if self.stopper.requested:
                            break  # the wait was cancelled: no batch
                        await self.on_batch(batch)
                        if self.progress is not None:
                            self.progress(len(batch), total)
                self.stopper.done_waiting()
                tg.cancel_scope.cancel()  # a stop: the feed ends here
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    async def _shutdown(
        self, info: RunInfo, summary: dict[str, Any], failure: BaseException | None
    ) -> None:
        """Close everything, whatever ended the run (shielded); raise a journal failure."""
        self.bus.dispose()
        summary = summary or self.last_summary  # the run failed after its summary was made
        problems = await close_quietly("venue", ((key, v.close) for key, v in self.venues.items()))
        problems += await close_quietly(
            "notifier",
            (
                (n, x.close)
                for n, x in zip(self.config.instances("notifiers"), self.notifiers, strict=True)
            ),
        )
        journal = self.journal
        try:
            self.config.host.pm.hook.tradewind_run_end(run=info, summary=summary)
        except Exception as exc:
            # The hook's contract: reported as a SystemError event, and the run still ends.
            problems.append(f"tradewind_run_end raised {type(exc).__name__}: {exc}")
        if journal is None:
            return
        if not self._finished:
            # The run ended before its bus started (reconciliation refused, a venue did not
            # connect): RunFinished still reaches the journal.
            self._finished = True
            journal.record(RunFinished(ts_ns=self.clock.now_ns(), run_id=self.run_id, summary={}))
        for msg in problems:
            log.error("%s", msg)
            journal.record(SystemError(ts_ns=self.clock.now_ns(), source="run_end", error=msg))
        error: JournalError | None = None
        try:
            journal.finish(self.clock.now_ns(), summary)
        except JournalError as exc:
            error = exc
        except duckdb.Error as exc:
            error = journal_error(journal.path, exc, doing="finish the run in")
        if error is not None:
            error = JournalError(f"{error}; {journal.unjournaled()}")
        try:
            journal.close()
        except (JournalError, duckdb.Error):
            pass  # reported through ``error``
        if error is not None and not isinstance(failure, JournalError):
            raise error from failure

    def expected_ticks(self) -> int | None:
        """Ticks the data venues will deliver, when they know (replay does), else None."""
        total = 0
        for key in {st.data_venue for st in self.state.values()}:
            count = getattr(self.venues[key], "total_ticks", None)
            n = count() if callable(count) else None
            if n is None:
                return None
            total += n
        return total

    async def _feed(self) -> AsyncIterator[TickBatch]:
        by_venue: dict[str, list[Instrument]] = {}
        for st in self.state.values():
            by_venue.setdefault(st.data_venue, []).append(st.instrument)
        if len(by_venue) == 1:
            ((key, insts),) = by_venue.items()
            async for batch in self.venues[key].stream_trades(insts):
                yield batch
            return
        send, receive = anyio.create_memory_object_stream[TickBatch](64)

        async def pump(
            key: str, insts: list[Instrument], s: MemoryObjectSendStream[TickBatch]
        ) -> None:
            async with s:
                async for batch in self.venues[key].stream_trades(insts):
                    await s.send(batch)

        async with anyio.create_task_group() as tg:
            # Each pump gets its own clone before the original is closed (closing it first
            # ended the stream before any pump started: the two-data-venue crash).
            for key, insts in by_venue.items():
                tg.start_soon(pump, key, insts, send.clone())
            send.close()
            async with receive:
                async for batch in receive:
                    yield batch

    # -- the tick path --------------------------------------------------------------------
    async def on_batch(self, batch: TickBatch) -> None:
        """Process one feed batch: validate, slice at decision points, act."""
        st = self.state[batch.instrument]
        result = st.validator.validate(batch)
        clean = result.clean
        if result.rejected:
            await self.bus.publish(
                DataQuality(
                    ts_ns=self.clock.now_ns(),
                    instrument=batch.instrument,
                    rejected=dict(result.rejected),
                )
            )
        n = len(clean)
        if n == 0:
            return
        self.ticks += n
        ts = clean.ts_ns
        step = self.step
        if st.next_boundary is None:
            st.next_boundary = (int(ts[0]) // step) * step + step
        i = 0
        while i < n:
            boundary = st.next_boundary
            assert boundary is not None
            if int(ts[i]) >= boundary:
                # Time passed a boundary: everything before it has been seen; decide there.
                t_close = (int(ts[i]) // step) * step
                await self._on_boundary(st, t_close)
                st.next_boundary = t_close + step
                continue
            j = int(ts.searchsorted(boundary, side="left"))
            await self._on_ticks(st, clean.slice(i, j))
            i = j

    async def _on_ticks(self, st: _InstrumentState, piece: TickBatch) -> None:
        """Trades between two decision points: fills, exits, candles, tick analyzers.

        The piece is consumed in steps that end at the next trade where something can change
        a position — a fill (the simulated venue says when one can next happen) or an exit
        trigger — so exit monitors see every trade after a position opens exactly once, and
        a close order only meets trades printed after its decision. The result is the same
        as feeding the tape one trade at a time.
        """
        key = st.instrument.key
        venue = st.exec_venue
        simulated = "simulated" in venue.capabilities
        rest = piece
        while len(rest):
            end = len(rest)
            if simulated:
                fill_ts = venue.next_fill_ts(rest)
                if fill_ts is not None:
                    end = int(rest.ts_ns.searchsorted(fill_ts, side="right"))
            pos = self.portfolio.position(key)
            decision: ExitDecision | None = None
            if not pos.is_flat and self.exits:
                window = rest if end == len(rest) else rest.slice(0, end)
                for mon in self.exits:
                    d = mon.on_ticks(pos, window, self.portfolio)
                    if d is not None and (decision is None or d.ts_ns < decision.ts_ns):
                        decision = d
                if decision is not None:
                    # A decision stamped before the window (a monitor's own clock) acts at
                    # the window's first trade: at least one trade is always consumed.
                    cut = int(rest.ts_ns.searchsorted(decision.ts_ns, side="right"))
                    end = max(1, min(end, cut))
            head = rest if end == len(rest) else rest.slice(0, end)
            self._advance(head, simulated, venue)
            if decision is not None:
                await self._close_position(st, decision)
            if not pos.is_flat and self.portfolio.position(key).is_flat:
                for mon in self.exits:
                    mon.forget(key)
            rest = rest.slice(end, len(rest))
        st.aggregator.update(piece)
        for a in st.tick_analyzers:
            a.on_ticks(piece)
        await self._publish_pending()

    def _advance(self, piece: TickBatch, simulated: bool, venue: Any) -> None:
        if hasattr(self.clock, "advance_to"):
            self.clock.advance_to(piece.last_ts)  # type: ignore[attr-defined]
        self.portfolio.mark(piece.instrument, piece.last_price, piece.last_ts)
        if simulated:
            venue.on_trades(piece)

    async def _on_boundary(self, st: _InstrumentState, t_close: int) -> None:
        if hasattr(self.clock, "advance_to"):
            self.clock.advance_to(t_close)  # type: ignore[attr-defined]
        await self.orders.poll()  # resolves orders whose outcome is unknown (a no-op otherwise)
        closed = st.aggregator.advance(t_close)
        if not closed:
            return
        self.candles += len(closed)
        for c in closed:
            for _, a in st.analyzers:
                a.on_candle(c)
        values = st.values
        values.refresh()
        key = st.instrument.key
        pos = self.portfolio.position(key)
        if not pos.is_flat and self.exits:
            decision = None
            for c in closed:
                for mon in self.exits:
                    decision = mon.on_candle(pos, c, values, self.portfolio)
                    if decision is not None:
                        break
                if decision is not None:
                    await self._close_position(st, decision)
                    break
        for c in closed:
            if c.timeframe_ns == self.strategy_tf:
                self.decision_points += 1
                self.equity_curve.append((t_close, float(self.portfolio.equity())))
                self.price_curve.setdefault(key, []).append((t_close, c.close))
                await self._decide(st, c, t_close)
        await self._publish_pending()

    async def _decide(self, st: _InstrumentState, candle: Candle, ts_ns: int) -> None:
        key = st.instrument.key
        if any(o.instrument == key for o in self.portfolio.open_orders()):
            return  # no decision while an order of this instrument is in flight
        signal = self.strategy.decide(st.instrument, candle.close, ts_ns, st.values)
        if signal is None:
            return
        sec = self.config.strategy
        qty = size_for(
            signal,
            st.instrument,
            self.portfolio.equity(),
            self._risk_pct,
            sec.max_notional,
            max_leverage=self._max_leverage,
            instrument_cap=sec.instrument_caps.get(key),
        )
        signal = attrs.evolve(signal, quantity=qty)
        self.signals += 1
        await self.bus.publish(SignalEvent(ts_ns=ts_ns, signal=signal))
        if qty <= 0:
            veto = Veto(
                filter="sizing",
                signal=signal,
                ts_ns=ts_ns,
                reason=f"size rounds to 0 or below min notional {st.instrument.min_notional}",
            )
            self.vetoes["sizing"] = self.vetoes.get("sizing", 0) + 1
            await self.bus.publish(VetoEvent(ts_ns=ts_ns, veto=veto))
            return
        for flt in self.filters:
            veto = flt.check(signal, self.portfolio)
            if veto is not None:
                self.vetoes[veto.filter] = self.vetoes.get(veto.filter, 0) + 1
                await self.bus.publish(VetoEvent(ts_ns=ts_ns, veto=veto))
                await self._act_on(veto, candle.close)
                return
        await self._send(st, signal, qty, ts_ns)
        self.entries_sent += 1

    async def _act_on(self, veto: Veto, price: float) -> None:
        """Carry out a veto's action: close the opposite position, or every position."""
        if not veto.action:
            return
        if veto.action == "close_opposite":
            targets = [self.state[veto.signal.instrument]]
        elif veto.action == "close_all":
            targets = list(self.state.values())
        else:
            raise ValueError(f"filter '{veto.filter}' asked for unknown action {veto.action!r}")
        for st in targets:
            pos = self.portfolio.position(st.instrument.key)
            if pos.is_flat:
                continue
            if veto.action == "close_opposite" and pos.side is veto.signal.side:
                continue
            last = self.portfolio.last_price(st.instrument.key)
            decision = ExitDecision(
                monitor=veto.filter,
                reason=veto.reason,
                ts_ns=veto.ts_ns,
                price=last if not math.isnan(last) else price,
            )
            await self._close_position(st, decision)

    async def _send(
        self,
        st: _InstrumentState,
        signal: Signal,
        qty: Decimal,
        ts_ns: int,
        reduce_only: bool = False,
        reason: str = "",
    ) -> None:
        order = Order(
            client_order_id=self.orders.next_client_order_id(),
            instrument=st.instrument.key,
            side=signal.side,
            type=OrderType.MARKET,
            quantity=qty,
            time_in_force=TimeInForce.IOC,
            reduce_only=reduce_only,
            created_ts_ns=ts_ns,
            tag=reason or "entry",
        )
        if hasattr(st.exec_venue, "set_time"):
            st.exec_venue.set_time(ts_ns)
        try:
            await self.orders.submit(st.exec_venue, order, ts_ns, exit_reason=reason)
        except Exception as exc:
            log.error("order %s failed: %s", order.client_order_id, exc)

    async def _close_position(self, st: _InstrumentState, decision: ExitDecision) -> None:
        pos = self.portfolio.position(st.instrument.key)
        if pos.is_flat or any(
            o.instrument == pos.instrument and o.reduce_only for o in self.portfolio.open_orders()
        ):
            return
        side = pos.side.opposite  # type: ignore[union-attr]
        close = Signal(
            instrument=pos.instrument,
            side=side,
            entry=st.instrument.round_price(decision.price),
            stop=st.instrument.round_price(decision.price),
            score=0.0,
            ts_ns=decision.ts_ns,
            reasons={},
            quantity=abs(pos.quantity),
            intent="close",
        )
        await self._send(
            st,
            close,
            abs(pos.quantity),
            decision.ts_ns,
            reduce_only=True,
            reason=f"{decision.monitor}: {decision.reason}",
        )

    async def _finish_candles(self) -> None:
        for st in self.state.values():
            st.aggregator.flush()  # partial candles are not decisions
        await self._publish_pending()

    def _commit_step(self) -> None:
        """End of an engine step: one durable commit of what the step journaled (paper and
        live), before any of its events leave the process. A journal that cannot be written
        stops new orders and the run; what it holds unwritten is reported at the end."""
        journal = self.journal
        if journal is None:
            return
        try:
            journal.commit()
        except JournalError:
            pass  # kept in journal.error; the rows stay buffered and are retried
        if journal.error is not None and not self.stopper.requested:
            if self.orders.journal_error is None:
                self.orders.journal_error = str(journal.error)
            self.stopper.request(f"the journal cannot be written ({journal.error})")

    async def _publish_pending(self) -> None:
        self._commit_step()
        for event in self.orders.take_events():
            if isinstance(event, FundingPayment):
                self.portfolio.apply_funding(event.instrument, event.amount)
            if isinstance(event, PositionClosed):
                # Exit monitors drop a position's state when it is really flat, not when its
                # close is sent (a close can take a while to fill).
                for mon in self.exits:
                    mon.forget(event.position.instrument)
            await self.bus.publish(event)

    # -- results --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Headline metrics of the run so far."""
        from tradewind.report import summarize

        return summarize(self)


def _seconds(clock: Clock) -> Callable[[], float]:
    """The clock in seconds, for retry backoff and circuit-breaker cooldowns."""
    monotonic = getattr(clock, "monotonic", None)
    if callable(monotonic):
        return monotonic  # type: ignore[no-any-return]
    return lambda: clock.now_ns() / 1e9


def _clock_sleep(clock: Clock) -> Callable[[float], Awaitable[None]]:
    """The clock's own sleep: a simulated clock advances instead of waiting."""
    sleep = getattr(clock, "sleep", None)
    if callable(sleep):
        return sleep  # type: ignore[no-any-return]
    return anyio.sleep


def _severity_gate(notifier: Any) -> Any:
    """The notifier's ``notify``, called only for events at or above its ``min_severity``.

    Routing by severity happens here, once, for every notifier: critical (order failed,
    connection lost, system error, reconciliation failed, circuit breaker), warning (data
    quality, vetoes), info (signals, fills, position closed), debug (the rest).
    """
    raw = getattr(getattr(notifier, "config", None), "min_severity", "info")
    threshold = Severity[str(raw).upper()] if isinstance(raw, str) else Severity(raw)

    async def deliver(event: Event) -> None:
        if event.severity >= threshold:
            await notifier.notify(event)

    return deliver


def describe_timeframes(tfs: Sequence[int]) -> str:
    """``"1m, 5m, 15m"``."""
    return ", ".join(format_timeframe(t) for t in tfs)
