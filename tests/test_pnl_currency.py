"""P&L with its currency: journaled with every position, shown by the report, the API and the
control read-outs, totalled across currencies only by conversion, and checked on resume."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import anyio
import duckdb
import pytest
from rich.console import Console
from tradewind.api.views import HostView
from tradewind.config import load_config
from tradewind.errors import ConfigError
from tradewind.journal.store import Journal
from tradewind.model import Fill, Instrument, InstrumentKind, Order, OrderType, Position, Side
from tradewind.report.analysis import analyse
from tradewind.report.html import render_html
from tradewind.report.metrics import metrics_of, report_data
from tradewind.report.summary import headline_rows, print_summary, realized_line
from tradewind.trading.accounts import ConversionError
from tradewind.trading.engine import Engine, RunResult
from tradewind.trading.pnl import pnl_currencies, total

from tests.test_engine import demo_config_text

D = Decimal
PERP_BLOCK = 'kind = "perp"\n'


def demo(tmp_path: Path, instrument: str = PERP_BLOCK, *, mode: str = "backtest") -> Path:
    """The shipped demo (the sim venue on the real BTCUSDT sample), its instrument block's
    kind line replaced by ``instrument``."""
    text = demo_config_text(tmp_path).replace(PERP_BLOCK, instrument)
    text = text.replace('mode = "backtest"', f'mode = "{mode}"')
    p = tmp_path / f"{mode}.toml"
    p.write_text(text, encoding="utf-8")
    return p


def journaled(tmp_path: Path) -> list[tuple[str, str | None, int]]:
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT instrument, pnl_currency, count(*) FROM positions GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()


# -- journaled ------------------------------------------------------------------------------
def test_spot_positions_are_journaled_in_the_quote_currency(tmp_path):
    cfg = demo(tmp_path, 'kind = "spot"\nbase = "BTC"\nquote = "FDUSD"\n')
    result = anyio.run(Engine(load_config(cfg), run_id="spot").run)
    assert result.fills
    # Every position row, one per fill, in FDUSD: the spot pair's quote, not the run's
    # reporting currency (USDT).
    assert journaled(tmp_path) == [("sim:BTCUSDT", "FDUSD", len(result.fills))]
    assert result.summary["pnl_currencies"] == {"sim:BTCUSDT": "FDUSD"}


def test_linear_perp_positions_are_journaled_in_their_settlement_currency(tmp_path):
    cfg = demo(tmp_path, 'kind = "perp"\nbase = "BTC"\nquote = "USDC"\n')
    text = cfg.read_text().replace("[run]\n", '[run]\nreporting_currency = "USDC"\n', 1)
    cfg.write_text(text)
    result = anyio.run(Engine(load_config(cfg), run_id="perp").run)
    assert result.fills
    assert journaled(tmp_path) == [("sim:BTCUSDT", "USDC", len(result.fills))]
    realized = D(result.summary["realized_pnl"])
    # One currency, the reporting one: the total is that currency's amount itself.
    assert result.summary["realized_pnl_by_currency"] == {"USDC": str(realized)}
    assert result.summary["currency"] == "USDC"


def test_an_instrument_without_a_quote_books_in_the_reporting_currency():
    inst = Instrument(venue="sim", symbol="X", kind=InstrumentKind.PERP)
    spot = Instrument(venue="v", symbol="ETHBTC", base="ETH", quote="BTC")
    got = pnl_currencies({inst.key: inst, spot.key: spot}, "USDT")
    assert got == {"sim:X": "USDT", "v:ETHBTC": "BTC"}


# -- shown ----------------------------------------------------------------------------------
def test_report_summary_and_control_name_the_pnl_currency(tmp_path):
    cfg = demo(tmp_path, 'kind = "perp"\nbase = "BTC"\nquote = "USDT"\n')
    engine = Engine(load_config(cfg), run_id="shown")
    result = anyio.run(engine.run)
    s = result.summary
    assert s["pnl_currencies"] == {"sim:BTCUSDT": "USDT"}
    assert s["realized_pnl_by_currency"] == {"USDT": s["realized_pnl"]}
    # The journaled fill and close events carry the currency of the P&L they state.
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        kinds = con.execute(
            "SELECT type, json_extract_string(payload, '$.pnl_currency'), count(*) FROM events "
            "WHERE type IN ('FillEvent', 'PositionClosed') GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert [(t, c) for t, c, _ in kinds] == [("FillEvent", "USDT"), ("PositionClosed", "USDT")]
    data = report_data(result)
    assert data["round_trips"] and {t["pnl_currency"] for t in data["round_trips"]} == {"USDT"}
    assert {t["pnl_currency"] for t in data["trades"]} == {"USDT"}
    # One currency, the reporting one: the headline's P&L is in it, no per-currency row.
    assert "Realised P&L" not in dict(headline_rows_of(result))
    # The control read-outs (Telegram's /profit, /trades, /positions, the CLI summary).
    profit = engine.control.profit()
    assert profit["currency"] == "USDT" and "realized_pnl_by_currency" not in profit
    assert profit["realized_pnl"] != "n/a"
    assert engine.control.trades() and {t["currency"] for t in engine.control.trades()} == {"USDT"}
    assert engine.control.balance()["currency"] == "USDT"


def headline_rows_of(result):
    return headline_rows(analyse(result), result.summary)


def test_the_api_trades_carry_their_pnl_currency(tmp_path):
    cfg = demo(tmp_path, 'kind = "spot"\nbase = "BTC"\nquote = "USDT"\n')
    engine = Engine(load_config(cfg), run_id="api")
    view = HostView(engine)
    anyio.run(engine.run)
    trades = view.trades_page(500, 0)["trades"]
    assert trades
    for t in trades:
        # Freqtrade's names kept, tradewind's added.
        assert t["pnl_currency"] == "USDT" and t["fee_open_currency"] == "USDT"
        assert "profit_abs" in t
    profit = view.profit()
    assert profit["currency"] == "USDT" and profit["conversion_error"] is None
    closed = [t for t in trades if not t["is_open"]]
    closed_sum = sum((D(t["profit_exact"]) for t in closed), D(0))
    assert profit["profit_closed_by_currency"] == {"USDT": str(closed_sum)}
    assert profit["profit_closed_coin"] == float(closed_sum)
    assert {r["pnl_currency"] for r in view.performance()} == {"USDT"}


# -- totals across currencies ---------------------------------------------------------------
TWO = """
[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.001"

[[instruments]]
symbol = "ETHBTC"
venue = "sim"
data = "replay"
kind = "spot"
base = "ETH"
quote = "BTC"
tick_size = "0.000001"
lot_size = "0.001"
"""


def two_currency_engine(tmp_path: Path) -> Engine:
    text = demo_config_text(tmp_path)
    head, _, rest = text.partition("[[instruments]]")
    _, _, tail = rest.partition("[venues.sim]")
    p = tmp_path / "two.toml"
    p.write_text(head + TWO.strip() + "\n\n[venues.sim]" + tail, encoding="utf-8")
    return Engine(load_config(p), run_id="two")


def round_trip(engine: Engine, key: str, qty: str, buy: str, sell: str, n: int) -> None:
    """An entry and its close booked by the order manager (as a venue's fills arrive)."""
    venue = engine.venues["sim"]
    for i, (side, price) in enumerate(((Side.BUY, buy), (Side.SELL, sell))):
        cid = f"t{n}-{i}"
        order = Order(
            client_order_id=cid,
            instrument=key,
            side=side,
            type=OrderType.MARKET,
            quantity=D(qty),
            created_ts_ns=n * 10 + i,
            intent="entry" if i == 0 else "close",
        )
        engine.orders.open(venue, order, n * 10 + i)
        engine.orders.on_fill(
            Fill(
                client_order_id=cid,
                instrument=key,
                side=side,
                quantity=D(qty),
                price=D(price),
                fee=D(0),
                ts_ns=n * 10 + i,
                trade_id=cid,
            )
        )


def test_pnl_in_two_currencies_is_converted_never_summed_raw(tmp_path):
    engine = two_currency_engine(tmp_path)
    view = HostView(engine)
    round_trip(engine, "sim:BTCUSDT", "0.1", "60000", "60100", 1)  # +10 USDT
    round_trip(engine, "sim:ETHBTC", "1", "0.05", "0.051", 2)  # +0.001 BTC
    assert engine.pnl_currencies == {"sim:BTCUSDT": "USDT", "sim:ETHBTC": "BTC"}

    # No BTC price yet: no total (a raw sum would be 10.001), each currency on its own.
    figures = engine.figures()
    assert figures.realized_pnl is None
    assert figures.realized_by_currency == {"USDT": D("10.0"), "BTC": D("0.001")}
    profit = engine.control.profit()
    assert profit["realized_pnl"] == "n/a"
    assert profit["realized_pnl_by_currency"] == "0.00100000 BTC, 10.00 USDT"
    assert "cannot convert BTC to the reporting currency USDT" in profit["not_converted"]
    view.source.publish()
    api = view.profit()
    assert api["profit_closed_coin"] is None and api["profit_all_fiat"] is None
    assert api["profit_closed_by_currency"] == {"BTC": "0.001", "USDT": "10.0"}
    assert "BTC" in api["conversion_error"]
    assert api["closed_trade_count"] == 2 and api["winning_trades"] == 2
    daily = view.periodic("days", 1)
    assert daily["data"][0]["abs_profit"] is None and "BTC" in daily["conversion_error"]
    line = realized_line(engine.summary(), "USDT")
    assert line.startswith("n/a (not convertible to USDT)") and "+0.00100000 BTC" in line
    # The report: no sum over trades in two currencies without a price for one of them.
    result = result_of(engine)
    assert metrics_of(result).to_json()["net_pnl"] is None
    assert metrics_of(result).to_json()["unvalued_currencies"] == ["BTC"]
    a = analyse(result)
    assert a.unvalued == ("BTC",)
    rows = dict(headline_rows(a, result.summary))
    assert rows["Expectancy"] == "n/a (P&L in BTC, which has no price in USDT)"
    assert rows["Profit factor"] == rows["Best trade"] == rows["Expectancy"]
    assert rows["Realised P&L"] == line
    text = printed(result)
    assert "0.00100000 BTC" in text and "Per exit reason and per period: n/a (P&L in BTC" in text
    page = render_html(result)
    assert "Per exit reason and per period: n/a (P&amp;L in BTC, which has no price" in page
    assert "+0.00100000 BTC" in page  # the ETHBTC trade's row, in its own currency

    # BTC trades at 60,000 USDT: converted at the host's mark, 10 + 0.001 × 60,000 = 70.
    engine.portfolio.mark("sim:BTCUSDT", 60000.0, 100)
    figures = engine.figures()
    assert figures.realized_pnl == D("70.0")
    assert engine.control.profit()["realized_pnl"] == "70.00"
    view.source.publish()
    api = view.profit()
    assert api["profit_closed_coin"] == 70.0 and api["conversion_error"] is None
    daily = view.periodic("days", 1)
    assert daily["data"][0]["abs_profit"] == 70.0 and daily["conversion_error"] is None
    by_pair = {r["pair"]: r for r in view.performance()}
    assert by_pair["sim:ETHBTC"]["pnl_currency"] == "BTC"
    assert by_pair["sim:ETHBTC"]["profit_abs"] == 0.001  # in BTC, labelled
    assert D(engine.summary()["realized_pnl"]) == D("70")
    # The report values each trade in USDT at the end's rate: +10 and +60.
    result = result_of(engine)
    m = metrics_of(result)
    assert (m.net_pnl, m.expectancy, m.unvalued) == (D("70"), D("35"), ())
    a = analyse(result)
    assert a.unvalued == () and a.best is not None and a.best.pnl == D("60")
    assert a.best.instrument == "sim:ETHBTC"
    assert {b.key: b.net_pnl for b in a.by_instrument} == {
        "sim:BTCUSDT": D("10.0"),
        "sim:ETHBTC": D("0.001"),  # per instrument: in its own currency
    }
    rows = dict(headline_rows(a, result.summary))
    assert rows["Expectancy"] == "+35.00 USDT"
    text = printed(result)
    assert "+0.00100000 BTC" in text and "Per exit reason" in text
    assert realized_line(engine.summary(), "USDT") == "+70.00 USDT (+0.00100000 BTC, +10.00 USDT)"


def result_of(engine: Engine) -> RunResult:
    """The engine's results so far, as a finished run hands them to the report."""
    return RunResult(
        run_id=engine.run_id,
        summary=engine.summary(),
        equity_curve=list(engine.equity_curve),
        closed_trades=list(engine.orders.closed_trades),
        fills=list(engine.orders.fills),
        order_tags={cid: o.tag for cid, o in engine.orders.orders.items()},
    )


def printed(result: RunResult, width: int = 160) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    print_summary(result, console)
    return console.export_text()


def test_total_keeps_a_currency_it_cannot_convert_out_of_the_sum():
    def rate(c: str) -> Decimal:
        if c == "BTC":
            return D("60000")
        raise ConversionError(f"no price for {c}")

    t = total([("USDT", D("5")), ("BTC", D("0.5")), ("USDT", D("1"))], "USDT", rate)
    assert (t.total, dict(t.by_currency), t.error) == (
        D("30006.0"),
        {"USDT": D("6"), "BTC": D("0.5")},
        "",
    )
    t = total([("USDT", D("5")), ("ETH", D("2"))], "USDT", rate)
    assert t.total is None and t.error == "2 ETH: no price for ETH"
    assert t.to_json() == {"ETH": "2", "USDT": "5"}


# -- resume ---------------------------------------------------------------------------------
def test_a_resume_that_changes_an_instruments_settlement_currency_is_refused(tmp_path):
    cfg = demo(tmp_path, 'kind = "perp"\nbase = "BTC"\nquote = "USDT"\n', mode="paper")
    first = anyio.run(Engine(load_config(cfg)).run)
    assert first.fills
    cfg.write_text(cfg.read_text().replace('quote = "USDT"', 'quote = "USDC"'))
    with pytest.raises(ConfigError) as err:
        anyio.run(Engine(load_config(cfg)).run)
    text = str(err.value)
    assert "instrument sim:BTCUSDT: journaled in USDT, the config now settles it in USDC" in text
    # Nothing of the refused run was journaled as a position.
    assert journaled(tmp_path) == [("sim:BTCUSDT", "USDT", len(first.fills))]
    # The same currency again resumes.
    cfg.write_text(cfg.read_text().replace('quote = "USDC"', 'quote = "USDT"'))
    again = anyio.run(Engine(load_config(cfg)).run)
    assert again.summary["pnl_currencies"] == {"sim:BTCUSDT": "USDT"}


# -- migration ------------------------------------------------------------------------------
def old_journal(path: Path) -> None:
    """A journal as written before ``positions.pnl_currency`` existed: one session with a
    fill that paid its fee in USDC (the quote), one in the quote of an unknown currency."""
    j = Journal(path, "old")
    j.start("paper", "cfg.toml", 0)
    usdc = Fill(
        client_order_id="c1",
        instrument="v:BTCUSDC",
        side=Side.BUY,
        quantity=D("1"),
        price=D("100"),
        fee=D("0.1"),
        ts_ns=1,
        trade_id="a",
        fee_currency="USDC",
        fee_asset="quote",
    )
    sim = Fill(
        client_order_id="c2",
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        quantity=D("1"),
        price=D("100"),
        fee=D("0.1"),
        ts_ns=2,
        trade_id="b",
    )
    for f in (usdc, sim):
        j.record_fill(f, Position(instrument=f.instrument).apply(f))
    j.close()
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE positions DROP COLUMN pnl_currency")
    con.close()


def test_an_old_journal_gains_the_column_filled_from_what_it_knows(tmp_path):
    path = tmp_path / "old.duckdb"
    old_journal(path)
    j = Journal(path, "new")
    j.start("paper", "cfg.toml", 0)
    assert j.resumed and j.session_id == "old"
    rows = dict(j.query("SELECT instrument, pnl_currency FROM positions ORDER BY seq"))
    # The fill that paid its fee in the quote names the currency; the simulated one does not.
    assert rows == {"v:BTCUSDC": "USDC", "sim:BTCUSDT": None}
    # The host's instruments fill the rest; a changed one is refused, naming both.
    with pytest.raises(ConfigError, match="instrument v:BTCUSDC: journaled in USDC, the config "):
        j.set_pnl_currencies({"v:BTCUSDC": "USDT", "sim:BTCUSDT": "USDT"})
    j.set_pnl_currencies({"v:BTCUSDC": "USDC", "sim:BTCUSDT": "USDT"})
    rows = dict(j.query("SELECT instrument, pnl_currency FROM positions ORDER BY seq"))
    assert rows == {"v:BTCUSDC": "USDC", "sim:BTCUSDT": "USDT"}
    j.close()
    # Reopened: nothing left to migrate, the column and its values stay.
    again = Journal.open_readonly(path)
    assert again.journaled_pnl_currencies() == {"v:BTCUSDC": "USDC", "sim:BTCUSDT": "USDT"}
    again.close()


def test_report_json_is_plain_json_with_the_currency(tmp_path):
    cfg = demo(tmp_path, 'kind = "perp"\nbase = "BTC"\nquote = "USDT"\n')
    result = anyio.run(Engine(load_config(cfg), run_id="json").run)
    text = json.dumps(report_data(result))
    assert '"pnl_currency": "USDT"' in text
