"""A long block's set-up on both cores (issue 17: the whole process's wall time): an analyzer
declaring ``"block-thread"`` (the profile: its binning and window kernels release the GIL)
is set up on a thread of its own while the block's other analyzers are set up on the
engine's, and the block is walked once both are done. The journal, the run's summary, its
curves and the charted analyzer values are the same bits whichever thread set each analyzer
up, at every block size; a set-up that fails raises the first analyzer's error in the
config's order, after the thread ended."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tradewind.blocks as blocks
from tradewind.model import TickBatch
from tradewind_analyzer_profile import _kernel
from tradewind_analyzer_profile.plugin import ProfileAnalyzer

from tests.test_block_identity import BLOCKS, _run
from tests.test_engine import SAMPLE

_THREAD = "tradewind-block-setup"


def test_the_journal_is_the_same_with_the_profile_set_up_on_its_thread_at_every_block_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = ProfileAnalyzer.on_block

    def on_block(self, ticks, rows):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return real(self, ticks, rows)

    monkeypatch.setattr(ProfileAnalyzer, "on_block", on_block)
    monkeypatch.setattr(blocks, "usable_cores", lambda: 2)  # whatever this machine has
    for block in BLOCKS:
        runs = {}
        for least in (10**12, 0):  # never on the thread; always (even a block of one tick)
            monkeypatch.setattr(blocks, "THREAD_MIN_TICKS", least)
            seen.clear()
            runs[least] = _run(tmp_path, SAMPLE, block)
            for journal in tmp_path.glob("block_*.duckdb*"):  # the next run's journal is new
                journal.unlink()
            assert seen and set(seen) == {"MainThread" if least else _THREAD}, (block, least)
        (rows, result), (base_rows, base) = runs[0], runs[10**12]
        assert base_rows["fills"] and base.series  # something to compare
        assert rows == base_rows, block
        assert result.summary == base.summary, block
        assert result.equity_curve == base.equity_curve, block
        assert result.series == base.series, block
    assert not [t for t in threading.enumerate() if t.name == _THREAD]


class _Fake:
    """A block analyzer whose set-up sleeps (releasing the GIL, as the profile's kernels do)
    and records where and when it ran."""

    def __init__(self, name: str, log: list, *, thread: bool, fail: bool = False) -> None:
        self.name = name
        self.log = log
        self.fail = fail
        self.capabilities = frozenset({"block", "block-thread"} if thread else {"block"})

    def on_block(self, ticks, rows):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        time.sleep(0.05)
        self.log.append((self.name, threading.current_thread().name, start, time.perf_counter()))
        if self.fail:
            raise ValueError(self.name)
        return iter([{"x": 1.0}])


def _ticks(n: int) -> TickBatch:
    ts = np.arange(n, dtype=np.int64)
    return TickBatch.from_arrays(
        "BTCUSDT", ts, np.ones(n), np.ones(n), np.ones(n, dtype=np.int8), ts.copy()
    )


def test_a_long_block_sets_the_threaded_analyzer_up_beside_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blocks, "usable_cores", lambda: 2)
    log: list = []
    analyzers = [
        ("regime", _Fake("regime", log, thread=False)),
        ("profile", _Fake("profile", log, thread=True)),
        ("micro", _Fake("micro", log, thread=False)),
    ]
    long = _ticks(blocks.THREAD_MIN_TICKS)
    got = blocks.opened_rows(analyzers, long, [])
    assert [name for name, _ in got] == ["regime", "profile", "micro"]  # the config's order
    assert [next(it) for _, it in got] == [{"x": 1.0}] * 3
    where = {name: (thread, start, end) for name, thread, start, end in log}
    assert where["profile"][0] == _THREAD
    assert where["regime"][0] == where["micro"][0] == "MainThread"
    # The profile's set-up overlapped the others' (one sleep, not three, of wall time).
    _, p0, p1 = where["profile"]
    assert p0 < where["micro"][2] and where["regime"][1] < p1
    # A short block, or no other analyzer to overlap: every set-up on the caller's thread.
    log.clear()
    blocks.opened_rows(analyzers, _ticks(blocks.THREAD_MIN_TICKS - 1), [])
    blocks.opened_rows(analyzers[1:2], long, [])
    # A process that may run on one CPU only: no thread (it would only take turns).
    monkeypatch.setattr(blocks, "usable_cores", lambda: 1)
    blocks.opened_rows(analyzers, long, [])
    assert len(log) == 7 and {thread for _, thread, _, _ in log} == {"MainThread"}
    assert not [t for t in threading.enumerate() if t.name == _THREAD]


@pytest.mark.parametrize(
    ("failing", "raised"),
    [({"regime", "profile"}, "regime"), ({"profile", "micro"}, "profile"), ({"micro"}, "micro")],
)
def test_a_failing_set_up_raises_the_first_analyzers_error_after_the_thread_ended(
    failing: set[str], raised: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocks, "usable_cores", lambda: 2)
    log: list = []
    analyzers = [
        (name, _Fake(name, log, thread=name == "profile", fail=name in failing))
        for name in ("regime", "profile", "micro")
    ]
    with pytest.raises(ValueError, match=f"^{raised}$"):
        blocks.opened_rows(analyzers, _ticks(blocks.THREAD_MIN_TICKS), [])
    assert any(name == "profile" for name, *_ in log)  # the thread's set-up ran, and ended
    assert not [t for t in threading.enumerate() if t.name == _THREAD]


def _progress_beside(call) -> int:  # type: ignore[no-untyped-def]
    """Python steps the calling thread makes in the middle half of ``call``'s run on another
    thread: none when ``call`` holds the GIL throughout."""
    ended = threading.Event()
    span: list[float] = []

    def run() -> None:
        span.append(time.perf_counter())
        call()
        span.append(time.perf_counter())
        ended.set()

    steps: list[float] = []
    t = threading.Thread(target=run)
    t.start()
    while not ended.is_set():
        steps.append(time.perf_counter())
    t.join()
    t0, t1 = span
    quarter = (t1 - t0) / 4
    return sum(t0 + quarter < s < t1 - quarter for s in steps)


def test_the_profiles_binning_and_window_kernels_release_the_gil() -> None:
    n, rows = 6_000_000, 50
    rng = np.random.default_rng(3)
    ts = np.sort(rng.integers(0, 10**12, n)).astype(np.int64)
    price = 30_000 + np.cumsum(rng.normal(0, 0.5, n))
    size = rng.uniform(0.001, 2.0, n)
    cut = np.linspace(ts[0], ts[-1], rows).astype(np.int64)
    bins, qty = np.empty(n, np.int64), np.empty(n, np.int64)
    first = np.empty(rows + 1, np.int64)

    def binning() -> None:
        _kernel.bin_trades(ts, price, size, 0.1, 10, 0.001, cut, bins, qty, first)

    assert _progress_beside(binning) > 100
    lo, hi, _ = _kernel.bin_trades(ts, price, size, 0.1, 10, 0.001, cut, bins, qty, first)
    dense = np.zeros(int(hi - lo) + 1, np.int64)
    ranges = np.zeros((rows, 4), np.int64)
    ranges[:, 2], ranges[:, 3] = first[:-1], first[1:]  # each row's trades enter the window
    out = np.zeros((rows, 7), np.int64)

    def window() -> None:
        dense[:] = 0
        _kernel.dense_rows(dense, int(lo), bins, qty, ranges, 7, 10, out)

    assert _progress_beside(window) > 100
    # The last row's window holds every trade before the last cutoff: their total.
    assert out[-1, 0] == 1 and out[-1, 4] == qty[: first[-1]].sum()
