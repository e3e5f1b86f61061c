"""Multi-instrument backtests split into independent instrument groups, in process or on Dask.

A backtest of several instruments in one engine shares one portfolio: the simulated venues'
cash is summed, sizing reads the portfolio's equity, and portfolio filters (open positions,
exposure, drawdown, kill switch) read every instrument's position. Running its instruments
on different workers would change the result, so such a config is never split: ``tradewind
backtest --cluster`` refuses it and says why.

``[run] capital = "per_instrument"`` declares the other kind of multi-instrument backtest:
each instrument is its own book — its own copy of its execution venue's starting balance,
sized on that book's equity, with filters and exits seeing that book only. Such a backtest
*is* a set of independent single-instrument backtests; this module runs them (one
:class:`GroupTask` per instrument, in this process one after the other, or on a Dask cluster
with ``--cluster``) and merges them into one journal and one report:

- the journal: every group's rows, each group a run of its own (run id ``g<N>-<base>``, the
  base being the full config's derived backtest id), written in group order whatever order
  the workers finished in;
- the report: counts, funding and P&L summed, fees summed per currency then converted at
  the books' rates (never a raw sum of currencies); the equity curve the sum of the books'
  curves (a book counts its starting equity before its first point and its last value after
  its last); fills and closed trades in time order; the funnel summed; metrics computed from
  the merged figures as for any run.

An instrument whose plugins read another instrument (an exit guard's ``leader``) cannot be a
book of its own: the split refuses that config and names the key. Workers read the replayed
data from the config's paths (a shared file system or the market store path they share), as
sweeps do (:mod:`tradewind.sweep_dask`).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from tradewind.errors import ConfigError, TradewindError

#: ``[run] capital`` values.
SHARED = "shared"
PER_INSTRUMENT = "per_instrument"
CAPITAL_MODES = (SHARED, PER_INSTRUMENT)
_PLUGIN_KINDS = ("venues", "aggregators", "analyzers", "filters", "exits", "notifiers")


@attrs.frozen(kw_only=True)
class GroupTask:
    """One book of a split backtest: everything a worker needs, all picklable."""

    index: int
    #: Positions of the group's instruments in the config's ``[[instruments]]`` list.
    instruments: tuple[int, ...]
    #: The instrument keys, for messages.
    keys: tuple[str, ...]
    raw: Mapping[str, Any]
    config_path: str
    run_id: str


@attrs.frozen(kw_only=True)
class GroupResult:
    """What a worker sends back: the group's figures, report data and journal rows."""

    index: int
    figures: Any
    result: Any
    #: Table name to the group's column names and rows.
    rows: Mapping[str, tuple[tuple[str, ...], Sequence[tuple[Any, ...]]]]


def split_refusal(config: Any) -> str | None:
    """Why ``config``'s instruments cannot run on separate workers, or None when they can."""
    n = len(config.instruments)
    if n < 2:
        return None
    if config.run.capital == SHARED:
        keys = ", ".join(f"{s.venue}:{s.symbol}" for s in config.instruments)
        return (
            f"its {n} instruments ({keys}) share one portfolio: the simulated venues' cash is "
            f"pooled, orders are sized on the portfolio's equity and portfolio filters read "
            f"every position, so backtesting them on separate workers would change the result. "
            f'Set [run] capital = "per_instrument" to backtest each instrument on its own '
            f"capital (a different backtest: each book gets its venue's starting balance)"
        )
    return None


def plan_groups(config: Any, raw: Mapping[str, Any], base_run_id: str) -> list[GroupTask]:
    """One task per instrument of a ``capital = "per_instrument"`` config."""
    if config.mode.value != "backtest":
        raise ConfigError(
            f'only a backtest splits by instrument; {config.path.name} is "{config.mode.value}"'
        )
    if config.journal.url:
        raise ConfigError(
            '[run] capital = "per_instrument" writes its merged journal to the [run] journal '
            "DuckDB file; a [journal] url (PostgreSQL) is not supported for it yet @ $.journal.url"
        )
    keys = [f"{s.venue}:{s.symbol}" for s in config.instruments]
    _refuse_cross_reads(raw, keys)
    return [
        GroupTask(
            index=i,
            instruments=(i,),
            keys=(key,),
            raw=raw,
            config_path=str(Path(config.path).resolve()),
            run_id=f"g{i}-{base_run_id}",
        )
        for i, key in enumerate(keys)
    ]


def _refuse_cross_reads(raw: Mapping[str, Any], keys: Sequence[str]) -> None:
    # A plugin option naming an instrument key (an exit guard's leader) makes one book read
    # another instrument's prices: those books are not independent.
    wanted = set(keys)
    for kind in _PLUGIN_KINDS:
        table = raw.get(kind)
        if not isinstance(table, dict):
            continue
        for name, opts in table.items():
            if not isinstance(opts, dict):
                continue
            for opt, value in opts.items():
                if isinstance(value, str) and value in wanted:
                    raise ConfigError(
                        f'[run] capital = "per_instrument": [{kind}.{name}] {opt} = "{value}" '
                        f"makes every instrument read {value}, so the instruments are not "
                        f"independent books @ $.{kind}.{name}.{opt}"
                    )


def group_config_text(task: GroupTask) -> str:
    """The TOML of one group: its instruments, and only the venues they use among those the
    config's instruments use (a replay venue with no instrument would replay its whole file)."""
    from tradewind.sweep import dumps_toml

    raw = copy.deepcopy(dict(task.raw))
    insts = list(raw.get("instruments", []))
    mine = [insts[i] for i in task.instruments]
    used_all = {v for s in insts for v in (s.get("venue"), s.get("data") or s.get("venue"))}
    used_mine = {v for s in mine for v in (s.get("venue"), s.get("data") or s.get("venue"))}
    raw["instruments"] = mine
    venues = raw.get("venues")
    if isinstance(venues, dict):
        raw["venues"] = {k: v for k, v in venues.items() if k in used_mine or k not in used_all}
    return dumps_toml(raw)


def run_group(task: GroupTask) -> GroupResult:
    """Run one group's backtest (on a worker or inline) into a journal of its own."""
    import anyio

    from tradewind.config import load_config
    from tradewind.journal.store import TABLES, Journal
    from tradewind.trading.engine import Engine
    from tradewind.venues.replay import apply_run_bounds

    with tempfile.TemporaryDirectory(prefix="tradewind-group-") as tmp:
        path = Path(tmp) / Path(task.config_path).name
        path.write_text(group_config_text(task), encoding="utf-8")
        cfg = load_config(path, base_dir=Path(task.config_path).parent)
        cfg = apply_run_bounds(attrs.evolve(cfg, path=Path(task.config_path)))
        journal = Path(tmp) / "journal.duckdb"
        engine = Engine(cfg, run_id=task.run_id, journal_path=str(journal))
        result = anyio.run(engine.run)
        figures = engine.figures()
        # Through the journal: rows still only in its step log are read too.
        con = Journal.open_readonly(journal)
        try:
            rows = {}
            for t in TABLES:
                order = "" if t == "runs" else " ORDER BY seq NULLS FIRST"
                rows[t] = con.query_columns(
                    f"SELECT * FROM {t} WHERE run_id = ?{order}", [task.run_id]
                )
        finally:
            con.close()
    result = attrs.evolve(result, journal_path=None, journal_password=None)
    return GroupResult(index=task.index, figures=figures, result=result, rows=rows)


def run_groups(
    tasks: Sequence[GroupTask],
    cluster: str | None,
    *,
    jobs: int | None = None,
    on_done: Callable[[GroupTask], None] | None = None,
) -> list[GroupResult]:
    """Every group's result, in group order: inline, or on the Dask cluster at ``cluster``."""
    done: dict[int, GroupResult] = {}

    def finished(task: GroupTask, result: GroupResult) -> None:
        done[task.index] = result
        if on_done is not None:
            on_done(task)

    if cluster is None:
        for task in tasks:
            try:
                res = run_group(task)
            except Exception as exc:
                raise _group_error(task, exc) from exc
            finished(task, res)
    else:
        from tradewind.sweep_dask import run_on_cluster

        run_on_cluster(
            tasks, cluster, jobs=jobs, run=run_group, on_done=finished, on_error=_group_error
        )
    return [done[t.index] for t in tasks]


def _group_error(task: GroupTask, exc: BaseException) -> TradewindError:
    message = f"instrument {', '.join(task.keys)} (group {task.index}): {exc}"
    cls = type(exc) if isinstance(exc, TradewindError) else TradewindError
    try:
        return cls(message)
    except TypeError:
        return TradewindError(message)


# -- merging ------------------------------------------------------------------------------
def merge_curves(
    curves: Sequence[Sequence[tuple[int, float]]], starts: Sequence[float]
) -> list[tuple[int, float]]:
    """The sum of step curves: at every time any curve has a point, each curve's last value
    at or before it (its start value before its first point)."""
    import heapq

    current = list(starts)
    merged: list[tuple[int, float]] = []
    events = heapq.merge(*([(ts, i, v) for ts, v in curve] for i, curve in enumerate(curves)))
    for ts, i, v in events:
        current[i] = v
        total = float(sum(current))
        if merged and merged[-1][0] == ts:
            merged[-1] = (ts, total)
        else:
            merged.append((ts, total))
    return merged


def _add(maps: Sequence[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in maps:
        for k, v in m.items():
            out[k] = out.get(k, 0) + v
    return out


def _add_money(maps: Sequence[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for m in maps:
        for k, v in m.items():
            out[k] = out.get(k, Decimal(0)) + v
    return out


def merge_figures(run_id: str, groups: Sequence[GroupResult]) -> Any:
    """The figures of the whole backtest from its books' figures."""
    from tradewind.report.metrics import RunFigures
    from tradewind.trading.pnl import fee_total, rate_table

    figs = [g.figures for g in groups]
    first = figs[0]
    lasts = [f.last_ts_ns for f in figs if f.last_ts_ns is not None]
    halts = [f.halted_at_ns for f in figs if f.halted_at_ns is not None]
    rates = {k: v for f in figs for k, v in f.pnl_rates.items()}
    # The fees of every book's fills: per currency as charged, and what they cost (a third
    # currency's at its price at the fill) converted at the books' rates.
    fees = fee_total(
        (x for f in figs for x in f.fills),
        {k: v for f in figs for k, v in f.pnl_currencies.items()},
        first.currency,
        rate_table(rates, first.currency),
    )
    return RunFigures(
        run_id=run_id,
        mode=first.mode,
        instruments=[k for f in figs for k in f.instruments],
        timeframe_ns=first.timeframe_ns,
        ticks=sum(f.ticks for f in figs),
        candles=sum(f.candles for f in figs),
        decisions=sum(f.decisions for f in figs),
        signals=sum(f.signals for f in figs),
        currency=first.currency,
        starting_equity=sum((f.starting_equity for f in figs), Decimal(0)),
        final_equity=sum((f.final_equity for f in figs), Decimal(0)),
        realized_pnl=None
        if any(f.realized_pnl is None for f in figs)
        else sum((f.realized_pnl or Decimal(0) for f in figs), Decimal(0)),
        realized_by_currency=_add_money([f.realized_by_currency for f in figs]),
        pnl_currencies={k: v for f in figs for k, v in f.pnl_currencies.items()},
        pnl_rates=rates,
        fees_paid=fees.total,
        fees_by_currency=dict(fees.by_currency),
        fees_not_converted=fees.error,
        funding_paid=sum((f.funding_paid for f in figs), Decimal(0)),
        equity_curve=merge_curves(
            [f.equity_curve for f in figs], [float(f.starting_equity) for f in figs]
        ),
        closed_trades=sorted(
            (t for f in figs for t in f.closed_trades), key=lambda t: (t[0], t[1])
        ),
        fills=sorted((x for f in figs for x in f.fills), key=lambda x: x.ts_ns),
        evaluated=sum(f.evaluated for f in figs),
        rejected=_add([f.rejected for f in figs]),
        vetoes=_add([f.vetoes for f in figs]),
        entries_sent=sum(f.entries_sent for f in figs),
        open_positions=sum(f.open_positions for f in figs),
        last_ts_ns=max(lasts) if lasts else None,
        data_gaps=sum(f.data_gaps for f in figs),
        bad_rows=sum(f.bad_rows for f in figs),
        overlays=first.overlays,
        panes=first.panes,
        halted_at_ns=min(halts) if halts else None,
    )


def merge_results(run_id: str, groups: Sequence[GroupResult], journal: Path | None) -> Any:
    """One :class:`~tradewind.trading.engine.RunResult` for the report and the summary."""
    from tradewind.report.metrics import summarize
    from tradewind.trading.engine import RunResult

    figures = merge_figures(run_id, groups)
    res = [g.result for g in groups]

    def union(name: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for r in res:
            out.update(getattr(r, name))
        return out

    return RunResult(
        run_id=run_id,
        summary=summarize(figures),
        equity_curve=list(figures.equity_curve),
        closed_trades=list(figures.closed_trades),
        fills=list(figures.fills),
        price_curve=union("price_curve"),
        data_gaps=[x for r in res for x in r.data_gaps],
        bad_rows=[x for r in res for x in r.bad_rows],
        candles=union("candles"),
        series=union("series"),
        order_tags=union("order_tags"),
        funding=sorted((x for r in res for x in r.funding), key=lambda x: (x[0], x[1])),
        # The report reads signals and vetoes of its run id from the journal: a split run's
        # rows are under its groups' ids, so the report does not read them back.
        journal_path=None,
    )


def write_journal(path: Path, groups: Sequence[GroupResult]) -> None:
    """Append every group's rows to the DuckDB journal at ``path``, in group order, in one
    transaction (all or nothing)."""
    from tradewind.journal.store import TABLES, open_backend

    backend = open_backend(path, read_only=False)
    con = backend.con
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            for table in TABLES:
                for g in groups:
                    cols, rows = g.rows[table]
                    if rows:
                        names = ", ".join(cols)
                        marks = ", ".join("?" * len(cols))
                        con.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()


def free_run_id(path: Path, base: str, n: int) -> str:
    """``base``, or ``base-K`` for the first K whose group run ids the journal at ``path`` does
    not hold yet (the same backtest again into the same journal)."""
    if not path.exists():
        return base
    import duckdb

    from tradewind.errors import JournalError
    from tradewind.journal.store import Journal

    try:
        con = Journal.open_readonly(path)
    except (JournalError, duckdb.Error):  # not a journal (yet): no run id is taken
        return base
    try:
        taken = {r[0] for r in con.query("SELECT run_id FROM runs")}
    finally:
        con.close()
    candidate, k = base, 1
    while any(f"g{i}-{candidate}" in taken for i in range(n)):
        k += 1
        candidate = f"{base}-{k}"
    return candidate


# -- the command ----------------------------------------------------------------------------
def run_split_backtest(
    config: Any,
    journal: Path,
    out_dir: Path,
    *,
    cluster: str | None,
    jobs: int | None = None,
    console: Any = None,
) -> tuple[Any, tuple[Path, Path]]:
    """``tradewind backtest`` of a config whose instruments are independent books: refuse a
    shared-capital config of several instruments, run each book (inline or on ``cluster``),
    append the books' rows to ``journal``, write the merged report to ``out_dir``. Returns the
    merged result and the report's (json, html) paths."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tradewind.config import read_toml
    from tradewind.report.metrics import write_report
    from tradewind.trading.engine import Engine
    from tradewind.trading.lifecycle import backtest_run_id

    why = split_refusal(config)
    if why is not None:
        where = f"--cluster {cluster}" if cluster else "a split backtest"
        raise ConfigError(f"{config.path.name} cannot run as {where}: {why} @ $.run.capital")
    raw = read_toml(Path(config.path))
    base = backtest_run_id(config, Engine(config, run_id="split-plan").venues.values())
    n = len(config.instruments)
    tasks = plan_groups(config, raw, free_run_id(journal, base, n))
    console = console or Console()
    progress = Progress(
        TextColumn("backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("instruments"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        bar = progress.add_task("groups", total=len(tasks))
        groups = run_groups(tasks, cluster, jobs=jobs, on_done=lambda _t: progress.advance(bar))
    write_journal(journal, groups)
    run_id = tasks[0].run_id.split("-", 1)[1]
    result = merge_results(run_id, groups, journal)
    return result, write_report(result, out_dir)
