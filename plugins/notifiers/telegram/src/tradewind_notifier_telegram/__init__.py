"""tradewind-notifier-telegram."""
