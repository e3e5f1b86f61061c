"""Filters see the analyzer values of the signal's instrument, read only (RiskContext)."""

from __future__ import annotations

import math
from pathlib import Path

import anyio
import pytest
from tradewind.config_check import check_config
from tradewind.trading.engine import Engine

from tests.test_engine import SAMPLE

FILTER_SRC = """
import attrs
from tradewind import hookimpl
from tradewind.model import Veto

SEEN = []

@attrs.frozen(kw_only=True)
class Cfg:
    pass

class Peek:
    name = "peek"
    config_class = Cfg
    capabilities = frozenset({"pre-trade"})
    essential = False
    def __init__(self, config): pass
    def check(self, signal, ctx):
        values = ctx.analyzer_values(signal.instrument)
        try:
            values["orderflow.imbalance_1m"] = 0.0
            writable = True
        except TypeError:
            writable = False
        imb = values["orderflow.imbalance_1m"]
        SEEN.append((signal.side.value, imb, writable, dict(ctx.analyzer_values("sim:NOPE"))))
        return Veto(filter=self.name, signal=signal, ts_ns=signal.ts_ns,
                    reason=f"imbalance_1m {imb:.4f}")

@hookimpl
def tradewind_register_filters(registry):
    registry.add(Peek)
"""

CONFIG = f"""
mode = "backtest"
timeframes = ["1m", "5m"]

[run]
journal = "journal.duckdb"
report_dir = "reports"

[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
min_notional = "5"

[venues.sim]
plugin = "sim"

[venues.replay]
plugin = "replay"
path = "{SAMPLE.as_posix()}"

[analyzers.orderflow]
plugin = "orderflow"
timeframes = ["1m", "5m"]

[strategy]
timeframe = "1m"
long = [{{ value = "orderflow.imbalance_1m", op = ">", threshold = 1.5 }}]
short = [{{ value = "orderflow.imbalance_1m", op = "<", threshold = 0.67 }}]

[filters.peek]
"""


@pytest.fixture
def peek(fake_dists):
    fake_dists.add(
        "tradewind-filter-peek",
        "1.0",
        {"tradewind.filters": {"peek": "peek_filter"}},
        {"peek_filter": FILTER_SRC},
    )
    import peek_filter

    yield peek_filter
    import sys

    sys.modules.pop("peek_filter", None)


def test_a_filter_reads_the_values_the_strategy_decided_on(peek, tmp_path: Path):
    cfg_path = tmp_path / "tradewind.toml"
    cfg_path.write_text(CONFIG, encoding="utf-8")
    cfg = check_config(cfg_path)
    engine = Engine(cfg)
    result = anyio.run(engine.run)
    seen = peek.SEEN
    assert seen, "the strategy produced no signal on the sample"
    assert result.summary["signals"] == len(seen)
    for side, imb, writable, other in seen:
        assert not writable and other == {}
        assert math.isfinite(imb)
        # The rule that fired holds on the value the filter saw: it is the decision's value.
        assert imb > 1.5 if side == "buy" else imb < 0.67, (side, imb)
    assert engine.vetoes == {"peek": len(seen)}
