"""tradewind-notifier-discord: Discord webhooks with embeds."""

from tradewind_notifier_discord.plugin import DiscordConfig, DiscordNotifier, embed_payload

__all__ = ["DiscordConfig", "DiscordNotifier", "embed_payload"]
