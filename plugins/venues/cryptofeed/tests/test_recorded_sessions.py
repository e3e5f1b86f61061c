"""cryptofeed's own recorded sessions, replayed through this venue's normalisation.

``cryptofeed.raw_data_collection.playback`` feeds each capture to the real exchange parser;
the parser calls the venue session's callbacks, exactly as on a live connection. The number of
trades the venue normalises must equal the TRADES count cryptofeed's own test suite expects for
the capture (tests/unit/test_exchange.py): BINANCE 2, BINANCE_FUTURES 91, BYBIT 251, OKX 74,
COINBASE 107.

The Bybit (v2, 2021) and Coinbase Pro (2021) captures use APIs that cryptofeed 2.4.1 no longer
parses (it moved to Bybit v5 and Coinbase Advanced Trade); cryptofeed's own playback fails on
them too. Those two run when the installed cryptofeed still speaks the old APIs (2.4.0, see
docs/venues/cryptofeed.md, "Testing") and are skipped otherwise, saying so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cryptofeed.exchanges import EXCHANGE_MAP
from cryptofeed_replay import replay, unpack
from tradewind.model import DataQuality, TickBatch

from tradewind_venue_cryptofeed import FeedGap
from tradewind_venue_cryptofeed.venue import gap_mode_for

EXPECTED_TRADES = {"BINANCE": 2, "BINANCE_FUTURES": 91, "BYBIT": 251, "OKX": 74, "COINBASE": 107}


def _capture_api_supported(exchange: str) -> bool:
    address = EXCHANGE_MAP[exchange].websocket_endpoints[0].address
    if exchange == "BYBIT":
        return "/realtime" in address  # v2 streams; 2.4.1 has /v5/public/...
    if exchange == "COINBASE":
        return "ws-feed" in address  # Coinbase Pro; 2.4.1 has advanced-trade-ws
    return True


def _version() -> str:
    from importlib.metadata import version

    return version("cryptofeed")


@pytest.mark.parametrize("exchange", sorted(EXPECTED_TRADES))
def test_trade_count_equals_cryptofeeds_expectation(exchange: str, tmp_path: Path) -> None:
    if not _capture_api_supported(exchange):
        pytest.skip(
            f"the {exchange} capture (2021) uses an API cryptofeed {_version()} no longer parses; "
            "it replays with cryptofeed 2.4.0 (docs/venues/cryptofeed.md, Testing)"
        )
    venue, session, result = replay(exchange, tmp_path)
    batches = session.tape.drain()
    n = EXPECTED_TRADES[exchange]
    assert result["callbacks"]["trades"] == n  # cryptofeed delivered n trades ...
    assert session.trades_in == n and session.unrouted == 0  # ... the venue took all ...
    assert sum(len(b) for b in batches) == n  # ... and every one is in a tick batch
    assert session.tape.duplicates == 0
    for batch in batches:
        assert batch.instrument.startswith("cf:")
        assert np.all(batch.ts_ns[1:] >= batch.ts_ns[:-1])
        assert np.all(batch.price > 0) and np.all(batch.size > 0)
        assert set(np.unique(batch.side)) <= {-1, 1}
    # The captures are complete: no gap may be reported (no false alarms).
    assert [e for e in venue.events if isinstance(e, FeedGap)] == []
    assert [e for e in venue.events if isinstance(e, DataQuality)] == []


def test_binance_spot_trades_exactly(tmp_path: Path) -> None:
    # The two aggTrades of the capture, as received:
    # nknusdt a=15683430 p=0.35280000 q=58 T=1633998523963 m=false
    # lrcbtc  a=9213679  p=0.00000638 q=177 T=1633998534486 m=false
    venue, session, _ = replay("BINANCE", tmp_path)
    by_key = {b.instrument: b for b in session.tape.drain()}
    nkn, lrc = by_key["cf:NKN-USDT"], by_key["cf:LRC-BTC"]
    assert nkn.ts_ns.tolist() == [1_633_998_523_963_000_000]
    assert nkn.price.tolist() == [0.3528] and nkn.size.tolist() == [58.0]
    assert nkn.side.tolist() == [1] and nkn.trade_id.tolist() == [15_683_430]
    assert lrc.ts_ns.tolist() == [1_633_998_534_486_000_000]
    assert lrc.price.tolist() == [0.00000638] and lrc.size.tolist() == [177.0]
    assert lrc.side.tolist() == [1] and lrc.trade_id.tolist() == [9_213_679]
    assert gap_mode_for(venue.config) == "trade_id"


def test_binance_futures_trades_are_contiguous_per_symbol(tmp_path: Path) -> None:
    _, session, _ = replay("BINANCE_FUTURES", tmp_path)
    merged: dict[str, TickBatch] = {}
    for b in session.tape.drain():
        merged[b.instrument] = (
            TickBatch.concat([merged[b.instrument], b]) if b.instrument in merged else b
        )
    assert {k: len(v) for k, v in merged.items()} == {
        "cf:CTK-USDT-PERP": 38,
        "cf:AKRO-USDT-PERP": 8,
        "cf:SUSHI-USDT-PERP": 40,
        "cf:KEEP-USDT-PERP": 5,
    }
    for batch in merged.values():
        assert np.all(np.diff(batch.trade_id) == 1)


def test_binance_futures_book_and_l2(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    files = unpack("BINANCE_FUTURES", tmp_path / "raw")
    # The last CTKUSDT bookTicker of the capture, read independently of the plugin.
    last = None
    with open(next(f for f in files if ".ws." in f), encoding="utf-8") as fp:
        for line in fp:
            if '"ctkusdt@bookTicker"' in line:
                last = json.loads(line.split(": ", 1)[1])["data"]
    assert last is not None
    venue, session, result = replay(
        "BINANCE_FUTURES", tmp_path, channels=["trades", "book", "l2"], l2_depth=5
    )
    assert result["callbacks"] == {"trades": 91, "ticker": 613, "l2_book": 756}
    assert session.fanout.counts["book"] == 613 and session.fanout.counts["l2"] == 756
    top = venue.book_top("cf:CTK-USDT-PERP")
    assert top is not None
    assert (top.bid_price, top.bid_size) == (float(last["b"]), float(last["B"]))
    assert (top.ask_price, top.ask_size) == (float(last["a"]), float(last["A"]))
    assert top.ts_ns == last["E"] * 1_000_000
    for key in ("cf:CTK-USDT-PERP", "cf:SUSHI-USDT-PERP"):
        book = venue.l2_book(key)
        assert book is not None and 0 < len(book.bid_price) <= 5 and len(book.ask_price) <= 5
        assert np.all(np.diff(book.bid_price) < 0) and np.all(np.diff(book.ask_price) > 0)
        assert book.bid_price[0] < book.ask_price[0]
        assert np.all(book.bid_size > 0) and np.all(book.ask_size > 0)
        best = book.top()
        assert best is not None and best.bid_price == book.bid_price[0]
