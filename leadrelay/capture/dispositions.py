"""The disposition catalogue: every code a lead can be rejected with, and what it means.

One catalogue for every service (ListDispositionCodes returns it; reports group by it). A rule may
override its kind's default code, but only with a code from here, so reports stay comparable.
"""

from __future__ import annotations

from typing import Final

MISSING_REQUIRED_FIELD: Final = "REJECT_LEAD_MISSING_REQUIRED_FIELD"
INVALID_EMAIL: Final = "REJECT_LEAD_INVALID_EMAIL"
INVALID_PHONE: Final = "REJECT_LEAD_INVALID_PHONE"
INVALID_LIST_VALUE: Final = "REJECT_LEAD_INVALID_LIST_VALUE"
FIELD_TOO_LONG: Final = "REJECT_LEAD_FIELD_TOO_LONG"
INVALID_FORMAT: Final = "REJECT_LEAD_INVALID_FORMAT"
DUPLICATE: Final = "REJECT_LEAD_DUPLICATE"
TEST_LEAD: Final = "REJECT_LEAD_TEST_LEAD"
SOURCE_DISABLED: Final = "REJECT_LEAD_SOURCE_DISABLED"

CATALOGUE: Final[dict[str, str]] = {
    MISSING_REQUIRED_FIELD: "A required column is empty.",
    INVALID_EMAIL: "The email address is not a valid address.",
    INVALID_PHONE: "The phone number is not a valid number for its country.",
    INVALID_LIST_VALUE: "A value is not one of the column's allowed picklist values.",
    FIELD_TOO_LONG: "A value is longer than the column allows.",
    INVALID_FORMAT: "A value does not match the column's required pattern.",
    DUPLICATE: "The same person (email and/or phone) was already received within the duplicate window.",
    TEST_LEAD: "The lead is a platform test lead and the source rejects test leads.",
    SOURCE_DISABLED: "The lead's source or form was switched off when it arrived; it is re-judged when switched on.",
}


def describe(code: str) -> str:
    return CATALOGUE.get(code, "")


def is_known(code: str) -> bool:
    return code in CATALOGUE
