"""A form's fields as a person maps them: the platform's definition (label, type, order) joined to
what recent leads actually answered (sample answers, and fields only leads show), each flagged when
the form gained it after the mapping in force was last saved and no row maps it (its answers go to
the not_mapped_fields catch-all until someone maps it). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from leadrelay.capture import mapping
from leadrelay.capture.leads import Answer

SAMPLES = 3


@dataclass(frozen=True)
class Definition:
    """A question of the form as the platform lists it."""

    name: str
    label: str = ""
    type: str = ""
    position: int = 0
    first_seen_at: datetime | None = None


@dataclass(frozen=True)
class RecentLead:
    received_at: datetime
    answers: Sequence[Answer]


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    type: str
    samples: tuple[str, ...]
    defined: bool
    new_since_mapping: bool
    first_seen_at: datetime | None


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def form_fields(
    definitions: Sequence[Definition],
    recent: Sequence[RecentLead],
    rows: Sequence[mapping.MappingRow],
    saved_at: datetime | None,
) -> list[FormField]:
    """The platform's fields in its order, then fields only leads answered (newest lead first).
    `recent` is newest first; `rows`/`saved_at` are the mapping in force and when it was saved."""
    samples: dict[str, list[str]] = {}
    seen_in: dict[str, list[datetime]] = {}
    names: dict[str, str] = {}
    for lead in recent:
        for answer in lead.answers:
            key = _key(answer.name)
            names.setdefault(key, answer.name)
            seen_in.setdefault(key, []).append(lead.received_at)
            value = mapping.join_values(answer.values)
            found = samples.setdefault(key, [])
            if value.strip() and value not in found and len(found) < SAMPLES:
                found.append(value)
    mapped = mapping.mapped_fields(rows)
    out: list[FormField] = []
    defined = set()
    for d in sorted(definitions, key=lambda d: d.position):
        key = _key(d.name)
        defined.add(key)
        gained = bool(rows) and saved_at is not None and d.first_seen_at is not None and d.first_seen_at > saved_at
        out.append(
            FormField(
                d.name,
                d.label,
                d.type,
                tuple(samples.get(key, ())),
                True,
                gained and key not in mapped,
                d.first_seen_at,
            )
        )
    before = [lead for lead in recent if saved_at is not None and lead.received_at <= saved_at]
    for key, name in names.items():
        if key in defined:
            continue
        times = seen_in[key]
        # Only leads can tell: gained when leads before the save lacked it and a later one has it.
        gained = (
            bool(rows)
            and saved_at is not None
            and bool(before)
            and all(t > saved_at for t in times)
            and key not in mapped
        )
        out.append(FormField(name, "", "", tuple(samples[key]), False, gained, min(times)))
    return out
