"""Helpers shared by the ccxt venue's tests: a recording sink, credentials, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tradewind.model import Event, Fill, OrderReport

# Distinctive values, so a leak is found by a plain substring search.
API_KEY = "TWTESTKEY" + "a1b2c3d4" * 7
SECRET = "TWTESTSECRET" + "z9y8x7w6" * 6
WRONG_SECRET = "TWWRONGSECRET" + "q1w2e3r4" * 6

KEY_ENV = "TW_CCXT_TEST_API_KEY"
SECRET_ENV = "TW_CCXT_TEST_SECRET"
WRONG_ENV = "TW_CCXT_TEST_WRONG_SECRET"


class RecordingSink:
    """An EventSink that keeps everything, in arrival order."""

    def __init__(self) -> None:
        self.items: list[OrderReport | Fill | Event] = []

    def on_report(self, report: OrderReport) -> None:
        """Keep a report."""
        self.items.append(report)

    def on_fill(self, fill: Fill) -> None:
        """Keep a fill."""
        self.items.append(fill)

    def on_event(self, event: Event) -> None:
        """Keep an event."""
        self.items.append(event)

    @property
    def reports(self) -> list[OrderReport]:
        """The reports received."""
        return [i for i in self.items if isinstance(i, OrderReport)]

    @property
    def fills(self) -> list[Fill]:
        """The fills received."""
        return [i for i in self.items if isinstance(i, Fill)]


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Wait (polling every 20 ms) until ``predicate()`` is truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def set_credentials(monkeypatch: Any) -> None:
    """Put the test key, secret and a wrong secret in the environment."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv(WRONG_ENV, WRONG_SECRET)
