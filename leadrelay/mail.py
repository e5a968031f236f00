"""Sending e-mail over SMTP with the SMTP_* settings (aiosmtplib; plain, STARTTLS or implicit TLS,
optional credentials) — the reports' scheduled exports and the connectors' token notices."""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from leadrelay.settings import Settings


class SendFailed(Exception):
    """The SMTP server could not be reached or refused the message; the message says why."""


def text_message(sender: str, recipients: Sequence[str], subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "leadrelay.local")
    msg.set_content(body)
    return msg


async def send(settings: Settings, msg: EmailMessage, seconds: float = 30.0) -> str:
    """Sends and returns the server's reply; raises SendFailed with a reason a person can act on."""
    try:
        errors, reply = await aiosmtplib.send(
            msg,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_tls == "tls",
            start_tls=True if settings.smtp_tls == "starttls" else False,
            timeout=seconds,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise SendFailed(f"{settings.smtp_host}:{settings.smtp_port}: {type(exc).__name__}: {exc}") from exc
    if errors:
        # Some recipients took it: a retry would send them a second copy, so report, don't raise.
        refused = "; ".join(f"{addr}: {code} {text}" for addr, (code, text) in errors.items())
        return f"{reply} (refused: {refused})"
    return reply
