"""CRM presets: what a destination to HubSpot, Salesforce, Marketo, Zoho CRM, Pipedrive or Dynamics 365
needs to be right on the first try. Pure data and pure functions, no I/O.

A preset fills the method, the path on the customer's base URL, a body template with a default field
map (the columns the source has; the person edits it afterwards), the success criteria as the vendor
answers (a `200 {"success": false}` is never POSTED), the record id path, how the CRM authenticates,
and, where the vendor has one, its batch endpoint: how N records go in one call and where each
record's answer is. Vendor facts are from their public REST documentation.

A retry after a timeout must not leave a second record. Where the vendor de-duplicates by a key we
choose, the preset sends the lead's id as that key: Salesforce upserts by an external-id field
(PATCH .../Lead/<field>/<lead id>, and the sObject collections upsert for a batch), Dynamics by the
row's primary key (PATCH leads(<lead id>)). HubSpot, Marketo and Zoho de-duplicate by email. A
vendor with neither (Pipedrive) has a `Lookup`: before re-sending a lead whose earlier attempt may
have reached it, the worker asks whether the record exists and, if so, records that one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from leadrelay.errors import InvalidArgument
from validation_service.body_template import compile_template
from validation_service.delivery import LEAD_ID, first_match
from validation_service.destinations import BUILTIN_COLUMNS, OAuth, Success

# Where the record's fields go in a preset's envelope.
RECORD = "\x00record"

# Marketo error codes (developer docs, "Error Codes"): 601 access token invalid, 602 access token
# expired; 604 request timed out, 606 rate limit, 608 API temporarily unavailable, 611 system
# error, 615 concurrent access limit, 713 transient error.
_MARKETO_TOKEN_CODES = ("601", "602")
_MARKETO_RETRY_CODES = ("604", "606", "608", "611", "615", "713")


@dataclass(frozen=True)
class FieldRule:
    """One vendor field: the first alternative whose columns the source has; else `fallback`
    (a required field gets a constant rather than a call the vendor refuses), else left out."""

    vendor_field: str
    alternatives: tuple[str, ...]
    fallback: str | None = None


@dataclass(frozen=True)
class Batch:
    """The vendor's batch endpoint. `path` empty: the single URL takes several records.
    Either the single body's one-element array at `records_key` holds all the records, or
    `envelope` (with RECORD where the list goes) wraps them, each record given `record_extra`."""

    max_size: int
    default_size: int
    success: Success
    path: str = ""
    records_key: str = ""
    envelope: Mapping[str, Any] = field(default_factory=dict)
    record_extra: Mapping[str, Any] = field(default_factory=dict)
    # Set: each record carries its lead's trace id under this key, and the answer (in no set order)
    # is matched back by it (delivery.classify_traced).
    trace_key: str = ""
    # Set: each record carries its lead's id under this field (an upsert key; may name a setting).
    key_field: str = ""


@dataclass(frozen=True)
class Lookup:
    """Where the vendor has no upsert or idempotency key: how to find the record an earlier attempt
    may have made. `path` (on the base URL, the destination's query kept) holds "{term}", the first
    non-empty text at `term_json_paths` in the body as rendered; found when the answer is 2xx,
    `ok_json_path` reads true and `id_json_path` finds an id."""

    path: str
    term_json_paths: tuple[str, ...]
    id_json_path: str
    ok_json_path: str = ""
    # Set: the answer lists records (at this path); the one whose `match_key` is the term is found.
    items_json_path: str = ""
    match_key: str = ""


@dataclass(frozen=True)
class Parent:
    """A record the lead's must link to, found or made before it (a Pipedrive lead needs a person):
    the single body's `body_key` object holds its fields; `find` looks it up by them (always first,
    so a retry reuses the one an earlier attempt made), else a POST to `path` makes it; its id goes
    in the record's `link_field`, and the record (without `body_key`) is sent."""

    body_key: str
    path: str
    success: Success
    find: Lookup
    link_field: str


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    path: str
    fields: tuple[FieldRule, ...]
    envelope: Any  # the single body, RECORD where the record's fields go
    success: Success
    auth: str
    # What the person's base URL looks like (the form's placeholder).
    example_base_url: str = ""
    method: str = "POST"
    oauth: OAuth | None = None  # token_url relative to the base URL when it starts with "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    batch: Batch | None = None
    # option -> allowed values, the first the default; applied by `success_for`.
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Free-text settings: name -> (default, the pattern a value must match); "{name}" in the paths.
    settings: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    lookup: Lookup | None = None  # for the record itself; "{parent}" in its path: the parent's id
    parent: Parent | None = None


_NAME = ("{{first_name}} {{last_name}}", "{{full_name | trim}}")
_FIRST = ("{{first_name}}", "{{full_name | first_name}}")
_LAST = ("{{last_name}}", "{{full_name | last_name}}")
# Where the vendor requires a last name: an empty one is sent as this rather than refused.
_NOT_PROVIDED = "[not provided]"
_LAST_REQUIRED = tuple(a.replace("}}", f' | default:"{_NOT_PROVIDED}"}}}}') for a in _LAST)

# The same reading for one contact and for each result of a batch (matched back by trace id).
_HUBSPOT_SUCCESS = Success(
    rejected_status_ranges=((400, 400),), reason_json_path="$.message", record_id_json_path="$.id"
)

HUBSPOT = Preset(
    name="hubspot",
    example_base_url="https://api.hubapi.com",
    title="HubSpot (CRM v3 contacts)",
    path="/crm/v3/objects/contacts",
    fields=(
        FieldRule("email", ("{{email | trim | lower}}",)),
        FieldRule("firstname", _FIRST),
        FieldRule("lastname", _LAST),
        FieldRule("phone", ("{{phone}}",)),
        FieldRule("company", ("{{company}}",)),
        FieldRule("jobtitle", ("{{job_title}}",)),
        FieldRule("country", ("{{country}}",)),
    ),
    envelope={"properties": RECORD},
    # 201 {"id": ..., "properties": ...}; 400 VALIDATION_ERROR {"message": ...}; 409 CONFLICT
    # "Contact already exists. Existing ID: ..." (read per the existing_contact option).
    success=_HUBSPOT_SUCCESS,
    auth="A private-app access token as the header 'Authorization: Bearer pat-…', or OAuth 2 with a refresh token.",
    oauth=OAuth("refresh_token", "https://api.hubapi.com/oauth/v1/token"),
    options={"existing_contact": ("update", "reject")},
    # Batch create with multi-status: 201 all created, 207 some not; "results" and "errors" in no
    # set order, each naming the objectWriteTraceId its input was sent with.
    batch=Batch(
        max_size=100,
        default_size=100,
        path="/crm/v3/objects/contacts/batch/create",
        envelope={"inputs": RECORD},
        trace_key="objectWriteTraceId",
        success=_HUBSPOT_SUCCESS,
    ),
)

_SF_EXTERNAL_ID = "{external_id_field}"

SALESFORCE = Preset(
    name="salesforce",
    example_base_url="https://yourcompany.my.salesforce.com",
    title="Salesforce (sObject Lead, upsert by external id)",
    # Upsert by external id: 201 created, 200 updated; the key is in the URL only (never the body).
    path=f"/services/data/v60.0/sobjects/Lead/{_SF_EXTERNAL_ID}/{LEAD_ID}",
    method="PATCH",
    settings={"external_id_field": ("LeadRelay_Lead_ID__c", r"^[A-Za-z][A-Za-z0-9_]{0,36}__c$")},
    fields=(
        FieldRule("FirstName", _FIRST),
        FieldRule("LastName", _LAST_REQUIRED, fallback=_NOT_PROVIDED),
        FieldRule("Email", ("{{email | trim}}",)),
        FieldRule("Phone", ("{{phone}}",)),
        FieldRule("Company", (f'{{{{company | default:"{_NOT_PROVIDED}"}}}}',), fallback=_NOT_PROVIDED),
        FieldRule("Title", ("{{job_title}}",)),
        FieldRule("Country", ("{{country}}",)),
        FieldRule("LeadSource", ("LeadRelay",)),
    ),
    envelope=RECORD,
    # 201/200 {"id", "success": true, "errors": [], "created"}; 400 [{"message", "errorCode", "fields"}];
    # 401 [{"errorCode": "INVALID_SESSION_ID"}] renews the token.
    success=Success(
        result_json_path="$.success",
        accepted_values=("true",),
        rejected_status_ranges=((400, 400),),
        reason_json_path="$[0].message",
        record_id_json_path="$.id",
    ),
    auth=(
        "OAuth 2 (client credentials, or a refresh token) against your org's /services/oauth2/token. "
        "Set-up, once: in Setup > Object Manager > Lead > Fields & Relationships, add a Text(36) field "
        "marked External ID and Unique named LeadRelay_Lead_ID__c (or another name, given as the "
        "External ID field on Lead). Each lead's id goes in it, so a retry after a timeout updates the "
        "lead the first attempt made instead of adding a second one."
    ),
    oauth=OAuth("client_credentials", "/services/oauth2/token"),
    # sObject collections upsert: 200 [{"id", "success", "errors": [{"statusCode", "message"}],
    # "created"}], one per record, in order (allOrNone false: each record stands alone).
    batch=Batch(
        max_size=200,
        default_size=200,
        path=f"/services/data/v60.0/composite/sobjects/Lead/{_SF_EXTERNAL_ID}",
        envelope={"allOrNone": False, "records": RECORD},
        record_extra={"attributes": {"type": "Lead"}},
        key_field=_SF_EXTERNAL_ID,
        success=Success(
            records_json_path="$",
            result_json_path="$.success",
            accepted_values=("true",),
            reason_json_path="$.errors[0].message",
            record_id_json_path="$.id",
        ),
    ),
)

_MARKETO_SUCCESS = Success(
    records_json_path="$.result",
    result_json_path="$.status",
    accepted_values=("created", "updated"),
    reason_json_path="$.reasons[0].message",
    record_id_json_path="$.id",
    error_code_json_path="$.errors[0].code",
    error_reason_json_path="$.errors[0].message",
    token_error_codes=_MARKETO_TOKEN_CODES,
    retry_error_codes=_MARKETO_RETRY_CODES,
)

MARKETO = Preset(
    name="marketo",
    example_base_url="https://123-ABC-456.mktorest.com",
    title="Marketo (leads.json, createOrUpdate by email)",
    path="/rest/v1/leads.json",
    fields=(
        FieldRule("email", ("{{email | trim | lower}}",)),
        FieldRule("firstName", _FIRST),
        FieldRule("lastName", _LAST),
        FieldRule("phone", ("{{phone}}",)),
        FieldRule("company", ("{{company}}",)),
        FieldRule("title", ("{{job_title}}",)),
        FieldRule("country", ("{{country}}",)),
    ),
    envelope={"action": "createOrUpdate", "lookupField": "email", "input": [RECORD]},
    # Always 200: {"success": false, "errors": [{"code", "message"}]} for the call, else "result"
    # holds one {"id", "status": created|updated|skipped, "reasons": [...]} per record, in order.
    success=_MARKETO_SUCCESS,
    auth="OAuth 2 client credentials from a LaunchPoint custom service, against the Identity endpoint.",
    oauth=OAuth("client_credentials", "/identity/oauth/token"),
    batch=Batch(max_size=300, default_size=300, records_key="input", success=_MARKETO_SUCCESS),
)

_ZOHO_SUCCESS = Success(
    rejected_status_ranges=((400, 400),),
    records_json_path="$.data",
    result_json_path="$.status",
    accepted_values=("success",),
    reason_json_path="$.message",
    record_id_json_path="$.details.id",
)

ZOHO = Preset(
    name="zoho",
    example_base_url="https://www.zohoapis.com",
    title="Zoho CRM (Leads, upsert by email)",
    path="/crm/v7/Leads/upsert",
    fields=(
        FieldRule("First_Name", _FIRST),
        FieldRule("Last_Name", _LAST_REQUIRED, fallback=_NOT_PROVIDED),
        FieldRule("Email", ("{{email | trim}}",)),
        FieldRule("Phone", ("{{phone}}",)),
        FieldRule("Company", ("{{company}}",)),
        FieldRule("Designation", ("{{job_title}}",)),
        FieldRule("Country", ("{{country}}",)),
        FieldRule("Lead_Source", ("LeadRelay",)),
    ),
    envelope={"data": [RECORD], "duplicate_check_fields": ["Email"]},
    # {"data": [{"code": "SUCCESS", "action": "insert"|"update", "details": {"id"}, "status": "success"}]}
    # per record, in order; 201/200 all taken, 207 some, 400 none (each with its "message").
    success=_ZOHO_SUCCESS,
    auth="OAuth 2 with a refresh token (Zoho API console, self client), sent as 'Authorization: Zoho-oauthtoken …'.",
    oauth=OAuth("refresh_token", "https://accounts.zoho.com/oauth/v2/token", auth_scheme="Zoho-oauthtoken"),
    batch=Batch(max_size=100, default_size=100, records_key="data", success=_ZOHO_SUCCESS),
)

_PIPEDRIVE_SUCCESS = Success(
    result_json_path="$.success",
    accepted_values=("true",),
    rejected_status_ranges=((400, 400),),
    reason_json_path="$.error",
    record_id_json_path="$.data.id",
)
_PIPEDRIVE_PERSON_SEARCH = Lookup(
    path="/api/v1/persons/search?term={term}&fields=email&exact_match=true",
    term_json_paths=("$.email", "$.email[0].value"),
    id_json_path="$.data.items[0].item.id",
    ok_json_path="$.success",
)

PIPEDRIVE = Preset(
    name="pipedrive",
    example_base_url="https://yourcompany.pipedrive.com?api_token=…",
    title="Pipedrive (persons)",
    path="/api/v1/persons",
    fields=(
        FieldRule("name", _NAME, fallback=_NOT_PROVIDED),
        FieldRule("email", ("{{email | trim}}",)),
        FieldRule("phone", ("{{phone}}",)),
        FieldRule("job_title", ("{{job_title}}",)),
    ),
    envelope=RECORD,
    # 201 {"success": true, "data": {"id"}}; 400 {"success": false, "error": ...}.
    success=_PIPEDRIVE_SUCCESS,
    auth="An API token in the URL's query string (?api_token=…): masked in every answer and log.",
    # No upsert, no idempotency key: before re-sending after an unknown outcome, the person is looked
    # up by exact email (200 {"success": true, "data": {"items": [{"item": {"id"}}]}}).
    lookup=_PIPEDRIVE_PERSON_SEARCH,
)

PIPEDRIVE_LEADS = Preset(
    name="pipedrive_leads",
    example_base_url="https://yourcompany.pipedrive.com?api_token=…",
    title="Pipedrive (person + lead)",
    path="/api/v1/leads",
    fields=(
        FieldRule("name", _NAME, fallback=_NOT_PROVIDED),
        FieldRule("email", ("{{email | trim}}",)),
        FieldRule("phone", ("{{phone}}",)),
        FieldRule("job_title", ("{{job_title}}",)),
    ),
    # The lead's title names the LeadRelay lead: a retry finds its lead among the person's others.
    envelope={"title": "Lead from LeadRelay {{platform_lead_id}}", "person": RECORD},
    # The person, found by exact email or made (201 {"success": true, "data": {"id"}}); then
    # POST leads {"title", "person_id"}: 201 {"success": true, "data": {"id": <uuid>}}.
    success=_PIPEDRIVE_SUCCESS,
    auth=(
        "An API token in the URL's query string (?api_token=…): masked in every answer and log. Two "
        "calls per lead: the person (found by email, else made), then the lead linked to it."
    ),
    parent=Parent(
        body_key="person",
        path="/api/v1/persons",
        success=_PIPEDRIVE_SUCCESS,
        find=_PIPEDRIVE_PERSON_SEARCH,
        link_field="person_id",
    ),
    # Before re-sending after an unknown outcome: the person's leads, ours the one with our title.
    lookup=Lookup(
        path="/api/v1/leads?person_id={parent}",
        term_json_paths=("$.title",),
        id_json_path="$.id",
        ok_json_path="$.success",
        items_json_path="$.data",
        match_key="title",
    ),
)

DYNAMICS = Preset(
    name="dynamics",
    example_base_url="https://yourorg.crm.dynamics.com",
    title="Microsoft Dynamics 365 (leads entity, upsert by lead id)",
    # PATCH to the row's primary key creates it when absent, updates it when present: our lead id
    # (a UUID) is the leadid, so a retry finds the row the first attempt made.
    path=f"/api/data/v9.2/leads({LEAD_ID})",
    method="PATCH",
    fields=(
        FieldRule("subject", ("Lead from LeadRelay {{platform_lead_id}}",)),
        FieldRule("firstname", _FIRST),
        FieldRule("lastname", _LAST),
        FieldRule("emailaddress1", ("{{email | trim}}",)),
        FieldRule("telephone1", ("{{phone}}",)),
        FieldRule("companyname", ("{{company}}",)),
        FieldRule("jobtitle", ("{{job_title}}",)),
    ),
    envelope=RECORD,
    # With Prefer: return=representation, 201 created / 200 updated and the entity (its "leadid"); errors
    # {"error": {"code", "message"}}.
    success=Success(
        rejected_status_ranges=((400, 400),),
        reason_json_path="$.error.message",
        record_id_json_path="$.leadid",
    ),
    auth="OAuth 2 client credentials of an Entra ID app, scope https://yourorg.crm.dynamics.com/.default.",
    oauth=OAuth("client_credentials", "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token"),
    headers={"Prefer": "return=representation", "OData-Version": "4.0", "OData-MaxVersion": "4.0"},
)

PRESETS: dict[str, Preset] = {
    p.name: p for p in (HUBSPOT, SALESFORCE, MARKETO, ZOHO, PIPEDRIVE, DYNAMICS, PIPEDRIVE_LEADS)
}


def get(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidArgument("preset", f"{name!r} is not one of {', '.join(PRESETS)}") from None


def default_template(preset: Preset, mapped_columns: Collection[str] | None) -> str:
    """The preset's body with the fields the source's columns can fill (`None`: any column)."""
    known = None if mapped_columns is None else {*mapped_columns, *BUILTIN_COLUMNS}
    record: dict[str, str] = {}
    for rule in preset.fields:
        chosen = next(
            (a for a in rule.alternatives if known is None or compile_template(json.dumps(a)).columns <= known), None
        )
        if chosen is None:
            chosen = rule.fallback
        if chosen is not None:
            record[rule.vendor_field] = chosen
    return json.dumps(_place(preset.envelope, record), ensure_ascii=False, indent=2)


def options(preset: Preset, given: Mapping[str, str]) -> dict[str, str]:
    """The options and settings in force: each given one checked, the others at their default."""
    for name, value in given.items():
        if name in preset.settings:
            if not re.match(preset.settings[name][1], value):
                raise InvalidArgument(f"preset_options[{name!r}]", f"{value!r} is not a valid {name} for {preset.name}")
            continue
        allowed = preset.options.get(name)
        if allowed is None:
            raise InvalidArgument(f"preset_options[{name!r}]", f"{preset.name} has no option {name!r}")
        if value not in allowed:
            raise InvalidArgument(f"preset_options[{name!r}]", f"{value!r} is not one of {', '.join(allowed)}")
    chosen = {name: given.get(name, allowed[0]) for name, allowed in preset.options.items()}
    return chosen | {name: given.get(name, default) for name, (default, _) in preset.settings.items()}


def success_for(preset: Preset, chosen: Mapping[str, str]) -> Success:
    """The preset's success criteria with its options applied."""
    success = preset.success
    if preset.name == "hubspot":
        conflict = ((409, 409),)
        if chosen.get("existing_contact") == "reject":
            return replace(success, rejected_status_ranges=success.rejected_status_ranges + conflict)
        # An existing contact is the same person: the lead is in the CRM, which is what posting means.
        return replace(success, status_ranges=success.status_ranges + conflict)
    return success


def oauth_for(preset: Preset, base_url: str) -> OAuth | None:
    """The preset's OAuth defaults, a relative token path made absolute on the base URL."""
    if preset.oauth is None:
        return None
    token_url = preset.oauth.token_url
    if token_url.startswith("/"):
        token_url = base_url.rstrip("/") + token_url
    return OAuth(preset.oauth.grant_type, token_url, preset.oauth.scope, preset.oauth.auth_scheme)


def url_for(preset: Preset, base_url: str, chosen: Mapping[str, str] | None = None) -> str:
    """The preset's endpoint on the base URL (its settings as chosen), or the URL itself when it is
    already a URL of the preset's (its settings as the person wrote them)."""
    parts = urlsplit(base_url)
    if _path_settings(preset, parts.path.rstrip("/")) is not None:
        return base_url
    path = _with_settings(preset.path, options(preset, chosen or {}))
    return base_url.split("?", 1)[0].rstrip("/") + path + (f"?{parts.query}" if parts.query else "")


def base_of(preset: Preset, url: str) -> str | None:
    """The CRM's base URL of a URL made from the preset (its path taken off, its query dropped);
    None when the URL is not the preset's."""
    base = url.partition("?")[0]
    match = _path_pattern(preset).search(base)
    return None if match is None else base[: match.start()]


def settings_in(preset: Preset, url: str) -> dict[str, str]:
    """The settings a URL made from the preset carries (Salesforce's external-id field in its path),
    or none when the URL is not the preset's."""
    return _path_settings(preset, url.partition("?")[0].rstrip("/")) or {}


def batch_url(preset: Preset, url: str) -> str | None:
    """The batch endpoint for a destination URL made from the preset, or None when the URL is not
    the preset's (edited by hand: batching would guess)."""
    found = batch_for(preset, url)
    return found[1] if found else None


def batch_for(preset: Preset | None, url: str) -> tuple[Batch, str] | None:
    """The preset's batch (its key field named as in the URL) and endpoint, for a URL made from it."""
    if preset is None or preset.batch is None:
        return None
    base, _, query = url.partition("?")
    settings = _path_settings(preset, base)
    if settings is None:
        return None
    batch = replace(preset.batch, key_field=_with_settings(preset.batch.key_field, settings))
    if not preset.batch.path:
        return batch, url
    prefix = base_of(preset, url) or ""  # found: the settings were read from the same match
    return batch, prefix + _with_settings(preset.batch.path, settings) + (f"?{query}" if query else "")


def lookup_url(preset: Preset | None, url: str, body: Any, lookup: Lookup | None = None) -> str | None:
    """The look-up (the preset's own unless given) for a body as rendered; None when there is none,
    the URL is not the preset's, or the body gives nothing to look for."""
    lookup = lookup or (preset.lookup if preset else None)
    if preset is None or lookup is None:
        return None
    term = lookup_term(lookup, body)
    if not term:
        return None
    return on_base(preset, url, lookup.path.replace("{term}", quote(term, safe="")))


def lookup_term(lookup: Lookup, body: Any) -> str:
    found = (first_match(p, body) for p in lookup.term_json_paths)
    return next((t.strip() for t in found if isinstance(t, str) and t.strip()), "")


def on_base(preset: Preset, url: str, path: str) -> str | None:
    """`path` (maybe with a query) on the base URL of a URL made from the preset, the URL's query
    kept (Pipedrive's api_token); None when the URL is not the preset's."""
    base = base_of(preset, url)
    if base is None:
        return None
    query = url.partition("?")[2]
    joiner = "&" if "?" in path else "?"
    return base + path + (f"{joiner}{query}" if query else "")


def _with_settings(text: str, settings: Mapping[str, str]) -> str:
    for name, value in settings.items():
        text = text.replace("{" + name + "}", value)
    return text


def _path_pattern(preset: Preset) -> re.Pattern[str]:
    return _compiled_path(preset.path, tuple((n, allowed) for n, (_, allowed) in preset.settings.items()))


@lru_cache(maxsize=64)
def _compiled_path(path: str, settings: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    """A preset's path at the end of a URL, each setting a named group."""
    pattern = re.escape(path)
    for name, allowed in settings:
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>{allowed.strip('^$')})")
    return re.compile(pattern + "$")


def _path_settings(preset: Preset, base: str) -> dict[str, str] | None:
    match = _path_pattern(preset).search(base)
    return None if match is None else match.groupdict()


def check_batch(preset: Preset | None, template: str, batch_size: int) -> None:
    if batch_size == 1:
        return
    if preset is None or preset.batch is None:
        raise InvalidArgument("batch_size", "only a preset with a batch endpoint posts several leads per call")
    if not 1 <= batch_size <= preset.batch.max_size:
        raise InvalidArgument("batch_size", f"{batch_size} is outside 1..{preset.batch.max_size} for {preset.name}")
    if preset.batch.records_key:
        tree = json.loads(template) if template else None
        records = tree.get(preset.batch.records_key) if isinstance(tree, dict) else None
        if not (isinstance(records, list) and len(records) == 1 and isinstance(records[0], dict)):
            raise InvalidArgument(
                "body_template",
                f"a batched {preset.name} body holds exactly one record object in {preset.batch.records_key!r}",
            )
    elif not (template and isinstance(json.loads(template), dict)):
        raise InvalidArgument("body_template", f"a batched {preset.name} body is one JSON object")


def batch_body(batch: Batch, bodies: Sequence[Any], traces: Sequence[str] = (), keys: Sequence[str] = ()) -> Any:
    """One call's body from the single bodies rendered for each lead, in order (`traces`: each
    lead's trace id, where the batch matches answers by trace; `keys`: each lead's id, where the
    batch upserts by it)."""
    if batch.key_field:
        extra = batch.record_extra
        return _place(batch.envelope, [{**extra, **b, batch.key_field: k} for b, k in zip(bodies, keys, strict=True)])
    if batch.trace_key:
        return _place(batch.envelope, [{**b, batch.trace_key: t} for b, t in zip(bodies, traces, strict=True)])
    if batch.records_key:
        merged = dict(bodies[0])
        merged[batch.records_key] = [b[batch.records_key][0] for b in bodies]
        return merged
    return _place(batch.envelope, [{**batch.record_extra, **b} for b in bodies])


def _place(envelope: Any, record: Any) -> Any:
    if envelope == RECORD:
        return record
    if isinstance(envelope, dict):
        return {k: _place(v, record) for k, v in envelope.items()}
    if isinstance(envelope, list):
        return [_place(v, record) for v in envelope]
    return envelope
