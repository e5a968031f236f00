"""A LinkedIn leadFormResponse joined to the exact form version it was submitted on -> answers. Pure.

- `answers[].questionId` joins `content.questions[].questionId` of that version;
- a question with a `predefinedField` becomes that field's column name (FIRST_NAME -> first_name),
  stable across form languages; a custom question keeps its `name`;
- multiple-choice option ids become the option's text in the form's locale;
- hidden fields come from the form, consents from `legalInfo.consents`;
- an answer to a question the version lacks is kept (as `question_<id>`) and reported as a problem:
  never dropped silently."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from leadrelay.capture.leads import Answer, IncomingLead

# LinkedIn's docs spell the URN both "(…:1,1)" and "(…:1, 1)"; whitespace around the parts is allowed.
_VERSIONED = re.compile(r"urn:li:versionedLeadGenForm:\(\s*urn:li:leadGenForm:(\d+)\s*,\s*(\d+)\s*\)")


@dataclass(frozen=True)
class Joined:
    answers: tuple[Answer, ...]
    problems: tuple[str, ...]


def form_version(urn: str) -> tuple[str, int] | None:
    """urn:li:versionedLeadGenForm:(urn:li:leadGenForm:3162,1) (or "…:3162, 1)") -> ("3162", 1)."""
    match = _VERSIONED.fullmatch((urn or "").strip())
    return (match.group(1), int(match.group(2))) if match else None


def urn_id(urn: str) -> str:
    """urn:li:sponsoredAccount:123 -> "123"; urn:li:leadGenFormResponse:ab-4 -> "ab-4"."""
    return (urn or "").rsplit(":", 1)[-1]


def localized_text(value: Mapping[str, Any] | None, locale: str) -> str:
    texts = (value or {}).get("localized") or {}
    if locale in texts:
        return str(texts[locale])
    return str(next(iter(texts.values()), "")) if texts else ""


def form_locale(form: Mapping[str, Any]) -> str:
    loc = form.get("creationLocale") or {}
    return f"{loc.get('language', 'en')}_{loc.get('country', 'US')}"


def column_for(question: Mapping[str, Any]) -> str:
    predefined = question.get("predefinedField")
    if predefined:
        return str(predefined).lower()
    return str(question.get("name") or f"question_{question.get('questionId')}")


def join(response: Mapping[str, Any], form: Mapping[str, Any]) -> Joined:
    """`form` must be the version named by response["versionedLeadGenFormUrn"]."""
    problems: list[str] = []
    wanted = form_version(str(response.get("versionedLeadGenFormUrn", "")))
    if wanted and (str(form.get("id")), int(form.get("versionId") or wanted[1])) != wanted:
        problems.append(
            f"form version mismatch: response is for {wanted[0]} v{wanted[1]}, "
            f"form given is {form.get('id')} v{form.get('versionId')}"
        )
    locale = form_locale(form)
    content = form.get("content") or {}
    questions = {q.get("questionId"): q for q in content.get("questions") or () if isinstance(q, Mapping)}
    out: list[Answer] = []
    body = response.get("formResponse") or {}
    for answer in body.get("answers") or ():
        qid = answer.get("questionId")
        details = answer.get("answerDetails") or {}
        question = questions.get(qid)
        if question is None:
            problems.append(
                f"answer to question {qid} which form version "
                f"{wanted[0] if wanted else '?'} v{wanted[1] if wanted else '?'} does not have"
            )
            out.append(Answer(f"question_{qid}", _raw_values(details)))
            continue
        column = column_for(question)
        if "multipleChoiceAnswer" in details:
            options = {
                o.get("id"): o
                for o in (question.get("questionDetails") or {})
                .get("multipleChoiceQuestionDetails", {})
                .get("options", [])
            }
            texts = []
            for option_id in details["multipleChoiceAnswer"].get("options") or ():
                option = options.get(option_id)
                if option is None:
                    problems.append(f"question {qid} ({column}): option id {option_id} is not in this form version")
                    texts.append(str(option_id))
                else:
                    texts.append(localized_text(option.get("text"), locale))
            out.append(Answer(column, tuple(texts)))
        else:
            out.append(Answer(column, _raw_values(details)))
    for hidden in form.get("hiddenFields") or ():
        if isinstance(hidden, Mapping) and hidden.get("name"):
            out.append(Answer(str(hidden["name"]), (str(hidden.get("value", "")),)))
    consents = {c.get("id"): c for c in (content.get("legalInfo") or {}).get("consents") or ()}
    for consent in body.get("consentResponses") or ():
        cid = consent.get("consentId")
        if cid not in consents:
            problems.append(f"consent {cid} is not in this form version")
        out.append(Answer(f"consent_{cid}", ("true" if consent.get("accepted") else "false",)))
    return Joined(tuple(out), tuple(problems))


def _raw_values(details: Mapping[str, Any]) -> tuple[str, ...]:
    if "textQuestionAnswer" in details:
        return (str((details["textQuestionAnswer"] or {}).get("answer", "")),)
    if "multipleChoiceAnswer" in details:
        return tuple(str(o) for o in (details["multipleChoiceAnswer"] or {}).get("options") or ())
    return tuple(str(v) for v in details.values())


def to_incoming(source_id: UUID, response: Mapping[str, Any], form: Mapping[str, Any]) -> IncomingLead:
    """The response as a lead: joined answers, testLead kept, campaign/creative/form version in context,
    and any join problem kept in context under `join_problems` so a reviewer sees why."""
    joined = join(response, form)
    version = form_version(str(response.get("versionedLeadGenFormUrn", "")))
    context: dict[str, str] = {"lead_type": str(response.get("leadType", ""))}
    if version:
        context["form_id"], context["form_version"] = version[0], str(version[1])
    campaign = ((response.get("leadMetadata") or {}).get("sponsoredLeadMetadata") or {}).get("campaign")
    if campaign:
        context["campaign_id"] = urn_id(str(campaign))
    for value in (response.get("associatedEntity") or {}).values():
        context["creative_id"] = urn_id(str(value))
    owner = response.get("owner") or {}
    if owner.get("sponsoredAccount"):
        context["sponsored_account_id"] = urn_id(str(owner["sponsoredAccount"]))
    elif owner.get("organization"):
        context["organization_id"] = urn_id(str(owner["organization"]))
    if joined.problems:
        context["join_problems"] = "; ".join(joined.problems)
    submitted = response.get("submittedAt")
    return IncomingLead(
        source_id=source_id,
        answers=joined.answers,
        form_ref=version[0] if version else "",
        platform_lead_id=str(response["id"]),
        captured_at=datetime.fromtimestamp(int(submitted) / 1000, UTC) if isinstance(submitted, int) else None,
        is_test=bool(response.get("testLead")),
        platform_context=context,
    )
