"""The trailing stop on scripted price paths, with exact expected exits."""

from decimal import Decimal

import attrs
import numpy as np
import pytest
from tradewind.model import Position, TickBatch
from tradewind.testing import assert_plugin_installed, default_instrument
from tradewind.testing.conformance import ExitConformance
from tradewind_exit_trailing.plugin import TrailingConfig, TrailingStop

pytest_plugins = "tradewind.testing"

KEY = default_instrument().key


def batch(prices, start=1):
    n = len(prices)
    return TickBatch.from_arrays(KEY, np.arange(start, start + n), prices, [0.1] * n, [1] * n)


def long(entry="50000"):
    return Position(instrument=KEY, quantity=Decimal("0.1"), avg_price=Decimal(entry))


def short(entry="50000"):
    return Position(instrument=KEY, quantity=Decimal("-0.1"), avg_price=Decimal(entry))


def test_plugin_is_installed():
    assert_plugin_installed("exits", "trailing", TrailingStop)


def test_seed_example_long_entry_50000_high_51000_exits_at_50745():
    ts = TrailingStop(TrailingConfig(trail_pct=0.005))
    path = [50_000, 50_400, 51_000, 50_900, 50_800, 50_746, 50_745, 50_700]
    d = ts.on_ticks(long(), batch(path), None)
    assert d is not None
    assert d.price == 50_745
    assert d.ts_ns == 7  # the seventh trade, the first at or below 51,000 × 0.995


def test_stop_never_moves_back_across_batches():
    ts = TrailingStop(TrailingConfig(trail_pct=0.005))
    assert ts.on_ticks(long(), batch([50_000, 51_000], 1), None) is None
    assert ts.stop_price(KEY, long().side) == 51_000 * 0.995
    # A lower high in the next batch leaves the stop where it was.
    assert ts.on_ticks(long(), batch([50_900, 50_800], 3), None) is None
    assert ts.stop_price(KEY, long().side) == 51_000 * 0.995
    d = ts.on_ticks(long(), batch([50_760, 50_740], 5), None)
    assert d is not None and d.price == 50_740 and d.ts_ns == 6


def test_short_mirrors():
    ts = TrailingStop(TrailingConfig(trail_pct=0.005))
    d = ts.on_ticks(short(), batch([50_000, 49_000, 49_200, 49_245, 49_246]), None)
    assert d is not None and d.price == 49_245  # 49,000 × 1.005


def test_no_exit_while_price_keeps_rising():
    ts = TrailingStop(TrailingConfig())
    assert ts.on_ticks(long(), batch(list(range(50_000, 50_500, 10))), None) is None


def test_forget_resets_the_best_price():
    ts = TrailingStop(TrailingConfig())
    ts.on_ticks(long(), batch([50_000, 51_000]), None)
    ts.forget(KEY)
    assert ts.stop_price(KEY, long().side) is None


def test_a_new_position_does_not_inherit_the_previous_best_price():
    # The engine calls forget() when it sends the close; a batch before the close fills
    # re-seeds the state, and the next long in the instrument must start from its own entry.
    ts = TrailingStop(TrailingConfig())
    first = Position(
        instrument=KEY, quantity=Decimal("0.1"), avg_price=Decimal(50_000), opened_ts_ns=1
    )
    assert ts.on_ticks(first, batch([50_000, 51_000, 50_700], 1), None) is not None
    ts.forget(KEY)
    ts.on_ticks(first, batch([50_690], 10), None)
    second = Position(
        instrument=KEY, quantity=Decimal("0.1"), avg_price=Decimal(49_000), opened_ts_ns=100
    )
    assert ts.on_ticks(second, batch([49_000, 49_050], 100), None) is None
    assert ts.stop_price(KEY, second.side) == 49_050 * 0.995


class TestConformance(ExitConformance):
    plugin_class = TrailingStop


def test_the_scan_answers_the_close_after_the_seed_examples_exit_trade():
    """The seed's path with a close after every second trade: the exit trade (the 7th) is
    before the 4th close; the scan leaves the stop where it was."""
    from tradewind.testing.exit_scan import hold_window

    ts = TrailingStop(TrailingConfig(trail_pct=0.005))
    path = [50_000, 50_400, 51_000, 50_900, 50_800, 50_746, 50_745, 50_700]
    window = hold_window(batch(path), timeframe_ns=2)  # closes at 2, 4, 6, 8, 10
    assert list(window.row_ticks) == [1, 3, 5, 7, 8]
    assert ts.scan(long(), window, None) == 3
    assert ts.stop_price(KEY, long().side) is None  # nothing tracked: the scan changed nothing
    assert ts.on_ticks(long(), batch([50_000, 51_000], 1), None) is None
    # Seeded with the best so far (51,000): the stop is hit at the third trade, before the
    # second close.
    later = hold_window(batch([50_900, 50_746, 50_745], 3), timeframe_ns=2)
    assert ts.scan(long(), later, None) == 1


def _pieces(few, monkeypatch, seed):
    """Every decision and the best price after each piece of a random walk fed in pieces of
    1 to 80 trades, long and short positions opening and closing, with the Python loop for
    pieces of up to ``few`` trades (0: numpy's arrays always; None: the compiled kernel)."""
    import random

    from tradewind_exit_trailing import plugin

    if few is not None:
        monkeypatch.setattr(plugin, "_kernel", None)
        monkeypatch.setattr(plugin, "FEW", few)
    else:
        monkeypatch.undo()
    rnd = random.Random(seed)
    ts = TrailingStop(TrailingConfig(trail_pct=rnd.choice((0.001, 0.005, 0.02))))
    price, t, out = 50_000.0, 1, []
    pos = None
    for _ in range(60):
        if pos is None or rnd.random() < 0.1:
            qty = rnd.choice(("0.1", "-0.1"))
            pos = Position(
                instrument=KEY,
                quantity=Decimal(qty),
                avg_price=Decimal(repr(price)),
                opened_ts_ns=t,
            )
        n = rnd.randint(1, 80)
        path = []
        for _ in range(n):
            price = round(price * (1 + rnd.gauss(0, 0.002)), 1)
            path.append(price)
        d = ts.on_ticks(pos, batch(path, t), None)
        out.append((d, ts.stop_price(KEY, pos.side)))
        t += n
        if d is not None:
            ts.forget(KEY)
            pos = None
    return out


def test_the_few_trades_loop_gives_numpys_decisions_and_best_prices(monkeypatch):
    fired = 0
    for seed in range(100):
        looped = _pieces(64, monkeypatch, seed)
        assert looped == _pieces(0, monkeypatch, seed), seed
        fired += sum(d is not None for d, _ in looped)
    assert fired > 100  # the stop fired often, on long and short positions


def test_the_compiled_loop_gives_numpys_decisions_and_best_prices(monkeypatch):
    """The kernel (``_kernel.c``) over the same pieces: numpy's decisions and best prices."""
    from tradewind_exit_trailing import plugin

    assert plugin._kernel is not None
    fired = 0
    for seed in range(100):
        compiled = _pieces(None, monkeypatch, seed)
        assert compiled == _pieces(0, monkeypatch, seed), seed
        fired += sum(d is not None for d, _ in compiled)
    assert fired > 100


def test_a_nan_price_among_a_few_takes_numpys_path():
    # numpy's maximum propagates NaN: the running best becomes NaN and nothing fires again.
    ts = TrailingStop(TrailingConfig(trail_pct=0.005))
    assert ts.on_ticks(long(), batch([50_000, float("nan"), 40_000]), None) is None
    assert np.isnan(ts.stop_price(KEY, long().side))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_fold_keeps_the_best_price_on_ticks_keeps(seed, compiled, monkeypatch):
    """``fold`` over pieces where ``on_ticks`` does not exit (a few trades and more than FEW,
    long and short, a NaN price now and then, a new position on the way): the same best
    price, by its bits, as ``on_ticks`` (with the compiled kernel, and with the Python and
    numpy paths)."""
    from tradewind_exit_trailing import plugin
    from tradewind_exit_trailing.plugin import FEW

    if not compiled:
        monkeypatch.setattr(plugin, "_kernel", None)

    rng = np.random.default_rng(seed)
    compared = big = 0
    for pos in (long(), short()):
        by_ticks = TrailingStop(TrailingConfig(trail_pct=0.01))
        by_fold = TrailingStop(TrailingConfig(trail_pct=0.01))
        price, start = 50_000.0, 1
        for k in range(40):
            if k == 20:  # a new position in the instrument: its best starts afresh
                pos = attrs.evolve(pos, opened_ts_ns=start)
            n = int(rng.choice((1, 5, FEW, FEW + 1, 300, 1_500)))
            steps = rng.normal(0.3 if pos.quantity > 0 else -0.3, 5.0, size=n)
            prices = price + np.cumsum(steps)
            if rng.random() < 0.05:
                prices[int(rng.integers(0, n))] = np.nan
            piece = batch(prices, start=start)
            start += n
            if by_ticks.on_ticks(pos, piece, None) is not None:
                break
            by_fold.fold(pos, piece, None)
            got, want = by_fold._best.get(KEY), by_ticks._best.get(KEY)
            assert np.float64(got).tobytes() == np.float64(want).tobytes(), (k, got, want)
            assert by_fold._opened == by_ticks._opened
            price = float(np.nan_to_num(prices[-1], nan=price))
            compared += 1
            big += n > FEW
    assert compared >= 10 and big >= 2


@pytest.mark.parametrize("seed", range(10))
def test_the_compiled_scan_and_fold_give_numpys_close_and_best_price(seed, monkeypatch):
    """Over hold windows of a random walk (NaN prices now and then, long and short, a best
    price carried from earlier trades): the kernel's scan answers numpy's close, and fold
    leaves numpy's best price, by its bits."""
    from tradewind.testing.exit_scan import hold_window
    from tradewind_exit_trailing import plugin

    kernel = plugin._kernel
    rng = np.random.default_rng(300 + seed)
    answered = 0
    for pos in (long(), short()):
        compiled = TrailingStop(TrailingConfig(trail_pct=float(rng.choice([0.001, 0.005]))))
        python = TrailingStop(TrailingConfig(trail_pct=compiled.pct))
        price, start = 50_000.0, 1
        for _ in range(30):
            n = int(rng.choice((1, 5, 64, 65, 300, 1_500)))
            steps = rng.normal(0.0, 30.0, size=n)
            prices = price + np.cumsum(steps)
            if rng.random() < 0.05:
                prices[int(rng.integers(0, n))] = np.nan
            ahead = batch(prices, start=start)
            window = hold_window(ahead, timeframe_ns=int(rng.choice([3, 50])))
            got = compiled.scan(pos, window, None)
            monkeypatch.setattr(plugin, "_kernel", None)
            monkeypatch.setattr(plugin, "FEW", 0)
            want = python.scan(pos, window, None)
            monkeypatch.setattr(plugin, "_kernel", kernel)
            assert got == want, seed
            answered += got is not None
            # Walk the trades before the answer (or all), both folding them.
            w = len(ahead) if got is None else int(window.row_ticks[got - 1]) if got else 0
            if w:
                compiled.fold(pos, ahead.slice(0, w), None)
                monkeypatch.setattr(plugin, "_kernel", None)
                python.fold(pos, ahead.slice(0, w), None)
                monkeypatch.setattr(plugin, "_kernel", kernel)
                a, b = compiled._best.get(KEY), python._best.get(KEY)
                assert np.float64(a).tobytes() == np.float64(b).tobytes(), seed
            if got is not None:  # it would exit there: a new position from the next trades
                pos = attrs.evolve(pos, opened_ts_ns=start + n)
            start += n
            price = float(np.nan_to_num(prices[-1], nan=price))
    assert answered >= 5
