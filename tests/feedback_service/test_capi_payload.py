import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from feedback_service.capi_payload import (
    EventOptions,
    StageEvent,
    batches,
    build_event,
    is_expired,
    meta_lead_id_problem,
    request_body,
)
from feedback_service.hashing import identifier_columns
from feedback_service.stages import MetaStage


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_event_has_todays_shape_and_the_2020_guides_stage_names():
    changed = datetime(2026, 5, 4, 12, 30, tzinfo=UTC)
    event = StageEvent(
        42,
        "Sales Qualified",
        MetaStage.SALES_OPPORTUNITY,
        changed,
        "1234567890123456",
        {"email": "Ana@Example.com", "phone": "+1 650 555 1212", "city": "Lisbon"},
    )
    assert build_event(event, "Acme CRM") == {
        "event_name": "Sales Qualified",
        "event_time": int(changed.timestamp()),
        "action_source": "system_generated",
        "event_id": "lr-42",
        "user_data": {
            "lead_id": 1234567890123456,
            "em": [sha("ana@example.com")],
            "ph": [sha("16505551212")],
            "ct": [sha("lisbon")],
        },
        "custom_data": {
            "event_source": "crm",
            "lead_event_source": "Acme CRM",
            "facebook_lifecycle_stage_name": "SALES_OPPORTUNITY",
            "lifecycle_stage_name": "Sales Qualified",
        },
    }


def test_event_without_contact_details_has_only_the_lead_id():
    event = StageEvent(1, "New", MetaStage.LEAD, datetime.now(UTC), "123456789012345", {})
    assert build_event(event, "CRM")["user_data"] == {"lead_id": 123456789012345}


@pytest.mark.parametrize(
    ("lead_id", "ok"),
    [
        ("123456789012345", True),
        ("1234567890123456", True),
        ("12345678901234", False),
        ("12345678901234567", False),
        ("0123456789012345", False),
        ("l:123", False),
        ("", False),
    ],
)
def test_meta_lead_id_is_15_or_16_digits(lead_id, ok):
    assert (meta_lead_id_problem(lead_id) is None) is ok


def test_seven_day_window_with_a_margin_at_the_edge():
    now = datetime(2026, 5, 10, tzinfo=UTC)
    assert not is_expired(now - timedelta(days=6, hours=23), now)
    assert is_expired(now - timedelta(days=7) + timedelta(seconds=30), now)
    assert is_expired(now - timedelta(days=8), now)


def test_batches_of_at_most_1000():
    sizes = [len(b) for b in batches(list(range(2500)))]
    assert sizes == [1000, 1000, 500]
    with pytest.raises(ValueError):
        list(batches([1], 1001))
    with pytest.raises(ValueError):
        request_body([{}] * 1001, access_token="t")


def test_request_body_carries_the_test_event_code_only_when_set():
    assert request_body([{"a": 1}], access_token="t") == {"data": [{"a": 1}], "access_token": "t"}
    assert request_body([], access_token="t", test_event_code="TEST1")["test_event_code"] == "TEST1"


# A Polish lead as a CRM holds it: a country name, a national phone number with an extension.
POLISH_LEAD = {
    "email": "Ana.Muller@Example.PL ",
    "first_name": "Ana",
    "last_name": "Müller",
    "city": "Warszawa",
    "zip_code": "00-950",
    "country": "Poland",
    "phone_number": "22 123 45 67 ext. 5",
    "company": "Acme",
}


def event_for(fields, lead_id="1234567890123456"):
    return StageEvent(7, "Qualified", MetaStage.MARKETING_QUALIFIED_LEAD, datetime.now(UTC), lead_id, fields)


def test_every_identifier_the_lead_has_is_sent_normalised_and_hashed():
    user_data = build_event(event_for(POLISH_LEAD), "CRM")["user_data"]
    # The normalised strings Meta's rules give (customer-information-parameters) ...
    assert user_data == {
        "lead_id": 1234567890123456,
        "em": [sha("ana.muller@example.pl")],
        "ph": [sha("48221234567")],  # Poland's code added from the country name; extension dropped
        "fn": [sha("ana")],
        "ln": [sha("müller")],
        "ct": [sha("warszawa")],
        "zp": [sha("00950")],
        "country": [sha("pl")],
    }
    # ... and the digests themselves, pinned.
    assert user_data["ph"] == ["974e1d5b6a316fe3dbdea085675be226ca3db66ce625949674131d2af11e930d"]
    assert user_data["ln"] == ["2dbd218072117713f2d5996a726a9b216ed791ffd0783b6ba4ab6d61b8333192"]
    assert user_data["ct"] == ["16d796e266fedd50b30c8157d04364b347ace9d1c56808c5f992ef34b9fc69f5"]
    assert user_data["zp"] == ["157c5bb53cacd69115a429c3a9257890995f3410caf57a12e1959f70c7b3fbec"]
    assert user_data["country"] == ["3485639faf1591f3c16f295198e9389db5b33c949587ec48663597d4e00299d5"]


def test_configured_columns_replace_the_default_names_and_an_empty_list_sends_nothing():
    fields = {"Given": "Mary", "first_name": "Not Mary", "zip_code": "94105", "email": "m@example.com"}
    options = EventOptions(columns=identifier_columns({"fn": ["given"], "zp": []}))
    user_data = build_event(event_for(fields), "CRM", options)["user_data"]
    assert user_data == {"lead_id": 1234567890123456, "em": [sha("m@example.com")], "fn": [sha("mary")]}


def test_limited_data_use_for_every_event_when_configured_located_by_the_leads_state():
    fields = {"email": "a@example.com", "state": "California", "country": "United States"}
    event = build_event(event_for(fields), "CRM", EventOptions(ldu_all_events=True))
    assert event["data_processing_options"] == ["LDU"]
    assert (event["data_processing_options_country"], event["data_processing_options_state"]) == (1, 1000)
    assert event["user_data"]["st"] == [sha("ca")]


def test_a_leads_opt_out_sends_ldu_and_meta_geolocates_when_the_state_is_not_known():
    opted = build_event(event_for({"email": "a@example.com", "Do Not Sell": "Yes"}), "CRM")
    assert opted["data_processing_options"] == ["LDU"]
    assert (opted["data_processing_options_country"], opted["data_processing_options_state"]) == (0, 0)
    not_opted = build_event(event_for({"email": "a@example.com", "do_not_sell": "no"}), "CRM")
    assert "data_processing_options" not in not_opted


def test_the_opt_out_columns_are_configurable():
    fields = {"email": "a@example.com", "privacy_choice": "checked", "state": "TX"}
    event = build_event(event_for(fields), "CRM", EventOptions(ldu_opt_out_columns=("Privacy Choice",)))
    assert (event["data_processing_options_country"], event["data_processing_options_state"]) == (1, 1005)
    assert "data_processing_options" not in build_event(event_for(fields), "CRM")
