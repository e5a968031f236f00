"""Destinations as plain data, and the checks a destination must pass before it is stored.

Pure: no I/O. The servicer translates protos into these types; the worker reads them back from the
store. The address checks here refuse literal private addresses (unless allowed) and link-local or
cloud-metadata ones (always); the worker's resolver applies the same rules to what a host name
resolves to (so DNS cannot smuggle an internal address in).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from jsonpath_ng import parse as jsonpath_parse

from leadrelay.errors import InvalidArgument
from leadrelay.settings import SettingsError
from validation_service import body_template

METHODS = ("POST", "PUT", "PATCH")
BODY_FORMATS = ("JSON", "FORM")
DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 120_000
# Lead columns every lead has, besides the source's mapped columns.
BUILTIN_COLUMNS = ("lead_id", "source_id", "form_id", "platform_lead_id", "captured_at", "received_at")
# Headers LeadRelay sets itself: a destination may not override them.
RESERVED_HEADERS = frozenset({"idempotency-key", "content-type", "content-length", "host", "transfer-encoding"})
CONSTANT_KINDS = ("string", "decimal", "bool", "date", "datetime", "lookup")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


@dataclass(frozen=True)
class BodyField:
    """One column of the request body: taken from the lead, or a typed constant."""

    column: str
    lead_column: str = ""
    constant_kind: str = ""  # one of CONSTANT_KINDS when the value is a constant
    constant: Any = None

    def as_json(self) -> dict[str, Any]:
        if self.constant_kind:
            return {"column": self.column, "constant": {"kind": self.constant_kind, "value": self.constant}}
        return {"column": self.column, "lead_column": self.lead_column}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BodyField:
        if "constant" in raw:
            return cls(raw["column"], constant_kind=raw["constant"]["kind"], constant=raw["constant"]["value"])
        return cls(raw["column"], lead_column=raw.get("lead_column", ""))


@dataclass(frozen=True)
class Success:
    """Decides whether the destination took the lead (see SuccessCriteria in validation.proto)."""

    status_ranges: tuple[tuple[int, int], ...] = ((200, 299),)
    result_json_path: str = ""
    accepted_values: tuple[str, ...] = ()
    accepted_regex: str = ""
    reason_json_path: str = ""
    record_id_json_path: str = ""
    # Statuses that mean "the CRM refused this record" (REJECTED with its reason, never retried).
    rejected_status_ranges: tuple[tuple[int, int], ...] = ()
    # Where an answer holds one result per record sent (an array, in the order sent): the paths
    # above then apply to each element, "$" being the element.
    records_json_path: str = ""
    # A call-level error code inside a successful status (Marketo's 200 {"success": false, "errors"}):
    # token codes renew the token and try again, retry codes retry, any other code rejects.
    error_code_json_path: str = ""
    error_reason_json_path: str = ""
    token_error_codes: tuple[str, ...] = ()
    retry_error_codes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "status_ranges": [list(r) for r in self.status_ranges],
            "result_json_path": self.result_json_path,
            "accepted_values": list(self.accepted_values),
            "accepted_regex": self.accepted_regex,
            "reason_json_path": self.reason_json_path,
            "record_id_json_path": self.record_id_json_path,
            "rejected_status_ranges": [list(r) for r in self.rejected_status_ranges],
            "records_json_path": self.records_json_path,
            "error_code_json_path": self.error_code_json_path,
            "error_reason_json_path": self.error_reason_json_path,
            "token_error_codes": list(self.token_error_codes),
            "retry_error_codes": list(self.retry_error_codes),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Success:
        ranges = tuple((int(a), int(b)) for a, b in raw.get("status_ranges") or ()) or ((200, 299),)
        return cls(
            status_ranges=ranges,
            result_json_path=raw.get("result_json_path", ""),
            accepted_values=tuple(raw.get("accepted_values") or ()),
            accepted_regex=raw.get("accepted_regex", ""),
            reason_json_path=raw.get("reason_json_path", ""),
            record_id_json_path=raw.get("record_id_json_path", ""),
            rejected_status_ranges=tuple((int(a), int(b)) for a, b in raw.get("rejected_status_ranges") or ()),
            records_json_path=raw.get("records_json_path", ""),
            error_code_json_path=raw.get("error_code_json_path", ""),
            error_reason_json_path=raw.get("error_reason_json_path", ""),
            token_error_codes=tuple(raw.get("token_error_codes") or ()),
            retry_error_codes=tuple(raw.get("retry_error_codes") or ()),
        )


GRANTS = ("client_credentials", "refresh_token")


@dataclass(frozen=True)
class OAuth:
    """How a destination gets its access token. The credentials (client id and secret, refresh
    token) are secrets: they live only encrypted, beside these settings."""

    grant_type: str
    token_url: str
    scope: str = ""
    # The Authorization scheme the CRM expects before the token (Zoho: "Zoho-oauthtoken").
    auth_scheme: str = "Bearer"

    def as_json(self) -> dict[str, Any]:
        return {
            "grant_type": self.grant_type,
            "token_url": self.token_url,
            "scope": self.scope,
            "auth_scheme": self.auth_scheme,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OAuth | None:
        if not raw:
            return None
        return cls(raw["grant_type"], raw["token_url"], raw.get("scope", ""), raw.get("auth_scheme") or "Bearer")


@dataclass(frozen=True)
class DestinationSpec:
    """What a caller asks for: everything a destination is, except its identity and breaker state."""

    name: str
    url: str
    method: str = "POST"
    body_format: str = "JSON"
    body: tuple[BodyField, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    success: Success = Success()
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    enabled: bool = True
    post_test_leads: bool = False
    # A JSON template (see body_template.py) replacing `body` when set.
    body_template: str = ""
    preset: str = ""
    # Leads per call, when the preset names a batch endpoint; 1 posts each lead on its own.
    batch_size: int = 1
    oauth: OAuth | None = None


# Exact (host, port) pairs, or (host, None) for any port, that may be private (POSTOUT_ALLOW_HOSTS).
AllowedHosts = Collection[tuple[str, int | None]]


def check_destination(
    spec: DestinationSpec,
    mapped_columns: Collection[str] | None,
    *,
    allow_private: bool,
    allow_hosts: AllowedHosts = (),
) -> None:
    """Raises InvalidArgument naming the first bad field. `mapped_columns` None skips the column check."""
    if not spec.name.strip():
        raise InvalidArgument("name", "is required")
    check_url(spec.url, allow_private=allow_private, allow_hosts=allow_hosts)
    if spec.method not in METHODS:
        raise InvalidArgument("method", f"{spec.method!r} is not one of {', '.join(METHODS)}")
    if spec.body_format not in BODY_FORMATS:
        raise InvalidArgument("body_format", f"{spec.body_format!r} is not JSON or FORM")
    if spec.body_template:
        if spec.body:
            raise InvalidArgument("body_template", "set either body or body_template, not both")
        if spec.body_format != "JSON":
            raise InvalidArgument("body_template", "a template is a JSON body: body_format must be JSON")
        body_template.check_template(spec.body_template, _known_columns(mapped_columns))
    _check_body(spec.body, mapped_columns)
    _check_headers(spec.headers)
    check_success(spec.success)
    if not 1 <= spec.timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidArgument("timeout_ms", f"{spec.timeout_ms} is outside 1..{MAX_TIMEOUT_MS}")
    if spec.oauth is not None:
        check_oauth(spec.oauth, allow_private=allow_private, allow_hosts=allow_hosts)


def check_oauth(oauth: OAuth, *, allow_private: bool, allow_hosts: AllowedHosts = ()) -> None:
    if oauth.grant_type not in GRANTS:
        raise InvalidArgument("oauth.grant_type", f"{oauth.grant_type!r} is not one of {', '.join(GRANTS)}")
    try:
        check_url(oauth.token_url, allow_private=allow_private, allow_hosts=allow_hosts)
    except InvalidArgument as exc:
        raise InvalidArgument("oauth.token_url", str(exc).removeprefix("url: ")) from None
    if not _TOKEN.match(oauth.auth_scheme):
        raise InvalidArgument("oauth.auth_scheme", f"{oauth.auth_scheme!r} is not a valid Authorization scheme")


def _known_columns(mapped_columns: Collection[str] | None) -> Collection[str] | None:
    return None if mapped_columns is None else {*mapped_columns, *BUILTIN_COLUMNS}


def check_url(url: str, *, allow_private: bool, allow_hosts: AllowedHosts = ()) -> None:
    """Private addresses pass with `allow_private`, or when host and port are in `allow_hosts`;
    link-local and cloud-metadata addresses never do (the resolver applies the same rule to names)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidArgument("url", f"{url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidArgument("url", f"{url!r} must be an http or https URL")
    host = parts.hostname or ""
    if not host:
        raise InvalidArgument("url", f"{url!r} has no host")
    if parts.username or parts.password:
        raise InvalidArgument("url", "credentials in the URL are not allowed: put them in a header")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None  # a name: the worker's resolver checks what it resolves to
    if address is not None and is_never_allowed(address):
        raise InvalidArgument(
            "url", f"{host} is a link-local or cloud-metadata address: never a destination, whatever the settings"
        )
    if allow_private or host_allowed(host, parts.port or _DEFAULT_PORTS[parts.scheme], allow_hosts):
        return
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise InvalidArgument("url", f"{host!r} is a private host name: destinations must be public")
    if address is not None and not is_public_address(address):
        raise InvalidArgument(
            "url", f"{host} is a private, loopback or link-local address: destinations must be public"
        )


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT)
    )


_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Cloud metadata services outside the link-local ranges: AWS's IPv6 endpoint, Alibaba's.
_METADATA = frozenset({ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_never_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Link-local (169.254.0.0/16, fe80::/10) and cloud-metadata addresses, in any IPv6 spelling of
    an IPv4 one: credentials live there, so no setting makes them a destination."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.is_link_local or address in _METADATA


def host_allowed(host: str, port: int, allow_hosts: AllowedHosts) -> bool:
    host = host.lower()
    return (host, port) in allow_hosts or (host, None) in allow_hosts


def parse_allow_hosts(raw: str) -> frozenset[tuple[str, int | None]]:
    """POSTOUT_ALLOW_HOSTS: comma-separated `host:port` (or `host` for any port; `[v6]:port`)."""
    out: set[tuple[str, int | None]] = set()
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port = rest.removeprefix(":")
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        else:
            host, port = entry, ""
        if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
            raise SettingsError(f"POSTOUT_ALLOW_HOSTS= {entry!r} is not host:port (or a host)")
        out.add((host.lower(), int(port) if port else None))
    return frozenset(out)


def _check_body(body: Sequence[BodyField], mapped_columns: Collection[str] | None) -> None:
    seen: set[str] = set()
    for i, f in enumerate(body):
        where = f"body[{i}]"
        if not f.column.strip():
            raise InvalidArgument(f"{where}.column", "is required")
        if f.column in seen:
            raise InvalidArgument(f"{where}.column", f"{f.column!r} appears twice")
        seen.add(f.column)
        if f.constant_kind:
            if f.constant_kind not in CONSTANT_KINDS:
                raise InvalidArgument(f"{where}.constant", f"unknown constant kind {f.constant_kind!r}")
            continue
        if not f.lead_column:
            raise InvalidArgument(where, "a destination body field takes a lead_column or a constant")
        known = f.lead_column in BUILTIN_COLUMNS or mapped_columns is None or f.lead_column in mapped_columns
        if not known:
            raise InvalidArgument(
                f"{where}.lead_column", f"unknown column {f.lead_column!r}: not one of the source's mapped columns"
            )


def _check_headers(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise InvalidArgument(f"headers[{name!r}]", "is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise InvalidArgument(f"headers[{name!r}]", "is set by LeadRelay and cannot be overridden")
        if "\r" in value or "\n" in value:
            raise InvalidArgument(f"headers[{name!r}]", "value contains a line break")


def check_success(success: Success) -> None:
    for i, (low, high) in enumerate(success.status_ranges):
        if not (100 <= low <= high <= 599):
            raise InvalidArgument(f"success.status_ranges[{i}]", f"{low}-{high} is not a range within 100-599")
    for i, (low, high) in enumerate(success.rejected_status_ranges):
        if not (400 <= low <= high <= 499):
            raise InvalidArgument(f"success.rejected_status_ranges[{i}]", f"{low}-{high} is not a range within 400-499")
    for name in (
        "result_json_path",
        "reason_json_path",
        "record_id_json_path",
        "records_json_path",
        "error_code_json_path",
        "error_reason_json_path",
    ):
        path = getattr(success, name)
        if path:
            try:
                compiled_path(path)
            except Exception as exc:  # jsonpath-ng raises several kinds for a bad path
                raise InvalidArgument(f"success.{name}", f"{path!r} is not a valid JSON path ({exc})") from None
    if success.accepted_values and not success.result_json_path:
        raise InvalidArgument("success.accepted_values", "needs success.result_json_path")
    if success.result_json_path and not success.accepted_values:
        raise InvalidArgument("success.accepted_values", "name the values at result_json_path that mean accepted")
    if success.records_json_path and success.accepted_regex:
        raise InvalidArgument("success.accepted_regex", "judges the whole answer: it cannot judge each record")
    if (success.token_error_codes or success.retry_error_codes) and not success.error_code_json_path:
        raise InvalidArgument("success.error_code_json_path", "is needed to read token or retry error codes")
    if success.accepted_regex:
        if success.result_json_path:
            raise InvalidArgument("success.accepted_regex", "use either result_json_path or accepted_regex, not both")
        try:
            compiled_regex(success.accepted_regex)
        except re.error as exc:
            raise InvalidArgument(
                "success.accepted_regex", f"{success.accepted_regex!r} is not a valid regex ({exc})"
            ) from None


@lru_cache(maxsize=512)
def compiled_path(path: str) -> Any:
    return jsonpath_parse(path)


@lru_cache(maxsize=512)
def compiled_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# Query parameters whose values are credentials (Pipedrive's api_token, access_token, api keys, ...).
_SECRET_PARAM = re.compile(r"(token|key|secret|password|passwd|auth|signature|sig|code|credential)", re.I)
MASK = "****"


def masked_url(url: str) -> str:
    """The URL with every credential-like query value replaced by ****, for answers and logs."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        pairs.append(f"{name}={MASK}" if eq and value and _SECRET_PARAM.search(name) else pair)
    return f"{base}?{'&'.join(pairs)}"


def mask_secrets(text: str, url: str) -> str:
    """`text` (an error message, which may quote the URL) with the URL's secrets masked."""
    masked = masked_url(url)
    if masked == url or not text:
        return text
    text = text.replace(url, masked)
    query = url.partition("?")[2]
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if value and _SECRET_PARAM.search(name):
            text = text.replace(value, MASK)
    return text
