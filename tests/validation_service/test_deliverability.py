"""Email deliverability: DNS answers from a DNS server on loopback (no internet), resolved outside
judging's transaction and fed to the pure criteria."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from uuid import UUID

import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from leadrelay.v1 import validation_pb2
from tests.ingest_service.capture_support import new_source, rule, set_rules
from validation_service import criteria as crit
from validation_service import deliverability, judging


class _LoopbackDns(asyncio.DatagramProtocol):
    """mail-* domains have an MX record, silent-* domains never get an answer, the rest do not exist."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().rstrip(".")
        if name.startswith("silent-"):
            return
        response = dns.message.make_response(query)
        if name.startswith("mail-") and question.rdtype == dns.rdatatype.MX:
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "MX", f"10 mx.{name}."))
        elif not name.startswith("mail-"):
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)  # type: ignore[attr-defined]  # a DatagramTransport; asyncio types it BaseTransport


@pytest.fixture
async def resolver() -> AsyncIterator[dns.resolver.Resolver]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_LoopbackDns, local_addr=("127.0.0.1", 0))
    found = dns.resolver.Resolver(configure=False)
    found.nameservers = ["127.0.0.1"]
    found.port = transport.get_extra_info("sockname")[1]
    yield found
    transport.close()


def _domains() -> tuple[str, str, str]:
    # Fresh names each run: answers are kept for a while in the process.
    tag = secrets.token_hex(4)
    return f"mail-{tag}.example", f"nomail-{tag}.example", f"silent-{tag}.example"


async def test_resolving_says_which_domains_receive_mail_and_leaves_out_those_dns_never_answered(resolver):
    mail, nomail, silent = _domains()
    found = await deliverability.resolve([mail, nomail, silent], lookup_seconds=0.5, resolver=resolver)
    assert found == {mail: "", nomail: f"The domain name {nomail} does not exist."}
    assert deliverability.known([mail, nomail, silent]) == found


async def test_judging_rejects_an_address_whose_domain_does_not_exist_and_accepts_one_that_receives_mail(
    api, pool, resolver
):
    mail, nomail, silent = _domains()
    source = await new_source(api)
    await set_rules(api, source.source_id, [rule("email", email=validation_pb2.EmailCheck(check_deliverability=True))])
    rows = [crit.Row({"email": f"a@{nomail}"}), crit.Row({"email": f"b@{mail}"}), crit.Row({"email": f"c@{silent}"})]
    outcomes = await judging.judge_fields(
        pool, judging.CriteriaCache(), api.account.account_id, UUID(source.source_id), rows, resolver=resolver
    )
    assert [(o.status, o.disposition_code) for o in outcomes] == [
        ("REJECTED", "REJECT_LEAD_INVALID_EMAIL"),
        ("ACCEPTED", ""),
        ("ACCEPTED", ""),  # DNS did not answer: not knowing is no reason to reject
    ]
    assert (
        outcomes[0].custom_reason
        == f'email: "a@{nomail}" is not a valid email address (The domain name {nomail} does not exist.)'
    )
