"""Report emails: the message (a short summary, the file attached); leadrelay.mail delivers it
(`send` and `SendFailed` are re-exported for the scheduler)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from leadrelay.mail import SendFailed, send, text_message

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
    msg = text_message(sender, recipients, subject, body)
    maintype, subtype = CONTENT_TYPES[file.format]
    msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.filename)
    return msg
