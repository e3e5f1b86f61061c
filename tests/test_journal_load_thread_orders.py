"""A paper journal without an order manager keeps its order tables from the bus's events: an
``OrderUpdated`` reads the order's last state (``Journal._load_order``). While a load runs on
the load thread, the order states it was handed are neither in the step log's set nor
committed to DuckDB yet: the journal must still find them there (it marked the order
"unknown" and dropped its update). Loads held on their thread while events are recorded give
the rows of the same run loaded on the engine's thread.
"""

from __future__ import annotations

import contextlib
import random
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tradewind.journal.errors import JournalError
from tradewind.journal.store import Journal
from tradewind.model import (
    Order,
    OrderReport,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    OrderUpdated,
    Side,
)

from tests.test_journal_deferred_encoding import _contents, _events


def _sorted_orders(contents: dict[str, Any]) -> dict[str, Any]:
    # An order's row is replaced (DELETE, INSERT) at each load it changed in: its place in
    # the table depends on how the rows were batched, its values do not.
    return {**contents, "orders": sorted(contents["orders"], key=repr)}


class _Gate:
    """Holds every load on the load thread until :meth:`release_one` lets it commit."""

    def __init__(self, monkeypatch: Any) -> None:
        self.opened = threading.Event()
        self.held = 0
        original = Journal._load_in_background

        def held(journal: Journal, *args: Any) -> None:
            self.opened.wait(30)
            original(journal, *args)

        monkeypatch.setattr(Journal, "_load_in_background", held)

    def release(self, j: Journal) -> None:
        self.opened.set()
        j.wait_load()
        self.opened.clear()


def _paper(path: Path, events: list[Any], *, background: bool, gate: _Gate | None) -> Journal:
    j = Journal(path, "run", load_every_s=0.0, background=background)
    j.start("paper", "cfg.toml", 1)
    j.write_ahead = False  # no order manager: the order tables come from the bus's events
    j.group_commit = True
    assert j.logs_steps
    rng = random.Random(7)
    for event in events:
        j.record(event)
        if rng.random() < 0.3:
            j.commit()  # a load is due at once (load_every_s = 0) unless one is under way
            if gate is not None and rng.random() < 0.25:
                gate.release(j)  # let the held load commit; the next commit starts another
    if gate is not None:
        gate.opened.set()
    j.finish(2, {"done": True})
    return j


def _order_events(n: int) -> list[Any]:
    out: list[Any] = []
    for i in range(n):
        ts = 1_700_000_000_000_000_000 + i * 1_000
        cid = f"c{i}"
        order = Order(
            client_order_id=cid,
            instrument="BTC-USDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("1.5"),
            price=Decimal("100"),
            created_ts_ns=ts,
        )
        out.append(OrderSubmitted(ts_ns=ts, order=order))
        out.append(
            OrderUpdated(
                ts_ns=ts + 1,
                report=OrderReport(
                    client_order_id=cid,
                    instrument="BTC-USDT",
                    status=OrderStatus.ACCEPTED,
                    ts_ns=ts + 1,
                    venue_order_id=f"v{i}",
                ),
            )
        )
    return out


def test_an_order_handed_to_the_load_thread_is_found_by_its_update(tmp_path, monkeypatch):
    gate = _Gate(monkeypatch)
    j = Journal(tmp_path / "j.duckdb", "run", load_every_s=0.0)
    j.start("paper", "cfg.toml", 1)
    j.write_ahead = False
    j.group_commit = True
    submitted, updated = _order_events(1)
    j.record(submitted)
    j.commit()  # the step logged and handed to the load thread, held there
    assert j._loader is not None and "c0" in j._loading[1]
    j.record(updated)  # the order is on the load thread, not in DuckDB yet
    j.commit()
    gate.opened.set()
    j.finish(2, {})
    j.close()
    contents = _contents(tmp_path / "j.duckdb")
    kinds = [row[5] for row in contents["order_events"]]
    assert kinds == ["submitted", "report"]
    [order] = contents["orders"]
    assert order[16] == OrderStatus.ACCEPTED.value and order[18] == "v0"


def test_loads_held_on_their_thread_journal_the_rows_of_loads_on_the_engines(tmp_path):
    for seed in (1, 2):
        events = [e for e, _ in _events(seed, 250)]
        events += _order_events(20)
        random.Random(seed).shuffle(events)
        ref = _paper(tmp_path / f"ref{seed}.duckdb", events, background=False, gate=None)
        ref.close()
        mp = pytest.MonkeyPatch()
        try:
            gate = _Gate(mp)
            held = _paper(tmp_path / f"held{seed}.duckdb", events, background=True, gate=gate)
            assert held.loads > 3  # loads ran on the load thread mid-run
            held.close()
        finally:
            mp.undo()
        want = _sorted_orders(_contents(tmp_path / f"ref{seed}.duckdb"))
        got = _sorted_orders(_contents(tmp_path / f"held{seed}.duckdb"))
        assert got == want
        assert [r for r in want["order_events"] if r[5] == "report"]


def _ignore(table: str, rows: list[Any]) -> None:
    pass


def test_a_follower_starts_with_the_rows_on_the_load_thread(tmp_path, monkeypatch):
    """``follow`` while a load is under way: its seed holds the rows handed to the load thread
    (committed by then, or given back to the step log's set when the load failed)."""
    for fail in (False, True):
        gate = _Gate(monkeypatch)
        j = Journal(tmp_path / f"f{fail}.duckdb", "run", load_every_s=0.0)
        j.start("paper", "cfg.toml", 1)
        j.write_ahead = False
        j.group_commit = True
        events = _order_events(5)
        for e in events[:6]:
            j.record(e)
        j.commit()  # handed to the load thread, held there
        assert j._loader is not None and j._loading[0]["order_events"]
        for e in events[6:]:
            j.record(e)
        j.commit()  # logged, waiting for the next load
        if fail:
            monkeypatch.setattr(
                Journal, "_write", lambda *a, **k: (_ for _ in ()).throw(OSError("disk"))
            )
        gate.opened.set()
        seed = j.follow(["order_events"], _ignore, newest=100)
        total, rows = seed["order_events"]
        assert total == len(events) == len(rows)
        assert [r[2] for r in rows] == sorted(r[2] for r in rows)  # oldest first
        monkeypatch.undo()
        with pytest.raises(JournalError) if fail else contextlib.nullcontext():
            j.wait_load()
        j.finish(2, {})
        j.close()
        contents = _contents(tmp_path / f"f{fail}.duckdb")
        assert rows == contents["order_events"]
