"""Lead intake: store each lead (raw answers, mapped fields, PROCESSING, `received` event) in one
transaction, then have it judged by ValidationService.ValidateLeads (validation_client). The path
SubmitLead(s), platform webhooks, polls and syncs take. Files do not: an import stores its rows
already judged through ValidateNewLeads (files.importer) and uses intake's lead ids only; a file's
leads are stored PROCESSING by the same insert only when validation cannot take them.

Bulk by construction: one query resolves the batch's sources, one its forms, one multi-row INSERT
... ON CONFLICT DO NOTHING stores the new leads, one INSERT their `received` events, and one
ValidateLeads call judges each `validate_batch_size` chunk.

Unknown ids: a lead whose source is unknown (or another account's) cannot be stored, so the whole
call fails with NOT_FOUND (PERMISSION_DENIED) naming it. A form the source does not know yet is, by
default, registered on the spot (enabled, with the source's default mapping): platforms add forms
without telling us and their leads must never be dropped. The public SubmitLead(s) RPCs pass
`unknown_forms="refuse"` instead: an API caller naming a form that does not exist gets NOT_FOUND.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from uuid import UUID

import asyncpg
import orjson

from ingest_service.capture import intake_cache, validation_client
from ingest_service.resources import IngestResources
from leadrelay.capture import leads_store, mapping, sources_store, text
from leadrelay.capture.leads import PROCESSING, IncomingLead, Outcome
from leadrelay.db import Connection
from leadrelay.errors import NotFound
from leadrelay.ownership import check_owner

log = logging.getLogger(__name__)

WAITING = "stored; waiting for validation"


async def submit(
    deps: IngestResources,
    account_id: UUID,
    leads: Sequence[IncomingLead],
    *,
    unknown_forms: str = "register",
    via: str = "",
    resubmissions: bool = False,
    lead_ids: Sequence[UUID] | None = None,
) -> list[Outcome]:
    """Stores and judges `leads` (one outcome each, in order). A repeat of a known platform lead id
    returns the first outcome with duplicate=True and changes nothing — unless `resubmissions` (a
    platform whose lead ids can be submitted again, LinkedIn) and its answers changed: then the lead
    is updated, re-mapped and judged again (an `updated` event). If validation cannot be reached the
    leads stay PROCESSING (the sweeper re-drives them) and their outcome says so.

    `unknown_forms`: "register" (connectors, files) or "refuse" (NOT_FOUND, the public RPCs).
    `via` is written into the `received` event (webhook, poll, sync, import, SubmitLeads, ...).
    `lead_ids`: the ids to store new leads under (one per lead), chosen earlier by the caller
    (idempotency); fresh ones otherwise."""
    if not leads:
        return []
    # NUL, lone surrogates: one lead's odd text must not fail the statement its whole batch shares.
    leads = [text.clean_lead(lead) for lead in leads]
    ids = list(lead_ids) if lead_ids is not None else new_lead_ids(len(leads))
    resolved = _resolve_cached(account_id, leads)
    async with deps.pool.acquire() as con:
        # From the cache, storing is the one insert_received statement (leads and their events),
        # atomic on its own: no BEGIN and COMMIT round trips around it. Otherwise resolving the
        # sources (and registering forms) shares a transaction with the insert.
        async with con.transaction() if resolved is None else contextlib.nullcontext():
            if resolved is None:
                resolved = await _resolve(con, account_id, leads, unknown_forms)
            rows = _new_rows(leads, ids, *resolved)
            inserted = await leads_store.insert_received(con, account_id, rows.new, via)
            known_keys = [k for k, i in rows.first.items() if ids[i] not in inserted]
            known = await leads_store.known_leads(con, known_keys) if known_keys else {}
            updated = await _resubmitted(con, account_id, rows, known, via) if resubmissions and known else {}
    first, repeat_of, mapped = rows.first, rows.repeat_of, rows.mapped
    stored = [i for i in first.values() if ids[i] in inserted]
    # From here on an updated lead is handled as a stored one, under its own id.
    for i, lead_id in updated.items():
        ids[i] = lead_id
        inserted.add(lead_id)
        stored.append(i)

    outcomes: list[Outcome | None] = [None] * len(leads)
    for key, i in first.items():
        if ids[i] in inserted:
            outcomes[i] = Outcome(ids[i], key[1], PROCESSING, "", WAITING, False, mapped[i])
        else:
            row = known[key]
            reason = row["custom_reason"] or (WAITING if row["status"] == PROCESSING else "")
            outcomes[i] = Outcome(
                row["lead_id"], key[1], row["status"], row["disposition_code"], reason, True, row["fields"]
            )

    judged = await validation_client.judge(deps, account_id, [ids[i] for i in stored])
    for i in stored:
        verdict = judged.get(ids[i])
        if verdict is None:
            continue
        if verdict.status == PROCESSING:  # not judged: keep what we know, say why
            outcomes[i] = dataclasses.replace(outcomes[i], custom_reason=verdict.custom_reason)  # type: ignore[type-var]  # a stored lead has an outcome
        else:
            outcomes[i] = verdict
    for i, j in repeat_of.items():
        o = outcomes[j]
        assert o is not None
        outcomes[i] = Outcome(
            o.lead_id, o.platform_lead_id, o.status, o.disposition_code, o.custom_reason, True, o.fields
        )
    return outcomes  # type: ignore[return-value]  # every slot is filled by now


async def _resubmitted(
    con: Connection,
    account_id: UUID,
    rows: _Rows,
    known: dict[tuple[UUID, str], asyncpg.Record],
    via: str,
) -> dict[int, UUID]:
    """Applies the known leads whose answers changed; returns batch index -> the stored lead's id."""
    changed = leads_store.NewLeads([], [], [], [], [], [], [], [], [])
    index: dict[UUID, int] = {}
    new = rows.new
    for key, i in rows.first.items():
        row = known.get(key)
        if row is None or row["erased"]:
            continue
        j = rows.new_index[i]
        if orjson.loads(new.answers[j]) == row["answers"]:
            continue
        index[row["lead_id"]] = i
        changed.lead_ids.append(row["lead_id"])
        changed.answers.append(new.answers[j])
        changed.fields.append(new.fields[j])
        changed.contexts.append(new.contexts[j])
        changed.is_test.append(new.is_test[j])
        changed.captured_at.append(new.captured_at[j])
    if not changed.lead_ids:
        return {}
    done = await leads_store.apply_resubmissions(con, account_id, changed, via)
    return {index[lead_id]: lead_id for lead_id in done}


@dataclasses.dataclass
class _Rows:
    new: leads_store.NewLeads
    first: dict[tuple[UUID, str], int]  # (source, platform lead id) -> the index stored for it
    repeat_of: dict[int, int]  # a later repeat in the batch -> the first occurrence's index
    mapped: list[dict[str, str]]  # every lead's mapped fields
    new_index: dict[int, int] = dataclasses.field(default_factory=dict)  # first occurrence -> its row in `new`


def _new_rows(
    leads: Sequence[IncomingLead],
    ids: Sequence[UUID],
    mappings: dict[tuple[UUID, UUID | None], tuple[mapping.MappingRow, ...]],
    form_ids: Sequence[UUID | None],
) -> _Rows:
    """The batch mapped, as the columns to insert. The first occurrence of a (source, platform lead
    id) in the batch is the one stored."""
    rows = _Rows(leads_store.NewLeads([], [], [], [], [], [], [], [], []), {}, {}, [])
    new, first = rows.new, rows.first
    for i, lead in enumerate(leads):
        key = (lead.source_id, lead.platform_lead_id or str(ids[i]))
        form_id = form_ids[i]
        fields = mapping.apply(lead.answers, mappings[(lead.source_id, form_id)])
        rows.mapped.append(fields)
        if key in first:
            rows.repeat_of[i] = first[key]
            continue
        first[key] = i
        rows.new_index[i] = len(new.lead_ids)
        new.lead_ids.append(ids[i])
        new.source_ids.append(lead.source_id)
        new.form_ids.append(form_id)
        new.platform_lead_ids.append(key[1])
        new.answers.append(text.dumps([{"name": a.name, "values": a.values} for a in lead.answers]))
        new.fields.append(text.dumps(fields))
        new.contexts.append(text.dumps(dict(lead.platform_context)))
        new.is_test.append(lead.is_test)
        new.captured_at.append(lead.captured_at)
    return rows


Resolved = tuple[dict[tuple[UUID, UUID | None], tuple[mapping.MappingRow, ...]], list[UUID | None]]


def _resolve_cached(account_id: UUID, leads: Sequence[IncomingLead]) -> Resolved | None:
    """What `_resolve` returns, from the intake cache alone; None if anything is not cached."""
    now = time.monotonic()
    return _in_force(
        account_id,
        leads,
        lambda source_id: intake_cache.cached_source(source_id, now),
        lambda source_id, ref: intake_cache.cached_form(source_id, ref, now),
    )


def _in_force(
    account_id: UUID,
    leads: Sequence[IncomingLead],
    source_of: Callable[[UUID], intake_cache.IntakeSource | None],
    form_of: Callable[[UUID, str], intake_cache.IntakeForm | None],
) -> Resolved | None:
    """Each lead's form_id, and the mapping in force per (source, form): the form's own, else its
    source's default. None if `source_of` or `form_of` does not know one of them."""
    mappings: dict[tuple[UUID, UUID | None], tuple[mapping.MappingRow, ...]] = {}
    form_ids: list[UUID | None] = []
    checked: set[UUID] = set()
    for lead in leads:
        source = source_of(lead.source_id)
        if source is None:
            return None
        if lead.source_id not in checked:
            check_owner("source", lead.source_id, source.account_id, account_id)
            checked.add(lead.source_id)
        form = form_of(lead.source_id, lead.form_ref) if lead.form_ref else None
        if lead.form_ref and form is None:
            return None
        form_id = form.form_id if form is not None else None
        form_ids.append(form_id)
        if (lead.source_id, form_id) not in mappings:
            own = form.mapping if form is not None else None
            mappings[(lead.source_id, form_id)] = own if own is not None else source.default_mapping
    return mappings, form_ids


async def _resolve(con: Connection, account_id: UUID, leads: Sequence[IncomingLead], unknown_forms: str) -> Resolved:
    """Checks the sources, finds (or registers) the forms; returns the mapping in force per
    (source, form) and each lead's form_id. What it read (not what it registers) goes into the
    intake cache."""
    generation = intake_cache.generation()
    source_ids = list(dict.fromkeys(lead.source_id for lead in leads))
    sources = {r["source_id"]: r for r in await sources_store.sources_for_intake(con, source_ids)}
    for sid in source_ids:
        row = sources.get(sid)
        check_owner("source", sid, row["account_id"] if row else None, account_id)
    defaults = {
        sid: intake_cache.IntakeSource(r["account_id"], mapping.from_json(r["default_mapping"]))
        for sid, r in sources.items()
    }
    wanted = list(dict.fromkeys((lead.source_id, lead.form_ref) for lead in leads if lead.form_ref))
    found: dict[tuple[UUID, str], intake_cache.IntakeForm] = {}
    if wanted:
        for r in await sources_store.forms_for_intake(con, source_ids, [ref for _, ref in wanted]):
            form = intake_cache.IntakeForm(
                r["form_id"], mapping.from_json(r["mapping"]) if r["mapping"] is not None else None
            )
            found[(r["source_id"], r["platform_form_id"])] = form
            found[(r["source_id"], str(r["form_id"]))] = form
    intake_cache.remember(generation, defaults, found)
    forms = dict(found)
    missing = [w for w in wanted if w not in forms]
    if missing:
        if unknown_forms == "refuse":
            raise NotFound("form", missing[0][1])
        for r in await sources_store.register_forms(con, account_id, missing):
            forms[(r["source_id"], r["platform_form_id"])] = intake_cache.IntakeForm(r["form_id"], None)
    resolved = _in_force(account_id, leads, defaults.get, lambda source_id, ref: forms.get((source_id, ref)))
    assert resolved is not None  # every source was checked and every form found or registered above
    return resolved


# Time-ordered lead ids (UUIDv7 layout): ids sort by arrival, which keeps the primary key's inserts
# at the right edge of the index and gives the duplicate rule a stable "earlier" within a batch.
_lock = threading.Lock()
_last = [0, 0]  # [ms, counter]


def new_lead_ids(n: int) -> list[UUID]:
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last[0]:
            _last[0], _last[1] = ms, int.from_bytes(os.urandom(9)) >> 4  # 68 random bits: room to count
        out = []
        for _ in range(n):
            _last[1] += 1
            counter = _last[1] & ((1 << 74) - 1)
            high = (_last[0] << 80) | (0x7 << 76) | ((counter >> 62) << 64)
            value = high | (0b10 << 62) | (counter & ((1 << 62) - 1))
            out.append(UUID(int=value))
        return out
