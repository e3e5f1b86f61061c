"""The bus's isolation seen from a whole run (issue 19): two subscribers that raise (and are
slow, as notifiers are while the network is down) and more than 20,000 events. The run
completes, the journal holds every event, and each subscriber's drops are counted and
journaled."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.model import Event
from tradewind.report.analysis import analyse
from tradewind.report.summary import headline_rows
from tradewind.trading.engine import Engine

from tests.test_engine import SAMPLE, demo_config_text

COPIES = 5  # each trade of the sample five times


def _repeated_sample(tmp_path: Path) -> Path:
    """The shipped sample with every trade repeated COPIES times, each repeat 1 µs later
    (still ordered, within the same millisecond): each repeat is a rejected duplicate id in a
    batch of its own, i.e. one DataQuality event."""
    out = tmp_path / "repeated.csv"
    with SAMPLE.open(newline="") as src, out.open("w", newline="") as dst:
        rows = csv.reader(src)
        w = csv.writer(dst)
        header = next(rows)
        ts_col, local_col = header.index("timestamp"), header.index("local_timestamp")
        w.writerow(header)
        groups: list[list[list[str]]] = []
        for row in rows:
            if groups and groups[-1][0][ts_col] == row[ts_col]:
                groups[-1].append(row)
            else:
                groups.append([row])
        for group in groups:
            for k in range(COPIES):
                for row in group:
                    moved = list(row)
                    moved[ts_col] = str(int(row[ts_col]) + k)
                    moved[local_col] = str(int(row[local_col]) + k)
                    w.writerow(moved)
    return out


@pytest.mark.slow
def test_two_raising_subscribers_and_20000_events_the_run_completes_and_drops_are_counted(
    tmp_path,
):
    repeated = _repeated_sample(tmp_path)
    text = demo_config_text(tmp_path).replace(SAMPLE.as_posix(), repeated.as_posix())
    text = text.replace('plugin = "replay"\n', 'plugin = "replay"\nchunk_ticks = 1\n', 1)
    cfg = tmp_path / "dup.toml"
    cfg.write_text(text)
    engine = Engine(load_config(cfg), run_id="bus")
    seen: dict[str, int] = {"pager": 0, "chat": 0}

    def raising(name: str):  # type: ignore[no-untyped-def]
        async def handler(event: Event) -> None:
            seen[name] += 1
            await anyio.sleep(0.0005)  # a notifier whose network is down is slow, then fails
            raise ConnectionError(f"{name}: network unreachable")

        return handler

    engine.bus.drain_timeout_s = 2.0  # the end of the run waits this long for them
    engine.bus.subscribe("pager", raising("pager"))
    engine.bus.subscribe("chat", raising("chat"))
    result = anyio.run(engine.run)

    s = result.summary
    assert s["ticks"] == 9_999
    published = engine.bus.published
    assert published >= 20_000
    dropped = engine.bus.dropped
    assert dropped.get("pager", 0) > 0 and dropped.get("chat", 0) > 0, dropped
    subs = {sub.name: sub for sub in engine.bus.subscriptions}
    for name in ("pager", "chat"):
        sub = subs[name]
        # Every event it was given failed (the one in its hands at close was cancelled), and
        # every event published reached it or was dropped for it.
        assert sub.delivered == 0 and sub.failed in (seen[name], seen[name] - 1)
        assert sub.failed + sub.dropped >= published
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    # The journal is whole: every published event reached it (it is never dropped for).
    assert "journal" not in dropped
    # (The bus's own failure and drop reports are journaled too, and not counted as published.)
    assert con.execute(
        "SELECT count(*) FROM events WHERE type NOT IN ('SystemError', 'EventsDropped')"
    ).fetchone() == (published,)
    (rejected,) = con.execute(
        "SELECT sum((payload->>'$.rejected.duplicate_id')::INTEGER) FROM events "
        "WHERE type = 'DataQuality'"
    ).fetchone()
    assert rejected == 9_999 * (COPIES - 1)
    assert con.execute(
        "SELECT count(*) FROM events WHERE type IN ('RunStarted', 'RunFinished')"
    ).fetchone() == (2,)
    # Each subscriber's drops are journaled, and they add up to the bus's counts.
    rows = con.execute("SELECT payload FROM system_events WHERE type = 'EventsDropped'").fetchall()
    journaled: dict[str, int] = {}
    for (payload,) in rows:
        p = json.loads(payload)
        journaled[p["subscriber"]] = journaled.get(p["subscriber"], 0) + p["count"]
    for name in ("pager", "chat"):
        assert journaled[name] == dropped[name]
    # The run's summary counts them per subscriber (its final counts, the bus closed), in
    # the result, in the journal's run row and in the printed summary.
    assert s["events_dropped"] == dropped
    (stored,) = con.execute("SELECT summary FROM runs WHERE run_id = 'bus'").fetchone()
    assert json.loads(stored)["events_dropped"] == dropped
    lines = dict(headline_rows(analyse(result), s))
    for name in ("pager", "chat"):
        assert lines[f"Events dropped for {name}"] == f"{dropped[name]:,}"
    # Their failures are journaled as SystemError events naming them.
    sources = {
        src
        for (src,) in con.execute(
            "SELECT DISTINCT source FROM system_events WHERE type = 'SystemError'"
        ).fetchall()
    }
    assert {"bus:pager", "bus:chat"} <= sources
