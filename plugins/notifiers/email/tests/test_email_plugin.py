"""The email notifier through the real loader, and the core's notifier conformance suite."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tradewind.secrets import Secret
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import NotifierConformance

from tradewind_notifier_email import EmailConfig, EmailNotifier
from tradewind_notifier_email.testing import smtp_server

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("notifiers", "email", EmailNotifier)


class TestConformance(NotifierConformance):
    plugin_class = EmailNotifier

    def make_config(self) -> EmailConfig:
        return EmailConfig(
            from_addr="bot@example.org",
            to_addrs=["me@example.org"],
            smtp_host="127.0.0.1",
            smtp_port=9,
            username="bot",
            password=Secret("TW_TEST_SMTP_PASSWORD"),
            rate_per_s=0,
        )

    @contextlib.asynccontextmanager
    async def receiver(self) -> AsyncIterator[tuple[Any, list[Any]]]:
        with tempfile.TemporaryDirectory() as tmp, smtp_server(Path(tmp)) as (box, port, cert):
            os.environ["TW_TEST_SMTP_PASSWORD"] = "pw"
            try:
                config = EmailConfig(
                    from_addr="bot@example.org",
                    to_addrs=["me@example.org"],
                    smtp_host="127.0.0.1",
                    smtp_port=port,
                    username="bot",
                    password=Secret("TW_TEST_SMTP_PASSWORD"),
                    ca_file=str(cert),
                    rate_per_s=0,
                )
                yield config, box.raw
            finally:
                os.environ.pop("TW_TEST_SMTP_PASSWORD", None)
