"""A paper run across the CEX venue plugins: cryptofeed market data in, ccxt orders out.

What runs is the real thing end to end, with no internet and no mock of a library:

- **market data**: the ``cryptofeed`` venue plugin (cryptofeed's real ``BinanceFutures`` feed,
  redirected by config alone: ``ws_host``, ``rest_host``, ``ca_file``) connected over TLS to
  the plugin's own local Binance USD-M server (``cryptofeed_stub.BinanceStub``), which plays a
  scripted ``aggTrade`` stream (:class:`tests.e2e.cex_local.ScriptedFeed`);
- **execution**: the ``ccxt`` venue plugin (ccxt's real ``binanceusdm``, ``api_host`` pointed
  at the plugin's own local Binance USD-M REST server, which verifies the HMAC-SHA256 of every
  signed request) with order updates on ccxt.pro's user-data websocket. The server acks a
  MARKET order as NEW, executes it at the last trade the feed sent, and pushes the
  ``ORDER_TRADE_UPDATE``; the plugin then reads the execution from ``userTrades`` and reports
  the fill (:class:`tests.e2e.cex_local.LocalUsdm`);
- **the host**: ``load_config`` of a ``mode = "paper"`` TOML file and ``Engine.run`` — the
  ``orderflow-scalper`` preset with its four analyzers (``regime``, ``profile``,
  ``orderflow``, ``micro``) on their default timeframes, the ``trailing`` and ``maxhold``
  exits, the essential kill switch, and the DuckDB journal.

**Composition: ``confluence``.** The preset's gate chain cannot fire on a short stream: its
first level needs the regime analyzer's verdict, which takes 101 candles of 15 minutes. The
preset's own alternative composition is used instead, every rule and weight unchanged. The
script makes it pass deterministically on the 31st one-minute candle:

- 30 warm-up candles whose closes alternate 60,010 / 60,000 with balanced buying and selling
  (``imbalance_1m`` = 1: no candidate passes the imbalance primary); the alternation makes the
  lag-1 autocorrelation of returns -1, so ``|r| > 0.6`` scores 1.0;
- the signal candle opens at 60,000, dips to 59,940, closes at its high 60,010 with 3.0 bought
  against 0.2 sold: ``imbalance_1m`` = 15 > 2 and a rejection wick (lower wick 6x the body,
  close at the top) — both primaries, 2 points, so the score is at least 3 (``min_score``).

The first trade of the next minute closes the candle; the engine signals long, sizes it
(10,000 × 1 % risk over a 0.5 % stop, capped at 1× leverage: 0.166) and sends a MARKET buy.
The stream holds until the fill is booked, then rises to 60,300 and drops to 59,990 — through
the 0.5 % trailing stop (59,998.5) — and the engine sends the reduce-only MARKET sell. Times
are the script's (32 minutes of market time, about two hours ago), played as fast as the run
reacts: the engine's candles follow trade time, not the wall clock.

**How the run ends.** The feed never ends by itself. After the exit fill and one more trade,
the server closes the websocket. The cryptofeed venue reconnects after a drop, forever by
default; with ``max_retries = 0`` its stream raises instead, so ``Engine.run`` ends with the
``VenueError`` "the cryptofeed feed stopped: ... no connection after 0 retries" (wrapped in an
ExceptionGroup by the engine's task groups). The journal is finished and closed by the
engine's ``finally``; the venues are not (the engine closes them only after a clean end), so
the test closes them. Everything is then asserted from the DuckDB journal file and the
exchange server's own log of creates.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.errors import VenueError
from tradewind.report.metrics import metrics_of, report_data
from tradewind.trading.engine import Engine

# The run needs both venue plugins, the preset's analyzers and the two exits; an environment
# without them (tox's ``core`` env installs no venue plugin) skips the module.
for _module in (
    "tradewind_venue_cryptofeed",
    "tradewind_venue_ccxt",
    "tradewind_analyzer_regime",
    "tradewind_analyzer_profile",
    "tradewind_analyzer_orderflow",
    "tradewind_analyzer_microstructure",
    "tradewind_exit_trailing",
    "tradewind_exit_maxhold",
    "tradewind_filter_existing",
    "tradewind_filter_maxpositions",
):
    pytest.importorskip(_module, reason=f"the CEX end-to-end run needs {_module}")

from tradewind.model import Side, Signal  # noqa: E402
from tradewind_filter_existing import ExistingConfig, ExistingPositionFilter  # noqa: E402
from tradewind_filter_maxpositions import MaxPositionsConfig, MaxPositionsFilter  # noqa: E402

from tests.e2e.cex_local import (  # noqa: E402
    API_KEY,
    KEY_ENV,
    MS,
    SECRET,
    SECRET_ENV,
    LocalSpot,
    LocalUsdm,
    ScriptedFeed,
    Tape,
    Trade,
    find_exception,
)
from tests.test_pnl_currency import result_of  # noqa: E402

pytestmark = pytest.mark.e2e

MINUTE_MS = 60_000
STARTING_CASH = Decimal("10000")  # the exchange account's USDT, seeded into the run's account
ENTRY_QTY = Decimal("0.166")
D = Decimal
#: On spot: 10,000 / 60,010 at 1x, on Binance's BTCUSDT lot of 0.00001.
SPOT_ENTRY_QTY = Decimal("0.16663")


@pytest.fixture(autouse=True)
def _isolated_symbol_cache() -> Iterator[None]:
    """cryptofeed caches each exchange's symbol table per process; the local server brings
    its own, so other tests' tables must not leak in (nor this one's out)."""
    from cryptofeed.symbols import Symbols

    saved = dict(Symbols.data)
    Symbols.clear()
    try:
        yield
    finally:
        Symbols.clear()
        Symbols.data.update(saved)


def market_start_ms(now_ms: int) -> int:
    """A 15-minute boundary about two hours before ``now_ms``: the script's minute 0."""
    return (now_ms // (15 * MINUTE_MS) - 8) * 15 * MINUTE_MS


def warmup_and_signal(t0: int) -> list[Trade]:
    """30 balanced candles with alternating closes, then the signal candle (see the module
    docstring). The signal candle is minute 30; its close is decided at minute 31."""
    trades: list[Trade] = []
    close = D(60000)
    for k in range(30):
        start = t0 + k * MINUTE_MS
        opened, close = close, D(60010) if k % 2 == 0 else D(60000)
        mid = (opened + close) / 2
        trades += [
            Trade(start + 1_000, opened, D("0.1"), True),
            Trade(start + 15_000, mid, D("0.1"), False),
            Trade(start + 30_000, mid, D("0.1"), True),
            Trade(start + 50_000, close, D("0.1"), False),
        ]
    s = t0 + 30 * MINUTE_MS
    trades += [
        Trade(s + 1_000, D(60000), D("0.5"), True),
        Trade(s + 5_000, D(59940), D("0.2"), False),
        Trade(s + 20_000, D(59990), D("1.0"), True),
        Trade(s + 40_000, D(60005), D("1.0"), True),
        Trade(s + 55_000, D(60010), D("0.5"), True),
    ]
    return trades


USDM_VENUE = """
[[instruments]]
symbol = "BTCUSDT"
venue = "usdm"          # orders: ccxt binanceusdm
data = "feed"           # trades: cryptofeed BINANCE_FUTURES
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "10"
maker_fee = "0.0002"
taker_fee = "0.0005"

[venues.usdm]
plugin = "ccxt"
exchange = "binanceusdm"
market_type = "swap"
symbols = ["BTCUSDT"]
api_key = "env:{key}"
secret = "env:{secret}"
api_host = "{url}"
order_updates = "websocket"
timeout_ms = 5000
"""

SPOT_VENUE = """
[[instruments]]
symbol = "BTCUSDT"
venue = "spot"          # orders: ccxt binance (spot)
data = "feed"           # trades: cryptofeed BINANCE_FUTURES
kind = "spot"
tick_size = "0.01"
lot_size = "0.00001"
min_notional = "10"
taker_fee = "0.001"

[venues.spot]
plugin = "ccxt"
exchange = "binance"
market_type = "spot"
symbols = ["BTCUSDT"]
api_key = "env:{key}"
secret = "env:{secret}"
api_host = "{url}"
order_updates = "poll"
poll_interval_s = 0.02
timeout_ms = 5000
"""


def write_config(folder: Path, feed: ScriptedFeed, exchange: Any, market: str) -> Path:
    """The paper config: cryptofeed data venue, ccxt execution venue (Binance USD-M or spot),
    the preset. No cash is configured: the run's account is seeded from the exchange."""
    venue = (USDM_VENUE if market == "usdm" else SPOT_VENUE).format(
        key=KEY_ENV, secret=SECRET_ENV, url=exchange.url
    )
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m", "5m", "15m"]

[run]
journal = "journal.duckdb"
reporting_currency = "USDT"
{venue}
[venues.feed]
plugin = "cryptofeed"
exchange = "BINANCE_FUTURES"
symbols = ["BTCUSDT"]
batch_ms = 5
ws_host = "{feed.wss_url}"
rest_host = "{feed.http_url}"
ca_file = "cert.pem"
max_retries = 0

[analyzers.regime]
plugin = "regime"
[analyzers.profile]
plugin = "profile"
[analyzers.orderflow]
plugin = "orderflow"
[analyzers.micro]
plugin = "microstructure"

[exits.trailing]
plugin = "trailing"
trail_pct = 0.005

[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 30

[strategy]
preset = "orderflow-scalper"
composition = "confluence"
""",
        encoding="utf-8",
    )
    assert (folder / "cert.pem").is_file()  # the feed's self-signed certificate
    return path


def rows(con: duckdb.DuckDBPyConnection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(args))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@attrs.frozen
class Session:
    """What one scripted paper session produced."""

    tape: Tape
    exchange: Any
    error: Exception | None
    trigger: Trade
    drop: Trade
    t0: int
    engine: Engine


def run_session(tmp_path: Path, exchange: Any, market: str) -> Session:
    """Play the script (warm-up, signal, rise, drop through the trailing stop) through a paper
    run whose execution venue is ``exchange`` (started; stopped here)."""
    tape = exchange.tape
    try:
        with ScriptedFeed(tmp_path, tape) as feed:
            engine = Engine(load_config(write_config(tmp_path, feed, exchange, market)))

            def booked(n: int) -> Any:
                return lambda: len(engine.orders.fills) >= n

            t0 = market_start_ms(time.time_ns() // MS)
            m31 = t0 + 31 * MINUTE_MS
            warmup = warmup_and_signal(t0)
            trigger = Trade(m31 + 500, D(60010), D("0.1"), True)  # closes the signal candle
            rise = [Trade(m31 + 2_000, D(60100), D("0.1"), True)]
            rise.append(Trade(m31 + 5_000, D(60300), D("0.1"), True))
            drop = Trade(m31 + 20_000, D(59990), D("0.3"), False)  # through the trailing stop
            last = Trade(m31 + 30_000, D(59995), D("0.1"), True)
            n_trades = len(warmup) + 1 + len(rise) + 1 + 1
            if market == "usdm":
                ready = ("until", lambda: bool(exchange.streams), 20.0)  # ccxt.pro's stream
            else:
                ready = ("wait", 0.0)  # spot order updates are polled
            feed.script(
                ready,
                *[("trade", t) for t in warmup],
                ("trade", trigger),
                ("until", booked(1), 20.0),  # the entry is filled and booked
                *[("trade", t) for t in rise],
                ("trade", drop),
                ("until", booked(2), 20.0),  # the exit is filled and booked
                ("trade", last),  # one more step: the exit's events are published
                ("until", lambda: engine.ticks >= n_trades, 20.0),
                ("close",),
            )

            async def run() -> Exception | None:
                try:
                    await engine.run()
                except Exception as exc:  # the feed's end, inspected below
                    return exc
                finally:
                    with anyio.CancelScope(shield=True):
                        for venue in engine.venues.values():
                            await venue.close()
                return None

            error = anyio.run(run)
            assert feed.done.is_set() and feed.error is None
    finally:
        exchange.stop()
    assert tape.timeouts == 0, "the run did not react to the script in time"
    assert error is not None, "the feed's end must end the run"
    stopped = find_exception(error, VenueError)
    assert stopped is not None, f"expected the feed's VenueError, got {error!r}"
    assert "the cryptofeed feed stopped" in str(stopped)
    assert "no connection after 0 retries" in str(stopped)
    assert not exchange.unknown and exchange.bad_signatures == 0
    return Session(
        tape=tape,
        exchange=exchange,
        error=error,
        trigger=trigger,
        drop=drop,
        t0=t0,
        engine=engine,
    )


def final_balances(con: duckdb.DuckDBPyConnection, venue: str) -> dict[str, Decimal]:
    """The run's account of ``venue`` as journaled at its end (zero balances left out)."""
    got = rows(
        con,
        "SELECT asset, amount FROM account_balances WHERE venue = ? AND reason = 'final'",
        venue,
    )
    return {r["asset"]: D(r["amount"]) for r in got if D(r["amount"])}


def test_paper_run_cryptofeed_to_ccxt_is_journaled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    exchange = LocalUsdm(Tape(), fill_mode="stream").start()
    session = run_session(tmp_path, exchange, "usdm")
    trigger, drop, t0 = session.trigger, session.drop, session.t0
    assert not exchange.push_errors

    # What the exchange received: exactly two creates, two distinct client order ids.
    creates = exchange.creates_log
    assert [(c.side, c.type, c.reduce_only) for c in creates] == [
        ("BUY", "MARKET", False),
        ("SELL", "MARKET", True),
    ]
    entry_id, exit_id = (c.client_order_id for c in creates)
    assert len({entry_id, exit_id}) == 2 and exchange.creates == 2
    assert [D(c.quantity) for c in creates] == [ENTRY_QTY, ENTRY_QTY]
    entry_trade, exit_trade = exchange.trades
    assert (D(entry_trade["price"]), D(exit_trade["price"])) == (D(60010), D(59990))

    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        (run_row,) = rows(con, "SELECT * FROM runs")
        assert run_row["mode"] == "paper" and run_row["finished_ts_ns"] is not None
        session = run_row["session_id"]

        # The signal: one long entry, scored by the confluence of the preset.
        (signal,) = rows(con, "SELECT * FROM signals WHERE session_id = ?", session)
        assert (signal["instrument"], signal["side"], signal["intent"]) == (
            "usdm:BTCUSDT",
            "buy",
            "open",
        )
        assert signal["ts_ns"] == (t0 + 31 * MINUTE_MS) * MS  # the close of minute 30
        assert D(signal["entry"]) == D(60010) and D(signal["quantity"]) == ENTRY_QTY
        assert signal["score"] >= 3.0
        assert not rows(con, "SELECT * FROM vetoes")

        # The orders: exactly the ids the exchange received, each filled.
        orders = rows(con, "SELECT * FROM orders ORDER BY id_seq")
        assert [o["client_order_id"] for o in orders] == [entry_id, exit_id]
        entry, exit_ = orders
        assert (entry["side"], entry["type"], entry["reduce_only"], entry["tag"]) == (
            "buy",
            "market",
            False,
            "entry",
        )
        assert (exit_["side"], exit_["reduce_only"]) == ("sell", True)  # a perp close
        assert (entry["intent"], exit_["intent"]) == ("entry", "close")
        assert exit_["created_ts_ns"] == drop.ts_ms * MS  # decided on the drop trade
        assert exit_["tag"].startswith("trailing: trailing stop 0.50% from best 60300")
        for o, trade in ((entry, entry_trade), (exit_, exit_trade)):
            assert o["status"] == "filled" and D(o["filled_quantity"]) == ENTRY_QTY
            assert o["venue"] == "usdm" and o["venue_order_id"] == str(trade["orderId"])

        # Every order's life in order_events: written before sending, then filled.
        for cid in (entry_id, exit_id):
            events = rows(
                con,
                "SELECT kind, from_status, to_status FROM order_events "
                "WHERE client_order_id = ? ORDER BY seq",
                cid,
            )
            assert events[0] == {"kind": "submitted", "from_status": None, "to_status": "new"}
            assert events[-1]["to_status"] == "filled"
            assert all(e["kind"] not in ("illegal", "unknown", "unresolved") for e in events)

        # The fills: one per order, with the exchange's trade ids and prices.
        fills = rows(con, "SELECT * FROM fills ORDER BY seq")
        assert [(f["client_order_id"], f["trade_id"]) for f in fills] == [
            (entry_id, str(entry_trade["id"])),
            (exit_id, str(exit_trade["id"])),
        ]
        assert [(f["side"], D(f["quantity"]), D(f["price"])) for f in fills] == [
            ("buy", ENTRY_QTY, D(60010)),
            ("sell", ENTRY_QTY, D(59990)),
        ]
        assert [f["ts_ns"] for f in fills] == [trigger.ts_ms * MS, drop.ts_ms * MS]
        assert [D(f["fee"]) for f in fills] == [
            D(entry_trade["commission"]),
            D(exit_trade["commission"]),
        ]
        assert [f["fee_currency"] for f in fills] == ["USDT", "USDT"]

        # The account: seeded from the exchange's wallet (no starting_balance anywhere), and
        # at the end exactly the exchange's wallet: 10,000 + realised P&L - commissions.
        (start,) = rows(con, "SELECT * FROM account_balances WHERE reason = 'start'")
        assert (start["venue"], start["asset"], D(start["amount"])) == (
            "usdm",
            "USDT",
            STARTING_CASH,
        )
        assert final_balances(con, "usdm") == {"USDT": exchange.wallet}
        assert exchange.wallet == STARTING_CASH + (D(59990) - D(60010)) * ENTRY_QTY - sum(
            D(t["commission"]) for t in exchange.trades
        )

        # The positions: opened by the entry fill, flat after the exit with the loss booked.
        positions = rows(con, "SELECT * FROM positions WHERE reason = 'fill' ORDER BY seq")
        assert [D(p["quantity"]) for p in positions] == [ENTRY_QTY, D(0)]
        assert D(positions[0]["avg_price"]) == D(60010)
        assert D(positions[-1]["realized_pnl"]) == (D(59990) - D(60010)) * ENTRY_QTY
        # In the currency the linear perpetual settles in, as the venue named it.
        assert [p["pnl_currency"] for p in positions] == ["USDT", "USDT"]

        # The bus saw it too: the entry and exit submitted, both fills, the position closed.
        kinds = [r["type"] for r in rows(con, "SELECT type FROM events ORDER BY seq")]
        assert kinds.count("OrderSubmitted") == 2 and kinds.count("FillEvent") == 2
        assert "PositionClosed" in kinds
    finally:
        con.close()


def test_paper_run_on_binance_spot_opens_and_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same session on a spot market: the entry buys BTC and pays its commission in BTC
    (Binance's default), the close is a plain sell of what the account holds (spot has no
    reduce-only), and the journal's fills, fees (with their currency) and final balances are
    exactly the exchange's."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    exchange = LocalSpot(Tape()).start()
    session = run_session(tmp_path, exchange, "spot")

    with exchange.lock:
        sent = list(exchange.orders.values())
        trades = list(exchange.trades)
        balances = {k: v for k, v in exchange.balances.items() if v}
    assert [(o["side"], o["type"]) for o in sent] == [("BUY", "MARKET"), ("SELL", "MARKET")]
    entry_trade, exit_trade = trades
    fee_btc = D(entry_trade["commission"])
    assert entry_trade["commissionAsset"] == "BTC" and exit_trade["commissionAsset"] == "USDT"
    held = SPOT_ENTRY_QTY - fee_btc  # what arrived
    sold = (held / D("0.00001")).to_integral_value(rounding="ROUND_DOWN") * D("0.00001")
    assert [D(o["origQty"]) for o in sent] == [SPOT_ENTRY_QTY, sold]

    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = rows(con, "SELECT * FROM orders ORDER BY id_seq")
        assert [o["client_order_id"] for o in orders] == [o["clientOrderId"] for o in sent]
        assert [(o["side"], o["reduce_only"], o["intent"], o["status"]) for o in orders] == [
            ("buy", False, "entry", "filled"),
            ("sell", False, "close", "filled"),
        ]
        # Each journaled order is the exchange's record of it: its id there, its state and
        # the quantity it executed.
        assert [
            (o["venue_order_id"], o["status"], D(o["quantity"]), D(o["filled_quantity"]))
            for o in orders
        ] == [
            (str(o["orderId"]), o["status"].lower(), D(o["origQty"]), D(o["executedQty"]))
            for o in sent
        ]
        fills = rows(con, "SELECT * FROM fills ORDER BY seq")
        assert [
            (f["trade_id"], D(f["quantity"]), D(f["price"]), D(f["fee"]), f["fee_currency"])
            for f in fills
        ] == [
            (str(entry_trade["id"]), SPOT_ENTRY_QTY, D(60010), fee_btc, "BTC"),
            (str(exit_trade["id"]), sold, D(59990), D(exit_trade["commission"]), "USDT"),
        ]
        assert [f["ts_ns"] for f in fills] == [session.trigger.ts_ms * MS, session.drop.ts_ms * MS]
        # The position: the BTC that arrived, then what is left below one lot (unsellable).
        positions = rows(con, "SELECT * FROM positions WHERE reason = 'fill' ORDER BY seq")
        assert [D(p["quantity"]) for p in positions] == [held, held - sold]
        # Their P&L in the spot pair's quote currency, as the venue named it.
        assert [p["pnl_currency"] for p in positions] == ["USDT", "USDT"]
        assert held - sold < D("0.00001")
        # The account: seeded with the exchange's 10,000 USDT, ending exactly as it does.
        assert final_balances(con, "spot") == balances
        assert balances["USDT"] == (
            STARTING_CASH
            - SPOT_ENTRY_QTY * D(60010)
            + sold * D(59990)
            - D(exit_trade["commission"])
        )
        kinds = [r["type"] for r in rows(con, "SELECT type FROM events ORDER BY seq")]
        assert kinds.count("FillEvent") == 2
        assert not rows(con, "SELECT * FROM vetoes")
    finally:
        con.close()
    # The fees, one in BTC and one in USDT, are counted in the pair's quote (the BTC valued
    # at its fill's price), never added raw: 0.0001 BTC + 5 USDT is not 5.0001 USDT.
    pf = session.engine.portfolio
    fees = fee_btc * D(60010) + D(exit_trade["commission"])
    assert pf.fees_by_currency == {"USDT": fees} and pf.fees_paid == fees
    assert metrics_of(result_of(session.engine)).fees_paid == fees  # the report's figure

    # The dust the fee left is no position to the filters either (the engine's own rule,
    # tradewind.trading.intents.holds): the `existing` and `maxpositions` filters, given the
    # run's own filter context, let the instrument take its next entry.
    engine = session.engine
    key = "spot:BTCUSDT"
    assert engine.portfolio.position(key).quantity == held - sold > 0
    ctx = engine.filter_context
    assert ctx.position(key).is_flat and list(ctx.positions()) == []
    again = Signal(
        instrument=key,
        side=Side.BUY,
        entry=D(59995),
        stop=D(59700),
        score=3.0,
        ts_ns=session.drop.ts_ms * MS,
        quantity=SPOT_ENTRY_QTY,
    )
    assert ExistingPositionFilter(ExistingConfig(side="any")).check(again, ctx) is None
    assert MaxPositionsFilter(MaxPositionsConfig(max_open_positions=1)).check(again, ctx) is None


def test_paper_run_on_binance_spot_with_bnb_commissions_states_no_net_pnl_without_a_price(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spot session with the exchange charging its commissions in BNB (the account holds
    BNB for fees): the fills name BNB (a third currency), the whole BTC arrives, and BNB has
    no price in USDT at either fill (no configured instrument trades it), so its fees cannot
    be taken out of the trade: the journaled fills carry no BNB price, the trade's net P&L
    and the fee total are null with the reason (never the gross), and the account's BNB
    ends exactly as the exchange's."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    exchange = LocalSpot(Tape())
    exchange.commission_asset = "BNB"
    exchange.balances["BNB"] = D(20)
    exchange.start()
    session = run_session(tmp_path, exchange, "spot")

    with exchange.lock:
        sent = list(exchange.orders.values())
        trades = list(exchange.trades)
        balances = {k: v for k, v in exchange.balances.items() if v}
    entry_trade, exit_trade = trades
    assert entry_trade["commissionAsset"] == exit_trade["commissionAsset"] == "BNB"
    bnb = [D(entry_trade["commission"]), D(exit_trade["commission"])]
    assert [D(o["origQty"]) for o in sent] == [SPOT_ENTRY_QTY, SPOT_ENTRY_QTY]  # all arrived

    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        fills = rows(con, "SELECT * FROM fills ORDER BY seq")
        assert [(D(f["fee"]), f["fee_currency"], f["fee_asset"], f["fee_rate"]) for f in fills] == [
            (bnb[0], "BNB", "other", None),
            (bnb[1], "BNB", "other", None),
        ]
        assert final_balances(con, "spot") == balances
        assert balances["BNB"] == D(20) - sum(bnb, D(0))
    finally:
        con.close()

    engine = session.engine
    figures = engine.figures()
    assert figures.fees_paid is None and figures.fees_by_currency == {"BNB": sum(bnb, D(0))}
    assert "no price of BNB in USDT at the fill" in figures.fees_not_converted
    result = result_of(engine)
    (trip,) = report_data(result)["round_trips"]
    gross = (D(59990) - D(60010)) * SPOT_ENTRY_QTY
    assert D(trip["gross_pnl"]) == gross and trip["other_fees"] == {"BNB": str(sum(bnb, D(0)))}
    assert trip["pnl"] is None and trip["fees"] is None
    assert "no price of BNB" in trip["fees_not_converted"]
    assert metrics_of(result).fees_paid is None


def run_engine(engine: Engine) -> Exception | None:
    """Run ``engine`` until its feed ends; the venues are closed either way."""

    async def run() -> Exception | None:
        try:
            await engine.run()
        except Exception as exc:  # the feed's end (max_retries = 0)
            return exc
        finally:
            with anyio.CancelScope(shield=True):
                for venue in engine.venues.values():
                    await venue.close()
        return None

    return anyio.run(run)


@pytest.mark.parametrize("released", ["while_down", "after_restart"])
def test_restart_with_an_order_in_flight_delivers_its_fill_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, released: str
) -> None:
    """A paper host stops while its entry is accepted but not executed at the exchange. The
    exchange executes it while the host is down (``while_down``: reconciliation books the
    fill from the exchange's trade list) or after the host is back (``after_restart``: the
    venue takes the order back and its poll delivers the fill). Either way the fill is
    journaled once, the position trades again (the trailing exit closes it) and the account
    ends exactly as the exchange's."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    tape = Tape()
    exchange = LocalSpot(tape).start()
    exchange.hold_market = True  # MARKET orders wait for release(): in flight
    t0 = market_start_ms(time.time_ns() // MS)
    m31 = t0 + 31 * MINUTE_MS
    try:
        with ScriptedFeed(tmp_path, tape) as feed:
            path = write_config(tmp_path, feed, exchange, "spot")
            first = Engine(load_config(path))
            warmup = warmup_and_signal(t0)
            feed.script(
                *[("trade", t) for t in warmup],
                ("trade", Trade(m31 + 500, D(60010), D("0.1"), True)),  # the signal
                ("until", lambda: bool(exchange.orders), 20.0),  # the entry reached it
                ("trade", Trade(m31 + 1_000, D(60010), D("0.1"), True)),
                ("until", lambda: first.ticks >= len(warmup) + 2, 20.0),
                ("close",),
            )
            assert run_engine(first) is not None
            next_id = feed.next_id
        (entry_id,) = exchange.orders
        assert exchange.orders[entry_id]["status"] == "NEW"
        assert not first.orders.fills
        exchange.hold_market = False  # from now on MARKET orders execute at once
        if released == "while_down":
            exchange.release()

        with ScriptedFeed(tmp_path, tape, first_id=next_id) as feed:
            write_config(tmp_path, feed, exchange, "spot")  # the same file: the session resumes
            second = Engine(load_config(path))

            def booked(n: int) -> Any:
                return lambda: len(second.orders.fills) >= n

            before = 1 if released == "after_restart" else 0
            steps: list[tuple[Any, ...]] = [("trade", Trade(m31 + 2_000, D(60020), D("0.1"), True))]
            if released == "after_restart":
                steps += [
                    ("until", lambda: bool(exchange.release()) or True, 1.0),
                    ("until", booked(1), 20.0),  # the fill arrives through the poll
                ]
            steps += [
                ("trade", Trade(m31 + 5_000, D(60300), D("0.1"), True)),
                ("trade", Trade(m31 + 20_000, D(59990), D("0.3"), False)),  # trailing stop
                ("until", booked(before + 1), 20.0),
                ("trade", Trade(m31 + 30_000, D(59995), D("0.1"), True)),
                ("until", lambda: second.ticks >= 4, 20.0),
                ("close",),
            ]
            feed.script(*steps)
            assert run_engine(second) is not None
    finally:
        exchange.stop()
    assert tape.timeouts == 0, "the run did not react to the script in time"

    with exchange.lock:
        orders = list(exchange.orders.values())
        trades = list(exchange.trades)
        balances = {k: v for k, v in exchange.balances.items() if v}
    assert [(o["side"], o["status"]) for o in orders] == [("BUY", "FILLED"), ("SELL", "FILLED")]
    entry_trade, exit_trade = trades
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        fills = rows(con, "SELECT * FROM fills ORDER BY seq")
        assert [(f["client_order_id"], f["trade_id"]) for f in fills] == [
            (entry_id, str(entry_trade["id"])),
            (orders[1]["clientOrderId"], str(exit_trade["id"])),
        ]
        assert D(fills[0]["fee"]) == D(entry_trade["commission"])
        assert fills[0]["fee_currency"] == "BTC"
        journaled = rows(con, "SELECT client_order_id, status, intent FROM orders ORDER BY id_seq")
        assert [(o["status"], o["intent"]) for o in journaled] == [
            ("filled", "entry"),
            ("filled", "close"),
        ]
        assert final_balances(con, "spot") == balances
        (last,) = rows(
            con, "SELECT quantity FROM positions WHERE reason = 'fill' ORDER BY seq DESC LIMIT 1"
        )
        assert D(last["quantity"]) < D("0.00001")  # closed (dust below one lot)
        runs = rows(con, "SELECT session_id FROM runs")
        assert len(runs) == 2 and runs[0]["session_id"] == runs[1]["session_id"]
    finally:
        con.close()
