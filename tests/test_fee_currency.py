"""Fees with their currency: kept per currency (the quote's for fees in the quote or in the
bought asset valued at the fill price, a third currency's own), totalled in the reporting
currency with the P&L's conversion, or not at all (null / "n/a" with the reason) when a
currency has no price; never a raw sum of currencies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import attrs
from tradewind.api.views import HostView
from tradewind.backtest_split import GroupResult, merge_figures
from tradewind.config import load_config
from tradewind.model import Fill, Order, OrderType, Side
from tradewind.report.analysis import analyse
from tradewind.report.html import render_html
from tradewind.report.metrics import metrics_of, report_data
from tradewind.report.summary import headline_rows
from tradewind.trading.engine import Engine
from tradewind.trading.pnl import fee_amount

from tests.test_engine import demo_config_text
from tests.test_pnl_currency import printed, result_of

D = Decimal

FOUR = """
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
symbol = "BTCUSDC"
venue = "sim"
data = "replay"
kind = "spot"
base = "BTC"
quote = "USDC"
tick_size = "0.01"
lot_size = "0.0001"

[[instruments]]
symbol = "USDCUSDT"
venue = "sim"
data = "replay"
kind = "spot"
base = "USDC"
quote = "USDT"
tick_size = "0.0001"
lot_size = "1"

[[instruments]]
symbol = "BNBUSDT"
venue = "sim"
data = "replay"
kind = "spot"
base = "BNB"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.001"
"""


def engine_of(tmp_path: Path) -> Engine:
    """The demo config with four instruments: two quotes (USDT, USDC) and the pairs that
    price USDC and BNB in USDT (the reporting currency)."""
    text = demo_config_text(tmp_path)
    head, _, rest = text.partition("[[instruments]]")
    _, _, tail = rest.partition("[venues.sim]")
    p = tmp_path / "four.toml"
    p.write_text(head + FOUR.strip() + "\n\n[venues.sim]" + tail, encoding="utf-8")
    return Engine(load_config(p), run_id="fees")


def book(engine: Engine, n: int, key: str, side: Side, qty: str, price: str, **fee: str) -> None:
    """One order and its fill booked by the order manager, as a venue's fill arrives."""
    cid = f"t{n}"
    order = Order(
        client_order_id=cid,
        instrument=key,
        side=side,
        type=OrderType.MARKET,
        quantity=D(qty),
        created_ts_ns=n,
        intent="entry" if n % 2 else "close",
    )
    engine.orders.open(engine.venues["sim"], order, n)
    engine.orders.on_fill(
        Fill(
            client_order_id=cid,
            instrument=key,
            side=side,
            quantity=D(qty),
            price=D(price),
            fee=D(fee["fee"]),
            fee_currency=fee["currency"],
            fee_asset=fee["asset"],
            ts_ns=n,
            trade_id=cid,
        )
    )


#: (instrument, side, quantity, price, fee, fee currency, fee asset) of each fill.
FILLS = (
    # BTCUSDT (quote USDT): 5 USDT in the quote, then 0.02 BNB (a third currency).
    ("sim:BTCUSDT", Side.BUY, "0.1", "60000", "5", "USDT", "quote"),
    ("sim:BTCUSDT", Side.SELL, "0.1", "60100", "0.02", "BNB", "other"),
    # BTCUSDC (quote USDC): 0.0001 BTC taken from the bought coin (6 USDC at 60,000), then
    # 3 USDC in the quote on the sale of the 0.0999 BTC that arrived.
    ("sim:BTCUSDC", Side.BUY, "0.1", "60000", "0.0001", "BTC", "base"),
    ("sim:BTCUSDC", Side.SELL, "0.0999", "60100", "3", "USDC", "quote"),
)


def trade_with_fees_in_four_currencies(engine: Engine, bnb: float | None = 600.5) -> None:
    """The four fills; ``bnb``: BNB's price in USDT before them (None: no price yet)."""
    if bnb is not None:
        engine.portfolio.mark("sim:BNBUSDT", bnb, 0)
    for n, (key, side, qty, price, fee, currency, asset) in enumerate(FILLS, start=1):
        book(engine, n, key, side, qty, price, fee=fee, currency=currency, asset=asset)


BY_CURRENCY = {"USDT": D("5"), "BNB": D("0.02"), "USDC": D("9")}


def test_fee_amount_names_the_currency_of_each_kind_of_fee():
    def fill(fee: str, currency: str, asset: str) -> Fill:
        return Fill(
            client_order_id="c",
            instrument="v:BTCUSDC",
            side=Side.BUY,
            quantity=D("0.5"),
            price=D("60000"),
            fee=D(fee),
            ts_ns=1,
            fee_currency=currency,
            fee_asset=asset,
        )

    assert fee_amount(fill("3", "USDC", "quote"), "USDC") == ("USDC", D("3"))
    assert fee_amount(fill("3", "", "quote"), "USDC") == ("USDC", D("3"))  # the sim's
    assert fee_amount(fill("0.0005", "BTC", "base"), "USDC") == ("USDC", D("30.0000"))
    assert fee_amount(fill("0.01", "BNB", "other"), "USDC") == ("BNB", D("0.01"))
    try:
        fee_amount(fill("0.01", "", "other"), "USDC")
    except ValueError as exc:
        assert "fill c of v:BTCUSDC" in str(exc) and "fee_currency" in str(exc)
    else:
        raise AssertionError("a third-currency fee without its currency was accepted")


def test_fees_in_four_currencies_are_kept_apart_and_converted_never_summed_raw(tmp_path):
    engine = engine_of(tmp_path)
    view = HostView(engine)
    trade_with_fees_in_four_currencies(engine)  # BNB at 600.5 USDT when its fee is paid
    # A raw sum of the fees would be 5 + 0.02 + 0.0001 + 3 = 8.0201 "USDT".
    assert engine.orders.fills[1].fee_rate == D("600.5")  # journaled with the fill
    assert engine.journal is None or engine.journal.fills()[1].fee_rate == D("600.5")

    # No price of USDC in USDT yet: no total, each currency's amount and the reason.
    figures = engine.figures()
    assert figures.fees_paid is None
    assert figures.fees_by_currency == BY_CURRENCY
    assert "BNB of fill" not in figures.fees_not_converted  # priced at its fill
    assert "cannot convert USDC" in figures.fees_not_converted
    s = engine.summary()
    assert s["fees_paid"] is None
    assert s["fees_paid_by_currency"] == {"BNB": "0.02", "USDC": "9.0000", "USDT": "5"}
    assert s["fees_not_converted"] == figures.fees_not_converted
    result = result_of(engine)
    m = metrics_of(result)
    assert (m.fees_paid, dict(m.fees_by_currency)) == (None, BY_CURRENCY)
    mj = m.to_json()
    assert mj["fees_paid"] is None and mj["fees_paid_by_currency"] == s["fees_paid_by_currency"]
    assert "no price of USDC in USDT" in mj["fees_not_converted"]
    rows = dict(headline_rows(analyse(result), result.summary))
    assert rows["Fees paid"].startswith("n/a (")
    assert rows["Fees paid"].endswith("0.02000000 BNB, 9.00 USDC, 5.00 USDT")
    text = printed(result, 200)
    assert "Fees paid" in text and "0.02000000 BNB, 9.00 USDC" in text
    profit = engine.control.profit()
    assert profit["fees"] == "n/a"
    assert profit["fees_by_currency"] == "0.02000000 BNB, 9.00 USDC, 5.00 USDT"
    assert "cannot convert USDC" in profit["fees_not_converted"]
    daily = engine.control.daily_figures(0, 10)
    assert daily["fees"].startswith("n/a (") and "0.02000000 BNB" in daily["fees"]
    view.source.publish()
    api = view.profit()
    assert api["fees_paid"] is None
    assert api["fees_paid_by_currency"] == {"BNB": "0.02", "USDC": "9.0000", "USDT": "5"}
    assert "USDC" in api["fees_not_converted"] and "BNB of" not in api["fees_not_converted"]

    # The trades: fees in their P&L currency (the base fee valued at the fill price, the BNB
    # fee at BNB's price at its fill: 0.02 × 600.5 = 12.01 USDT), the BNB as charged listed.
    trips = {t["instrument"]: t for t in report_data(result)["round_trips"]}
    assert (trips["sim:BTCUSDT"]["fees"], trips["sim:BTCUSDT"]["other_fees"]) == (
        "17.010",
        {"BNB": "0.02"},
    )
    # 0.1 × (60,100 − 60,000) = 10 gross − 5 − 12.01 = −7.01 net
    assert (trips["sim:BTCUSDT"]["gross_pnl"], trips["sim:BTCUSDT"]["pnl"]) == ("10.0", "-7.010")
    assert trips["sim:BTCUSDT"]["fees_not_converted"] is None
    assert (trips["sim:BTCUSDC"]["fees"], trips["sim:BTCUSDC"]["other_fees"]) == ("9.0000", {})
    assert trips["sim:BTCUSDC"]["pnl"] == "0.9900"  # 0.0999 × 100 gross − 9 USDC of fees
    trades = {t["pair"]: t for t in view.trades_page(10, 0)["trades"]}
    usdc = trades["sim:BTCUSDC"]
    assert (usdc["fee_open_cost"], usdc["fee_close_cost"], usdc["fee_open_currency"]) == (
        6.0,
        3.0,
        "USDC",
    )
    assert usdc["profit_abs"] == 0.99
    usdt = trades["sim:BTCUSDT"]
    assert (usdt["fee_open_cost"], usdt["fee_close_cost"]) == (5.0, 12.01)
    assert usdt["other_fees"] == {"BNB": "0.02"} and usdt["fees_not_converted"] is None
    assert (usdt["profit_abs"], usdt["profit_exact"]) == (-7.01, "-7.010")
    assert usdt["profit_ratio"] == float(D("-7.010") / D("6000"))

    # USDC at 0.999 USDT, and BNB at 650 USDT by now: the BNB fee stays at its fill's
    # 600.5, so 5 + 9 × 0.999 + 0.02 × 600.5 = 26.001 (0.02 × 650 would make it 27.001).
    engine.portfolio.mark("sim:USDCUSDT", 0.999, 5)
    engine.portfolio.mark("sim:BNBUSDT", 650.0, 5)
    figures = engine.figures()
    assert figures.fees_paid == D("26.001") and figures.fees_not_converted == ""
    assert figures.fees_by_currency == BY_CURRENCY
    assert figures.pnl_rates["BNB"] == D("650.0") and figures.pnl_rates["USDC"] == D("0.999")
    s = engine.summary()
    assert D(s["fees_paid"]) == D("26.001") and "fees_not_converted" not in s
    result = result_of(engine)
    m = metrics_of(result)
    assert m.fees_paid == D("26.001") and m.fees_error == ""
    assert m.to_json()["fees_not_converted"] is None
    rows = dict(headline_rows(analyse(result), result.summary))
    assert rows["Fees paid"] == "26.00 USDT (0.02000000 BNB, 9.00 USDC, 5.00 USDT)"
    assert "26.00 USDT (0.02000000 BNB, 9.00 USDC, 5.00 USDT)" in render_html(result)
    profit = engine.control.profit()
    assert profit["fees"] == "26.00" and "fees_not_converted" not in profit
    assert engine.control.daily_figures(0, 10)["fees"] == (
        "26.00 (0.02000000 BNB, 9.00 USDC, 5.00 USDT)"
    )
    view.source.publish()
    api = view.profit()
    assert D(api["fees_paid"]) == D("26.001") and api["fees_not_converted"] is None
    # Closed profit: −7.01 USDT + (0.99 USDC × 0.999) = −6.02099 USDT
    assert api["profit_closed_coin"] == float(D("-7.010") + D("0.9900") * D("0.999"))
    # The report's trade figures are net of the BNB fee at its fill's price as well.
    a = analyse(result)
    assert sorted(str(t.pnl) for t in a.trades) == ["-7.010", "0.9900"]
    assert rows["Worst trade"].startswith("-7.01 USDT")
    # The expectancy over both trades in USDT: (−7.01 + 0.99 × 0.999) / 2 = −3.010495
    assert a.expectancy == (D("-7.010") + D("0.9900") * D("0.999")) / 2


def test_a_fee_without_a_price_at_its_fill_leaves_its_trade_without_a_net_pnl(tmp_path):
    """BNB had no price when its fee was paid: a later price (650) is not used for it; the
    trade's net P&L and profit are null / n/a with the reason, never the gross."""
    engine = engine_of(tmp_path)
    view = HostView(engine)
    trade_with_fees_in_four_currencies(engine, bnb=None)
    assert engine.orders.fills[1].fee_rate is None
    engine.portfolio.mark("sim:USDCUSDT", 0.999, 5)
    engine.portfolio.mark("sim:BNBUSDT", 650.0, 5)
    figures = engine.figures()
    assert figures.fees_paid is None and figures.fees_by_currency == BY_CURRENCY
    why = "0.02 BNB of fill t2 (sim:BTCUSDT): no price of BNB in USDT at the fill"
    assert why in figures.fees_not_converted
    s = engine.summary()
    assert s["fees_paid"] is None and why in s["fees_not_converted"]
    result = result_of(engine)
    trips = {t["instrument"]: t for t in report_data(result)["round_trips"]}
    usdt = trips["sim:BTCUSDT"]
    assert (usdt["gross_pnl"], usdt["pnl"], usdt["fees"]) == ("10.0", None, None)
    assert "no price of BNB" in usdt["fees_not_converted"]
    assert trips["sim:BTCUSDC"]["pnl"] == "0.9900"  # its fees had their prices
    m = metrics_of(result)
    assert m.fees_paid is None and why in m.fees_error
    rows = dict(headline_rows(analyse(result), result.summary))
    assert rows["Fees paid"].startswith("n/a (") and "no price of BNB" in rows["Fees paid"]
    assert rows["Expectancy"].startswith("n/a (a trade's fees could not be valued")
    assert rows["Wins / draws / losses"].startswith("n/a (")
    for row in ("Longest losing streak", "Best trade", "Worst trade"):
        assert rows[row].startswith("n/a (a trade's fees could not be valued"), (row, rows[row])
    page = render_html(result)
    assert "n/a (0.02 BNB of fill t2" in page
    text = printed(result, 200)  # the CLI's summary: the trade tables say n/a, never the gross
    assert "Per exit reason and per period: n/a (a trade's fees could not be valued" in text
    assert "n/a (" in engine.control.daily_figures(0, 10)["fees"]
    view.source.publish()
    trades = {t["pair"]: t for t in view.trades_page(10, 0)["trades"]}
    t = trades["sim:BTCUSDT"]
    assert (t["profit_abs"], t["profit_ratio"], t["close_profit_abs"]) == (None, None, None)
    assert "no price of BNB" in t["fees_not_converted"]
    assert trades["sim:BTCUSDC"]["profit_abs"] == 0.99
    api = view.profit()
    assert api["profit_closed_coin"] is None and api["fees_paid"] is None
    assert "no price of BNB" in api["conversion_error"]
    assert "no price of BNB" in api["fees_not_converted"]


def test_a_split_backtest_sums_fees_per_currency_then_converts(tmp_path):
    engine = engine_of(tmp_path)
    trade_with_fees_in_four_currencies(engine, bnb=None)  # BNB: no price at its fill
    engine.portfolio.mark("sim:USDCUSDT", 0.999, 5)
    both = engine.figures()
    # Two books: the USDT perp's fills and the USDC spot's, each with its own fees.
    perp_fills = [f for f in both.fills if f.instrument == "sim:BTCUSDT"]
    spot_fills = [f for f in both.fills if f.instrument == "sim:BTCUSDC"]

    def books(bnb_at_fill: D | None, rates: dict[str, D]) -> list[GroupResult]:
        fills = [attrs.evolve(f, fee_rate=bnb_at_fill) for f in perp_fills]
        perp = attrs.evolve(
            both,
            instruments=["sim:BTCUSDT"],
            fills=[f if f.fee_asset == "other" else attrs.evolve(f, fee_rate=None) for f in fills],
            fees_by_currency={"USDT": D("5"), "BNB": D("0.02")},
            pnl_rates=rates,
        )
        spot = attrs.evolve(
            both,
            instruments=["sim:BTCUSDC"],
            fills=spot_fills,
            fees_by_currency={"USDC": D("9")},
            pnl_rates={"USDT": D(1), "USDC": D("0.999")},
        )
        return [
            GroupResult(index=i, figures=f, result=None, rows={})
            for i, f in enumerate((perp, spot))
        ]

    merged = merge_figures("split", books(None, {"USDT": D(1), "BNB": D("650")}))
    assert merged.fees_by_currency == {"USDT": D("5"), "BNB": D("0.02"), "USDC": D("9.0000")}
    # BNB's end-of-run price (650) is not its fee's price: it had none at the fill.
    assert merged.fees_paid is None and "no price of BNB in USDT at the fill" in (
        merged.fees_not_converted
    )
    # With BNB's price at the fill (600.5) in the book's fill, the merged total converts it
    # at that price: 5 + 0.02 × 600.5 + 9 × 0.999 = 26.001 (not 27.001 at 650).
    merged = merge_figures("split", books(D("600.5"), {"USDT": D(1), "BNB": D("650")}))
    assert merged.fees_paid == D("26.001") and merged.fees_not_converted == ""


def test_the_default_backtest_reports_the_same_fees_as_before(tmp_path):
    """One quote currency, every fee in it: the total is the plain sum of the fills' fees
    (what the report said before fees had a currency), in that one currency."""
    text = demo_config_text(tmp_path)
    p = tmp_path / "demo.toml"
    p.write_text(text, encoding="utf-8")
    result = anyio.run(Engine(load_config(p), run_id="demo").run)
    assert result.fills and all(f.fee_asset == "quote" for f in result.fills)
    raw = sum((f.fee for f in result.fills), D(0))
    s = result.summary
    assert D(s["fees_paid"]) == raw and s["fees_paid_by_currency"] == {"USDT": str(raw)}
    assert metrics_of(result).fees_paid == raw
    rows = dict(headline_rows(analyse(result), s))
    assert rows["Fees paid"] == f"{raw:,.2f} USDT"


def test_a_fill_notification_names_the_fees_currency():
    from tradewind.model import FillEvent
    from tradewind.notify.templates import describe

    f = Fill(
        client_order_id="c",
        instrument="v:BTCUSDT",
        side=Side.SELL,
        quantity=D("0.1"),
        price=D("60100"),
        fee=D("0.02"),
        ts_ns=1,
        fee_currency="BNB",
        fee_asset="other",
    )
    fields = describe(FillEvent(ts_ns=1, fill=f, pnl_currency="USDT"))[1]
    assert (fields["fee"], fields["fee_currency"]) == ("0.02", "BNB")
    # the simulated venue's fee (no currency named) is in the quote: the P&L currency
    sim = attrs.evolve(f, fee=D("0.5"), fee_currency="", fee_asset="quote")
    fields = describe(FillEvent(ts_ns=1, fill=sim, pnl_currency="USDT"))[1]
    assert (fields["fee"], fields["fee_currency"]) == ("0.5", "USDT")
