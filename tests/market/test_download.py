"""``tradewind data download`` against local exchange servers: ccxt paging by id and by time
against a Binance USD-M server, the Binance archive layout over HTTP; each interrupted part-way
and resumed, ending with every trade id exactly once."""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tradewind.cli import main
from tradewind.market.store import MarketStore

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "venues" / "ccxt" / "tests"))

from ccxt_testserver_binance import BinanceFuturesServer  # noqa: E402

DATA = REPO / "tests" / "data" / "binance"
AGG_ZIP = DATA / "BTCUSDT-aggTrades-2023-04-05.zip"
TRADES_ZIP = DATA / "BTCUSDT-trades-2023-04-05.zip"


def agg_trades() -> list[dict]:
    """The real aggTrades excerpt (2,638 trades, ids 1-2638) in Binance's REST JSON shape."""
    with zipfile.ZipFile(AGG_ZIP) as z:
        text = z.read(z.namelist()[0]).decode()
    return [
        {"a": int(a), "p": p, "q": q, "f": int(f), "l": int(last), "T": int(t), "m": m == "True"}
        for a, p, q, f, last, t, m, _ in csv.reader(io.StringIO(text))
    ]


@pytest.fixture
def server() -> Iterator[BinanceFuturesServer]:
    srv = BinanceFuturesServer("k", "s")
    srv.agg_trades = agg_trades()
    srv.start()
    yield srv
    srv.stop()


def stored_ids(store: Path, exchange: str, market: str, symbol: str) -> np.ndarray:
    with MarketStore(store) as s:
        return np.sort(s.read_ticks(exchange, market, symbol, None, None).trade_id)


def ccxt_args(server: BinanceFuturesServer, store: Path, *extra: str) -> list[str]:
    return [
        "data", "download", "ccxt", "--exchange", "binanceusdm", "--symbol", "BTC/USDT:USDT",
        "--since", "2023-04-04T23:00:00", "--until", "2023-04-05T01:00:00",
        "--store", str(store), "--api-url", server.url, "--limit", "200", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("by", ["id", "time"])
def test_an_interrupted_ccxt_download_resumes_with_every_trade_once(server, tmp_path, capsys, by):
    store = tmp_path / "store"
    server.fail_agg_requests = {5}
    assert main(ccxt_args(server, store, "--by", by)) == 5  # a venue error
    err = capsys.readouterr().err
    assert "run the same command again to resume" in err
    assert ("at fromId=" if by == "id" else "at since=") in err  # where it stopped
    partial = stored_ids(store, "binanceusdm", "perp", "BTCUSDT")
    assert 0 < len(partial) < 2638
    assert len(np.unique(partial)) == len(partial)

    assert main(ccxt_args(server, store, "--by", by)) == 0
    out = capsys.readouterr().out
    assert "resumed from " + ("fromId=" if by == "id" else "since=") in out
    ids = stored_ids(store, "binanceusdm", "perp", "BTCUSDT")
    assert ids.tolist() == list(range(1, 2639))  # none missing, none twice
    if by == "id":  # after the interruption it asked from the next id, not from the start
        resumed = [r for r in server.agg_requests[5:] if "fromId" in r]
        assert resumed and int(resumed[0]["fromId"]) == int(partial.max()) + 1

    # A third run finds everything stored and writes nothing.
    assert main(ccxt_args(server, store, "--by", by)) == 0
    assert stored_ids(store, "binanceusdm", "perp", "BTCUSDT").tolist() == list(range(1, 2639))


def test_the_stored_trades_are_the_exchanges(server, tmp_path):
    store = tmp_path / "store"
    assert main(ccxt_args(server, store)) == 0
    with MarketStore(store) as s:
        got = s.read_ticks("binanceusdm", "perp", "BTCUSDT", None, None)
    first = server.agg_trades[0]
    assert got.trade_id[0] == first["a"] and got.ts_ns[0] == first["T"] * 1_000_000
    assert got.price[0] == float(first["p"]) and got.size[0] == float(first["q"])
    # m = buyer is maker → the seller was the aggressor.
    assert got.side[0] == (-1 if first["m"] else 1)


def test_a_missing_ccxt_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ccxt.async_support", None)
    code = main([
        "data", "download", "ccxt", "--exchange", "binance", "--symbol", "BTC/USDT",
        "--since", "2024-01-01", "--until", "2024-01-02", "--store", str(tmp_path),
    ])  # fmt: skip
    assert code == 2
    assert 'pip install "tradewind[download]"' in capsys.readouterr().err


class _Archive(http.server.SimpleHTTPRequestHandler):
    """Serves a folder laid out like data.binance.vision; fails the requests listed."""

    fail: set[int] = set()
    count = 0

    def do_GET(self) -> None:
        type(self).count += 1
        if type(self).count in self.fail:
            self.send_error(503, "try later")
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def archive(tmp_path) -> Iterator[tuple[str, type[_Archive]]]:
    root = tmp_path / "vision"
    folder = root / "data" / "spot" / "daily" / "trades" / "BTCUSDT"
    folder.mkdir(parents=True)
    body = TRADES_ZIP.read_bytes()
    (folder / TRADES_ZIP.name).write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    (folder / (TRADES_ZIP.name + ".CHECKSUM")).write_text(f"{digest}  {TRADES_ZIP.name}\n")
    handler = type("Handler", (_Archive,), {"fail": set(), "count": 0})

    def factory(*a: object, **kw: object) -> _Archive:
        return handler(*a, directory=str(root), **kw)  # type: ignore[arg-type]

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_an_interrupted_archive_download_resumes_with_every_trade_once(archive, tmp_path, capsys):
    url, handler = archive
    store = tmp_path / "store"
    args = [
        "data", "download", "binance-archive", "--symbol", "BTCUSDT", "--since", "2023-04-04",
        "--until", "2023-04-06", "--store", str(store), "--base-url", url,
    ]  # fmt: skip
    handler.fail = {3}  # 04-04: 404; 04-05 zip; its CHECKSUM fails
    assert main(args) == 5
    assert "HTTP 503" in capsys.readouterr().err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "downloaded 3,144 trades of binance/spot/BTCUSDT" in out
    assert "no archive for 2023-04-04, 2023-04-06" in out
    ids = stored_ids(store, "binance", "spot", "BTCUSDT").tolist()
    assert ids == list(range(3071245454, 3071248598))  # contiguous, once each
    assert main(args) == 0  # the imported day is skipped
    assert "resumed from 1 days already imported" in capsys.readouterr().out
    assert stored_ids(store, "binance", "spot", "BTCUSDT").tolist() == ids


def test_a_corrupt_archive_is_refused(archive, tmp_path, capsys):
    url, _ = archive
    folder = tmp_path / "vision" / "data" / "spot" / "daily" / "trades" / "BTCUSDT"
    (folder / (TRADES_ZIP.name + ".CHECKSUM")).write_text("0" * 64 + "  x.zip\n")
    code = main([
        "data", "download", "binance-archive", "--symbol", "BTCUSDT", "--since", "2023-04-05",
        "--until", "2023-04-05", "--store", str(tmp_path / "store"), "--base-url", url,
    ])  # fmt: skip
    assert code == 4 and "does not match its CHECKSUM" in capsys.readouterr().err
