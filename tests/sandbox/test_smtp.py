"""The sandbox SMTP server keeps what it receives and lists it on its control endpoint."""

from __future__ import annotations

from email.message import EmailMessage

import aiohttp
import aiosmtplib

from sandbox.app import RunningSandbox


async def test_keeps_received_messages_with_attachments(sandbox: RunningSandbox):
    mailbox = sandbox.extra["mailbox"]
    before = len(mailbox.messages)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@leadrelay.local", "b@example.com", "Größe ✓"
    msg.set_content("body text")
    msg.add_attachment(b"x,y\r\n1,2\r\n", maintype="text", subtype="csv", filename="r.csv")
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=sandbox.extra["smtp_port"])
    got = (await mailbox.wait_for(before + 1))[before]
    assert got.rcpt_tos == ["b@example.com"]
    assert got.attachments() == [("r.csv", b"x,y\r\n1,2\r\n")]
    async with aiohttp.ClientSession() as http, http.get(f"{sandbox.url}/smtp/_control/messages") as reply:
        listed = (await reply.json())["messages"][before]
    assert listed["subject"] == "Größe ✓"
    assert listed["body"].strip() == "body text"
    assert listed["attachments"] == [{"filename": "r.csv", "bytes": 10}]
