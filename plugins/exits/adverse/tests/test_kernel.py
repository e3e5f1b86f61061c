"""The compiled loop (``_kernel.c``) against the Python paths: the same decisions, sampling
states and scan answers, piece by piece, on tapes that cross every tier."""

from decimal import Decimal

import attrs
import numpy as np
import pytest
from tradewind.model import Position, TickBatch
from tradewind.testing import default_instrument
from tradewind.testing.exit_scan import hold_window
from tradewind_exit_adverse import plugin
from tradewind_exit_adverse.config import AdverseConfig
from tradewind_exit_adverse.plugin import AdverseMoves

KEY = default_instrument().key
S = 1_000_000_000
T0 = 1_600_000_000 * S


def _same(x, y):  # type: ignore[no-untyped-def]
    """``x == y`` for attrs objects (or None), a NaN field equal to a NaN field, floats by
    their bits."""
    if x is None or y is None:
        return x is y
    a, b = attrs.astuple(x), attrs.astuple(y)
    return len(a) == len(b) and all(
        np.float64(u).tobytes() == np.float64(v).tobytes() if isinstance(u, float) else u == v
        for u, v in zip(a, b, strict=True)
    )


def _tape(seed: int, n: int = 600) -> tuple[TickBatch, bool, int, AdverseConfig]:
    """A tape starting before the position's open, with silent intervals, repeated times,
    unchanged prices, prices on the tiers' exact boundaries (steps of 150 = 0.3 % of 50,000)
    and, for some seeds, NaN prices; the side, the open time and a config with tiers whose
    moves may not be monotonic."""
    rng = np.random.default_rng(5000 + seed)
    gaps = rng.choice([0, 1, 300, 900, 1500, 2500, 6000], size=n) * 1_000_000
    ts = T0 + np.cumsum(gaps)
    long = bool(seed % 2)
    step = float(rng.choice([5.0, 25.0, 150.0]))
    odds = [0.3, 0.2, 0.05, 0.2, 0.25] if seed % 4 else [0.5, 0.3, 0.0, 0.1, 0.1]
    steps = rng.choice([-3, -1, 0, 1, 3], size=n, p=odds)
    prices = 50_000 + step * np.cumsum(steps if long else -steps)
    if seed % 3 == 0:
        prices[rng.choice(n, size=5, replace=False)] = np.nan
    moves = [(5, 3, 2, 1), (5, 5, 4, 3), (2, 5, 1, 4), (1, 1, 1, 1)][seed % 4]
    cfg = AdverseConfig(moves=moves, window_seconds=float(rng.choice([11.0, 15.0])))  # 5 or 7
    full = TickBatch.from_arrays(KEY, ts, prices, np.ones(n), np.ones(n))
    return full, long, T0 + 3 * S, cfg


def _position(long: bool, opened: int) -> Position:
    return Position(
        instrument=KEY,
        quantity=Decimal("0.1" if long else "-0.1"),
        avg_price=Decimal("50000"),
        opened_ts_ns=opened,
    )


def test_the_kernel_is_built():
    """The plugin runs the compiled loop (a build without it falls back to Python)."""
    assert plugin._kernel is not None


@pytest.mark.parametrize("group", range(6))
def test_on_ticks_gives_the_python_paths_decisions_and_state(group, monkeypatch):
    """Piece by piece (1 to 600 trades, cut at each decision as the engine cuts), the kernel's
    decision (reason, time, price) and sampling state are those of the numpy scan and of the
    few-trades loop (4 tapes per group)."""
    decided = sum(
        _on_ticks_against_python(seed, monkeypatch) for seed in range(4 * group, 4 * group + 4)
    )
    assert decided >= 2


def _on_ticks_against_python(seed, monkeypatch):  # type: ignore[no-untyped-def]
    full, long, opened, cfg = _tape(seed)
    pos = _position(long, opened)
    compiled, vec, few = AdverseMoves(cfg), AdverseMoves(cfg), AdverseMoves(cfg)
    kernel = plugin._kernel
    rng = np.random.default_rng(seed)
    a, decided, n = 0, 0, len(full)
    while a < n:
        b = min(n, a + int(rng.choice([1, 2, 7, 40, 120, 256, 600])))
        piece = full.slice(a, b)
        got = compiled.on_ticks(pos, piece, None)
        monkeypatch.setattr(plugin, "_kernel", None)
        monkeypatch.setattr(plugin, "FEW", -1)
        want = vec.on_ticks(pos, piece, None)
        monkeypatch.setattr(plugin, "FEW", 10**9)
        also = few.on_ticks(pos, piece, None)
        monkeypatch.setattr(plugin, "_kernel", kernel)
        assert _same(got, want) and _same(got, also), (seed, a, b)
        state = compiled._state[KEY][1]
        assert _same(state, vec._state[KEY][1]), (seed, a, b)
        assert _same(state, few._state[KEY][1]), (seed, a, b)
        if want is not None:
            decided += 1
            b = int(np.searchsorted(full.ts_ns, want.ts_ns, side="right"))
        a = b
    return decided


@pytest.mark.parametrize("seed", range(12))
def test_scan_answers_the_python_scans_close(seed, monkeypatch):
    """Over hold windows of the tape from several starting points and sampling states, the
    kernel's scan answers the close the numpy scan answers, and leaves the state alone."""
    full, long, opened, cfg = _tape(seed, n=1_500)
    pos = _position(long, opened)
    compiled, python = AdverseMoves(cfg), AdverseMoves(cfg)
    kernel = plugin._kernel
    rng = np.random.default_rng(seed)
    answered = 0
    for _ in range(20):
        a = int(rng.integers(0, len(full) - 10))
        b = int(rng.integers(a + 1, len(full) + 1))
        if rng.random() < 0.5:
            # A state carried from earlier trades (both monitors fed the same ones).
            head = full.slice(0, a)
            compiled.fold(pos, head, None) if len(head) else None
            monkeypatch.setattr(plugin, "_kernel", None)
            python.fold(pos, head, None) if len(head) else None
            monkeypatch.setattr(plugin, "_kernel", kernel)
        window = hold_window(full.slice(a, b), timeframe_ns=int(rng.choice([10, 60])) * S)
        before = attrs.astuple(compiled._state[KEY][1]) if KEY in compiled._state else None
        got = compiled.scan(pos, window, None)
        after = attrs.astuple(compiled._state[KEY][1]) if KEY in compiled._state else None
        assert _same_tuple(before, after)
        monkeypatch.setattr(plugin, "_kernel", None)
        want = python.scan(pos, window, None)
        monkeypatch.setattr(plugin, "_kernel", kernel)
        assert got == want, (seed, a, b)
        answered += got is not None
        compiled.forget(KEY)
        python.forget(KEY)
    assert answered >= 1


def _same_tuple(a, b):  # type: ignore[no-untyped-def]
    if a is None or b is None:
        return a is b
    return all(
        np.float64(u).tobytes() == np.float64(v).tobytes() if isinstance(u, float) else u == v
        for u, v in zip(a, b, strict=True)
    )


def test_columns_the_kernel_cannot_read_go_to_the_python_loop():
    """A batch built directly with float32 prices (not the canonical dtype): the kernel
    declines (None) and on_ticks gives the Python loop's decision, the canonical batch's."""
    rows = [(0, 50_000.0), (2, 50_020.0), (4, 50_010.0), (6, 50_000.0), (8, 49_990.0)]
    rows += [(10, 49_980.0), (12, 49_970.0), (14, 49_960.0)]
    ts = [T0 + s * S for s, _ in rows]
    prices = [p for _, p in rows]
    canonical = TickBatch.from_arrays(KEY, ts, prices, [0.01] * 8, [1] * 8)
    odd = attrs.evolve(canonical, price=np.asarray(prices, dtype=np.float32))
    bounds, moves = np.zeros(3), np.ones(4, dtype=np.int64)
    args = (0, 2, 0, 1.0, 0, True, 7, 1)
    assert plugin._kernel.first(odd.ts_ns, odd.price, *args, bounds, moves, True) is None
    assert plugin._kernel.first(odd.ts_ns, canonical.price, *args, bounds, moves, True)
    pos = _position(True, T0)
    want = AdverseMoves(AdverseConfig()).on_ticks(pos, canonical, None)
    got = AdverseMoves(AdverseConfig()).on_ticks(pos, odd, None)
    assert want is not None and want.price == 49_970.0  # the fifth drop (threshold 5)
    assert _same(got, want)


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_from_before_the_sampling_state_is_read_as_the_python_paths_read_it(
    seed, monkeypatch
):
    """Trades whose buckets start before the state's last sample (a piece the engine steps
    over trades a walk's fold went past): no sample when the batch ends in or before that
    bucket, and past it the same samples as the Python paths, decisions and states alike."""
    full, long, opened, cfg = _tape(seed, n=800)
    pos = _position(long, opened)
    kernel = plugin._kernel
    rng = np.random.default_rng(seed)
    behind = 0
    for _ in range(40):
        a = int(rng.integers(0, len(full) - 5))
        b = int(rng.integers(a + 1, min(len(full), a + 300) + 1))
        ahead = int(rng.integers(a, len(full)))  # the state is the sampling up to here
        compiled, python = AdverseMoves(cfg), AdverseMoves(cfg)
        # The state after every sample up to trade ``ahead`` (fold's numpy path: no trigger
        # check, as the kernel's fold).
        compiled.fold(pos, full.slice(0, ahead + 1), None)
        monkeypatch.setattr(plugin, "_kernel", None)
        monkeypatch.setattr(plugin, "FEW", -1)
        python.fold(pos, full.slice(0, ahead + 1), None)
        monkeypatch.setattr(plugin, "FEW", 256)
        monkeypatch.setattr(plugin, "_kernel", kernel)
        assert _same(compiled._state[KEY][1], python._state[KEY][1])
        behind += ahead >= b - 1
        piece = full.slice(a, b)
        got = compiled.on_ticks(pos, piece, None)
        monkeypatch.setattr(plugin, "_kernel", None)
        want = python.on_ticks(pos, piece, None)
        monkeypatch.setattr(plugin, "_kernel", kernel)
        assert _same(got, want), (seed, a, b, ahead)
        assert _same(compiled._state[KEY][1], python._state[KEY][1]), (seed, a, b, ahead)
    assert behind >= 5
