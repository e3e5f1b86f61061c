"""tradewind-notifier-webhook: JSON POST to any URL, optionally HMAC-signed."""

from tradewind_notifier_webhook.plugin import (
    WebhookConfig,
    WebhookNotifier,
    body_of,
    sign,
    verify_signature,
)

__all__ = ["WebhookConfig", "WebhookNotifier", "body_of", "sign", "verify_signature"]
