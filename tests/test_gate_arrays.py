"""The strategy's gate cascade as array predicates (tradewind.trading.gate_arrays): per row,
the gate that rejects it is the gate :meth:`Strategy.decide` counts in the funnel, NaN never
holds, and only the leading gates that read tabled outputs are compiled."""

from __future__ import annotations

import numpy as np
import pytest
from tradewind._serde import structure
from tradewind.config import StrategySection
from tradewind.trading.gate_arrays import GateArrays
from tradewind.trading.strategy import Strategy

from tests.test_strategy import INST

REGIME = {
    "name": "regime",
    "long": [{"value": "regime.regime", "op": ">=", "threshold": 1}],
    "short": [{"value": "regime.regime", "op": "<=", "threshold": -1}],
}
LONG_ONLY = {  # a gate without short rules: shorts never pass it
    "name": "breakout",
    "long": [
        {"value": "close", "op": ">", "ref": "profile.vah", "factor": 1.001},
        {"value": "orderflow.delta", "op": "abs>", "threshold": 0.5},
    ],
}
IMBALANCE = {
    "name": "imbalance",
    "long": [{"value": "orderflow.imbalance", "op": ">", "threshold": 2.0}],
    "short": [{"value": "orderflow.imbalance", "op": "<", "threshold": 0.5}],
}
QUIET = {
    "name": "quiet",
    "long": [{"value": "micro.zscore", "op": "abs<", "threshold": 1.0}],
    "short": [{"value": "micro.zscore", "op": "abs<", "threshold": 1.0}],
}
SECTIONS = {
    "gates": {"composition": "gates", "gates": [REGIME, LONG_ONLY, IMBALANCE, QUIET]},
    "confluence": {"composition": "confluence", "primary": [IMBALANCE, REGIME, QUIET]},
    "both": {"composition": "both", "gates": [REGIME, QUIET], "primary": [IMBALANCE]},
}
COLUMNS = ["regime.regime", "profile.vah", "orderflow.delta", "orderflow.imbalance", "micro.zscore"]


def _table(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns with values on both sides of every threshold, exact ties and NaN."""
    rng = np.random.default_rng(seed)
    cols = {
        "regime.regime": rng.choice([-1.0, 0.0, 1.0, np.nan], n),
        "profile.vah": rng.normal(100.0, 1.0, n),
        "orderflow.delta": rng.choice([-0.7, -0.5, 0.0, 0.5, 0.9, np.nan], n),
        "orderflow.imbalance": rng.choice([0.2, 0.5, 1.0, 2.0, 3.5, np.nan], n),
        "micro.zscore": rng.choice([-2.0, -1.0, -0.3, 0.3, 1.0, np.nan], n),
    }
    close = rng.normal(100.1, 1.0, n)
    close[rng.random(n) < 0.05] = np.nan
    return cols, close


@pytest.mark.parametrize("composition", sorted(SECTIONS))
def test_each_row_is_rejected_at_the_gate_the_scalar_funnel_counts(composition):
    section = structure(SECTIONS[composition], StrategySection)
    cols, close = _table(4_000, seed=len(composition))
    gates = GateArrays(section, COLUMNS)
    assert len(gates) == len(gates.names) > 0
    verdicts = gates.first_failing(cols, close)
    through = 0
    for r in range(len(close)):
        one = Strategy(section)
        values = {k: float(v[r]) for k, v in cols.items()}
        one.decide(INST, float(close[r]), r, values)
        if verdicts[r] >= 0:
            assert one.rejected == {gates.names[verdicts[r]]: 1}, r
        else:
            through += 1
            assert not set(one.rejected) & set(gates.names), r
    assert 0 < through < len(close)  # both outcomes occur
    assert set(verdicts.tolist()) == {-1, *range(len(gates))}  # every gate rejects some rows


def test_nan_never_holds():
    section = structure(SECTIONS["gates"], StrategySection)
    gates = GateArrays(section, COLUMNS)
    nan = np.full(3, np.nan)
    cols = dict.fromkeys(COLUMNS, nan)
    assert gates.first_failing(cols, np.array([1.0, 2.0, np.nan])).tolist() == [0, 0, 0]


def test_only_leading_gates_over_tabled_outputs_are_compiled():
    section = structure(SECTIONS["gates"], StrategySection)
    # micro (QUIET, the last gate) has no table: the three gates before it are compiled.
    assert GateArrays(section, COLUMNS[:4]).names == ["regime", "breakout", "imbalance"]
    # profile has no table: the cascade stops before the gate that reads it.
    without_profile = [c for c in COLUMNS if c != "profile.vah"]
    assert GateArrays(section, without_profile).names == ["regime"]
    assert len(GateArrays(section, [])) == 0
