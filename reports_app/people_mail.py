"""The e-mails the Users page sends: an invitation and a password reset, each with its one-time link
(the link is the only secret in them; neither names the inviter's password or anything else)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from leadrelay.mail import text_message


def _lifetime(span: timedelta) -> str:
    hours = round(span.total_seconds() / 3600)
    return f"{hours // 24} days" if hours >= 48 else f"{hours} hours"


def invitation(sender: str, to: str, account: str, inviter: str, url: str, valid: timedelta) -> EmailMessage:
    body = (
        f"{inviter} invited you to the LeadRelay console of {account}.\n\n"
        f"Choose your password here (the link works once, for {_lifetime(valid)}):\n{url}\n\n"
        "Then sign in with this e-mail address and that password.\n"
        "If you did not expect this, ignore this message: nothing happens without the link."
    )
    return text_message(sender, [to], f"You are invited to the LeadRelay console of {account}", body)


def reset(sender: str, to: str, account: str, admin: str, url: str, valid: timedelta) -> EmailMessage:
    body = (
        f"{admin} asked for a new password for your LeadRelay console user ({account}).\n\n"
        f"Choose it here (the link works once, for {_lifetime(valid)}):\n{url}\n\n"
        "Your current password keeps working until you do."
    )
    return text_message(sender, [to], "Choose a new LeadRelay password", body)
