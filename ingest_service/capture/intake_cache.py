"""What intake resolves per batch (a source's account and default mapping, a form's id and mapping),
kept briefly in this process: otherwise every SubmitLead batch starts with a sources (and forms) query.

Only the two mapping RPCs change these rows; each calls `forget` once its UPDATE has committed, which
bumps the generation, so a read that began before cannot store the old value. Switched-off sources
and forms need no care here: validation reads `enabled` itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from leadrelay.capture import mapping

_TTL = 5.0
_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class IntakeSource:
    account_id: UUID
    default_mapping: tuple[mapping.MappingRow, ...]


@dataclass(frozen=True)
class IntakeForm:
    form_id: UUID
    mapping: tuple[mapping.MappingRow, ...] | None  # None: the source default


class _Cache:
    def __init__(self) -> None:
        self.sources: dict[UUID, tuple[float, IntakeSource]] = {}
        self.forms: dict[tuple[UUID, str], tuple[float, IntakeForm]] = {}
        self.generation = 0


_cache = _Cache()


def forget() -> None:
    """Drops what intake cached; called once a change to a source's or form's mapping has committed."""
    _cache.sources.clear()
    _cache.forms.clear()
    _cache.generation += 1


def generation() -> int:
    """Taken before reading sources and forms; `remember` stores nothing if it changed since."""
    return _cache.generation


def cached_source(source_id: UUID, now: float) -> IntakeSource | None:
    hit = _cache.sources.get(source_id)
    return hit[1] if hit is not None and hit[0] > now else None


def cached_form(source_id: UUID, ref: str, now: float) -> IntakeForm | None:
    hit = _cache.forms.get((source_id, ref))
    return hit[1] if hit is not None and hit[0] > now else None


def remember(
    generation_read: int, sources: dict[UUID, IntakeSource], forms: dict[tuple[UUID, str], IntakeForm]
) -> None:
    """Caches what a batch read (committed rows only: never forms registered in the same transaction)."""
    if generation_read != _cache.generation:
        return
    now = time.monotonic()
    if len(_cache.sources) + len(_cache.forms) > _MAX_ENTRIES:
        _cache.sources.clear()
        _cache.forms.clear()
    expires = now + _TTL
    for source_id, source in sources.items():
        _cache.sources[source_id] = (expires, source)
    for key, form in forms.items():
        _cache.forms[key] = (expires, form)
