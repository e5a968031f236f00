"""Judging stored leads (ValidateLeads) and unstored rows (EvaluateLeads) under their source's
current acceptance criteria.

ValidateLeads, in ONE transaction: load and lock the leads (one query), judge in Python, write the
results back (one UPDATE ... FROM unnest), add the `validated` events, and enqueue the accepted leads
for post-out. PROCESSING and REJECTED leads are (re)judged; ACCEPTED leads never are (their current
outcome is returned) so nothing is posted twice. A lead whose source or form is switched off is
rejected with REJECT_LEAD_SOURCE_DISABLED and re-driven when it is switched on again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import asyncpg
import orjson

from leadrelay.capture import dispositions, leads_store, sources_store
from leadrelay.capture import text as capture_text
from leadrelay.capture.leads import ACCEPTED, REJECTED, Outcome
from leadrelay.db import Connection
from leadrelay.errors import InvalidArgument, LeadRelayError, PermissionDenied
from leadrelay.ids import parse_id
from leadrelay.ownership import check_owner
from validation_service import criteria as crit
from validation_service import criteria_store, deliverability, lead_keys_store, outbox

T = TypeVar("T")


class CriteriaCache:
    """Parsed, compiled rules per (source, version): versions never change once written."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: dict[tuple[UUID, int], crit.Criteria] = {}
        self._max = max_entries

    async def get(self, con: Connection, source_id: UUID, version: int) -> crit.Criteria:
        if version == 0:
            return crit.NO_CRITERIA
        found = self._entries.get((source_id, version))
        if found is None:
            row = await criteria_store.get_version(con, source_id, version)
            rules = [crit.Rule.from_json(r) for r in row["rules"]] if row else []
            found = crit.compile_rules(rules, version)
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[(source_id, version)] = found
        return found


# Email deliverability (DNS) is never looked up inside a judging transaction, which holds leads
# locked: an attempt that needs domains nobody resolved yet raises _NeedsDomains, its transaction
# rolls back, the domains are resolved outside it (off the event loop, bounded), and the judging
# runs once more with them. Domains resolved recently are kept, so most batches need one attempt.


class _NeedsDomains(Exception):
    def __init__(self, domains: set[str]) -> None:
        super().__init__(f"{len(domains)} email domains to resolve")
        self.domains = domains


@dataclass(frozen=True)
class _Mail:
    """What one judging attempt knows about email domains: domain -> "" or why it receives no mail."""

    resolved: Mapping[str, str]
    final: bool  # the last attempt: a domain still unknown counts as deliverable

    def undeliverable(self, batches: Sequence[tuple[crit.Criteria, Sequence[crit.Row]]]) -> dict[str, str]:
        """Domain -> why it receives no mail, for the domains the batches check; raises _NeedsDomains
        (once) when some of them are unknown."""
        domains: set[str] = set()
        for criteria, rows in batches:
            domains |= crit.deliverability_domains(rows, criteria)
        if not domains:
            return {}
        found = {**deliverability.known(domains), **self.resolved}
        if not self.final and not domains <= found.keys():
            raise _NeedsDomains(domains)
        return {d: why for d, why in found.items() if why and d in domains}


async def _resolving(attempt: Callable[[_Mail], Awaitable[T]], resolver: Any) -> T:
    try:
        return await attempt(_Mail({}, final=False))
    except _NeedsDomains as need:
        resolved = await deliverability.resolve(need.domains, resolver=resolver)
    return await attempt(_Mail(resolved, final=True))


def parse_lead_ids(raw: Sequence[str]) -> list[UUID]:
    return list(dict.fromkeys(parse_id("lead", text, f"lead_ids[{i}]") for i, text in enumerate(raw)))


@dataclass(frozen=True)
class StoredJudgement:
    """Stored leads judged: their outcomes in the order asked, the leads left alone because they
    were ACCEPTED already, and source_id -> the criteria version the others were judged under."""

    outcomes: list[Outcome]
    left_alone: frozenset[UUID]
    versions: Mapping[UUID, int]


async def judge_stored(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    lead_ids: Sequence[UUID],
    *,
    resolver: Any = None,
    actor: str = "",
) -> list[Outcome]:
    """`resolver` (every judge_*): the DNS resolver for email deliverability, None for the system's;
    `actor`: who asked (the `validated` events name them; "" the system)."""
    if not lead_ids:
        return []
    judged = await judge_stored_leads(pool, cache, account_id, lead_ids, record=True, resolver=resolver, actor=actor)
    return judged.outcomes


async def judge_stored_leads(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    lead_ids: Sequence[UUID],
    *,
    record: bool,
    resolver: Any = None,
    actor: str = "",
) -> StoredJudgement:
    """judge_stored with what a re-judging needs to count; `record=False` judges the same way (the
    leads locked while judged) and writes nothing: no status, event, key or post-out."""
    return await _resolving(
        lambda mail: _judge_stored(pool, cache, account_id, lead_ids, mail, record, actor), resolver
    )


async def _judge_stored(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    lead_ids: Sequence[UUID],
    mail: _Mail,
    record: bool,
    actor: str,
) -> StoredJudgement:
    async with pool.acquire() as con, con.transaction():
        rows = {r["lead_id"]: r for r in await leads_store.lock_for_judgement(con, lead_ids)}
        for lead_id in lead_ids:
            row = rows.get(lead_id)
            check_owner("lead", lead_id, row["account_id"] if row else None, account_id)

        outcomes: dict[UUID, Outcome] = {}
        by_source: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
        write: list[tuple[asyncpg.Record, crit.Judgement, int]] = []
        for row in rows.values():
            if row["status"] == ACCEPTED:
                outcomes[row["lead_id"]] = _outcome(row, ACCEPTED, "", "", row["fields"])
            elif not row["source_enabled"] or row["form_enabled"] is False:
                write.append((row, _switched_off(row), row["criteria_version"]))
            else:
                by_source[row["source_id"]].append(row)

        keys_to_remember: list[tuple[UUID, UUID, UUID, str, datetime]] = []
        judged_with_keys: list[UUID] = []
        criteria_of = {s: await cache.get(con, s, group[0]["criteria_version"]) for s, group in by_source.items()}
        rows_of = {
            s: [crit.Row(r["fields"], r["is_test"], r["lead_id"], r["received_at"]) for r in group]
            for s, group in by_source.items()
        }
        undeliverable = mail.undeliverable([(criteria_of[s], rows_of[s]) for s in by_source])
        for source_id, group in by_source.items():
            criteria = criteria_of[source_id]
            judgements = await _judge(con, criteria, group[0], rows_of[source_id], undeliverable)
            for r, j in zip(group, judgements, strict=True):
                write.append((r, j, criteria.version))
                if criteria.has_duplicate_rule:
                    judged_with_keys.append(r["lead_id"])
                    keys_to_remember.extend(
                        (r["lead_id"], r["account_id"], r["source_id"], k.key, r["received_at"]) for k in j.keys
                    )

        if write and record:
            await leads_store.record_judgements(
                con,
                [r["lead_id"] for r, _, _ in write],
                [j.status for _, j, _ in write],
                [j.disposition_code for _, j, _ in write],
                [j.custom_reason for _, j, _ in write],
                [_dumps(j.fields) for _, j, _ in write],
                [v for _, _, v in write],
                [r["account_id"] for r, _, _ in write],
                "validated",
                [_event_detail(j, v) for _, j, v in write],
                actor,
            )
        if judged_with_keys and record:
            await lead_keys_store.remember_keys(con, judged_with_keys, keys_to_remember)
        accepted = [r["lead_id"] for r, j, _ in write if j.status == ACCEPTED]
        if accepted and record:
            await outbox.enqueue(con, accepted)

    left_alone = frozenset(outcomes)
    for r, j, _ in write:
        outcomes[r["lead_id"]] = _outcome(r, j.status, j.disposition_code, j.custom_reason, j.fields)
    versions = {r["source_id"]: v for r, _, v in write}
    return StoredJudgement([outcomes[i] for i in lead_ids], left_alone, versions)


async def judge_fields(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    source_id: UUID,
    rows: Sequence[crit.Row],
    *,
    draft: crit.Criteria | None = None,
    resolver: Any = None,
) -> list[Outcome]:
    """The judgement of unstored rows, as if they arrived now, under the source's current criteria
    (or `draft`, rules not saved); nothing is written."""
    now = datetime.now(UTC)
    rows = [crit.Row(r.fields, r.is_test, None, r.received_at or now) for r in rows]
    return await _resolving(lambda mail: _judge_fields(pool, cache, account_id, source_id, rows, mail, draft), resolver)


async def _judge_fields(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    source_id: UUID,
    rows: Sequence[crit.Row],
    mail: _Mail,
    draft: crit.Criteria | None,
) -> list[Outcome]:
    async with pool.acquire() as con:
        source = await sources_store.source_for_criteria(con, account_id, source_id)
        if not source["enabled"]:
            reason = _source_off(source["name"])
            return [
                Outcome(None, "", REJECTED, dispositions.SOURCE_DISABLED, reason, False, dict(r.fields)) for r in rows
            ]
        criteria = draft or await cache.get(con, source_id, source["criteria_version"])
        judgements = await _judge(con, criteria, source, rows, mail.undeliverable([(criteria, rows)]))
    return [Outcome(None, "", j.status, j.disposition_code, j.custom_reason, False, j.fields) for j in judgements]


@dataclass(frozen=True)
class Rejudged:
    """A stored lead judged again in a dry run: the stored lead (its row) and the judgement now."""

    stored: asyncpg.Record
    judgement: crit.Judgement


async def judge_latest(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    source_id: UUID,
    limit: int,
    *,
    draft: crit.Criteria | None = None,
    resolver: Any = None,
) -> list[Rejudged]:
    """The source's last `limit` stored leads judged again (under `draft`, or the current criteria)
    as they arrived: the duplicate rule sees only leads received before each. Nothing is written,
    nothing is locked."""
    return await _resolving(
        lambda mail: _judge_latest(pool, cache, account_id, source_id, limit, mail, draft), resolver
    )


async def _judge_latest(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    source_id: UUID,
    limit: int,
    mail: _Mail,
    draft: crit.Criteria | None,
) -> list[Rejudged]:
    async with pool.acquire() as con, con.transaction(readonly=True):
        source = await sources_store.source_for_criteria(con, account_id, source_id)
        stored = await leads_store.latest_of_source(con, source_id, limit)
        if not stored:
            return []
        criteria = draft or await cache.get(con, source_id, source["criteria_version"])
        rows = [crit.Row(r["fields"], r["is_test"], r["lead_id"], r["received_at"]) for r in stored]
        if not source["enabled"]:
            off = crit.Judgement(REJECTED, dispositions.SOURCE_DISABLED, _source_off(source["name"]), {})
            return [Rejudged(r, off) for r in stored]
        judgements = await _judge(con, criteria, source, rows, mail.undeliverable([(criteria, rows)]))
    return [Rejudged(r, j) for r, j in zip(stored, judgements, strict=True)]


class NewLead(NamedTuple):
    """A lead not stored yet (ValidateNewLeads): answers and fields as JSON text, and the platform
    identity a file row carried, if any."""

    lead_id: UUID
    source_id: UUID
    platform_lead_id: str
    answers: str  # JSON text
    fields: str  # JSON text
    form_id: UUID | None = None
    platform_context: str = "{}"  # JSON text
    is_test: bool = False
    captured_at: datetime | None = None


async def judge_new(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    via: str,
    leads: Sequence[NewLead],
    *,
    resolver: Any = None,
) -> list[Outcome]:
    """ValidateNewLeads: judges leads not stored yet and stores them already judged, in ONE
    transaction with their `imported` events, keys and post-out enqueue: what intake + ValidateLeads
    would leave, each lead written once. A test lead is judged as one; a lead of a switched-off form
    is rejected as ValidateLeads rejects it. A lead whose (source, platform lead id) is already
    stored is left alone: its outcome has duplicate=True and no status (the caller, which owns the
    leads, reads the stored outcome)."""
    if not leads:
        return []
    now = datetime.now(UTC)
    fields = [_fields_of(lead.fields, i) for i, lead in enumerate(leads)]
    for i, lead in enumerate(leads):
        _check_answers(lead.answers, i)
        if lead.platform_context != "{}":
            _check_context(lead.platform_context, i)
    by_source: dict[UUID, list[int]] = defaultdict(list)
    for i, lead in enumerate(leads):
        by_source[lead.source_id].append(i)
    try:
        return await _resolving(
            lambda mail: _judge_new(pool, cache, account_id, via, leads, now, fields, by_source, mail), resolver
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "leads_pkey":
            raise
        raise await _taken_lead_id(pool, account_id, leads) from None


async def _taken_lead_id(pool: asyncpg.Pool, account_id: UUID, leads: Sequence[NewLead]) -> LeadRelayError:
    """The error naming the first lead id of the batch that an existing lead already has: another
    account's is PERMISSION_DENIED (as anywhere), the caller's own INVALID_ARGUMENT."""
    async with pool.acquire() as con:
        taken = await leads_store.lead_accounts(con, [lead[0] for lead in leads])
    for i, lead in enumerate(leads):
        if lead[0] in taken:
            if taken[lead[0]][0] != account_id:
                return PermissionDenied("lead", str(lead[0]))
            return InvalidArgument(f"leads[{i}].lead_id", f"lead {lead[0]} already exists")
    return InvalidArgument("leads", "a lead id is already taken")  # taken and gone again meanwhile


async def _switched_off_forms(con: Connection, leads: Sequence[NewLead]) -> dict[UUID, str]:
    """form_id -> why its leads are rejected, for the switched-off forms among the leads'; a form
    that is not the lead's source's is refused naming the lead."""
    form_ids = list({lead.form_id for lead in leads if lead.form_id is not None})
    if not form_ids:
        return {}
    forms = {r["form_id"]: r for r in await sources_store.forms_state(con, form_ids)}
    for i, lead in enumerate(leads):
        if lead.form_id is not None and (
            lead.form_id not in forms or forms[lead.form_id]["source_id"] != lead.source_id
        ):
            raise InvalidArgument(f"leads[{i}].form_id", f"form {lead.form_id} is not a form of the lead's source")
    return {f: f"form {r['platform_form_id']!r} is switched off" for f, r in forms.items() if not r["enabled"]}


async def _judge_new(
    pool: asyncpg.Pool,
    cache: CriteriaCache,
    account_id: UUID,
    via: str,
    leads: Sequence[NewLead],
    now: datetime,
    fields: Sequence[dict[str, str]],
    by_source: Mapping[UUID, list[int]],
    mail: _Mail,
) -> list[Outcome]:
    judged: list[crit.Judgement | None] = [None] * len(leads)
    versions = [0] * len(leads)
    keys_of: list[tuple[UUID, UUID, UUID, str, datetime]] = []
    async with pool.acquire() as con, con.transaction():
        forms_off = await _switched_off_forms(con, leads)
        to_judge: list[tuple[asyncpg.Record, crit.Criteria, list[int], list[crit.Row]]] = []
        for source_id, indexes in by_source.items():
            source = await sources_store.source_for_criteria(con, account_id, source_id)
            off = [i for i in indexes if not source["enabled"] or leads[i].form_id in forms_off]
            for i in off:
                form_id = leads[i].form_id
                reason = _source_off(source["name"]) if not source["enabled"] or form_id is None else forms_off[form_id]
                judged[i] = crit.Judgement(REJECTED, dispositions.SOURCE_DISABLED, reason, fields[i])
                versions[i] = source["criteria_version"]
            if off:
                indexes = [i for i in indexes if judged[i] is None]
            if not indexes:
                continue
            criteria = await cache.get(con, source_id, source["criteria_version"])
            to_judge.append(
                (
                    source,
                    criteria,
                    indexes,
                    [crit.Row(fields[i], leads[i].is_test, leads[i].lead_id, now) for i in indexes],
                )
            )
        undeliverable = mail.undeliverable([(criteria, rows) for _, criteria, _, rows in to_judge])
        for source, criteria, indexes, source_rows in to_judge:
            source_id = source["source_id"]
            for i, j in zip(indexes, await _judge(con, criteria, source, source_rows, undeliverable), strict=True):
                judged[i] = j
                versions[i] = criteria.version
                keys_of.extend((leads[i].lead_id, account_id, source_id, k.key, now) for k in j.keys)
        done = [j for j in judged if j is not None]
        rows = [
            # The fields as sent when judging changed nothing (most leads): encoding them again costs more.
            leads_store.JudgedLead(
                lead.lead_id,
                lead.source_id,
                lead.platform_lead_id,
                lead.answers,
                lead.fields if j.fields == given else _dumps(j.fields),
                j.status,
                j.disposition_code,
                j.custom_reason,
                v,
                lead.form_id,
                lead.platform_context,
                lead.is_test,
                lead.captured_at,
                given if j.fields == given else j.fields,  # the dict whose JSON is stored, in its order
            )
            for lead, given, j, v in zip(leads, fields, done, versions, strict=True)
        ]
        prefix = f"{via}: " if via else ""
        details = [prefix + _event_detail(j, v) for j, v in zip(done, versions, strict=True)]
        inserted = await leads_store.insert_judged(con, account_id, now, rows, details)
        if keys_of:
            kept = [k for k in keys_of if k[0] in inserted]
            await lead_keys_store.remember_keys(con, list(dict.fromkeys(k[0] for k in kept)), kept)
        accepted = [
            lead.lead_id
            for lead, j in zip(leads, done, strict=True)
            if j.status == ACCEPTED and lead.lead_id in inserted
        ]
        await outbox.enqueue(con, accepted, source_ids=list(by_source))
    return [
        Outcome(lead.lead_id, lead.platform_lead_id, j.status, j.disposition_code, j.custom_reason)
        if lead.lead_id in inserted
        else Outcome(lead.lead_id, lead.platform_lead_id, "UNSPECIFIED", "", "", True)
        for lead, j in zip(leads, done, strict=True)
    ]


async def _judge(
    con: Connection,
    criteria: crit.Criteria,
    source: Mapping[str, Any] | asyncpg.Record,
    rows: Sequence[crit.Row],
    undeliverable: Mapping[str, str],
) -> list[crit.Judgement]:
    """The criteria's judgement of rows of `source` (a row with its source_id and account_id): every
    rule, the duplicate rule also against the leads stored in its scope."""
    prepared = [crit.prepare(r, criteria, undeliverable) for r in rows]
    stored = await _stored_keys(con, source, prepared) if criteria.has_duplicate_rule else {}
    return crit.finish(prepared, criteria, stored)


async def _stored_keys(
    con: Connection, source: Mapping[str, Any] | asyncpg.Record, prepared: Sequence[crit.Prepared]
) -> dict[str, list]:
    """The stored holders of the batch's duplicate keys, per scope, within the widest window."""
    scopes = {"source": source["source_id"], "account": source["account_id"]}
    wanted: dict[str, tuple[list[str], datetime | None]] = {}
    now = datetime.now(UTC)
    for p in prepared:
        for k in p.keys:
            keys, since = wanted.get(k.scope, ([], None))
            reference = p.row.received_at or now
            start = reference - k.window
            keys.append(k.key)
            wanted[k.scope] = (keys, start if since is None else min(since, start))
    if not wanted:
        return {}
    await lead_keys_store.lock_scope(con, [scopes[s] for s in wanted])
    stored: dict[str, list] = {}
    for scope, (keys, since) in wanted.items():
        stored.update(await lead_keys_store.stored_keys(con, scope, scopes[scope], keys, since))
    return stored


def _fields_of(text: str, index: int) -> dict[str, str]:
    """A new lead's fields: a JSON object of strings, as the criteria read them."""
    try:
        # Cleaned before judging: duplicate keys and post-out bodies are built from these values.
        fields = _loads(capture_text.clean_json(text or "{}"))
    except ValueError:
        raise InvalidArgument(f"leads[{index}].fields_json", "is not JSON") from None
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise InvalidArgument(f"leads[{index}].fields_json", 'must be a JSON object of strings: {"column": "value"}')
    return fields


def _check_answers(text: str, index: int) -> None:
    """A new lead's answers: a JSON list of {"name": "...", "values": ["..."]}, what GetLead and
    ListLeads read back."""
    try:
        answers = _loads(text)
    except ValueError:
        raise InvalidArgument(f"leads[{index}].answers_json", "is not JSON") from None
    if not isinstance(answers, list) or not all(
        isinstance(a, dict)
        and isinstance(a.get("name"), str)
        and isinstance(a.get("values"), list)
        and all(isinstance(v, str) for v in a["values"])
        for a in answers
    ):
        raise InvalidArgument(
            f"leads[{index}].answers_json", 'must be a JSON list of {"name": "...", "values": ["...", ...]}'
        )


def _check_context(text: str, index: int) -> None:
    try:
        context = _loads(text)
    except ValueError:
        raise InvalidArgument(f"leads[{index}].platform_context_json", "is not JSON") from None
    if not isinstance(context, dict):
        raise InvalidArgument(f"leads[{index}].platform_context_json", "must be a JSON object")


def _source_off(name: str) -> str:
    return f"source {name!r} is switched off"


def _switched_off(row: asyncpg.Record) -> crit.Judgement:
    if not row["source_enabled"]:
        reason = _source_off(row["source_name"])
    else:
        reason = f"form {row['platform_form_id']!r} is switched off"
    return crit.Judgement(REJECTED, dispositions.SOURCE_DISABLED, reason, dict(row["fields"]))


def _dumps(fields: Mapping[str, str]) -> str:
    # orjson: a fifth of the stdlib encoder's time; jsonb stores the same value either way.
    return orjson.dumps(fields).decode()


_loads = capture_text.loads


def _event_detail(j: crit.Judgement, version: int) -> str:
    verdict = j.status if j.status == ACCEPTED else f"{j.status} {j.disposition_code}"
    return f"{verdict} (criteria v{version})"


def _outcome(row: asyncpg.Record, status: str, code: str, reason: str, fields: Mapping[str, str]) -> Outcome:
    return Outcome(row["lead_id"], row["platform_lead_id"], status, code, reason, False, dict(fields))
