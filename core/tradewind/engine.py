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

import contextlib
import heapq
import logging
import math
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs

from tradewind.bus import EventBus
from tradewind.clock import Clock, SimClock, WallClock
from tradewind.config import Config, Mode
from tradewind.errors import ConfigError
from tradewind.journal import Journal
from tradewind.market.candles import CandleAggregator
from tradewind.market.gaps import default_max_gap, gap_starts, parse_duration
from tradewind.market.validation import TickValidator
from tradewind.model import (
    BadRows,
    Candle,
    DataGap,
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
from tradewind.risk_view import AsOf, Snapshot
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
    #: The last trade seen (for data gaps) and whether the next trade is the first after one.
    last_ts: int | None = None
    after_gap: bool = False
    #: Portfolio cash when this instrument's trades of the current interval started.
    cash_start: Decimal = Decimal(0)
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
    #: Holes in the data longer than ``[run] max_gap`` (:class:`~tradewind.model.DataGap`).
    data_gaps: Sequence[Any] = ()
    #: Rows of data files the replay could not use (``file:line: reason``).
    bad_rows: Sequence[Any] = ()


class Engine:
    """Builds the configured plugins and runs them over a feed."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        run_id: str | None = None,
        journal_path: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        from tradewind.builtins.replay import apply_run_bounds

        config = apply_run_bounds(config)
        self.config = config
        self.run_id = run_id or uuid.uuid4().hex
        #: Called after each feed batch with (ticks in the batch, total expected or None).
        self.progress = progress
        self.clock: Clock = clock or (SimClock() if config.mode is Mode.BACKTEST else WallClock())
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
        self.orders = OrderManager(self.portfolio, self.run_id)
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
        #: Replayed data (backtests): every instrument reaches a decision time before any
        #: instrument's later trades are processed. Live feeds arrive as they arrive.
        self._merged = all(
            "replay" in self.venues[st.data_venue].capabilities for st in self.state.values()
        )
        self._barrier: int | None = None  # the next grid time every instrument must reach
        #: Several replayed instruments: what each one's exits may see of the others between
        #: two decision times (the portfolio as of the last one; see tradewind.risk_view).
        self._snapshot: Snapshot | None = None
        self._multi = self._merged and len(self.state) > 1
        run = config.run
        self.max_gap = (
            parse_duration(run.max_gap) if run.max_gap else default_max_gap(self.timeframes)
        )
        self.gap_policy = run.gap_policy
        self.gaps: list[DataGap] = []
        self.halted_at: int | None = None
        self.bad_rows: list[Any] = []
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
    async def run(self) -> RunResult:
        """Connect, replay or stream until the feed ends, and return the result."""
        cfg = self.config
        info = RunInfo(
            run_id=self.run_id,
            mode=cfg.mode.value,
            config_path=str(cfg.path),
            instruments=tuple(self.instruments),
        )
        journal_path = self._journal_path or str(cfg.resolve(cfg.run.journal))
        self.journal = Journal(Path(journal_path), self.run_id)
        self.journal.start(cfg.mode.value, str(cfg.path), self.clock.now_ns())
        self.bus.subscribe("journal", self.journal.record)
        for n, notifier in zip(cfg.instances("notifiers"), self.notifiers, strict=True):
            self.bus.subscribe(f"notifier:{n}", _severity_gate(notifier))
        summary: dict[str, Any] = {}
        try:
            for venue in self.venues.values():
                await venue.connect()
            # Reconcile with every execution venue before anything can trade; a failure
            # raises ReconciliationError and the run never starts.
            await prepare_session(self)
            async with self.bus:
                for notifier in self.notifiers:
                    await notifier.start()
                cfg.host.pm.hook.tradewind_run_start(run=info)
                await self.bus.publish(
                    RunStarted(ts_ns=self.clock.now_ns(), run_id=self.run_id, mode=cfg.mode.value)
                )
                await self._publish_pending()  # what reconciliation found
                await self._report_bad_rows()
                total = self.expected_ticks()
                async with contextlib.aclosing(self._feed()) as feed:
                    async for batch in feed:
                        await self.on_batch(batch)
                        if self.progress is not None:
                            self.progress(len(batch), total)
                        if self.halted_at is not None:
                            break  # gap_policy = "halt"
                await self._finish_candles()
                summary = self.summary()
                await self.bus.publish(
                    RunFinished(
                        ts_ns=self.clock.now_ns(),
                        run_id=self.run_id,
                        summary={k: v for k, v in summary.items() if isinstance(v, int | float)},
                    )
                )
                await self.bus.close()  # every queued event reaches every subscriber first
            for venue in self.venues.values():
                await venue.close()
            for notifier in self.notifiers:
                await notifier.close()
        finally:
            try:
                cfg.host.pm.hook.tradewind_run_end(run=info, summary=summary)
            finally:
                self.journal.finish(self.clock.now_ns(), summary)
                self.journal.close()
        return RunResult(
            run_id=self.run_id,
            summary=summary,
            equity_curve=self.equity_curve,
            closed_trades=self.orders.closed_trades,
            fills=self.orders.fills,
            price_curve=self.price_curve,
            data_gaps=list(self.gaps),
            bad_rows=list(self.bad_rows),
        )

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

    async def _feed(self) -> AsyncGenerator[TickBatch, None]:
        by_venue: dict[str, list[Instrument]] = {}
        for st in self.state.values():
            by_venue.setdefault(st.data_venue, []).append(st.instrument)
        if len(by_venue) == 1:
            ((key, insts),) = by_venue.items()
            async for batch in self.venues[key].stream_trades(insts):
                yield batch
            return
        if self._merged:
            from tradewind.builtins.replay import merge_by_interval

            streams = [self.venues[k].stream_trades(i) for k, i in by_venue.items()]
            async for batch in merge_by_interval(streams, self.step):
                yield batch
            return
        send, receive = anyio.create_memory_object_stream[TickBatch](64)

        async def pump(key: str, insts: list[Instrument]) -> None:
            async with send.clone() as s:
                async for batch in self.venues[key].stream_trades(insts):
                    await s.send(batch)

        async with anyio.create_task_group() as tg:
            for key, insts in by_venue.items():
                tg.start_soon(pump, key, insts)
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
        prev_ts = st.last_ts
        gaps = gap_starts(ts, prev_ts, self.max_gap)
        st.last_ts = int(ts[-1])
        if gaps and gaps[0] == 0 and prev_ts is not None:
            # Before time moves on: a flatten closes at the last price before the hole.
            gaps.pop(0)
            await self._on_gap(st, prev_ts, int(ts[0]))
            if self.halted_at is not None:
                return
        if self._merged and self._barrier is not None and int(ts[0]) >= self._barrier:
            await self._reach(int(ts[0]))
        if st.next_boundary is None:
            st.next_boundary = (int(ts[0]) // step) * step + step
            if self._barrier is None:
                self._barrier = st.next_boundary
                if self._multi:
                    self._snapshot = Snapshot(self.portfolio, list(self.instruments))
        if self._multi:
            st.cash_start = self.portfolio.cash
        i = 0
        while i < n:
            if gaps and gaps[0] == i:
                gaps.pop(0)
                await self._on_gap(st, int(ts[i - 1]), int(ts[i]))
                if self.halted_at is not None:
                    return
            boundary = st.next_boundary
            assert boundary is not None
            if int(ts[i]) >= boundary:
                # Time passed a boundary: everything before it has been seen; decide there.
                if self._merged:
                    await self._reach(int(ts[i]))
                else:
                    t_close = (int(ts[i]) // step) * step
                    await self._walk(st, t_close)
                    st.next_boundary = t_close + step
                continue
            j = int(ts.searchsorted(boundary, side="left"))
            if gaps:
                j = min(j, gaps[0])
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
            gap_print = st.after_gap
            if gap_print:
                # The first trade after a data gap: exits are evaluated on it alone, and one
                # that triggers (a stop the price jumped across) fills at it.
                st.after_gap = False
                end = int(rest.ts_ns.searchsorted(rest.ts_ns[0], side="right"))
            if simulated:
                fill_ts = venue.next_fill_ts(rest)
                if fill_ts is not None:
                    end = min(end, int(rest.ts_ns.searchsorted(fill_ts, side="right")))
            pos = self.portfolio.position(key)
            decision: ExitDecision | None = None
            if not pos.is_flat and self.exits:
                window = rest if end == len(rest) else rest.slice(0, end)
                ctx: Any = self.portfolio
                if self._snapshot is not None:
                    ctx = AsOf(self.portfolio, key, self._snapshot, st.cash_start, rest.first_ts)
                for mon in self.exits:
                    d = mon.on_ticks(pos, window, ctx)
                    if d is not None and (decision is None or d.ts_ns < decision.ts_ns):
                        decision = d
                if decision is not None:
                    # A decision stamped before the window (a monitor's own clock) acts at
                    # the window's first trade: at least one trade is always consumed.
                    cut = int(rest.ts_ns.searchsorted(decision.ts_ns, side="right"))
                    end = max(1, min(end, cut))
            head = rest if end == len(rest) else rest.slice(0, end)
            self._advance(head, simulated, venue)
            if decision is not None and gap_print:
                at = (float(rest.price[0]), int(rest.ts_ns[0]))
                await self._close_at(st, attrs.evolve(decision, price=at[0]), at)
            elif decision is not None:
                await self._close_position(st, decision)
            if not pos.is_flat and self.portfolio.position(key).is_flat:
                for mon in self.exits:
                    mon.forget(key)
            rest = rest.slice(end, len(rest))
        st.aggregator.update(piece)
        for a in st.tick_analyzers:
            a.on_ticks(piece)
        await self._publish_pending()

    async def _on_gap(self, st: _InstrumentState, start: int, end: int) -> None:
        """A hole in ``st``'s tape from trade ``start`` to trade ``end``: apply the policy."""
        key = st.instrument.key
        pos = self.portfolio.position(key)
        policy = self.gap_policy
        action = "none"
        if policy == "halt":
            self.halted_at = start
            action = "halted"
        elif not pos.is_flat:
            if policy == "flatten":
                last = self.portfolio.last_price(key)
                decision = ExitDecision(
                    monitor="gap",
                    reason=f"data gap of {_duration(end - start)} (gap_policy flatten)",
                    ts_ns=start,
                    price=last,
                )
                await self._close_at(st, decision, (last, start))
                action = "flattened"
            else:
                st.after_gap = True
                action = "held"
        gap = DataGap(
            ts_ns=start + self.max_gap,  # when a live feed would have noticed
            instrument=key,
            rejected={"gap": 1},
            start_ns=start,
            end_ns=end,
            max_gap_ns=self.max_gap,
            policy=policy,
            action=action,
        )
        self.gaps.append(gap)
        await self.bus.publish(gap)

    async def _close_at(
        self, st: _InstrumentState, decision: ExitDecision, at: tuple[float, int]
    ) -> None:
        """Close ``st``'s position at the print ``at = (price, ts)`` (data gaps only).

        On the simulated venue the close fills at that print (a pending close order too);
        elsewhere it is an ordinary close order.
        """
        key = st.instrument.key
        venue = st.exec_venue
        pending = [o for o in self.portfolio.open_orders() if o.instrument == key and o.reduce_only]
        order = pending[0] if pending else await self._close_position(st, decision)
        if order is not None and "simulated" in venue.capabilities:
            venue.fill_at(order.client_order_id, at[0], at[1])
        await self._publish_pending()

    async def _report_bad_rows(self) -> None:
        """Journal the rows the data venues could not use (file:line: reason), with counts."""
        for key in sorted({st.data_venue for st in self.state.values()}):
            rows = list(getattr(self.venues[key], "bad_rows", ()) or ())
            if not rows:
                continue
            self.bad_rows.extend(rows)
            await self.bus.publish(
                BadRows(
                    ts_ns=self.clock.now_ns(),
                    instrument=key,
                    rejected=_reason_counts(rows),
                    count=len(rows),
                    rows=[str(r) for r in rows[:BadRows.LISTED]],
                )
            )

    def _advance(self, piece: TickBatch, simulated: bool, venue: Any) -> None:
        if hasattr(self.clock, "advance_to"):
            self.clock.advance_to(piece.last_ts)  # type: ignore[attr-defined]
        self.portfolio.mark(piece.instrument, piece.last_price, piece.last_ts)
        if simulated:
            venue.on_trades(piece)

    async def _reach(self, ts: int) -> None:
        """Bring every instrument to the last grid time at or before ``ts``, in time order.

        Replayed data arrives interval by interval, so when a trade at ``ts`` comes, every
        instrument has seen all its trades before that grid time and none after it. Each
        instrument decides there (and at its own candle closes in between, when its tape was
        quiet) before any later trade is processed: no decision of one instrument sees
        another's data from after its own decision time, and when an instrument decides does
        not depend on which others are replayed beside it.
        """
        step = self.step
        t = (ts // step) * step
        due = [
            st
            for st in self.state.values()
            if st.next_boundary is not None and st.next_boundary <= ts
        ]
        heap: list[tuple[int, int, _InstrumentState]] = []
        for n, st in enumerate(due):
            if st.next_boundary is not None and st.next_boundary < t:
                for close in self._closes_before(st, t):
                    heap.append((close, n, st))
        heapq.heapify(heap)
        while heap:
            close, _, st = heapq.heappop(heap)
            await self._on_boundary(st, close)
        for st in due:
            await self._on_boundary(st, t)
            st.next_boundary = t + step
        self._barrier = t + step
        if self._multi:
            self._snapshot = Snapshot(self.portfolio, list(self.instruments))

    def _closes_before(self, st: _InstrumentState, t: int) -> list[int]:
        """Close times of ``st``'s forming candles that fall before grid time ``t``."""
        closes = set()
        for tf in self.timeframes:
            cur = st.aggregator.current(tf)
            if cur is not None and cur.open_ts_ns + tf < t:
                closes.add(cur.open_ts_ns + tf)
        return sorted(closes)

    async def _walk(self, st: _InstrumentState, t: int) -> None:
        """One instrument to grid time ``t``, deciding at each candle close on the way."""
        if st.next_boundary is not None and st.next_boundary < t:
            for close in self._closes_before(st, t):
                await self._on_boundary(st, close)
        await self._on_boundary(st, t)

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
    ) -> Order:
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
        if "simulated" in st.exec_venue.capabilities:
            st.exec_venue.set_time(ts_ns, st.instrument.key)  # the instrument's own clock
        elif hasattr(st.exec_venue, "set_time"):
            st.exec_venue.set_time(ts_ns)
        try:
            await self.orders.submit(st.exec_venue, order, ts_ns, exit_reason=reason)
        except Exception as exc:
            log.error("order %s failed: %s", order.client_order_id, exc)
        return order

    async def _close_position(
        self, st: _InstrumentState, decision: ExitDecision
    ) -> Order | None:
        pos = self.portfolio.position(st.instrument.key)
        if pos.is_flat or any(
            o.instrument == pos.instrument and o.reduce_only for o in self.portfolio.open_orders()
        ):
            return None
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
        return await self._send(
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

    async def _publish_pending(self) -> None:
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


def _duration(ns: int) -> str:
    """``"1d 02:03:04"`` / ``"02:03:04.5"``: a gap's length for messages."""
    seconds, rem = divmod(ns, 1_000_000_000)
    days, seconds = divmod(seconds, 86_400)
    h, seconds = divmod(seconds, 3600)
    m, sec = divmod(seconds, 60)
    frac = f".{rem // 1_000_000:03d}" if rem else ""
    clock = f"{h:02d}:{m:02d}:{sec:02d}{frac}"
    return f"{days}d {clock}" if days else clock


def _reason_counts(rows: Sequence[Any]) -> dict[str, int]:
    """Bad rows counted per file."""
    out: dict[str, int] = {}
    for row in rows:
        name = Path(str(getattr(row, "file", "?"))).name
        out[name] = out.get(name, 0) + 1
    return out


def describe_timeframes(tfs: Sequence[int]) -> str:
    """``"1m, 5m, 15m"``."""
    return ", ".join(format_timeframe(t) for t in tfs)
