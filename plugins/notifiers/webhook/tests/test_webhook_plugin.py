"""The webhook notifier through the real loader, and the core's notifier conformance suite."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import NotifierConformance

from tradewind_notifier_webhook import WebhookConfig, WebhookNotifier
from tradewind_notifier_webhook.testing import Receiver, serve

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("notifiers", "webhook", WebhookNotifier)


class TestConformance(NotifierConformance):
    plugin_class = WebhookNotifier

    def make_config(self) -> WebhookConfig:
        return WebhookConfig(url="http://127.0.0.1:9/unused")

    @contextlib.asynccontextmanager
    async def receiver(self) -> AsyncIterator[tuple[Any, list[Any]]]:
        async with serve(Receiver()) as rec:
            yield WebhookConfig(url=rec.url), rec.raw
