"""The engine's own decision calls the strategy and each filter directly (no coroutine of
``_strategy_signal``, no ``_check_filter`` per filter); a subclass that overrides either (a
cluster host) is still asked. Both give the same signals, vetoes, orders and fills."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import numpy as np
from tradewind.config import load_config
from tradewind.journal.store import Journal
from tradewind.model import TickBatch
from tradewind.trading.engine import Engine
from tradewind.trading.reconcile import prepare_session

CONFIG = """
mode = "paper"
timeframes = ["1m", "5m"]
[run]
journal = "{journal}"
[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "5"
taker_fee = "0.0004"
[venues.sim]
starting_balance = "1000000"
latency_ms = 0
[venues.replay]
path = "unused.csv"
[analyzers.orderflow]
plugin = "orderflow"
[strategy]
timeframe = "1m"
long = [{{ value = "orderflow.imbalance_1m", op = ">", threshold = 1.0 }}]
short = [{{ value = "orderflow.imbalance_1m", op = "<", threshold = 1.0 }}]
risk_pct = 0.00001
[filters.existing]
[filters.exposure]
max_usd = "3000"
[exits.maxhold]
max_hold_minutes = 2
[notifiers.log]
min_severity = "critical"
"""


class Asking(Engine):
    """Overrides both calls with what the engine's own do, counting them."""

    asked_signal = 0
    asked_filter = 0

    async def _strategy_signal(self, st: Any, candle: Any, ts_ns: int) -> Any:
        self.asked_signal += 1
        return await super()._strategy_signal(st, candle, ts_ns)

    def _check_filter(self, index: int, flt: Any, signal: Any) -> Any:
        self.asked_filter += 1
        return super()._check_filter(index, flt, signal)


async def _run(tmp: Path, cls: type[Engine]) -> tuple[Engine, dict[str, Any]]:
    tmp.mkdir()
    (tmp / "c.toml").write_text(CONFIG.format(journal=(tmp / "j.duckdb").as_posix()))
    engine = cls(load_config(tmp / "c.toml"), run_id="direct")
    st = next(iter(engine.state.values()))
    key = st.instrument.key
    rng = np.random.default_rng(11)
    minute = 60_000_000_000
    t0 = 1_700_000_000 * 1_000_000_000 // minute * minute
    engine.journal = Journal(tmp / "j.duckdb", "direct")
    engine.journal.start("paper", str(tmp / "c.toml"), t0)
    engine.bus.subscribe("journal", engine.journal.record, lossless=True)
    await prepare_session(engine)
    price, tid = 50_000.0, 0
    async with engine.bus:
        for k in range(90):
            n = 30
            ts = t0 + k * minute + np.sort(rng.integers(1, minute, n))
            prices = np.round(price * np.exp(np.cumsum(rng.normal(0, 6e-4, n))), 1)
            price = float(prices[-1])
            for part in np.array_split(np.arange(n), 3):
                await engine.on_batch(
                    TickBatch.from_arrays(
                        key,
                        ts[part],
                        prices[part],
                        rng.lognormal(-2, 1, len(part)) + 0.001,
                        np.where(rng.random(len(part)) < 0.5, 1, -1),
                        part + tid,
                    )
                )
            tid += n
        await engine.bus.close()
    engine.journal.close()
    return engine, {
        "signals": engine.signals,
        "vetoes": dict(engine.vetoes),
        "entries": engine.entries_sent,
        "evaluated": engine.strategy.evaluated,
        "orders": [
            (o.client_order_id, o.side, o.quantity, o.intent, o.created_ts_ns)
            for o in engine.orders.orders.values()
        ],
        "fills": [(f.client_order_id, f.price, f.quantity, f.ts_ns) for f in engine.orders.fills],
        "cash": engine.portfolio.cash,
    }


def test_direct_calls_and_overridden_calls_decide_the_same(tmp_path: Path) -> None:
    plain, direct = anyio.run(_run, tmp_path / "plain", Engine)
    asking, asked = anyio.run(_run, tmp_path / "asking", Asking)
    assert plain._own_signal and plain._own_verdicts
    assert not asking._own_signal and not asking._own_verdicts
    assert direct == asked
    # The run reached both: signals the filters let through and signals they vetoed.
    assert direct["entries"] > 5 and sum(direct["vetoes"].values()) > 5, direct
    assert isinstance(asking, Asking)
    assert asking.asked_signal == asked["evaluated"] > 0
    # Every filter asked for every sized signal until one refused it.
    assert asking.asked_filter >= asked["signals"] > 0
