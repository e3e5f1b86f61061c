"""tradewind-notifier-email: email over SMTP (STARTTLS/SSL, auth) or SendGrid v3."""

from tradewind_notifier_email.plugin import EmailConfig, EmailNotifier, body_text, build_email

__all__ = ["EmailConfig", "EmailNotifier", "body_text", "build_email"]
