"""The journal's staging encodes rows when they are written (``Journal.record`` stages the
frequent events unencoded, ``_encode_staged`` encodes them at the step's commit, a flush or
the end of a backtest): every row of every table is the one the eager encoding made — the
same values in the same order, in DuckDB and in the step log's records — on random events
of every kind (NaN and infinite floats, Decimals, nested reasons, a signal whose reasons are
changed after it was published), on a backtest and on a paper run.
"""

from __future__ import annotations

import json
import math
import random
import types
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.journal import step_log
from tradewind.journal.store import TABLES, Journal, _payload
from tradewind.model import (
    Fill,
    FillEvent,
    Order,
    OrderReport,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    OrderUpdated,
    Position,
    PositionChanged,
    PositionClosed,
    Side,
    SignalEvent,
    SystemError,
    VetoEvent,
)
from tradewind.model.events import CircuitBreaker, RunFinished
from tradewind.model.signals import Signal, Veto
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text
from tests.test_journal_step_loads import _bench


def _contents(path: Path) -> dict[str, Any]:
    """Every table's rows in the order they were inserted (``rowid``), JSON as text."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: dict[str, Any] = {}
        for table in TABLES:
            described = con.execute(f"DESCRIBE {table}").fetchall()
            cols = ", ".join(
                f"{name}::VARCHAR" if typ == "JSON" else name
                for name, typ, *_ in described
                if name != "config_path"
            )
            rows = con.execute(f"SELECT {cols} FROM {table} ORDER BY rowid").fetchall()
            # floats by their text (NaN is not equal to itself)
            out[table] = [tuple(repr(v) if type(v) is float else v for v in row) for row in rows]
        return out
    finally:
        con.close()


def _dec(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(1, 10**9)).scaleb(-rng.randint(0, 12))


_FLOATS = (math.nan, math.inf, -math.inf, 0.1, -0.0, 1e300, 3.0)


def _events(seed: int, n: int) -> list[tuple[Any, dict[str, float] | None]]:
    """Random events of every kind the journal stages differently, each with a change to
    make to its signal's reasons after it was recorded (or None)."""
    rng = random.Random(seed)
    out: list[tuple[Any, dict[str, float] | None]] = []
    for i in range(n):
        ts = 1_700_000_000_000_000_000 + i * 1_000
        inst = rng.choice(["BTC-USDT", "ETH-USDT", "Ünï\u2603"])
        side = rng.choice(list(Side))
        kind = rng.randrange(11)
        change = None
        if kind == 0:
            reasons: Any = {f"r{k}": rng.choice(_FLOATS) for k in range(rng.randint(0, 5))}
            if rng.random() < 0.3:
                reasons["nested"] = {"a": [1, 2.5, math.nan], "d": _dec(rng)}
            if rng.random() < 0.3:
                change = {"r0": 9.0, "late": math.inf}
            if rng.random() < 0.15:
                reasons = types.MappingProxyType(dict(reasons))  # not a dict: encoded at once
            sig = Signal(
                instrument=inst,
                side=side,
                entry=_dec(rng),
                stop=_dec(rng),
                score=rng.choice(_FLOATS),
                ts_ns=ts,
                reasons=reasons,
                quantity=rng.choice([None, _dec(rng)]),
                intent=rng.choice(["open", "close"]),
            )
            out.append((SignalEvent(ts_ns=ts, signal=sig), change))
            continue
        if kind == 1:
            sig = Signal(
                instrument=inst, side=side, entry=_dec(rng), stop=_dec(rng), score=0.5, ts_ns=ts
            )
            veto = Veto(filter="f", reason="no", signal=sig, ts_ns=ts)
            out.append((VetoEvent(ts_ns=ts, veto=veto), None))
            continue
        cid = f"c{rng.randrange(20)}"
        fill = Fill(
            client_order_id=cid,
            instrument=inst,
            side=side,
            quantity=_dec(rng),
            price=_dec(rng),
            fee=_dec(rng),
            ts_ns=ts,
            trade_id=rng.choice(["", f"t{i}"]),
            fee_rate=rng.choice([None, _dec(rng)]),
        )
        lots = tuple((_dec(rng), _dec(rng)) for _ in range(rng.randint(0, 3)))
        pos = Position(
            instrument=inst,
            quantity=_dec(rng),
            avg_price=_dec(rng),
            realized_pnl=_dec(rng),
            fees=_dec(rng),
            opened_ts_ns=ts,
            lots=lots,
        )
        event: Any
        if kind == 2:
            typ = rng.choice([OrderType.MARKET, OrderType.LIMIT])
            order = Order(
                client_order_id=cid,
                instrument=inst,
                side=side,
                type=typ,
                quantity=_dec(rng),
                price=_dec(rng) if typ is OrderType.LIMIT else None,
                created_ts_ns=ts,
                tag="t\"'\\",
            )
            event = OrderSubmitted(ts_ns=ts, order=order)
        elif kind == 3:
            report = OrderReport(
                client_order_id=cid,
                instrument=inst,
                status=rng.choice(list(OrderStatus)),
                ts_ns=ts,
                filled_quantity=_dec(rng),
                reason=rng.choice(["", "why\n"]),
            )
            event = OrderUpdated(ts_ns=ts, report=report)
        elif kind == 4:
            event = FillEvent(
                ts_ns=ts, fill=fill, realized_pnl=rng.choice([None, _dec(rng)]), pnl_currency="X"
            )
        elif kind == 5:
            # a value of another type than declared: the payload's general path
            odd = Fill(
                client_order_id=cid,
                instrument=inst,
                side=side,
                quantity=_dec(rng),
                price=_dec(rng),
                fee=_dec(rng),
                ts_ns=ts,
                fee_rate=0.25,  # type: ignore[arg-type]
            )
            event = FillEvent(ts_ns=ts, fill=odd)
        elif kind == 6:
            event = PositionChanged(ts_ns=ts, position=pos)
        elif kind == 7:
            event = PositionClosed(ts_ns=ts, position=pos, reason="stop", pnl_currency="USDT")
        elif kind == 8:
            event = SystemError(ts_ns=ts, source="x", error=f"e{i}")
        elif kind == 9:
            event = CircuitBreaker(ts_ns=ts, name="cb", tripped=True, reason="r")
        else:
            event = RunFinished(ts_ns=ts, run_id="r", summary={"a": Decimal("1.5"), "b": 2.0})
        out.append((event, None))
    return out


def _journal(
    path: Path, events: list[tuple[Any, Any]], *, defer: bool, mode: str, write_ahead: bool
) -> tuple[list[bytes], dict[str, Any]]:
    """Record ``events`` into a new journal (``mode``: "backtest", or "paper" with group
    commit and the step log, a commit every few events); the step log's records appended
    and every table's rows."""
    appended: list[bytes] = []
    original = step_log.StepLog.append

    def append(self: Any, seq: int, rows: Any, orders: Any, **k: Any) -> None:
        appended.append(step_log.encode(seq, rows, orders))
        original(self, seq, rows, orders, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(step_log.StepLog, "append", append)
    try:
        # (one load, at the end: the rows compared are the encoding's; loads on the load
        # thread mid-run are tests/test_journal_load_thread_orders.py's)
        j = Journal(path, "run", flush_every=None if mode == "paper" else 37, load_every_s=1e9)
        j.defer_encoding = defer  # (an instance's own setting)
        j.start(mode, "cfg.toml", 1)
        j.write_ahead = write_ahead
        if mode == "paper":
            j.group_commit = True
        rng = random.Random(len(events))
        for event, change in events:
            j.record(event)
            if change is not None and type(event.signal.reasons) is dict:
                event.signal.reasons.update(change)  # after it was published
            if rng.random() < 0.2:
                j.commit()  # (a backtest's encodes what is staged, a paper run's appends it)
        j.finish(2, {"done": True})
        j.close()
    finally:
        mp.undo()
    return appended, _contents(path)


@pytest.mark.parametrize("write_ahead", [True, False])
@pytest.mark.parametrize("mode", ["backtest", "paper"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_events_journal_the_rows_of_the_eager_encoding(tmp_path, seed, mode, write_ahead):
    eager_log, eager = _journal(
        tmp_path / "eager.duckdb",
        _events(seed, 400),
        defer=False,
        mode=mode,
        write_ahead=write_ahead,
    )
    lazy_log, lazy = _journal(
        tmp_path / "lazy.duckdb", _events(seed, 400), defer=True, mode=mode, write_ahead=write_ahead
    )
    assert lazy == eager
    assert lazy_log == eager_log  # the step log's records, byte for byte
    assert len(eager["events"]) == 400 and eager["signals"]
    if mode == "paper":
        assert len(eager_log) > 20
    # the reasons journaled are those published, not those changed afterwards
    assert all("late" not in r[-1] for r in eager["signals"])


def _snapshotting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, str, Any]]:
    """Record, at each ``Journal.record`` of the run, the ``events`` row (and a signal's
    reasons JSON) the eager encoding makes at that moment."""
    seen: list[tuple[int, str, str, Any]] = []
    original = Journal.record

    def record(self: Journal, event: Any) -> None:
        reasons = None
        if isinstance(event, SignalEvent):
            reasons = json.dumps(dict(event.signal.reasons), default=str, allow_nan=True)
        seen.append((self._seq + 1, type(event).__name__, _payload(event), reasons))
        original(self, event)

    monkeypatch.setattr(Journal, "record", record)
    return seen


def _check_against_snapshots(contents: dict[str, Any], seen: list[Any]) -> None:
    by_seq = {row[1]: row for row in contents["events"]}
    signals = {row[2]: row for row in contents["signals"]}
    assert len(by_seq) == len(seen)
    for seq, name, payload, reasons in seen:
        row = by_seq[seq]
        assert (row[3], row[5]) == (name, payload)
        if reasons is not None:
            assert signals[seq + 1][-1] == reasons


def test_a_backtest_journals_the_rows_of_the_eager_encoding(tmp_path, monkeypatch):
    got = {}
    for defer in (False, True, False, True):
        d = tmp_path / f"{defer}-{len(got)}"
        d.mkdir()
        cfg = d / "demo.toml"
        cfg.write_text(demo_config_text(d), encoding="utf-8")
        with monkeypatch.context() as m:
            seen = _snapshotting(m)
            m.setattr(Journal, "defer_encoding", defer)
            anyio.run(Engine(load_config(cfg), run_id="same").run)
        contents = _contents(d / "journal.duckdb")
        _check_against_snapshots(contents, seen)
        got.setdefault(defer, contents)
    assert got[True] == got[False]
    assert got[True]["signals"] and got[True]["fills"] and got[True]["vetoes"] is not None


def test_a_paper_run_journals_the_rows_of_the_eager_encoding(tmp_path, monkeypatch):
    seen = _snapshotting(monkeypatch)
    work = tmp_path / "run"
    work.mkdir()
    figures = _bench().run(2_000, 1_000, 10, True, work)
    monkeypatch.undo()
    assert figures["fills"] > 100
    (journal,) = work.glob("journal_after_*.duckdb")
    contents = _contents(journal)
    kinds = {row[3] for row in contents["events"]}
    assert {"OrderSubmitted", "OrderUpdated", "FillEvent", "PositionChanged"} <= kinds
    _check_against_snapshots(contents, seen)


@pytest.mark.parametrize("mode", ["backtest", "paper"])
def test_reasons_no_json_takes_keep_their_rows_and_the_run_going(tmp_path, mode, caplog):
    """A strategy's reasons that JSON refuses even as text (a dict that contains itself),
    encoded when the rows are written: the commit does not raise, the signal's ``events`` and
    ``signals`` rows keep their place and ``seq`` with a JSON object saying why, the error is
    logged, and the rows around them are written as usual."""
    reasons: dict[str, Any] = {"r": 1.0}
    reasons["self"] = reasons
    sig = Signal(
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        entry=Decimal("100.5"),
        stop=Decimal("99"),
        score=2.0,
        ts_ns=5,
        reasons=reasons,
    )
    good = Signal(
        instrument="sim:BTCUSDT",
        side=Side.SELL,
        entry=Decimal("101"),
        stop=Decimal("102"),
        score=1.0,
        ts_ns=6,
        reasons={"r": 2.0},
    )
    path = tmp_path / "j.duckdb"
    j = Journal(path, "run", load_every_s=1e9)
    j.start(mode, "cfg.toml", 1)
    if mode == "paper":
        j.group_commit = True
    j.record(SignalEvent(ts_ns=5, signal=sig))
    j.record(SignalEvent(ts_ns=6, signal=good))
    j.commit()
    j.finish(7, {"done": True})
    j.close()
    rows = _contents(path)
    events = [r for r in rows["events"] if r[3] == "SignalEvent"]
    signals = rows["signals"]
    assert [r[1] for r in events] == [1, 3] and [r[2] for r in signals] == [2, 4]
    assert json.loads(events[0][5])["unencodable"].startswith("RecursionError: ")
    assert json.loads(signals[0][11]) == {"unencodable": "ValueError: Circular reference detected"}
    assert signals[0][7:9] == ("100.5", "99")  # the rest of the row as usual
    assert json.loads(signals[1][11]) == {"r": 2.0}
    assert json.loads(events[1][5])["signal"]["reasons"] == {"r": 2.0}
    assert "cannot be written" in caplog.text
