"""Entry semantics: one entry per instrument unless ``pyramiding``; every order has an intent.

A backtest on the shipped sample whose strategy wants to go long at every decision point,
with no filters and no exits (nothing but the engine stands between the strategy and a
stack of entries). The journal must show one entry, or one entry and ``pyramiding`` adds.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.trading.engine import Engine

pytest.importorskip("tradewind_analyzer_orderflow", reason="the strategy reads one analyzer")

SAMPLE = Path(
    str(
        resources.files("tradewind")
        / "defaults"
        / "data"
        / "tardis_binance-futures_BTCUSDT_trades.csv"
    )
)


def run(tmp_path: Path, extra: str = "", venue: str = "") -> list[tuple[str, str, str]]:
    cfg = tmp_path / "stack.toml"
    cfg.write_text(
        f"""
mode = "backtest"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"

[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.01"
lot_size = "0.001"

[venues.sim]
plugin = "sim"
starting_balance = "10000"
{venue}
[venues.replay]
plugin = "replay"
path = "{SAMPLE.as_posix()}"

[analyzers.orderflow]
plugin = "orderflow"

[strategy]
timeframe = "1m"
risk_pct = 0.01
max_leverage = 10.0
long = [{{ value = "orderflow.imbalance_1m", op = ">=", threshold = 0.0 }}]
{extra}
""",
        encoding="utf-8",
    )
    engine = Engine(load_config(cfg), run_id="stack")
    anyio.run(engine.run)
    assert engine.signals > 10  # the strategy asked again and again
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        # An IOC market order takes what the prints of its side offer at arrival (docs/venues/
        # sim.md): "filled", or "cancelled" after a partial fill. Either way it traded.
        orders = con.execute(
            "SELECT side, intent, CASE WHEN filled_quantity::DECIMAL(38, 18) > 0 "
            "THEN 'traded' ELSE status END FROM orders ORDER BY id_seq"
        ).fetchall()
        most = con.execute("SELECT max(abs(quantity::DECIMAL(38, 18))) FROM positions").fetchone()
        one = con.execute("SELECT quantity FROM orders ORDER BY id_seq LIMIT 1").fetchone()
        vetoes = con.execute("SELECT DISTINCT filter FROM vetoes").fetchall()
    finally:
        con.close()
    assert most is not None and one is not None
    return [*orders, ("max", str(most[0]), str(one[0])), *(("veto", v[0], "") for v in vetoes)]


def test_without_filters_a_run_holds_one_entry_per_instrument(tmp_path: Path) -> None:
    got = run(tmp_path)
    orders = [o for o in got if o[0] in ("buy", "sell")]
    assert orders == [("buy", "entry", "traded")]
    (_, most, one) = next(o for o in got if o[0] == "max")
    assert Decimal(most) <= Decimal(one)  # never more than the one entry's size
    assert ("veto", "position", "") in got  # every later signal was refused, and journaled


def test_pyramiding_allows_that_many_adds_and_no_more(tmp_path: Path) -> None:
    got = run(tmp_path, "pyramiding = 2")
    orders = [o for o in got if o[0] in ("buy", "sell")]
    assert orders == [
        ("buy", "entry", "traded"),
        ("buy", "add", "traded"),
        ("buy", "add", "traded"),
    ]


def test_a_pending_entry_blocks_a_second_one_across_candle_closes(tmp_path: Path) -> None:
    """No filters, and the venue takes 150 s to act on an order: the entry is still pending
    at the next two one-minute closes, where the strategy would go long again. The engine
    sends nothing while it is in flight; once it fills, every later signal meets the
    position."""
    got = run(tmp_path, venue="latency_ms = 150000")
    orders = [o for o in got if o[0] in ("buy", "sell")]
    assert orders == [("buy", "entry", "traded")]
    (_, most, one) = next(o for o in got if o[0] == "max")
    assert Decimal(most) <= Decimal(one)
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        ((created, first_fill),) = con.execute(
            "SELECT o.created_ts_ns, min(f.ts_ns) FROM orders o JOIN fills f "
            "ON f.client_order_id = o.client_order_id GROUP BY o.created_ts_ns"
        ).fetchall()
    finally:
        con.close()
    # The entry was in flight over at least two candle closes (a minute apart).
    assert first_fill - created >= 150 * 10**9 > 2 * 60 * 10**9
