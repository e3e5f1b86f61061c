"""The portfolio guard on scripted portfolios: the seed's BTC dump and drawdown examples.

A small harness plays the engine's part: for each batch of a held instrument the guard is asked
first, then the portfolio is marked at the batch's last trade (the engine marks after the exit
monitors have seen a batch).
"""

from decimal import Decimal

import attrs
import numpy as np
import pytest
from tradewind.errors import ConfigError
from tradewind.model import Fill, Position, Side, TickBatch
from tradewind.testing import assert_plugin_installed, default_instrument
from tradewind.testing.conformance import ExitConformance
from tradewind.trading.portfolio import Portfolio
from tradewind_exit_guard.config import GuardConfig
from tradewind_exit_guard.plugin import PortfolioGuard

pytest_plugins = "tradewind.testing"

S = 1_000_000_000
MIN = 60 * S
DAY = 86_400 * S
T0 = 19_000 * DAY + 10 * 3600 * S  # 10:00 UTC
BTC, ETH, SOL, PEPE = "binance:BTCUSDT", "binance:ETHUSDT", "binance:SOLUSDT", "binance:PEPEUSDT"


def instruments():
    base = default_instrument()
    return {
        k: attrs.evolve(base, venue="binance", symbol=k.split(":")[1])
        for k in (BTC, ETH, SOL, PEPE)
    }


def portfolio(cash=100_000):
    return Portfolio(instruments(), Decimal(cash))


def trades(key, rows):
    """A batch from ``(seconds after T0, price)`` rows."""
    secs, prices = zip(*rows, strict=True)
    n = len(rows)
    ts = [T0 + round(s * S) for s in secs]
    return TickBatch.from_arrays(key, ts, prices, [0.01] * n, [1] * n)


def fill(pf, key, side, qty, price, secs):
    return pf.apply_fill(
        Fill(
            client_order_id=f"{key}-{secs}",
            instrument=key,
            side=side,
            quantity=Decimal(qty),
            price=Decimal(price),
            fee=Decimal(0),
            ts_ns=T0 + round(secs * S),
        )
    )


def step(guard, pf, key, rows):
    """The engine's order: exit monitors see the batch, then the portfolio is marked."""
    batch = trades(key, rows)
    pos = pf.position(key)
    d = guard.on_ticks(pos, batch, pf) if not pos.is_flat else None
    cut = batch if d is None else batch.slice(0, int(batch.ts_ns.searchsorted(d.ts_ns, "right")))
    pf.mark(key, cut.last_price, cut.last_ts)
    return d


def test_plugin_is_installed():
    assert_plugin_installed("exits", "guard", PortfolioGuard)


def test_defaults_are_the_seeds_numbers():
    cfg = GuardConfig()
    assert (cfg.daily_drawdown_pct, cfg.leader, cfg.leader_drop_pct) == (
        0.05,
        "binance:BTCUSDT",
        0.015,
    )
    assert cfg.leader_window_minutes == 5.0 and cfg.followers == ()


# -- correlated exits -----------------------------------------------------------------------


def held_book():
    """ETH, SOL and PEPE longs, a BTC short; everything marked at 10:00."""
    pf = portfolio()
    for key, side, qty, px in [
        (BTC, Side.SELL, "0.1", 50_000),
        (ETH, Side.BUY, "1", 3_000),
        (SOL, Side.BUY, "10", 100),
        (PEPE, Side.BUY, "1000000", "0.00001"),
    ]:
        pf.mark(key, float(px), T0)
        fill(pf, key, side, qty, px, 0)
    return pf


def test_seed_btc_dump_of_1_5_percent_in_5_minutes_exits_correlated_longs():
    # "BTC: $50,000 → $49,250 (-1.5% in 5 min): ETH LONG → EXIT, SOL LONG → EXIT,
    #  PEPE LONG (correlation 0.45) → keep, BTC SHORT → keep."
    guard = PortfolioGuard(GuardConfig(followers=(ETH, SOL)))
    pf = held_book()
    assert step(guard, pf, ETH, [(1, 3_001)]) is None
    assert step(guard, pf, BTC, [(60, 49_800), (120, 49_600)]) is None
    assert step(guard, pf, ETH, [(121, 2_995)]) is None  # BTC -0.8 %: hold
    assert step(guard, pf, BTC, [(200, 49_400), (240, 49_250)]) is None  # the short is kept
    d = step(guard, pf, ETH, [(241, 2_980), (242, 2_975)])
    assert d is not None and (d.ts_ns, d.price) == (T0 + 241 * S, 2_980)
    assert d.monitor == "guard"
    assert d.reason == (
        "leader binance:BTCUSDT fell 1.50% within 5 min (50,000.00 → 49,250.00); "
        "closing the correlated long"
    )
    d = step(guard, pf, SOL, [(243, 98.5)])
    assert d is not None and (d.ts_ns, d.price) == (T0 + 243 * S, 98.5)
    assert step(guard, pf, PEPE, [(244, 0.0000098)]) is None  # not a follower
    assert step(guard, pf, BTC, [(245, 49_200)]) is None  # a short profits from the dump


def test_the_same_drop_over_more_than_5_minutes_is_not_a_dump():
    guard = PortfolioGuard(GuardConfig())
    pf = held_book()
    assert step(guard, pf, ETH, [(1, 3_000)]) is None
    pf.mark(BTC, 49_600.0, T0 + 3 * MIN)
    assert step(guard, pf, ETH, [(3 * 60 + 1, 2_990)]) is None
    pf.mark(BTC, 49_250.0, T0 + 6 * MIN + 2 * S)
    # At 10:06:03 the window [10:01:03, 10:06:03] starts after the 50,000 mark: -0.71 %.
    assert step(guard, pf, ETH, [(6 * 60 + 3, 2_985)]) is None


def test_empty_followers_means_every_instrument_but_the_leader():
    guard = PortfolioGuard(GuardConfig())
    pf = held_book()
    assert step(guard, pf, PEPE, [(1, 0.00001)]) is None
    pf.mark(BTC, 49_000.0, T0 + 60 * S)
    d = step(guard, pf, PEPE, [(61, 0.0000099)])
    assert d is not None and d.ts_ns == T0 + 61 * S


def test_the_leaders_own_trades_count_when_it_is_held():
    # The BTC short's batches carry the leader's trades: the 50,400 peak inside a batch is seen.
    guard = PortfolioGuard(GuardConfig())
    pf = held_book()
    assert step(guard, pf, BTC, [(10, 50_400), (20, 50_000)]) is None
    pf.mark(BTC, 49_644.0, T0 + 30 * S)  # 1.5 % below 50,400
    d = step(guard, pf, ETH, [(31, 2_990)])
    assert d is not None and d.reason.startswith("leader binance:BTCUSDT fell 1.50% within 5 min")


def test_a_leader_dump_exits_at_a_candle_close_too():
    from tradewind.model import Candle

    guard = PortfolioGuard(GuardConfig())
    pf = held_book()
    guard.on_ticks(pf.position(ETH), trades(ETH, [(1, 3_000)]), pf)
    pf.mark(BTC, 49_000.0, T0 + 59 * S)
    close = Candle(
        instrument=ETH,
        timeframe_ns=MIN,
        open_ts_ns=T0,
        open=3_000,
        high=3_000,
        low=2_950,
        close=2_960,
        volume=1,
        buy_volume=0.5,
        sell_volume=0.5,
        trades=2,
        buy_trades=1,
        sell_trades=1,
        vwap=2_980,
    )
    d = guard.on_candle(pf.position(ETH), close, {}, pf)
    assert d is not None and (d.ts_ns, d.price) == (T0 + MIN, 2_960)


def test_a_leader_missing_from_the_run_fails_fast():
    pf = Portfolio({default_instrument().key: default_instrument()}, Decimal(10_000))
    pos = Position(instrument="sim:BTCUSDT", quantity=Decimal(1), avg_price=Decimal(50_000))
    with pytest.raises(ConfigError, match=r"leader = 'binance:BTCUSDT' is not an instrument"):
        PortfolioGuard(GuardConfig()).on_ticks(pos, trades("sim:BTCUSDT", [(1, 50_000)]), pf)
    assert (
        PortfolioGuard(GuardConfig(leader="")).on_ticks(
            pos, trades("sim:BTCUSDT", [(1, 50_000)]), pf
        )
        is None
    )


# -- the daily-drawdown circuit breaker -----------------------------------------------------


def drawdown_book():
    """$100,000 at the day's start; long 2 BTC at 50,000 and 20 ETH at 3,000."""
    pf = portfolio(100_000)
    pf.mark(BTC, 50_000.0, T0)
    pf.mark(ETH, 3_000.0, T0)
    fill(pf, BTC, Side.BUY, "2", 50_000, 0)
    fill(pf, ETH, Side.BUY, "20", 3_000, 0)
    assert pf.day_start_equity() == 100_000
    return pf


def test_5_percent_daily_drawdown_closes_every_position():
    guard = PortfolioGuard(GuardConfig(leader=""))
    pf = drawdown_book()
    # BTC falls: equity 99,000, 98,000, 96,000, 95,002, then 95,000 = 5 % down at 47,500.
    d = step(
        guard,
        pf,
        BTC,
        [(60, 49_500), (61, 49_000), (62, 48_000), (63, 47_501), (64, 47_500), (65, 47_400)],
    )
    assert d is not None and (d.ts_ns, d.price) == (T0 + 64 * S, 47_500)
    assert d.reason == (
        "daily drawdown circuit breaker: equity 95,000.00 is 5.00% below the day's start "
        "100,000.00 (limit 5.00%); closing every position until 00:00 UTC"
    )
    # ETH is up, but every position closes: at its next trade.
    e = step(guard, pf, ETH, [(70, 3_050), (71, 3_060)])
    assert e is not None and (e.ts_ns, e.price, e.reason) == (T0 + 70 * S, 3_050, d.reason)


def test_after_the_trip_any_new_position_that_day_is_closed_and_midnight_re_arms():
    guard = PortfolioGuard(GuardConfig(leader=""))
    pf = drawdown_book()
    assert step(guard, pf, BTC, [(64, 47_500)]) is not None
    fill(pf, BTC, Side.SELL, "2", 47_500, 65)  # closed: equity 95,000 realised
    fill(pf, ETH, Side.SELL, "20", 3_000, 65)
    fill(pf, SOL, Side.BUY, "10", 100, 3600)  # a new position at 11:00
    assert step(guard, pf, SOL, [(3601, 101)]) is not None
    tomorrow = ((T0 // DAY + 1) * DAY - T0) // S  # seconds from T0 to the next 00:00 UTC
    assert step(guard, pf, SOL, [(tomorrow + 1, 101)]) is None  # first batch of the new day
    assert step(guard, pf, SOL, [(tomorrow + 2, 100)]) is None
    assert guard.tripped is None


def test_seed_example_4_2_percent_down_closes_all_at_the_4_percent_critical_level():
    # "Starting Capital: $100,000; Current Total P&L: -$4,200 (-4.2%) → Close ALL".
    pf = drawdown_book()
    path = [(60, 48_500), (61, 47_900)]  # -3,000 then -4,200
    assert step(PortfolioGuard(GuardConfig(leader="")), drawdown_book(), BTC, path) is None
    d = step(PortfolioGuard(GuardConfig(leader="", daily_drawdown_pct=0.04)), pf, BTC, path)
    assert d is not None and (d.ts_ns, d.price) == (T0 + 61 * S, 47_900)
    assert "equity 95,800.00 is 4.20% below" in d.reason


def test_a_short_trips_the_breaker_on_a_rally():
    guard = PortfolioGuard(GuardConfig(leader=""))
    pf = portfolio(100_000)
    pf.mark(BTC, 50_000.0, T0)
    fill(pf, BTC, Side.SELL, "2", 50_000, 0)
    d = step(guard, pf, BTC, [(60, 52_000), (61, 52_499), (62, 52_500), (63, 53_000)])
    assert d is not None and (d.ts_ns, d.price) == (T0 + 62 * S, 52_500)


def test_a_drawdown_already_on_the_books_trips_at_the_first_trade():
    guard = PortfolioGuard(GuardConfig(leader=""))
    pf = drawdown_book()
    pf.mark(BTC, 47_000.0, T0 + 50 * S)  # marked by an earlier batch the guard did not see
    d = step(guard, pf, ETH, [(60, 3_000)])
    assert d is not None and d.ts_ns == T0 + 60 * S
    assert "equity 94,000.00 is 6.00% below" in d.reason


class TestConformance(ExitConformance):
    plugin_class = PortfolioGuard
    #: With a leader the scan answers the first close (the leader's marks come from other
    #: tapes): earlier than the stepped checks, which is allowed. Ten times leveraged, so
    #: the default 5 % breaker trips on some of the suite's tapes.
    scan_exact = False
    scan_quantity = "2"

    def make_config(self):
        # The suite's portfolio holds one instrument; make it the leader (not its own follower).
        return GuardConfig(leader=default_instrument().key)


class TestScanOfTheBreaker(ExitConformance):
    """The breaker alone (no leader), tight enough to trip on the suite's random tapes: the
    scan answers the stepped checks' close exactly."""

    plugin_class = PortfolioGuard
    scan_quantity = "0.2"

    def make_config(self):
        return GuardConfig(leader="", daily_drawdown_pct=0.002)


def test_the_scan_stops_at_the_first_trade_of_a_new_utc_day():
    """The context's day start rolls at the first mark of a new day: the scan answers the
    close after that trade even with the breaker far away, and the engine steps there."""
    from tradewind.testing.exit_scan import hold_window

    pf = portfolio()
    fill(pf, ETH, Side.BUY, "1", 3_000, 0)
    pf.mark(ETH, 3_000.0, T0)
    guard = PortfolioGuard(GuardConfig(leader=""))
    day_end = (T0 // DAY + 1) * DAY
    secs = [(day_end - T0) / S + k for k in (-130, -70, -10, 5, 65)]
    window = hold_window(trades(ETH, [(s, 3_000) for s in secs]))
    # Closes after the trades at -130 s, -70 s, -10 s (midnight), 5 s, 65 s: the 4th trade
    # is the new day's first, before the 4th close.
    assert len(window) == 5
    assert guard.scan(pf.position(ETH), window, pf) == 3


def _breaker_run(seed, keep_bound):
    """The breaker over a random walk fed in pieces (long and short positions in BTC and
    ETH, fills between pieces, a new UTC day): every decision and trip, with the breach
    bound kept between calls or computed afresh at each."""
    import random

    rnd = random.Random(seed)
    guard = PortfolioGuard(GuardConfig(daily_drawdown_pct=rnd.choice((0.002, 0.01, 0.05))))
    pf = portfolio(cash=rnd.choice((20_000, 100_000)))
    prices = {BTC: 60_000.0, ETH: 3_000.0}
    secs, out = 1.0, []
    for key in (BTC, ETH):
        pf.mark(key, prices[key], T0)
    for _ in range(80):
        key = rnd.choice((BTC, ETH))
        if pf.position(key).is_flat or rnd.random() < 0.15:
            side = rnd.choice((Side.BUY, Side.SELL))
            qty = "0.5" if key == BTC else "5"
            fill(pf, key, side, qty, repr(prices[key]), secs)
        rows = []
        for _ in range(rnd.randint(1, 90)):
            secs += rnd.choice((0.5, 1, 30, 0 if rnd.random() < 0.98 else 12 * 3600))
            prices[key] = round(prices[key] * (1 + rnd.gauss(0, 0.003)), 1)
            rows.append((secs, prices[key]))
        if not keep_bound:
            guard._bound = None
        d = step(guard, pf, key, rows)
        out.append((d, guard.tripped))
        if d is not None:
            pos = pf.position(key)
            fill(pf, key, pos.side.opposite, str(abs(pos.quantity)), repr(d.price), secs)
    return out


def test_the_kept_breach_bound_and_the_few_prices_loop_give_the_same_trips():
    from tradewind_exit_guard import drawdown

    tripped = 0
    for seed in range(60):
        kept = _breaker_run(seed, keep_bound=True)
        assert kept == _breaker_run(seed, keep_bound=False), seed
        tripped += any(t is not None for _, t in kept)
    assert tripped > 10
    # The list comparison of a few prices is numpy's first match, long and short.
    pos_long = Position(
        instrument=BTC, quantity=Decimal("0.5"), lots=((Decimal("0.5"), Decimal(60_000)),)
    )
    pos_short = Position(
        instrument=BTC, quantity=Decimal("-0.5"), lots=((Decimal("-0.5"), Decimal(60_000)),)
    )
    for n in (1, 2, drawdown.FEW, drawdown.FEW + 1, 300):
        for pos in (pos_long, pos_short):
            prices = np.linspace(59_000.0, 61_000.0, n)[:: 1 if pos is pos_short else -1].copy()
            limit, base = Decimal(99_700), Decimal(100_000)
            bound = drawdown.breach_bound(pos, base, limit)
            idx = np.flatnonzero(prices <= bound if pos is pos_long else prices >= bound)
            want = int(idx[0]) if len(idx) else None
            assert drawdown.first_breach(pos, prices, base, limit) == want


def _breaker_run_exact(seed, monkeypatch):
    """:func:`_breaker_run` with the float pre-check refused every time (the exact path)."""
    from tradewind_exit_guard import plugin

    with monkeypatch.context() as m:
        m.setattr(plugin, "clear_of", lambda *a: False)
        return _breaker_run(seed, keep_bound=True)


def test_the_float_pre_check_gives_the_exact_paths_trips(monkeypatch):
    """The breaker over random walks with the pre-check and with the exact path alone: the
    same decisions and trips (and the pre-check does clear most pieces)."""
    from tradewind_exit_guard import drawdown, plugin

    calls = {"clear": 0, "all": 0}
    real = drawdown.clear_of

    def counted(*a):
        calls["all"] += 1
        ok = real(*a)
        calls["clear"] += ok
        return ok

    tripped = 0
    for seed in range(60):
        want = _breaker_run_exact(seed, monkeypatch)
        with monkeypatch.context() as m:
            m.setattr(plugin, "clear_of", counted)
            got = _breaker_run(seed, keep_bound=True)
        assert got == want, seed
        tripped += any(t is not None for _, t in got)
    assert tripped > 10
    assert calls["all"] > 1000 and calls["clear"] > calls["all"] // 2


def _exact_breach(pos, prices, mark, equity, limit):
    """The exact path's answer, from the same context values."""
    from tradewind_exit_guard import drawdown

    base = equity - pos.unrealized_pnl(Decimal(repr(mark)))
    return drawdown.first_breach(pos, prices, base, limit)


def test_the_float_pre_check_never_clears_a_breach_on_adversarial_prices():
    """Prices on, one float step either side of, and a hair around the exact breach bound;
    long and short, tiny and huge quantities, odd cash and day starts, NaN and infinities:
    wherever the pre-check clears a batch, the exact path finds no breach in it."""
    import math
    import random

    from tradewind_exit_guard import drawdown

    rnd = random.Random(17)
    cleared = exact_none = 0
    for _ in range(4000):
        price = rnd.choice((0.000012345, 1.0, 3_000.0, 60_123.4, 1e9)) * rnd.uniform(0.5, 2)
        qty = Decimal(repr(rnd.choice((1e-8, 0.001, 0.5, 7.0, 1e6)) * rnd.uniform(0.1, 3)))
        qty = qty if rnd.random() < 0.5 else -qty
        entry = Decimal(repr(round(price * rnd.uniform(0.9, 1.1), 6)))
        pos = Position(instrument=BTC, quantity=qty, lots=((qty, entry),), avg_price=entry)
        cash = Decimal(repr(round(rnd.uniform(1, 1e7), rnd.randint(0, 12))))
        mark = price
        equity = cash + pos.unrealized_pnl(Decimal(repr(mark)))
        limit = equity - Decimal(repr(abs(float(qty)) * price * rnd.choice((1e-15, 1e-9, 1e-3))))
        base = equity - pos.unrealized_pnl(Decimal(repr(mark)))
        f = drawdown.breach_bound(pos, base, limit)
        around = [
            f,
            math.nextafter(f, math.inf),
            math.nextafter(f, -math.inf),
            f * (1 + 1e-12),
            f * (1 - 1e-12),
            f * (1 + 1e-8),
            f * (1 - 1e-8),
            mark,
        ]
        picks = [*rnd.sample(around, rnd.randint(1, 4)), mark * rnd.uniform(0.99, 1.01)]
        if rnd.random() < 0.05:
            picks.append(rnd.choice((math.nan, math.inf, -math.inf)))
        prices = np.array(picks, dtype=np.float64)
        lim_f = float(limit)
        ok = drawdown.clear_of(pos, prices, mark, equity, lim_f)
        exact = _exact_breach(pos, prices, mark, equity, limit)
        if ok:
            assert exact is None, (pos, prices.tolist(), mark, equity, limit)
            cleared += 1
        exact_none += exact is None
    # Not vacuous: it clears batches here too (most batches sit on the bound, where it must
    # leave them to the exact path; the random walks above show it clearing most pieces).
    assert exact_none > 200 and cleared > 30


def test_the_float_pre_check_refuses_a_low_precision_decimal_context():
    from decimal import localcontext

    from tradewind_exit_guard import drawdown

    pos = Position(
        instrument=BTC, quantity=Decimal("0.5"), lots=((Decimal("0.5"), Decimal(60_000)),)
    )
    prices = np.array([60_000.0])
    assert drawdown.clear_of(pos, prices, 60_000.0, Decimal(100_000), 95_000.0)
    with localcontext() as ctx:
        ctx.prec = 12
        assert not drawdown.clear_of(pos, prices, 60_000.0, Decimal(100_000), 95_000.0)
