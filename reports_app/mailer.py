"""Report emails: the message (a short summary, the file attached); leadrelay.mail delivers it
(`send` and `SendFailed` are re-exported for the scheduler)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from leadrelay.mail import SendFailed, send

__all__ = ["CONTENT_TYPES", "ReportFile", "SendFailed", "report_message", "send"]

CONTENT_TYPES = {
    "CSV": ("text", "csv"),
    "XLSX": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


@dataclass(frozen=True)
class ReportFile:
    filename: str
    format: str  # CSV or XLSX
    data: bytes
    rows: int
    summary: str  # one line: what the file holds


def report_message(sender: str, recipients: Sequence[str], subject: str, body: str, file: ReportFile) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "leadrelay.local")
    msg.set_content(body)
    maintype, subtype = CONTENT_TYPES[file.format]
    msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.filename)
    return msg
