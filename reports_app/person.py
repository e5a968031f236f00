"""Who a lead is, from its mapped fields: name, email and company, whatever the source calls those
columns (first_name + last_name, full_name, Email, company_name, organization, ...). Plain functions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

_KEY: Final = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    company: str
    # The columns they came from (the masking rules go by column).
    name_column: str = "name"
    email_column: str = "email"


def _norm(column: str) -> str:
    return _KEY.sub("", column.lower())


def person(fields: Mapping[str, Any] | None) -> Person:
    by = {_norm(k): (k, "" if v is None else str(v).strip()) for k, v in (fields or {}).items()}

    def first(*keys: str) -> tuple[str, str]:
        for k in keys:
            column, value = by.get(k, ("", ""))
            if value:
                return column, value
        return "", ""

    name_column, name = first("fullname", "name", "contactname")
    if not name:
        given, family = first("firstname", "givenname")[1], first("lastname", "surname", "familyname")[1]
        name, name_column = " ".join(p for p in (given, family) if p), "first_name"
    email_column, email = first("email", "emailaddress", "workemail", "businessemail")
    if not email:  # any column whose name says email
        email_column, email = next(((c, v) for k, (c, v) in by.items() if "mail" in k and v), ("", ""))
    company = first("company", "companyname", "organization", "organisation", "account", "accountname")[1]
    return Person(name, email, company, name_column or "name", email_column or "email")
