"""The Protocol of each plugin kind: what the engine calls directly, off pluggy.

pluggy is used for registration only (see :mod:`tradewind.hookspecs`). The engine holds plain
references to plugin instances and calls their methods itself, so the tick path pays a Python
method call, not a hook dispatch. Kinds that do I/O (venues, aggregators, notifiers) have async
methods; kinds that only compute (analyzers, filters, exits) are synchronous because they sit on
the hot path and never wait on anything.

Every plugin class carries three class attributes:

``name``
    The plugin name, equal to its entry-point name and to ``plugin = "..."`` in config.
``config_class``
    An attrs class; the instance's config table is structured into it (unknown keys are errors).
``capabilities``
    A frozenset of strings the engine and the conformance suite read (e.g. ``"data"``,
    ``"execution"``, ``"order:limit"``, ``"tif:post_only"``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

from tradewind.model import (
    Candle,
    Event,
    ExitDecision,
    Fill,
    FundingPayment,
    Instrument,
    Order,
    OrderReport,
    Position,
    Side,
    Signal,
    TickBatch,
    Veto,
)

KINDS: tuple[str, ...] = ("venues", "aggregators", "analyzers", "filters", "exits", "notifiers")

#: Singular names, for messages ("venue 'x' is not installed").
SINGULAR: Mapping[str, str] = {
    "venues": "venue",
    "aggregators": "aggregator",
    "analyzers": "analyzer",
    "filters": "filter",
    "exits": "exit monitor",
    "notifiers": "notifier",
}

#: Distribution name prefix per kind: tradewind-venue-<name>, ...
DIST_PREFIX: Mapping[str, str] = {
    "venues": "tradewind-venue-",
    "aggregators": "tradewind-aggregator-",
    "analyzers": "tradewind-analyzer-",
    "filters": "tradewind-filter-",
    "exits": "tradewind-exit-",
    "notifiers": "tradewind-notifier-",
}


@attrs.frozen(kw_only=True)
class EmptyConfig:
    """Config class of a plugin that takes no options."""


@runtime_checkable
class Plugin(Protocol):
    """What every plugin class declares."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    capabilities: ClassVar[frozenset[str]]


class EventSink(Protocol):
    """Where an execution venue delivers order reports and fills (the order manager)."""

    def on_report(self, report: OrderReport) -> None:
        """Take an order state change."""

    def on_fill(self, fill: Fill) -> None:
        """Take a fill."""

    def on_event(self, event: Event) -> None:
        """Take a venue-level event (ConnectionLost, DataQuality for a feed gap, ...)."""


@runtime_checkable
class Venue(Plugin, Protocol):
    """A source of market data (capability ``"data"``), an executor (``"execution"``), or both.

    Construction: ``VenueClass(config=..., instance=<config table key>)``.
    A venue with ``"simulated"`` is fed the tape by the engine through :meth:`on_trades` and
    fills orders against it; a real venue fills on its own and reports through the sink.
    """

    async def connect(self) -> None:
        """Open connections and load what the venue needs before trading."""

    async def close(self) -> None:
        """Release every connection; idempotent."""

    async def instruments(self) -> Sequence[Instrument]:
        """The instruments this venue offers (or the configured subset)."""

    # -- data ("data") --------------------------------------------------------------------
    def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """Yield trade batches in time order per instrument, until the feed ends or is closed."""

    def set_sink(self, sink: EventSink) -> None:
        """Tell the venue where to deliver order reports, fills and feed events (every venue)."""

    # -- execution ("execution") ----------------------------------------------------------

    async def submit_order(self, order: Order) -> OrderReport:
        """Send an order; idempotent on ``client_order_id`` (a resend returns the known state)."""

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        """Cancel a resting order by its client order id."""

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        """Look an order up by client order id; None if the venue never saw it."""

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        """Every resting order, for reconciliation."""

    async def fetch_positions(self) -> Sequence[Position]:
        """Every non-flat position, for reconciliation."""

    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """Balances per asset."""


@runtime_checkable
class SimulatedVenue(Venue, Protocol):
    """A venue that fills against the tape the engine feeds it (capability ``"simulated"``)."""

    def on_trades(self, batch: TickBatch) -> None:
        """Match resting orders against the trades in ``batch`` (which arrived after them)."""


# -- capabilities -------------------------------------------------------------------------
# What the engine and reconciliation call on a venue, one Protocol per capability. A venue
# declares a capability in ``capabilities`` and implements exactly that Protocol; the host
# checks the declaration, never the presence of a method (no hasattr probes).

#: Capability name -> the Protocol a venue declaring it implements.
CAPABILITY_PROTOCOLS: dict[str, type] = {}


@runtime_checkable
class MarketDataCapability(Protocol):
    """Capability ``"data"``: a feed of trades."""

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Serve these instruments too (the host config's instruments naming this venue)."""

    def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """Yield trade batches in time order per instrument, until the feed ends or is closed."""


@runtime_checkable
class ExecutionCapability(Protocol):
    """Capability ``"execution"``: orders by client order id, reports through the sink."""

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Trade these instruments too."""

    def set_sink(self, sink: EventSink) -> None:
        """Where order reports, fills and venue events go."""

    async def submit_order(self, order: Order) -> OrderReport:
        """Send an order; idempotent on ``client_order_id``."""

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        """Cancel a resting order by its client order id."""

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        """Look an order up by client order id; None if the venue never saw it."""

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        """Every resting order, for reconciliation."""

    async def fetch_positions(self) -> Sequence[Position]:
        """Every non-flat position (spot: the base-asset holdings of the traded markets)."""


@runtime_checkable
class ResumeOrdersCapability(Protocol):
    """Capability ``"orders:resume"``: a real venue takes back the orders this host sent
    before a restart."""

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> None:
        """Track an order still open in the journal, ``fills`` already booked for it, so its
        further fills reach the sink once each (a venue forgets its orders on restart)."""


@runtime_checkable
class AccountCapability(Protocol):
    """Capability ``"account"``: balances per currency, seeded into the host's account."""

    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """Total balance per currency."""

    def instrument_currencies(self, symbol: str) -> tuple[str, str]:
        """``(base, quote)`` of a traded instrument (quote = settlement for a perpetual);
        call after :meth:`Venue.connect`."""


@runtime_checkable
class SimulatedExecutionCapability(Protocol):
    """Capability ``"simulated"``: fills against the tape the engine feeds it; a paper
    account with a starting balance that lives in the journal."""

    def starting_cash(self) -> Decimal:
        """The paper account's cash at the start of a session."""

    def set_time(self, ts_ns: int, instrument: str | None = None) -> None:
        """Engine time of ``instrument`` (or of every instrument when None); an order sent
        now arrives after the venue's latency."""

    def next_fill_ts(self, batch: TickBatch) -> int | None:
        """The time of the first trade in ``batch`` that can fill a resting order, or None."""

    def next_funding_ts(self, instrument: str) -> int | None:
        """The next time a held position of ``instrument`` pays or receives funding, after
        the trades fed so far (None: never; 0: cannot tell yet)."""

    def on_trades(self, batch: TickBatch) -> None:
        """Match resting orders against the trades in ``batch``."""

    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """Cash in the quote currency."""

    def restore(
        self,
        positions: Sequence[Position],
        open_orders: Sequence[tuple[Order, OrderReport]],
        cash: Decimal,
        *,
        id_floor: int = 0,
    ) -> None:
        """Reload a paper account's state from the journal."""


@runtime_checkable
class ReplayCapability(Protocol):
    """Capability ``"replay"``: a recorded feed that knows its length and decision step."""

    def total_ticks(self) -> int | None:
        """Ticks the feed will deliver, or None when unknown."""

    def set_decision_step(self, step_ns: int) -> None:
        """Slice batches at multiples of ``step_ns`` (the engine's decision step)."""

    def data_files(self) -> Sequence[Path]:
        """The files (or folders) the feed replays; a backtest's run id hashes their content."""

    def data_digest(self) -> bytes:
        """What identifies replayed data held outside files (a database), else ``b""``."""

    def tape(self, key: str) -> TickBatch | None:
        """The whole series the feed will deliver for instrument ``key``, once connected, as
        one batch; None when the feed may skip or pace trades of it, or cannot tell. A backtest
        reads it ahead of the feed only to know where candles close
        (tradewind.trading.block_lookahead), never to decide."""

    #: Rows of the recorded data that could not be used (``file:line: reason``), known once
    #: connected; the engine journals them and counts them in the summary.
    bad_rows: Sequence[object]


@runtime_checkable
class OrderSearchCapability(Protocol):
    """Capability ``"orders:search"``: the venue finds an order whose create outcome is
    unknown among the account's recent orders (and trades) since a time, when a lookup by
    client order id says "not found" (exchanges lag after accepting under load). The found
    state and fills reach the sink as usual."""

    async def search_order(
        self, instrument: str, client_order_id: str, since_ns: int
    ) -> OrderReport | None:
        """The order's state if the venue has it, else None."""


@runtime_checkable
class FillHistoryCapability(Protocol):
    """Capability ``"fills:history"``: the venue lists an order's executions."""

    async def fetch_fills(self, instrument: str, client_order_id: str) -> Sequence[Fill]:
        """Every execution of the order."""


@runtime_checkable
class AccountTradesCapability(Protocol):
    """Capability ``"trades:account"``: the venue lists the account's executions in an
    instrument since a time, whoever placed the orders (reconciliation books those the
    journal lacks as fills: made while the host was down, or of an order placed by hand; and a
    spot holding adopted at reconciliation takes its entry price from them, first in, first
    out: :mod:`tradewind.trading.adoption`)."""

    async def fetch_account_trades(self, instrument: str, since_ns: int) -> Sequence[Fill]:
        """Every execution of the account in ``instrument`` at or after ``since_ns``, oldest
        first, each with its order's client order id (the venue's id for the order where
        the exchange has no client id) and its fee. ``since_ns`` 0 asks for as far back as the
        venue keeps them."""


@runtime_checkable
class FundingHistoryCapability(Protocol):
    """Capability ``"funding:history"``: the venue lists the funding its account settled,
    so a resumed session books what was charged or paid while the host was down
    (:func:`tradewind.trading.reconcile.seed_account`)."""

    async def fetch_funding_payments(self, instrument: str) -> Sequence[FundingPayment]:
        """The account's funding payments of ``instrument`` (its key), as far back as the
        venue keeps them, oldest first; ``amount`` > 0 paid, < 0 received, in the
        instrument's settlement currency."""


@runtime_checkable
class VenueValuesCapability(Protocol):
    """Capability ``"values"``: a data venue measures values of an instrument besides its
    trades (a DEX pool's liquidity). The engine lets exits and filters read them with the
    analyzer outputs, as ``"<venue instance>.<name>"`` (e.g. ``"dex.liquidity"``); strategy
    rules read analyzer instances only."""

    def venue_values(self, instrument: str) -> Mapping[str, float]:
        """The current values of ``instrument`` (its key), NaN where not known yet; cheap and
        synchronous (the venue measures while it streams, this returns what it measured)."""


@runtime_checkable
class SubscribeCapability(Protocol):
    """Capability ``"subscribe"``: the venue's feed changes its instrument set while it
    streams (the engine's watchlist, when it drives the instrument set, subscribes what is
    added and unsubscribes what expires or is removed). Both calls are cheap and synchronous:
    the venue applies them to its running stream from its own task; from the call on it
    delivers no trades of an unsubscribed instrument (the engine drops any still in flight)."""

    def subscribe(self, instruments: Sequence[Instrument]) -> None:
        """Stream these (of the instruments given to ``stream_trades``) again."""

    def unsubscribe(self, instruments: Sequence[Instrument]) -> None:
        """Stop streaming these."""


@runtime_checkable
class EvmSwapCapability(Protocol):
    """Capability ``"swap:evm"``: the venue swaps on an EVM chain and sends swap transactions
    built elsewhere, so the engine's best-execution router (:mod:`tradewind.execution`) can
    route its market orders through DEX aggregators. Duck-typed by
    :class:`tradewind.execution.evm.EvmSwapExecutor`."""

    @property
    def wallet(self) -> str | None:
        """The address that signs, pays and receives (None without a key)."""

    def swap_chain_id(self) -> int:
        """The chain id the venue swaps on (known once connected)."""

    def pool(self, instrument: str) -> Any:
        """The pool of ``instrument`` (tokens, quotes, its router's swap call)."""

    async def quote(self, instrument: str, side: Side, quantity: Decimal) -> tuple[int, int]:
        """(amount in, expected amount out) in wei of a market swap of ``quantity`` base."""

    async def chain_time_ns(self) -> int:
        """The latest block's timestamp (a swap's deadline is measured against it)."""

    async def swap_terms(self, instrument: str, side: Side) -> tuple[int, Decimal]:
        """(gas price in wei, output-token wei per native wei) of a swap of ``instrument``
        on ``side``: what values a route's gas in the token it pays out."""

    def was_sent(self, client_order_id: str) -> bool:
        """True once a transaction for the id may have reached the network."""

    async def send_swap_transaction(
        self,
        order: Order,
        *,
        to: str,
        data: str,
        amount_in: int,
        spender: str,
        expected_out: int,
        min_out: int,
        route: str,
    ) -> OrderReport:
        """Approve ``spender`` when needed, sign and send ``to``/``data``; the receipt
        becomes the order's fill."""

    async def fetch_fills(self, instrument: str, client_order_id: str) -> Sequence[Fill]:
        """Every execution of the order."""


CAPABILITY_PROTOCOLS.update(
    {
        "data": MarketDataCapability,
        "execution": ExecutionCapability,
        "account": AccountCapability,
        "simulated": SimulatedExecutionCapability,
        "replay": ReplayCapability,
        "fills:history": FillHistoryCapability,
        "trades:account": AccountTradesCapability,
        "funding:history": FundingHistoryCapability,
        "orders:search": OrderSearchCapability,
        "orders:resume": ResumeOrdersCapability,
        "values": VenueValuesCapability,
        "swap:evm": EvmSwapCapability,
        "subscribe": SubscribeCapability,
    }
)


def check_capabilities(venue: object, where: str) -> None:
    """Raise TypeError naming each declared capability whose Protocol ``venue`` lacks."""
    declared: frozenset[str] = frozenset(getattr(type(venue), "capabilities", frozenset()))
    instance_caps: frozenset[str] = frozenset(getattr(venue, "capabilities", declared))
    missing = []
    for cap in sorted(set(declared) | set(instance_caps)):
        proto = CAPABILITY_PROTOCOLS.get(cap)
        if proto is not None and not isinstance(venue, proto):
            missing.append(f"{cap} ({proto.__name__})")
    if missing:
        raise TypeError(
            f"venue {type(venue).__name__} declares capabilities it does not implement: "
            f"{', '.join(missing)} @ {where}"
        )


@runtime_checkable
class Aggregator(Plugin, Protocol):
    """A DEX aggregator: quotes exact-input swaps with the transaction to send.

    Construction: ``AggregatorClass(config=..., instance=...)``. Quotes and requests are the
    core's model (:mod:`tradewind.execution.quotes`); the best-execution router
    (:mod:`tradewind.execution.router`) checks the transaction against :meth:`routers` and
    sends it through the EVM venue. API failures raise ``AggregatorError``.
    """

    async def quote_swap(self, request: Any) -> Any:
        """A ``SwapQuote`` for a ``SwapRequest`` (the transaction included)."""

    def routers(self, chain_id: int) -> Sequence[Any]:
        """The ``KnownRouter`` contracts this aggregator's transactions may target."""

    def serves(self, chain_id: int) -> bool:
        """True when this aggregator quotes on ``chain_id``."""

    async def close(self) -> None:
        """Release connections; idempotent."""


@runtime_checkable
class Analyzer(Plugin, Protocol):
    """A streaming indicator, one instance per instrument.

    ``AnalyzerClass(config=..., instrument=<Instrument>)``. The engine calls :meth:`on_candle`
    for each closed candle of every timeframe, in close-time order, and (with capability
    ``"ticks"``) :meth:`on_ticks` for every batch; :meth:`values` is read at decision time.
    Each update must cost O(1) or O(window), never O(history).
    """

    @classmethod
    def outputs(cls, config: Any) -> Collection[str]:
        """Every key :meth:`values` reports under ``config`` (``{"imbalance_1m", ...}``).

        Declared, so that ``config check`` can refuse a strategy rule or scorer that reads an
        output the analyzer never reports (``momentum.momentun``) instead of the run rejecting
        every candidate silently. Rules naming an analyzer without it are not checked.
        """

    def on_candle(self, candle: Candle) -> None:
        """Fold one closed candle into the state."""

    def on_ticks(self, batch: TickBatch) -> None:
        """Fold a tick batch into the state (only with capability ``"ticks"``)."""

    def values(self) -> Mapping[str, float]:
        """The current outputs, e.g. ``{"imbalance_1m": 2.4}``; NaN where not yet defined."""


@runtime_checkable
class BlockAnalyzer(Analyzer, Protocol):
    """An analyzer that advances over a block of trades at once (capability ``"block"``).

    Backtests replay the tape in blocks (``[run] block_ticks``); the engine calls
    :meth:`on_block` with a block's trades and its rows (:class:`tradewind.blocks.BlockRow`:
    each decision close, the candles closing then, the index of its first trade). An analyzer
    without the capability is advanced through its per-candle path instead
    (:func:`tradewind.blocks.per_candle_rows`); paper and live always use that path.

    With the capability ``"block-thread"`` too, :meth:`on_block` may run on a thread of its
    own beside the other analyzers' (:func:`tradewind.blocks.opened_rows`, long blocks): it
    must read only its own state and the block's trades and rows, and its compiled kernels
    should release the GIL (nothing is gained otherwise).
    """

    def on_block(self, ticks: TickBatch, rows: Sequence[Any]) -> Iterator[Mapping[str, float]]:
        """Yield the outputs at each row, in order: fold ``ticks[previous tick_end:
        row.tick_end]`` (with ``"ticks"``), then ``row.candles``, then yield a mapping that
        stays valid until the next one is asked for. Once exhausted, the trades after the last
        row are folded in too. The outputs must equal, bit for bit, what ``on_ticks``,
        ``on_candle`` and ``values()`` give fed the same data.
        """


class RiskContext(Protocol):
    """The read-only view of the portfolio that filters and exits see."""

    ts_ns: int

    def position(self, instrument: str) -> Position:
        """The position in ``instrument`` (flat if none)."""

    def positions(self) -> Sequence[Position]:
        """All non-flat positions."""

    def last_price(self, instrument: str) -> float:
        """The last traded price of ``instrument``."""

    def equity(self) -> Decimal:
        """Cash plus unrealised P&L at last prices."""

    def starting_equity(self) -> Decimal:
        """Equity when the run started."""

    def day_start_equity(self) -> Decimal:
        """Equity at the start of the current UTC day."""

    def open_orders(self) -> Sequence[Order]:
        """Orders sent and not yet terminal."""

    def instrument(self, key: str) -> Instrument:
        """The instrument with ``key``."""

    def analyzer_values(self, instrument: str) -> Mapping[str, float]:
        """The analyzer outputs of ``instrument`` at the decision being checked
        (``{"orderflow.imbalance_1m": 2.4, ...}``, NaN where undefined), read only. Filters get
        it from the engine's :class:`~tradewind.filtering.context.FilterContext`."""


@runtime_checkable
class Filter(Plugin, Protocol):
    """A risk check run on every signal before an order leaves. ``FilterClass(config=...)``.

    Filters run in config order; the first veto stops the chain. A filter class with
    ``essential = True`` is loaded whatever the config says and cannot be disabled.

    Optional: ``reads_account: ClassVar[bool] = False`` declares that ``check`` reads only the
    signal (not its quantity), the market and analyzer values, and keeps no state: in a
    cluster it then runs on the strategy host (:mod:`tradewind.filtering.placement`).
    Undeclared means True: the filter runs where the account is.
    """

    essential: ClassVar[bool]

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Return a Veto to refuse ``signal``, None to let it pass.

        ``ctx.analyzer_values(signal.instrument)`` gives the analyzer values the strategy
        decided on, e.g. to veto when ``regime.atr_pct`` is too low.
        """


@runtime_checkable
class ExitMonitor(Plugin, Protocol):
    """Watches open positions and says when one must close. ``ExitClass(config=...)``."""

    def on_ticks(
        self, position: Position, batch: TickBatch, ctx: RiskContext
    ) -> ExitDecision | None:
        """Check the trades of ``batch`` (all after the position opened) in order."""

    def on_candle(
        self, position: Position, candle: Candle, values: Mapping[str, float], ctx: RiskContext
    ) -> ExitDecision | None:
        """Check after a candle closed, with the analyzers' current values."""

    def forget(self, instrument: str) -> None:
        """Drop state kept for a position that closed."""


@runtime_checkable
class ScanningExit(ExitMonitor, Protocol):
    """An exit monitor that can look ahead over a backtest's block (capability ``"scan"``).

    While a backtest holds a position with nothing in flight, the event scheduler asks every
    exit monitor where it would first trigger and walks the closes before that without
    stepping (see :mod:`tradewind.trading.exit_scan`). A monitor without the capability keeps
    the engine stepping close by close while a position is open; paper and live always step.
    """

    def scan(self, position: Position, window: Any, ctx: RiskContext) -> int | None:
        """The index of the first close of ``window`` (a
        :class:`tradewind.trading.exit_scan.HoldWindow`) at or before which this monitor would
        exit ``position``: on a trade of ``window.ticks[: window.row_ticks[r]]`` (after the
        previous close) through ``on_ticks``, or at close ``r`` through ``on_candle``; None
        when neither happens by the last close. It must answer the close where the per-trade
        and per-close checks, fed the same tape, first decide (an earlier close only costs
        speed: the engine steps from there; a later one changes the run). It must not change
        the monitor's state; ``on_ticks`` over the walked trades follows (or :meth:`FoldingExit.
        fold`'s, for a monitor declaring the capability ``"fold"``).
        """


@runtime_checkable
class FoldingExit(ScanningExit, Protocol):
    """A scanning exit monitor that brings its state over walked trades without looking for a
    trigger (capability ``"fold"``, with ``"scan"``; optional).

    After a walk while holding, the event scheduler brings every monitor's state over the
    walked trades, where its scan found no trigger: ``on_ticks`` over them, or ``fold`` for a
    monitor declaring ``"fold"``. A monitor without it keeps the ``on_ticks`` call.
    """

    def fold(self, position: Position, walked: TickBatch, ctx: RiskContext) -> None:
        """Leave the monitor as ``on_ticks(position, walked, ctx)`` leaves it when it does not
        trigger (the walked trades come before the close its scan answered, or none was
        answered), without the trigger checks: whatever the next ``on_ticks``, ``on_candle``,
        ``scan`` and ``fold`` calls answer must be what they answer after that ``on_ticks``."""


@runtime_checkable
class Notifier(Plugin, Protocol):
    """Delivers events to people. ``NotifierClass(config=...)``; config has ``min_severity``."""

    async def start(self) -> None:
        """Open connections."""

    async def notify(self, event: Event) -> None:
        """Deliver one event."""

    async def close(self) -> None:
        """Flush and release connections; idempotent."""


PROTOCOL_BY_KIND: Mapping[str, type] = {
    "venues": Venue,
    "aggregators": Aggregator,
    "analyzers": Analyzer,
    "filters": Filter,
    "exits": ExitMonitor,
    "notifiers": Notifier,
}
