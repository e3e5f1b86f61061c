"""The Telegram notifier through the real loader, and the core's notifier conformance suite."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from tradewind.secrets import Secret
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import NotifierConformance

from tradewind_notifier_telegram import TelegramConfig, TelegramNotifier
from tradewind_notifier_telegram.testing import TelegramServer, serve

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("notifiers", "telegram", TelegramNotifier)


class TestConformance(NotifierConformance):
    plugin_class = TelegramNotifier
    base_url = "http://127.0.0.1:9"

    def make_config(self) -> TelegramConfig:
        return TelegramConfig(
            token=Secret("TW_TEST_TG_TOKEN"), chat_id="42", base_url=self.base_url, rate_per_s=0
        )

    @contextlib.asynccontextmanager
    async def receiver(self) -> AsyncIterator[tuple[Any, list[Any]]]:
        async with serve(TelegramServer()) as server:
            os.environ["TW_TEST_TG_TOKEN"] = server.token
            self.base_url = server.base_url
            try:
                yield self.make_config(), server.sent
            finally:
                os.environ.pop("TW_TEST_TG_TOKEN", None)
