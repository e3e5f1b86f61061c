"""Importers on real recorded files: exact first/last trades, bad rows, two-format identity."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from tradewind.errors import DataError
from tradewind.market.importers import FORMATS, BadRow, load, sniff
from tradewind.model.ticks import BUY, SELL, TickBatch

DATA = Path(__file__).resolve().parents[1] / "data"
TARDIS = DATA / "tardis_binance-futures_BTCUSDT_trades.csv"
WS_SPOT = DATA / "hftbacktest" / "spot_btcusdt_20230405.dat.gz"
WS_USDM = DATA / "hftbacktest" / "usdm_btcusdt_20240718.gz"
CSV_SPOT = DATA / "binance" / "BTCUSDT-trades-2023-04-05.zip"
CSV_AGG = DATA / "binance" / "BTCUSDT-aggTrades-2023-04-05.zip"
CSV_USDM = DATA / "binance" / "futures" / "um" / "BTCUSDT-trades-2024-07-18.csv"
FT_JSON = DATA / "freqtrade" / "binance" / "XRP_ETH-trades.json.gz"
FT_FEATHER = DATA / "freqtrade" / "binance" / "XRP_ETH-trades.feather"

MS = 1_000_000
US = 1_000


def tick(batch: TickBatch, i: int) -> tuple[int, float, float, int, int]:
    """Row ``i`` of a batch as (ts_ns, price, size, side, trade_id)."""
    return (
        int(batch.ts_ns[i]),
        float(batch.price[i]),
        float(batch.size[i]),
        int(batch.side[i]),
        int(batch.trade_id[i]),
    )


def assert_same_ticks(a: TickBatch, b: TickBatch) -> None:
    """Column-for-column equality of two batches."""
    assert len(a) == len(b)
    for col in ("ts_ns", "price", "size", "side", "trade_id"):
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col), err_msg=col)


def unzip_text(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(zf.namelist()[0]).decode()


# ---------------------------------------------------------------------------------------------
# Each format on its real file


def test_tardis_trades_csv() -> None:
    result = load(TARDIS)
    assert (result.format, result.exchange, result.market) == ("tardis", "binance", "perp")
    assert result.rows == 9999 and result.bad_rows == [] and list(result.batches) == ["BTCUSDT"]
    b = result.batches["BTCUSDT"]
    assert b.instrument == "BTCUSDT"
    # binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132
    assert tick(b, 0) == (1582329602111000 * US, 9682.0, 0.132, BUY, 42377944)
    # binance-futures,BTCUSDT,1582337147728000,1582337147852384,42387942,sell,9666.84,0.07
    assert tick(b, -1) == (1582337147728000 * US, 9666.84, 0.07, SELL, 42387942)
    assert np.all(np.diff(b.ts_ns) >= 0)


def test_binance_ws_capture_spot() -> None:
    result = load(WS_SPOT)
    assert (result.format, result.exchange, result.market) == ("binance-ws", "binance", "spot")
    # 15088 lines: 3144 trades, 8015 bookTicker and 3929 depth updates.
    assert result.rows == 3144 and result.ignored == 15088 - 3144 and result.bad_rows == []
    b = result.batches["BTCUSDT"]
    # "t":3071245454,"p":"28165.47000000","q":"0.00056000",...,"T":1680652799999,"m":true
    assert tick(b, 0) == (1680652799999 * MS, 28165.47, 0.00056, SELL, 3071245454)
    # "t":3071248597,"p":"28151.22000000","q":"0.00044000",...,"T":1680653214256,"m":false
    assert tick(b, -1) == (1680653214256 * MS, 28151.22, 0.00044, BUY, 3071248597)
    np.testing.assert_array_equal(np.diff(b.trade_id), 1)  # ids are contiguous in the capture


def test_binance_ws_capture_usdm_skips_snapshot_and_depth() -> None:
    result = load(WS_USDM)
    assert (result.exchange, result.market) == ("binance", "perp")
    # 11414 lines: 974 trades, 7113 bookTicker, 3326 depth updates, 1 REST snapshot (line 14).
    assert result.rows == 974 and result.ignored == 11414 - 974 and result.bad_rows == []
    b = result.batches["BTCUSDT"]
    # "T":1721347022956,"s":"BTCUSDT","t":5182005737,"p":"63943.90","q":"0.003",...,"m":true
    assert tick(b, 0) == (1721347022956 * MS, 63943.9, 0.003, SELL, 5182005737)
    # "T":1721347199877,"s":"BTCUSDT","t":5182006710,"p":"63959.90","q":"0.002",...,"m":true
    assert tick(b, -1) == (1721347199877 * MS, 63959.9, 0.002, SELL, 5182006710)


def test_binance_trades_csv_spot_zip_without_header() -> None:
    assert sniff(CSV_SPOT) == "binance-trades"
    result = load(CSV_SPOT)
    assert (result.format, result.exchange, result.market) == ("binance-trades", "binance", "spot")
    assert result.rows == 3144 and result.bad_rows == []
    b = result.batches["BTCUSDT"]
    # 3071245454,28165.47000000,0.00056000,15.77266320,1680652799999,True,True
    assert tick(b, 0) == (1680652799999 * MS, 28165.47, 0.00056, SELL, 3071245454)
    # 3071248597,28151.22000000,0.00044000,12.38653680,1680653214256,False,True
    assert tick(b, -1) == (1680653214256 * MS, 28151.22, 0.00044, BUY, 3071248597)


def test_binance_trades_csv_futures_with_header() -> None:
    result = load(CSV_USDM)
    assert (result.format, result.market) == ("binance-trades", "perp")
    assert result.rows == 974 and result.bad_rows == []
    b = result.batches["BTCUSDT"]
    # 5182005737,63943.90,0.003,191.8317,1721347022956,true
    assert tick(b, 0) == (1721347022956 * MS, 63943.9, 0.003, SELL, 5182005737)
    # 5182006710,63959.90,0.002,127.9198,1721347199877,true
    assert tick(b, -1) == (1721347199877 * MS, 63959.9, 0.002, SELL, 5182006710)


def test_binance_agg_trades_csv() -> None:
    assert sniff(CSV_AGG) == "binance-aggtrades"
    result = load(CSV_AGG)
    assert (result.format, result.market, result.rows) == ("binance-aggtrades", "spot", 2638)
    agg = result.batches["BTCUSDT"]
    # 1,28165.47000000,0.00056000,3071245454,3071245454,1680652799999,True,True
    assert tick(agg, 0) == (1680652799999 * MS, 28165.47, 0.00056, SELL, 1)
    # 2638,28151.22000000,0.00044000,3071248597,3071248597,1680653214256,False,True
    assert tick(agg, -1) == (1680653214256 * MS, 28151.22, 0.00044, BUY, 2638)
    trades = load(CSV_SPOT).batches["BTCUSDT"]
    # 33,28165.47000000,0.31700000,3071245486,3071245491,1680652802435,True,True
    i = int(np.flatnonzero(agg.trade_id == 33)[0])
    parts = (trades.trade_id >= 3071245486) & (trades.trade_id <= 3071245491)
    assert agg.size[i] == pytest.approx(trades.size[parts].sum(), abs=1e-12)
    assert set(trades.side[parts]) == {SELL} and agg.side[i] == SELL
    for side in (BUY, SELL):
        assert agg.size[agg.side == side].sum() == pytest.approx(
            trades.size[trades.side == side].sum(), rel=1e-12
        )


def test_binance_csv_microsecond_timestamps(tmp_path: Path) -> None:
    """Spot dumps since 2025 carry microseconds; told apart by magnitude."""
    rows = [line.split(",") for line in unzip_text(CSV_SPOT).splitlines()]
    text = "\n".join(",".join([*r[:4], r[4] + "000", *r[5:]]) for r in rows) + "\n"
    path = tmp_path / "BTCUSDT-trades-2025-01-01.csv"
    path.write_text(text)
    assert_same_ticks(load(path).batches["BTCUSDT"], load(CSV_SPOT).batches["BTCUSDT"])


def test_freqtrade_json_gz() -> None:
    result = load(FT_JSON)
    assert (result.format, result.exchange, result.market) == ("freqtrade", "binance", "spot")
    assert result.rows == 12477 and result.bad_rows == []
    b = result.batches["XRPETH"]
    # [1570752011620,"13519807",null,"sell",0.00141342,23.0,0.03250866]
    assert tick(b, 0) == (1570752011620 * MS, 0.00141342, 23.0, SELL, 13519807)
    # [1570965568844,"13532283",null,"sell",0.00152787,130.0,0.1986231]
    assert tick(b, -1) == (1570965568844 * MS, 0.00152787, 130.0, SELL, 13532283)


def test_freqtrade_needs_an_exchange_outside_its_data_folder(tmp_path: Path) -> None:
    loose = tmp_path / "XRP_ETH-trades.json.gz"
    shutil.copy(FT_JSON, loose)
    with pytest.raises(DataError, match=r"XRP_ETH-trades.json.gz.*pass exchange= \(--exchange\)"):
        load(loose)
    assert load(loose, exchange="binance").rows == 12477


def test_freqtrade_futures_pair_name(tmp_path: Path) -> None:
    folder = tmp_path / "bybit" / "futures"
    folder.mkdir(parents=True)
    target = folder / "XRP_USDT_USDT-trades.json"
    target.write_text(json.dumps([[1700000000000, "7", None, "buy", 0.61, 100.0, 61.0]]))
    result = load(target)
    assert (result.exchange, result.market, result.symbols) == ("bybit", "perp", ["XRPUSDT"])
    assert tick(result.batches["XRPUSDT"], 0) == (1700000000000 * MS, 0.61, 100.0, BUY, 7)


# ---------------------------------------------------------------------------------------------
# The same trades in two formats import to identical ticks


def test_ws_capture_and_trades_csv_are_identical_spot() -> None:
    assert_same_ticks(load(WS_SPOT).batches["BTCUSDT"], load(CSV_SPOT).batches["BTCUSDT"])


def test_ws_capture_and_trades_csv_are_identical_usdm() -> None:
    assert_same_ticks(load(WS_USDM).batches["BTCUSDT"], load(CSV_USDM).batches["BTCUSDT"])


def test_freqtrade_json_and_feather_are_identical() -> None:
    a, b = load(FT_JSON), load(FT_FEATHER)
    assert (b.format, b.exchange, b.market) == ("freqtrade", "binance", "spot")
    assert_same_ticks(a.batches["XRPETH"], b.batches["XRPETH"])


# ---------------------------------------------------------------------------------------------
# Bad rows: reported with file and line, the rest imported


def test_tardis_bad_rows_are_reported_and_the_rest_imported(tmp_path: Path) -> None:
    lines = TARDIS.read_text().splitlines()
    good = lines[:]
    lines[2] = lines[2].replace(",9682,", ",abc,")  # line 3
    lines[5] = "binance-futures,BTCUSDT,1582329602116000"  # line 6
    lines[9] = lines[9].rsplit(",", 2)[0] + ",nan,0.1"  # line 10
    lines[10] = lines[10].replace(",buy,", ",unknown,").replace(",sell,", ",unknown,")  # 11
    lines[11] = lines[11].rsplit(",", 1)[0] + ",-1"  # line 12
    lines[12] = ""  # line 13: blank, skipped
    lines[13] = lines[13].replace("binance-futures,BTCUSDT,1582", "binance-futures,BTCUSDT,,1582")
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines) + "\n")

    result = load(path)
    f = str(path)
    assert result.bad_rows == [
        BadRow(f, 3, "price 'abc' is not a number"),
        BadRow(
            f,
            6,
            "expected 8 comma-separated fields (exchange,symbol,timestamp,"
            "local_timestamp,id,side,price,amount), got 3",
        ),
        BadRow(f, 10, "price is NaN"),
        BadRow(f, 11, "side 'unknown' is not buy or sell (aggressor unknown)"),
        BadRow(f, 12, "amount -1 is not positive"),
        BadRow(
            f,
            14,
            "expected 8 comma-separated fields (exchange,symbol,timestamp,"
            "local_timestamp,id,side,price,amount), got 9",
        ),
    ]
    assert str(result.bad_rows[0]) == f"{f}:3: price 'abc' is not a number"
    # Everything else arrived, exactly as from the clean file.
    dropped = {3, 6, 10, 11, 12, 13, 14}
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(ln for n, ln in enumerate(good, start=1) if n not in dropped) + "\n")
    assert result.rows == 9999 - 7
    assert_same_ticks(result.batches["BTCUSDT"], load(clean).batches["BTCUSDT"])


def test_binance_csv_bad_rows(tmp_path: Path) -> None:
    lines = unzip_text(CSV_SPOT).splitlines()
    lines[0] = lines[0].replace(",True,True", ",maybe,True")  # line 1
    lines[3] = lines[3].replace("28165.47000000", "")  # line 4
    lines[7] = "3071245461,28165.47000000"  # line 8
    lines[8] = lines[8].replace("0.0", "0.0x", 1)  # line 9
    path = tmp_path / "BTCUSDT-trades-2023-04-05.csv"
    path.write_text("\n".join(lines) + "\n")
    result = load(path)
    f = str(path)
    assert [(r.line, r.reason) for r in result.bad_rows] == [
        (1, "is_buyer_maker 'maybe' is not true or false"),
        (4, "price is empty"),
        (
            8,
            "expected 7 comma-separated fields (id,price,qty,quote_qty,time,is_buyer_maker,"
            "is_best_match), got 2",
        ),
        (9, f"qty {lines[8].split(',')[2]!r} is not a number"),
    ]
    assert all(r.file == f for r in result.bad_rows)
    assert result.rows == 3144 - 4
    ids = result.batches["BTCUSDT"].trade_id
    assert 3071245454 not in ids and 3071245455 in ids


def test_ws_capture_bad_lines(tmp_path: Path) -> None:
    lines = gzip.decompress(WS_USDM.read_bytes()).decode().splitlines()
    trade_lines = [n for n, ln in enumerate(lines) if '"e":"trade"' in ln]
    a, b, c = trade_lines[:3]
    lines[a] = lines[a][:90]  # cut mid-message
    lines[b] = lines[b].replace('"p":"63943.90"', '"p":"x"')
    lines[c] = lines[c].replace('"q":"', '"q":"-')
    lines[4] = "garbage"
    path = tmp_path / "capture.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = load(path)
    q = json.loads(lines[c].split(" ", 1)[1])["data"]["q"]
    assert [r.line for r in result.bad_rows] == [5, a + 1, b + 1, c + 1]
    reasons = [r.reason for r in result.bad_rows]
    assert reasons[0] == "not a '<timestamp> <JSON message>' capture line (truncated or corrupt)"
    assert reasons[1].startswith("invalid JSON (")
    assert reasons[2:] == ["'p' 'x' is not a number", f"q {float(q):g} is not positive"]
    assert result.rows == 974 - 3 and result.ignored == 11414 - 974 - 1


def test_truncated_gzip_imports_what_is_there(tmp_path: Path) -> None:
    raw = WS_SPOT.read_bytes()
    path = tmp_path / "cut.dat.gz"
    path.write_bytes(raw[: len(raw) // 2])
    result = load(path)
    full = load(WS_SPOT).batches["BTCUSDT"]
    part = result.batches["BTCUSDT"]
    assert 0 < len(part) < len(full)
    assert_same_ticks(part, full.slice(0, len(part)))
    assert "truncated" in result.bad_rows[-1].reason


def test_freqtrade_bad_records(tmp_path: Path) -> None:
    records = json.loads(gzip.decompress(FT_JSON.read_bytes()))
    records[1][3] = "hold"
    records[2][4] = None
    records[3] = [1570752011620, "x"]
    records[4][5] = 0.0
    folder = tmp_path / "binance"
    folder.mkdir()
    path = folder / "XRP_ETH-trades.json"
    path.write_text(json.dumps(records))
    result = load(path)
    assert [(r.line, r.reason) for r in result.bad_rows] == [
        (2, "side 'hold' is not buy or sell"),
        (3, "price None is not a number"),
        (4, "expected [timestamp, id, type, side, price, amount, cost], got 2 fields"),
        (5, "amount 0 is not positive"),
    ]
    assert result.rows == 12477 - 4


# ---------------------------------------------------------------------------------------------
# Recognition, selection, errors


def test_unknown_format_names_the_file_and_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("date,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n")
    with pytest.raises(DataError) as err:
        load(path)
    message = str(err.value)
    assert str(path) in message and "not a known trades file" in message
    for description in FORMATS.values():
        assert description in message
    assert "date,open,high,low,close" in message


def test_hyperliquid_capture_is_not_taken_for_binance(tmp_path: Path) -> None:
    path = tmp_path / "btcusd_20250126.gz"
    path.write_bytes(
        gzip.compress(
            b'1737918843893903000 {"channel":"l2Book","data":{"coin":"BTC","levels":[]}}\n'
        )
    )
    with pytest.raises(DataError, match="not a known trades file"):
        load(path)


def test_explicit_format_must_match(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"expected a Tardis.dev trades CSV"):
        load(CSV_USDM, format="tardis")
    with pytest.raises(DataError, match="unknown trades format 'csv'"):
        load(CSV_USDM, format="csv")
    assert load(CSV_USDM, format="binance-trades").rows == 974


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load(tmp_path / "nope.csv")


def test_binance_csv_needs_a_symbol_when_the_name_does_not_say(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    shutil.copy(CSV_USDM, path)
    with pytest.raises(DataError, match=r"cannot tell the symbol.*--symbol"):
        load(path)
    result = load(path, symbol="BTCUSDT", market="perp")
    assert_same_ticks(result.batches["BTCUSDT"], load(CSV_USDM).batches["BTCUSDT"])


def test_multi_symbol_file_split_sorted_and_filtered(tmp_path: Path) -> None:
    lines = TARDIS.read_text().splitlines()
    header, body = lines[0], lines[1:]
    eth = [
        "binance-futures,ETHUSDT,1582329602500000,1582329602600000,1,sell,262.5,1.5",
        "binance-futures,ETHUSDT,1582329602100000,1582329602600000,2,buy,262.6,0.5",
    ]
    # Interleaved: each symbol in its own time order, except the ETH pair (400 ms apart, the
    # later one first) which a venue publishing slightly out of order may write.
    mixed = [*body[:50], *eth, *body[50:]]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join([header, *mixed]) + "\n")
    strict = load(path)
    assert strict.bad_rows == [
        BadRow(
            str(path),
            53,
            "timestamp goes backwards: 400 ms before the trade on line 52 (tolerance 0 ns)",
        )
    ]
    result = load(path, max_backwards_ns=500 * MS)
    assert result.bad_rows == []
    assert result.symbols == ["BTCUSDT", "ETHUSDT"]
    assert_same_ticks(result.batches["BTCUSDT"], load(TARDIS).batches["BTCUSDT"])
    e = result.batches["ETHUSDT"]
    assert tick(e, 0) == (1582329602100000 * US, 262.6, 0.5, BUY, 2)
    assert tick(e, 1) == (1582329602500000 * US, 262.5, 1.5, SELL, 1)
    only = load(path, symbol="ETHUSDT")
    assert only.symbols == ["ETHUSDT"]
    with pytest.raises(DataError, match="no trades of symbol 'SOLUSDT'; it has BTCUSDT, ETHUSDT"):
        load(path, symbol="SOLUSDT")


def test_zip_with_several_members_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.csv", "x")
        zf.writestr("b.csv", "y")
    path = tmp_path / "two.zip"
    path.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match=r"exactly one data file.*a\.csv, b\.csv"):
        load(path)


def test_ten_thousand_rows_import_well_under_a_second() -> None:
    load(TARDIS)  # warm up imports
    start = time.perf_counter()
    result = load(TARDIS)
    elapsed = time.perf_counter() - start
    assert result.rows == 9999
    assert elapsed < 0.5, f"10k-row Tardis import took {elapsed:.3f} s"


def test_tradewind_ticks_parquet_round_trip(tmp_path: Path) -> None:
    from tradewind.market.importers import ticks_parquet

    tardis = load(TARDIS)
    xrp = load(FT_JSON)
    batches = {**tardis.batches, **xrp.batches}
    path = tmp_path / "ticks.parquet"
    ticks_parquet.write(path, batches, exchange="synth", market="perp")
    assert sniff(path) == "tradewind"
    back = load(path)
    assert (back.format, back.exchange, back.market) == ("tradewind", "synth", "perp")
    assert back.symbols == ["BTCUSDT", "XRPETH"] and back.bad_rows == []
    for symbol, batch in batches.items():
        assert_same_ticks(back.batches[symbol], batch)
    assert load(path, symbol="XRPETH", exchange="x").symbols == ["XRPETH"]


def test_ticks_parquet_dictionary_symbols_load_like_plain_strings(tmp_path: Path) -> None:
    """Symbols stored dictionary-coded (as ``write`` stores them, in several row groups and
    with a padded duplicate) load to the same batches as the same file with plain strings,
    rows with a bad side dropped in both."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tradewind.market.importers import _base, ticks_parquet

    n = 30
    names = ["AAAUSDT", "BBBUSDT", " AAAUSDT", "CCCUSDT"]
    codes = np.array([i % 4 for i in range(n)], dtype=np.int32)
    side = np.where(np.arange(n) % 2 == 0, BUY, SELL).astype(np.int8)
    side[7] = 3  # a bad row: rejected, and the rest still line up with their symbols
    cols = {
        "ts_ns": np.arange(n, dtype=np.int64) * 1_000_000_000 + 1_600_000_000 * 10**9,
        "price": 100.0 + np.arange(n, dtype=np.float64),
        "size": np.full(n, 0.5),
        "side": side,
        "trade_id": np.arange(n, dtype=np.int64),
    }
    coded = pa.table(
        {"symbol": pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names)), **cols}
    )
    plain = pa.table({"symbol": pa.array([names[c] for c in codes]), **cols})
    pq.write_table(coded, tmp_path / "coded.parquet", row_group_size=7)
    pq.write_table(plain, tmp_path / "plain.parquet")
    table = pq.read_table(tmp_path / "coded.parquet")
    assert pa.types.is_dictionary(table.column("symbol").type)
    assert table.column("symbol").num_chunks > 1
    a = ticks_parquet.read(tmp_path / "coded.parquet", symbol=None, exchange="x", market="perp")
    b = ticks_parquet.read(tmp_path / "plain.parquet", symbol=None, exchange="x", market="perp")
    assert sorted(a.batches) == sorted(b.batches) == ["AAAUSDT", "BBBUSDT", "CCCUSDT"]
    for sym in a.batches:
        assert_same_ticks(a.batches[sym], b.batches[sym])
    assert len(a.batches["AAAUSDT"]) == 15  # codes 0 and 2 merge once trimmed
    assert [r.line for r in a.bad_rows] == [r.line for r in b.bad_rows] == [8]
    # the codes path never builds a string per row
    dict_col = table.column("symbol")
    got = _base._dictionary_codes(dict_col)
    assert got is not None
    got_codes, got_names = got
    assert got_names == ["AAAUSDT", "BBBUSDT", "CCCUSDT"]
    assert got_codes.tolist() == [[0, 1, 0, 2][c] for c in codes]
    assert _base._dictionary_codes(pa.array(["A", "B"])) is None


def test_ticks_parquet_written_symbol_by_symbol_loads_as_views(tmp_path: Path) -> None:
    """A file written symbol by symbol (as ``write`` does) loads without a per-symbol copy:
    every batch is a view of the one loaded column, with the same ticks as written."""
    from tradewind.market.importers import ticks_parquet

    tardis = next(iter(load(TARDIS).batches.values()))
    parts = {f"S{i}USDT": tardis.slice(i * 3000, (i + 1) * 3000) for i in range(3)}
    parts = {
        k: TickBatch.from_arrays(k, b.ts_ns, b.price, b.size, b.side, b.trade_id)
        for k, b in parts.items()
    }
    path = tmp_path / "three.parquet"
    ticks_parquet.write(path, parts, exchange="synth", market="perp")
    back = load(path)
    assert back.symbols == ["S0USDT", "S1USDT", "S2USDT"] and back.bad_rows == []
    for k, b in parts.items():
        assert_same_ticks(back.batches[k], b)
    a, b = back.batches["S0USDT"], back.batches["S2USDT"]
    assert np.shares_memory(a.ts_ns.base, b.ts_ns.base) or a.ts_ns.base is b.ts_ns.base
