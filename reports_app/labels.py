"""The words the console shows for our codes: statuses, dispositions, post-out and lifecycle states.
Pages show these; downloads keep the codes (a manager copies them into filters and tickets).
An unknown code shows as itself, so a code added later is never hidden."""

from __future__ import annotations

from typing import Final

from leadrelay.capture import dispositions

STATUS: Final[dict[str, str]] = {
    "PROCESSING": "Being checked",
    "ACCEPTED": "Accepted",
    "REJECTED": "Rejected",
}

DISPOSITION: Final[dict[str, str]] = {
    dispositions.MISSING_REQUIRED_FIELD: "Missing a required field",
    dispositions.INVALID_EMAIL: "Invalid email",
    dispositions.INVALID_PHONE: "Invalid phone number",
    dispositions.INVALID_LIST_VALUE: "Not on the picklist",
    dispositions.FIELD_TOO_LONG: "Value too long",
    dispositions.INVALID_FORMAT: "Wrong format",
    dispositions.DUPLICATE: "Duplicate",
    dispositions.TEST_LEAD: "Test lead",
    dispositions.SOURCE_DISABLED: "Source switched off",
}

POST_OUT: Final[dict[str, str]] = {
    "": "—",
    "PENDING": "Waiting to be sent",
    "RETRYING": "Retrying",
    "POSTED": "Sent to the CRM",
    "REJECTED_BY_DESTINATION": "Rejected by the CRM",
    "FAILED": "Failed to send",
    "NOT_POSTED": "Not sent (no destination takes it)",
}

STAGE: Final[dict[str, str]] = {
    "LEAD": "Lead",
    "MARKETING_QUALIFIED_LEAD": "Marketing-qualified lead",
    "SALES_OPPORTUNITY": "Sales opportunity",
    "CONVERTED": "Converted",
    "DISQUALIFIED": "Disqualified",
    "LOST": "Lost",
    "NOT_ASSIGNED": "Not assigned",
}

DISPATCH: Final[dict[str, str]] = {
    "PENDING": "Waiting to be sent",
    "SENT": "Sent to the platform",
    "FAILED": "Failed",
    "EXPIRED": "Expired (too old to send)",
    "NOT_SENDABLE": "Cannot be sent",
}

PLATFORM: Final[dict[str, str]] = {
    "LINKEDIN": "LinkedIn",
    "FACEBOOK": "Facebook",
    "CSV": "File import",
    "API": "API",
}

EVENT: Final[dict[str, str]] = {
    "received": "Received",
    "validated": "Judged",
    "imported": "Imported and judged",
    "reuploaded": "Fixed by re-upload",
    "posted": "Sent to the CRM",
    "post_rejected": "Rejected by the CRM",
    "post_failed": "Failed to send",
    "post_requeued": "Sent to the CRM again on request",
    "updated": "Resubmitted with other answers",
    "erased": "Personal data erased",
}

# The post-out filter's choices (filters.POST_OUTS), as a manager reads them.
POST_OUT_FILTER: Final[dict[str, str]] = {
    "POSTED": "Sent to the CRM",
    "PENDING": "Waiting to be sent",
    "RETRYING": "Retrying",
    "FAILED": "Failed to send",
    "REJECTED_BY_DESTINATION": "Rejected by the CRM",
    "NOT_POSTED": "Not sent: no destination takes it",
    "NONE": "Not sent: not accepted",
}

OUTCOME: Final[dict[str, str]] = {
    "posted": "Sent",
    "rejected": "Rejected by the CRM",
    "retry": "Will retry",
    "failed": "Failed",
}

REPORT: Final[dict[str, str]] = {
    "LEADS": "Leads",
    "SOURCE": "Sources",
    "REJECTIONS": "Rejected leads",
}


def word(table: dict[str, str], code: str | None) -> str:
    """The label of `code` in `table`; the code itself when it has none."""
    if code is None:
        return ""
    return table.get(code, code)


def status(code: str | None) -> str:
    return word(STATUS, code)


def disposition(code: str | None) -> str:
    return "" if not code else word(DISPOSITION, code)


def post_out(code: str | None) -> str:
    return word(POST_OUT, code or "")


def actor(label: str, users: dict[str, str]) -> str:
    """Who acted, from an audit event's actor ("user:<id>", "key:<prefix>", "" for LeadRelay itself);
    `users`: user id -> the name the console shows for them."""
    kind, _, ref = label.partition(":")
    if kind == "user":
        return users.get(ref, "a removed user")
    if kind == "key":
        return f"API key lr_{ref}_…"
    return "LeadRelay"


def stage(code: str | None) -> str:
    return word(STAGE, code)


def platform(code: str | None) -> str:
    return word(PLATFORM, code)


RUN_STATUS: Final[dict[str, str]] = {
    "running": "Running",
    "interrupted": "Interrupted (send the file again to finish it)",
    "finished": "Finished",
    "abandoned": "Abandoned",
}

# What an import does with a file column besides filling a source column (FileColumnUse.use).
COLUMN_USE: Final[dict[str, str]] = {
    "catch_all": "Catch-all (not_mapped_fields)",
    "ignore": "Ignore",
    "platform_lead_id": "Platform lead id",
    "captured_at": "Submitted at",
    "is_test": "Test lead flag",
    "form_id": "Form id",
    "form_name": "Form name",
}


def run_status(code: str | None) -> str:
    return word(RUN_STATUS, code)
