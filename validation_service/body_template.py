"""JSON body templates: any JSON document whose strings may hold `{{column}}` placeholders.

Pure: no I/O. A string that is exactly one placeholder becomes the lead's value (a non-text value
keeps its type; an empty one becomes null), a string with text around or several placeholders
interpolates (an empty value reads as ""), and objects and arrays nest freely. Object keys are
literal. Filters follow a bar, left to right:

    {{email | lower}}   {{name | trim | upper}}   {{phone | default:"unknown"}}
    {{full_name | first_name}}   {{full_name | last_name}}   {{budget | number}}   {{opt_in | boolean}}

`default:"x"` replaces an empty value; `lower`, `upper`, `trim` change text; `first_name` and
`last_name` split a full name at its last space ("Ana María Paz" -> "Ana María", "Paz"; one word is
a first name); `number` and `boolean` type the value ("" stays null, text that is not a number or a
boolean is sent as it is, so the CRM names the problem).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from leadrelay.errors import InvalidArgument
from validation_service.compact_json import json_bytes

FIELD = "body_template"
MAX_TEMPLATE_CHARS = 64 * 1024
MAX_DEPTH = 32
MAX_PLACEHOLDERS = 1000

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\- ]*$")
_DEFAULT = re.compile(r'^default\s*:\s*"((?:[^"\\]|\\.)*)"$', re.DOTALL)
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


def _first_name(value: Any) -> Any:
    text = _as_text(value).strip()
    return text.rsplit(" ", 1)[0] if " " in text else text


def _last_name(value: Any) -> Any:
    text = _as_text(value).strip()
    return text.rsplit(" ", 1)[1] if " " in text else ""


def _number(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = _as_text(value).strip()
    try:
        number = float(text)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    text = _as_text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return value


FILTERS: dict[str, Callable[[Any], Any]] = {
    "lower": lambda v: _as_text(v).lower(),
    "upper": lambda v: _as_text(v).upper(),
    "trim": lambda v: _as_text(v).strip(),
    "first_name": _first_name,
    "last_name": _last_name,
    "number": _number,
    "boolean": _boolean,
}
FILTER_NAMES = (*FILTERS, 'default:"…"')


@dataclass(frozen=True)
class Placeholder:
    column: str
    filters: tuple[tuple[str, str], ...]  # (name, argument): argument only for default

    def value(self, lead: Mapping[str, Any]) -> Any:
        value = lead.get(self.column)
        for name, argument in self.filters:
            if name == "default":
                if _is_empty(value):
                    value = argument
            elif not _is_empty(value):
                value = FILTERS[name](value)
        return value


@dataclass(frozen=True)
class Template:
    """A compiled template: its JSON tree with strings replaced by parts (text and placeholders),
    and a renderer made from it once (a batch renders it for every lead)."""

    tree: Any
    columns: frozenset[str]
    renderer: Callable[[Mapping[str, Any]], Any]

    def render(self, lead: Mapping[str, Any]) -> Any:
        return self.renderer(lead)

    def render_bytes(self, lead: Mapping[str, Any]) -> bytes:
        return json_bytes(self.render(lead))


@dataclass(frozen=True)
class _Parts:
    """A string of the template holding placeholders."""

    parts: tuple[str | Placeholder, ...]


def compile_template(text: str) -> Template:
    """Parses and compiles; raises InvalidArgument("body_template", ...) naming the position."""
    return _compiled(text)


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    if len(text) > MAX_TEMPLATE_CHARS:
        raise InvalidArgument(FIELD, f"is {len(text)} characters; at most {MAX_TEMPLATE_CHARS}")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(FIELD, f"is not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    columns: set[str] = set()
    tree = _compile(document, "$", 0, columns)
    if len(columns) > MAX_PLACEHOLDERS:
        raise InvalidArgument(FIELD, f"names {len(columns)} columns; at most {MAX_PLACEHOLDERS}")
    return Template(tree, frozenset(columns), _renderer(tree))


def check_template(text: str, known_columns: Collection[str] | None) -> Template:
    """Compiles, then checks every placeholder names a known column (`None` skips that check)."""
    template = compile_template(text)
    if known_columns is not None:
        _check_columns(template.tree, "$", known_columns)
    return template


def _compile(node: Any, path: str, depth: int, columns: set[str]) -> Any:
    if depth > MAX_DEPTH:
        raise InvalidArgument(FIELD, f"nests deeper than {MAX_DEPTH} levels at {path}")
    if isinstance(node, dict):
        return {k: _compile(v, _key_path(path, k), depth + 1, columns) for k, v in node.items()}
    if isinstance(node, list):
        return [_compile(v, f"{path}[{i}]", depth + 1, columns) for i, v in enumerate(node)]
    if isinstance(node, str) and "{{" in node:
        parts = _parse_string(node, path)
        columns.update(p.column for p in parts.parts if isinstance(p, Placeholder))
        return parts
    return node


def _parse_string(text: str, path: str) -> _Parts:
    parts: list[str | Placeholder] = []
    at = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > at:
            parts.append(_literal(text[at : match.start()], path))
        parts.append(_placeholder(match.group(1), path))
        at = match.end()
    if at < len(text):
        parts.append(_literal(text[at:], path))
    return _Parts(tuple(parts))


def _literal(text: str, path: str) -> str:
    if "{{" in text or "}}" in text:
        raise InvalidArgument(FIELD, f"at {path}: an unclosed or stray '{{{{' / '}}}}' in {text!r}")
    return text


def _placeholder(inner: str, path: str) -> Placeholder:
    column, *raw_filters = (piece.strip() for piece in _split_bars(inner))
    if not column:
        raise InvalidArgument(FIELD, f"at {path}: an empty placeholder '{{{{{inner}}}}}'")
    if not _COLUMN.match(column):
        raise InvalidArgument(FIELD, f"at {path}: {column!r} is not a column name")
    filters: list[tuple[str, str]] = []
    for raw in raw_filters:
        default = _DEFAULT.match(raw)
        if default:
            filters.append(("default", json.loads(f'"{default.group(1)}"')))
        elif raw in FILTERS:
            filters.append((raw, ""))
        else:
            raise InvalidArgument(
                FIELD, f"at {path}: unknown filter {raw!r} on {{{{{column}}}}}; use {', '.join(FILTER_NAMES)}"
            )
    return Placeholder(column, tuple(filters))


def _split_bars(inner: str) -> list[str]:
    """Splits at bars outside double quotes (a default may hold a bar)."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in inner:
        if ch == "|" and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(ch)
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
    pieces.append("".join(current))
    return pieces


def _check_columns(node: Any, path: str, known: Collection[str]) -> None:
    for where, placeholder in _walk_items(node, path):
        if placeholder.column not in known:
            raise InvalidArgument(
                FIELD, f"at {where}: {{{{{placeholder.column}}}}} is not a column of the source's mapping"
            )


def _walk_items(node: Any, path: str) -> list[tuple[str, Placeholder]]:
    found: list[tuple[str, Placeholder]] = []
    _walk(node, path, found)
    return found


def _walk(node: Any, path: str, found: list[tuple[str, Placeholder]]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _walk(v, _key_path(path, k), found)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, f"{path}[{i}]", found)
    elif isinstance(node, _Parts):
        found.extend((path, p) for p in node.parts if isinstance(p, Placeholder))


def _renderer(node: Any) -> Callable[[Mapping[str, Any]], Any]:
    """A function of the lead rendering `node`: the tree is walked once, here, not per lead."""
    if isinstance(node, _Parts):
        if len(node.parts) == 1 and isinstance(node.parts[0], Placeholder):
            only = node.parts[0]
            if not only.filters:
                column = only.column
                return lambda lead: None if _is_empty(value := lead.get(column)) else value
            return lambda lead: None if _is_empty(value := only.value(lead)) else value
        parts = node.parts
        return lambda lead: "".join(p if isinstance(p, str) else _as_text(p.value(lead)) for p in parts)
    if isinstance(node, dict):
        items = [(k, _renderer(v)) for k, v in node.items()]
        return lambda lead: {k: render(lead) for k, render in items}
    if isinstance(node, list):
        renderers = [_renderer(v) for v in node]
        return lambda lead: [render(lead) for render in renderers]
    return lambda lead: node  # a scalar (objects and arrays are built anew above)


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{path}[{json.dumps(key)}]"


def _is_empty(value: Any) -> bool:
    return value is None or value == ""


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
