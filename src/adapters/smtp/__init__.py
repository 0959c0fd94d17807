"""Outgoing mail over SMTP (the standard library's smtplib)."""

from videoplatform.adapters.smtp.mailer import SmtpMailer, smtp_settings

__all__ = ["SmtpMailer", "smtp_settings"]
