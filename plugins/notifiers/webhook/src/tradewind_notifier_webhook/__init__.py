"""tradewind-notifier-webhook."""
