"""tradewind-notifier-telegram: Telegram Bot API messages and opt-in control commands."""

from tradewind_notifier_telegram.plugin import TelegramConfig, TelegramNotifier

__all__ = ["TelegramConfig", "TelegramNotifier"]
