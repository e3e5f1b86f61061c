"""tradewind-notifier-discord."""
