"""Acceptance criteria: an ordered rule list per source, and the judgement of a lead's mapped fields.

Pure functions over plain data. Judging happens in two steps so the one rule that needs stored data
(duplicate) stays pure too: `prepare` normalises each row and runs every other rule; the caller then
looks up the duplicate keys it produced; `finish` decides duplicates (against stored leads and
earlier rows of the same batch) and builds the outcome. `judge_rows` is both steps with no stored data.

The email rule's deliverability check needs DNS, which is no pure function's business: the caller
asks `deliverability_domains` which domains a batch needs, resolves them (validation_service.
deliverability, outside any transaction) and passes what it found as `undeliverable`.

A rejected lead's disposition is its first failing rule's code; its reason names every failing
column and the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from leadrelay.capture import dispositions
from leadrelay.capture.leads import ACCEPTED, REJECTED
from leadrelay.errors import InvalidArgument
from leadrelay.normalize import Invalid, email_key, is_region, normalize_email, normalize_phone

KINDS = ("required", "email", "phone", "picklist", "max_length", "pattern", "duplicate", "reject_test_leads")

DEFAULT_CODES = {
    "required": dispositions.MISSING_REQUIRED_FIELD,
    "email": dispositions.INVALID_EMAIL,
    "phone": dispositions.INVALID_PHONE,
    "picklist": dispositions.INVALID_LIST_VALUE,
    "max_length": dispositions.FIELD_TOO_LONG,
    "pattern": dispositions.INVALID_FORMAT,
    "duplicate": dispositions.DUPLICATE,
    "reject_test_leads": dispositions.TEST_LEAD,
}

SCOPES = ("source", "account")
_SHOWN = 60  # longest value quoted in a reason


@dataclass(frozen=True)
class Rule:
    """One rule. `params` by kind: email {check_deliverability}; phone {default_region}; picklist
    {allowed, mapper, case_insensitive}; max_length {max}; pattern {regex}; duplicate {window_days,
    columns, scope}; required and reject_test_leads none."""

    kind: str
    column: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    disposition_code: str = ""
    custom_reason: str = ""

    @property
    def code(self) -> str:
        return self.disposition_code or DEFAULT_CODES[self.kind]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "column": self.column,
            "params": dict(self.params),
            "disposition_code": self.disposition_code,
            "custom_reason": self.custom_reason,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Rule:
        return cls(
            raw["kind"],
            raw.get("column", ""),
            raw.get("params") or {},
            raw.get("disposition_code", ""),
            raw.get("custom_reason", ""),
        )


def check_rules(rules: Sequence[Rule], known_columns: Sequence[str] = ()) -> None:
    """Refuses an invalid rule list; the error names the rule's index and field. With
    `known_columns` (the source's mapped columns), every rule column must be one of them."""
    known = set(known_columns)
    for i, rule in enumerate(rules):
        where = f"rules[{i}]"
        if rule.kind not in KINDS:
            raise InvalidArgument(where, "set one rule kind (required, email, phone, picklist, ...)")
        if rule.disposition_code and not dispositions.is_known(rule.disposition_code):
            raise InvalidArgument(
                f"{where}.disposition_code",
                f"{rule.disposition_code!r} is not in the disposition catalogue (ListDispositionCodes)",
            )
        p = rule.params
        if rule.kind == "duplicate":
            cols = list(p.get("columns") or [])
            if not cols:
                raise InvalidArgument(f"{where}.duplicate.columns", "name the columns that make the key")
            for j, col in enumerate(cols):
                _check_column(col, known, f"{where}.duplicate.columns[{j}]")
            if int(p.get("window_days", 0)) <= 0:
                raise InvalidArgument(f"{where}.duplicate.window_days", "must be at least 1 day")
            if p.get("scope", "source") not in SCOPES:
                raise InvalidArgument(f"{where}.duplicate.scope", "must be source or account")
            continue
        if rule.kind == "reject_test_leads":
            continue
        _check_column(rule.column, known, f"{where}.column")
        if rule.kind == "phone" and p.get("default_region") and not is_region(p["default_region"]):
            raise InvalidArgument(
                f"{where}.phone.default_region", f"{p['default_region']!r} is not an ISO 3166-1 region code"
            )
        elif rule.kind == "picklist":
            allowed = list(p.get("allowed") or [])
            if not [a for a in allowed if a.strip()]:
                raise InvalidArgument(f"{where}.picklist.allowed", "a picklist needs at least one allowed value")
            targets = {_fold(a) for a in allowed} if p.get("case_insensitive") else set(allowed)
            for variant, target in (p.get("mapper") or {}).items():
                wanted = _fold(target) if p.get("case_insensitive") else target
                if wanted not in targets:
                    raise InvalidArgument(
                        f"{where}.picklist.mapper[{variant!r}]", f"maps to {target!r}, which is not an allowed value"
                    )
        elif rule.kind == "max_length" and int(p.get("max", 0)) <= 0:
            raise InvalidArgument(f"{where}.max_length.max", "must be at least 1")
        elif rule.kind == "pattern":
            try:
                re.compile(p.get("regex", ""))
            except re.error as exc:
                raise InvalidArgument(f"{where}.pattern.regex", f"not a valid regular expression: {exc}") from None
            if not p.get("regex"):
                raise InvalidArgument(f"{where}.pattern.regex", "the pattern is empty")


def _check_column(column: str, known: set[str], where: str) -> None:
    if not column.strip():
        raise InvalidArgument(where, "name the column the rule checks")
    if known and column not in known:
        raise InvalidArgument(where, f"unknown column {column!r} (the source's columns: {', '.join(sorted(known))})")


@dataclass(frozen=True)
class Criteria:
    """A checked, compiled rule list (build with `compile_rules`; cache it per source and version)."""

    version: int
    rules: tuple[Rule, ...]
    _compiled: tuple[Any, ...]

    @property
    def has_duplicate_rule(self) -> bool:
        return any(r.kind == "duplicate" for r in self.rules)


def compile_rules(rules: Sequence[Rule], version: int = 0) -> Criteria:
    compiled: list[Any] = []
    for rule in rules:
        p = rule.params
        if rule.kind == "pattern":
            compiled.append(re.compile(p["regex"]))
        elif rule.kind == "picklist":
            ci = bool(p.get("case_insensitive"))
            allowed = {(_fold(a) if ci else a): a for a in p.get("allowed") or []}
            # Mapper variants match case- and space-insensitively: they exist to catch free text.
            mapper = {_fold(k): v for k, v in (p.get("mapper") or {}).items()}
            compiled.append((ci, allowed, mapper))
        else:
            compiled.append(None)
    return Criteria(version, tuple(rules), tuple(compiled))


NO_CRITERIA = compile_rules(())


@dataclass(frozen=True)
class Row:
    """What a rule sees: the mapped fields, the test flag, and (for stored leads) the lead's
    identity and arrival, which decide what "earlier" means for the duplicate rule."""

    fields: Mapping[str, str]
    is_test: bool = False
    lead_id: UUID | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class DuplicateKey:
    rule: int
    key: str
    scope: str
    window: timedelta


@dataclass
class Prepared:
    row: Row
    fields: dict[str, str]
    # (rule index, code, reason), in rule order.
    failures: list[tuple[int, str, str]]
    keys: list[DuplicateKey]


@dataclass(frozen=True)
class Judgement:
    status: str
    disposition_code: str
    custom_reason: str
    fields: dict[str, str]
    # The duplicate keys this lead now holds (remembered for later leads).
    keys: tuple[DuplicateKey, ...] = ()


# A stored lead holding a key: (received_at, lead_id).
Holder = tuple[datetime, UUID]


def deliverability_domains(rows: Sequence[Row], criteria: Criteria) -> set[str]:
    """The email domains whose deliverability the criteria check in these rows (valid addresses only:
    an invalid one is rejected without asking DNS)."""
    columns = [r.column for r in criteria.rules if r.kind == "email" and r.params.get("check_deliverability")]
    domains = set()
    for row in rows:
        for column in columns:
            value = row.fields.get(column, "")
            if value.strip():
                try:
                    domains.add(email_domain(normalize_email(value)))
                except Invalid:
                    pass
    return domains


def email_domain(address: str) -> str:
    return address.rpartition("@")[2]


def prepare(row: Row, criteria: Criteria, undeliverable: Mapping[str, str] | None = None) -> Prepared:
    """`undeliverable`: email domain -> why it cannot receive mail (from `deliverability_domains`'
    lookups); a domain not in it counts as deliverable."""
    fields = dict(row.fields)
    failures: list[tuple[int, str, str]] = []
    dup_rules: list[int] = []
    for i, (rule, compiled) in enumerate(zip(criteria.rules, criteria._compiled, strict=True)):
        kind = rule.kind
        if kind == "duplicate":
            dup_rules.append(i)
            continue
        if kind == "reject_test_leads":
            if row.is_test:
                failures.append((i, rule.code, rule.custom_reason or "the lead is a test lead"))
            continue
        value = fields.get(rule.column, "")
        if kind == "required":
            if not value.strip():
                failures.append((i, rule.code, rule.custom_reason or f"{rule.column}: is required but empty"))
            continue
        if not value.strip():
            continue  # only `required` judges empty values
        reason = None
        if kind == "email":
            try:
                fields[rule.column] = normalize_email(value)
            except Invalid as exc:
                reason = f"{rule.column}: {_show(value)} is not a valid email address ({exc})"
            else:
                why = rule.params.get("check_deliverability") and (undeliverable or {}).get(
                    email_domain(fields[rule.column])
                )
                if why:
                    reason = f"{rule.column}: {_show(value)} is not a valid email address ({why})"
        elif kind == "phone":
            try:
                fields[rule.column] = normalize_phone(value, rule.params.get("default_region", ""))
            except Invalid as exc:
                reason = f"{rule.column}: {_show(value)} is not a valid phone number ({exc})"
        elif kind == "picklist":
            mapped, bad = _picklist(value, compiled)
            fields[rule.column] = mapped
            if bad:
                reason = "; ".join(f"{rule.column}: {_show(b)} is not on the picklist" for b in bad)
        elif kind == "max_length":
            limit = int(rule.params["max"])
            if len(value) > limit:
                reason = f"{rule.column}: {_show(value)} is {len(value)} characters, longer than {limit}"
        elif kind == "pattern":
            if compiled.fullmatch(value) is None:
                reason = f"{rule.column}: {_show(value)} does not match the pattern {rule.params['regex']}"
        if reason is not None:
            failures.append((i, rule.code, rule.custom_reason or reason))
    keys = []
    for i in dup_rules:
        key = _duplicate_key(criteria.rules[i], fields)
        if key is not None:
            p = criteria.rules[i].params
            keys.append(DuplicateKey(i, key, p.get("scope", "source"), timedelta(days=int(p["window_days"]))))
    return Prepared(row, fields, failures, keys)


def finish(
    prepared: Sequence[Prepared], criteria: Criteria, stored: Mapping[str, Sequence[Holder]] | None = None
) -> list[Judgement]:
    """Decides duplicates and builds each outcome. A lead is a duplicate when another lead holding
    the same key arrived earlier (by received_at, then lead_id; for unstored rows: any stored lead,
    then earlier rows) within the rule's window. `stored` maps keys to stored holders."""
    stored = stored or {}
    order = sorted(range(len(prepared)), key=lambda i: _arrival(prepared[i].row, i))
    batch: dict[str, tuple[Holder | None, int]] = {}
    dup_failures: dict[int, list[tuple[int, str, str]]] = {}
    for idx in order:
        p = prepared[idx]
        for k in p.keys:
            rule = criteria.rules[k.rule]
            earlier: tuple[datetime, UUID] | str | None = _earlier_holder(p.row, k, stored.get(k.key, ()))
            if earlier is None and k.key in batch:
                earlier = batch[k.key][0] or "an earlier row of this batch"
            if earlier is not None:
                shown = ", ".join(_show(p.fields.get(c, "")) for c in rule.params["columns"])
                cols = ", ".join(rule.params["columns"])
                who = f"lead {earlier[1]}" if isinstance(earlier, tuple) else earlier
                days = int(rule.params["window_days"])
                reason = rule.custom_reason or f"{cols}: {shown} was already received within {days} days ({who})"
                dup_failures.setdefault(idx, []).append((k.rule, rule.code, reason))
            holder = (p.row.received_at, p.row.lead_id) if p.row.lead_id and p.row.received_at else None
            batch.setdefault(k.key, (holder, idx))
    out = []
    for idx, p in enumerate(prepared):
        failures = sorted(p.failures + dup_failures.get(idx, []), key=lambda f: f[0])
        if failures:
            reason = "; ".join(dict.fromkeys(f[2] for f in failures))
            out.append(Judgement(REJECTED, failures[0][1], reason, p.fields, tuple(p.keys)))
        else:
            out.append(Judgement(ACCEPTED, "", "", p.fields, tuple(p.keys)))
    return out


def judge_rows(
    rows: Sequence[Row],
    criteria: Criteria,
    stored: Mapping[str, Sequence[Holder]] | None = None,
    undeliverable: Mapping[str, str] | None = None,
) -> list[Judgement]:
    return finish([prepare(r, criteria, undeliverable) for r in rows], criteria, stored)


def _arrival(row: Row, index: int) -> tuple[int, datetime, int]:
    # Unstored rows (dry runs) come after every stored lead, in batch order.
    if row.received_at is None or row.lead_id is None:
        return (1, datetime.max, index)
    return (0, row.received_at, row.lead_id.int)


def _earlier_holder(row: Row, key: DuplicateKey, holders: Sequence[Holder]) -> Holder | None:
    for received_at, lead_id in holders:
        if row.lead_id is not None and lead_id == row.lead_id:
            continue
        if row.received_at is not None and received_at < row.received_at - key.window:
            continue
        if row.lead_id is None or row.received_at is None:
            return (received_at, lead_id)  # an unstored row (dry run) arrives after every stored lead
        if (received_at, lead_id.int) < (row.received_at, row.lead_id.int):
            return (received_at, lead_id)
    return None


def _duplicate_key(rule: Rule, fields: Mapping[str, str]) -> str | None:
    values = []
    for col in rule.params["columns"]:
        value = fields.get(col, "")
        if not value.strip():
            return None  # a lead missing a key column cannot be a duplicate by it
        values.append(email_key(value))
    scope = rule.params.get("scope", "source")
    return "\x1f".join((scope, ",".join(rule.params["columns"]), *values))


def _picklist(value: str, compiled: tuple[bool, dict[str, str], dict[str, str]]) -> tuple[str, list[str]]:
    ci, allowed, mapper = compiled
    parts = [v.strip() for v in value.split(";")] if ";" in value else [value.strip()]
    out, bad = [], []
    for part in parts:
        candidate = mapper.get(_fold(part), part)
        canonical = allowed.get(_fold(candidate) if ci else candidate)
        if canonical is None:
            bad.append(part)
            out.append(part)
        else:
            out.append(canonical)
    return ";".join(out), bad


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _show(value: str) -> str:
    text = value if len(value) <= _SHOWN else value[: _SHOWN - 1] + "…"
    return '"' + text.replace("\n", " ") + '"'
