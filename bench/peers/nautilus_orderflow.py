"""NautilusTrader's BacktestEngine running an order-flow strategy like tradewind's default one.

    python bench/peers/nautilus_orderflow.py TICKS.parquet [--json]

Reads a tradewind ticks parquet file (``symbol, ts_ns, price, size, side, trade_id``; one
symbol), turns it into Nautilus ``TradeTick`` objects of a Binance-like USDT perpetual
(price precision 2, size precision 3, taker fee 0.04 %), and runs one strategy on it:

* bars of 1, 5 and 15 minutes aggregated by Nautilus from the trade ticks
  (``BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-INTERNAL`` and so on);
* the aggressor split of each bar (buy and sell volume) accumulated in ``on_trade_tick``
  (Nautilus bars carry no aggressor split), giving each timeframe's imbalance, buy volume over
  sell volume capped at 100 as in tradewind's orderflow analyzer;
* the imbalance cascade, decided at each 1-minute bar: long when ``imb1m > imb5m > imb15m`` and
  ``imb1m > 2.0``; short when ``imb1m < imb5m < imb15m`` and ``imb1m < 0.5``;
* the EMA regime: EMA(20) over EMA(50) of 1-minute closes allows longs, below allows shorts;
* a market order risking 1 % of the starting balance with a 0.5 % stop when flat;
* a 0.5 % trailing exit from the best trade price since entry, checked on every trade tick,
  and a 30-minute maximum hold checked at each 1-minute bar.

With ``--json`` the last line printed is a JSON object with the tick count, the time of
``BacktestEngine.run`` alone (wall and process CPU), the time of the load (parquet to
``TradeTick`` objects and ``add_data``), and what the strategy did.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import ExponentialMovingAverage
from nautilus_trader.model.currencies import BTC, USDT
from nautilus_trader.model.data import Bar, BarType, TradeTick
from nautilus_trader.model.enums import (
    AccountType,
    AggressorSide,
    OmsType,
    OrderSide,
)
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.trading.strategy import Strategy

VENUE = Venue("BINANCE")
INSTRUMENT_ID = InstrumentId(Symbol("BTCUSDT-PERP"), VENUE)
PRICE_PRECISION = 2
SIZE_PRECISION = 3
STARTING_BALANCE = 10_000.0
MINUTE_NS = 60_000_000_000


def instrument() -> CryptoPerpetual:
    """A Binance USDT-M BTCUSDT perpetual: 0.01 tick, 0.001 lot, 0.02 % / 0.04 % fees."""
    return CryptoPerpetual(
        instrument_id=INSTRUMENT_ID,
        raw_symbol=Symbol("BTCUSDT"),
        base_currency=BTC,
        quote_currency=USDT,
        settlement_currency=USDT,
        is_inverse=False,
        price_precision=PRICE_PRECISION,
        size_precision=SIZE_PRECISION,
        price_increment=Price.from_str("0.01"),
        size_increment=Quantity.from_str("0.001"),
        max_quantity=Quantity.from_str("1000.000"),
        min_quantity=Quantity.from_str("0.001"),
        max_notional=None,
        min_notional=Money(5, USDT),
        max_price=Price.from_str("1000000.00"),
        min_price=Price.from_str("0.01"),
        margin_init=Decimal("0.10"),
        margin_maint=Decimal("0.05"),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0004"),
        ts_event=0,
        ts_init=0,
    )


def load_ticks(path: Path) -> list[TradeTick]:
    """The file's trades as Nautilus trade ticks (built from the columns in one call, as
    Nautilus's own ``TradeTickDataWrangler`` does)."""
    table = pq.read_table(path, columns=["ts_ns", "price", "size", "side", "trade_id"])
    ts = table.column("ts_ns").to_numpy().astype(np.uint64)
    price = table.column("price").to_numpy()
    size = table.column("size").to_numpy()
    side = table.column("side").to_numpy()
    trade_id = table.column("trade_id").to_numpy()
    aggressor = np.where(side > 0, AggressorSide.BUYER, AggressorSide.SELLER).astype(np.uint8)
    return TradeTick.from_raw_arrays_to_list(
        INSTRUMENT_ID,
        PRICE_PRECISION,
        SIZE_PRECISION,
        np.ascontiguousarray(price, dtype=np.float64),
        np.ascontiguousarray(size, dtype=np.float64),
        aggressor,
        [str(int(t)) for t in trade_id],
        ts,
        ts,
    )


class OrderFlowConfig(StrategyConfig, frozen=True):
    """Parameters of :class:`OrderFlow` (tradewind's defaults)."""

    instrument_id: InstrumentId
    ema_fast: int = 20
    ema_slow: int = 50
    max_imbalance: float = 100.0
    cascade_long_min: float = 2.0
    cascade_short_max: float = 0.5
    risk_pct: float = 0.01
    stop_pct: float = 0.005
    trail_pct: float = 0.005
    max_hold_minutes: int = 30


class OrderFlow(Strategy):
    """Imbalance cascade on 1m/5m/15m bars with an EMA regime and a trailing exit."""

    def __init__(self, config: OrderFlowConfig) -> None:
        super().__init__(config)
        self.iid = config.instrument_id
        self.bar_types = {
            m: BarType.from_str(f"{config.instrument_id}-{m}-MINUTE-LAST-INTERNAL")
            for m in (1, 5, 15)
        }
        self.ema_fast = ExponentialMovingAverage(config.ema_fast)
        self.ema_slow = ExponentialMovingAverage(config.ema_slow)
        # Per timeframe (minutes): the bucket being formed [start_ns, buy, sell] and the
        # imbalance of the last closed bucket.
        self.forming: dict[int, list[float]] = {m: [-1.0, 0.0, 0.0] for m in (1, 5, 15)}
        self.imbalance: dict[int, float] = {m: float("nan") for m in (1, 5, 15)}
        self.side = 0  # +1 long, -1 short, 0 flat (as far as the strategy has asked)
        self.best = 0.0
        self.entered_ns = 0
        self.signals = 0
        self.entries = 0
        self.exits = 0
        self.ticks = 0

    def on_start(self) -> None:
        """Subscribe to the trades and the three internally aggregated bar types."""
        one = self.bar_types[1]
        self.register_indicator_for_bars(one, self.ema_fast)
        self.register_indicator_for_bars(one, self.ema_slow)
        for bt in self.bar_types.values():
            self.subscribe_bars(bt)
        self.subscribe_trade_ticks(self.iid)

    # -- per trade: the aggressor split, and the trailing exit -----------------------------
    def on_trade_tick(self, tick: TradeTick) -> None:
        """Add the trade to each timeframe's forming bucket; check the trailing stop."""
        self.ticks += 1
        ts = tick.ts_event
        size = tick.size.as_double()
        buy = tick.aggressor_side == AggressorSide.BUYER
        for m, f in self.forming.items():
            start = ts - ts % (m * MINUTE_NS)
            if f[0] != start:
                if f[0] >= 0:
                    self._close_bucket(m, int(f[0]) + m * MINUTE_NS)
                f[0], f[1], f[2] = start, 0.0, 0.0
            if buy:
                f[1] += size
            else:
                f[2] += size
        if self.side:
            price = tick.price.as_double()
            pct = self.config.trail_pct
            if self.side > 0:
                self.best = max(self.best, price)
                if price <= self.best * (1 - pct):
                    self._exit()
            else:
                self.best = min(self.best, price)
                if price >= self.best * (1 + pct):
                    self._exit()

    def _close_bucket(self, m: int, end_ns: int) -> None:
        """Close timeframe ``m``'s forming bucket if it ends by ``end_ns`` (idempotent)."""
        f = self.forming[m]
        if f[0] < 0 or f[0] + m * MINUTE_NS > end_ns:
            return
        buy, sell = f[1], f[2]
        cap = self.config.max_imbalance
        if sell > 0.0:
            self.imbalance[m] = min(buy / sell, cap)
        else:
            self.imbalance[m] = cap if buy > 0.0 else 1.0
        f[0], f[1], f[2] = -1.0, 0.0, 0.0

    # -- per 1-minute bar: the decision ----------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        """At a 1-minute close: close the buckets ending now, then decide."""
        if bar.bar_type != self.bar_types[1]:
            return
        now = bar.ts_event
        for m in (1, 5, 15):
            self._close_bucket(m, now)
        if self.side and now - self.entered_ns >= self.config.max_hold_minutes * MINUTE_NS:
            self._exit()
        if self.side or not self.ema_slow.initialized:
            return
        i1, i5, i15 = self.imbalance[1], self.imbalance[5], self.imbalance[15]
        if i1 != i1 or i5 != i5 or i15 != i15:
            return
        c = self.config
        up = self.ema_fast.value > self.ema_slow.value
        down = self.ema_fast.value < self.ema_slow.value
        if i1 > c.cascade_long_min and i1 > i5 > i15:
            self.signals += 1
            if up:
                self._enter(OrderSide.BUY, bar.close.as_double(), now)
        elif i1 < c.cascade_short_max and i1 < i5 < i15:
            self.signals += 1
            if down:
                self._enter(OrderSide.SELL, bar.close.as_double(), now)

    def _enter(self, side: OrderSide, price: float, now: int) -> None:
        c = self.config
        qty = STARTING_BALANCE * c.risk_pct / (price * c.stop_pct)
        order = self.order_factory.market(
            self.iid, side, Quantity(round(qty, SIZE_PRECISION), SIZE_PRECISION)
        )
        self.submit_order(order)
        self.side = 1 if side == OrderSide.BUY else -1
        self.best = price
        self.entered_ns = now
        self.entries += 1

    def _exit(self) -> None:
        self.close_all_positions(self.iid)
        self.side = 0
        self.exits += 1

    def on_stop(self) -> None:
        """Close what is open at the end of the data."""
        self.close_all_positions(self.iid)


def run(path: Path) -> dict[str, object]:
    """Load ``path``, run the backtest, return the timings and counts."""
    w0, c0 = time.perf_counter(), time.process_time()
    engine = BacktestEngine(
        config=BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
    )
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USDT,
        starting_balances=[Money(STARTING_BALANCE, USDT)],
    )
    engine.add_instrument(instrument())
    ticks = load_ticks(path)
    engine.add_data(ticks)
    strategy = OrderFlow(OrderFlowConfig(instrument_id=INSTRUMENT_ID))
    engine.add_strategy(strategy)
    w1, c1 = time.perf_counter(), time.process_time()
    engine.run()
    w2, c2 = time.perf_counter(), time.process_time()
    fills = len(engine.trader.generate_order_fills_report())
    positions = len(engine.trader.generate_positions_report())
    out = {
        "ticks": len(ticks),
        "ticks_seen": strategy.ticks,
        "load_wall": w1 - w0,
        "load_cpu": c1 - c0,
        "run_wall": w2 - w1,
        "run_cpu": c2 - c1,
        "signals": strategy.signals,
        "entries": strategy.entries,
        "exits": strategy.exits,
        "fills": fills,
        "positions": positions,
    }
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ticks", type=Path, help="a tradewind ticks parquet file (one symbol)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    r = run(args.ticks)
    if args.json:
        print(json.dumps(r))
    else:
        n = r["ticks"]
        assert isinstance(n, int)
        print(
            f"{n:,} ticks: BacktestEngine.run {r['run_cpu']:.2f} s CPU "
            f"({n / float(r['run_cpu']) / 1e6:.3f} M ticks/s), load {r['load_cpu']:.2f} s; "
            f"{r['signals']} signals, {r['entries']} entries, {r['fills']} fills",
            file=sys.stdout,
        )


if __name__ == "__main__":
    main()
