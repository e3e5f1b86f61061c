"""Where filters run in a cluster: account-free ones (declared ``reads_account = False``) on
the strategy host, whose verdicts travel with the decision; the rest on the execution host."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from tradewind.cluster.wire import decode_decision_verdict, encode_decision
from tradewind.filtering.context import FilterContext
from tradewind.filtering.placement import (
    AccountReadError,
    MarketContext,
    account_free_verdict,
    reads_account,
)
from tradewind.model import Instrument, InstrumentKind, Side, Signal, Veto
from tradewind.trading.portfolio import Portfolio
from tradewind_filter_balance.plugin import BalanceConfig, BalanceFilter
from tradewind_filter_exposure.plugin import ExposureConfig, ExposureFilter
from tradewind_filter_fatfinger.plugin import FatFingerConfig, FatFingerFilter
from tradewind_filter_stopdistance.plugin import StopDistanceConfig, StopDistanceFilter

BTC = Instrument(venue="sim", symbol="BTCUSDT", kind=InstrumentKind.PERP)
TS = 1_582_335_300_000_000_000


def _ctx(last: float) -> FilterContext:
    pf = Portfolio({BTC.key: BTC}, Decimal("10000"))
    pf.mark(BTC.key, last, TS)
    return FilterContext(pf, {})


def _signal(entry: str, stop: str) -> Signal:
    return Signal(
        instrument=BTC.key, side=Side.SELL, entry=Decimal(entry), stop=Decimal(stop),
        score=6.75, ts_ns=TS, reasons={"orderflow.imbalance_1m": 0.12},
    )  # fmt: skip


def test_the_shipped_filters_declare_where_they_run():
    assert not reads_account(FatFingerFilter(FatFingerConfig()))
    assert not reads_account(StopDistanceFilter(StopDistanceConfig()))
    assert reads_account(ExposureFilter(ExposureConfig()))  # positions and the signal's size
    assert reads_account(BalanceFilter(BalanceConfig()))  # equity and margin


def test_the_verdict_runs_only_account_free_filters_in_chain_order_up_to_the_first_veto():
    chain = [
        ExposureFilter(ExposureConfig(max_usd="1")),  # would veto: it must not run here
        FatFingerFilter(FatFingerConfig(max_deviation_pct="0.01")),
        StopDistanceFilter(StopDistanceConfig(max_stop_pct="0.004")),
        FatFingerFilter(FatFingerConfig(max_deviation_pct="0.0001")),  # after the veto
    ]
    signal = _signal("9681.78", "9730.19")  # unsized, as a strategy host has it
    verdict = account_free_verdict(chain, signal, _ctx(9681.5), "strategy-b")
    assert verdict.passed == (1,)
    assert verdict.veto_index == 2 and verdict.veto is not None
    assert verdict.veto.filter == "stopdistance" and verdict.veto.host == "strategy-b"
    assert verdict.veto.reason == "stop 9,730.19 is 0.500% from the entry 9,681.78 (max 0.400%)"
    # The execution host asks by chain position, for the sized signal.
    sized = attrs.evolve(signal, quantity=Decimal("0.516"))
    assert verdict.of(1, sized) == (True, None)
    known, veto = verdict.of(2, sized)
    assert known and veto is not None and veto.signal.quantity == Decimal("0.516")
    assert verdict.of(0, sized) == (False, None)  # exposure: not the strategy host's
    assert verdict.of(3, sized) == (False, None)  # never reached


def test_a_verdict_travels_with_the_decision():
    chain = [StopDistanceFilter(StopDistanceConfig(max_stop_pct="0.004"))]
    signal = _signal("9681.78", "9730.19")
    verdict = account_free_verdict(chain, signal, _ctx(9681.5), "strategy-a")
    _, inst, ts, got, back = decode_decision_verdict(encode_decision(BTC.key, TS, signal, verdict))
    assert (inst, ts, got) == (BTC.key, TS, signal)
    assert back == verdict
    # A decision without a signal carries no verdict; an old strategy host's none either.
    assert decode_decision_verdict(encode_decision(BTC.key, TS, None))[4] is None
    assert decode_decision_verdict(encode_decision(BTC.key, TS, signal))[4] is None


def test_a_filter_declared_account_free_that_reads_the_account_is_a_clear_error():
    class EquityFloor:
        """Declared account-free, yet reads equity."""

        name = "equityfloor"
        reads_account = False

        def check(self, signal: Signal, ctx: object) -> Veto | None:
            if ctx.equity() > 0:  # type: ignore[attr-defined]
                return None
            return Veto(filter=self.name, reason="no equity", signal=signal, ts_ns=signal.ts_ns)

    with pytest.raises(AccountReadError, match=r"filter 'equityfloor' declares reads_account = "
                       r"False but read ctx\.equity\(\) on a strategy host"):  # fmt: skip
        account_free_verdict([EquityFloor()], _signal("9681.78", "9730.19"), _ctx(9681.5),
                             "strategy-a")  # fmt: skip
    ctx = MarketContext(_ctx(9681.5), "x")
    assert ctx.last_price(BTC.key) == 9681.5 and ctx.instrument(BTC.key) == BTC
    for read in ("equity", "starting_equity", "day_start_equity", "open_orders", "positions"):
        with pytest.raises(AccountReadError, match=f"ctx.{read}"):
            getattr(ctx, read)()
