import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from feedback_service.capi_payload import (
    StageEvent,
    batches,
    build_event,
    is_expired,
    meta_lead_id_problem,
    request_body,
)
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
        "user_data": {"lead_id": 1234567890123456, "em": [sha("ana@example.com")], "ph": [sha("16505551212")]},
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
