"""Sending e-mail over SMTP with the settings' server: the one place alerts and the digest send from."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from monitor.config import Settings

#: Seconds to wait for the SMTP server.
SMTP_TIMEOUT = 30.0


def send_message(settings: Settings, message: EmailMessage, *, timeout: float = SMTP_TIMEOUT) -> None:
    """Send ``message`` through ``settings.smtp_host``: STARTTLS when ``smtp_starttls``, a login when ``smtp_user``.

    Raises what smtplib or the socket raise (``smtplib.SMTPException``, ``OSError``); callers turn it into
    their own one-line error.
    """
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)
