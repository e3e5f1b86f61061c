"""Strategy composition: gates short-circuit and count rejections per level; confluence scores."""

import math
from decimal import Decimal
from pathlib import Path

import pytest
from tradewind._serde import structure
from tradewind.config import StrategySection, load_config
from tradewind.errors import ConfigError
from tradewind.model import Instrument, Side
from tradewind.presets import apply_preset, available
from tradewind.trading.sizing import size_for
from tradewind.trading.strategy import Strategy

INST = Instrument(
    venue="sim", symbol="BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="5"
)


def strategy(**raw) -> Strategy:
    return Strategy(structure(raw, StrategySection))


GATES = {
    "gates": [
        {
            "name": "regime",
            "long": [{"value": "regime.regime", "op": ">=", "threshold": 1}],
            "short": [{"value": "regime.regime", "op": "<=", "threshold": -1}],
        },
        {
            "name": "cascade",
            "long": [{"value": "orderflow.cascade", "op": ">=", "threshold": 1}],
            "short": [{"value": "orderflow.cascade", "op": "<=", "threshold": -1}],
        },
    ]
}


def test_gates_short_circuit_and_count_rejections_per_level():
    s = strategy(**GATES)
    assert s.decide(INST, 50_000.0, 1, {"regime.regime": 0.0, "orderflow.cascade": 1.0}) is None
    assert s.decide(INST, 50_000.0, 2, {"regime.regime": 1.0, "orderflow.cascade": -1.0}) is None
    assert s.decide(INST, 50_000.0, 3, {"regime.regime": 1.0}) is None  # NaN never holds
    sig = s.decide(INST, 50_000.0, 4, {"regime.regime": 1.0, "orderflow.cascade": 1.0})
    assert s.rejected == {"regime": 1, "cascade": 2} and s.evaluated == 4
    assert sig is not None and sig.side is Side.BUY
    assert sig.entry == Decimal("50000.0") and sig.stop == Decimal("49750.0")  # 0.5 % stop
    assert sig.reasons == {"regime.regime": 1.0, "orderflow.cascade": 1.0}


def test_downtrend_allows_shorts_only():
    s = strategy(**GATES)
    sig = s.decide(INST, 50_000.0, 1, {"regime.regime": -1.0, "orderflow.cascade": -1.0})
    assert sig is not None and sig.side is Side.SELL and sig.stop == Decimal("50250.0")


def test_rules_with_a_reference_value_and_absolute_ops():
    s = strategy(
        gates=[
            {
                "name": "away",
                "long": [
                    {"value": "close", "op": ">", "ref": "profile.demand_high", "factor": 1.001},
                    {"value": "micro.autocorr", "op": "abs>", "threshold": 0.6},
                ],
            }
        ]
    )
    vals = {"profile.demand_high": 49_900.0, "micro.autocorr": -0.7}
    assert s.decide(INST, 49_940.0, 1, vals) is None  # not above 49,900 × 1.001 = 49,949.9
    assert s.rejected == {"away": 1}
    sig = s.decide(INST, 49_950.0, 2, vals)
    assert sig is not None and sig.reasons["close"] == 49_950.0
    assert s.decide(INST, 49_950.0, 3, {**vals, "micro.autocorr": 0.5}) is None


def test_confluence_scores_tiers_and_grades():
    s = strategy(
        composition="confluence",
        primary=[
            {
                "name": "imbalance",
                "long": [{"value": "orderflow.imbalance_1m", "op": ">", "threshold": 2.0}],
            }
        ],
        scorers=[
            {
                "name": "mean_reversion",
                "long": [
                    {
                        "points": 1.5,
                        "when": [{"value": "micro.zscore", "op": "<", "threshold": -2}],
                    },
                    {
                        "points": 0.75,
                        "when": [{"value": "micro.zscore", "op": "<", "threshold": -1}],
                    },
                ],
            },
            {
                "name": "fvg",
                "long": [
                    {
                        "points": 1.5,
                        "when": [{"value": "profile.fvg_bull_low", "op": ">", "threshold": 0}],
                    }
                ],
            },
        ],
        min_score=3.0,
    )
    low = {"orderflow.imbalance_1m": 2.5, "micro.zscore": -1.5}
    assert s.decide(INST, 50_000.0, 1, low) is None  # 1 + 0.75 = 1.75 < 3
    assert s.rejected == {"score": 1}
    hi = {"orderflow.imbalance_1m": 2.5, "micro.zscore": -2.5, "profile.fvg_bull_low": 49_000.0}
    sig = s.decide(INST, 50_000.0, 2, hi)
    assert sig is not None and sig.score == 4.0  # 1 (primary) + 1.5 + 1.5
    assert sig.reasons["score.long.mean_reversion"] == 1.5 and sig.reasons["grade"] == 1.0
    assert s.decide(INST, 50_000.0, 3, {"orderflow.imbalance_1m": 1.5}) is None
    assert s.rejected == {"score": 1, "imbalance": 1}


def test_the_orderflow_scalper_preset_loads_and_names_its_levels():
    assert "orderflow-scalper" in available()
    sec = structure(
        apply_preset({"preset": "orderflow-scalper", "risk_pct": 0.005}), StrategySection
    )
    assert [g.name for g in sec.gates] == ["regime", "zone", "cascade", "bounce"]
    assert [g.name for g in sec.primary] == ["imbalance", "rejection"]
    assert sec.risk_pct == 0.005 and sec.stop_pct == 0.005
    best = sum(max(t.points for t in sc.long) for sc in sec.scorers) + 2 * sec.primary_points
    assert best == 10.0  # the seed's total
    assert (sec.min_score, sec.strong_score, sec.very_strong_score) == (3.0, 5.0, 7.0)


def test_the_preset_walks_the_seed_levels_in_order():
    s = Strategy(structure(apply_preset({"preset": "orderflow-scalper"}), StrategySection))
    vals = {
        "regime.regime": 1.0,
        "profile.demand_distance_pct": 0.001,
        "profile.demand_high": 49_950.0,
        "orderflow.cascade": 1.0,
        "micro.bounce_long": 0.8,
        "micro.volume_spike": 1.6,
    }
    sig = s.decide(INST, 50_000.0, 1, vals)
    assert sig is not None and sig.side is Side.BUY
    for level, broken in (
        ("regime", {"regime.regime": 0.0}),
        ("zone", {"profile.demand_distance_pct": 0.01}),
        ("cascade", {"orderflow.cascade": 0.0}),
        ("bounce", {"micro.volume_spike": 1.2}),
    ):
        assert s.decide(INST, 50_000.0, 2, {**vals, **broken}) is None
        assert s.rejected[level] == 1


def test_a_preset_reading_missing_analyzers_is_a_config_error(tmp_path: Path):
    p = tmp_path / "c.toml"
    p.write_text(
        'mode = "backtest"\n[[instruments]]\nsymbol = "X"\nvenue = "sim"\n'
        'data = "replay"\n[venues.sim]\n[venues.replay]\npath = "x.csv"\n'
        '[strategy]\npreset = "orderflow-scalper"\n'
    )
    with pytest.raises(
        ConfigError, match=r"no \[analyzers.regime\] table .* @ \$\.strategy\.gates"
    ):
        load_config(p)
    p.write_text(p.read_text().replace("orderflow-scalper", "nope"))
    with pytest.raises(ConfigError, match="unknown strategy preset 'nope'"):
        load_config(p)


def test_bad_rules_are_refused_with_their_path():
    with pytest.raises(ConfigError, match=r"op must be one of .* @ \$\.gates\[0\]\.long\[0\]"):
        structure(
            {"gates": [{"name": "g", "long": [{"value": "a.b", "op": "=>", "threshold": 1}]}]},
            StrategySection,
        )
    with pytest.raises(ConfigError, match="exactly one of 'threshold' and 'ref'"):
        structure({"long": [{"value": "a.b", "op": ">"}]}, StrategySection)


def test_sizing_risks_a_fraction_of_equity_within_caps():
    s = strategy(**GATES)
    sig = s.decide(INST, 50_000.0, 4, {"regime.regime": 1.0, "orderflow.cascade": 1.0})
    assert sig is not None
    # 10,000 × 1 % / 250 = 0.4 BTC = 20,000 notional: capped by 1× leverage to 0.2.
    assert size_for(sig, INST, Decimal(10_000), Decimal("0.01")) == Decimal("0.200")
    assert size_for(
        sig, INST, Decimal(10_000), Decimal("0.01"), max_leverage=Decimal(5)
    ) == Decimal("0.400")
    assert size_for(
        sig, INST, Decimal(10_000), Decimal("0.01"), Decimal("1000"), max_leverage=Decimal(5)
    ) == Decimal("0.020")
    assert size_for(
        sig, INST, Decimal(10_000), Decimal("0.01"), instrument_cap=Decimal("4.99")
    ) == Decimal(0)  # below min notional
    assert not math.isnan(float(sig.score))


def test_signals_built_by_their_slots_are_the_keyword_constructor_s():
    """``decide``'s signal (and the engine's sized signal and its event, made the same way)
    against ``Signal(...)``/``SignalEvent(...)`` by keyword from fields computed here: the
    same fields, values and types, on random closes (several tick grids of prices), sides,
    scores and reasons, through gates and confluence."""
    import random

    import attrs
    from tradewind.model import Signal
    from tradewind.model.events import SignalEvent
    from tradewind.trading.engine import _signal_event
    from tradewind.trading.strategy import build_signal

    gates = strategy(**GATES)
    scored = strategy(
        composition="confluence",
        primary=[
            {
                "name": "imbalance",
                "long": [{"value": "orderflow.imbalance_1m", "op": ">", "threshold": 0.0}],
                "short": [{"value": "orderflow.imbalance_1m", "op": "<", "threshold": 0.0}],
            }
        ],
        scorers=[
            {
                "name": "z",
                "long": [
                    {"points": 1.5, "when": [{"value": "micro.zscore", "op": "<", "threshold": -1}]}
                ],
                "short": [
                    {"points": 0.5, "when": [{"value": "micro.zscore", "op": ">", "threshold": 1}]}
                ],
            }
        ],
        min_score=1.0,
        stop_pct=0.013,
    )
    rng = random.Random(17)
    made = 0
    for k in range(4000):
        s = gates if k % 2 else scored
        close = round(rng.uniform(0.5, 120_000.0), rng.choice([0, 1, 2, 7]))
        values = {
            "regime.regime": float(rng.choice([-1, 0, 1])),
            "orderflow.cascade": float(rng.choice([-1, 1])),
            "orderflow.imbalance_1m": rng.uniform(-3, 3),
            "micro.zscore": rng.uniform(-3, 3),
        }
        sig = s.decide(INST, close, k, values)
        if sig is None:
            continue
        made += 1
        entry = INST.round_price(close)
        dist = entry * s.stop_pct
        stop = INST.round_price(entry - dist if sig.side is Side.BUY else entry + dist)
        want = Signal(
            instrument=INST.key,
            side=sig.side,
            entry=entry,
            stop=stop,
            score=sig.score,
            ts_ns=k,
            reasons=dict(sig.reasons),
        )
        assert sig == want
        assert [type(v) for v in attrs.astuple(sig, recurse=False)] == [
            type(v) for v in attrs.astuple(want, recurse=False)
        ]
        # The engine's sized signal and its event (Engine._enter), the same way.
        qty = Decimal(rng.randint(1, 10**6)) * INST.lot_size
        sized = build_signal(
            sig.instrument,
            sig.side,
            sig.entry,
            sig.stop,
            sig.score,
            sig.ts_ns,
            sig.reasons,
            qty,
            sig.intent,
        )
        assert sized == attrs.evolve(sig, quantity=qty)
        assert _signal_event(k, sized) == SignalEvent(
            ts_ns=k, signal=attrs.evolve(want, quantity=qty)
        )
    assert made > 1000
