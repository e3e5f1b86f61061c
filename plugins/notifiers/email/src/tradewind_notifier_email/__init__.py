"""tradewind-notifier-email."""
