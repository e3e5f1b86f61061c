"""tradewind-exit-trailing: a trailing stop exit monitor."""
