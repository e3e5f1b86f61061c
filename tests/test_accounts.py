"""Accounts: balances per currency moved by fills and funding, equity in one currency."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from tradewind.model import Fill, Instrument, InstrumentKind, Side
from tradewind.protocols import check_capabilities
from tradewind.trading.accounts import Accounts, ConversionError
from tradewind.trading.portfolio import Portfolio

D = Decimal
SPOT = Instrument(venue="bs", symbol="BTCUSDT", kind=InstrumentKind.SPOT, base="BTC", quote="USDT")
PERP = Instrument(venue="bn", symbol="BTCUSDT", kind=InstrumentKind.PERP, base="BTC", quote="USDT")


def fill(inst: Instrument, side: Side, qty: str, price: str, fee: str, ccy: str, asset: str):
    return Fill(
        client_order_id="c1",
        instrument=inst.key,
        side=side,
        quantity=D(qty),
        price=D(price),
        fee=D(fee),
        ts_ns=1,
        trade_id=f"{side.value}{qty}",
        fee_currency=ccy,
        fee_asset=asset,
    )


def portfolio() -> Portfolio:
    pf = Portfolio({SPOT.key: SPOT, PERP.key: PERP}, D(0), reporting_currency="USDT")
    pf.seed_account("bs", {"USDT": D("10000"), "BNB": D("1")})
    pf.seed_account("bn", {"USDT": D("5000")})
    return pf


def test_a_spot_buy_with_the_fee_in_the_bought_coin_holds_quantity_less_fee():
    pf = portfolio()
    pos = pf.apply_fill(fill(SPOT, Side.BUY, "0.1", "60000", "0.0001", "BTC", "base"))
    account = pf.accounts.get("bs")
    assert account.balances == {"USDT": D("4000"), "BTC": D("0.0999"), "BNB": D("1")}
    assert pos.quantity == D("0.0999") and pos.fees == D("6")  # 0.0001 BTC at 60,000
    pf.mark(SPOT.key, 61000.0, 2)
    pf.mark(PERP.key, 61000.0, 2)
    # Equity: 4,000 + 0.0999 × 61,000 + 5,000 (the other venue's USDT, added, not replacing).
    assert pf.equity() == D("4000") + D("0.0999") * D("61000") + D("5000")


def test_a_fee_in_a_third_currency_leaves_that_balance():
    pf = portfolio()
    pf.apply_fill(fill(SPOT, Side.BUY, "0.1", "60000", "0.01", "BNB", "other"))
    assert pf.accounts.get("bs").balances == {"USDT": D("4000"), "BTC": D("0.1"), "BNB": D("0.99")}


def test_perp_fills_and_funding_move_the_settlement_currency():
    pf = portfolio()
    pf.apply_fill(fill(PERP, Side.BUY, "0.1", "60000", "3", "USDT", "quote"))
    pf.apply_fill(fill(PERP, Side.SELL, "0.1", "61000", "3.05", "USDT", "quote"))
    pf.apply_funding(PERP.key, D("0.5"))
    assert pf.accounts.get("bn").balances == {"USDT": D("5000") + D("100") - D("6.05") - D("0.5")}
    assert pf.funding_paid == D("0.5")


def test_an_open_perp_adds_its_unrealised_pnl_once():
    pf = portfolio()
    pf.apply_fill(fill(PERP, Side.BUY, "0.1", "60000", "0", "USDT", "quote"))
    pf.mark(PERP.key, 60500.0, 2)
    pf.mark(SPOT.key, 60500.0, 2)
    assert pf.equity() == D("10000") + D("5000") + D("50")  # BNB: untracked, left out


def test_an_amount_without_a_price_is_an_error_never_zero():
    pf = portfolio()
    pf.apply_fill(fill(SPOT, Side.BUY, "0.1", "60000", "0", "USDT", "quote"))
    with pytest.raises(ConversionError, match=r"venue 'bs' holds 0\.1 BTC"):
        pf.equity()  # no BTC price yet
    assert Accounts("USDT", {}).rate("USDT", lambda k: float("nan")) == 1


def test_a_venue_declaring_a_capability_it_does_not_implement_is_refused():
    class Half:
        name = "half"
        capabilities = frozenset({"execution", "account"})

    with pytest.raises(TypeError, match=r"account \(AccountCapability\)"):
        check_capabilities(Half(), "$.venues.half")


def test_production_code_does_not_import_the_test_kit():
    root = Path(__file__).resolve().parents[1] / "core" / "tradewind"
    offenders = []
    for path in root.rglob("*.py"):
        if "testing" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "tradewind.testing" or n.startswith("tradewind.testing.") for n in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_two_venues_in_different_quote_currencies_sum_in_the_reporting_currency():
    """One venue quotes in USDT, the other in USDC: each balance is converted at the mark the
    host has (a USDC/USDT instrument it trades), then summed; never one venue's figure."""
    usdc_perp = Instrument(
        venue="hl", symbol="BTCUSDC", kind=InstrumentKind.PERP, base="BTC", quote="USDC"
    )
    usdc_usdt = Instrument(
        venue="bs", symbol="USDCUSDT", kind=InstrumentKind.SPOT, base="USDC", quote="USDT"
    )
    insts = {i.key: i for i in (SPOT, usdc_perp, usdc_usdt)}
    pf = Portfolio(insts, D(0), reporting_currency="USDT")
    pf.seed_account("bs", {"USDT": D("2500")})
    pf.seed_account("hl", {"USDC": D("4000")})
    pf.mark(usdc_usdt.key, 0.9998, 1)
    assert pf.equity() == D("2500") + D("4000") * D("0.9998")
    # An open perp on the USDC venue adds its P&L, converted from USDC.
    pf.apply_fill(fill(usdc_perp, Side.BUY, "0.1", "60000", "0", "USDC", "quote"))
    pf.mark(usdc_perp.key, 60100.0, 2)
    assert pf.equity() == D("2500") + (D("4000") + D("10")) * D("0.9998")
    # Reported in USDC, the USDT venue is what converts.
    pf.accounts.reporting_currency = "USDC"
    assert pf.equity() == D("2500") * (D(1) / D("0.9998")) + D("4000") + D("10")
