"""The max-hold exit on scripted tapes: the exit is the first trade at or after the deadline."""

from decimal import Decimal

import numpy as np
import pytest
from tradewind.errors import ConfigError
from tradewind.model import Position, TickBatch
from tradewind.testing import assert_plugin_installed, default_instrument
from tradewind.testing.conformance import ExitConformance
from tradewind_exit_maxhold.plugin import MaxHold, MaxHoldConfig

pytest_plugins = "tradewind.testing"

KEY = default_instrument().key
S = 1_000_000_000
MIN = 60 * S
T0 = 1_600_000_000 * S  # the position opens here


def tape(offsets_ns, prices):
    """Trades at ``T0 + offset``."""
    n = len(prices)
    return TickBatch.from_arrays(KEY, T0 + np.asarray(offsets_ns), prices, [0.1] * n, [1] * n)


def long(opened=T0):
    return Position(
        instrument=KEY, quantity=Decimal("0.1"), avg_price=Decimal(50_000), opened_ts_ns=opened
    )


def test_plugin_is_installed():
    assert_plugin_installed("exits", "maxhold", MaxHold)


def test_default_is_the_seeds_30_minutes_for_scalping():
    assert MaxHoldConfig().max_hold_minutes == 30.0


def test_exit_at_the_first_trade_at_or_after_30_minutes():
    mon = MaxHold(MaxHoldConfig())
    t = tape(
        [1 * MIN, 29 * MIN, 30 * MIN - 1, 30 * MIN, 30 * MIN + 1],
        [50_100, 50_200, 50_300, 50_250, 50_240],
    )
    d = mon.on_ticks(long(), t, None)
    assert d is not None
    assert (d.ts_ns, d.price) == (T0 + 30 * MIN, 50_250)  # 30:00.000 exactly: at-or-after
    assert d.monitor == "maxhold"
    assert d.reason == "max hold time 30 min reached (held 30.00 min)"


def test_a_quiet_market_exits_on_the_first_trade_after_the_gap():
    mon = MaxHold(MaxHoldConfig(max_hold_minutes=5))
    assert mon.on_ticks(long(), tape([1 * MIN, 4 * MIN], [50_000, 50_010]), None) is None
    d = mon.on_ticks(long(), tape([7 * MIN + 3 * S, 8 * MIN], [49_990, 49_980]), None)
    assert d is not None and (d.ts_ns, d.price) == (T0 + 7 * MIN + 3 * S, 49_990)
    assert d.reason == "max hold time 5 min reached (held 7.05 min)"


def test_shorts_are_timed_the_same_way():
    mon = MaxHold(MaxHoldConfig(max_hold_minutes=1))
    short = Position(
        instrument=KEY, quantity=Decimal("-0.1"), avg_price=Decimal(50_000), opened_ts_ns=T0
    )
    d = mon.on_ticks(short, tape([30 * S, 60 * S], [49_900, 49_800]), None)
    assert d is not None and d.ts_ns == T0 + MIN


def test_unknown_open_time_is_timed_from_the_first_trade_seen():
    mon = MaxHold(MaxHoldConfig(max_hold_minutes=2))
    adopted = long(opened=0)
    assert mon.on_ticks(adopted, tape([0, MIN], [50_000, 50_000]), None) is None
    assert mon.deadline(adopted) == T0 + 2 * MIN
    d = mon.on_ticks(adopted, tape([2 * MIN], [50_000]), None)
    assert d is not None and d.ts_ns == T0 + 2 * MIN
    mon.forget(KEY)
    assert mon.deadline(adopted) is None


def test_max_hold_must_be_positive():
    from tradewind._serde import structure

    with pytest.raises(ConfigError, match="max_hold_minutes must be positive"):
        structure({"max_hold_minutes": 0}, MaxHoldConfig)


class TestConformance(ExitConformance):
    plugin_class = MaxHold


def test_the_scan_answers_the_close_after_the_first_trade_past_the_deadline():
    from tradewind.testing.exit_scan import hold_window

    mon = MaxHold(MaxHoldConfig(max_hold_minutes=30))
    pos = Position(
        instrument=KEY, quantity=Decimal("0.1"), avg_price=Decimal("50000"), opened_ts_ns=T0
    )
    secs = [60 * m + 1 for m in range(40)]  # a trade a minute, 1 s after each minute
    ticks = TickBatch.from_arrays(
        KEY, [T0 + s * S for s in secs], [50_000.0] * 40, [1] * 40, [1] * 40
    )
    window = hold_window(ticks)
    # The 31st trade (T0 + 30 min + 1 s) is the first at or past the deadline; it comes
    # before the 31st close.
    assert mon.scan(pos, window, None) == 30
    assert mon.scan(pos, hold_window(ticks.slice(0, 30)), None) is None


def test_fold_times_an_unknown_open_as_on_ticks_does():
    """``fold`` over trades before the deadline: a position of unknown open time is timed from
    the first trade seen, as ``on_ticks`` times it (later pieces do not move it); a known open
    time records nothing. The deadlines and the exits after are the same."""
    for opened in (0, T0):
        by_ticks, by_fold = MaxHold(MaxHoldConfig()), MaxHold(MaxHoldConfig())
        pos = long(opened=opened)
        for k in range(3):
            piece = tape([(k * 5 + j) * MIN for j in range(5)], [50_000.0] * 5)
            assert by_ticks.on_ticks(pos, piece, None) is None
            by_fold.fold(pos, piece, None)
            assert by_fold._first_seen == by_ticks._first_seen
            assert by_fold.deadline(pos) == by_ticks.deadline(pos) is not None
        late = tape([40 * MIN], [50_000.0])
        assert by_fold.on_ticks(pos, late, None) == by_ticks.on_ticks(pos, late, None) is not None
