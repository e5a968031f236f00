"""A Graph lead node as an IncomingLead (pure), and webhook change parsing."""

from datetime import UTC, datetime
from uuid import uuid4

from ingest_service.connectors.facebook_leads import to_incoming
from ingest_service.connectors.facebook_webhook import changes, signature_ok
from leadrelay.capture.leads import Answer


def test_field_data_checkboxes_and_ad_context_are_kept():
    lead = to_incoming(
        uuid4(),
        "153125381133",
        {
            "id": "1234567890123456",
            "created_time": "2015-02-28T08:49:14+0000",
            "form_id": "555",
            "ad_id": "11",
            "adset_id": "12",
            "campaign_id": "13",
            "campaign_name": "Spring",
            "is_organic": False,
            "platform": "fb",
            "field_data": [
                {"name": "email", "values": ["joe@example.com"]},
                {"name": "colors", "values": ["k1", "k2"]},
            ],
            "custom_disclaimer_responses": [
                {"checkbox_key": "optional_1", "is_checked": "1"},
                {"checkbox_key": "optional_2", "is_checked": ""},
                {"checkbox_key": "optional_3", "is_checked": True},
            ],
        },
    )
    assert lead.answers == (
        Answer("email", ("joe@example.com",)),
        Answer("colors", ("k1", "k2")),
        Answer("optional_1", ("true",)),
        Answer("optional_2", ("false",)),
        Answer("optional_3", ("true",)),
    )
    assert lead.platform_lead_id == "1234567890123456" and lead.form_ref == "555"
    assert lead.captured_at == datetime(2015, 2, 28, 8, 49, 14, tzinfo=UTC)
    assert dict(lead.platform_context) == {
        "ad_id": "11",
        "adset_id": "12",
        "campaign_id": "13",
        "campaign_name": "Spring",
        "form_id": "555",
        "platform": "fb",
        "is_organic": "false",
        "page_id": "153125381133",
    }
    assert lead.is_test is False


def test_organic_and_testing_tool_leads_are_flagged():
    placeholder = [{"name": "email", "values": ["<test lead: dummy data for email>"]}]
    lead = to_incoming(uuid4(), "1", {"id": "9", "form_id": "5", "is_organic": True, "field_data": placeholder})
    assert lead.is_test is True and lead.platform_context["is_organic"] == "true"


def test_every_entry_and_change_is_read_and_ids_stay_exact():
    rows, problems = changes(
        {
            "object": "page",
            "entry": [
                {
                    "id": "153125381133",
                    "changes": [
                        {
                            "field": "leadgen",
                            "value": {"leadgen_id": 9007199254740993, "page_id": 153125381133, "form_id": 7},
                        },
                        {"field": "feed", "value": {}},
                    ],
                },
                {
                    "id": "2",
                    "changes": [
                        {"field": "leadgen", "value": {"leadgen_id": "44", "form_id": "8"}},
                        {"field": "leadgen", "value": {"page_id": 2}},
                    ],
                },
            ],
        }
    )
    assert [r[:3] for r in rows] == [("9007199254740993", "153125381133", "7"), ("44", "2", "8")]
    assert problems == ["entry[0].changes[1]: field 'feed' is not leadgen", "entry[1].changes[1]: no leadgen_id"]
    assert changes([1, 2]) == ([], ["not a webhook notification: no `entry` list"])


def test_signatures_are_checked_over_the_exact_bytes():
    body = b'{"a":"\\u00e4"}'
    good = "sha256=" + __import__("hmac").new(b"s", body, "sha256").hexdigest()
    assert signature_ok("s", body, good)
    assert not signature_ok("s", body + b" ", good)
    assert not signature_ok("s", body, good.replace("sha256", "sha1"))
    assert not signature_ok("s", body, "")
