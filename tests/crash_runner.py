"""Run a config the way ``tradewind run`` does, with the start-of-session preparation
(journal write-ahead, paper restore, reconciliation) the engine will call itself once it is
hooked up. Used by test_crash.py as a subprocess, and by in-process tests.

    python tests/crash_runner.py CONFIG [--state-out FILE] [--stop-after-prepare]

Prints ``FILL <client order id> <trade id>`` for every fill after the journal has it (the
bus delivers a fill only after the order manager journaled it), so a test knows when to kill.
With ``--state-out`` it writes, right after preparation, the state the host resumes with:
portfolio positions, cash and open orders, and the simulated venue's positions, balance and
open orders.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from tradewind.config import load_config
from tradewind.model import Event, FillEvent, Position, TickBatch
from tradewind.trading.engine import Engine
from tradewind.trading.reconcile import prepare_session


class StopAfterPrepare(Exception):
    """Raised to end a run right after preparation."""


def position_dict(p: Position) -> dict[str, Any]:
    return {
        "quantity": str(p.quantity),
        "avg_price": str(p.avg_price),
        "realized_pnl": str(p.realized_pnl),
        "fees": str(p.fees),
        "lots": [[str(q), str(px)] for q, px in p.lots],
    }


class SessionEngine(Engine):
    """The engine with :func:`prepare_session` called before the first batch."""

    state_out: Path | None = None
    stop_after_prepare = False
    prepared: list[Any] | None = None

    async def _feed(self) -> AsyncIterator[TickBatch]:
        self.prepared = await prepare_session(self)
        await self._publish_pending()
        if self.state_out is not None:
            await self.dump_state(self.state_out)
        if self.stop_after_prepare:
            raise StopAfterPrepare
        async for batch in super()._feed():
            yield batch

    async def dump_state(self, path: Path) -> None:
        venue = next(iter(self.state.values())).exec_venue
        state = {
            "positions": {p.instrument: position_dict(p) for p in self.portfolio.positions()},
            "cash": str(self.portfolio.cash),
            "open_orders": sorted(o.client_order_id for o in self.portfolio.open_orders()),
            "tracked_open": sorted(cid for cid, r in self.orders.records.items() if r.is_open),
            "venue_positions": {
                p.instrument: position_dict(p) for p in await venue.fetch_positions()
            },
            "venue_cash": {k: str(v) for k, v in (await venue.fetch_balances()).items()},
            "venue_open_orders": sorted(r.client_order_id for r in await venue.fetch_open_orders()),
            "next_client_order_id": self.orders.next_client_order_id(),
            "session_id": self.journal.session_id if self.journal else "",
            "resumed": bool(self.journal and self.journal.resumed),
            "discrepancies": [d.kind for r in (self.prepared or []) for d in r.discrepancies],
        }
        path.write_text(json.dumps(state, indent=1), encoding="utf-8")


def _print_fill(event: Event) -> None:
    assert isinstance(event, FillEvent)
    print(f"FILL {event.fill.client_order_id} {event.fill.trade_id}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--state-out", default=None)
    parser.add_argument("--stop-after-prepare", action="store_true")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    engine = SessionEngine(cfg, journal_path=cfg.journal.url or str(cfg.resolve(cfg.run.journal)))
    engine.state_out = Path(args.state_out) if args.state_out else None
    engine.stop_after_prepare = args.stop_after_prepare
    engine.bus.subscribe("crash-runner", _print_fill, types=(FillEvent,), lossless=True)
    print("STARTED", flush=True)
    try:
        anyio.run(engine.run)
    except BaseException as exc:  # anyio may wrap it in an exception group
        if _only(exc, StopAfterPrepare):
            print("PREPARED", flush=True)
            return 0
        raise
    print("FINISHED", flush=True)
    return 0


def _only(exc: BaseException, cls: type[BaseException]) -> bool:
    if isinstance(exc, cls):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_only(e, cls) for e in exc.exceptions)
    return False


if __name__ == "__main__":
    sys.exit(main())
