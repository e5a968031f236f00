"""A stand-in SMTP server (aiosmtpd) that keeps every message it receives, for the scheduled report
exports in tests and under `make run`. It runs on the sandbox's own event loop; the messages are
listed at GET /smtp/_control/messages and cleared with DELETE on the same path."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def attachments(self) -> list[tuple[str, bytes]]:
        return [
            (part.get_filename() or "", part.get_payload(decode=True) or b"")  # type: ignore[misc]  # decode=True: an attachment's payload is bytes
            for part in self.message().iter_attachments()
        ]

    def summary(self) -> dict[str, Any]:
        msg = self.message()
        body = msg.get_body(("plain",))
        return {
            "at": self.at.isoformat(),
            "from": self.mail_from,
            "to": self.rcpt_tos,
            "subject": str(msg["Subject"] or ""),
            "body": body.get_content() if body is not None else "",
            "attachments": [{"filename": n, "bytes": len(b)} for n, b in self.attachments()],
        }


class Mailbox:
    """The aiosmtpd handler: every message accepted is kept, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.content or b"")))  # type: ignore[arg-type]  # aiosmtpd passes bytes (decode_data is off)
        self.arrived.set()
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        self.messages.clear()
        self.arrived.clear()

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        """Waits until at least `count` messages arrived (tests)."""
        async with asyncio.timeout(seconds):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return list(self.messages)


MAILBOX = web.AppKey("smtp_mailbox", Mailbox)


@contextlib.asynccontextmanager
async def serving(host: str, port: int, mailbox: Mailbox) -> AsyncIterator[int]:
    """Serves SMTP on host:port (0 = a free port) and yields the bound port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(mailbox, hostname="sandbox.leadrelay.local"), host, port)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def list_messages(request: web.Request) -> web.Response:
    return web.json_response({"messages": [m.summary() for m in request.app[MAILBOX].messages]})


async def clear_messages(request: web.Request) -> web.Response:
    request.app[MAILBOX].clear()
    return web.json_response({"cleared": True})


def setup(app: web.Application) -> None:
    app[MAILBOX] = Mailbox()
    app.router.add_get("/smtp/_control/messages", list_messages)
    app.router.add_delete("/smtp/_control/messages", clear_messages)
