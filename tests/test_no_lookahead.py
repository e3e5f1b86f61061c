"""No look-ahead: a strategy that could only profit by reading a future tick cannot."""

import sys

import anyio
from tradewind.config import load_config
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text

ORACLE_SRC = '''
import math
import attrs
from tradewind import hookimpl

SEEN = {"violations": 0, "decisions": 0, "max_ts": 0}

@attrs.frozen(kw_only=True)
class Cfg:
    pass

class Oracle:
    """Would know the next trade's price if the engine ever showed it one too early."""
    name = "oracle"
    config_class = Cfg
    capabilities = frozenset({"ticks"})

    def __init__(self, config, instrument):
        self.ticks = []
        self.close_ts = None

    def on_ticks(self, batch):
        self.ticks.extend(zip(batch.ts_ns.tolist(), batch.price.tolist()))
        SEEN["max_ts"] = max(SEEN["max_ts"], int(batch.ts_ns[-1]))

    def on_candle(self, candle):
        if candle.timeframe_ns == 60_000_000_000:
            self.close_ts = candle.close_ts_ns
            self.close = candle.close

    def values(self):
        if self.close_ts is None:
            return {"future_return": math.nan}
        SEEN["decisions"] += 1
        future = [p for ts, p in self.ticks if ts >= self.close_ts]
        if future:
            SEEN["violations"] += 1
            return {"future_return": future[0] / self.close - 1.0}
        return {"future_return": math.nan}

@hookimpl
def tradewind_register_analyzers(registry):
    registry.add(Oracle)
'''


def test_a_strategy_that_needs_the_future_never_sees_it(tmp_path, fake_dists):
    fake_dists.add(
        "tradewind-analyzer-oracle",
        "1.0",
        {"tradewind.analyzers": {"oracle": "tw_oracle"}},
        {"tw_oracle": ORACLE_SRC},
    )
    text = demo_config_text(tmp_path)
    # Keep the instrument, venues and run settings; replace analyzers, strategy and the rest.
    text = text[: text.index("# The four analyzers")] + (
        '[analyzers.oracle]\nplugin = "oracle"\n\n[strategy]\ntimeframe = "1m"\n'
        'long = [{ value = "oracle.future_return", op = ">", threshold = 0.0 }]\n'
        'short = [{ value = "oracle.future_return", op = "<", threshold = 0.0 }]\n'
    )
    cfg = tmp_path / "oracle.toml"
    cfg.write_text(text)
    result = anyio.run(Engine(load_config(cfg), run_id="oracle").run)
    seen = sys.modules["tw_oracle"].SEEN
    sys.modules.pop("tw_oracle")
    assert seen["decisions"] >= 120  # it was asked at every 1m close
    assert seen["violations"] == 0  # never held a trade at or after the decision time
    assert result.summary["signals"] == 0 and result.fills == []
    assert result.summary["final_equity"] == result.summary["starting_equity"]
