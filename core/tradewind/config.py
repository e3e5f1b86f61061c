"""The host configuration: one TOML file, validated with every error naming its path.

Layout (see docs/configuration.md for every key)::

    mode = "backtest"                 # backtest | paper | live
    timeframes = ["1m", "5m", "15m"]

    [run]                             # journal, report directory, data file
    [[instruments]]                   # symbol, venue (execution), data (feed), sizes, fees
    [venues.<instance>]               # plugin = "<entry point>" (defaults to <instance>)
    [analyzers.<instance>] / [filters.<instance>] / [exits.<instance>] / [notifiers.<instance>]
    [strategy]                        # the composition of analyzer values into signals

The table key names the instance and ``plugin`` the entry point, so one plugin can serve
several instances. Filters and exits run in the order their tables appear.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from tradewind._serde import did_you_mean, structure
from tradewind.cluster.config import ClusterSection
from tradewind.config_check import check_readable_file, resolve_path_options
from tradewind.errors import ConfigError, SecretNotSetError
from tradewind.execution.config import RoutingConfig
from tradewind.loader import PluginHost, PluginRequest, load_host
from tradewind.model import Instrument, InstrumentKind
from tradewind.protocols import KINDS, SINGULAR
from tradewind.secrets import Secret
from tradewind.timeframes import parse_timeframe


class Mode(enum.Enum):
    """Where orders go and where time comes from."""

    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"


def _optional_duration(_inst: Any, _attr: Any, value: str | None) -> None:
    from tradewind.market.gaps import parse_duration

    if value is not None:
        try:
            parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"max_gap: {exc}") from None


def _gap_policy(_inst: Any, _attr: Any, value: str) -> None:
    from tradewind.market.gaps import GAP_POLICIES

    if value not in GAP_POLICIES:
        raise ValueError(f"gap_policy must be one of {', '.join(GAP_POLICIES)}, got {value!r}")


@attrs.frozen(kw_only=True)
class RunSection:
    """``[run]``: where the run writes and what it reads."""

    #: The DuckDB journal file (every signal, order, fill, veto and event of every run).
    journal: str = "tradewind-journal.duckdb"
    #: Folder that receives ``report.json`` and ``report.html`` (must not be a file).
    report_dir: str = "reports"
    #: Replay only trades at or after this time (ISO date or datetime, UTC unless an offset
    #: is given); the window must hold trades of the data.
    start: str | None = None
    #: Replay only trades before this time; after ``start``.
    end: str | None = None
    #: Reserved: pace a replay with ``[venues.<replay>] speed`` instead. Must be positive.
    paper_speed: float = 1.0
    #: The currency equity is reported in; every account balance is converted to it at the
    #: mark prices of the configured instruments (see docs/configuration.md, accounts).
    reporting_currency: str = "USDT"
    #: Seconds between re-reconciliations with the execution venues while a paper or live
    #: run trades (open orders polled, balances and positions compared); None: at start only.
    reconcile_interval_s: float | None = 60.0
    #: When a paper or live run stops (SIGINT/SIGTERM or the end of its feed): cancel the
    #: entry orders still resting at the venue.
    cancel_entries_on_stop: bool = True
    #: When a paper or live run stops: also close every open position (default: positions
    #: are kept for the next run of the session).
    flatten_on_stop: bool = False
    #: An order open at an execution venue at start that the journal does not know:
    #: "refuse" (the host does not start and says why), "adopt" (journaled, tracked from
    #: then on) or "cancel" (cancelled at the venue, settled as a cancel at stop is, within
    #: cancel_deadline_s; one that cannot be cancelled: the host does not start).
    unknown_orders: str = "refuse"
    #: A position at an execution venue at start that the journal cannot explain (flat
    #: there): "refuse" (the host does not start and says why) or "adopt" (taken over,
    #: journaled as a correction).
    unknown_positions: str = "refuse"
    #: Seconds an order whose create outcome is unknown (the answer was lost) may stay so
    #: before a critical event says so; it is never sent again, and its instrument takes no
    #: entries, until the venue says what became of it.
    order_unknown_deadline_s: float = 60.0
    #: Seconds the venue must answer "not found" (by id, among its recent orders) before
    #: such an order is concluded never to have reached it.
    order_not_found_settle_s: float = 120.0
    #: Seconds a cancel (at stop: each resting entry's; at start: each unknown order's under
    #: unknown_orders = "cancel") may take to settle. A cancel answered late, with an HTTP
    #: 5xx or a dropped connection is settled by looking the order up; still open, it is
    #: sent again with backoff (429/418: after the venue's Retry-After); "unknown order" is
    #: settled by the same lookup (filled or cancelled; a lookup that fails leaves it in
    #: doubt, sent again). An order still open at this deadline is a critical event naming
    #: it.
    cancel_deadline_s: float = 30.0
    #: Consecutive failed creates that open a venue's circuit breaker (entries then fail
    #: fast; exits are still sent), and the seconds it stays open before one trial create.
    breaker_failures: int = 5
    breaker_cooldown_s: float = 30.0
    #: Analyzer values the report draws over the price chart (``"<instance>.<output>"``).
    overlays: tuple[str, ...] = ()
    #: Analyzer values the report draws in panes of their own below the price chart.
    panes: tuple[str, ...] = ()

    #: A hole in an instrument's trades longer than this (e.g. "45m", "2h") is a data gap,
    #: journaled and handled by ``gap_policy``; default: 3 x the longest timeframe.
    max_gap: str | None = attrs.field(default=None, validator=_optional_duration)
    #: What a data gap does to an open position: "hold", "flatten" or "halt" (docs/data.md).
    gap_policy: str = attrs.field(default="hold", validator=_gap_policy)
    #: Backtests: trades per block the analyzers and candles advance over at once (never
    #: splitting one timestamp); 0 = one decision interval per block. Several instruments
    #: share it (each block at most block_ticks / min(instruments, 20) trades). Results are
    #: the same bits at any block size; paper and live always go candle by candle.
    block_ticks: int = 1_000_000
    #: Backtests: while an instrument is flat with no order in flight, go from one close the
    #: strategy's gates can pass to the next without stepping each close in between (the
    #: funnel, the decisions and the journal are the same bits either way; false steps every
    #: close, as paper and live do). Several instruments: each one's blocks reach past the
    #: replay's interval batches, and a close of an instrument without a position, while no
    #: order is in doubt, only counts, records and asks the strategy (same order, same bits).
    event_scheduler: bool = True
    #: Backtests of several instruments: "shared" (one portfolio: the simulated venues' cash
    #: pooled, sizing and portfolio filters over every instrument) or "per_instrument" (each
    #: instrument its own book with its venue's starting balance; run as independent
    #: backtests, in process or on a Dask cluster, and merged; docs/deployment.md).
    capital: str = "shared"
    #: Paper and live: the CPUs (Linux ids) the host's own process, the engine, may run on;
    #: empty = no change. With ``[api] cpus`` on other CPUs, HTTP work never takes the
    #: engine's core (docs/deployment.md). Checked against this machine's CPUs.
    cpus: list[int] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        # One hook for every check (two definitions would silently keep only the second).
        from tradewind.affinity import check_cpus

        check_cpus(self.cpus, "$.cpus")
        if not self.reporting_currency:
            raise ValueError('reporting_currency must name a currency, e.g. "USDT"')
        if self.reconcile_interval_s is not None and self.reconcile_interval_s <= 0:
            raise ValueError(
                f"reconcile_interval_s must be positive, got {self.reconcile_interval_s}"
            )
        if self.unknown_orders not in ("refuse", "adopt", "cancel"):
            raise ValueError(
                'unknown_orders must be "refuse", "adopt" or "cancel", '
                f"got {self.unknown_orders!r} @ $.run.unknown_orders"
            )
        if self.breaker_failures < 1:
            raise ValueError(
                f"breaker_failures must be >= 1, got {self.breaker_failures} "
                "@ $.run.breaker_failures"
            )
        for name in (
            "order_unknown_deadline_s",
            "order_not_found_settle_s",
            "cancel_deadline_s",
            "breaker_cooldown_s",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)} @ $.run.{name}")
        if self.capital not in ("shared", "per_instrument"):
            raise ValueError(
                f'capital must be "shared" or "per_instrument", got {self.capital!r} '
                "@ $.run.capital"
            )
        if self.unknown_positions not in ("refuse", "adopt"):
            raise ValueError(
                'unknown_positions must be "refuse" or "adopt", '
                f"got {self.unknown_positions!r} @ $.run.unknown_positions"
            )
        if self.block_ticks < 0:
            raise ValueError(
                f"block_ticks must be >= 0 (0 = one decision interval), got {self.block_ticks} "
                "@ $.run.block_ticks"
            )
        if not self.paper_speed > 0:
            raise ValueError(
                f"paper_speed must be positive, got {self.paper_speed} @ $.paper_speed"
            )
        for name in ("journal", "report_dir"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} must be a path, got an empty string @ $.{name}")


#: Fee rates a config may give (a maker rebate is a negative fee).
MIN_FEE = Decimal("-0.01")
MAX_FEE = Decimal("0.1")


@attrs.frozen(kw_only=True)
class ApiSection:
    """``[api]``: the control and watchlist HTTP API (docs/api.md). Needs ``tradewind[api]``."""

    #: Serve the API (and the dashboard) while the host runs.
    enabled: bool = False
    #: Loopback by default: expose it beyond the machine only behind a TLS proxy.
    host: str = "127.0.0.1"
    #: TCP port; 0 = any free port (the host logs the one it got).
    port: int = 8080
    #: The environment variable holding the bearer token (``tradewind api token`` makes one).
    token_env: str = "TRADEWIND_API_TOKEN"
    #: Origins allowed by CORS; empty = CORS off (the dashboard is served same-origin).
    cors_origins: list[str] = attrs.Factory(list)
    #: Requests per client (IP address) per ``rate_window_s``; beyond it: 429.
    rate_limit: int = 600
    #: The window of ``rate_limit``, in seconds.
    rate_window_s: float = 60.0
    #: Where the API runs: ``"process"``, a child process of its own that answers from a
    #: mirror of the host's state (HTTP work never holds the engine's GIL), or ``"thread"``,
    #: a thread of the host's process.
    serve: str = "process"
    #: The niceness of the API process (0..19, added to the host's): when both want the CPU,
    #: the engine wins. Above 0 it also runs in Linux's SCHED_BATCH class (it never preempts
    #: the engine when a request wakes it). Process mode only.
    nice: int = 10
    #: How long the host waits for the API process to listen before it fails to start.
    start_timeout_s: float = 30.0
    #: The CPUs (Linux ids) the API process may run on, set when it starts; empty = no change
    #: (it shares the host's). Give it CPUs the engine does not use (``[run] cpus``) to keep
    #: the engine's core for the engine (docs/deployment.md). Process mode only; checked
    #: against this machine's CPUs.
    cpus: list[int] = attrs.Factory(list)
    #: The API's CPU budget: the fraction of ONE CPU it may use, averaged over 0.2 s
    #: (0 < cpu_share <= 1; 1.0 = no budget). Beyond it, HTTP requests wait (backpressure,
    #: never a refusal: 429 stays ``rate_limit``'s). The default, a quarter of a CPU, serves a
    #: dashboard or a bot client many times over and leaves the engine's machine to the engine
    #: (docs/api.md). Process mode: the API process's CPU; thread mode: the server's thread's.
    cpu_share: float = 0.25

    def __attrs_post_init__(self) -> None:
        # tradewind.affinity, not tradewind.api.budget: a config check imports no API module.
        from tradewind.affinity import check_cpus, check_share

        check_share(self.cpu_share, "[api] cpu_share")

        check_cpus(self.cpus, "$.cpus")
        if self.cpus and self.serve != "process":
            raise ValueError(
                f'cpus places the API process: it needs serve = "process", got {self.serve!r} '
                "@ $.cpus"
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.rate_limit <= 0 or self.rate_window_s <= 0:
            raise ValueError("rate_limit and rate_window_s must be positive")
        if self.serve not in ("process", "thread"):
            raise ValueError(f"serve must be 'process' or 'thread', got {self.serve!r}")
        if not 0 <= self.nice <= 19:
            raise ValueError(f"nice must be in 0..19, got {self.nice}")
        if self.start_timeout_s <= 0:
            raise ValueError(f"start_timeout_s must be positive, got {self.start_timeout_s}")


@attrs.frozen(kw_only=True)
class JournalSection:
    """``[journal]``: the journal on a PostgreSQL server instead of ``[run] journal``'s DuckDB
    file (docs/deployment.md; needs ``tradewind[postgres]``), and how often a DuckDB journal's
    step log is loaded into its tables (docs/orders-and-journal.md)."""

    #: ``postgresql://USER@HOST:PORT/DATABASE``; None: the DuckDB file of ``[run] journal``.
    url: str | None = None
    #: The password, as ``env:NAME`` (never written in the url, never logged).
    password: Secret | None = None
    #: Paper and live on a DuckDB journal: each engine step is made durable by an append to
    #: the step log (``<journal>.steps``) and its rows are loaded into the DuckDB tables in
    #: batches — once this many rows have gathered ...
    load_rows: int = 20_000
    #: ... or this many seconds after the last load (the API's own connection to the journal
    #: sees a running session's rows at most about this late).
    load_every_s: float = 0.5
    #: Those loads run on a thread of the journal's own, so the engine's next steps go on
    #: meanwhile (DuckDB releases the GIL while it executes); false: on the engine's thread.
    #: The thread pays off when a core is free for it (docs/performance.md).
    load_in_background: bool = True
    #: Each step's append to the step log is synced (``fdatasync``) on a thread of the
    #: journal's own while the engine computes the next steps (up to four synced at once);
    #: the step's events leave the process (notifiers, the API, any bus subscriber) only
    #: once it is durable, and a step that wrote an order ahead for a real venue waits for
    #: its own sync. False: the engine waits for each step's sync
    #: (docs/orders-and-journal.md, "The step's sync behind the engine").
    sync_in_background: bool = True

    def __attrs_post_init__(self) -> None:
        from tradewind.journal.postgres import SCHEMES, redact

        if self.load_rows < 1:
            raise ValueError(f"load_rows must be >= 1, got {self.load_rows} @ $.journal.load_rows")
        if not self.load_every_s > 0:
            raise ValueError(
                f"load_every_s must be positive, got {self.load_every_s} @ $.journal.load_every_s"
            )

        if self.url is not None:
            if not self.url.startswith(SCHEMES):
                raise ValueError(
                    f"url must start with postgresql://, got {redact(self.url)!r} @ $.journal.url"
                )
            if redact(self.url) != self.url:
                raise ValueError(
                    'url must not hold the password: give it as password = "env:NAME" '
                    "@ $.journal.url"
                )


@attrs.frozen(kw_only=True)
class WatchlistSection:
    """``[watchlist]``: instruments an operator watches for a while (docs/api.md)."""

    #: When true, entries are allowed for exactly the instruments on the active watchlist.
    drives_instruments: bool = False
    #: How long an entry lasts when added or renewed without ``duration_hours``.
    default_hours: float = 24.0
    #: A ``watchlist_expiring`` event goes to the notifiers this long before an entry expires.
    warn_before_hours: float = 1.0
    #: How many instruments ``top-liquid`` lists by default (the seed's daily top 15).
    top_n: int = 15
    #: Seconds between expiry sweeps of a paper or live host (engine-clock time is compared).
    sweep_interval_s: float = 1.0


@attrs.frozen(kw_only=True)
class InstrumentSection:
    """``[[instruments]]``: one traded instrument."""

    #: The venue's symbol, e.g. ``BTCUSDT``. The instrument's key is ``<venue>:<symbol>``.
    symbol: str
    #: The venue *instance* that executes orders (needs capability ``execution``).
    venue: str
    #: The venue instance that supplies trades (needs capability ``data``); defaults to
    #: ``venue``.
    data: str | None = None
    #: ``"spot"`` or ``"perp"``.
    kind: InstrumentKind = InstrumentKind.SPOT
    #: Price quantum; positive (write decimals as strings: ``"0.01"``).
    tick_size: Decimal = Decimal("0.01")
    #: Size quantum; positive.
    lot_size: Decimal = Decimal("0.001")
    #: Smallest order notional; >= 0.
    min_notional: Decimal = Decimal("0")
    #: Maker fee rate on notional (0.0002 = 2 bp; negative = rebate), between -0.01 and 0.1.
    maker_fee: Decimal = Decimal("0")
    #: Taker fee rate on notional, between -0.01 and 0.1.
    taker_fee: Decimal = Decimal("0")
    #: Base and quote currency; by default taken from the execution venue's account.
    base: str = ""
    quote: str = ""

    def __attrs_post_init__(self) -> None:
        for name in ("tick_size", "lot_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)} @ $.{name}")
        if self.min_notional < 0:
            raise ValueError(f"min_notional must be >= 0, got {self.min_notional} @ $.min_notional")
        for name in ("maker_fee", "taker_fee"):
            fee = getattr(self, name)
            if not MIN_FEE <= fee <= MAX_FEE:
                raise ValueError(
                    f"{name} is a fraction of notional (0.0004 = 0.04 %) between {MIN_FEE} and "
                    f"{MAX_FEE}, got {fee} @ $.{name}"
                )

    def to_instrument(self) -> Instrument:
        """The domain Instrument this section describes."""
        return Instrument(
            venue=self.venue,
            symbol=self.symbol,
            kind=self.kind,
            tick_size=self.tick_size,
            lot_size=self.lot_size,
            min_notional=self.min_notional,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
            base=self.base,
            quote=self.quote,
        )


OPS = (">", ">=", "<", "<=", "abs>", "abs<")


@attrs.frozen(kw_only=True)
class Rule:
    """One comparison: ``value op threshold`` or ``value op ref × factor``.

    ``value`` and ``ref`` name analyzer outputs (``orderflow.imbalance_1m``) or ``close`` (the
    close of the candle being decided on). ``abs>``/``abs<`` compare the absolute value.
    """

    #: What is compared: ``"<analyzer instance>.<output>"`` (an output the analyzer declares)
    #: or ``"close"``.
    value: str
    #: ``">"``, ``">="``, ``"<"``, ``"<="``, ``"abs>"`` or ``"abs<"``.
    op: str
    #: A constant to compare with (exactly one of ``threshold`` and ``ref``).
    threshold: float | None = None
    #: Another value to compare with, named like ``value``.
    ref: str | None = None
    #: ``ref`` is multiplied by this before comparing.
    factor: float = 1.0

    def __attrs_post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"op must be one of {', '.join(OPS)}, got {self.op!r}")
        for name in (self.value, self.ref):
            if name is not None and name != "close" and "." not in name:
                raise ValueError(f"'{name}' must be 'close' or '<analyzer instance>.<output>'")
        if (self.threshold is None) == (self.ref is None):
            raise ValueError("a rule needs exactly one of 'threshold' and 'ref'")


@attrs.frozen(kw_only=True)
class Gate:
    """A level of the gate chain: a side passes when all of its rules hold; a side without
    rules cannot pass (a long-only gate lists only ``long`` rules)."""

    #: The level's name, reported in the funnel and in rejections.
    name: str
    #: Rules that must all hold for a long to pass this level.
    long: list[Rule] = attrs.Factory(list)
    #: Rules that must all hold for a short to pass this level.
    short: list[Rule] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class Tier:
    """Points a scorer gives when every rule of ``when`` holds (an empty ``when`` always holds)."""

    #: Points given when the tier holds.
    points: float
    #: Rules that must all hold (empty: always).
    when: list[Rule] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class Scorer:
    """A confluence factor: the first tier whose rules hold gives its points (else 0)."""

    #: The factor's name, reported with the signal's reasons.
    name: str
    #: Tiers for a long candidate, first match wins.
    long: list[Tier] = attrs.Factory(list)
    #: Tiers for a short candidate, first match wins.
    short: list[Tier] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class StrategySection:
    """``[strategy]``: how analyzer values become signals. See docs/strategy.md.

    ``composition`` picks the gate chain (short-circuit levels), the confluence score
    (primary gates that must pass plus weighted scorers), or both in sequence. ``long`` and
    ``short`` are a shorthand for one gate named "rules".
    """

    #: A shipped ``[strategy]`` table to start from (``"orderflow-scalper"``); every key set
    #: here replaces the preset's.
    preset: str | None = None
    #: ``"gates"`` (short-circuit levels), ``"confluence"`` (primary gates plus weighted
    #: scorers) or ``"both"`` in sequence.
    composition: str = "gates"
    #: Decisions are made on the close of this timeframe's candles.
    timeframe: str = "1m"
    #: The gate chain: ``[{ name, long = [rules], short = [rules] }, ...]``, in order.
    gates: list[Gate] = attrs.Factory(list)
    #: Shorthand for one final gate named "rules": every rule must hold for a long.
    long: list[Rule] = attrs.Factory(list)
    #: Shorthand for one final gate named "rules": every rule must hold for a short.
    short: list[Rule] = attrs.Factory(list)
    #: Confluence: gates that must all pass before the score counts.
    primary: list[Gate] = attrs.Factory(list)
    #: Confluence: points each passed primary gate adds to the score.
    primary_points: float = 1.0
    #: Confluence: weighted factors ``[{ name, long = [tiers], short = [tiers] }, ...]``.
    scorers: list[Scorer] = attrs.Factory(list)
    #: Confluence: the least score that makes a signal ("consider"); >= 0.
    min_score: float = 3.0
    #: Confluence: the score labelled "strong".
    strong_score: float = 5.0
    #: Confluence: the score labelled "very strong".
    very_strong_score: float = 7.0
    #: Protective stop distance from entry, a fraction in (0, 1); sizes the position.
    stop_pct: float = 0.005
    #: Fraction of equity risked if the stop is hit, in (0, 1].
    risk_pct: float = 0.01
    #: Cap on entry × quantity of one order (positive), none for no cap.
    max_notional: Decimal | None = None
    #: Cap on the position's notional as a multiple of equity (positive).
    max_leverage: float = 1.0
    #: Per-instrument notional caps: ``{ "<venue>:<symbol>" = "5000" }`` (positive; keys must
    #: be configured instruments).
    instrument_caps: dict[str, Decimal] = attrs.Factory(dict)
    #: Adds allowed to an open position (0: one entry per instrument until it is flat).
    pyramiding: int = 0

    def __attrs_post_init__(self) -> None:
        if self.composition not in ("gates", "confluence", "both"):
            raise ValueError(
                f"composition must be 'gates', 'confluence' or 'both', got {self.composition!r}"
            )
        if not 0 < self.stop_pct < 1:
            raise ValueError(f"stop_pct must be in (0, 1), got {self.stop_pct}")
        if not 0 < self.risk_pct <= 1:
            raise ValueError(f"risk_pct must be in (0, 1], got {self.risk_pct}")
        if self.max_leverage <= 0:
            raise ValueError(f"max_leverage must be positive, got {self.max_leverage}")
        if self.pyramiding < 0:
            raise ValueError(f"pyramiding must be 0 or more, got {self.pyramiding}")
        if self.max_notional is not None and self.max_notional <= 0:
            raise ValueError(
                f"max_notional must be positive, got {self.max_notional} @ $.max_notional"
            )
        for key, cap in self.instrument_caps.items():
            if cap <= 0:
                raise ValueError(
                    f"instrument_caps must be positive, got {cap} for '{key}' @ $.instrument_caps"
                )
        for name in ("min_score", "strong_score", "very_strong_score", "primary_points"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)} @ $.{name}")

    def all_gates(self) -> list[Gate]:
        """The gate chain, with the ``long``/``short`` shorthand as a final gate."""
        gates = list(self.gates)
        if self.long or self.short:
            gates.append(Gate(name="rules", long=list(self.long), short=list(self.short)))
        return gates

    def rules(self) -> list[tuple[str, Rule]]:
        """Every rule with its location, for reference checks."""
        out: list[tuple[str, Rule]] = []
        for i, g in enumerate(self.gates):
            for side in ("long", "short"):
                out += [(f"gates[{i}].{side}[{j}]", r) for j, r in enumerate(getattr(g, side))]
        for side in ("long", "short"):
            out += [(f"{side}[{j}]", r) for j, r in enumerate(getattr(self, side))]
        for i, g in enumerate(self.primary):
            for side in ("long", "short"):
                out += [(f"primary[{i}].{side}[{j}]", r) for j, r in enumerate(getattr(g, side))]
        for i, sc in enumerate(self.scorers):
            for side in ("long", "short"):
                for k, tier in enumerate(getattr(sc, side)):
                    out += [
                        (f"scorers[{i}].{side}[{k}].when[{j}]", r) for j, r in enumerate(tier.when)
                    ]
        return out


@attrs.frozen(kw_only=True)
class PluginInstance:
    """One configured plugin instance: ``[<kind>.<key>]`` using entry point ``plugin``."""

    kind: str
    key: str
    plugin: str
    options: Mapping[str, Any]
    config: Any = None

    @property
    def config_key(self) -> str:
        """How a user finds it in the file: ``[venues.binance]``."""
        return f"[{self.kind}.{self.key}]"


@attrs.frozen(kw_only=True)
class _CoreSection:
    #: Where orders go and where time comes from: ``"backtest"``, ``"paper"`` or ``"live"``
    #: (live never on a simulated venue).
    mode: Mode
    #: Candle timeframes built from ticks (1s to 1d, each dividing a day).
    timeframes: list[str] = attrs.Factory(lambda: ["1m", "5m", "15m"])
    #: ``[run]``: see below.
    run: RunSection = attrs.Factory(RunSection)
    #: ``[[instruments]]``: see below; at least one.
    instruments: list[InstrumentSection] = attrs.Factory(list)
    #: ``[strategy]``: see below.
    strategy: StrategySection = attrs.Factory(StrategySection)
    #: ``[api]``: the control and watchlist HTTP API; see below and docs/api.md.
    api: ApiSection = attrs.Factory(ApiSection)
    #: ``[watchlist]``: instruments watched for a limited time; see below and docs/api.md.
    watchlist: WatchlistSection = attrs.Factory(WatchlistSection)
    #: ``[routing]``: how DEX orders are routed through the ``[aggregators.*]``; see below and
    #: docs/aggregators.md.
    routing: RoutingConfig = attrs.Factory(RoutingConfig)
    #: ``[journal]``: the journal on a PostgreSQL server; see below and docs/deployment.md.
    journal: JournalSection = attrs.Factory(JournalSection)
    #: ``[cluster]``: the hosts of ``tradewind serve`` over NATS; see below and
    #: docs/deployment.md.
    cluster: ClusterSection = attrs.Factory(ClusterSection)


@attrs.frozen(kw_only=True)
class Config:
    """A validated configuration, with each plugin instance's options structured."""

    path: Path
    mode: Mode
    timeframes_ns: tuple[int, ...]
    run: RunSection
    instruments: tuple[InstrumentSection, ...]
    strategy: StrategySection
    plugins: Mapping[str, Mapping[str, PluginInstance]]
    host: PluginHost = attrs.field(eq=False, repr=False)
    api: ApiSection = attrs.Factory(ApiSection)
    watchlist: WatchlistSection = attrs.Factory(WatchlistSection)
    routing: RoutingConfig = attrs.Factory(RoutingConfig)
    journal: JournalSection = attrs.Factory(JournalSection)
    cluster: ClusterSection = attrs.Factory(ClusterSection)

    def instances(self, kind: str) -> Mapping[str, PluginInstance]:
        """Instances of ``kind`` in config order."""
        return self.plugins.get(kind, {})

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path)
        return p if p.is_absolute() else (self.path.parent / p)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; errors name the file, line and column.

    Only a regular file is opened (a FIFO would block the read forever, a directory cannot be
    read); text must be UTF-8, as TOML requires.
    """
    check_readable_file(path, what="config file", error=ConfigError)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not UTF-8 text: {_encoding_hint(data, exc)}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(
            f"{path.name} nests arrays or inline tables too deeply to be a tradewind config"
        ) from None


def _encoding_hint(data: bytes, exc: UnicodeDecodeError) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "it is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"
    line = data[: exc.start].count(b"\n") + 1
    return f"byte {data[exc.start]:#04x} at line {line} is not valid UTF-8; save the file as UTF-8"


def plugin_requests(raw: Mapping[str, Any], config_name: str) -> list[PluginInstance]:
    """The plugin instances a raw config declares, before their plugins are loaded."""
    found: list[PluginInstance] = []
    for kind in KINDS:
        section = raw.get(kind, {})
        if not isinstance(section, dict):
            raise ConfigError(f"expected a table of {kind} instances @ $.{kind}")
        for key, options in section.items():
            if not isinstance(options, dict):
                raise ConfigError(
                    f"expected a table [{kind}.{key}] for the {SINGULAR[kind]} instance @ "
                    f"$.{kind}.{key}"
                )
            options = dict(options)
            plugin = options.pop("plugin", key)
            if not isinstance(plugin, str) or not plugin:
                raise ConfigError(f"plugin must be an entry-point name @ $.{kind}.{key}.plugin")
            enabled = options.pop("enabled", True)
            if not isinstance(enabled, bool):
                raise ConfigError(
                    f"expected true or false, got {enabled!r} @ $.{kind}.{key}.enabled"
                )
            if enabled is False:
                found.append(
                    PluginInstance(kind=kind, key=key, plugin=plugin, options={"enabled": False})
                )
                continue
            found.append(PluginInstance(kind=kind, key=key, plugin=plugin, options=options))
    return found


def load_config(
    path: str | Path, *, environ: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> Config:
    """Read, validate and resolve a config file: loads the plugins it enables.

    Relative path options resolve against ``base_dir`` (default: the file's folder).
    """
    path = Path(path)
    raw = read_toml(path)
    core_raw = {k: v for k, v in raw.items() if k not in KINDS}
    if isinstance(core_raw.get("strategy"), dict) and core_raw["strategy"].get("preset"):
        from tradewind.presets import apply_preset

        core_raw["strategy"] = apply_preset(core_raw["strategy"])
    core = structure(core_raw, _CoreSection)
    timeframes = []
    for i, tf in enumerate(core.timeframes):
        try:
            timeframes.append(parse_timeframe(tf))
        except ValueError as exc:
            raise ConfigError(f"{exc} @ $.timeframes[{i}]") from None
    try:
        parse_timeframe(core.strategy.timeframe)
    except ValueError as exc:
        raise ConfigError(f"{exc} @ $.strategy.timeframe") from None

    declared = plugin_requests(raw, path.name)
    from tradewind.builtins import ESSENTIAL

    for inst in declared:
        if (inst.kind, inst.plugin) in ESSENTIAL and inst.options.get("enabled") is False:
            raise ConfigError(
                f"{SINGULAR[inst.kind]} '{inst.plugin}' is essential and cannot be disabled "
                f"@ $.{inst.kind}.{inst.key}.enabled"
            )
    active = [i for i in declared if i.options.get("enabled", True) is not False]
    if not any(i.kind == "notifiers" for i in active):
        # With no notifier configured, events still reach a human: the core's log notifier.
        active.append(PluginInstance(kind="notifiers", key="log", plugin="log", options={}))
    host = load_host(
        [PluginRequest(kind=i.kind, name=i.plugin, config_key=i.config_key) for i in active],
        config_name=path.name,
    )
    plugins: dict[str, dict[str, PluginInstance]] = {kind: {} for kind in KINDS}
    for inst in active:
        cls = host.plugin_class(inst.kind, inst.plugin)
        try:
            cfg = structure(dict(inst.options), cls.config_class, path=f"$.{inst.kind}.{inst.key}")  # type: ignore[attr-defined]
        except ConfigError as exc:  # name the plugin as well as the key's path
            raise ConfigError(
                f"{SINGULAR[inst.kind]} '{inst.plugin}' ({inst.config_key} in {path.name}): {exc}"
            ) from None
        # Path options resolve against the config file's folder, not the working directory.
        cfg = resolve_path_options(cfg, path.parent if base_dir is None else base_dir)
        _check_secrets(cfg, f"$.{inst.kind}.{inst.key}", environ)
        plugins[inst.kind][inst.key] = attrs.evolve(inst, config=cfg)
    # Essential plugins the file does not mention still run, with their defaults.
    for kind, name in ESSENTIAL:
        if not any(i.plugin == name for i in plugins[kind].values()):
            cls = host.plugin_class(kind, name)
            plugins[kind][name] = PluginInstance(
                kind=kind,
                key=name,
                plugin=name,
                options={},
                config=cls.config_class(),  # type: ignore[attr-defined]
            )

    _check_references(core, plugins)
    _check_secrets(core.journal, "$.journal", environ)
    try:
        core.cluster.shard_map([sec.to_instrument().key for sec in core.instruments])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Config(
        path=path,
        mode=core.mode,
        timeframes_ns=tuple(sorted(set(timeframes))),
        run=core.run,
        instruments=tuple(core.instruments),
        strategy=core.strategy,
        plugins=plugins,
        host=host,
        api=core.api,
        watchlist=core.watchlist,
        routing=core.routing,
        journal=core.journal,
        cluster=core.cluster,
    )


def _check_secrets(cfg: Any, path: str, environ: Mapping[str, str] | None) -> None:
    if not attrs.has(type(cfg)):
        return
    for field in attrs.fields(type(cfg)):
        value = getattr(cfg, field.name)
        where = f"{path}.{field.name}"
        if isinstance(value, Secret):
            if not value.is_set(environ):
                raise SecretNotSetError(
                    f"secret env:{value.env_name} is not set: export {value.env_name} before "
                    f"starting the host @ {where}"
                )
        elif attrs.has(type(value)):
            _check_secrets(value, where, environ)


def _check_references(
    core: _CoreSection, plugins: Mapping[str, Mapping[str, PluginInstance]]
) -> None:
    venues = plugins["venues"]
    for i, inst in enumerate(core.instruments):
        for field in ("venue", "data"):
            ref = getattr(inst, field)
            if ref is not None and ref not in venues:
                have = ", ".join(venues) or "none"
                raise ConfigError(
                    f"instrument {inst.symbol} names venue instance '{ref}' but no [venues.{ref}] "
                    f"table exists (configured venues: {have}){did_you_mean(ref, venues)} "
                    f"@ $.instruments[{i}].{field}"
                )
    for problem in core.routing.problems(plugins["aggregators"]):
        raise ConfigError(problem)
    analyzers = plugins["analyzers"]
    for where, rule in core.strategy.rules():
        for field, name in (("value", rule.value), ("ref", rule.ref)):
            if name is None or name == "close":
                continue
            instance = name.split(".", 1)[0]
            if instance not in analyzers:
                have = ", ".join(analyzers) or "none"
                hint = (
                    f"; the preset '{core.strategy.preset}' expects analyzer instances named "
                    f"as in docs/strategy.md"
                    if core.strategy.preset
                    else ""
                )
                raise ConfigError(
                    f"rule reads analyzer instance '{instance}' but no [analyzers.{instance}] "
                    f"table exists (configured analyzers: {have})"
                    f"{did_you_mean(instance, analyzers)}{hint} @ $.strategy.{where}.{field}"
                )


def secrets_in(values: Sequence[Any]) -> list[Secret]:
    """Every Secret in the given config objects (for redaction)."""
    out: list[Secret] = []
    for cfg in values:
        if attrs.has(type(cfg)):
            for field in attrs.fields(type(cfg)):
                v = getattr(cfg, field.name)
                if isinstance(v, Secret):
                    out.append(v)
                elif attrs.has(type(v)):
                    out.extend(secrets_in([v]))
    return out
