"""Meta's seven lifecycle stages and the advertiser's own stage names mapped onto them.

Pure: no I/O. The advertiser's stage is always kept next to the Meta stage; a stage nobody mapped is
NOT_ASSIGNED (and listed in GetFeedbackStatus so a manager sees what to map).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class MetaStage(StrEnum):
    LEAD = "LEAD"
    MARKETING_QUALIFIED_LEAD = "MARKETING_QUALIFIED_LEAD"
    SALES_OPPORTUNITY = "SALES_OPPORTUNITY"
    CONVERTED = "CONVERTED"
    DISQUALIFIED = "DISQUALIFIED"
    LOST = "LOST"
    NOT_ASSIGNED = "NOT_ASSIGNED"

    @property
    def display_name(self) -> str:
        return DISPLAY_NAMES[self]


# How Meta's lead-quality guide and Events Manager name the stages (for people: status, reports).
DISPLAY_NAMES: dict[MetaStage, str] = {
    MetaStage.LEAD: "Lead",
    MetaStage.MARKETING_QUALIFIED_LEAD: "Marketing Qualified Lead",
    MetaStage.SALES_OPPORTUNITY: "Sales Opportunity",
    MetaStage.CONVERTED: "Converted",
    MetaStage.DISQUALIFIED: "Disqualified",
    MetaStage.LOST: "Lost",
    MetaStage.NOT_ASSIGNED: "Not Assigned",
}

# The advertiser stage recorded for a lead's initial stage when the mapping names none for LEAD.
DEFAULT_INITIAL_STAGE = "Lead"

MAX_STAGE_LENGTH = 200


def map_stage(mapping: Mapping[str, MetaStage], crm_stage: str) -> MetaStage:
    """The Meta stage of an advertiser stage; exact name first, then case/space-insensitive
    (CRMs are not consistent about 'Closed Won' vs 'closed won'); NOT_ASSIGNED when unmapped."""
    found = mapping.get(crm_stage)
    if found is not None:
        return found
    folded = _fold(crm_stage)
    for name, stage in mapping.items():
        if _fold(name) == folded:
            return stage
    return MetaStage.NOT_ASSIGNED


def is_mapped(mapping: Mapping[str, MetaStage], crm_stage: str) -> bool:
    folded = _fold(crm_stage)
    return crm_stage in mapping or any(_fold(name) == folded for name in mapping)


def initial_stage(mapping: Mapping[str, MetaStage]) -> str:
    """The advertiser's name for a lead's first stage: the (alphabetically first) stage mapped to
    LEAD, else 'Lead' — backfill records it for leads the CRM supplies no history for."""
    names = sorted(name for name, stage in mapping.items() if stage is MetaStage.LEAD)
    return names[0] if names else DEFAULT_INITIAL_STAGE


def stage_name_problem(crm_stage: str) -> str | None:
    """Why an advertiser stage name cannot be recorded, or None. Meta's event_name is free-form, so
    only blank, over-long or control-character names are refused."""
    if not crm_stage.strip():
        return "crm_stage is empty"
    if len(crm_stage) > MAX_STAGE_LENGTH:
        return f"crm_stage is longer than {MAX_STAGE_LENGTH} characters"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in crm_stage):
        return "crm_stage contains control characters"
    return None


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()
