"""Replays cryptofeed's recorded sessions (tests/resources/cryptofeed_sample_data) through the
venue's normalisation, with cryptofeed's own ``raw_data_collection.playback``.

The captures are stored gzipped; they are unpacked under their original names into a temporary
folder, because ``playback`` reads the exchange and the file roles from the names.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from cryptofeed.raw_data_collection import playback

from tradewind_venue_cryptofeed import CryptofeedConfig, CryptofeedVenue
from tradewind_venue_cryptofeed.session import FeedSession

SAMPLES = Path(__file__).parent / "resources" / "cryptofeed_sample_data"


def unpack(exchange: str, into: Path) -> list[str]:
    """The exchange's capture files, unpacked into ``into``; their paths, sorted."""
    out = []
    for packed in sorted(SAMPLES.glob(f"{exchange}.*.gz")):
        target = into / packed.name[: -len(".gz")]
        target.write_bytes(gzip.decompress(packed.read_bytes()))
        out.append(str(target))
    if not out:
        raise FileNotFoundError(f"no capture for {exchange} in {SAMPLES}")
    return out


def subscription(files: list[str]) -> dict[str, list[str]]:
    """The subscription the capture was recorded with (its ``configuration:`` line)."""
    for name in files:
        if ".ws." in name or ".http." in name:
            continue
        with open(name, encoding="utf-8") as fp:
            for line in fp:
                if line.startswith("configuration: "):
                    return dict(json.loads(line.split(": ", 1)[1]))
    raise ValueError(f"no configuration line in {files}")


def replay(
    exchange: str, tmp_path: Path, channels: list[str] | None = None, **options: Any
) -> tuple[CryptofeedVenue, FeedSession, dict[str, Any]]:
    """Play ``exchange``'s capture into a venue session routing every traded symbol.

    Returns the venue, its session (tape and fan-out hold the results) and playback's own
    result (messages processed, cryptofeed's callback counts).
    """
    files = unpack(exchange, tmp_path)
    sub = subscription(files)
    symbols = sub["trades"]
    config = CryptofeedConfig(
        exchange=exchange, symbols=symbols, channels=channels or ["trades"], **options
    )
    venue = CryptofeedVenue(config=config, instance="cf")
    session = venue.open_session({s: [f"cf:{s}"] for s in symbols})
    result = playback(exchange, files, callbacks=session.callbacks(), config=None)
    return venue, session, result
