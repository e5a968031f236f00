"""Joining LinkedIn answers to the exact form version (pure)."""

from uuid import uuid4

from ingest_service.connectors.linkedin_answers import form_version, join, to_incoming
from leadrelay.capture.leads import Answer


def _form(version: int, sizes: list[str]) -> dict:
    return {
        "id": 3162,
        "versionId": version,
        "creationLocale": {"country": "ES", "language": "es"},
        "hiddenFields": [{"name": "utm_campaign", "value": "spring"}],
        "content": {
            "questions": [
                {
                    "questionId": 1,
                    "name": "correo",
                    "predefinedField": "EMAIL",
                    "questionDetails": {"textQuestionDetails": {"maxResponseLength": 300}},
                },
                {
                    "questionId": 2,
                    "name": "funcion",
                    "predefinedField": "JOB_FUNCTION",
                    "questionDetails": {"textQuestionDetails": {}},
                },
                {
                    "questionId": 3,
                    "name": "tamano",
                    "questionDetails": {
                        "multipleChoiceQuestionDetails": {
                            "options": [
                                {"id": i, "text": {"localized": {"es_ES": s, "en_US": f"en {s}"}}}
                                for i, s in enumerate(sizes)
                            ]
                        }
                    },
                },
                {"questionId": 4, "name": "¿Qué busca?", "questionDetails": {"textQuestionDetails": {}}},
            ],
            "legalInfo": {"consents": [{"id": 0, "checkRequired": False}]},
        },
    }


def _response(version: int, answers: list) -> dict:
    return {
        "id": "abc-1",
        "versionedLeadGenFormUrn": f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:3162,{version})",
        "submittedAt": 1689894599288,
        "testLead": True,
        "leadType": "SPONSORED",
        "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:77"},
        "leadMetadata": {"sponsoredLeadMetadata": {"campaign": "urn:li:sponsoredCampaign:198"}},
        "associatedEntity": {"associatedCreative": "urn:li:sponsoredCreative:241"},
        "formResponse": {"answers": answers, "consentResponses": [{"accepted": True, "consentId": 0}]},
    }


def _text(qid: int, text: str) -> dict:
    return {"questionId": qid, "answerDetails": {"textQuestionAnswer": {"answer": text}}}


def _choice(qid: int, *ids: int) -> dict:
    return {"questionId": qid, "answerDetails": {"multipleChoiceAnswer": {"options": list(ids)}}}


def test_predefined_fields_become_their_columns_and_options_their_text_in_the_forms_locale():
    joined = join(
        _response(1, [_text(1, "ana@example.es"), _text(2, "Ingeniería"), _choice(3, 1), _text(4, "Un CRM")]),
        _form(1, ["1-10", "11-50"]),
    )
    assert joined.problems == ()
    assert joined.answers == (
        Answer("email", ("ana@example.es",)),
        Answer("job_function", ("Ingeniería",)),
        Answer("tamano", ("11-50",)),
        Answer("¿Qué busca?", ("Un CRM",)),
        Answer("utm_campaign", ("spring",)),
        Answer("consent_0", ("true",)),
    )


def test_the_same_option_id_reads_as_each_versions_own_text():
    response = _response(2, [_choice(3, 0, 1)])
    assert join(response, _form(2, ["Pequeña", "Mediana"])).answers[0] == Answer("tamano", ("Pequeña", "Mediana"))


def test_an_answer_to_a_question_the_version_lacks_is_kept_and_reported():
    joined = join(_response(1, [_text(1, "a@b.es"), _text(99, "sorpresa"), _choice(3, 7)]), _form(1, ["1-10"]))
    assert Answer("question_99", ("sorpresa",)) in joined.answers
    assert Answer("tamano", ("7",)) in joined.answers
    assert joined.problems == (
        "answer to question 99 which form version 3162 v1 does not have",
        "question 3 (tamano): option id 7 is not in this form version",
    )


def test_a_form_of_another_version_is_reported():
    joined = join(_response(2, []), _form(1, []))
    assert joined.problems[0].startswith("form version mismatch: response is for 3162 v2")


def test_the_lead_keeps_test_flag_ids_and_problems_in_context():
    source_id = uuid4()
    lead = to_incoming(source_id, _response(1, [_text(98, "x")]), _form(1, []))
    assert lead.is_test is True and lead.platform_lead_id == "abc-1" and lead.form_ref == "3162"
    assert lead.captured_at is not None and lead.captured_at.year == 2023
    assert {
        k: lead.platform_context[k]
        for k in ("form_id", "form_version", "campaign_id", "creative_id", "sponsored_account_id")
    } == {
        "form_id": "3162",
        "form_version": "1",
        "campaign_id": "198",
        "creative_id": "241",
        "sponsored_account_id": "77",
    }
    assert "question 98" in lead.platform_context["join_problems"]


def test_versioned_form_urns_parse():
    assert form_version("urn:li:versionedLeadGenForm:(urn:li:leadGenForm:818,12)") == ("818", 12)
    assert form_version("urn:li:leadGenForm:818") is None


def test_the_documented_form_urn_with_a_space_gives_the_form_id_and_version():
    assert form_version("urn:li:versionedLeadGenForm:(urn:li:leadGenForm:1, 1)") == ("1", 1)
    assert form_version("urn:li:versionedLeadGenForm:( urn:li:leadGenForm:3162 ,2 )") == ("3162", 2)
    assert form_version("urn:li:versionedLeadGenForm:(urn:li:leadGenForm:1,)") is None
