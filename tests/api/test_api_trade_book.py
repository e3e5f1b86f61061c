"""The API's trades in a paper or live run (issue 19): a view built on a resumed session reads
the session's earlier fills through the journal's own reads (rows its step log holds and its
database does not yet included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from tradewind.api.snapshot import FILL_COLUMNS, fill_from_row
from tradewind.api.views import HostView

from tests.test_journal_step_loads import _bench

#: The journal's loads into DuckDB put off past the run's end: every step's rows stay in the
#: step log (durable) until the journal is read through its own reads or closed.
NO_LOADS = "\n[journal]\nload_rows = 1000000\nload_every_s = 3600.0\n"


def _paper_engine(work: Path, run_id: str, ticks: int = 3_000) -> Any:
    bench = _bench()
    bench.CONFIG += NO_LOADS
    return bench.paper_engine(ticks, 100, 10, work, run_id=run_id)


def test_a_view_built_while_the_step_log_holds_the_sessions_fills_reads_them_all(
    tmp_path: Path,
):
    """The second run of a paper session: the API's view is built after the run booked fills
    whose rows are in the step log only (not loaded into DuckDB yet). Its trades and fills are
    those of every fill of the session the journal holds, and its closed trades' exit
    reasons are their orders' tags (a raw query of DuckDB missed this run's fills)."""
    work = tmp_path / "run"
    work.mkdir()
    anyio.run(_paper_engine(work, "1" * 32).run)
    engine = _paper_engine(work, "2" * 32)
    seen: dict[str, Any] = {"steps": 0}

    def step() -> None:
        seen["steps"] += 1
        j = engine.journal
        if "view" in seen or engine.orders.history.n_fills < 20:
            return
        # What DuckDB holds of the session now (the step log holds more).
        cur = j.cursor()
        try:
            seen["raw"] = cur.execute(
                "SELECT count(*) FROM fills WHERE session_id = ?", [j.session_id]
            ).fetchone()[0]
        finally:
            cur.close()
        seen["booked"] = engine.orders.history.n_fills
        seen["view"] = HostView(engine)

    engine.step_sinks.append(step)
    summary = engine.summary

    def at_the_end() -> Any:
        view: HostView = seen["view"]
        j = engine.journal
        assert j.resumed
        rows = j.query(
            f"SELECT {FILL_COLUMNS} FROM fills WHERE session_id = ? ORDER BY seq", [j.session_id]
        )
        fills = [fill_from_row(r) for r in rows]
        tags = dict(
            j.query(
                "SELECT DISTINCT client_order_id, tag FROM orders WHERE session_id = ? AND "
                "tag IS NOT NULL",
                [j.session_id],
            )
        )
        # The first run's fills and this run's before the view: not all in DuckDB then.
        assert seen["raw"] < len(fills) - engine.orders.history.n_fills + seen["booked"]
        snap = view.snap
        assert snap.n_fills == len(fills)
        assert view.source.fills[0 : len(fills)] == fills
        reference = HostView(engine)  # built now: the journal holds everything
        try:
            for v in (view, reference):
                v.started_ts_ns = 0
            assert view.trades_page(10_000, 0) == reference.trades_page(10_000, 0)
            assert view.profit() == reference.profit()
            assert view.stats() == reference.stats()
        finally:
            reference.close()
        page = view.trades_page(10_000, 0)["trades"]
        assert page[0]["orders"][0]["order_id"] == fills[0].client_order_id
        closed = [t for t in view.trades() if not t.is_open]
        assert len(closed) > 20
        for t in closed:
            assert t.exit_reason == (tags.get(t.orders[-1].client_order_id) or "")
        assert sum(len(t["orders"]) for t in page) >= len(fills)
        return summary()

    engine.summary = at_the_end
    try:
        anyio.run(engine.run)
    finally:
        if "view" in seen:
            seen["view"].close()
    assert "view" in seen
