"""The time-gap check on cryptofeed's recorded BITMEX and BITFINEX sessions: live trades are
compared with live trades only, and exchange timestamps are used monotonically.

BITMEX answers a trade subscription with a ``partial`` holding the last trade of each symbol
(for UNI-USDT-PERP, 89.7 s before the first live ``insert``); BITFINEX with a snapshot of recent
trades (reaching back about 60 hours on its quiet pairs). Neither is a loss of data.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

from cryptofeed.raw_data_collection import playback
from cryptofeed_replay import replay, subscription, unpack

from tradewind_venue_cryptofeed import CryptofeedConfig, CryptofeedVenue, FeedGap

NS = 1_000_000_000


def _inbound(files: list[str]) -> list[tuple[float, object]]:
    """(receipt, message) of every inbound websocket message of a capture."""
    out: list[tuple[float, object]] = []
    for name in files:
        if ".ws." not in name:
            continue
        with open(name, encoding="utf-8") as fp:
            for line in fp:
                if " <- " in line or " <-> " in line or ": " not in line:
                    continue
                receipt, body = line.split(": ", 1)
                out.append((float(receipt), json.loads(body)))
    return out


def _iso_ns(text: str) -> int:
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(stamp.timestamp() * 1000) * 1_000_000


def test_bitmex_snapshot_to_first_live_trade_is_no_gap(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "play").mkdir()
    files = unpack("BITMEX", tmp_path / "raw")  # read independently of the plugin
    partial: dict[str, int] = {}
    live: dict[str, list[int]] = {}
    for _, msg in _inbound(files):
        if not isinstance(msg, dict) or msg.get("table") != "trade":
            continue
        for trade in msg["data"]:
            ts = _iso_ns(trade["timestamp"])
            if msg["action"] == "partial":
                partial[trade["symbol"]] = ts
            else:
                live.setdefault(trade["symbol"], []).append(ts)
    # The capture holds the case: a snapshot trade more than time_gap_s (60 s) before the
    # first live trade of its symbol.
    assert live["UNIUSDT"][0] - partial["UNIUSDT"] > 60 * NS
    # Live against live: no silence longer than 60 s in this capture.
    expected = [
        (a, b) for times in live.values() for a, b in itertools.pairwise(times) if b - a > 60 * NS
    ]
    assert expected == []

    venue, session, result = replay("BITMEX", tmp_path / "play")
    assert result["callbacks"]["trades"] == session.trades_in == 27
    assert sum(len(b) for b in session.tape.drain()) == 27  # snapshot trades are kept
    assert venue.config.gap_detection == "auto" and session.tape.gap_mode == "time"
    assert [e for e in venue.events if isinstance(e, FeedGap)] == []


def _bitfinex_with_live_trades(tmp_path: Path) -> tuple[list[str], int, int]:
    """The BITFINEX capture (snapshots only) followed by four live trades of tBFTUSD:
    S, S + 120 s, S + 70 s (stamped out of order) and S + 150 s."""
    files = unpack("BITFINEX", tmp_path)
    messages = _inbound(files)
    trade_chans = {
        m["chanId"]: m["symbol"]
        for _, m in messages
        if isinstance(m, dict) and m.get("event") == "subscribed" and m.get("channel") == "trades"
    }
    chan = next(c for c, sym in trade_chans.items() if sym == "tBFTUSD")
    spans = [
        max(t[1] for t in m[1]) - min(t[1] for t in m[1])
        for _, m in messages
        if isinstance(m, list) and m[0] in trade_chans and isinstance(m[1], list) and m[1]
    ]
    last_receipt = messages[-1][0]
    # The session has sequence numbers on (conf flag 65536): each message ends with the next.
    seq = max(m[-1] for _, m in messages if isinstance(m, list))
    start_ms = int(last_receipt * 1000) + 1_000
    ws = next(f for f in files if ".ws." in f)
    with open(ws, "a", encoding="utf-8") as fp:
        for k, offset_s in enumerate((0, 120, 70, 150)):
            ms = start_ms + offset_s * 1000
            trade = [900_000_000 + k, ms, 10.0 if k % 2 else -10.0, 0.05]
            message = [chan, "te", trade, seq + 1 + k]
            fp.write(f"{last_receipt + 1 + k}: {json.dumps(message)}\n")
    return files, start_ms * 1_000_000, max(spans)


def test_bitfinex_gaps_compare_live_trades_only_and_never_go_back_in_time(tmp_path: Path) -> None:
    files, start_ns, span_ms = _bitfinex_with_live_trades(tmp_path)
    assert span_ms > 60 * 3600 * 1000  # a snapshot reaches back more than 60 hours
    sub = subscription(files)
    config = CryptofeedConfig(exchange="BITFINEX", symbols=sub["trades"], channels=["trades"])
    venue = CryptofeedVenue(config=config, instance="cf")
    session = venue.open_session({s: [f"cf:{s}"] for s in sub["trades"]})
    result = playback("BITFINEX", files, callbacks=session.callbacks(), config=None)
    assert result["callbacks"]["trades"] == 210 + 4
    gaps = [e for e in venue.events if isinstance(e, FeedGap)]
    # Only the silence between the first two live trades; not the snapshot's hours, not the
    # snapshot-to-live step, and not "S + 150 s after S + 70 s" (that trade was out of order:
    # the last-seen time stays at S + 120 s, so S + 150 s is 30 s later).
    assert [(g.instrument, g.kind, g.gap_start_ns, g.gap_end_ns) for g in gaps] == [
        ("cf:BFT-USD", "time", start_ns, start_ns + 120 * NS)
    ]
