"""Parameter sweeps: a grid of config values, every variant backtested in parallel processes
on an in-sample and an out-of-sample time window, ranked by a metric.

A sweep file names config values by dotted path into the config's TOML and lists the values
to try (see docs/report.md)::

    [grid]
    "strategy.stop_pct" = [0.003, 0.005]
    "exits.trailing.trail_pct" = [0.004, 0.006]

    [sweep]              # optional defaults; command-line options win
    metric = "sharpe"
    split = 0.7
    jobs = 4

Each combination of values is a variant. The replayed data is cut at ``split`` of its time
span: every variant runs on ``[start, cut)`` (in-sample) and on ``[cut, end)``
(out-of-sample), bounded through ``[run] start``/``end``. Workers are spawned processes; each
gets the raw TOML dict and the variant's overrides, writes them to a temporary config file,
loads it and runs the engine, so a variant's result equals a single run of the same config.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import math
import multiprocessing
import os
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from tradewind.errors import ConfigError, TradewindError

#: Metrics a sweep can rank by, and whether higher is better.
METRICS: dict[str, bool] = {
    "sharpe": True,
    "sortino": True,
    "total_return": True,
    "profit_factor": True,
    "expectancy": True,
    "win_rate": True,
    "max_drawdown": False,
}
#: Metrics that are fractions, shown in percent.
_FRACTIONS = frozenset({"total_return", "max_drawdown", "win_rate"})
DEFAULT_METRIC = "sharpe"
DEFAULT_SPLIT = 0.7
#: Tables a grid path may create when the config does not have them.
_CORE_TABLES = ("run", "strategy")
_PLUGIN_KINDS = ("venues", "aggregators", "analyzers", "filters", "exits", "notifiers")
#: Sweep variants log only critical events; the config's notifiers do not run.
_SWEEP_NOTIFIERS = {"log": {"plugin": "log", "min_severity": "critical"}}


# -- the sweep file -----------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class SweepSpec:
    """A parsed sweep file: the grid (path → values, in file order) and optional defaults."""

    grid: Mapping[str, Sequence[Any]]
    metric: str | None = None
    split: float | None = None
    jobs: int | None = None

    def variants(self) -> list[dict[str, Any]]:
        """Every combination of grid values, the last path varying fastest."""
        paths = list(self.grid)
        return [
            dict(zip(paths, combo, strict=True))
            for combo in itertools.product(*(self.grid[p] for p in paths))
        ]


def read_sweep(path: Path) -> SweepSpec:
    """Parse a sweep file; errors name the file and the key."""
    from tradewind.config import read_toml

    raw = read_toml(path)
    unknown = sorted(set(raw) - {"grid", "sweep"})
    if unknown:
        raise ConfigError(
            f"{path.name}: unknown table or key '{unknown[0]}' (a sweep file has [grid] and an "
            f"optional [sweep])"
        )
    table = raw.get("grid")
    if not isinstance(table, dict) or not table:
        raise ConfigError(
            f'{path.name}: no [grid] table; add e.g. [grid] "strategy.stop_pct" = [0.003, 0.005]'
        )
    grid: dict[str, list[Any]] = {}
    _flatten(table, "", grid, path.name)
    opts = raw.get("sweep", {})
    if not isinstance(opts, dict):
        raise ConfigError(f"{path.name}: [sweep] must be a table")
    extra = sorted(set(opts) - {"metric", "split", "jobs"})
    if extra:
        raise ConfigError(
            f"{path.name}: unknown key '{extra[0]}' in [sweep] (known: metric, split, jobs)"
        )
    metric, split, jobs = opts.get("metric"), opts.get("split"), opts.get("jobs")
    if metric is not None and not isinstance(metric, str):
        raise ConfigError(f"{path.name}: [sweep] metric must be a string")
    if split is not None and (isinstance(split, bool) or not isinstance(split, int | float)):
        raise ConfigError(f"{path.name}: [sweep] split must be a number")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int)):
        raise ConfigError(f"{path.name}: [sweep] jobs must be an integer")
    return SweepSpec(
        grid=grid,
        metric=metric,
        split=None if split is None else float(split),
        jobs=jobs,
    )


def _flatten(table: Mapping[str, Any], prefix: str, out: dict[str, list[Any]], name: str) -> None:
    # Quoted keys ("exits.trailing.trail_pct") and dotted or nested tables mean the same path.
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, f"{path}.", out, name)
        elif isinstance(value, list):
            if not value:
                raise ConfigError(f'{name}: grid path "{path}" has no values')
            out[path] = value
        else:
            raise ConfigError(
                f'{name}: grid path "{path}" needs a list of values, e.g. "{path}" = [{value!r}]'
            )


# -- overrides ----------------------------------------------------------------------------
def check_path(raw: Mapping[str, Any], path: str) -> None:
    """Refuse a grid path that cannot name a config value; the error names the path.

    A plugin path must name an existing instance table (``exits.trailing``); below it, and
    in ``[run]``/``[strategy]``, missing tables are created and the key is checked when the
    config loads. List items are addressed by index (``instruments.0.taker_fee``).
    """
    parts = path.split(".")
    if any(not p for p in parts):
        raise ConfigError(f'grid path "{path}" has an empty segment')
    head = parts[0]
    if head == "notifiers":
        raise ConfigError(f'grid path "{path}": notifiers do not run in sweeps')
    if path in ("run.start", "run.end"):
        raise ConfigError(
            f'grid path "{path}": the sweep sets [run] start/end from --split; bound the data '
            f"with [run] start/end in the config instead"
        )
    if head in _PLUGIN_KINDS:
        kind_table = raw.get(head)
        if len(parts) < 3 or not isinstance(kind_table, dict) or parts[1] not in kind_table:
            have = ", ".join(kind_table) if isinstance(kind_table, dict) and kind_table else "none"
            instance = parts[1] if len(parts) > 1 else "?"
            raise ConfigError(
                f'grid path "{path}" names no config value: the config has no [{head}.{instance}] '
                f"table (its {head}: {have})"
            )
    node: Any = raw
    walked: list[str] = []
    for part in parts[:-1]:
        walked.append(part)
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f'grid path "{path}": {".".join(walked[:-1])} is a list of {len(node)} '
                    f"items; '{part}' is not an index into it"
                )
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                return  # created on assignment; the loaded config checks the key
            node = node[part]
        else:
            raise ConfigError(
                f'grid path "{path}": {".".join(walked[:-1])} is a value, not a table'
            )
    if not isinstance(node, dict | list):
        raise ConfigError(f'grid path "{path}": {".".join(walked)} is a value, not a table')
    if isinstance(node, list) and (not parts[-1].isdigit() or int(parts[-1]) >= len(node)):
        raise ConfigError(f"grid path \"{path}\": '{parts[-1]}' is not an index into the list")


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``raw`` with each dotted path set to its value."""
    out = copy.deepcopy(dict(raw))
    for path, value in overrides.items():
        parts = path.split(".")
        node: Any = out
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(parts[-1])] = copy.deepcopy(value)
        else:
            node[parts[-1]] = copy.deepcopy(value)
    return out


def dumps_toml(data: Mapping[str, Any]) -> str:
    """TOML text for a dict as ``tomllib`` returns it (tables written inline, in order)."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in data.items())


def _toml_key(key: str) -> str:
    return _toml_str(str(key))


def _toml_str(text: str) -> str:
    # JSON string escapes are TOML basic-string escapes; TOML also forbids a raw DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} {v!r} as TOML")


# -- one run ------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class VariantTask:
    """One run of a sweep: everything a spawned worker needs, all picklable."""

    index: int
    window: str
    raw: Mapping[str, Any]
    overrides: Mapping[str, Any]
    config_path: str
    start: str | None
    end: str | None
    run_id: str


def variant_config_text(task: VariantTask) -> str:
    """The TOML of a task's config: overrides, the time window, sweep notifiers."""
    raw = apply_overrides(task.raw, task.overrides)
    run = raw.setdefault("run", {})
    for key in ("start", "end"):
        value = getattr(task, key)
        if value is None:
            run.pop(key, None)
        else:
            run[key] = value
    raw["notifiers"] = copy.deepcopy(_SWEEP_NOTIFIERS)
    return dumps_toml(raw)


def run_variant(task: VariantTask) -> dict[str, Any]:
    """Run one task (in a worker process or inline) and return the run's summary.

    The config is loaded from a temporary file named like the original, then given the
    original's path, so relative paths in it resolve as they do for the original.
    """
    import anyio

    from tradewind.config import load_config
    from tradewind.trading.engine import Engine
    from tradewind.venues.replay import apply_run_bounds

    with tempfile.TemporaryDirectory(prefix="tradewind-sweep-") as tmp:
        path = Path(tmp) / Path(task.config_path).name
        path.write_text(variant_config_text(task), encoding="utf-8")
        # Path options (the replayed data) resolve against the original's folder.
        cfg = load_config(path, base_dir=Path(task.config_path).parent)
        cfg = apply_run_bounds(attrs.evolve(cfg, path=Path(task.config_path)))
        engine = Engine(cfg, run_id=task.run_id, journal_path=str(Path(tmp) / "journal.duckdb"))
        result = anyio.run(engine.run)
    return dict(result.summary)


# -- the sweep ----------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class SweepRow:
    """One variant's results, ranked by the in-sample metric."""

    rank: int
    index: int
    overrides: Mapping[str, Any]
    in_sample: Mapping[str, Any]
    out_of_sample: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class SweepResult:
    """A finished sweep: ranked rows, the split, and where sweep.json was written."""

    metric: str
    higher_is_better: bool
    split: Mapping[str, Any]
    rows: Sequence[SweepRow]
    path: Path


def metric_value(summary: Mapping[str, Any], metric: str) -> float | None:
    """The numeric value of ``metric`` in a run summary (Decimal strings parsed), or None."""
    v = summary.get(metric)
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(Decimal(str(v)))
    except (InvalidOperation, ValueError):
        return None
    return f if math.isfinite(f) else None


def format_time_bound(ts_ns: int) -> str:
    """An ISO datetime in UTC with nanoseconds, as ``[run] start``/``end`` accept."""
    sec, frac = divmod(ts_ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(sec, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z" if frac else f"{stamp}Z"


async def _data_span(config: Any) -> tuple[int, int]:
    from tradewind.model import Instrument
    from tradewind.trading.engine import Engine

    engine = Engine(config, run_id="sweep-span")
    by_venue: dict[str, list[Instrument]] = {}
    for st in engine.state.values():
        by_venue.setdefault(st.data_venue, []).append(st.instrument)
    lo: int | None = None
    hi: int | None = None
    for key, insts in by_venue.items():
        venue = engine.venues[key]
        if "replay" not in venue.capabilities:
            raise ConfigError(
                f"a sweep splits replayed data by time, but venue instance '{key}' is not a "
                f"replay source @ $.venues.{key}"
            )
        await venue.connect()
        try:
            async for batch in venue.stream_trades(insts):
                if len(batch):
                    lo = batch.first_ts if lo is None else min(lo, batch.first_ts)
                    hi = batch.last_ts if hi is None else max(hi, batch.last_ts)
        finally:
            await venue.close()
    if lo is None or hi is None:
        raise ConfigError("a sweep needs data: the replay sources have no trades in [run] bounds")
    return lo, hi


def run_sweep(
    config_path: Path,
    sweep_path: Path,
    *,
    metric: str | None = None,
    jobs: int | None = None,
    split: float | None = None,
    out_dir: Path | None = None,
    console: Any = None,
    cluster: str | None = None,
) -> SweepResult:
    """Run every variant of the sweep in-sample and out-of-sample, rank, print, save.

    :param config_path: the base config (mode must be backtest).
    :param sweep_path: the sweep file (``[grid]``, optional ``[sweep]``).
    :param metric: what to rank by (see :data:`METRICS`); default the file's, else sharpe.
    :param jobs: worker processes; default the file's, else one per CPU (at most one per run).
    :param split: in-sample fraction of the data's time span; default the file's, else 0.7.
    :param out_dir: where sweep.json goes; default the config's ``[run] report_dir``.
    :param cluster: run the variants on a Dask scheduler (``tcp://HOST:8786``) or on
        ``local`` Dask worker processes (``jobs`` of them) instead of a process pool
        (:mod:`tradewind.sweep_dask`).
    """
    import anyio
    from rich.console import Console

    from tradewind.config import Mode, load_config, read_toml
    from tradewind.venues.replay import apply_run_bounds, parse_time_bound

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)  # a piped table keeps its columns whole
    spec = read_sweep(sweep_path)
    metric = metric or spec.metric or DEFAULT_METRIC
    if metric not in METRICS:
        raise ConfigError(f"unknown sweep metric '{metric}'; choose one of {', '.join(METRICS)}")
    split = split if split is not None else spec.split if spec.split is not None else DEFAULT_SPLIT
    if not 0 < split < 1:
        raise ConfigError(f"split must be between 0 and 1 (exclusive), got {split}")
    raw = read_toml(config_path)
    base = load_config(config_path)
    if base.mode is not Mode.BACKTEST:
        raise ConfigError(
            f'{config_path.name} has mode = "{base.mode.value}"; a sweep needs mode = "backtest"'
        )
    _check_grid(raw, spec, config_path, sweep_path)

    lo, hi = anyio.run(_data_span, apply_run_bounds(base))
    cut = lo + math.floor(split * (hi - lo))
    if not lo < cut <= hi:
        raise ConfigError(f"the data spans too little time to split at {split}")
    cut_text = format_time_bound(cut)
    assert parse_time_bound(cut_text) == cut
    windows = {
        "in_sample": (base.run.start, cut_text),
        "out_of_sample": (cut_text, base.run.end),
    }
    variants = spec.variants()
    tasks = [
        VariantTask(
            index=i,
            window=name,
            raw=raw,
            overrides=ov,
            # Absolute: a Dask worker may run in another folder than this process.
            config_path=str(config_path.resolve()),
            start=start,
            end=end,
            run_id=f"sweep-{i:04d}-{'is' if name == 'in_sample' else 'oos'}",
        )
        for i, ov in enumerate(variants)
        for name, (start, end) in windows.items()
    ]
    jobs = jobs if jobs is not None else spec.jobs
    if jobs is None:
        jobs = min(os.cpu_count() or 1, len(tasks))
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, got {jobs}")
    results = _run_tasks(tasks, jobs, console, cluster)

    higher = METRICS[metric]
    order = sorted(
        range(len(variants)),
        key=lambda i: _rank_key(metric_value(results[(i, "in_sample")], metric), higher, i),
    )
    rows = [
        SweepRow(
            rank=r + 1,
            index=i,
            overrides=variants[i],
            in_sample=results[(i, "in_sample")],
            out_of_sample=results[(i, "out_of_sample")],
        )
        for r, i in enumerate(order)
    ]
    split_info = {
        "fraction": split,
        "data_start_ts_ns": lo,
        "data_end_ts_ns": hi,
        "split_ts_ns": cut,
        "in_sample": {"start": windows["in_sample"][0], "end": cut_text},
        "out_of_sample": {"start": cut_text, "end": windows["out_of_sample"][1]},
    }
    out = out_dir if out_dir is not None else _default_out_dir(config_path, base)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sweep.json"
    doc = {
        "config": str(config_path),
        "sweep": str(sweep_path),
        "metric": metric,
        "higher_is_better": higher,
        "split": split_info,
        "grid": {k: list(v) for k, v in spec.grid.items()},
        "variants": [
            {
                "rank": row.rank,
                "variant": row.index,
                "overrides": dict(row.overrides),
                "in_sample": dict(row.in_sample),
                "out_of_sample": dict(row.out_of_sample),
            }
            for row in rows
        ],
    }
    path.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    result = SweepResult(
        metric=metric, higher_is_better=higher, split=split_info, rows=rows, path=path
    )
    print_sweep(result, list(spec.grid), console)
    console.print(f"sweep: {path}")
    return result


def _check_grid(raw: Mapping[str, Any], spec: SweepSpec, config: Path, sweep: Path) -> None:
    """Every path names a config value and every value loads; errors name the path."""
    from tradewind.config import load_config

    with tempfile.TemporaryDirectory(prefix="tradewind-sweep-check-") as tmp:
        probe = Path(tmp) / config.name
        for path, values in spec.grid.items():
            try:
                check_path(raw, path)
            except ConfigError as exc:
                raise ConfigError(f"{sweep.name}: {exc} ({config.name})") from None
            for value in values:
                probe.write_text(dumps_toml(apply_overrides(raw, {path: value})), encoding="utf-8")
                try:
                    load_config(probe)
                except ConfigError as exc:
                    raise ConfigError(
                        f'{sweep.name}: grid path "{path}" = {value!r} does not load in '
                        f"{config.name}: {exc}"
                    ) from None


def _rank_key(value: float | None, higher: bool, index: int) -> tuple[int, float, int]:
    # Undefined values rank last; ties keep grid order.
    if value is None:
        return (1, 0.0, index)
    return (0, -value if higher else value, index)


def _default_out_dir(config_path: Path, config: Any) -> Path:
    from tradewind.cli import default_config_path

    if config_path.resolve() == default_config_path().resolve():
        return Path(config.run.report_dir)  # the embedded default: write into the cwd
    return Path(config.resolve(config.run.report_dir))


def _run_tasks(
    tasks: Sequence[VariantTask], jobs: int, console: Any, cluster: str | None = None
) -> dict[tuple[int, str], dict[str, Any]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    results: dict[tuple[int, str], dict[str, Any]] = {}
    progress = Progress(
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        bar = progress.add_task("runs", total=len(tasks))
        if cluster is not None:
            from tradewind.sweep_dask import run_on_cluster

            def finished(task: VariantTask, summary: dict[str, Any]) -> None:
                results[(task.index, task.window)] = summary
                progress.advance(bar)

            run_on_cluster(
                tasks,
                cluster,
                jobs=jobs,
                run=run_variant,
                on_done=finished,
                on_error=_variant_error,
            )
            return results
        if jobs == 1:
            for task in tasks:
                results[(task.index, task.window)] = _guarded(task)
                progress.advance(bar)
            return results
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures: dict[Future[dict[str, Any]], VariantTask] = {
                pool.submit(run_variant, t): t for t in tasks
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in done:
                    task = futures[fut]
                    exc = fut.exception()
                    if exc is not None:
                        for other in pending:
                            other.cancel()
                        raise _variant_error(task, exc) from exc
                    results[(task.index, task.window)] = fut.result()
                    progress.advance(bar)
    return results


def _guarded(task: VariantTask) -> dict[str, Any]:
    try:
        return run_variant(task)
    except Exception as exc:
        raise _variant_error(task, exc) from exc


def _variant_error(task: VariantTask, exc: BaseException) -> TradewindError:
    where = ", ".join(f"{k}={v!r}" for k, v in task.overrides.items())
    message = f"sweep variant {task.index} ({where}), {task.window.replace('_', '-')}: {exc}"
    cls = type(exc) if isinstance(exc, TradewindError) else TradewindError
    try:
        return cls(message)
    except TypeError:
        return TradewindError(message)


def print_sweep(result: SweepResult, paths: Sequence[str], console: Any) -> None:
    """The ranked table: grid values, the metric in- and out-of-sample, returns, trades."""
    from rich.table import Table

    m = result.metric
    arrow = "↓" if result.higher_is_better else "↑"
    table = Table(title=f"sweep ranked by in-sample {m} ({arrow})")
    table.add_column("#", justify="right")
    for p in paths:
        table.add_column(p, justify="right", overflow="fold")
    shown = [m] if m == "total_return" else [m, "total_return"]
    for key in shown:
        label = "return" if key == "total_return" else key
        table.add_column(f"IS {label}", justify="right")
        table.add_column(f"OOS {label}", justify="right")
    table.add_column("IS trades", justify="right")
    table.add_column("OOS trades", justify="right")
    for row in result.rows:
        cells = [str(row.rank)] + [str(row.overrides[p]) for p in paths]
        for key in shown:
            fmt = _pct if key in _FRACTIONS else _cell
            cells += [
                fmt(metric_value(row.in_sample, key)),
                fmt(metric_value(row.out_of_sample, key)),
            ]
        cells += [str(row.in_sample.get("trades", "")), str(row.out_of_sample.get("trades", ""))]
        table.add_row(*cells)
    console.print(table)


def _cell(v: float | None) -> str:
    return "–" if v is None else f"{v:,.3f}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:,.3f}%"
