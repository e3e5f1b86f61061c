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

import bisect
import collections
import contextlib
import heapq
import logging
import math
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import attrs
import duckdb
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from tradewind.blocks import BlockTable, TableRow, TapeBlock
from tradewind.bus import EventBus
from tradewind.clock import Clock, SimClock, WallClock
from tradewind.config import Config, Mode, PluginInstance
from tradewind.config_check import building
from tradewind.errors import ConfigError, JournalError
from tradewind.filtering.context import FilterContext
from tradewind.filtering.view import AsOf, Snapshot
from tradewind.journal.store import Journal
from tradewind.market.candles import CandleAggregator
from tradewind.market.gaps import default_max_gap, gap_starts, parse_duration
from tradewind.market.validation import TickValidator
from tradewind.model import (
    BadRows,
    Candle,
    DataGap,
    DataQuality,
    ExitDecision,
    Fill,
    FundingPayment,
    Instrument,
    InstrumentKind,
    Order,
    OrderType,
    Position,
    PositionClosed,
    RunFinished,
    RunStarted,
    Signal,
    SignalEvent,
    SystemError,
    TickBatch,
    TimeInForce,
    Veto,
    VetoEvent,
)
from tradewind.model.frozen import _slot, _slots, builder
from tradewind.notify.host import NotifierHost
from tradewind.notify.outbox import Outbox
from tradewind.protocols import SINGULAR, check_capabilities
from tradewind.registry import RunInfo
from tradewind.secrets import Secret
from tradewind.timeframes import format_timeframe, parse_timeframe
from tradewind.trading.accounts import ConversionError
from tradewind.trading.block_lookahead import Lookahead
from tradewind.trading.closing import close_terms
from tradewind.trading.collector import ENGINE_YOUNG, FrozenStart, StepCollector
from tradewind.trading.control import EngineControl
from tradewind.trading.curves import Curve, CurveStore, curve_of
from tradewind.trading.equity import EquityCurve
from tradewind.trading.history import Trade, TradeHistory
from tradewind.trading.intents import holds, order_intent, short_refused
from tradewind.trading.lifecycle import (
    StopControl,
    backtest_run_id,
    close_quietly,
    finish_journal,
    stop_orders,
)
from tradewind.trading.orders import BreakerPolicy, OrderManager, OrderSettings
from tradewind.trading.pnl import (
    MoneyTotal,
    fee_total,
    pnl_currencies,
    rates_of,
    total,
)
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.quiet_batches import (
    NOT_TAKEN,
    TAKEN_PUBLISH,
    QuietBatches,
    quiet_batches,
)
from tradewind.trading.quiet_closes import QuietCloses
from tradewind.trading.quiet_pass import reach_pass
from tradewind.trading.reconcile import (
    VenueReads,
    apply_reads,
    prepare_session,
    read_venues,
    record_final_balances,
    rereconcile,
)
from tradewind.trading.scheduler import Scheduler
from tradewind.trading.sizing import size_for
from tradewind.trading.strategy import Strategy, build_signal
from tradewind.trading.venue_calls import HAND_OVER_TURNS, VenueCalls

if TYPE_CHECKING:
    from tradewind.report.metrics import RunFigures

log = logging.getLogger("tradewind.trading.engine")


_MISSING = object()
#: ``SignalEvent(ts_ns=..., signal=...)`` positionally, its slots written directly (see
#: tradewind.model.frozen): one per entry signal.
_signal_event = builder(SignalEvent, ("ts_ns", "signal"))

#: The fields of Order, in the order :func:`_build_order` takes them.
_ORDER_FIELDS = (
    "client_order_id",
    "instrument",
    "side",
    "type",
    "quantity",
    "price",
    "stop_price",
    "time_in_force",
    "reduce_only",
    "created_ts_ns",
    "tag",
    "intent",
)


def _order_builder() -> Callable[..., Order]:
    """``_build_order(client_order_id, ..., intent)``: ``Order(...)`` of every field (in
    :data:`_ORDER_FIELDS`' order), its slots written directly, then its own checks
    (``__attrs_post_init__``, which raises as the constructor does): what attrs' ``__init__``
    does, in about half the time (one order per decision). Order's keyword constructor where
    the class is not as this expects (see tradewind.model.frozen)."""
    init_checks = Order.__dict__.get("__attrs_post_init__")
    declared = attrs.fields(Order)
    if (
        init_checks is None
        or tuple(a.name for a in declared) != _ORDER_FIELDS
        or any(a.validator is not None or a.converter is not None for a in declared)
        or hasattr(Order, "__attrs_pre_init__")
        or any("_attrs_cached_hash" in k.__dict__ for k in Order.__mro__)
        or Order.__dictoffset__  # type: ignore[attr-defined]
    ):

        def keywords(*values: Any) -> Order:
            return Order(**dict(zip(_ORDER_FIELDS, values, strict=True)))

        return keywords
    if _slots is not None:  # the compiled builder (tradewind.model.frozen), then the checks
        make = _slots.builder(Order, tuple(_slot(Order, name) for name in _ORDER_FIELDS))

        def build_compiled(*values: Any) -> Order:
            o: Order = make(*values)
            init_checks(o)
            return o

        build_compiled.__name__ = "build"
        return build_compiled
    new, cls = object.__new__, Order  # the class itself (not the module's name, read per call)
    (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11) = (
        _slot(Order, name).__set__ for name in _ORDER_FIELDS
    )

    def build(
        client_order_id: str,
        instrument: str,
        side: Any,
        type: Any,
        quantity: Decimal,
        price: Decimal | None,
        stop_price: Decimal | None,
        time_in_force: Any,
        reduce_only: bool,
        created_ts_ns: int,
        tag: str,
        intent: str,
    ) -> Order:
        o: Order = new(cls)
        s0(o, client_order_id)
        s1(o, instrument)
        s2(o, side)
        s3(o, type)
        s4(o, quantity)
        s5(o, price)
        s6(o, stop_price)
        s7(o, time_in_force)
        s8(o, reduce_only)
        s9(o, created_ts_ns)
        s10(o, tag)
        s11(o, intent)
        init_checks(o)
        return o

    return build


_build_order = _order_builder()
_EMPTY: Mapping[str, float] = MappingProxyType({})

#: A backtest reading the replay itself (``Engine._consume_direct``) gives the loop's other
#: tasks a turn at least every this many feed batches (and after every batch that published).
DIRECT_TURN_EVERY = 64
#: While a step is synced behind the engine and no batch is there, how long the engine waits
#: for one before it looks at the sync again (seconds).
SYNC_POLL_S = 0.0002


class AnalyzerValues(Mapping[str, float]):
    """Analyzer outputs addressed as ``<instance>.<output>``, read only when asked for.

    At a decision point the strategy reads a handful of values; an analyzer's ``values()`` is
    called the first time one of its outputs is read after :meth:`refresh`, and its mapping
    is kept until the next refresh (so an analyzer may compute expensive outputs lazily).

    The closed candles of a decision point (:meth:`feed`) reach each analyzer when one of its
    outputs is first read, or at :meth:`settle` once the decision is made: an analyzer nothing
    reads before the order leaves (the strategy's rules, the filters, the exits all read
    through this mapping) is advanced after it. Each analyzer sees the same candles in the same
    order either way, and an analyzer's outputs depend on its own inputs only, so every value
    read is the same.
    """

    def __init__(self, analyzers: Sequence[tuple[str, Any]]) -> None:
        self._analyzers = dict(analyzers)
        self._cache: dict[str, Mapping[str, float]] = {}
        #: Candles closed at the current decision point, and the analyzers not yet fed them.
        self._fed = dict(analyzers)  # the analyzers proper (add_source adds readers only)
        self._pending: Sequence[Any] = ()
        self._unfed: dict[str, Any] = {}
        #: ``name.partition(".")`` of each name read so far: ``(instance, output)``.
        self._names: dict[str, tuple[str, str]] = {}
        #: Block tables whose row ``_lazy_row`` is each one's outputs, not yet in
        #: ``_cache`` (:meth:`use_table_rows`).
        self._lazy: Sequence[tuple[str, BlockTable]] = ()
        self._lazy_row = 0
        #: The mappings read at the decision point before, let go of at :meth:`settle`
        #: (freeing them is no part of the next decision).
        self._spent: dict[str, Mapping[str, float]] | None = None

    def refresh(self) -> None:
        """Forget the mappings read so far: the analyzers have new candles."""
        self._cache.clear()
        self._lazy = ()

    def feed(self, candles: Sequence[Any]) -> None:
        """Closed ``candles`` (in order) for every analyzer, handed over on its first read or
        at :meth:`settle`; the mappings read so far are forgotten."""
        self.settle()
        if self._cache:  # kept until settle(), once the decision is made
            self._spent, self._cache = self._cache, {}
        self._lazy = ()
        self._pending = candles
        self._unfed = self._fed.copy()

    def settle(self) -> None:
        """Hand the pending candles to every analyzer that has not had them yet (and let go
        of the mappings read at the decision point before)."""
        self._spent = None
        if not self._unfed:
            return
        unfed, self._unfed = self._unfed, {}
        candles, self._pending = self._pending, ()
        for a in unfed.values():
            for c in candles:
                a.on_candle(c)

    def _of(self, instance: str) -> Mapping[str, float]:
        got = self._cache.get(instance)
        if got is None and self._lazy:
            self._take_lazy()
            got = self._cache.get(instance)
        if got is None:
            if self._unfed:
                a = self._unfed.pop(instance, None)
                if a is not None:
                    for c in self._pending:
                        a.on_candle(c)
            got = self._cache[instance] = self._analyzers[instance].values()
        return got

    def get(self, name: str, default: Any = math.nan) -> Any:  # type: ignore[override]
        """The value of ``name``, or ``default`` when no analyzer reports it."""
        split = self._names.get(name)
        if split is None:
            instance, _, key = name.partition(".")
            split = self._names[name] = (instance, key)
        else:
            instance, key = split
        got = self._cache.get(instance)
        if got is None:
            if instance not in self._analyzers:
                return default
            got = self._of(instance)
        return got.get(key, default)

    def __getitem__(self, name: str) -> float:
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value  # type: ignore[no-any-return]

    @property
    def settled(self) -> bool:
        """Whether every analyzer has had the candles handed over (nothing for :meth:`settle`)."""
        return not self._unfed

    def use_rows(self, rows: Mapping[str, Mapping[str, float]]) -> None:
        """Read the analyzers' outputs from a block's row (a backtest) until the next one."""
        self.settle()
        self._cache.clear()
        self._lazy = ()
        self._cache.update(rows)

    def use_table_rows(self, tables: Sequence[tuple[str, BlockTable]], r: int) -> None:
        """:meth:`use_rows` of row ``r`` of each named table (``TableRow(table.columns, r)``),
        each row's mapping made when an output is first read: the quiet closes of several
        instruments that nothing reads (the array predicates rejected the row) make none."""
        self.settle()
        self._cache.clear()
        self._lazy = tables
        self._lazy_row = r

    def _take_lazy(self) -> None:
        """The rows :meth:`use_table_rows` left to make, into the mappings read."""
        tables, self._lazy = self._lazy, ()
        r = self._lazy_row
        cache = self._cache
        for name, table in tables:
            cache[name] = TableRow(table.columns, r)

    def instances(self) -> tuple[str, ...]:
        """The analyzer (and venue) instances read through ``self``, in their order."""
        return tuple(self._analyzers)

    def outputs(self, instance: str) -> Mapping[str, float]:
        """The outputs of analyzer ``instance`` by their own names (empty when no analyzer
        has that name): what ``self`` maps ``"<instance>.<name>"`` to, without going through
        every other analyzer's names."""
        if instance not in self._analyzers:
            return _EMPTY
        return self._of(instance)

    def __iter__(self) -> Iterator[str]:
        for instance in self._analyzers:
            for key in self._of(instance):
                yield f"{instance}.{key}"

    def __len__(self) -> int:
        return sum(len(self._of(instance)) for instance in self._analyzers)

    def __bool__(self) -> bool:
        # ``not values`` (every exit monitor's first check at a close) stops at the first
        # analyzer with an output instead of sizing every analyzer's mapping (the profile's
        # computed on demand); the same truth as ``len(self) > 0``.
        return any(len(self._of(instance)) for instance in self._analyzers)

    def add_source(self, instance: str, source: Any) -> None:
        """Read ``instance.<name>`` from ``source.values()`` too (a venue's own values)."""
        self._analyzers[instance] = source


@attrs.frozen
class _VenueValues:
    """A data venue's values of one instrument (capability ``"values"``), read like an
    analyzer's outputs under the venue's instance name."""

    venue: Any
    instrument: str

    def values(self) -> Mapping[str, float]:
        return self.venue.venue_values(self.instrument)  # type: ignore[no-any-return]


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
    #: The block of the tape the analyzers and candles are advancing over (backtests).
    block: TapeBlock | None = None
    values: AnalyzerValues = attrs.field(init=False)
    #: ``instrument.key`` (a property formatting ``venue:symbol`` on every read), kept.
    key: str = attrs.field(init=False)
    #: The strategy-timeframe curves a decision appends to (price, candles, then each
    #: charted series by name), found on the first decision and kept: nothing replaces a
    #: curve once it is in the engine's dicts.
    curves: tuple[Any, ...] | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self.values = AnalyzerValues(self.analyzers)
        self.key = self.instrument.key


@attrs.frozen(kw_only=True, repr=False)
class RunResult:
    """What a run produced: its id, summary metrics, the equity curve, the fills, and what the
    report charts (candles, the analyzer values picked in ``[run]``, funding, order tags).

    Its ``repr`` gives sizes, not contents: Python 3.11's ``asyncio.Runner`` formats the
    main task, result included, when it restores the SIGINT handler at the end of
    ``anyio.run``/``asyncio.run``, and a full repr of a long backtest's curves costs a
    noticeable share of the run."""

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
    #: Strategy-timeframe candles per instrument: ``(open_ts_ns, open, high, low, close,
    #: volume)``.
    candles: Mapping[str, Sequence[tuple[int, float, float, float, float, float]]] = attrs.Factory(
        dict
    )
    #: Per instrument, the analyzer values named in ``[run] overlays`` and ``panes``, read at
    #: each strategy-timeframe close: ``{instrument: {"<instance>.<output>": [(ts, v)]}}``.
    series: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]] = attrs.Factory(dict)
    #: Client order id to the order's tag: ``"entry"`` or ``"<monitor>: <reason>"``.
    order_tags: Mapping[str, str] = attrs.Factory(dict)
    #: Funding booked: ``(ts_ns, instrument, amount)``, positive = paid.
    funding: Sequence[tuple[int, str, Decimal]] = ()
    #: The journal the run wrote (signals, vetoes and events are read from it): a DuckDB
    #: file or a ``postgresql://`` URL.
    journal_path: str | None = None
    #: The password of a PostgreSQL journal (``[journal] password``), to read it back.
    journal_password: Secret | None = None

    def __repr__(self) -> str:
        # Short on purpose: Python 3.11's asyncio.run formats a ValueError holding the repr
        # of its main task (whose result is this) when it restores the SIGINT handler, so a
        # field-by-field repr of 100 instruments' curves cost seconds and hundreds of MB.
        points = sum(len(v) for v in self.price_curve.values())
        return (
            f"RunResult(run_id={self.run_id!r}, fills={len(self.fills)}, "
            f"equity_points={len(self.equity_curve)}, price_points={points}, "
            f"journal_path={self.journal_path!r})"
        )


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
        from tradewind.venues.replay import apply_run_bounds

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
            with building(vinst, config.path.name):
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
            check_capabilities(venue, f"$.venues.{key}")
            venue.add_instruments(mine)
        # The simulated venues' paper cash, summed (a real venue's account is seeded from the
        # venue itself at the start of the run).
        cash = Decimal(0)
        for key in dict.fromkeys(sec.venue for sec in config.instruments):
            venue = self.venues[key]
            if "simulated" in venue.capabilities:
                cash += Decimal(venue.starting_cash())
        self.portfolio = Portfolio(
            self.instruments, cash, reporting_currency=config.run.reporting_currency
        )
        #: The currency each instrument's P&L is in (:mod:`tradewind.trading.pnl`); final
        #: once the venues named the instruments' currencies (:meth:`_resolve_currencies`).
        self.pnl_currencies: dict[str, str] = pnl_currencies(
            self.instruments, config.run.reporting_currency
        )
        if run_id is None:
            # A backtest's id is derived from its config and data (identical reruns write
            # identical journals); a paper or live run is a new event each time.
            backtest = config.mode is Mode.BACKTEST
            run_id = backtest_run_id(config, self.venues.values()) if backtest else uuid.uuid4().hex
        self.run_id = run_id
        run = config.run
        self.orders = OrderManager(
            self.portfolio,
            self.run_id,
            settings=OrderSettings(
                breaker=BreakerPolicy(
                    failure_threshold=run.breaker_failures, cooldown_s=run.breaker_cooldown_s
                ),
                unknown_deadline_s=run.order_unknown_deadline_s,
                not_found_settle_s=run.order_not_found_settle_s,
                cancel_deadline_s=run.cancel_deadline_s,
            ),
            sleep=self.sleep,
            clock=_seconds(self.clock),
        )
        self.orders.pnl_currencies = self.pnl_currencies
        for venue in self.venues.values():
            venue.set_sink(self.orders)

        self.strategy = Strategy(config.strategy)
        self.strategy_tf = parse_timeframe(config.strategy.timeframe)
        tfs = sorted(set(config.timeframes_ns) | {self.strategy_tf})
        self.timeframes = tuple(tfs)
        self.step = math.gcd(*tfs)
        for venue in self.venues.values():
            if "replay" in venue.capabilities:
                venue.set_decision_step(self.step)

        filters = config.instances("filters")
        ordered = sorted(
            filters.values(),
            key=lambda p: (
                0 if getattr(host.plugin_class("filters", p.plugin), "essential", False) else 1
            ),
        )
        self.filters = [_build(config, p) for p in ordered]
        self.exits = [_build(config, p) for p in config.instances("exits").values()]
        self.notifiers = [_build(config, p) for p in config.instances("notifiers").values()]

        self.state: dict[str, _InstrumentState] = {}
        for sec, inst in zip(config.instruments, self.instruments.values(), strict=True):
            analyzers = []
            for key, p in config.instances("analyzers").items():
                cls = host.plugin_class("analyzers", p.plugin)
                with building(p, config.path.name):
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
            data_key = sec.data or sec.venue
            if "values" in self.venues[data_key].capabilities:
                if any(key == data_key for key, _ in analyzers):
                    raise ConfigError(
                        f"analyzer instance '{data_key}' has the name of the data venue whose "
                        f"values are read as '{data_key}.<name>'; rename one "
                        f"@ $.analyzers.{data_key}"
                    )
                self.state[inst.key].values.add_source(
                    data_key, _VenueValues(self.venues[data_key], inst.key)
                )
        #: What filters see: the portfolio, read only, and each instrument's analyzer values.
        self.filter_context = FilterContext(
            self.portfolio, {key: st.values for key, st in self.state.items()}
        )
        self.bus = EventBus(capacity=4096)
        #: Pause, resume, force exits and stop (Telegram commands, the HTTP API).
        self.control = EngineControl(self)
        self.notifications: NotifierHost | None = None
        #: The notifier host and whether it has channels that come due on the clock.
        self._timed_host: tuple[NotifierHost, bool] | None = None
        #: The last position :meth:`_holds` answered without its price (not a spot
        #: instrument with a minimum notional), its instrument and the answer.
        self._held: tuple[Position, Instrument | None, bool] | None = None
        self.journal: Journal | None = None
        #: The summary made as the run ended (also when it ended with an error).
        self.last_summary: dict[str, Any] = {}
        self._journal_path = journal_path
        #: The curves (:class:`~tradewind.trading.curves.Curve`: read as lists of tuples;
        #: the report reads their column chunks).
        self.equity_curve: Curve[tuple[int, float]] = Curve()
        self._equity = EquityCurve(self.portfolio, self.equity_curve)
        #: Strategy-timeframe closes per instrument, for the report's price chart.
        self.price_curve: dict[str, Curve[tuple[int, float]]] = {}
        self.candle_curve: dict[str, Curve[tuple[int, float, float, float, float, float]]] = {}
        self.series: dict[str, dict[str, Curve[tuple[int, float]]]] = {}
        self._charted = tuple(dict.fromkeys((*config.run.overlays, *config.run.panes)))
        self.funding_payments: list[tuple[int, str, Decimal]] = []
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
        #: two decision times (the portfolio as of the last one; see tradewind.filtering.view).
        self._snapshot: Snapshot | None = None
        self._multi = self._merged and len(self.state) > 1
        #: Replayed backtests advance analyzers and candles a block at a time (see
        #: tradewind.blocks); paper and live go candle by candle.
        self._block_ticks: int | None = (
            config.run.block_ticks if config.mode is Mode.BACKTEST and self._merged else None
        )
        #: Backtests over blocks: flat stretches go from one possible signal to the next.
        self._scheduler: Scheduler | None = (
            Scheduler(self)
            if self._block_ticks is not None
            and config.run.event_scheduler
            and not self._multi
            # Signals made here (a cluster's execution host receives them instead).
            and type(self)._strategy_signal is Engine._strategy_signal
            else None
        )
        #: Several replayed instruments over blocks: each instrument's block reaches past the
        #: feed's interval batches (analyzers and candles computed ahead, taken as stepping does).
        self._lookahead: Lookahead | None = (
            Lookahead(self, config.run.block_ticks)
            if self._multi
            and self._block_ticks
            and config.run.event_scheduler
            # The replay's own feed (a cluster host's feed is its own).
            and type(self)._feed is Engine._feed
            else None
        )
        #: ... and their closes with nothing but the strategy to act go the short way.
        self._quiet_closes: QuietCloses | None = (
            QuietCloses(self)
            if self._lookahead is not None
            # The engine's own step and decision (a cluster host's are its own).
            and type(self)._strategy_signal is Engine._strategy_signal
            and type(self)._decide is Engine._decide
            and type(self)._on_boundary is Engine._on_boundary
            else None
        )
        #: ... and so do their trades between decision points that nothing can act on.
        self._quiet_ticks = (
            self._quiet_closes
            if type(self)._on_ticks is Engine._on_ticks and type(self)._advance is Engine._advance
            else None
        )
        #: ... and so do their feed batches that only the clock and the mark read.
        self._quiet_batches: QuietBatches | None = quiet_batches(self)
        #: The engine's own signal and filter verdicts (a cluster host's are its own): the
        #: strategy and each filter called directly at a decision, without the coroutine of
        #: ``_strategy_signal`` and a ``_check_filter`` call per filter.
        self._own_signal = type(self)._strategy_signal is Engine._strategy_signal
        self._own_verdicts = type(self)._check_filter is Engine._check_filter
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
        #: Adds to the open position of each instrument since it opened (see ``pyramiding``).
        self._adds: dict[str, int] = {}
        #: Paper and live runs: order creates and lookups run in tasks of their own.
        self.venue_calls: VenueCalls | None = None
        #: Turns of the loop an order written ahead gets to leave before its step goes on
        #: (:meth:`VenueCalls.hand_over`; 0: the step's commit comes first).
        self.hand_over_turns = HAND_OVER_TURNS
        #: Feed batches the engine read itself from the replay (``_direct_feed``).
        self.direct_batches = 0
        #: The collector of a backtest that read the replay itself (``_consume_direct``).
        self.direct_collector: StepCollector | None = None
        #: Orders sent before their step's DuckDB commit (written ahead, handed over).
        self.handed_over = 0
        interval = config.run.reconcile_interval_s
        self._reconcile_every_ns = (
            None if interval is None or config.mode is Mode.BACKTEST else int(interval * 1e9)
        )
        self._next_reconcile_ns: int | None = None
        #: A re-reconciliation round read off the loop, applied at the next step.
        self._reconcile_reads: VenueReads | None = None
        # What an operator adds (tradewind.trading.operator): guards that refuse an instrument's
        # entries (blacklist, watchlist), services beside the feed (the API, the watchlist's
        # expiry job) and sinks of closed candles (the API's recent candles).
        from tradewind.trading.operator import host_services

        self.entry_guards: list[Callable[[str], str | None]] = []
        #: Instruments whose market data is unsubscribed (the watchlist driving the set):
        #: trades of theirs still in flight are dropped.
        self.unsubscribed: set[str] = set()
        self.candle_sinks: list[Callable[[Sequence[Candle]], None]] = []
        #: Called at the end of every engine step (the API's snapshot of what it reads).
        self.step_sinks: list[Callable[[], object]] = []
        #: Steps synced behind the engine and not yet released on the bus: (the journal's
        #: count of steps synced behind once it was written, the bus's ``held_total`` then).
        self._held_marks: collections.deque[tuple[int, int]] = collections.deque()
        #: Paper and live: what collects garbage between feed batches instead of inside a
        #: decision (None: CPython's own schedule, which backtests keep, except one that
        #: reads the replay itself: ``direct_collector``).
        self.collector: StepCollector | None = (
            StepCollector(young=ENGINE_YOUNG) if config.mode is not Mode.BACKTEST else None
        )
        self.services: list[Callable[[Engine], AbstractAsyncContextManager[Any]]] = host_services(
            config
        )

    def _resolve_currencies(self) -> None:
        """Give each instrument its base and quote currency from its execution venue's
        account (known once connected) when the config did not name them, and check that the
        venue can carry out the engine's close for the instrument's market type."""
        changed = False
        for i, (key, inst) in enumerate(list(self.instruments.items())):
            venue = self.state[key].exec_venue
            caps = venue.capabilities
            if inst.kind is InstrumentKind.PERP and "reduce_only" not in caps:
                raise ConfigError(
                    f"instrument {key} is a perpetual but its execution venue "
                    f"'{inst.venue}' ({type(venue).name}) does not declare reduce_only: the "
                    f"engine closes perpetual positions with reduce-only orders "
                    f"@ $.instruments[{i}].kind"
                )
            if "account" not in caps or (inst.base and inst.quote):
                continue
            base, quote = venue.instrument_currencies(inst.symbol)
            new = attrs.evolve(inst, base=inst.base or base, quote=inst.quote or quote)
            self.instruments[key] = new
            self.state[key].instrument = new
            changed = True
        if changed:
            self.portfolio.set_instruments(self.instruments)
        self.pnl_currencies = pnl_currencies(self.instruments, self.config.run.reporting_currency)
        self.orders.pnl_currencies = self.pnl_currencies

    def _holds(self, pos: Position) -> bool:
        """True when ``pos`` is a position to manage, not dust (:mod:`tradewind.trading.intents`:
        below one lot, or on spot below the minimum notional at the last price): dust cannot
        be sold, so it is neither an open position nor a block on new entries.

        The answer depends on the last price only for a spot instrument with a minimum
        notional; otherwise it is kept for the position (frozen) and instrument objects and
        given again while both are the same (the stepped closes ask it at every step)."""
        inst = self.instruments.get(pos.instrument)
        kept = self._held
        if kept is not None and kept[0] is pos and kept[1] is inst:
            return kept[2]
        answer = holds(inst, pos.quantity, self.portfolio.last_price(pos.instrument))
        if inst is None or inst.kind is not InstrumentKind.SPOT or inst.min_notional <= 0:
            self._held = (pos, inst, answer)
        return answer

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
        # A backtest holds start-up frozen (and the oldest generation's threshold raised)
        # from its journal's open to its close: the run's summary and the journal's
        # end-of-run write allocate enough to set off a full collection, which walked every
        # object the run kept (and, embedded, every module loaded before it).
        frozen = FrozenStart() if cfg.mode is Mode.BACKTEST else None
        if frozen is not None:
            frozen.start()
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
            try:
                await self._shutdown(info, summary, failure)
            finally:
                if frozen is not None:
                    frozen.stop()
        fills, trades, tags = self._history()
        self._read_back = None  # the result holds them now, not the engine
        return RunResult(
            run_id=self.run_id,
            summary=summary,
            equity_curve=self.equity_curve,
            closed_trades=trades,
            fills=fills,
            price_curve=self.price_curve,
            data_gaps=list(self.gaps),
            bad_rows=list(self.bad_rows),
            candles=self.candle_curve,
            series=self.series,
            order_tags=tags,
            funding=self.funding_payments,
            journal_path=self._journal_target(),
            journal_password=cfg.journal.password,
        )

    #: Turn SIGINT/SIGTERM into a clean stop (paper and live; the CLI's ``run`` sets it).
    handle_signals = False
    #: Leave a DuckDB journal open at the end of a run that finished it (:attr:`kept_journal`,
    #: which the caller closes): the CLI reads the report's signals, vetoes and events
    #: through it instead of closing the file and opening it again read-only (issue 17).
    keep_journal = False
    #: The journal :attr:`keep_journal` left open (None: closed as usual).
    kept_journal: Journal | None = None
    #: With :attr:`keep_journal`: a run that ended without a failure leaves its DuckDB
    #: journal's end-of-run write (the buffered rows, the run's end, the commit and the
    #: checkpoint: C++ that waits on the disk) to the caller as :attr:`kept_finish`, which
    #: the CLI runs on a thread of its own beside the report's first parts; it raises the
    #: :class:`JournalError` the run would have raised, the journal left open to close.
    defer_finish = False
    #: The finish :attr:`defer_finish` left to the caller (None: done in the run).
    kept_finish: Callable[[], None] | None = None
    #: Keep every fill, closed trade and order tag in memory in paper and live too, as a
    #: backtest does (tests compare the bounded history's answers with it).
    keep_history = False
    #: Points each curve (equity, prices, candles, charted series) of a paper or live run
    #: keeps in memory; older ones go to :attr:`curve_store` (read back by the report).
    curve_keep = 10_000
    #: The file a paper or live run's curves spill their older points to (None: a backtest,
    #: or :attr:`keep_history`, keeps every point in memory).
    curve_store: CurveStore | None = None
    #: Steps between two checks of the curves for points to spill, and until the next.
    curve_check_steps = 256
    _spill_countdown = 0
    #: The fills and closed trades read back from the journal for the run's summary, kept
    #: for its result (the same objects), and the counts they were read at.
    _read_back: tuple[tuple[int, int], list[Fill], list[Trade], dict[str, str]] | None = None
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

    def _journal_target(self) -> str:
        """Where the run journals: the path given, ``[journal] url``, or ``[run] journal``."""
        cfg = self.config
        return self._journal_path or cfg.journal.url or str(cfg.resolve(cfg.run.journal))

    def _open_journal(self) -> None:
        cfg = self.config
        secret = cfg.journal.password
        journal = Journal(
            self._journal_target(),
            self.run_id,
            password=None if secret is None else secret.reveal(),
            load_rows=cfg.journal.load_rows,
            load_every_s=cfg.journal.load_every_s,
            background=cfg.journal.load_in_background,
        )
        self.journal = journal
        if cfg.mode is Mode.BACKTEST and journal.has_runs:
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
        if journal.durable and not self.keep_history:
            # Paper and live write every fill, position and order as they are booked: the
            # order manager keeps the recent ones, the run's result reads the rest back.
            self.orders.history = TradeHistory.bounded(journal)
            # The curves' older points go to an unnamed file beside a journal file.
            target = self._journal_target()
            self.curve_store = CurveStore(None if "://" in target else str(Path(target).parent))
        if cfg.mode is not Mode.BACKTEST:
            # One durable commit per engine step, and before an order leaves for a real venue.
            journal.group_commit = True
            journal.simulated_venues = frozenset(
                key for key, v in self.venues.items() if "simulated" in v.capabilities
            )
            if journal.logs_steps and cfg.journal.sync_in_background:
                # The step's sync behind the engine: its events held on the bus until the
                # journal says it is durable (_settle_step).
                journal.sync_behind = True
                self.bus.hold()
        # Inline: each bus row takes its sequence number as its event is published, among the
        # order manager's rows, whatever the replay's batches (no task that runs later).
        self.bus.subscribe("journal", journal.record, inline=True)
        # Each notifier gets its own queue and task; messages go through the journal's outbox.
        self.notifications = NotifierHost(
            dict(zip(cfg.instances("notifiers"), self.notifiers, strict=True)),
            clock=self.clock,
            outbox=Outbox(journal.cursor()),
            control=self.control,
            summary_source=self.control.daily_figures,
            close_outbox=True,
            # A backtest never really sleeps: its notifiers are ticked once per engine step.
            ticker=cfg.mode is not Mode.BACKTEST,
        )
        self.notifications.subscribe(self.bus)

    async def _session(self, info: RunInfo) -> dict[str, Any]:
        cfg = self.config
        for venue in self.venues.values():
            await venue.connect()
        self._resolve_currencies()
        if self.journal is not None:
            # Before anything is journaled: a resumed session whose P&L currency changed
            # is refused here.
            self.journal.set_pnl_currencies(self.pnl_currencies)
        summary: dict[str, Any] = {}
        assert self.notifications is not None
        # The bus closes first (every queued event reaches the notifiers' channels), then the
        # notifier host flushes and waits for delivery.
        async with self.notifications, self.bus, self._services():
            # Reconcile with every execution venue before anything can trade; a failure
            # raises ReconciliationError and the run never starts (inside the block, so the
            # bus and the notifiers' outbox are closed on the way out).
            await prepare_session(self)
            try:
                cfg.host.pm.hook.tradewind_run_start(run=info)
                await self.bus.publish(
                    RunStarted(ts_ns=self.clock.now_ns(), run_id=self.run_id, mode=cfg.mode.value)
                )
                await self._publish_pending()  # what reconciliation found
                await self._settle_step()
                await self._report_bad_rows()
                async with self._venue_calls():
                    await self._consume_feed()
                    await self._finish_candles()
                    await self._settle_step()
                if cfg.mode is not Mode.BACKTEST:
                    await stop_orders(
                        self,
                        cancel_entries=cfg.run.cancel_entries_on_stop,
                        flatten=cfg.run.flatten_on_stop,
                    )
                    await self._publish_pending()
                    await self._settle_step()
            finally:
                # Always: the last events, RunFinished, and every queued event delivered.
                with anyio.CancelScope(shield=True):
                    if self._quiet_closes is not None:
                        self._quiet_closes.flush_all()  # the curves whole before they are read
                    summary = self.last_summary = self.summary()
                    summary["events_dropped"] = self.bus.dropped
                    if self.stopper.requested:
                        summary["stopped"] = self.stopper.reason
                    try:
                        await self._publish_pending()
                        await self._settle_step()
                    finally:
                        self._finished = True
                        await self.bus.release(stop=True)  # held or not, delivered
                        await self.bus.publish(
                            RunFinished(
                                ts_ns=self.clock.now_ns(),
                                run_id=self.run_id,
                                summary=finished_summary(summary),
                            )
                        )
        return summary

    @asynccontextmanager
    async def _venue_calls(self) -> AsyncIterator[None]:
        """Paper and live: venue calls run off the loop while the feed is consumed; leaving
        waits for the creates in flight."""
        if self.config.mode is Mode.BACKTEST:
            yield
            return
        async with VenueCalls(
            self.orders, self.sleep, hand_over_turns=self.hand_over_turns
        ) as calls:
            self.venue_calls = calls
            try:
                yield
            finally:
                self.venue_calls = None

    async def _consume_feed(self) -> None:
        """Process the feed batch by batch until it ends or a stop is requested.

        The feed runs in a task of its own and hands batches over a one-slot stream, so a
        stop request cancels only the wait for the next batch (never a step in progress, and
        never a venue's stream in the middle of its own task groups).
        """
        total = self.expected_ticks()
        direct = self._direct_feed()
        if direct is not None:
            await self._consume_direct(direct, total)
            return
        send, receive = anyio.create_memory_object_stream[TickBatch](1)
        # Paper and live: the garbage collector runs after a batch's step, not inside the
        # decision that happens to allocate its 700th object (tradewind.trading.collector).
        collector = self.collector if self.config.mode is not Mode.BACKTEST else None
        if collector is not None:
            collector.start()
        # A backtest keeps CPython's schedule with start-up frozen: its full collections
        # traverse what the run built, not every module loaded before it.
        frozen = FrozenStart() if collector is None else None
        if frozen is not None:
            frozen.start()

        async def pump() -> None:
            async with send, contextlib.aclosing(self._feed()) as feed:
                async for batch in feed:
                    await send.send(batch)

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump)
                if self.journal is not None and self.journal.logs_steps:
                    tg.start_soon(self._load_journal_while_waiting, self.journal)
                async with receive:
                    while not self.stopper.requested:
                        batch: TickBatch | None = None
                        try:
                            batch = await self._next_while_syncing(receive)
                        except anyio.EndOfStream:
                            break
                        if batch is None:
                            with self.stopper.waiting():
                                try:
                                    batch = await receive.receive()
                                except anyio.EndOfStream:
                                    break
                            self.stopper.done_waiting()
                            if self.stopper.requested:
                                break  # the wait was cancelled: no batch
                        assert batch is not None
                        await self.on_batch(batch)
                        if collector is not None:
                            collector.between_steps()
                        if self.progress is not None:
                            self.progress(len(batch), total)
                        if self.halted_at is not None:
                            break  # gap_policy = "halt"
                self.stopper.done_waiting()
                tg.cancel_scope.cancel()  # a stop: the feed ends here
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        finally:
            if collector is not None:
                collector.stop()
            if frozen is not None:
                frozen.stop()

    async def _next_while_syncing(
        self, receive: MemoryObjectReceiveStream[TickBatch]
    ) -> TickBatch | None:
        """While steps are synced behind the engine (``[journal] sync_in_background``):
        the next batch if the feed hands one over before their syncs return (the engine
        computes it meanwhile), else None once they are durable and their events are out
        (the engine then waits for data as usual); a step's events go out as soon as it is
        durable either way. Raises EndOfStream."""
        journal = self.journal
        while journal is not None and journal.syncing:
            await self._settle_step(wait=False)
            if not journal.syncing:
                break
            # Short waits: a sync takes a millisecond or more, and a step's events go out
            # within one of these once it returned.
            with anyio.move_on_after(SYNC_POLL_S):
                return await receive.receive()
        if self.bus.held:
            await self._release_durable()
        return None

    def _direct_feed(self) -> Iterator[TickBatch] | None:
        """Backtests of several instruments replayed from one venue: the replay's interval
        batches as a plain iterator (:meth:`ReplayVenue.interval_batches`), read by the engine
        itself instead of through a feed task and a one-slot stream. The same batches in the
        same order; None where the feed needs its task (paper and live, a paced or
        subscribed replay, several data venues, a cluster host's own feed, the step log)."""
        if (
            self.config.mode is not Mode.BACKTEST
            or not self._multi
            or type(self)._feed is not Engine._feed
            or (self.journal is not None and self.journal.logs_steps)
        ):
            return None
        keys = {st.data_venue for st in self.state.values()}
        if len(keys) != 1:
            return None
        from tradewind.venues.replay import ReplayVenue

        venue = self.venues[next(iter(keys))]
        # The built-in replay venue itself (not a probe of any venue for a method): a
        # third-party data venue keeps the feed's task and stream.
        if not isinstance(venue, ReplayVenue) or "replay" not in venue.capabilities:
            return None
        return venue.interval_batches([st.instrument for st in self.state.values()])

    async def _consume_direct(self, batches: Iterator[TickBatch], total: int | None) -> None:
        """:meth:`_consume_feed` over an iterator the engine reads itself. Other tasks (the
        bus's subscribers, the signal watcher, services) get the loop after every batch that
        published an event and at least every ``DIRECT_TURN_EVERY`` batches; a stop request
        ends the run before the next batch, as it ends the wait for one in the feed's task."""
        checkpoint = anyio.lowlevel.checkpoint
        bus = self.bus
        await checkpoint()
        published = bus.published
        since = 0
        # The garbage collector between batches, as in paper and live (its youngest
        # generation at ENGINE_YOUNG net allocations, start-up frozen): with a hundred
        # instruments CPython's own schedule ran ~1,600 young and 14 full collections in a
        # run of 125,571 batches (~2 s of ~18 s CPU; ~0.6 s this way). It decides only when
        # cycles are freed, never what a step computes.
        collector = self.direct_collector = StepCollector(young=ENGINE_YOUNG)
        collector.start()
        quiet = self._quiet_batches
        try:
            for batch in batches:
                if self.stopper.requested:
                    break
                if quiet is None:
                    await self.on_batch(batch)
                else:
                    # A quiet batch without a coroutine (QuietBatches.take, its end aside).
                    taken = quiet.take_now(batch)
                    if taken == NOT_TAKEN:
                        await self.on_batch(batch)
                    elif taken == TAKEN_PUBLISH:
                        await self._publish_pending()
                        quiet.end(batch)
                self.direct_batches += 1
                collector.between_steps()
                if self.progress is not None:
                    self.progress(len(batch), total)
                if self.halted_at is not None:
                    break  # gap_policy = "halt"
                since += 1
                if since >= DIRECT_TURN_EVERY or bus.published != published:
                    await checkpoint()
                    published = bus.published
                    since = 0
        finally:
            if quiet is not None:
                quiet.sync_all()  # the validators as on_batch would have left them
            collector.stop()

    @staticmethod
    async def _load_journal_while_waiting(journal: Journal) -> None:
        """Paper and live with the journal's step log: steps are durable in the log and
        loaded into DuckDB with later steps; while no step comes (a quiet feed), load what
        the log holds every ``load_every_s``, so the journal's other readers (the API's own
        connection) see the last steps too. Runs on the engine's loop, between its steps."""
        while True:
            await anyio.sleep(journal.load_every_s)
            try:
                journal.load_due()
            except JournalError:
                pass  # kept in journal.error; the next step's load retries, or stops the run

    async def _shutdown(
        self, info: RunInfo, summary: dict[str, Any], failure: BaseException | None
    ) -> None:
        """Close everything, whatever ended the run (shielded); raise a journal failure."""
        self.bus.dispose()
        summary = summary or self.last_summary  # the run failed after its summary was made
        if summary:
            # The bus is closed now: its final drop counts (closing counts what was still
            # queued for a subscriber that did not drain in time).
            summary["events_dropped"] = self.bus.dropped
        problems = await close_quietly("venue", ((key, v.close) for key, v in self.venues.items()))
        self.control.close()
        if self.notifications is not None:
            self.notifications.release()
        if self.notifications is None or not self.notifications.entered:
            # Never started by the notifier host (which closes them itself when it was).
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
        try:
            # The accounts as booked, however the run ended (a feed's end included).
            record_final_balances(self)
        except Exception:
            log.exception("could not journal the final account balances")
        if failure is None and not self.orders.history.complete:
            # The run's whole history for its result, read back while the journal is open
            # (the summary read it already, unless a second signal cut the session short).
            self._history()
        ts_ns = self.clock.now_ns()
        if (
            failure is None
            and self.keep_journal
            and self.defer_finish
            and journal.backend == "duckdb"
        ):
            # Left to the caller, with the journal (:attr:`defer_finish`).
            self.kept_journal = journal
            self.kept_finish = partial(finish_journal, journal, ts_ns, summary)
            return
        error: JournalError | None = None
        try:
            finish_journal(journal, ts_ns, summary)
        except JournalError as exc:
            error = exc
        if failure is None and error is None and self.keep_journal and journal.backend == "duckdb":
            # Finished and checkpointed: the caller reads the run's report through this
            # connection and closes it (:attr:`keep_journal`).
            self.kept_journal = journal
            return
        try:
            journal.close()
        except (JournalError, duckdb.Error):
            pass  # reported through ``error``
        if error is not None:
            if failure is None:
                raise error
            if not isinstance(failure, JournalError):
                # The run's own failure is the one reported; the journal's is logged.
                log.error("%s", error)

    @asynccontextmanager
    async def _services(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for service in self.services:
                await stack.enter_async_context(service(self))
            yield

    def expected_ticks(self) -> int | None:
        """Ticks the data venues will deliver, when they know (replay does), else None."""
        total = 0
        for key in {st.data_venue for st in self.state.values()}:
            venue = self.venues[key]
            n = venue.total_ticks() if "replay" in venue.capabilities else None
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
            from tradewind.venues.replay import merge_by_interval

            streams = [self.venues[k].stream_trades(i) for k, i in by_venue.items()]
            async for batch in merge_by_interval(streams, self.step):
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
        if self.control.has_pending():
            await self.control.apply()  # force exits asked for by a command
        if batch.instrument in self.unsubscribed:
            return
        st = self.state[batch.instrument]
        result = None if self._lookahead is None else self._lookahead.validated(st, batch)
        if result is None:
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
        if self._lookahead is not None:
            self._lookahead.arrived(st, batch, n)
        if n == 0:
            return
        self.ticks += n
        ts = clean.ts_ns
        step = self.step
        prev_ts = st.last_ts
        gaps = gap_starts(ts, prev_ts, self.max_gap)
        st.last_ts = ts.item(-1)
        if gaps and gaps[0] == 0 and prev_ts is not None:
            # Before time moves on: a flatten closes at the last price before the hole.
            gaps.pop(0)
            await self._on_gap(st, prev_ts, ts.item(0))
            if self.halted_at is not None:
                return
        if self._merged and self._barrier is not None and ts.item(0) >= self._barrier:
            await self._reach(ts.item(0))
        if st.next_boundary is None:
            st.next_boundary = (ts.item(0) // step) * step + step
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
                await self._on_gap(st, ts.item(i - 1), ts.item(i))
                if self.halted_at is not None:
                    return
            boundary = st.next_boundary
            assert boundary is not None
            if ts.item(i) >= boundary:
                # Time passed a boundary: everything before it has been seen; decide there.
                if self._merged:
                    await self._reach(ts.item(i))
                else:
                    t_close = (ts.item(i) // step) * step
                    await self._walk(st, t_close)
                    st.next_boundary = t_close + step
                continue
            j = int(ts.searchsorted(boundary, side="left"))
            if gaps:
                j = min(j, gaps[0])
            if self._block_ticks is not None:
                if st.block is None:
                    self._open_block(st, clean, i, j, gaps[0] if gaps else n)
                assert st.block is not None
                j = min(j, st.block.end)
                if self._scheduler is not None and self._scheduler.quiet(st):
                    k = await self._scheduler.skip(st, clean, i, gaps[0] if gaps else n)
                    if k > i:
                        i = k
                        continue
                if self._scheduler is not None and self._scheduler.holding(st):
                    k = await self._scheduler.hold(st, clean, i, gaps[0] if gaps else n)
                    if k > i:
                        i = k
                        continue
            # The whole batch as it is (no second batch object over the same arrays).
            piece = clean if i == 0 and j == n else clean.slice(i, j)
            quiet = self._quiet_ticks
            if quiet is not None and quiet.ticks(st, piece):
                if not self._nothing_to_publish():
                    await self._publish_pending()
            else:
                await self._on_ticks(st, piece)
            i = j
            if st.block is not None and i >= st.block.end:
                st.block.finish()
                st.block = None

    def _open_block(
        self, st: _InstrumentState, clean: TickBatch, i: int, interval_end: int, limit: int
    ) -> None:
        """Start a block at trade ``i`` of ``clean``: at most ``[run] block_ticks`` trades (a
        timestamp is never split; 0 = up to the next decision point), never past ``limit``
        (the batch's end or its next data gap)."""
        if self._lookahead is not None and self._lookahead.open(st, clean, i, limit):
            return  # a block reaching past the batch (several instruments)
        size = self._block_ticks
        if not size:
            end = interval_end
        elif i + size >= limit:
            end = limit
        else:
            ts = clean.ts_ns
            end = min(limit, int(ts.searchsorted(ts[i + size - 1], side="right")))
        ticks = clean.slice(i, end)
        st.block = TapeBlock.open(ticks, end, st.aggregator.update_arrays(ticks), st.analyzers)

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
        # Read once per piece (the same objects at every step).
        position = self.portfolio.position
        exits = self.exits
        holds = self._holds
        journal = self.journal
        durable = journal is not None and journal.durable
        rest = piece
        n = len(rest.ts_ns)
        while n:
            ts = rest.ts_ns
            end = n
            gap_print = st.after_gap
            if gap_print:
                # The first trade after a data gap: exits are evaluated on it alone, and one
                # that triggers (a stop the price jumped across) fills at it.
                st.after_gap = False
                end = int(ts.searchsorted(ts[0], side="right"))
            if simulated:
                fill_ts = venue.next_fill_ts(rest)
                if fill_ts is not None:
                    end = min(end, _after(ts, fill_ts))
            pos = position(key)
            decision: ExitDecision | None = None
            window = rest if end == n else rest.slice(0, end)
            if exits and holds(pos):
                ctx: Any = self.filter_context
                if self._snapshot is not None:
                    ctx = AsOf(
                        self.portfolio,
                        key,
                        self._snapshot,
                        st.cash_start,
                        rest.first_ts,
                        self.filter_context.analyzer_values,
                    )
                for mon in exits:
                    d = mon.on_ticks(pos, window, ctx)
                    if d is not None and (decision is None or d.ts_ns < decision.ts_ns):
                        decision = d
                if decision is not None:
                    # A decision stamped before the window (a monitor's own clock) acts at
                    # the window's first trade: at least one trade is always consumed.
                    cut = _after(ts, decision.ts_ns)
                    if cut < end:
                        end = cut if cut > 1 else 1
            # The window unless an exit cut it shorter (one slice fewer per step).
            head = window if end == len(window.ts_ns) else rest.slice(0, end)
            self._advance(head, simulated, venue)
            if decision is not None and gap_print:
                at = (float(rest.price[0]), int(ts[0]))
                await self._close_at(st, attrs.evolve(decision, price=at[0]), at)
            elif decision is not None:
                await self._close_position(st, decision)
            # The position closed to nothing (or dust) in this step: the monitors forget it.
            # The same position object as before the step is held or not alike at the one
            # current mark (``h and not h``): nothing to ask then.
            after = position(key)
            if after is not pos and exits and holds(pos) and not holds(after):
                for mon in exits:
                    mon.forget(key)
            if end == n:
                break
            if self.orders.pending and not durable:
                # A backtest publishes a step's events as the step ends, where a feed that
                # ended its batch here would have: the bus's rows take their sequence numbers
                # in the same place whatever the replay's batches. (A paper or live step is
                # the feed's batch: one durable commit, then its events.)
                await self._publish_pending()
            rest = rest.slice(end, n)
            n -= end
        if st.block is None:  # a block has fed them already
            st.aggregator.update(piece)
            for a in st.tick_analyzers:
                a.on_ticks(piece)
        if not self._nothing_to_publish():  # else the call would do nothing (the same state)
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
            venue = self.venues[key]
            rows = list(venue.bad_rows) if "replay" in venue.capabilities else []
            if not rows:
                continue
            self.bad_rows.extend(rows)
            await self.bus.publish(
                BadRows(
                    ts_ns=self.clock.now_ns(),
                    instrument=key,
                    rejected=_reason_counts(rows),
                    count=len(rows),
                    rows=[str(r) for r in rows[: BadRows.LISTED]],
                )
            )

    def _advance(self, piece: TickBatch, simulated: bool, venue: Any) -> None:
        last_ts = piece.ts_ns.item(-1)  # ``piece.last_ts``, read once (a Python int)
        if hasattr(self.clock, "advance_to"):
            self.clock.advance_to(last_ts)  # type: ignore[attr-defined]
        self.portfolio.mark(piece.instrument, piece.price.item(-1), last_ts)
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
        quiet = self._quiet_closes
        if quiet is not None:
            quiet.new_pass()
            # The same closes in the same order, quiet ones the short way.
            await reach_pass(self, quiet, heap, due, t)
        else:
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
        if st.block is not None:
            return st.block.closes_before(t)
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
        if self.control.has_pending():
            await self.control.apply()  # force exits asked for by a command
        # Resolves orders whose outcome is unknown (a no-op otherwise), off the loop if it can.
        if self.venue_calls is not None:
            self.venue_calls.poll()
        else:
            await self.orders.poll()
        await self._maybe_reconcile()
        row: Mapping[str, Mapping[str, float]] = {}
        if st.block is not None:
            closed, row = st.block.take(t_close)
        else:
            closed = st.aggregator.advance(t_close)
        if not closed:
            return
        self.candles += len(closed)
        for sink in self.candle_sinks:
            sink(closed)
        values = st.values
        if row:
            values.use_rows(row)  # the analyzers' outputs at this close, from the block
        else:
            # Each analyzer takes the closed candles when first read, the rest once the
            # decision is made (below): what the decision does not read waits for the order.
            values.feed(closed)
        key = st.key
        pos = self.portfolio.position(key)
        if self._holds(pos) and self.exits:
            decision = None
            for c in closed:
                for mon in self.exits:
                    decision = mon.on_candle(pos, c, values, self.filter_context)
                    if decision is not None:
                        break
                if decision is not None:
                    await self._close_position(st, decision)
                    break
        for c in closed:
            if c.timeframe_ns == self.strategy_tf:
                self.decision_points += 1
                self._equity.record(t_close)  # cash from the fill ledger while flat
                curves = st.curves
                if curves is None:
                    curves = st.curves = self._curves_of(key)
                if self._quiet_closes is not None:
                    self._quiet_closes.flush(key)  # the quiet closes' points before these
                prices, candles, charted = curves
                prices.append((t_close, c.close))
                candles.append((c.open_ts_ns, c.open, c.high, c.low, c.close, c.volume))
                for name, curve in charted:
                    curve.append((t_close, float(values.get(name))))
                await self._decide(st, c, t_close)
        values.settle()
        if not self._nothing_to_publish():  # else the call would do nothing (the same state)
            await self._publish_pending()

    def _curves_of(self, key: str) -> tuple[Any, ...]:
        """The curves a decision of instrument ``key`` appends to: its price and candle
        curves and, per charted name in order, its series (each made empty where missing,
        as :func:`curve_of` does; the series' dict only when something is charted)."""
        prices = curve_of(self.price_curve, key)
        candles = curve_of(self.candle_curve, key)
        charted: tuple[tuple[str, Curve[tuple[int, float]]], ...] = ()
        if self._charted:
            mine = self.series.setdefault(key, {})
            charted = tuple((name, curve_of(mine, name)) for name in self._charted)
        return prices, candles, charted

    async def _maybe_reconcile(self) -> None:
        """Re-reconcile the execution venues every ``reconcile_interval_s`` (paper, live).

        The venue reads run off the loop (a slow venue never holds decisions or exits); what
        they found is applied at the first step after they end."""
        every = self._reconcile_every_ns
        if every is None or self.journal is None:
            return
        now = self.clock.now_ns()
        if self._next_reconcile_ns is None:
            self._next_reconcile_ns = now + every
            return
        if self._reconcile_reads is not None:  # read off the loop: applied here, on it
            reads, self._reconcile_reads = self._reconcile_reads, None
            self.orders.pending.extend(apply_reads(self, reads, now))
        if now < self._next_reconcile_ns:
            return
        self._next_reconcile_ns = now + every
        if self.venue_calls is None:
            await rereconcile(self)
        elif not self.venue_calls.read(lambda: read_venues(self), self._keep_reads):
            log.warning("reconciliation: the previous round's venue reads are still running")

    def _keep_reads(self, reads: VenueReads) -> None:
        self._reconcile_reads = reads

    async def _decide(self, st: _InstrumentState, candle: Candle, ts_ns: int) -> None:
        if self.control.paused:
            return  # paused by a command: no new entries (exits still run)
        if self.stopper.requested:
            return  # stopping (a signal, a journal that cannot write): no new entries
        if self.portfolio.has_open_order(st.key):
            return  # no decision while an order of this instrument is in flight
        if self._own_signal:  # what _strategy_signal returns, without its coroutine
            signal = self.strategy.decide(st.instrument, candle.close, ts_ns, st.values)
        else:
            signal = await self._strategy_signal(st, candle, ts_ns)
        if signal is None:
            return
        await self._enter(st, candle, ts_ns, signal)

    async def _enter(
        self, st: _InstrumentState, candle: Candle, ts_ns: int, signal: Signal
    ) -> None:
        """The strategy's ``signal`` at ``ts_ns``: size it, run the guards and filters, send
        the entry (or journal why not)."""
        key = st.key
        sec = self.config.strategy
        try:
            equity = self.portfolio.equity()
        except ConversionError as exc:
            self.signals += 1
            await self.bus.publish(SignalEvent(ts_ns=ts_ns, signal=signal))
            await self._refuse(signal, ts_ns, "account", f"equity cannot be valued: {exc}")
            return
        qty = size_for(
            signal,
            st.instrument,
            equity,
            self._risk_pct,
            sec.max_notional,
            max_leverage=self._max_leverage,
            instrument_cap=sec.instrument_caps.get(key),
        )
        if type(signal) is Signal:  # attrs.evolve's generic field walk costs ~2 µs here
            signal = build_signal(
                signal.instrument,
                signal.side,
                signal.entry,
                signal.stop,
                signal.score,
                signal.ts_ns,
                signal.reasons,
                qty,
                signal.intent,
            )
        else:
            signal = attrs.evolve(signal, quantity=qty)
        self.signals += 1
        await self.bus.publish(_signal_event(ts_ns, signal))
        for guard in self.entry_guards:  # blacklisted, or off the watchlist
            blocked = guard(key)
            if blocked is not None:
                await self._refuse(signal, ts_ns, "operator", blocked)
                return
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
        own = self._own_verdicts
        for index, flt in enumerate(self.filters):
            try:
                refusal = (
                    flt.check(signal, self.filter_context)  # what _check_filter gives
                    if own
                    else self._check_filter(index, flt, signal)
                )
            except ConversionError as exc:
                await self._refuse(signal, ts_ns, "account", f"equity cannot be valued: {exc}")
                return
            if refusal is not None:
                self.vetoes[refusal.filter] = self.vetoes.get(refusal.filter, 0) + 1
                await self.bus.publish(VetoEvent(ts_ns=ts_ns, veto=refusal))
                await self._act_on(refusal, candle.close)
                return
        # Entry semantics: one entry per instrument; adds only up to ``pyramiding``.
        pos = self.portfolio.position(key)
        intent = order_intent(st.instrument, pos.quantity, signal.side, qty, candle.close)
        if intent == "entry" and short_refused(st.instrument, signal.side, st.exec_venue):
            await self._refuse(
                signal,
                ts_ns,
                "position",
                f"{key} is a spot market and its venue '{st.instrument.venue}' does not "
                f"declare margin: no short selling (a sell entry would sell coin the account "
                f"does not hold)",
            )
            return
        if intent != "entry":
            if intent != "add":  # reduce, close or flip: an entry signal never sends those
                await self._refuse(
                    signal,
                    ts_ns,
                    "position",
                    f"{key} holds a {pos.side.value if pos.side else ''} position of "
                    f"{abs(pos.quantity)}: no entry against it (the reversal filter closes it "
                    f"first)",
                )
                return
            adds = self._adds.get(key, 0)
            if adds >= self.config.strategy.pyramiding:
                await self._refuse(
                    signal,
                    ts_ns,
                    "position",
                    f"{key} already holds a position of {abs(pos.quantity)}: no new entry "
                    f"(pyramiding = {self.config.strategy.pyramiding}, {adds} add(s) made)",
                )
                return
            self._adds[key] = adds + 1
        else:
            self._adds.pop(key, None)
        await self._send(st, signal, qty, ts_ns, intent=intent)
        self.entries_sent += 1

    async def _strategy_signal(
        self, st: _InstrumentState, candle: Candle, ts_ns: int
    ) -> Signal | None:
        """The strategy's signal at a strategy-timeframe close (an execution host of a
        cluster receives it from the strategy host of the instrument's shard instead)."""
        return self.strategy.decide(st.instrument, candle.close, ts_ns, st.values)

    def _check_filter(self, index: int, flt: Any, signal: Signal) -> Veto | None:
        """The verdict of the chain's ``index``-th filter on the sized ``signal`` (an execution
        host of a cluster takes an account-free filter's verdict from the strategy host)."""
        veto: Veto | None = flt.check(signal, self.filter_context)
        return veto

    async def _refuse(self, signal: Signal, ts_ns: int, name: str, reason: str) -> None:
        """Refuse ``signal`` on the engine's own account (journaled as a veto)."""
        veto = Veto(filter=name, signal=signal, ts_ns=ts_ns, reason=reason)
        self.vetoes[name] = self.vetoes.get(name, 0) + 1
        await self.bus.publish(VetoEvent(ts_ns=ts_ns, veto=veto))

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
            if not self._holds(pos):
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
        intent: str = "entry",
    ) -> Order:
        order = _build_order(
            self.orders.next_client_order_id(),
            st.key,
            signal.side,
            OrderType.MARKET,
            qty,
            None,  # price
            None,  # stop_price
            TimeInForce.IOC,
            reduce_only,
            ts_ns,
            reason or intent,
            intent,
        )
        if "simulated" in st.exec_venue.capabilities:
            st.exec_venue.set_time(ts_ns, st.key)  # the instrument's own clock
        elif self.venue_calls is not None:
            # A real venue: opened (journaled, the instrument blocked) now, sent in a task;
            # written ahead to the intent log, its request leaves before the step's commit.
            if await self.venue_calls.hand_over(st.exec_venue, order, ts_ns, exit_reason=reason):
                self.handed_over += 1
            return order
        try:
            await self.orders.submit(st.exec_venue, order, ts_ns, exit_reason=reason)
        except Exception as exc:
            log.error("order %s failed: %s", order.client_order_id, exc)
        return order

    async def _close_position(self, st: _InstrumentState, decision: ExitDecision) -> Order | None:
        """Close the whole position with the order its market type allows: a perpetual's
        close is reduce-only (it can never open the other side); a spot close is a plain
        sell of what is held (spot has no reduce-only), never more than the account holds."""
        if self.orders.journal_error is not None:
            return None  # it could not be journaled, so it is not sent (the run is stopping)
        pos = self.portfolio.position(st.instrument.key)
        if not self._holds(pos) or any(
            o.instrument == pos.instrument and o.intent in ("close", "reduce")
            for o in self.portfolio.open_orders()
        ):
            return None
        inst = st.instrument
        account = self.portfolio.accounts.get(inst.venue)
        held = account.balance(inst.base) if account is not None and inst.base else None
        qty, reduce_only = close_terms(inst, pos.quantity, held)
        if qty <= 0:
            log.error(
                "cannot close %s: the account of venue '%s' holds no %s",
                inst.key,
                inst.venue,
                inst.base,
            )
            return None
        side = pos.side.opposite  # type: ignore[union-attr]
        # "close", or "reduce" when the spot account holds less than the position (what it
        # cannot sell stays a position, reported as such).
        intent = order_intent(inst, pos.quantity, side, qty, self.portfolio.last_price(inst.key))
        price = st.instrument.round_price(decision.price)  # the close's entry and stop
        close = build_signal(
            pos.instrument, side, price, price, 0.0, decision.ts_ns, {}, qty, "close"
        )
        return await self._send(
            st,
            close,
            qty,
            decision.ts_ns,
            reduce_only=reduce_only,
            reason=f"{decision.monitor}: {decision.reason}",
            intent=intent,
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
        self._journal_failed(journal)

    def _journal_failed(self, journal: Journal) -> None:
        """A journal write failed (:attr:`Journal.error`): no new order, and the run stops."""
        if journal.error is not None and not self.stopper.requested:
            if self.orders.journal_error is None:
                self.orders.journal_error = str(journal.error)
            self.stopper.request(f"the journal cannot be written ({journal.error})")

    def _nothing_to_publish(self) -> bool:
        """Whether :meth:`_publish_pending` would do nothing now: no position priced at a
        mark to journal, no journal whose step needs a commit (a durable one) or that failed,
        no event of the step, no notifier host due on the clock, no step sink. A quiet close
        of several instruments that sent nothing skips the call then (the same state)."""
        journal = self.journal
        if journal is not None and (journal.durable or journal.error is not None):
            return False
        if self.portfolio.priced_pending or self.orders.pending or self.step_sinks:
            return False
        host = self.notifications
        return host is None or host.ticker or not self._host_timed(host)

    def _host_timed(self, host: NotifierHost) -> bool:
        """``host.timed`` (whether a backtest ticks it), kept per host object."""
        timed = self._timed_host
        if timed is None or timed[0] is not host:
            timed = self._timed_host = (host, host.timed)
        return bool(timed[1])

    def _spill_curves(self, store: CurveStore) -> None:
        """Let each curve holding more than twice :attr:`curve_keep` points in memory keep
        its newest :attr:`curve_keep` (every :attr:`curve_check_steps` steps: a spill writes
        thousands of points at once)."""
        self._spill_countdown = self.curve_check_steps
        keep = self.curve_keep
        curves: list[Curve[Any]] = [
            self.equity_curve,
            *self.price_curve.values(),
            *self.candle_curve.values(),
            *(c for mine in self.series.values() for c in mine.values()),
        ]
        try:
            for curve in curves:
                if curve.in_memory > 2 * keep:
                    curve.spill(store, keep)
        except OSError as exc:  # (a curve whose write failed still holds its points)
            log.warning("curves kept in memory from now on: writing them out failed: %s", exc)
            self.curve_store = None

    async def _settle_step(self, *, wait: bool = True) -> None:
        """The steps synced behind the engine (``[journal] sync_in_background``) are durable:
        wait for their syncs if they have not returned (``wait=False``: only those that
        did), then hand their events — and whatever else the bus held since, once none is
        syncing — to the bus's queued subscribers. A failed sync stops the run as a failed
        commit does; the held events go out then too, as after a failed commit."""
        journal = self.journal
        if journal is not None and journal.syncing:
            try:
                journal.settle(wait=wait)
            except JournalError:
                pass  # kept in journal.error; the step's rows are staged again
            self._journal_failed(journal)
        await self._release_durable()

    async def _release_durable(self) -> None:
        """Hand the queued subscribers the events held for steps the journal settled (all
        of them when no step is being synced)."""
        bus = self.bus
        if not bus.held:
            return
        journal = self.journal
        marks = self._held_marks
        if journal is None or not journal.syncing:
            marks.clear()
            await bus.release()
            return
        upto = None
        while marks and marks[0][0] <= journal.behind_done:
            upto = marks.popleft()[1]
        if upto is not None:
            await bus.release(upto=upto)

    async def _publish_pending(self) -> None:
        journal = self.journal
        behind = journal is not None and journal.sync_behind
        if behind and self._held_marks:
            await self._settle_step(wait=False)  # the steps durable by now: their events out
        for pos in self.portfolio.take_priced():
            if self.journal is not None:
                # An adopted spot holding priced at its first mark (trading/adoption.py).
                self.journal.record_position(pos, ts_ns=self.portfolio.ts_ns, reason="entry_priced")
        if not behind:
            self._commit_step()
        if self.curve_store is not None:
            self._spill_countdown -= 1
            if self._spill_countdown <= 0:
                self._spill_curves(self.curve_store)
        # The step's events go to the bus in runs (one hand-over per subscriber per run); a
        # funding payment or a closed position is acted on here first, after the events before
        # it were handed over, as when they were published one by one.
        events = self.orders.take_events()
        start = 0
        for i, event in enumerate(events):
            if not isinstance(event, FundingPayment | PositionClosed):
                continue
            await self.bus.publish_many(events[start:i])
            start = i
            if isinstance(event, FundingPayment):
                inst = self.instruments.get(event.instrument)
                if self.journal is not None and inst is not None:
                    # Journaled before it is booked: a resumed session restores it.
                    self.journal.record_cash_flow(
                        inst.venue,
                        inst.key,
                        inst.quote,
                        event.amount,
                        ts_ns=event.ts_ns,
                        kind="funding",
                    )
                self.portfolio.apply_funding(event.instrument, event.amount)
                self.funding_payments.append((event.ts_ns, event.instrument, event.amount))
            if isinstance(event, PositionClosed):
                # Exit monitors drop a position's state when it is really flat, not when its
                # close is sent (a close can take a while to fill).
                for mon in self.exits:
                    mon.forget(event.position.instrument)
        await self.bus.publish_many(events[start:])
        if behind:
            # The step's events went to the journal (inline) and are held for the other
            # subscribers: its record, written now, is synced while the next steps compute
            # (up to the journal's sync_depth); its events go out once it is durable.
            assert journal is not None
            self._commit_step()
            if journal.syncing:
                self._held_marks.append((journal.syncs_behind, self.bus.held_total))
            if self.step_sinks:
                # A sink publishes the engine's state as it is now (the API's snapshot): it
                # waits for this step's own sync.
                await self._settle_step()
            else:
                await self._release_durable()
        host = self.notifications
        if host is not None and not host.ticker:
            # A backtest: due notifications at engine time. Only an outbox channel has any
            # (NotifierHost.timed); a host of event channels alone is not ticked.
            if self._host_timed(host):
                host.tick()
        for sink in self.step_sinks:
            sink()

    # -- results --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Headline metrics of the run so far."""
        from tradewind.report.metrics import summarize

        return summarize(self.figures())

    def figures(self) -> RunFigures:
        """What the run produced so far, as the report reads it (it never reads the engine)."""
        from tradewind.report.metrics import RunFigures

        pf = self.portfolio
        realized = self.pnl_total((k, pf.position(k).realized_pnl) for k in self.instruments)
        fees = pf.fees_total()
        fills, trades, _ = self._history()
        return RunFigures(
            run_id=self.run_id,
            mode=self.config.mode.value,
            instruments=list(self.instruments),
            timeframe_ns=self.strategy_tf,
            ticks=self.ticks,
            candles=self.candles,
            decisions=self.decision_points,
            signals=self.signals,
            currency=self._equity_currency(),
            starting_equity=pf.starting_equity(),
            final_equity=pf.equity(),
            realized_pnl=realized.total,
            realized_by_currency=dict(realized.by_currency),
            pnl_currencies=dict(self.pnl_currencies),
            pnl_rates=rates_of(
                [*self.pnl_currencies.values(), *fees.by_currency],
                pf.accounts.reporting_currency,
                lambda c: pf.accounts.rate(c, pf.last_price),
            ),
            fees_paid=fees.total,
            fees_by_currency=dict(fees.by_currency),
            fees_not_converted=fees.error,
            funding_paid=pf.funding_paid,
            equity_curve=self.equity_curve.copy(),
            closed_trades=list(trades),
            fills=list(fills),
            evaluated=self.strategy.evaluated,
            rejected=dict(self.strategy.rejected),
            vetoes=dict(self.vetoes),
            entries_sent=self.entries_sent,
            open_positions=len(pf.positions()),
            last_ts_ns=pf.ts_ns or None,
            data_gaps=len(self.gaps),
            bad_rows=len(self.bad_rows),
            overlays=list(self.config.run.overlays),
            panes=list(self.config.run.panes),
            halted_at_ns=self.halted_at,
        )

    def _history(self) -> tuple[list[Fill], list[Trade], dict[str, str]]:
        """Every fill, closed trade and order tag of the run (:class:`TradeHistory`), read
        back from the journal at most once while no fill is booked: the summary and the
        result get the same objects (the report's metrics of both are computed once), and
        the result gets them after the journal is closed."""
        h = self.orders.history
        kept = self._read_back
        if kept is not None and kept[0] == (h.n_fills, h.n_trades):
            return kept[1], kept[2], kept[3]
        fills, trades = h.all_fills(), h.all_trades()
        tags = h.all_tags(self.orders.order_tags)
        if not h.complete:
            self._read_back = ((h.n_fills, h.n_trades), fills, trades, tags)
        return fills, trades, tags

    def pnl_total(self, amounts: Iterable[tuple[str, Decimal]]) -> MoneyTotal:
        """P&L amounts of instruments (``(key, amount)``), each in its instrument's P&L
        currency, totalled in the reporting currency at the host's marks (no total when one
        cannot be converted; never a raw sum of currencies)."""
        pf = self.portfolio
        rep = pf.accounts.reporting_currency
        cur = self.pnl_currencies
        return total(
            ((cur.get(k, rep), a) for k, a in amounts),
            rep,
            lambda c: pf.accounts.rate(c, pf.last_price),
        )

    def fee_total(self, fills: Iterable[Fill]) -> MoneyTotal:
        """The fees of ``fills`` per currency as charged, and in the reporting currency
        (:func:`~tradewind.trading.pnl.fee_total`: a third currency's at its price at the
        fill, then each P&L currency at the host's marks, as :meth:`pnl_total` converts P&L)."""
        pf = self.portfolio
        rep = pf.accounts.reporting_currency
        return fee_total(
            fills, self.pnl_currencies, rep, lambda c: pf.accounts.rate(c, pf.last_price)
        )

    def _equity_currency(self) -> str:
        """The currency equity is counted in: the run's ``reporting_currency`` (every
        account balance is converted to it; simulated cash is counted in it)."""
        return self.portfolio.accounts.reporting_currency


#: Money fields of the summary that :class:`RunFinished` carries as exact Decimals.
FINISHED_MONEY = (
    "starting_equity",
    "final_equity",
    "pnl",
    "realized_pnl",
    "fees_paid",
    "funding_paid",
    "total_return",
)


#: Up to this many trades, :func:`_after` bisects a list (numpy's search has a fixed cost that
#: a few trades do not repay, and it lets go of the GIL).
_FEW_TRADES = 64


def _after(ts: Any, t: int) -> int:
    """``int(ts.searchsorted(t, side="right"))`` of a piece's (sorted) trade times: the index
    after the last trade at or before ``t``; over a few trades by :func:`bisect.bisect_right`
    of a list (the same index)."""
    if len(ts) <= _FEW_TRADES:
        return bisect.bisect_right(ts.tolist(), t)
    return int(ts.searchsorted(t, side="right"))


def finished_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What :class:`RunFinished` carries: the numeric figures, the money fields as Decimals
    and the currency they are in, so a notifier can report P&L."""
    out: dict[str, Any] = {
        k: v for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }
    for k in FINISHED_MONEY:
        v = summary.get(k)
        if v is not None:
            out[k] = Decimal(str(v))
    if summary.get("currency"):
        out["currency"] = str(summary["currency"])
    return out


def _seconds(clock: Clock) -> Callable[[], float]:
    """The clock in seconds, for retry backoff and circuit-breaker cooldowns."""
    monotonic = getattr(clock, "monotonic", None)
    if callable(monotonic):
        return monotonic  # type: ignore[no-any-return]
    return lambda: clock.now_ns() / 1e9


def _build(config: Config, inst: PluginInstance) -> Any:
    """An instance of a filter, exit monitor or notifier; its errors name its config table."""
    with building(inst, config.path.name):
        return config.host.plugin_class(inst.kind, inst.plugin)(config=inst.config)


def _clock_sleep(clock: Clock) -> Callable[[float], Awaitable[None]]:
    """The clock's own sleep: a simulated clock advances instead of waiting."""
    sleep = getattr(clock, "sleep", None)
    if callable(sleep):
        return sleep  # type: ignore[no-any-return]
    return anyio.sleep


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
