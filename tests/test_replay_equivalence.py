"""Replay sliced at decision points gives the same run as feeding the tape trade by trade."""

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text


def run(tmp_path, chunk: int, name: str):
    text = (
        demo_config_text(tmp_path)
        .replace('plugin = "replay"\n', f'plugin = "replay"\nchunk_ticks = {chunk}\n')
        .replace("journal.duckdb", f"{name}.duckdb")
    )
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(text)
    result = anyio.run(Engine(load_config(cfg), run_id=name).run)
    con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
    signals = con.execute(
        "SELECT ts_ns, payload FROM events WHERE type = 'SignalEvent' ORDER BY seq"
    ).fetchall()
    orders = con.execute(
        "SELECT ts_ns, payload FROM events WHERE type = 'OrderSubmitted' ORDER BY seq"
    ).fetchall()
    con.close()
    return result, signals, orders


@pytest.mark.slow
def test_vectorised_replay_equals_tick_by_tick_on_the_real_sample(tmp_path):
    big, big_signals, big_orders = run(tmp_path, 1_000_000, "vectorised")
    one, one_signals, one_orders = run(tmp_path, 1, "tick_by_tick")
    assert big.summary["ticks"] == one.summary["ticks"] == 9_999
    assert big_signals and big_signals == one_signals
    assert big_orders and [o[0] for o in big_orders] == [o[0] for o in one_orders]
    fills = [(f.ts_ns, f.side, f.quantity, f.price, f.fee) for f in big.fills]
    assert fills and fills == [(f.ts_ns, f.side, f.quantity, f.price, f.fee) for f in one.fills]
    for key in ("final_equity", "realized_pnl", "fees_paid", "trades", "funnel"):
        assert big.summary[key] == one.summary[key], key  # to the cent and beyond: exact
    assert big.equity_curve == one.equity_curve
