"""Platform identity columns of an imported file: the lead id, submit time, test flag and form a
platform's own lead download carries (Facebook, LinkedIn Campaign Manager) or a CRM export names
(Salesforce "Lead ID", HubSpot "Create Date"). They fill the lead itself, not its fields. Pure.

Facebook's download prefixes its ids by kind (`l:` lead, `f:` form, `ag:` ad, `c:` campaign, `p:`
a phone number); the prefix is dropped so the id is the one its API gives, which is how a
re-imported download meets the leads the API delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest_service.files.header_match import normalise

PLATFORM_LEAD_ID = "platform_lead_id"
CAPTURED_AT = "captured_at"
IS_TEST = "is_test"
FORM_ID = "form_id"
FORM_NAME = "form_name"

# Normalised header -> what it fills. Facebook's download: id, created_time, form_id, form_name;
# LinkedIn Campaign Manager: Lead ID, Submitted At / Date Submitted, Test Lead, Form Name;
# Salesforce: Lead ID, Created Date; HubSpot: Create Date.
HEADERS: Mapping[str, str] = {
    **dict.fromkeys(("id", "leadid", "platformleadid", "leadgenid", "leadgenerationid"), PLATFORM_LEAD_ID),
    **dict.fromkeys(
        (
            "createdtime",
            "createdat",
            "createddate",
            "createdate",
            "submittedat",
            "submittedon",
            "submittedtime",
            "datesubmitted",
            "submissiondate",
            "submissiontime",
            "capturedat",
        ),
        CAPTURED_AT,
    ),
    **dict.fromkeys(("testlead", "istest", "istestlead", "test"), IS_TEST),
    **dict.fromkeys(("formid", "leadformid", "leadgenformid"), FORM_ID),
    **dict.fromkeys(("formname", "leadformname"), FORM_NAME),
}
USES = frozenset(HEADERS.values())
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f", ""})
_PREFIXES = {PLATFORM_LEAD_ID: "l:", FORM_ID: "f:"}
# Besides ISO 8601 (Facebook, HubSpot, Mailchimp): what US-locale report exports write.
_FORMATS = ("%m/%d/%Y %I:%M %p", "%m/%d/%Y, %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y")


class IdentityError(ValueError):
    """A cell that cannot fill its lead field; `use` names which."""

    def __init__(self, use: str, reason: str) -> None:
        super().__init__(reason)
        self.use = use


@dataclass(frozen=True)
class Identity:
    platform_lead_id: str = ""
    captured_at: datetime | None = None
    is_test: bool = False
    form_ref: str = ""
    form_name: str = ""


def find_columns(headers: Sequence[str], taken: Sequence[int] = ()) -> dict[str, int]:
    """Use -> the 0-based file column that fills it (the first such header; `taken` are read otherwise)."""
    found: dict[str, int] = {}
    for i, header in enumerate(headers):
        use = HEADERS.get(normalise(header))
        if use is not None and use not in found and i not in taken:
            found[use] = i
    return found


def parse_time(text: str) -> datetime:
    """A submit time as exports write it; one without a zone is UTC."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        else:
            raise IdentityError(
                CAPTURED_AT, f"{value!r} is not a date and time (ISO 8601 or M/D/YYYY h:mm AM)"
            ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read(columns: Mapping[str, int], fields: Sequence[str]) -> Identity:
    """The identity of one row (`columns` from find_columns); IdentityError names a bad cell."""
    values = {use: fields[i].strip() for use, i in columns.items()}
    for use, prefix in _PREFIXES.items():
        if values.get(use, "").startswith(prefix):
            values[use] = values[use][len(prefix) :]
    flag = values.get(IS_TEST, "").casefold()
    if flag not in _TRUE and flag not in _FALSE:
        raise IdentityError(IS_TEST, f"{values[IS_TEST]!r} is not true or false")
    when = values.get(CAPTURED_AT, "")
    return Identity(
        platform_lead_id=values.get(PLATFORM_LEAD_ID, ""),
        captured_at=parse_time(when) if when else None,
        is_test=flag in _TRUE,
        form_ref=values.get(FORM_ID, ""),
        form_name=values.get(FORM_NAME, ""),
    )
