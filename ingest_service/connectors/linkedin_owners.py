"""Who owns a LinkedIn source's leads. Pure.

A sponsored ad account owns SPONSORED leads (lead gen ads); an organization owns the leads of its
event, company and product pages (EVENT, COMPANY, ORGANIZATION_PRODUCT), and LinkedIn's finders
refuse the other owner's lead types. A source's external_account_id names the owner: the sponsored
account id ("507404993", or its URN) or the organization's URN ("urn:li:organization:2414183").
`key` is how the webhook inbox files a notification's owner, so it finds that source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

SPONSORED = "sponsoredAccount"
ORGANIZATION = "organization"
LEAD_TYPES = {SPONSORED: ("SPONSORED",), ORGANIZATION: ("EVENT", "COMPANY", "ORGANIZATION_PRODUCT")}


@dataclass(frozen=True)
class Owner:
    kind: str  # SPONSORED or ORGANIZATION
    id: str

    @property
    def urn(self) -> str:
        return f"urn:li:{self.kind}:{self.id}"

    @property
    def finder(self) -> str:
        """The Rest.li `owner=` value: structure characters literal, the URN inside encoded."""
        return f"({self.kind}:{quote(self.urn, safe='')})"

    @property
    def lead_types(self) -> tuple[str, ...]:
        return LEAD_TYPES[self.kind]

    @property
    def key(self) -> str:
        # Sponsored accounts keep the bare id sources have always been created with.
        return self.id if self.kind == SPONSORED else self.urn


def of_source(external_account_id: str) -> Owner:
    """An organization URN is an organization; anything else is a sponsored account (id or URN)."""
    value = external_account_id.strip()
    prefix = f"urn:li:{ORGANIZATION}:"
    if value.startswith(prefix):
        return Owner(ORGANIZATION, value[len(prefix) :])
    return Owner(SPONSORED, value.rsplit(":", 1)[-1])


def of_notification(owner: Any) -> Owner | None:
    """A notification's or response's `owner` ({"sponsoredAccount": urn} or {"organization": urn})."""
    if not isinstance(owner, Mapping):
        return None
    for kind in (SPONSORED, ORGANIZATION):
        urn = owner.get(kind)
        if isinstance(urn, str) and urn.rsplit(":", 1)[-1]:
            return Owner(kind, urn.rsplit(":", 1)[-1])
    return None
