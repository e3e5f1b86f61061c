"""``tradewind data import / info / synth`` on real files, through the real CLI entry point."""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tradewind.cli import main
from tradewind.market.cli import add_data_commands, fmt_span, fmt_ts
from tradewind.market.importers import load
from tradewind.market.store import MarketStore

DATA = Path(__file__).resolve().parents[1] / "data"
TARDIS = DATA / "tardis_binance-futures_BTCUSDT_trades.csv"
WS_SPOT = DATA / "hftbacktest" / "spot_btcusdt_20230405.dat.gz"
CSV_SPOT = DATA / "binance" / "BTCUSDT-trades-2023-04-05.zip"
FT_JSON = DATA / "freqtrade" / "binance" / "XRP_ETH-trades.json.gz"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run ``tradewind`` in-process; returns (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_same_ticks(a: object, b: object) -> None:
    for col in ("ts_ns", "price", "size", "side", "trade_id"):
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col), err_msg=col)


def test_import_real_files_into_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_dir = tmp_path / "store"
    code, out, err = run(capsys, "data", "import", TARDIS, WS_SPOT, FT_JSON, "--store", store_dir)
    assert code == 0 and err == ""
    assert "imported 25,620 trades from 3 of 3 files" in out  # 9,999 + 3,144 + 12,477
    for name, fmt, where, symbol, rows in (
        (TARDIS.name, "tardis", "binance/perp", "BTCUSDT", "9,999"),
        (WS_SPOT.name, "binance-ws", "binance/spot", "BTCUSDT", "3,144"),
        (FT_JSON.name, "freqtrade", "binance/spot", "XRPETH", "12,477"),
    ):
        line = next(ln for ln in out.splitlines() if name in ln)
        assert [fmt, where, symbol, rows] == [c.strip() for c in line.split("│")[2:6]]
    with MarketStore(store_dir) as store:
        assert store.symbols() == [
            ("binance", "perp", "BTCUSDT"),
            ("binance", "spot", "BTCUSDT"),
            ("binance", "spot", "XRPETH"),
        ]
        assert_same_ticks(
            store.read_ticks("binance", "perp", "BTCUSDT"), load(TARDIS).batches["BTCUSDT"]
        )
        assert_same_ticks(
            store.read_ticks("binance", "spot", "XRPETH"), load(FT_JSON).batches["XRPETH"]
        )


def test_reimport_skips_what_the_store_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_dir = tmp_path / "store"
    assert run(capsys, "data", "import", WS_SPOT, "--store", store_dir)[0] == 0
    # The same trades again, in the data.binance.vision layout.
    code, out, _ = run(capsys, "data", "import", CSV_SPOT, "--store", store_dir)
    assert code == 0
    assert "imported 0 trades from 1 of 1 files; 3,144 were already in the store" in out
    with MarketStore(store_dir) as store:
        assert len(store.read_ticks("binance", "spot", "BTCUSDT")) == 3144


def test_bad_rows_are_listed_counted_and_kept_in_the_store(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = TARDIS.read_text().splitlines()
    lines[1] = lines[1].replace(",9682,", ",-9682,")  # line 2
    lines[4] = lines[4].replace(",buy,", ",BUY?,")  # line 5 (a buy trade)
    lines[6] = "binance-futures,BTCUSDT"  # line 7
    lines[9] = lines[8]  # line 10: a resent trade
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines) + "\n")
    store_dir = tmp_path / "store"
    code, out, _ = run(capsys, "data", "import", broken, "--store", store_dir)
    assert code == 0
    assert f"{broken}:2: price -9682 is not positive" in out
    assert f"{broken}:5: side 'BUY?' is not buy or sell (aggressor unknown)" in out
    assert f"{broken}:7: expected 8 comma-separated fields" in out
    assert "imported 9,995 trades from 1 of 1 files" in out  # 9,999 - 3 bad - 1 duplicate

    record = json.loads(
        (
            store_dir / "exchange=binance" / "market=perp" / "symbol=BTCUSDT" / "_rejections.json"
        ).read_text()
    )
    assert record["total"] == {"bad_row": 3, "duplicate_id": 1}
    assert record["imports"][0]["file"] == str(broken)

    code, out, _ = run(capsys, "data", "info", "--store", store_dir)
    assert code == 0
    row = next(ln for ln in out.splitlines() if "BTCUSDT" in ln and "│" in ln)
    assert row.split("│")[-2].strip() == "4"
    assert "binance/perp/BTCUSDT: rejected bad_row 3, duplicate_id 1" in out


def test_max_bad_limits_the_listing_not_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = TARDIS.read_text().splitlines()
    for n in range(1, 31):
        lines[n] = lines[n].replace("binance-futures,BTCUSDT,", "binance-futures,BTCUSDT,x")
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines) + "\n")
    code, out, _ = run(
        capsys, "data", "import", broken, "--store", tmp_path / "s", "--max-bad", "5"
    )
    assert code == 0
    assert out.count(f"{broken}:") == 5
    assert f"... and 25 more bad rows in {broken}" in out


def test_nothing_importable_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    code, out, err = run(
        capsys, "data", "import", junk, tmp_path / "missing.csv", "--store", tmp_path / "s"
    )
    assert code == 4
    assert f"error: {junk}: not a known trades file" in err
    assert f"error: cannot read {tmp_path / 'missing.csv'}" in err
    assert "imported 0 trades from 0 of 2 files" in out


def test_one_bad_file_does_not_stop_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.gz"
    junk.write_bytes(gzip.compress(b"not trades\n"))
    code, out, err = run(capsys, "data", "import", junk, TARDIS, "--store", tmp_path / "s")
    assert code == 0 and "not a known trades file" in err
    assert "imported 9,999 trades from 1 of 2 files" in out


def test_import_options_override_what_the_file_implies(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    loose = tmp_path / "XRP_ETH-trades.json.gz"
    shutil.copy(FT_JSON, loose)
    code, _, err = run(capsys, "data", "import", loose, "--store", tmp_path / "s")
    assert code == 4 and "--exchange" in err
    code, _, _ = run(
        capsys,
        "data",
        "import",
        loose,
        "--store",
        tmp_path / "s",
        "--exchange",
        "binance",
        "--market",
        "spot",
        "--format",
        "freqtrade",
    )
    assert code == 0
    with MarketStore(tmp_path / "s") as store:
        assert store.symbols() == [("binance", "spot", "XRPETH")]


def test_info_reports_rows_span_and_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_dir = tmp_path / "store"
    run(capsys, "data", "import", FT_JSON, "--store", store_dir)
    code, out, _ = run(capsys, "data", "info", "--store", store_dir)
    assert code == 0
    xrp = load(FT_JSON).batches["XRPETH"]
    gaps = np.diff(xrp.ts_ns)
    n_gaps = int((gaps > 60 * 10**9).sum())
    row = [c.strip() for c in next(ln for ln in out.splitlines() if "XRPETH" in ln).split("│")]
    assert row[1:11] == [
        "binance",
        "spot",
        "XRPETH",
        "12,477",
        "2019-10-11 00:00:11.620",
        "2019-10-13 11:19:28.844",
        "2d 11h 19m 17s",
        f"{n_gaps}",
        fmt_span(int(gaps.max())),
        "0",
    ]
    assert n_gaps > 1000 and fmt_span(int(gaps.max())) == "8m 14s"
    first = int(np.flatnonzero(gaps > 60 * 10**9)[0])
    assert (
        f"binance/spot/XRPETH: gap {fmt_ts(int(xrp.ts_ns[first]))} -> "
        f"{fmt_ts(int(xrp.ts_ns[first + 1]))}"
    ) in out
    code, out, _ = run(capsys, "data", "info", "--store", store_dir, "--gap", "600")
    assert [c.strip() for c in next(ln for ln in out.splitlines() if "XRPETH" in ln).split("│")][
        8
    ] == "0"


def test_info_on_a_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "data", "info", "--store", tmp_path / "nope")
    assert code == 4 and f"no market store at {tmp_path / 'nope'}" in err
    assert not (tmp_path / "nope").exists()


def test_synth_to_a_parquet_file_is_deterministic_and_replayable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out_a, out_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for target in (out_a, out_b):
        code, out, _ = run(
            capsys,
            "data",
            "synth",
            "--like",
            TARDIS,
            "--hours",
            "3",
            "--seed",
            "11",
            "--out",
            target,
            "--start",
            "2024-01-01T00:00:00",
        )
        assert code == 0 and f"to {target}" in out
    a, b = load(out_a), load(out_b)
    assert (a.format, a.exchange, a.market, a.symbols) == (
        "tradewind",
        "synth",
        "perp",
        ["BTCUSDT"],
    )
    assert_same_ticks(a.batches["BTCUSDT"], b.batches["BTCUSDT"])
    ticks = a.batches["BTCUSDT"]
    assert fmt_ts(ticks.first_ts) == "2024-01-01 00:00:00.000"
    assert ticks.last_ts < ticks.first_ts + 3 * 3600 * 10**9
    assert 10_000 < len(ticks) < 20_000  # ~4,770 trades an hour in the sample


def test_synth_into_a_store_from_a_store_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_dir = tmp_path / "store"
    run(capsys, "data", "import", TARDIS, FT_JSON, "--store", store_dir)
    code, _, err = run(
        capsys,
        "data",
        "synth",
        "--like",
        store_dir,
        "--hours",
        "1",
        "--seed",
        "1",
        "--out",
        store_dir,
    )
    assert code == 4 and "choose one with --market" in err
    code, out, _ = run(
        capsys,
        "data",
        "synth",
        "--like",
        store_dir,
        "--symbol",
        "XRPETH",
        "--hours",
        "50",
        "--seed",
        "1",
        "--out",
        store_dir,
    )
    assert code == 0 and "(synth/spot/XRPETH)" in out
    with MarketStore(store_dir) as store:
        assert ("synth", "spot", "XRPETH") in store.symbols()
        assert len(store.read_ticks("synth", "spot", "XRPETH")) > 5_000


def test_synth_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "data",
        "synth",
        "--like",
        TARDIS,
        "--hours",
        "-1",
        "--seed",
        "1",
        "--out",
        tmp_path / "x.parquet",
    )
    assert code == 4 and "hours must be positive" in err
    code, _, err = run(
        capsys,
        "data",
        "synth",
        "--like",
        TARDIS,
        "--hours",
        "1",
        "--seed",
        "1",
        "--out",
        tmp_path / "x.parquet",
        "--start",
        "yesterday",
    )
    assert code == 4 and "--start 'yesterday'" in err


def test_data_without_subcommand_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "data")
    assert code == 64 and "import" in err and "synth" in err


def test_commands_plug_into_any_argparse_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The main CLI is one user of add_data_commands; a bare parser works the same."""
    parser = argparse.ArgumentParser(prog="harness")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "import", str(WS_SPOT), "--store", str(tmp_path / "s")])
    assert args.func(args) == 0
    assert "imported 3,144 trades" in capsys.readouterr().out
