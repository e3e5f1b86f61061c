"""Corrupt files, every importer: a backwards timestamp, a bare NaN, a garbage line and a cut
gzip are each reported with file:line, and every other row is imported exactly as from a clean
copy of the file.

Text formats (Tardis CSV, Binance trades/aggTrades CSV, Binance websocket captures, freqtrade
JSON) get all four faults in one file, then gzipped and cut. Binary tables (freqtrade feather,
tradewind parquet) have no lines or gzip stream: they get the backwards timestamp and the NaN.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from tradewind.market.importers import BadRow, load, ticks_parquet

from tests.market.test_importers import (
    CSV_AGG,
    CSV_SPOT,
    FT_FEATHER,
    FT_JSON,
    TARDIS,
    WS_USDM,
    assert_same_ticks,
    unzip_text,
)

BACK = "timestamp goes backwards: 10 s before the trade on line {prev} (tolerance 0 ns)"
CUT = (
    "gzip stream ends early (truncated file): this line is cut off and was not imported; "
    "the lines before it were"
)


def _cut_gzip(text: str, keep: float = 0.6) -> tuple[bytes, int]:
    """``text`` gzipped and cut at ``keep`` of its compressed size; the complete lines that a
    reader can recover from it."""
    raw = gzip.compress(text.encode(), mtime=0)
    cut = raw[: int(len(raw) * keep)]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    return cut, readable.count(b"\n")


def _check_lines(
    tmp_path: Path,
    name: str,
    lines: list[str],
    faults: dict[int, tuple[Callable[[str], str], str]],
) -> None:
    """Apply ``faults`` (1-based line -> (edit, expected reason)), gzip and cut the file, and
    check the bad rows and that every other complete line imported as from a clean file."""
    broken = list(lines)
    for n, (edit, _) in faults.items():
        broken[n - 1] = edit(broken[n - 1])
    data, complete = _cut_gzip("\n".join(broken) + "\n")
    assert complete > max(faults), "the cut must come after the faults"
    path = tmp_path / f"{name}.gz"
    path.write_bytes(data)
    result = load(path)
    f = str(path)
    want = [BadRow(f, n, why) for n, (_, why) in sorted(faults.items())]
    assert result.bad_rows == [*want, BadRow(f, complete + 1, CUT)]
    assert str(result.bad_rows[0]).startswith(f"{f}:{min(faults)}: ")
    clean = tmp_path / name
    kept = [ln for n, ln in enumerate(lines[:complete], start=1) if n not in faults]
    clean.write_text("\n".join(kept) + "\n")
    reference = load(clean)
    assert reference.bad_rows == []
    assert result.symbols == reference.symbols
    for sym in reference.symbols:
        assert_same_ticks(result.batches[sym], reference.batches[sym])


def _field(i: int, value: Callable[[str], str]) -> Callable[[str], str]:
    def edit(line: str) -> str:
        parts = line.split(",")
        parts[i] = value(parts[i])
        return ",".join(parts)

    return edit


def _garbage(_line: str) -> str:
    return "%% not a trade %%"


def test_tardis_csv(tmp_path: Path) -> None:
    lines = TARDIS.read_text().splitlines()
    ts_of = lambda n: int(lines[n - 1].split(",")[2])  # noqa: E731
    faults = {
        101: (_field(2, lambda _: str(ts_of(100) - 10_000_000)), BACK.format(prev=100)),
        201: (_field(6, lambda _: "NaN"), "price is NaN"),
        301: (
            _garbage,
            "expected 8 comma-separated fields (exchange,symbol,timestamp,"
            "local_timestamp,id,side,price,amount), got 1",
        ),
    }
    _check_lines(tmp_path, "BTCUSDT-tardis.csv", lines, faults)


@pytest.mark.parametrize(
    ("source", "time_field", "fields"),
    [
        (CSV_SPOT, 4, "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"),
        (
            CSV_AGG,
            5,
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,"
            "is_buyer_maker,is_best_match",
        ),
    ],
    ids=["trades", "aggTrades"],
)
def test_binance_vision_csv(tmp_path: Path, source: Path, time_field: int, fields: str) -> None:
    lines = unzip_text(source).splitlines()
    ts_of = lambda n: int(lines[n - 1].split(",")[time_field])  # noqa: E731
    faults = {
        101: (_field(time_field, lambda _: str(ts_of(100) - 10_000)), BACK.format(prev=100)),
        201: (_field(1, lambda _: "NaN"), "price is NaN"),
        301: (
            _garbage,
            f"expected {len(fields.split(','))} comma-separated fields ({fields}), got 1",
        ),
    }
    _check_lines(tmp_path, source.name.replace(".zip", ".csv"), lines, faults)


def test_binance_ws_capture(tmp_path: Path) -> None:
    lines = gzip.decompress(WS_USDM.read_bytes()).decode().splitlines()
    trades = [n for n, ln in enumerate(lines, start=1) if '"e":"trade"' in ln]
    a, b, c, d = trades[100], trades[200], trades[300], trades[99]
    t_prev = json.loads(lines[d - 1].split(" ", 1)[1])["data"]["T"]

    def backwards(line: str) -> str:
        stamp, body = line.split(" ", 1)
        msg = json.loads(body)
        msg["data"]["T"] = t_prev - 10_000
        return f"{stamp} {json.dumps(msg, separators=(',', ':'))}"

    faults = {
        a: (backwards, BACK.format(prev=d)),
        b: (
            lambda ln: ln.replace(
                f'"p":"{json.loads(ln.split(" ", 1)[1])["data"]["p"]}"', '"p":NaN'
            ),
            "p is NaN",
        ),
        c: (_garbage, "not a '<timestamp> <JSON message>' capture line (truncated or corrupt)"),
    }
    _check_lines(tmp_path, "usdm_capture", lines, faults)


def _freqtrade_text(records: list) -> str:
    """freqtrade's JSON array, one record per line (so a garbage line replaces one record)."""
    return "[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n]\n"


def test_freqtrade_json(tmp_path: Path) -> None:
    records = json.loads(gzip.decompress(FT_JSON.read_bytes()))
    records[100][0] = records[99][0] - 10_000  # record 101 goes back 10 s
    text = _freqtrade_text(records)
    lines = text.splitlines()
    # Line k + 1 of the text holds record k (line 1 is "[").
    lines[201] = lines[201].replace(f",{json.dumps(records[200][4])},", ",NaN,", 1)
    lines[301] = "%% not a trade %%,"
    data, _ = _cut_gzip("\n".join(lines) + "\n")
    folder = tmp_path / "binance"
    folder.mkdir()
    path = folder / "XRP_ETH-trades.json.gz"
    path.write_bytes(data)
    result = load(path)
    f = str(path)
    got = [(r.file, r.line, r.reason) for r in result.bad_rows]
    last = got[-1]
    assert got[:-1] == [
        (f, 101, "timestamp goes backwards: 10 s before the trade on line 100 (tolerance 0 ns)"),
        (f, 201, "price is NaN"),
        (f, 301, "invalid JSON (Expecting value): '%% not a trade %%'"),
    ]
    assert last[0] == f and "cut short or truncated" in last[2]
    n_kept = last[1] - 1  # records before the cut
    assert 400 < n_kept < len(records)
    clean = [r for k, r in enumerate(records[:n_kept], start=1) if k not in (101, 201, 301)]
    ref_path = folder / "clean-XRP_ETH-trades.json"
    ref_path.write_text(json.dumps(clean))
    reference = load(ref_path, symbol="XRPETH")
    assert_same_ticks(result.batches["XRPETH"], reference.batches["XRPETH"])


def test_freqtrade_old_format_takes_the_symbol_from_the_content() -> None:
    path = FT_JSON.parent / "XRP_OLD-trades.json.gz"
    result = load(path)
    assert result.symbols == ["XRPETH"]  # from "symbol": "XRP/ETH", not XRP_OLD's name
    assert (result.exchange, result.market, result.rows) == ("binance", "spot", 300)
    assert result.bad_rows == []
    # The same trades as the list-format file's first 300.
    listed = load(FT_JSON).batches["XRPETH"].slice(0, 300)
    assert_same_ticks(result.batches["XRPETH"], listed)


def test_freqtrade_feather(tmp_path: Path) -> None:
    table = feather.read_table(FT_FEATHER)
    ts = table.column("timestamp").to_pylist()
    price = table.column("price").to_pylist()
    ts[100] = ts[99] - (10_000 if isinstance(ts[99], int) else np.timedelta64(10, "s"))
    price[200] = float("nan")
    names = table.column_names
    ts_type = table.column("timestamp").type
    broken = table.set_column(
        names.index("timestamp"), "timestamp", pa.array(ts, ts_type)
    ).set_column(names.index("price"), "price", pa.array(price, pa.float64()))
    folder = tmp_path / "binance"
    folder.mkdir()
    path = folder / "XRP_ETH-trades.feather"
    feather.write_feather(broken, path)
    result = load(path)
    f = str(path)
    assert result.bad_rows == [
        BadRow(f, 101, BACK.format(prev=100)),
        BadRow(f, 201, "price is NaN"),
    ]
    assert result.rows == table.num_rows - 2


def test_tradewind_ticks_parquet(tmp_path: Path) -> None:
    batch = load(TARDIS).batches["BTCUSDT"]
    ts = batch.ts_ns.copy()
    price = batch.price.copy()
    ts[100] = ts[99] - 10_000_000_000
    price[200] = np.nan
    from tradewind.model import TickBatch

    broken = TickBatch.from_arrays("BTCUSDT", ts, price, batch.size, batch.side, batch.trade_id)
    path = tmp_path / "ticks.parquet"
    ticks_parquet.write(path, {"BTCUSDT": broken}, exchange="binance", market="perp")
    result = load(path)
    f = str(path)
    assert [(r.file, r.line) for r in result.bad_rows] == [(f, 101), (f, 201)]
    assert result.bad_rows[0].reason == BACK.format(prev=100)
    assert result.rows == len(batch) - 2
