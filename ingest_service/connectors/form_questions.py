"""A platform form's questions as field definitions (the answer names leads will carry). Pure.

Facebook: `leadgen_forms?fields=questions` gives [{key, label, type}]; the lead's field_data names
are the keys. LinkedIn: a form version's `content.questions`, named as linkedin_answers names answers
(predefined field lower-cased, else the question's name), plus its hidden fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest_service.connectors.linkedin_answers import column_for, form_locale, localized_text
from leadrelay.capture.form_fields import Definition


def facebook(form: Mapping[str, Any]) -> list[Definition]:
    out = []
    for i, q in enumerate(form.get("questions") or ()):
        if isinstance(q, Mapping) and q.get("key"):
            out.append(Definition(str(q["key"]), str(q.get("label") or ""), str(q.get("type") or ""), i))
    return out


def linkedin(form: Mapping[str, Any]) -> list[Definition]:
    locale = form_locale(form)
    content = form.get("content") or {}
    out = []
    for i, q in enumerate(content.get("questions") or ()):
        if not isinstance(q, Mapping):
            continue
        details = q.get("questionDetails") or {}
        kind = str(
            q.get("predefinedField") or ("MULTIPLE_CHOICE" if "multipleChoiceQuestionDetails" in details else "TEXT")
        )
        out.append(Definition(column_for(q), localized_text(q.get("question"), locale), kind, i))
    offset = len(out)
    for i, hidden in enumerate(form.get("hiddenFields") or ()):
        if isinstance(hidden, Mapping) and hidden.get("name"):
            out.append(Definition(str(hidden["name"]), "", "HIDDEN", offset + i))
    return out


def of_form(platform: str, form: Mapping[str, Any]) -> list[Definition]:
    return facebook(form) if platform == "FACEBOOK" else linkedin(form)
