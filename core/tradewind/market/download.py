"""``tradewind data download``: trades from a ccxt exchange, or from Binance's public data
archive, into a market store; resumable.

ccxt (the ``tradewind[download]`` extra) pages an exchange's public trades either by trade id
(Binance's ``fromId``) or by time (``since``); every page is written to the store before the
next is asked for, so an interrupted download loses at most the page in flight. Run the same
command again and it resumes: by id from the highest trade id stored in the window, by time
from the newest stored trade, and trades the store already holds are never written twice.

The Binance archive (data.binance.vision's layout: ``data/<spot|futures/um|futures/cm>/daily/
<trades|aggTrades>/<SYMBOL>/<SYMBOL>-<kind>-<YYYY-MM-DD>.zip`` with a ``.CHECKSUM`` beside each)
is fetched day by day with the standard library, checked against its SHA-256 and imported by
the same importer as ``data import``. Days already imported are listed in the symbol's
``_downloads.json`` and skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import numpy as np

from tradewind.errors import ConfigError, DataError, VenueError
from tradewind.model.ticks import TickBatch

_NS_PER_MS = 1_000_000
_NS_PER_DAY = 86_400 * 1_000_000_000
#: How far a time-paged download steps when a request returns no new trade.
DEFAULT_WINDOW_MS = 3_600_000
ARCHIVE_URL = "https://data.binance.vision"
_ARCHIVE_PATHS = {"spot": "spot", "um": "futures/um", "cm": "futures/cm"}
_DOWNLOADS = "_downloads.json"

Progress = Callable[[int, int], None]  # (done ns of the window, total ns)


@attrs.frozen(kw_only=True)
class DownloadResult:
    """What one download did."""

    exchange: str
    market: str
    symbol: str
    written: int
    already_stored: int
    requests: int
    #: Where the download started: ``"fromId=<id>"``, ``"since=<ts>"`` or the archive days.
    resumed_from: str | None
    first_ts_ns: int | None
    last_ts_ns: int | None


# -- ccxt ---------------------------------------------------------------------------------
def rewrite_urls(urls: Any, base: str) -> Any:
    """ccxt's ``urls['api']`` with every http(s) URL's scheme and host replaced by ``base``'s
    (paths kept): a testnet, a proxy or a local server."""
    target = urlsplit(base)
    if isinstance(urls, dict):
        return {k: rewrite_urls(v, base) for k, v in urls.items()}
    if not isinstance(urls, str):
        return urls
    parts = urlsplit(urls)
    if parts.scheme not in ("http", "https"):
        return urls
    prefix = target.path.rstrip("/")
    return urlunsplit((target.scheme, target.netloc, prefix + parts.path, parts.query, ""))


def _import_ccxt() -> Any:
    try:
        import ccxt.async_support as ccxt_async
    except ImportError as exc:
        raise ConfigError(
            "`tradewind data download ccxt` needs the ccxt library, which is not installed; "
            'install it with: pip install "tradewind[download]"'
        ) from exc
    return ccxt_async


def _batch(instrument: str, trades: list[dict[str, Any]]) -> TickBatch:
    ids = []
    for t in trades:
        raw = t.get("id")
        try:
            ids.append(int(raw))  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"trade {raw!r} of {instrument} has no numeric id; the store keys trades by "
                "id, so this exchange cannot be downloaded with tradewind"
            ) from exc
    return TickBatch.from_arrays(
        instrument,
        ts_ns=np.array([int(t["timestamp"]) * _NS_PER_MS for t in trades], dtype=np.int64),
        price=np.array([float(t["price"]) for t in trades], dtype=np.float64),
        size=np.array([float(t["amount"]) for t in trades], dtype=np.float64),
        side=np.array([1 if t.get("side") == "buy" else -1 for t in trades], dtype=np.int8),
        trade_id=np.array(ids, dtype=np.int64),
    )


def _store_new(
    store: Any, exchange: str, market: str, symbol: str, batch: TickBatch
) -> tuple[int, int]:
    """Validate ``batch``, drop what the store holds, write the rest now. (written, known)."""
    from tradewind.market.cli import _already_stored
    from tradewind.market.validation import validate

    clean = validate(batch).clean
    if not len(clean):
        return 0, 0
    stored = store.read_ticks(exchange, market, symbol, clean.first_ts, clean.last_ts + 1)
    dup = _already_stored(stored, clean)
    if dup.any():
        keep = ~dup
        clean = TickBatch(
            instrument=clean.instrument, ts_ns=clean.ts_ns[keep], price=clean.price[keep],
            size=clean.size[keep], side=clean.side[keep], trade_id=clean.trade_id[keep],
        )  # fmt: skip
    store.append(exchange, market, symbol, clean)
    store.flush()
    return len(clean), int(dup.sum())


async def download_ccxt(
    store: Any,
    exchange_id: str,
    symbol: str,
    since_ns: int,
    until_ns: int,
    *,
    by: str = "auto",
    api_url: str | None = None,
    limit: int = 1000,
    window_ms: int = DEFAULT_WINDOW_MS,
    store_exchange: str | None = None,
    progress: Progress | None = None,
) -> DownloadResult:
    """Download ``symbol``'s public trades in ``[since_ns, until_ns)`` from ccxt's
    ``exchange_id`` into ``store``, resuming from what the store already holds.

    ``by`` is ``"id"`` (Binance's ``fromId``), ``"time"`` (``since``) or ``"auto"`` (id where
    the exchange pages by id, else time).
    """
    ccxt_async = _import_ccxt()
    cls = getattr(ccxt_async, exchange_id, None)
    if cls is None:
        raise ConfigError(
            f"ccxt has no exchange {exchange_id!r} (--exchange); see ccxt.exchanges for the ids"
        )
    exchange = cls(
        {
            "enableRateLimit": api_url is None,
            "options": {"fetchCurrencies": False, "fetchMargins": False},
        }
    )
    if api_url:
        exchange.urls["api"] = rewrite_urls(exchange.urls["api"], api_url)
    id_paging = by == "id" or (by == "auto" and exchange_id.startswith("binance"))
    if by == "id" and not exchange_id.startswith("binance"):
        raise ConfigError(
            f"--by id pages with Binance's fromId; {exchange_id} pages by time (--by time)"
        )
    try:
        try:
            await exchange.load_markets()
            market = exchange.market(symbol)
        except Exception as exc:
            raise _venue_error(exchange_id, "loading markets", exc) from exc
        kind = "spot" if market.get("spot") else "perp"
        sym = str(market["id"])
        ex_name = store_exchange or exchange_id
        written = known = requests = 0
        first: int | None = None
        last: int | None = None
        stored = store.read_ticks(ex_name, kind, sym, since_ns, until_ns)
        resumed: str | None = None
        cursor_ms = math.ceil(since_ns / _NS_PER_MS)
        next_id: int | None = None
        if len(stored):
            if id_paging:
                next_id = int(stored.trade_id.max()) + 1
                resumed = f"fromId={next_id}"
            else:
                cursor_ms = int(stored.ts_ns.max()) // _NS_PER_MS
                resumed = f"since={cursor_ms}"
        until_ms = math.ceil(until_ns / _NS_PER_MS)
        while cursor_ms < until_ms:
            params: dict[str, Any] = {}
            since_arg: int | None = cursor_ms
            if next_id is not None:
                params["fromId"] = next_id
                since_arg = None
            try:
                page = await exchange.fetch_trades(symbol, since_arg, limit, params)
            except Exception as exc:
                where = f"fromId={next_id}" if next_id is not None else f"since={cursor_ms}"
                raise _venue_error(
                    exchange_id, f"fetching {symbol} trades at {where}", exc,
                    resume=f"{written:,} trades were stored; run the same command again to "
                    "resume",
                ) from exc  # fmt: skip
            requests += 1
            inside = [t for t in page if since_ns // _NS_PER_MS <= t["timestamp"] < until_ms]
            if inside:
                w, k = _store_new(store, ex_name, kind, sym, _batch(sym, inside))
                written, known = written + w, known + k
                ts = [int(t["timestamp"]) * _NS_PER_MS for t in inside]
                first = min(ts) if first is None else min(first, min(ts))
                last = max(ts) if last is None else max(last, max(ts))
            if page and page[-1]["timestamp"] >= until_ms:
                break
            if id_paging and page:
                next_id = max(int(t["id"]) for t in page) + 1
                cursor_ms = int(page[-1]["timestamp"])
            elif id_paging:
                if next_id is not None:
                    break  # no trade after the last id: the exchange has nothing newer
                cursor_ms += window_ms  # nothing in this window yet: look further
            else:
                newest = max((int(t["timestamp"]) for t in page), default=None)
                if newest is None:
                    cursor_ms += window_ms  # nothing in the exchange's window: step on
                elif newest > cursor_ms:
                    cursor_ms = newest  # asked again next time; the store drops repeats
                elif len(page) >= limit:
                    raise DataError(
                        f"{exchange_id} returned {limit} trades all at {cursor_ms} ms; raise "
                        "--limit to page past that millisecond"
                    )
                else:
                    cursor_ms += 1
            if progress is not None:
                done = min(cursor_ms * _NS_PER_MS, until_ns) - since_ns
                progress(max(done, 0), until_ns - since_ns)
        return DownloadResult(
            exchange=ex_name, market=kind, symbol=sym, written=written, already_stored=known,
            requests=requests, resumed_from=resumed, first_ts_ns=first, last_ts_ns=last,
        )  # fmt: skip
    finally:
        await exchange.close()


def _venue_error(exchange_id: str, what: str, exc: Exception, resume: str = "") -> VenueError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    tail = f"; {resume}" if resume else ""
    return VenueError(f"{exchange_id}: {what} failed: {type(exc).__name__}: {text[:300]}{tail}")


# -- the Binance archive ------------------------------------------------------------------
def archive_url(base: str, market: str, kind: str, symbol: str, day: dt.date) -> str:
    """The archive URL of one day's zip."""
    name = f"{symbol}-{kind}-{day:%Y-%m-%d}.zip"
    return f"{base.rstrip('/')}/data/{_ARCHIVE_PATHS[market]}/daily/{kind}/{symbol}/{name}"


def _get(url: str, timeout: float) -> bytes | None:
    """The body at ``url``; None on 404."""
    # Imported here: the data commands are part of every `tradewind` start-up's parser, and
    # urllib.request (with ssl) is only needed for a download.
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise VenueError(f"GET {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise VenueError(f"GET {url} failed: {exc}; run the same command again to resume") from exc


def download_archive(
    store: Any,
    symbol: str,
    start: dt.date,
    end: dt.date,
    *,
    market: str = "spot",
    kind: str = "trades",
    base_url: str = ARCHIVE_URL,
    verify: bool = True,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> tuple[DownloadResult, list[str]]:
    """Download and import the daily archives of ``symbol`` from ``start`` to ``end``
    (inclusive). Returns the result and the days the archive has no file for."""
    from tradewind.market.cli import symbol_dir
    from tradewind.market.importers import load
    from tradewind.market.importers.binance_vision import AGG_TRADES, TRADES

    if market not in _ARCHIVE_PATHS:
        raise ConfigError(f"--archive-market must be one of {', '.join(_ARCHIVE_PATHS)}")
    if kind not in ("trades", "aggTrades"):
        raise ConfigError("--kind must be trades or aggTrades")
    if end < start:
        raise ConfigError(f"--until {end} is before --since {start}")
    store_market = "spot" if market == "spot" else "perp"
    ledger_path = symbol_dir(store.root, "binance", store_market, symbol) / _DOWNLOADS
    ledger: dict[str, str] = (
        json.loads(ledger_path.read_text(encoding="utf-8")) if ledger_path.exists() else {}
    )
    written = known = requests = 0
    missing: list[str] = []
    first: int | None = None
    last: int | None = None
    days = (end - start).days + 1
    staging = store.root / "_downloads"
    staging.mkdir(parents=True, exist_ok=True)
    skipped_days = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        url = archive_url(base_url, market, kind, symbol, day)
        name = url.rsplit("/", 1)[1]
        if name in ledger:
            skipped_days.append(day.isoformat())
            continue
        body = _get(url, timeout)
        requests += 1
        if body is None:
            missing.append(day.isoformat())
            continue
        digest = hashlib.sha256(body).hexdigest()
        if verify:
            checksum = _get(url + ".CHECKSUM", timeout)
            requests += 1
            if checksum is None:
                raise DataError(f"{url}.CHECKSUM is missing; pass --no-verify to import anyway")
            expected = checksum.decode("utf-8", "replace").split()[0].lower()
            if expected != digest:
                raise DataError(
                    f"{name}: SHA-256 {digest} does not match its CHECKSUM {expected}; "
                    "the download is corrupt (run again)"
                )
        tmp = staging / (name + ".part")
        tmp.write_bytes(body)
        final = staging / name
        os.replace(tmp, final)
        try:
            result = load(
                final, TRADES if kind == "trades" else AGG_TRADES, symbol=symbol,
                exchange="binance", market=store_market,
            )  # fmt: skip
            for sym, batch in result.batches.items():
                w, k = _store_new(store, "binance", store_market, sym, batch)
                written, known = written + w, known + k
                if len(batch):
                    first = batch.first_ts if first is None else min(first, batch.first_ts)
                    last = batch.last_ts if last is None else max(last, batch.last_ts)
        finally:
            final.unlink(missing_ok=True)
        ledger[name] = digest
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
        tmp_ledger = ledger_path.with_suffix(".json.tmp")
        tmp_ledger.write_text(json.dumps(ledger, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp_ledger, ledger_path)
        if progress is not None:
            progress((i + 1) * _NS_PER_DAY, days * _NS_PER_DAY)
    resumed = f"{len(skipped_days)} days already imported" if skipped_days else None
    return (
        DownloadResult(
            exchange="binance",
            market=store_market,
            symbol=symbol,
            written=written,
            already_stored=known,
            requests=requests,
            resumed_from=resumed,
            first_ts_ns=first,
            last_ts_ns=last,
        ),
        missing,
    )


# -- the command line ---------------------------------------------------------------------
def _when(text: str, flag: str) -> int:
    """An ISO date/time (UTC unless it says otherwise) as epoch ns."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{flag} {text!r} is not an ISO date or date/time") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def add_download_command(sub: Any) -> None:
    """Add ``data download ccxt`` and ``data download binance-archive``."""
    p = sub.add_parser(
        "download",
        help="download trades from a ccxt exchange or Binance's data archive",
        description="Download public trades into a market store. Interrupted downloads resume "
        "when the same command is run again, with no duplicate and no missing trade.",
    )
    dsub = p.add_subparsers(dest="download_source", metavar="SOURCE")
    c = dsub.add_parser(
        "ccxt",
        help="page an exchange's public trades through ccxt (tradewind[download])",
    )
    c.add_argument(
        "--exchange", required=True, help="ccxt exchange id: binance, binanceusdm, bybit, okx, ..."
    )
    c.add_argument("--symbol", required=True, help="ccxt symbol: BTC/USDT, BTC/USDT:USDT, ...")
    c.add_argument("--since", required=True, help="first trade time: ISO date/time, UTC")
    c.add_argument(
        "--until", default=None, help="end (exclusive): ISO date/time, UTC (default: now)"
    )
    c.add_argument("--store", required=True, type=Path, metavar="DIR", help="market store root")
    c.add_argument(
        "--by",
        choices=("auto", "id", "time"),
        default="auto",
        help="page by trade id (Binance) or by time (default: id where possible)",
    )
    c.add_argument("--limit", type=int, default=1000, help="trades per request (default 1000)")
    c.add_argument(
        "--api-url",
        default=None,
        metavar="URL",
        help="send the exchange's REST requests to this base URL (a testnet, a "
        "proxy or a local server)",
    )
    c.add_argument(
        "--store-exchange", default=None, help="exchange name in the store (default: the ccxt id)"
    )
    c.set_defaults(func=cmd_download_ccxt)
    a = dsub.add_parser("binance-archive", help="daily zips of data.binance.vision")
    a.add_argument("--symbol", required=True, help="Binance symbol: BTCUSDT")
    a.add_argument("--since", required=True, help="first day: YYYY-MM-DD")
    a.add_argument("--until", required=True, help="last day (inclusive): YYYY-MM-DD")
    a.add_argument("--store", required=True, type=Path, metavar="DIR", help="market store root")
    a.add_argument(
        "--archive-market",
        choices=tuple(_ARCHIVE_PATHS),
        default="spot",
        help="spot, um (USD-M futures) or cm (COIN-M futures); default spot",
    )
    a.add_argument("--kind", choices=("trades", "aggTrades"), default="trades")
    a.add_argument(
        "--base-url",
        default=ARCHIVE_URL,
        metavar="URL",
        help="the archive's base URL (a mirror); default data.binance.vision",
    )
    a.add_argument(
        "--no-verify",
        action="store_true",
        help="import without checking each zip against its .CHECKSUM",
    )
    a.set_defaults(func=cmd_download_archive)

    def _usage(args: Any) -> int:
        p.print_help()
        return 64

    p.set_defaults(func=_usage)


class _Bar:
    """A rich progress bar on stderr, over the time window being downloaded."""

    def __init__(self, what: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=False,
        )  # fmt: skip
        self.task = self.progress.add_task(what, total=1.0)

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done / total if total else 1.0)


def _report(result: DownloadResult, extra: str = "") -> None:
    from tradewind.market.cli import fmt_ts

    span = (
        f", {fmt_ts(result.first_ts_ns)} → {fmt_ts(result.last_ts_ns)} UTC"
        if result.first_ts_ns is not None and result.last_ts_ns is not None
        else ""
    )
    resumed = f"; resumed from {result.resumed_from}" if result.resumed_from else ""
    print(
        f"downloaded {result.written:,} trades of {result.exchange}/{result.market}/"
        f"{result.symbol} in {result.requests:,} requests{span}"
        f"{f'; {result.already_stored:,} were already stored' if result.already_stored else ''}"
        f"{resumed}{extra}"
    )


def cmd_download_ccxt(args: Any) -> int:
    """``data download ccxt``."""
    import time

    import anyio

    from tradewind.market.store import MarketStore

    since = _when(args.since, "--since")
    until = _when(args.until, "--until") if args.until else time.time_ns()
    if until <= since:
        raise ConfigError(f"--until {args.until} is not after --since {args.since}")
    if args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    _import_ccxt()
    store = MarketStore(args.store)
    try:
        with _Bar(f"{args.exchange} {args.symbol}") as bar:
            result = anyio.run(
                lambda: download_ccxt(
                    store, args.exchange, args.symbol, since, until, by=args.by,
                    api_url=args.api_url, limit=args.limit, store_exchange=args.store_exchange,
                    progress=bar,
                )
            )  # fmt: skip
    finally:
        store.close()
    _report(result)
    return 0


def cmd_download_archive(args: Any) -> int:
    """``data download binance-archive``."""
    from tradewind.market.store import MarketStore

    try:
        start = dt.date.fromisoformat(args.since)
        end = dt.date.fromisoformat(args.until)
    except ValueError as exc:
        raise ConfigError(f"--since/--until must be YYYY-MM-DD dates: {exc}") from exc
    store = MarketStore(args.store)
    try:
        with _Bar(f"binance archive {args.symbol}") as bar:
            result, missing = download_archive(
                store, args.symbol, start, end, market=args.archive_market, kind=args.kind,
                base_url=args.base_url, verify=not args.no_verify, progress=bar,
            )  # fmt: skip
    finally:
        store.close()
    _report(result, f"; no archive for {', '.join(missing)}" if missing else "")
    return 0 if result.written or result.resumed_from or not missing else DataError.exit_code
