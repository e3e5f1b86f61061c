"""A file's load allocates its arrays without numpy's huge-page advice, and loads the same."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import numpy as np
import pytest
from tradewind.market import importers
from tradewind.market.importers import _base, ticks_parquet
from tradewind.market.store import MarketStore
from tradewind.model import Instrument
from tradewind.model.ticks import BUY, SELL, TickBatch
from tradewind.venues.replay import ReplayConfig, ReplayVenue

switch = _base._madvise_switch()
needs_switch = pytest.mark.skipif(switch is None, reason="this numpy has no huge-page switch")


def _advice() -> bool:
    """numpy's current huge-page advice (read by setting it back to what it was)."""
    assert switch is not None
    now = switch(True)
    switch(now)
    return now


def _batches(rng: np.random.Generator, symbols: list[str], n: int) -> dict[str, TickBatch]:
    out = {}
    for k, sym in enumerate(symbols):
        m = n + 17 * k
        ts = np.cumsum(rng.integers(0, 2_000_000_000, size=m)).astype(np.int64) + 1_700 * 10**15
        out[sym] = TickBatch.from_arrays(
            sym,
            ts,
            100.0 + rng.random(m),
            rng.random(m) + 0.001,
            np.where(rng.random(m) < 0.5, BUY, SELL).astype(np.int8),
            np.arange(m, dtype=np.int64) + 10_000 * k,
        )
    return out


def _same(a: _base.ImportResult, b: _base.ImportResult) -> None:
    assert list(a.batches) == list(b.batches)
    for sym, x in a.batches.items():
        y = b.batches[sym]
        for col in ("ts_ns", "price", "size", "side", "trade_id"):
            u, v = getattr(x, col), getattr(y, col)
            assert u.dtype == v.dtype, col
            assert u.tobytes() == v.tobytes(), f"{sym} {col}"
    assert [(r.line, r.reason) for r in a.bad_rows] == [(r.line, r.reason) for r in b.bad_rows]


@needs_switch
@pytest.mark.parametrize("before", [True, False])
def test_small_pages_turn_the_advice_off_inside_and_restore_it(before: bool) -> None:
    assert switch is not None
    was = switch(before)
    try:
        with _base.small_pages():
            assert _advice() is False
            with _base.small_pages():
                assert _advice() is False
            assert _advice() is False
        assert _advice() is before
        with pytest.raises(RuntimeError), _base.small_pages():
            raise RuntimeError("the load failed")
        assert _advice() is before
    finally:
        switch(was)


@needs_switch
@pytest.mark.parametrize("before", [True, False])
def test_loads_overlapping_in_two_threads_restore_the_setting_once_both_end(before: bool) -> None:
    """A enters, B enters, A leaves (B still inside: the advice stays off), B leaves (back to
    the setting before A), in that order, forced by events."""
    assert switch is not None
    was = switch(before)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with _base.small_pages():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second() -> None:
        a_in.wait(5)
        with _base.small_pages():
            b_in.set()
            a_out.wait(5)
            seen["b after a left"] = _advice()

    try:
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert a_out.is_set() and b_in.is_set()
        assert seen == {"b after a left": False}
        assert _advice() is before
        assert _base._small_pages_inside == 0
    finally:
        switch(was)


@needs_switch
@pytest.mark.parametrize("seed", [1, 2])
def test_a_load_reads_with_small_pages_and_gives_the_same_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    assert switch is not None
    rng = np.random.default_rng(seed)
    symbols = [f"S{k:02d}USDT" for k in rng.permutation(6)]
    path = tmp_path / "ticks.parquet"
    # Large enough that numpy would advise huge pages for its columns (4 MB and more).
    ticks_parquet.write(path, _batches(rng, symbols, 120_000), exchange="x", market="perp")
    seen: list[bool] = []
    read = ticks_parquet.read

    def spy(*args: object, **kw: object) -> _base.ImportResult:
        seen.append(_advice())
        return read(*args, **kw)  # type: ignore[arg-type]

    was = switch(True)
    try:
        # The previous code: the reader run with numpy's advice as the process has it.
        want = ticks_parquet.read(path, symbol=None, exchange=None, market=None)
        monkeypatch.setattr(ticks_parquet, "read", spy)
        got = importers.load(path)
        assert seen == [False]
        assert _advice() is True
    finally:
        switch(was)
    _same(got, want)
    assert sum(len(b) for b in got.batches.values()) == 6 * 120_000 + 17 * 15


@needs_switch
def test_a_replay_of_a_store_reads_with_small_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert switch is not None
    rng = np.random.default_rng(5)
    batches = _batches(rng, ["AAAUSDT", "BBBUSDT"], 3_000)
    store = MarketStore(tmp_path / "store")
    for sym, b in batches.items():
        store.append("ex", "perp", sym, b)
    store.flush()
    store.close()
    seen: list[bool] = []
    read_ticks = MarketStore.read_ticks

    def spy(self: MarketStore, *args: object, **kw: object) -> TickBatch:
        seen.append(_advice())
        return read_ticks(self, *args, **kw)  # type: ignore[arg-type]

    venue = ReplayVenue(
        ReplayConfig(store=str(tmp_path / "store"), exchange="ex", market="perp"),
        instance="replay",
        instruments=[Instrument(venue="sim", symbol=s) for s in batches],
    )
    monkeypatch.setattr(MarketStore, "read_ticks", spy)
    was = switch(True)
    try:
        anyio.run(venue.connect)
        assert seen == [False, False]
        assert _advice() is True
    finally:
        switch(was)
    for sym, b in batches.items():
        got = venue._data[sym]
        for col in ("ts_ns", "price", "size", "side", "trade_id"):
            assert getattr(got, col).tobytes() == getattr(b, col).tobytes(), f"{sym} {col}"
