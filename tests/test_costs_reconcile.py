"""Fees, slippage and funding reconcile to the cent against a hand-computed scenario.

The tape (BTCUSDT perp, taker fee 0.04 %, funding 0.01 % every 8 h):

    07:58:10  100.0 × 10     the 07:58 candle
    07:58:50  100.2 × 10     its close: the long rule (close < 100.25) fires at 07:59:00
    07:59:20  100.3 × 100    the market entry fills here (a buyer-initiated print): 49.9 @ 100.3
    07:59:40  100.5 × 100    the last trade before 08:00: the funding mark
    08:00:00                 funding: 49.9 × 100.5 × 0.0001 = 0.501495 paid
    08:01:30  101.0 × 100    first trade after opened + 2 min: max hold exits here
    08:01:40  100.9 × 100    the close fills here: 49.9 @ 100.9
    08:03:10  100.8 × 1      later candles; no new entry (close ≥ 100.25)

Entry notional 49.9 × 100.3 = 5,004.97, fee 2.001988; exit notional 49.9 × 100.9 = 5,034.91,
fee 2.013964; realised (100.9 − 100.3) × 49.9 = 29.94; slippage on entry against the decision
close (100.3 − 100.2) × 49.9 = 4.99 and on exit against the exit trigger (101.0 − 100.9) × 49.9
= 4.99. Final equity 10,000 + 29.94 − 4.015952 − 0.501495 = 10,025.422553.
"""

from decimal import Decimal
from pathlib import Path

import anyio
from tradewind.config import load_config
from tradewind.trading.engine import Engine

T0 = 1_577_865_600_000_000  # 2020-01-01 08:00:00 UTC in µs
ROWS = [  # (seconds from 08:00, price, size, side)
    (-110, "100.0", "10", "buy"),
    (-70, "100.2", "10", "buy"),
    (-40, "100.3", "100", "buy"),
    (-20, "100.5", "100", "buy"),
    (90, "101.0", "100", "buy"),
    (100, "100.9", "100", "sell"),
    (190, "100.8", "1", "sell"),
]

CONFIG = """
mode = "backtest"
timeframes = ["1m"]
[run]
journal = "{dir}/j.duckdb"
[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "5"
maker_fee = "0.0002"
taker_fee = "0.0004"
[venues.sim]
starting_balance = "10000"
latency_ms = 25
funding_rate = 0.0001
funding_interval_h = 8
[venues.replay]
path = "{dir}/tape.csv"
[strategy]
timeframe = "1m"
long = [{{ value = "close", op = "<", threshold = 100.25 }}]
max_notional = "5000"
risk_pct = 0.5
[filters.existing]
[exits.maxhold]
max_hold_minutes = 2.0
"""


def test_fees_slippage_and_funding_to_the_cent(tmp_path: Path):
    lines = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    for i, (sec, price, size, side) in enumerate(ROWS):
        ts = T0 + sec * 1_000_000
        lines.append(f"binance-futures,BTCUSDT,{ts},{ts},{1000 + i},{side},{price},{size}")
    (tmp_path / "tape.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "c.toml").write_text(CONFIG.format(dir=tmp_path.as_posix()))
    engine = Engine(load_config(tmp_path / "c.toml"), run_id="costs")
    result = anyio.run(engine.run)

    entry, exit_ = result.fills
    assert (entry.quantity, entry.price, entry.ts_ns) == (
        Decimal("49.900"),
        Decimal("100.3"),
        (T0 - 40_000_000) * 1000,
    )
    assert (exit_.quantity, exit_.price, exit_.ts_ns) == (
        Decimal("49.900"),
        Decimal("100.9"),
        (T0 + 100_000_000) * 1000,
    )
    assert entry.fee == Decimal("2.001988") and exit_.fee == Decimal("2.013964")
    assert (entry.price - Decimal("100.2")) * entry.quantity == Decimal("4.99")  # slippage
    pf = engine.portfolio
    assert pf.funding_paid == Decimal("0.501495")
    assert pf.fees_paid == Decimal("4.015952")
    assert pf.position("sim:BTCUSDT").realized_pnl == Decimal("29.94")
    assert pf.equity() == Decimal("10025.422553")
    assert Decimal(result.summary["final_equity"]) == Decimal("10025.422553")
    # The simulated venue's own books agree with the host's.
    balances = anyio.run(engine.venues["sim"].fetch_balances)
    assert balances["USDT"] == Decimal("10025.422553")


def test_funding_is_journaled_as_cash_and_a_resumed_paper_session_keeps_it(tmp_path: Path):
    """The same tape as a paper session: the funding payment is journaled in ``cash_flows``
    before it is booked, so the journal's cash is the account's to the cent, and a restarted
    session (the same config file) starts from it — funding and fees included."""
    from tradewind.journal.store import Journal

    def write_tape(rows: list[tuple[int, str, str, str]]) -> None:
        lines = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
        for i, (sec, price, size, side) in enumerate(rows):
            ts = T0 + sec * 1_000_000
            lines.append(f"binance-futures,BTCUSDT,{ts},{ts},{1000 + i},{side},{price},{size}")
        (tmp_path / "tape.csv").write_text("\n".join(lines) + "\n")

    write_tape(ROWS)
    text = CONFIG.format(dir=tmp_path.as_posix()).replace('mode = "backtest"', 'mode = "paper"')
    (tmp_path / "c.toml").write_text(text)
    first = Engine(load_config(tmp_path / "c.toml"), run_id="paper1")
    anyio.run(first.run)
    assert first.portfolio.cash == Decimal("10025.422553")

    journal = Journal.open_readonly(tmp_path / "j.duckdb")
    try:
        flows = journal.query("SELECT instrument, amount, kind FROM cash_flows")
        assert [(i, Decimal(a), k) for i, a, k in flows] == [
            ("sim:BTCUSDT", Decimal("0.501495"), "funding")
        ]
        assert journal.cash() == Decimal("10025.422553")
    finally:
        journal.close()

    write_tape([(400, "100.8", "1", "sell")])  # the restarted session's market: one trade
    second = Engine(load_config(tmp_path / "c.toml"), run_id="paper2")
    anyio.run(second.run)
    assert second.portfolio.cash == Decimal("10025.422553")
    assert anyio.run(second.venues["sim"].fetch_balances)["USDT"] == Decimal("10025.422553")
