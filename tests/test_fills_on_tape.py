"""No fill at a price the tape never printed after the order's arrival: checked over the whole
journal of runs on the real sample, with DuckDB reading the tape independently."""

from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.trading.engine import Engine

from tests.test_engine import SAMPLE, demo_config_text

LATENCY_MS = 25

ACTIVE = """
[analyzers.orderflow]
plugin = "orderflow"

[strategy]
timeframe = "1m"
long = [{ value = "orderflow.imbalance_1m", op = ">", threshold = 1.2 }]
short = [{ value = "orderflow.imbalance_1m", op = "<", threshold = 0.8 }]

[filters.existing]
side = "same"

[filters.reversal]

[exits.trailing]
trail_pct = 0.002

[exits.maxhold]
max_hold_minutes = 5.0
"""


def run(tmp_path: Path, demo: bool) -> Path:
    text = demo_config_text(tmp_path)
    if not demo:  # a busier strategy than the demo: many entries, reversals and exits
        text = text[: text.index("# The four analyzers")] + ACTIVE
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    anyio.run(Engine(load_config(cfg), run_id="tape").run)
    return tmp_path / "journal.duckdb"


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "active"])
def test_every_fill_is_a_print_after_the_order_arrived(tmp_path, demo):
    journal = run(tmp_path, demo)
    con = duckdb.connect(str(journal), read_only=True)
    con.execute(
        f"CREATE TEMP TABLE tape AS SELECT timestamp * 1000 AS ts_ns, price::DOUBLE AS price "
        f"FROM read_csv_auto('{SAMPLE.as_posix()}')"
    )
    fills = con.execute(
        "SELECT f.client_order_id, f.ts_ns, f.price::DOUBLE, f.liquidity, o.type, "
        "o.price::DOUBLE, o.side, o.created_ts_ns FROM fills f JOIN orders o "
        "USING (client_order_id)"
    ).fetchall()
    assert len(fills) >= (1 if demo else 20)
    for cid, ts, price, liquidity, _type, limit, side, created in fills:
        arrival = created + LATENCY_MS * 1_000_000
        assert ts >= arrival, f"{cid} filled at {ts} before arriving at {arrival}"
        printed = con.execute(
            "SELECT count(*) FROM tape WHERE ts_ns = ? AND price = ?", [ts, price]
        ).fetchone()[0]
        if liquidity == "taker":
            assert printed >= 1, f"{cid}: taker fill at {price} @ {ts} was never printed"
        else:  # a resting limit fills at its price when a print at or through it happened
            assert price == limit
            through = con.execute(
                "SELECT count(*) FROM tape WHERE ts_ns = ? AND "
                "(CASE WHEN ? = 'buy' THEN price <= ? ELSE price >= ? END)",
                [ts, side, limit, limit],
            ).fetchone()[0]
            assert through >= 1, f"{cid}: maker fill without a print through {limit}"
