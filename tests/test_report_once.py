"""The end of a backtest computes the run's metrics and converts its equity curve once: the
run's summary does, and the analysis and the report get what the summary computed when their
inputs are the same (issue 17). Every reuse is checked against the computation itself."""

from __future__ import annotations

import decimal
import io
import json
import random
import sys
from decimal import Decimal
from pathlib import Path

import attrs
import numpy as np
import pytest
from tradewind.cli import main
from tradewind.model import Fill, Side
from tradewind.report import _arrays
from tradewind.report import metrics as report_metrics
from tradewind.report.metrics import compute_metrics
from tradewind.trading.curves import Curve

BASE = 1_700_006_400 * 1_000_000_000
MIN = 60_000_000_000


def _curve(rng: random.Random, n: int) -> Curve:
    """A curve as the engine keeps it: column chunks (the walk) between listed points."""
    curve: Curve = Curve()
    t, eq = BASE, 1000.0
    while len(curve) < n:
        k = rng.randrange(1, 40)
        if rng.random() < 0.5:
            ts = BASE + (len(curve) + np.arange(k, dtype=np.int64)) * MIN
            vals = eq * (1 + (np.array([rng.random() for _ in range(k)]) - 0.5) / 50)
            if rng.random() < 0.1:
                vals[k // 2] = np.nan
            curve.extend_columns(ts, vals)
        else:
            for _ in range(k):
                t = BASE + len(curve) * MIN
                eq = eq * (1 + (rng.random() - 0.5) / 50)
                curve.append((t, eq))
    return curve


def _arrays_bytes(pair: tuple[np.ndarray, np.ndarray]) -> tuple[bytes, bytes, str, str]:
    ts, eq = pair
    return ts.tobytes(), eq.tobytes(), str(ts.dtype), str(eq.dtype)


def test_a_curve_of_chunks_its_copy_and_the_curve_read_point_by_point_share_one_conversion():
    convert = _arrays.curve_arrays.__wrapped__
    rng = random.Random(17)
    for n in (1, 2, 50, 3_000):
        curve = _curve(rng, n)
        copy = curve.copy()
        first = _arrays.curve_arrays(copy)  # the run's summary reads a copy
        assert _arrays_bytes(first) == _arrays_bytes(convert(list(curve.copy())))
        again = _arrays.curve_arrays(curve)  # the analysis reads the curve itself
        assert again[0] is first[0] and again[1] is first[1]
        list(curve)  # report.json reads it point by point: new tuples
        assert _arrays.curve_arrays(curve)[0] is first[0]
        list(copy)
        assert _arrays.curve_arrays(copy)[0] is first[0]
        # A curve of the same values in other arrays, or a list of equal points: converted
        # again, to the same bytes.
        other = Curve([tuple(list(p)) for p in curve])
        got = _arrays.curve_arrays(other)
        assert got[0] is not first[0] and _arrays_bytes(got) == _arrays_bytes(first)
        # Grown after it was remembered: converted again, with the new point.
        _arrays.curve_arrays(curve)
        curve.append((BASE + (len(curve) + 5) * MIN, 7.5))
        grown = _arrays.curve_arrays(curve)
        assert _arrays_bytes(grown) == _arrays_bytes(convert(list(curve)))
        assert float(grown[1][-1]) == 7.5


def _fills(rng: random.Random, n: int) -> list[Fill]:
    out = []
    for i in range(n):
        out.append(
            Fill(
                client_order_id=f"o{i // 2}",
                instrument="sim:BTCUSDT",
                side=Side.BUY if i % 2 == 0 else Side.SELL,
                quantity=Decimal(str(round(0.001 + rng.random(), 3))),
                price=Decimal(str(round(100 + rng.random() * 10, 1))),
                fee=Decimal("0.01"),
                ts_ns=BASE + (2 * i + 1) * MIN,
            )
        )
    return out


def _inputs(rng: random.Random) -> dict:
    curve = _curve(rng, 400)
    fills = _fills(rng, 40)
    trades = [(BASE + (4 * i + 3) * MIN, "sim:BTCUSDT", Decimal(str(rng.randint(-50, 50)) + ".5"))
              for i in range(20)]  # fmt: skip
    return {
        "equity_curve": curve,
        "closed_trades": trades,
        "fills": fills,
        "starting_equity": Decimal("1000"),
        "final_equity": Decimal("1003.2512345"),
        "funding_paid": Decimal("0.10"),
        "funnel": {"candidates": 400, "rejected:regime": 300, "signals": 30, "orders": 20},
        "bar_ns": MIN,
        "last_ts_ns": BASE + 500 * MIN,
        "pnl_currencies": {"sim:BTCUSDT": "USDT"},
        "pnl_rates": {"USDT": Decimal("1")},
        "currency": "USDT",
    }


def _same(a: report_metrics.Metrics, b: report_metrics.Metrics) -> bool:
    """The same metrics to the bit: every field's repr (Decimals with their exponents, NaN
    as NaN) and the JSON the report writes."""
    return repr(a) == repr(b) and json.dumps(a.to_json(), default=str) == json.dumps(
        b.to_json(), default=str
    )


def test_metrics_asked_again_are_the_remembered_ones_only_for_the_same_inputs():
    rng = random.Random(29)
    kw = _inputs(rng)
    first = compute_metrics(**kw)
    assert _same(first, report_metrics._compute_metrics(**kw))
    # The analysis's call: the curve itself (the summary had a copy), copies of the lists and
    # mappings, the Decimals made again from their text.
    same = dict(kw)
    same["equity_curve"] = kw["equity_curve"]
    kw["equity_curve"] = kw["equity_curve"].copy()
    again = compute_metrics(
        **{
            **same,
            "closed_trades": list(kw["closed_trades"]),
            "fills": list(kw["fills"]),
            "starting_equity": Decimal(str(kw["starting_equity"])),
            "funnel": dict(kw["funnel"]),
            "pnl_rates": {c: Decimal(str(v)) for c, v in kw["pnl_rates"].items()},
        }
    )
    assert again is first

    def recomputed(**changes: object) -> report_metrics.Metrics:
        compute_metrics(**kw)  # remembered
        args = {**kw, **changes}
        got = compute_metrics(**args)
        want = report_metrics._compute_metrics(**args)
        assert _same(got, want)
        return got

    # Another exponent of the same value, another type, another bar, a funnel in another
    # order, a rate written otherwise: computed again (and so written as they are).
    m = recomputed(starting_equity=Decimal("1000.00"))
    assert m.to_json()["starting_equity"] == "1000.00" != first.to_json()["starting_equity"]
    recomputed(final_equity=Decimal("1003.25123450"))
    recomputed(bar_ns=2 * MIN)
    recomputed(last_ts_ns=None)
    recomputed(funnel=dict(reversed(list(kw["funnel"].items()))))
    recomputed(pnl_rates={"USDT": Decimal("1.0")})
    recomputed(currency="USD")
    # Equal fills and trades that are other objects, one fill fewer, a trade changed.
    recomputed(fills=[attrs.evolve(f) for f in kw["fills"]])
    recomputed(fills=kw["fills"][:-1])
    trades = list(kw["closed_trades"])
    trades[3] = (trades[3][0], trades[3][1], trades[3][2] + 1)
    recomputed(closed_trades=trades)
    # An equal curve in other arrays; the curve grown.
    recomputed(equity_curve=Curve([tuple(list(p)) for p in kw["equity_curve"]]))
    grown = kw["equity_curve"].copy()
    grown.append((BASE + 999 * MIN, 1.0))
    recomputed(equity_curve=grown)
    # A mapping changed in place after the call that was remembered.
    funnel = dict(kw["funnel"])
    compute_metrics(**{**kw, "funnel": funnel})
    funnel["signals"] += 1
    got = compute_metrics(**{**kw, "funnel": funnel})
    assert got.funnel.signals == kw["funnel"]["signals"] + 1
    # Another decimal context: computed in it.
    compute_metrics(**kw)
    with decimal.localcontext() as ctx:
        ctx.prec = 5
        low = compute_metrics(**kw)
        assert _same(low, report_metrics._compute_metrics(**kw))
    assert low.total_return != compute_metrics(**kw).total_return
    # Lists as points (they could change in place): never remembered.
    points = [[t, v] for t, v in kw["equity_curve"]]
    compute_metrics(**{**kw, "equity_curve": points})
    assert report_metrics._last_metrics is None


def test_a_backtests_report_computes_its_metrics_once_and_writes_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default backtest through the CLI: its summary's metrics and equity curve
    arrays reused by the analysis and the page; then again with nothing reused (the code
    before): the same report.json, report.html and printed summary."""
    computed: list[int] = []
    converted: list[int] = []
    inner = report_metrics._compute_metrics
    cols = _arrays.columns_of

    def counted(**kw: object) -> report_metrics.Metrics:
        computed.append(1)
        return inner(**kw)  # type: ignore[arg-type]

    def counted_columns(*a: object, **k: object) -> object:
        converted.append(1)
        return cols(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(report_metrics, "_compute_metrics", counted)
    monkeypatch.setattr(_arrays, "columns_of", counted_columns)

    def run(folder: Path) -> dict[str, bytes]:
        folder.mkdir()
        monkeypatch.chdir(folder)
        computed.clear()
        converted.clear()
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        assert main(["backtest", "--report-dir", "reports"]) == 0
        monkeypatch.setattr(sys, "stdout", sys.__stdout__)
        files = {n: (folder / "reports" / n).read_bytes() for n in ("report.json", "report.html")}
        files["summary"] = out.getvalue().replace(str(folder), "<dir>").encode()
        return files

    reused = run(tmp_path / "reused")
    # Once each: the second conversion is the buy-and-hold curve's.
    assert (len(computed), len(converted)) == (1, 2)
    monkeypatch.setattr(report_metrics, "_same_inputs", lambda a, b: False)
    monkeypatch.setattr(_arrays.CurveKey, "matches", lambda self, curve: False)
    again = run(tmp_path / "again")
    assert len(computed) == 2 and len(converted) > 2
    assert reused == again


def test_a_backtests_report_reads_the_runs_own_journal_and_closes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI keeps the backtest's finished journal open for the report's reads (no
    read-only open of the file) and closes it after: the same files and summary as the
    journal closed by the run and opened again read-only, the same journal rows."""
    import duckdb
    from tradewind.journal.store import Journal
    from tradewind.report import journal_reader

    opened: list[str] = []
    closed: list[bool] = []
    open_readonly = Journal.open_readonly.__func__  # type: ignore[attr-defined]
    close = Journal.close

    def counted_open(cls: type[Journal], *a: object, **k: object) -> Journal:
        opened.append("read-only")
        return open_readonly(cls, *a, **k)  # type: ignore[no-any-return]

    def counted_close(self: Journal) -> None:
        closed.append(self.read_only)
        close(self)

    monkeypatch.setattr(Journal, "open_readonly", classmethod(counted_open))
    monkeypatch.setattr(Journal, "close", counted_close)

    def run(folder: Path) -> dict[str, object]:
        folder.mkdir()
        monkeypatch.chdir(folder)
        opened.clear()
        closed.clear()
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        assert main(["backtest", "--report-dir", "reports"]) == 0
        monkeypatch.setattr(sys, "stdout", sys.__stdout__)
        got: dict[str, object] = {
            n: (folder / "reports" / n).read_bytes() for n in ("report.json", "report.html")
        }
        got["summary"] = out.getvalue().replace(str(folder), "<dir>")
        (journal,) = [p for p in folder.rglob("*.duckdb")]
        con = duckdb.connect(str(journal), read_only=True)  # closed: it opens
        tables = [
            r[0]
            for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        ]
        for t in tables:
            rows = con.execute(f"SELECT * EXCLUDE (config_path) FROM {t}" if t == "runs"
                               else f"SELECT * FROM {t}").fetchall()  # fmt: skip
            got[t] = sorted(map(repr, rows))
        con.close()
        return got

    kept = run(tmp_path / "kept")
    assert opened == [] and closed == [False]  # the run's journal, closed once, after
    real_shared = journal_reader.shared

    def reopened(path: object, journal: object = None, finish: object = None) -> object:
        # As the run's shutdown did before the journal's finish was left to the CLI: the
        # finish on this thread, then the journal closed.
        if finish is not None:
            finish()  # type: ignore[operator]
        if journal is not None:
            journal.close()  # type: ignore[attr-defined]
        return real_shared(path)  # type: ignore[arg-type]

    monkeypatch.setattr(journal_reader, "shared", reopened)
    before = run(tmp_path / "reopened")
    assert opened == ["read-only"] and closed == [False, True]
    assert kept.keys() == before.keys() and kept == before


def test_a_failed_or_embedded_run_closes_its_journal(tmp_path: Path) -> None:
    """Without ``keep_journal`` (an embedded run) the run closes its journal as before; with
    it, a run that fails closes it too and keeps nothing."""
    import anyio
    from tradewind.cli import default_config_path
    from tradewind.config_check import check_config
    from tradewind.trading.engine import Engine

    cfg = check_config(default_config_path(), report_dir=str(tmp_path))
    engine = Engine(cfg, journal_path=str(tmp_path / "embedded.duckdb"))
    anyio.run(engine.run)
    assert engine.kept_journal is None
    with pytest.raises(Exception, match="closed"):
        engine.journal.query("SELECT 1")  # type: ignore[union-attr]

    engine = Engine(cfg, journal_path=str(tmp_path / "failed.duckdb"))
    engine.keep_journal = True

    def fail(*a: object, **k: object) -> None:
        raise RuntimeError("the run failed")

    engine._session = fail  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="the run failed"):
        anyio.run(engine.run)
    assert engine.kept_journal is None
    with pytest.raises(Exception, match="closed"):
        engine.journal.query("SELECT 1")  # type: ignore[union-attr]

    engine = Engine(cfg, journal_path=str(tmp_path / "kept.duckdb"))
    engine.keep_journal = True
    anyio.run(engine.run)
    assert engine.kept_journal is engine.journal
    assert engine.kept_journal.query("SELECT count(*) FROM runs") == [(1,)]
    engine.kept_journal.close()
