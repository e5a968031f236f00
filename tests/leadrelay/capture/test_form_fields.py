from datetime import UTC, datetime, timedelta

from leadrelay.capture.form_fields import Definition, RecentLead, form_fields
from leadrelay.capture.leads import Answer
from leadrelay.capture.mapping import MappingRow

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ROWS = (MappingRow("Email", form_field="email"), MappingRow("Notes", unmapped_fields=True))


def _lead(hours: int, **answers: str) -> RecentLead:
    return RecentLead(T0 + timedelta(hours=hours), [Answer(k, (v,)) for k, v in answers.items()])


def test_definitions_first_in_platform_order_then_fields_only_leads_answered():
    found = form_fields(
        [Definition("email", "Email", "EMAIL", 1, T0), Definition("full_name", "Full name", "FULL_NAME", 0, T0)],
        [_lead(3, email="b@x.io", utm="ads"), _lead(2, email="a@x.io", full_name="Ada")],
        ROWS,
        T0,
    )
    assert [(f.name, f.label, f.defined, f.samples) for f in found] == [
        ("full_name", "Full name", True, ("Ada",)),
        ("email", "Email", True, ("b@x.io", "a@x.io")),
        ("utm", "", False, ("ads",)),
    ]


def test_a_definition_seen_after_the_save_and_unmapped_is_new():
    defs = [
        Definition("email", first_seen_at=T0 + timedelta(hours=5)),
        Definition("city", first_seen_at=T0 + timedelta(hours=5)),
    ]
    found = form_fields(defs, [], ROWS, T0 + timedelta(hours=1))
    assert {f.name: f.new_since_mapping for f in found} == {"email": False, "city": True}
    assert not any(f.new_since_mapping for f in form_fields(defs, [], (), T0))  # no mapping: nothing to flag


def test_a_field_only_leads_show_is_new_only_when_earlier_leads_lacked_it():
    saved = T0 + timedelta(hours=2)
    recent = [_lead(3, email="b@x.io", city="Oslo"), _lead(1, email="a@x.io")]
    assert {f.name: f.new_since_mapping for f in form_fields([], recent, ROWS, saved)} == {"email": False, "city": True}
    # No lead from before the save: nothing shows the form gained it.
    assert not any(f.new_since_mapping for f in form_fields([], recent[:1], ROWS, saved))
