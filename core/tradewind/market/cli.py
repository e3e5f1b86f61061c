"""``tradewind data``: import recorded trades into a market store, inspect it, synthesise ticks.

::

    tradewind data import FILE... --store DIR [--format F] [--exchange X] [--market spot|perp]
                                              [--symbol S] [--max-bad N]
                                              [--max-backwards-ms MS]
    tradewind data info --store DIR [--gap SECONDS]
    tradewind data synth --like SAMPLE --hours N --seed S --out FILE.parquet|STORE_DIR

Rows an import rejects are counted per symbol in ``_rejections.json`` next to the symbol's
date folders (``<store>/exchange=X/market=M/symbol=S/``, the store's own layout), so
``data info`` reports them later and dropping a symbol's folder drops them too. Rows of a
multi-symbol file that cannot be told apart by symbol (an unparseable line) are counted in
``<store>/_rejections.json``.

``--store`` of ``import`` and ``info`` also takes a ``postgresql://`` URL (the market store on
PostgreSQL, :mod:`tradewind.market.postgres`); the rejection records are then rows of its
``market_rejections`` table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from tradewind.errors import DataError
from tradewind.market.importers import FORMATS, MARKETS, ImportResult, load
from tradewind.model.ticks import TickBatch

__all__ = ["add_data_commands"]

_NS = 1_000_000_000
_REJECTIONS = "_rejections.json"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_WIDTH = 160


def add_data_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``data`` command and its subcommands to the main parser's subcommands."""
    data = subparsers.add_parser(
        "data",
        help="import trade files into a market store, inspect it, synthesise ticks",
        description="Market data: import recorded trades, inspect a store, synthesise ticks.",
    )
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")

    p = sub.add_parser(
        "import",
        help="import trade files into a market store",
        description="Import trade files (format recognised from the content) into a market "
        "store. Bad rows are listed as FILE:LINE: reason and the rest imported; trades already "
        "in the store are skipped. Exits non-zero only if no file yielded any trade.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", type=Path)
    p.add_argument(
        "--store",
        required=True,
        type=store_target,
        metavar="DIR_OR_URL",
        help="market store root, or a postgresql:// URL (password from PGPASSWORD)",
    )
    p.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default=None,
        help="the files' format (default: recognised from the content)",
    )
    p.add_argument("--exchange", default=None, help="exchange to record (default: the file's)")
    p.add_argument(
        "--market", choices=MARKETS, default=None, help="market to record (default: the file's)"
    )
    p.add_argument(
        "--symbol",
        default=None,
        help="keep only this symbol (multi-symbol files) or name the trades "
        "(files whose name does not say)",
    )
    p.add_argument(
        "--max-bad",
        type=int,
        default=20,
        metavar="N",
        help="bad rows to list per file (default 20; all are counted)",
    )
    p.add_argument(
        "--max-backwards-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="sort a trade up to MS behind an earlier line's time into place "
        "(venues that publish slightly out of order); further back it is a bad "
        "row (default 0)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "info",
        help="rows, span, gaps and rejected rows per symbol of a market store",
    )
    p.add_argument(
        "--store",
        required=True,
        type=store_target,
        metavar="DIR_OR_URL",
        help="market store root, or a postgresql:// URL (password from PGPASSWORD)",
    )
    p.add_argument(
        "--gap",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="report silences longer than this (default 60 s)",
    )
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "synth",
        help="generate synthetic ticks calibrated on a real sample",
        description="Calibrate on a sample (a trades file, or a store with --symbol) and "
        "generate HOURS of ticks, the same for the same seed. --out ending in .parquet writes "
        "a tradewind ticks file; anything else is a market store directory.",
    )
    p.add_argument(
        "--like",
        required=True,
        type=Path,
        metavar="SAMPLE",
        help="a trades file, or a market store directory",
    )
    p.add_argument("--hours", required=True, type=float)
    p.add_argument("--seed", required=True, type=int)
    p.add_argument("--out", required=True, type=Path, metavar="FILE_OR_STORE")
    p.add_argument("--symbol", default=None, help="the sample's symbol (if it has several)")
    p.add_argument(
        "--exchange",
        default=None,
        help="the sample's exchange (store samples; default: the only one)",
    )
    p.add_argument(
        "--market",
        choices=MARKETS,
        default=None,
        help="the sample's market (store samples; default: the only one)",
    )
    p.add_argument(
        "--out-exchange",
        default="synth",
        help="exchange name of the output (default 'synth', never mixed with real data)",
    )
    p.add_argument(
        "--instrument", default=None, help="symbol of the output (default: the sample's)"
    )
    p.add_argument(
        "--start",
        default=None,
        help="time of the first tick: ISO date/time (UTC) or epoch ns "
        "(default: the sample's first trade)",
    )
    p.add_argument(
        "--block",
        type=float,
        default=200.0,
        help="mean bootstrap block length in trades (default 200)",
    )
    p.add_argument(
        "--keep-drift", action="store_true", help="keep the sample's trend instead of removing it"
    )
    p.set_defaults(func=cmd_synth)

    from tradewind.market.download import add_download_command

    add_download_command(sub)

    def _usage(args: argparse.Namespace) -> int:
        data.print_help(sys.stderr)
        return 64

    data.set_defaults(func=_usage)


# ---------------------------------------------------------------------------------------------
# Formatting


def _console() -> Any:
    from rich.console import Console

    return Console(width=_WIDTH, highlight=False)


def fmt_ts(ts_ns: int) -> str:
    """A UTC timestamp with milliseconds, ``2020-02-22 00:00:02.111``."""
    t = _EPOCH + dt.timedelta(microseconds=ts_ns // 1000)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def fmt_span(ns: int) -> str:
    """A duration as ``2d 03h 04m 05s`` / ``4m 05.2s``, largest unit first."""
    seconds = ns / _NS
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m {sec:02d}s"
    if hours:
        return f"{hours}h {minutes:02d}m {sec:02d}s"
    return f"{minutes}m {sec:02d}s"


def _parse_start(text: str | None) -> int | None:
    if text is None:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise DataError(f"--start {text!r} is neither epoch ns nor an ISO date/time") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000


# ---------------------------------------------------------------------------------------------
# Rejection counts kept in the store


def symbol_dir(root: Path, exchange: str, market: str, symbol: str) -> Path:
    """A symbol's folder in the store (percent-encoded values, as MarketStore lays them out)."""
    return (
        root
        / f"exchange={quote(exchange, safe='')}"
        / f"market={quote(market, safe='')}"
        / f"symbol={quote(symbol, safe='')}"
    )


def read_rejections(path: Path) -> dict[str, Any]:
    """The rejection record at ``path`` (empty if none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"total": {}, "imports": []}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable rejection record ({exc})") from exc
    return data if isinstance(data, dict) else {"total": {}, "imports": []}


def store_target(text: str) -> Path | str:
    """A ``--store`` argument: a folder, or a ``postgresql://`` URL (a password written in
    it is refused: libpq reads it from ``PGPASSWORD``)."""
    from tradewind.journal.postgres import is_url, redact

    if not is_url(text):
        return Path(text)
    if redact(text) != text:
        raise argparse.ArgumentTypeError(
            f"{redact(text)}: do not write the password in the url; export PGPASSWORD"
        )
    return text


def _add_entry(data: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    total = Counter(data.get("total", {}))
    total.update(entry["rejected"])
    data["total"] = dict(sorted(total.items()))
    data.setdefault("imports", []).append(entry)
    return data


def _record(store: Any, key: tuple[str, str, str], entry: dict[str, Any]) -> None:
    """Add an import's rejection counts to ``key``'s record (``("", "", "")``: rows of
    multi-symbol files) in the store: a table on PostgreSQL, a file beside the parquet parts."""
    from tradewind.market.postgres import PgMarketStore

    if isinstance(store, PgMarketStore):
        store.write_rejections(key, _add_entry(store.read_rejections(key), entry))
    elif key[2]:
        record_rejections(symbol_dir(store.root, *key) / _REJECTIONS, entry)
    else:
        record_rejections(store.root / _REJECTIONS, entry)


def record_rejections(path: Path, entry: dict[str, Any]) -> None:
    """Add one import's rejection counts to the record at ``path`` (written atomically)."""
    data = _add_entry(read_rejections(path), entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# import


def _already_stored(stored: TickBatch, batch: TickBatch) -> np.ndarray:
    """Mask of ``batch`` ticks whose (trade id, time) the store already holds."""
    if len(stored) == 0:
        return np.zeros(len(batch), dtype=bool)
    cand = np.isin(batch.trade_id, stored.trade_id)
    if not cand.any():
        return cand
    at = dict(zip(stored.trade_id.tolist(), stored.ts_ns.tolist(), strict=True))
    idx = np.flatnonzero(cand)
    same = np.array(
        [
            at.get(i) == t
            for i, t in zip(batch.trade_id[idx].tolist(), batch.ts_ns[idx].tolist(), strict=True)
        ]
    )
    cand[idx] = same
    return cand


def _import_one(store: Any, result: ImportResult, rows: list[list[str]]) -> tuple[int, int]:
    """Validate and append one import result; returns (ticks written, ticks already stored)."""
    from tradewind.market.validation import validate

    written = skipped = 0
    symbols = list(result.batches)
    for symbol, batch in result.batches.items():
        checked = validate(batch)
        clean = checked.clean
        stored = store.read_ticks(
            result.exchange,
            result.market,
            symbol,
            clean.first_ts if len(clean) else None,
            clean.last_ts + 1 if len(clean) else None,
        )
        dup = _already_stored(stored, clean)
        if dup.any():
            keep = ~dup
            clean = TickBatch(
                instrument=clean.instrument,
                ts_ns=clean.ts_ns[keep],
                price=clean.price[keep],
                size=clean.size[keep],
                side=clean.side[keep],
                trade_id=clean.trade_id[keep],
            )
        store.append(result.exchange, result.market, symbol, clean)
        rejected = Counter(checked.rejected)
        if len(symbols) == 1 and result.bad_rows:
            rejected["bad_row"] += len(result.bad_rows)
        if rejected:
            _record(
                store,
                (result.exchange, result.market, symbol),
                {
                    "file": str(result.path),
                    "format": result.format,
                    "imported": len(clean),
                    "rejected": dict(rejected),
                },
            )
        written += len(clean)
        skipped += int(dup.sum())
        rows.append(
            [
                str(result.path),
                result.format,
                f"{result.exchange}/{result.market}",
                symbol,
                f"{len(clean):,}",
                f"{int(dup.sum()):,}",
                f"{sum(rejected.values()):,}",
            ]
        )
    if len(symbols) != 1 and result.bad_rows:
        _record(
            store,
            ("", "", ""),
            {
                "file": str(result.path),
                "format": result.format,
                "imported": 0,
                "rejected": {"bad_row": len(result.bad_rows)},
            },
        )
        rows.append(
            [
                str(result.path),
                result.format,
                f"{result.exchange}/{result.market}",
                "(file)",
                "0",
                "0",
                f"{len(result.bad_rows):,}",
            ]
        )
    store.flush()
    return written, skipped


def cmd_import(args: argparse.Namespace) -> int:
    """``data import``: returns 0 if any file yielded trades, 4 (data error) if none did."""
    from rich.table import Table

    from tradewind.market.store import open_store

    console = _console()
    readable = 0
    written = skipped = 0
    failed: list[str] = []
    rows: list[list[str]] = []
    bad_listing: list[str] = []
    store = open_store(args.store)
    try:
        for path in args.files:
            try:
                result = load(
                    path,
                    args.format,
                    symbol=args.symbol,
                    exchange=args.exchange,
                    market=args.market,
                    max_backwards_ns=int(args.max_backwards_ms * 1_000_000),
                )
            except DataError as exc:
                failed.append(str(exc))
                print(f"error: {exc}", file=sys.stderr)
                continue
            if result.rows == 0 and not result.bad_rows and not result.ignored:
                print(
                    f"error: {path}: the file holds no trades (nothing after its header)",
                    file=sys.stderr,
                )
            readable += result.rows
            w, s = _import_one(store, result, rows)
            written, skipped = written + w, skipped + s
            bad = result.bad_rows
            bad_listing.extend(str(b) for b in bad[: max(args.max_bad, 0)])
            if len(bad) > args.max_bad:
                bad_listing.append(f"... and {len(bad) - args.max_bad:,} more bad rows in {path}")
    finally:
        store.close()

    if rows:
        table = Table(title=f"import into {args.store}")
        for col, justify in (
            ("file", "left"),
            ("format", "left"),
            ("exchange/market", "left"),
            ("symbol", "left"),
            ("imported", "right"),
            ("already stored", "right"),
            ("rejected", "right"),
        ):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for row in rows:
            table.add_row(*row)
        console.print(table)
    if bad_listing:
        print("bad rows (not imported):")
        for line in bad_listing:
            print(f"  {line}")
    print(
        f"imported {written:,} trades from {len(args.files) - len(failed)} of "
        f"{len(args.files)} files" + (f"; {skipped:,} were already in the store" if skipped else "")
    )
    return 0 if readable else DataError.exit_code


# ---------------------------------------------------------------------------------------------
# info


def _rejection_records(root: Path) -> dict[tuple[str, str, str], dict[str, int]]:
    from urllib.parse import unquote

    out: dict[tuple[str, str, str], dict[str, int]] = {}
    for path in sorted(root.glob(f"exchange=*/market=*/symbol=*/{_REJECTIONS}")):
        sym, mk, ex = path.parent, path.parent.parent, path.parent.parent.parent
        key = tuple(unquote(d.name.split("=", 1)[1]) for d in (ex, mk, sym))
        out[key] = dict(read_rejections(path).get("total", {}))  # type: ignore[index]
    return out


def cmd_info(args: argparse.Namespace) -> int:
    """``data info``: one row per symbol; gaps and rejection reasons listed below."""
    from rich.table import Table

    from tradewind.market.postgres import PgMarketStore
    from tradewind.market.store import open_store

    root: Path | str = args.store
    if isinstance(root, Path) and not root.is_dir():
        raise DataError(f"no market store at {root}")
    store = open_store(root)
    try:
        infos = store.info(gap_ns=int(args.gap * _NS))
        if isinstance(store, PgMarketStore):
            root = store.url
            rejections = {
                k: dict(store.read_rejections(k).get("total", {}))
                for k in store.rejection_keys()
                if k[2]
            }
            unattributed = store.read_rejections(("", "", "")).get("total", {})
        else:
            rejections = _rejection_records(Path(root))
            unattributed = read_rejections(Path(root) / _REJECTIONS).get("total", {})
    finally:
        store.close()
    if not infos and not rejections:
        print(f"{root}: the store holds no ticks")
        return 0

    table = Table(title=f"market store {root}")
    for col, justify in (
        ("exchange", "left"),
        ("market", "left"),
        ("symbol", "left"),
        ("rows", "right"),
        ("first (UTC)", "left"),
        ("last (UTC)", "left"),
        ("span", "right"),
        (f"gaps > {args.gap:g} s", "right"),
        ("longest gap", "right"),
        ("rejected", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    seen = set()
    details: list[str] = []
    for info in infos:
        key = (info.exchange, info.market, info.symbol)
        seen.add(key)
        rej = rejections.get(key, {})
        longest = max((b - a for a, b in info.gaps), default=0)
        table.add_row(
            info.exchange,
            info.market,
            info.symbol,
            f"{info.rows:,}",
            fmt_ts(info.first_ts_ns),
            fmt_ts(info.last_ts_ns),
            fmt_span(info.span_ns),
            str(len(info.gaps)),
            fmt_span(longest) if info.gaps else "-",
            f"{sum(rej.values()):,}",
        )
        name = "/".join(key)
        for a, b in info.gaps[:10]:
            details.append(f"  {name}: gap {fmt_ts(a)} -> {fmt_ts(b)} ({fmt_span(b - a)})")
        if len(info.gaps) > 10:
            details.append(f"  {name}: ... and {len(info.gaps) - 10:,} more gaps")
        if rej:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(rej.items()))
            details.append(f"  {name}: rejected {reasons}")
    for key, rej in sorted(rejections.items()):
        if key not in seen:
            table.add_row(*key, "0", "-", "-", "-", "0", "-", f"{sum(rej.values()):,}")
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(rej.items()))
            details.append(f"  {'/'.join(key)}: rejected {reasons}")
    _console().print(table)
    for line in details:
        print(line)
    if unattributed:
        n = sum(int(v) for v in unattributed.values())
        print(f"  {n:,} rejected rows of multi-symbol files are not attributable to a symbol")
    return 0


# ---------------------------------------------------------------------------------------------
# synth


def _pick(options: Iterable[str], wanted: str | None, what: str, where: object) -> str:
    values = sorted(set(options))
    if wanted is not None:
        if wanted not in values:
            raise DataError(f"{where}: no {what} {wanted!r}; it has {', '.join(values) or 'none'}")
        return wanted
    if len(values) != 1:
        raise DataError(
            f"{where}: holds {what}s {', '.join(values) or 'none'}; choose one with --{what}"
        )
    return values[0]


def _sample(args: argparse.Namespace) -> tuple[TickBatch, str, str]:
    """The sample batch, its exchange and market."""
    like: Path = args.like
    if like.is_dir():
        from tradewind.market.store import MarketStore

        store = MarketStore(like)
        try:
            keys = store.symbols()
            if args.symbol is not None:
                _pick((k[2] for k in keys), args.symbol, "symbol", like)
                keys = [k for k in keys if k[2] == args.symbol]
            exchange = _pick((k[0] for k in keys), args.exchange, "exchange", like)
            keys = [k for k in keys if k[0] == exchange]
            market = _pick((k[1] for k in keys), args.market, "market", like)
            keys = [k for k in keys if k[1] == market]
            symbol = _pick((k[2] for k in keys), args.symbol, "symbol", like)
            return store.read_ticks(exchange, market, symbol), exchange, market
        finally:
            store.close()
    result = load(like, symbol=args.symbol, exchange=args.exchange, market=args.market)
    symbol = _pick(result.batches, args.symbol, "symbol", like)
    return result.batches[symbol], result.exchange, result.market


def cmd_synth(args: argparse.Namespace) -> int:
    """``data synth``: calibrate, generate, write; prints the sample's and the output's stats."""
    from rich.table import Table

    from tradewind.market.synth import SampleStats, calibrate, generate

    sample, _, market = _sample(args)
    params = calibrate(sample, mean_block=args.block, keep_drift=args.keep_drift)
    symbol = args.instrument or sample.instrument
    try:
        out = generate(
            params, args.hours, args.seed, instrument=symbol, start_ns=_parse_start(args.start)
        )
    except ValueError as exc:
        raise DataError(f"data synth: {exc}") from exc
    target: Path = args.out
    if target.suffix == ".parquet":
        from tradewind.market.importers import ticks_parquet

        ticks_parquet.write(target, {symbol: out}, exchange=args.out_exchange, market=market)
        where = f"{target}"
    else:
        from tradewind.market.store import MarketStore

        with MarketStore(target) as store:
            store.append(args.out_exchange, market, symbol, out)
            store.flush()
        where = f"store {target} ({args.out_exchange}/{market}/{symbol})"

    got = SampleStats.of(out) if len(out) >= 3 else None
    table = Table(title=f"calibrated on {len(sample):,} trades of {sample.instrument}")
    table.add_column("statistic")
    table.add_column("sample", justify="right")
    table.add_column("synthetic", justify="right")
    for name, label in (
        ("trades_per_hour", "trades / hour"),
        ("buy_fraction", "buy fraction"),
        ("buy_volume_fraction", "buy volume fraction"),
        ("same_side", "P(same side as previous)"),
        ("size_median", "median size"),
        ("return_std", "return std / trade"),
        ("zero_return_fraction", "zero-return fraction"),
        ("drift_per_trade", "drift / trade"),
    ):
        table.add_row(
            label, f"{getattr(params.stats, name):.6g}", f"{getattr(got, name):.6g}" if got else "-"
        )
    _console().print(table)
    print(
        f"wrote {len(out):,} synthetic ticks of {symbol} over {args.hours:g} h (seed "
        f"{args.seed}, tick size {params.tick_size:g}) to {where}"
    )
    return 0
