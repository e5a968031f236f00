"""Who a lead is, whatever the source calls the columns; who acted on it, in words; whether a
picklist value is taken care of already."""

from __future__ import annotations

from leadrelay.v1 import validation_pb2
from reports_app import actions, labels
from reports_app.person import person


def test_a_person_from_first_and_last_name_columns() -> None:
    who = person({"First Name": "Ana", "last_name": "López", "Email": "ana@x.com", "Company Name": "Acme"})
    assert (who.name, who.email, who.company) == ("Ana López", "ana@x.com", "Acme")


def test_a_full_name_and_any_email_column() -> None:
    who = person({"full_name": "Bo Lind", "work-email": "bo@x.com", "organisation": "Borealis"})
    assert (who.name, who.email, who.company) == ("Bo Lind", "bo@x.com", "Borealis")
    assert person(None) == person({}) and person({}).name == ""


def test_who_acted_in_words() -> None:
    users = {"6f1c1f5e-0000-4000-8000-000000000001": "ana@acme.com"}
    assert labels.actor("user:6f1c1f5e-0000-4000-8000-000000000001", users) == "ana@acme.com"
    assert labels.actor("user:6f1c1f5e-0000-4000-8000-000000000002", users) == "a removed user"
    assert labels.actor("key:ab12cd34", users) == "API key lr_ab12cd34_…"
    assert labels.actor("", users) == "LeadRelay"


def test_a_value_already_mapped_says_to_what() -> None:
    rule = validation_pb2.Rule(
        column="country",
        picklist=validation_pb2.Picklist(allowed=["Germany"], mapper={"Deutschland": "Germany"}, case_insensitive=True),
    )
    assert actions.mapped_to(rule, "deutschland") == "Germany"
    assert actions.mapped_to(rule, "GERMANY") == "Germany"
    assert actions.mapped_to(rule, "Narnia") is None
    strict = validation_pb2.Rule(column="c", picklist=validation_pb2.Picklist(allowed=["A"], mapper={"b": "A"}))
    assert actions.mapped_to(strict, "B") is None
