"""Consecutive adverse moves on the seed's tables (section 2.6.2), with exact exits."""

from decimal import Decimal

import attrs
import numpy as np
import pytest
from tradewind.errors import ConfigError
from tradewind.model import Position, TickBatch
from tradewind.testing import assert_plugin_installed, default_instrument
from tradewind.testing.conformance import ExitConformance
from tradewind_exit_adverse import sampling
from tradewind_exit_adverse.config import AdverseConfig
from tradewind_exit_adverse.plugin import AdverseMoves

pytest_plugins = "tradewind.testing"

KEY = default_instrument().key
S = 1_000_000_000
T0 = 1_600_000_000 * S  # the position opens here: "+0s"


def tape(rows, side=1):
    """Trades from ``(seconds after the open, price)`` rows."""
    secs, prices = zip(*rows, strict=True)
    ts = [T0 + round(s * S) for s in secs]
    n = len(ts)
    return TickBatch.from_arrays(KEY, ts, prices, [0.01] * n, [side] * n)


def position(qty="0.1", entry="50000", opened=T0):
    return Position(
        instrument=KEY, quantity=Decimal(qty), avg_price=Decimal(entry), opened_ts_ns=opened
    )


def seed_monitor():
    return AdverseMoves(AdverseConfig())


# The seed's "Visual Example (LONG Position)": time, price, consecutive, threshold, action.
SEED_TABLE = [
    (2, 50_020, 0, 5, "HOLD"),
    (4, 50_080, 0, 5, "HOLD"),
    (6, 50_150, 0, 3, "HOLD"),  # +0.30 %: threshold now 3
    (8, 50_180, 0, 3, "HOLD"),
    (10, 50_200, 0, 3, "HOLD"),
    (12, 50_195, 1, 3, "HOLD"),  # 1 drop, need 3
    (14, 50_190, 2, 3, "HOLD"),  # 2 drops, need 3
    (16, 50_185, 3, 3, "EXIT"),
]


def test_plugin_is_installed():
    assert_plugin_installed("exits", "adverse", AdverseMoves)


def test_defaults_are_the_seeds_numbers():
    cfg = AdverseConfig()
    assert cfg.profit_tiers == (0.003, 0.01, 0.02) and cfg.moves == (5, 3, 2, 1)
    assert (cfg.interval_seconds, cfg.window_seconds, cfg.max_moves) == (2.0, 15.0, 7)


def test_seed_table_row_by_row():
    mon, pos = seed_monitor(), position()
    for secs, price, consecutive, threshold, action in SEED_TABLE:
        d = mon.on_ticks(pos, tape([(secs, price)]), None)
        assert mon.threshold(pos, price) == threshold, secs
        assert mon.run(KEY) == consecutive, secs
        assert ("EXIT" if d else "HOLD") == action, secs
    assert d is not None
    assert (d.ts_ns, d.price) == (T0 + 16 * S, 50_185)
    assert d.reason == "3 consecutive price drops (threshold=3 at profit +0.37%)"


def test_seed_table_in_one_batch_exits_at_50185_at_16s():
    d = seed_monitor().on_ticks(position(), tape([(s, p) for s, p, *_ in SEED_TABLE]), None)
    assert d is not None and d.monitor == "adverse"
    assert (d.ts_ns, d.price) == (T0 + 16 * S, 50_185)


def test_only_the_first_trade_of_each_2s_interval_is_a_sample():
    # Tick-by-tick the +12..+13 s prints are five drops in a row; sampled, they are one move.
    rows = [(s, p) for s, p, *_ in SEED_TABLE[:5]]
    rows += [(12, 50_195), (12.2, 50_150), (12.4, 50_120), (12.6, 50_100), (13.9, 50_300)]
    rows += [(14, 50_190), (14.5, 50_400), (16, 50_185), (16.1, 50_000)]
    d = seed_monitor().on_ticks(position(), tape(rows), None)
    assert d is not None and (d.ts_ns, d.price) == (T0 + 16 * S, 50_185)


def test_the_exit_does_not_depend_on_how_the_tape_is_batched():
    rows = [(s, p) for s, p, *_ in SEED_TABLE[:5]]
    rows += [(11.5, 50_210), (12.0, 50_195), (12.7, 50_199), (14.3, 50_190), (15.9, 50_500)]
    rows += [(16.2, 50_185), (16.3, 50_100), (18.0, 50_000)]
    full = tape(rows)
    for cut in range(1, len(full)):
        mon, pos = seed_monitor(), position()
        d = mon.on_ticks(pos, full.slice(0, cut), None) or mon.on_ticks(
            pos, full.slice(cut, len(full)), None
        )
        assert d is not None and (d.ts_ns, d.price) == (T0 + round(16.2 * S), 50_185), cut


def test_seed_second_example_two_drops_at_plus_1_57_percent_exit_at_50785():
    # "Price at $50,500, profit +1.0%" ... "+8s: $50,795 (drop #1)", "+10s: $50,785 (drop #2)".
    rows = [(2, 50_500), (4, 50_510), (6, 50_520), (8, 50_800), (10, 50_795), (12, 50_785)]
    mon = seed_monitor()
    d = mon.on_ticks(position(), tape(rows), None)
    assert d is not None and (d.ts_ns, d.price) == (T0 + 12 * S, 50_785)
    assert d.reason == "2 consecutive price drops (threshold=2 at profit +1.57%)"


def test_sell_ticks_at_rising_prices_are_not_adverse():
    # The seed's "wrong approach": three SELL prints while the price rises must not exit.
    rows = [(2, 50_300), (4, 50_305), (6, 50_310), (8, 50_315), (10, 50_320), (12, 50_325)]
    assert seed_monitor().on_ticks(position(), tape(rows, side=-1), None) is None


def test_an_unchanged_price_breaks_the_run():
    rows = [(2, 50_200), (4, 50_195), (6, 50_190), (8, 50_190), (10, 50_185), (12, 50_180)]
    mon = seed_monitor()
    assert mon.on_ticks(position(), tape(rows), None) is None
    assert mon.run(KEY) == 2
    d = mon.on_ticks(position(), tape([(14, 50_175)]), None)
    assert d is not None and d.price == 50_175


def test_a_silent_interval_breaks_the_run_like_an_unchanged_price():
    # No trade in [+14 s, +16 s): the live check at +14 s would read an unchanged price.
    rows = [(s, p) for s, p, *_ in SEED_TABLE[:6]] + [(16, 50_185), (18, 50_180)]
    mon = seed_monitor()
    assert mon.on_ticks(position(), tape(rows), None) is None
    assert mon.run(KEY) == 2
    d = mon.on_ticks(position(), tape([(20, 50_175)]), None)
    assert d is not None and (d.ts_ns, d.price) == (T0 + 20 * S, 50_175)


def test_below_0_3_percent_it_takes_five_drops():
    rows = [(2 * k, 50_000 - 10 * k) for k in range(1, 7)]
    d = seed_monitor().on_ticks(position(), tape(rows), None)
    assert d is not None and (d.ts_ns, d.price) == (T0 + 10 * S, 49_950)
    assert d.reason == "5 consecutive price drops (threshold=5 at profit -0.10%)"


def test_above_2_percent_one_drop_is_enough():
    d = seed_monitor().on_ticks(position(), tape([(2, 51_100), (4, 51_050)]), None)
    assert d is not None and d.price == 51_050
    assert d.reason == "1 consecutive price drops (threshold=1 at profit +2.10%)"


def test_short_mirrors_the_seed_table():
    rows = [(2, 49_980), (4, 49_920), (6, 49_850), (8, 49_820), (10, 49_800)]
    rows += [(12, 49_805), (14, 49_810), (16, 49_815)]
    mon = seed_monitor()
    short = position(qty="-0.1")
    d = mon.on_ticks(short, tape(rows), None)
    assert d is not None and (d.ts_ns, d.price) == (T0 + 16 * S, 49_815)
    assert d.reason == "3 consecutive price rises (threshold=3 at profit +0.37%)"


@pytest.mark.parametrize(
    ("qty", "price", "moves"),
    [
        ("0.1", 50_149.99, 5),
        ("0.1", 50_150, 3),
        ("0.1", 50_499.99, 3),
        ("0.1", 50_500, 2),
        ("0.1", 50_999.99, 2),
        ("0.1", 51_000, 1),
        ("0.1", 40_000, 5),
        ("-0.1", 49_850.01, 5),
        ("-0.1", 49_850, 3),
        ("-0.1", 49_500, 2),
        ("-0.1", 49_000, 1),
    ],
)
def test_tier_boundaries_are_exact(qty, price, moves):
    assert seed_monitor().threshold(position(qty=qty), price) == moves


def test_a_new_position_starts_a_new_grid():
    mon = seed_monitor()
    mon.on_ticks(position(), tape([(2, 50_100), (4, 50_090), (6, 50_080)]), None)
    assert mon.run(KEY) == 2
    later = position(opened=T0 + 60 * S)  # re-entered without forget()
    assert mon.on_ticks(later, tape([(61, 50_000), (62, 49_990)]), None) is None
    assert mon.run(KEY) == 1


def test_thresholds_beyond_the_window_are_refused():
    from tradewind._serde import structure

    with pytest.raises(ConfigError, match=r"moves \[5\] can never be reached: a 8 s window"):
        structure({"window_seconds": 8}, AdverseConfig)
    with pytest.raises(ConfigError, match=r"3 tiers .* need 4 moves"):
        structure({"moves": [5, 3, 2]}, AdverseConfig)
    with pytest.raises(ConfigError, match="strictly increasing"):
        structure({"profit_tiers": [0.01, 0.003, 0.02]}, AdverseConfig)


# -- the vectorised scan against a literal reading of the definition ----------------------


def reference_exit(ts, prices, entry, opened, long, cfg):
    """Loop over trades: first trade of each interval is a sample, silent intervals repeat
    the last sample, the run counts back over adverse moves within the window."""
    entry_d, step, most = Decimal(entry), cfg.interval_ns, cfg.max_moves
    samples = [(0, float(entry))]
    for i, (t, p) in enumerate(zip(ts, prices, strict=True)):
        k = (int(t) - opened) // step
        if k <= samples[-1][0]:
            continue
        samples += [(b, samples[-1][1]) for b in range(samples[-1][0] + 1, k)]
        samples.append((k, float(p)))
        run, j = 0, len(samples) - 1
        while run < most and j > 0:
            change = samples[j][1] - samples[j - 1][1]
            if not (change < 0 if long else change > 0):
                break
            run, j = run + 1, j - 1
        diff = Decimal(float(p)) - entry_d
        profit = (diff if long else -diff) / entry_d
        tier = sum(1 for t in cfg.profit_tiers if profit >= Decimal(repr(t)))
        if run >= cfg.moves[tier]:
            return i
    return None


@pytest.mark.parametrize("seed", range(40))
def test_vectorised_scan_matches_the_reference_under_any_batching(seed):
    rng = np.random.default_rng(seed)
    n = 400
    gaps = rng.choice([0, 1, 300, 900, 1500, 2500, 6000], size=n) * 1_000_000  # ms steps
    ts = T0 + np.cumsum(gaps)
    steps = rng.choice([-2, -1, 0, 1, 2], size=n, p=[0.3, 0.2, 0.1, 0.2, 0.2])
    prices = 50_000 + 5.0 * np.cumsum(steps)
    long = bool(seed % 2)
    qty = "0.1" if long else "-0.1"
    cfg = AdverseConfig()
    want = reference_exit(ts, prices, "50000", T0, long, cfg)
    full = TickBatch.from_arrays(KEY, ts, prices, np.ones(n), np.ones(n))
    cuts = np.sort(rng.choice(np.arange(1, n), size=12, replace=False))
    mon, pos = AdverseMoves(cfg), position(qty=qty)
    got = None
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True):
        got = mon.on_ticks(pos, full.slice(int(a), int(b)), None)
        if got is not None:
            break
    if want is None:
        assert got is None
    else:
        assert got is not None and (got.ts_ns, got.price) == (int(ts[want]), prices[want])


class TestConformance(ExitConformance):
    plugin_class = AdverseMoves


@pytest.mark.parametrize("group", range(6))
def test_the_few_trades_path_gives_the_numpy_scans_decisions_and_state(group, monkeypatch):
    """Pieces of at most FEW trades go through plain Python (_on_few): every piece's decision
    (reason, time, price) and the sampling state after it are the numpy scan's, long and
    short, on tapes with silent intervals, unchanged prices, trades before the open and prices
    on the tiers' exact boundaries, cut in pieces of 1 to 300 trades (10 tapes per group)."""
    from tradewind_exit_adverse import plugin

    decided = 0
    for seed in range(10 * group, 10 * group + 10):
        decided += _few_against_numpy(seed, monkeypatch, plugin)
    assert decided >= 3


def _few_against_numpy(seed, monkeypatch, plugin):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(plugin, "_kernel", None)  # the Python paths (test_kernel.py: the kernel)
    rng = np.random.default_rng(1000 + seed)
    n = 600
    gaps = rng.choice([0, 1, 300, 900, 1500, 2500, 6000], size=n) * 1_000_000
    opened = T0 + 3 * S
    ts = T0 + np.cumsum(gaps)  # the first trades come before the position's open
    long = bool(seed % 2)
    step = float(rng.choice([5.0, 25.0, 150.0]))  # 150 = 0.3 % of 50,000: exact tier bounds
    steps = rng.choice([-2, -1, 0, 1, 2], size=n, p=[0.25, 0.25, 0.1, 0.2, 0.2])
    prices = 50_000 + step * np.cumsum(steps if long else -steps)
    full = TickBatch.from_arrays(KEY, ts, prices, np.ones(n), np.ones(n))
    cfg = AdverseConfig(window_seconds=float(rng.choice([11.0, 15.0])))  # 5 or 7 moves
    pos = position(qty="0.1" if long else "-0.1", opened=opened)
    few, vec = AdverseMoves(cfg), AdverseMoves(cfg)
    a, decided = 0, 0
    while a < n:
        b = min(n, a + int(rng.choice([1, 3, 40, 120, 256, 300])))
        piece = full.slice(a, b)
        monkeypatch.setattr(plugin, "FEW", 10**9)
        got = few.on_ticks(pos, piece, None)
        monkeypatch.setattr(plugin, "FEW", -1)
        want = vec.on_ticks(pos, piece, None)
        assert got == want, (seed, a, b)
        assert few._state[KEY][1] == vec._state[KEY][1], (seed, a, b)
        if want is not None:
            decided += 1
            # Stepping cuts the tape at the decision: the next piece starts after it.
            b = int(np.searchsorted(ts, want.ts_ns, side="right"))
        a = b
    return decided


@pytest.mark.parametrize(
    "moves",
    [(5, 3, 2, 1), (7, 7, 6, 5), (2, 6, 1, 4), (3, 3, 3, 3), (1, 1, 1, 1)],
)
def test_the_few_trades_paths_least_moves_gate_gives_the_numpy_scans_decisions(moves, monkeypatch):
    """_on_few takes the trades' buckets from numpy (or, for a negative anchor, Python ints),
    checks a sample's tier only when its run reaches the fewest moves any tier asks
    (``ProfitTiers.least``) and writes the sampling state once: the same decisions and state
    after every piece as the numpy scan, with tiers whose moves are not monotonic, all equal
    or all high, on tapes that cross every tier (both sides), hold NaN prices or lie before
    1970, cut in pieces of 1 to 256 trades."""
    from tradewind_exit_adverse import plugin

    monkeypatch.setattr(plugin, "_kernel", None)  # the Python paths (test_kernel.py: the kernel)
    decided = 0
    for seed in range(12):
        rng = np.random.default_rng(7000 + seed)
        n = 500
        gaps = rng.choice([0, 1, 900, 1500, 2500, 6000], size=n) * 1_000_000
        # Some tapes before 1970 (a negative anchor: the buckets divided as Python ints).
        origin = T0 if seed % 4 != 3 else -T0
        ts = origin - 2 * S + np.cumsum(gaps)
        long = bool(seed % 2)
        odds = [0.3, 0.2, 0.05, 0.2, 0.25] if seed % 4 else [0.5, 0.3, 0.0, 0.1, 0.1]
        steps = rng.choice([-3, -1, 0, 1, 3], size=n, p=odds)
        prices = 50_000 + 150.0 * np.cumsum(steps if long else -steps)  # exact tier bounds
        if seed % 3 == 0:
            prices[rng.choice(n, size=5, replace=False)] = np.nan
        full = TickBatch.from_arrays(KEY, ts, prices, np.ones(n), np.ones(n))
        cfg = AdverseConfig(moves=moves, window_seconds=15.0)
        pos = position(qty="0.1" if long else "-0.1", opened=origin)
        few, vec = AdverseMoves(cfg), AdverseMoves(cfg)
        assert few.tiers.least == min(moves)
        a = 0
        while a < n:
            b = min(n, a + int(rng.choice([1, 2, 7, 40, 120, 256])))
            piece = full.slice(a, b)
            monkeypatch.setattr(plugin, "FEW", 10**9)
            got = few.on_ticks(pos, piece, None)
            monkeypatch.setattr(plugin, "FEW", -1)
            want = vec.on_ticks(pos, piece, None)
            assert _same(got, want), (moves, seed, a, b)
            assert _same(few._state[KEY][1], vec._state[KEY][1]), (moves, seed, a, b)
            if want is not None:
                decided += 1
                b = int(np.searchsorted(ts, want.ts_ns, side="right"))
            a = b
    assert decided >= 3


def _same(x, y):  # type: ignore[no-untyped-def]
    """``x == y`` for attrs objects (or None) with a NaN field equal to a NaN field."""
    if x is None or y is None:
        return x is y
    a, b = attrs.astuple(x), attrs.astuple(y)
    return len(a) == len(b) and all(
        u == v or (isinstance(u, float) and u != u and isinstance(v, float) and v != v)
        for u, v in zip(a, b, strict=True)
    )


def _scan_reference(ts_ns, price, state, interval_ns, direction):  # type: ignore[no-untyped-def]
    """``sampling.scan`` as first written: the oracle the lean scan is checked against."""
    start = int(np.searchsorted(ts_ns, state.anchor_ns, side="left"))
    buckets = (ts_ns[start:] - state.anchor_ns) // interval_ns
    if len(buckets) == 0 or buckets[-1] <= state.bucket:
        return sampling._none()
    previous = np.empty_like(buckets)
    previous[0] = state.bucket
    previous[1:] = buckets[:-1]
    first_of_bucket = np.flatnonzero(buckets > previous)
    s_bucket = buckets[first_of_bucket]
    s_price = price[start:][first_of_bucket]
    m = len(s_bucket)
    prev_price = np.empty(m, dtype=np.float64)
    prev_price[0] = state.price
    prev_price[1:] = s_price[:-1]
    prev_bucket = np.empty(m, dtype=np.int64)
    prev_bucket[0] = state.bucket
    prev_bucket[1:] = s_bucket[:-1]
    change = s_price - prev_price
    adverse = change < 0 if direction > 0 else change > 0
    silent_before = s_bucket - prev_bucket > 1
    k = np.arange(m, dtype=np.int64)
    # run[k] = k - (position of the last reset at or before k). A non-adverse move resets at k
    # (run 0); an adverse move after a silent bucket resets just before k (run 1); with no reset
    # yet the run continues the carried one: a virtual reset at -1 - carry.
    reset = np.where(~adverse, k, np.where(silent_before, k - 1, -1 - state.run))
    run = k - np.maximum.accumulate(reset)
    return sampling.Samples(row=start + first_of_bucket, bucket=s_bucket, price=s_price, run=run)


@pytest.mark.parametrize("seed", range(30))
def test_the_lean_sampling_scan_gives_the_first_scans_samples(seed):
    """sampling.scan (fewer numpy calls) against the scan as first written: every sample's
    row, bucket, price and run the same values and dtypes, long and short, from states with
    a carried run, on tapes with trades before the anchor, silent buckets, repeated times,
    unchanged prices and NaN prices."""
    from tradewind_exit_adverse.sampling import SampleState, scan

    rng = np.random.default_rng(7000 + seed)
    for _ in range(40):
        n = int(rng.choice([1, 2, 5, 40, 300, 1500]))
        gaps = rng.choice([0, 1, 300, 900, 1500, 2500, 6000], size=n) * 1_000_000
        ts = (T0 + np.cumsum(gaps)).astype(np.int64)
        steps = rng.choice([-2, -1, 0, 1, 2], size=n)
        prices = 50_000 + 5.0 * np.cumsum(steps)
        if rng.random() < 0.2:
            prices[rng.integers(0, n)] = np.nan
        anchor = int(ts[int(rng.integers(0, n))]) - int(rng.choice([0, 1, 2 * S]))
        state = SampleState(
            anchor_ns=anchor,
            bucket=int(rng.choice([0, 0, 1, 3])),
            price=float(rng.choice([50_000.0, prices[0], np.nan])),
            run=int(rng.choice([0, 1, 4, 9])),
        )
        for direction in (1, -1):
            got = scan(ts, prices, state, 2 * S, direction)
            want = _scan_reference(ts, prices, state, 2 * S, direction)
            for field in ("row", "bucket", "price", "run"):
                a, b = getattr(got, field), getattr(want, field)
                assert a.dtype == b.dtype, field
                assert a.tobytes() == b.tobytes(), (seed, field)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_fold_leaves_the_sampling_state_on_ticks_leaves(seed, compiled, monkeypatch):
    """``fold`` over pieces where ``on_ticks`` does not exit (a few trades and more than FEW,
    long and short, with silent intervals and unchanged prices): the same sampling state (the
    last sample's bucket, price by its bits, run and the grid's anchor) as ``on_ticks``, with
    the compiled loop and with the Python paths."""
    from tradewind_exit_adverse import plugin
    from tradewind_exit_adverse.plugin import FEW

    if not compiled:
        monkeypatch.setattr(plugin, "_kernel", None)

    rng = np.random.default_rng(seed)
    compared = big = 0
    for long_ in (True, False):
        by_ticks, by_fold = seed_monitor(), seed_monitor()
        pos = position(qty="0.1" if long_ else "-0.1")
        t = T0
        price = 50_000.0
        for _ in range(40):
            n = int(rng.choice((1, 7, 60, FEW, FEW + 1, 700, 2_000)))
            gaps = rng.choice((0, 1, 2, 3, 5), size=n) * rng.integers(0, S, size=n)
            ts = t + np.cumsum(gaps)
            # Mostly in the position's favour (few exits), some unchanged prices.
            moves = rng.choice((-0.01, 0.0, 0.01, 0.02), size=n, p=(0.2, 0.15, 0.35, 0.3))
            prices = price + np.cumsum(moves if long_ else -moves)
            piece = TickBatch.from_arrays(KEY, ts, prices, [0.01] * n, [1] * n)
            if by_ticks.on_ticks(pos, piece, None) is not None:
                # It exits here (no walk would pass it): a new position from the next trade.
                pos = position(qty=str(pos.quantity), entry=repr(price), opened=int(ts[-1]) + 1)
                t = int(ts[-1]) + 1
                continue
            t, price = int(ts[-1]) + 1, float(prices[-1])
            by_fold.fold(pos, piece, None)
            a, b = by_ticks._state[KEY], by_fold._state[KEY]
            assert a[0] == b[0]
            got, want = b[1], a[1]
            assert (got.anchor_ns, got.bucket, got.run) == (want.anchor_ns, want.bucket, want.run)
            assert np.float64(got.price).tobytes() == np.float64(want.price).tobytes()
            compared += 1
            big += n > FEW
    assert compared >= 10 and big >= 3


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seed", range(8))
def test_fold_after_a_scan_takes_its_samples_and_leaves_on_ticks_state(seed, compiled, monkeypatch):
    """A walk as the scheduler makes it: ``scan`` over the trades ahead, then ``fold`` over
    the first of them (up to a close before the scan's answer), or over trades the scan did
    not start at (a stale scan: its samples are not used). The sampling state is
    ``on_ticks``'s over the same trades, field by field and the price by its bits (with the
    compiled loop, which keeps no samples, and with the Python paths)."""
    from tradewind.testing.exit_scan import hold_window
    from tradewind_exit_adverse import plugin

    if not compiled:
        monkeypatch.setattr(plugin, "_kernel", None)

    rng = np.random.default_rng(100 + seed)
    compared = reused = 0
    for long_ in (True, False):
        by_ticks, by_fold = seed_monitor(), seed_monitor()
        pos = position(qty="0.1" if long_ else "-0.1")
        t, price = T0, 50_000.0
        for _ in range(30):
            n = int(rng.choice((3, 40, 300, 1_200)))
            gaps = rng.choice((0, 1, 2, 3, 5), size=n) * rng.integers(0, S, size=n)
            ts = t + np.cumsum(gaps)
            moves = rng.choice((-0.01, 0.0, 0.01, 0.02), size=n, p=(0.2, 0.15, 0.35, 0.3))
            prices = price + np.cumsum(moves if long_ else -moves)
            ahead = TickBatch.from_arrays(KEY, ts, prices, [0.01] * n, [1] * n)
            window = hold_window(ahead, timeframe_ns=10 * S)
            found = by_fold.scan(pos, window, None)
            last = len(window) - 1 if found is None else found - 1
            stale = rng.random() < 0.2
            w = int(window.row_ticks[int(rng.integers(0, last + 1))]) if last >= 0 else 0
            if w == 0 or stale:
                # Trades the scan did not start at: one past its first (or none walked).
                w = max(w, 2)
                walked = ahead.slice(1, w)
                t_next = int(ts[w - 1]) + 1
            else:
                walked = ahead.slice(0, w)
                t_next = int(ts[w - 1]) + 1
                reused += 1
            if by_ticks.on_ticks(pos, walked, None) is not None:
                pos = position(qty=str(pos.quantity), entry=repr(price), opened=t_next)
                by_fold._scanned = None
                t = t_next
                continue
            by_fold.fold(pos, walked, None)
            a, b = by_ticks._state[KEY], by_fold._state[KEY]
            got, want = b[1], a[1]
            assert a[0] == b[0]
            assert (got.anchor_ns, got.bucket, got.run) == (want.anchor_ns, want.bucket, want.run)
            assert np.float64(got.price).tobytes() == np.float64(want.price).tobytes()
            compared += 1
            t, price = t_next, float(prices[w - 1])
    assert compared >= 10 and reused >= 5
