"""The Discord notifier through the real loader, and the core's notifier conformance suite."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from tradewind.secrets import Secret
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import NotifierConformance

from tradewind_notifier_discord import DiscordConfig, DiscordNotifier
from tradewind_notifier_discord.testing import DiscordServer, serve

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("notifiers", "discord", DiscordNotifier)


class TestConformance(NotifierConformance):
    plugin_class = DiscordNotifier

    def make_config(self) -> DiscordConfig:
        return DiscordConfig(webhook_url=Secret("TW_TEST_DISCORD_WEBHOOK"))

    @contextlib.asynccontextmanager
    async def receiver(self) -> AsyncIterator[tuple[Any, list[Any]]]:
        async with serve(DiscordServer()) as server:
            os.environ["TW_TEST_DISCORD_WEBHOOK"] = server.url
            try:
                yield self.make_config(), server.raw
            finally:
                os.environ.pop("TW_TEST_DISCORD_WEBHOOK", None)
