"""The capture sanitiser: what PostgreSQL cannot store becomes U+FFFD, nothing else changes."""

from __future__ import annotations

import json
import uuid

from leadrelay.capture import text
from leadrelay.capture.leads import Answer, IncomingLead


def test_a_nul_and_a_lone_surrogate_become_replacement_characters_and_pairs_survive():
    assert text.clean("a\x00b") == "a\ufffdb"
    assert text.clean("Ber\ud800lin\x00") == "Ber\ufffdlin\ufffd"
    assert text.clean("\ud83d\ude00") == "\U0001f600"  # a pair written as two escapes is one character
    assert text.clean("Jöe \U0001f600 \x01\t") == "Jöe \U0001f600 \x01\t"  # other controls are storable


def test_json_text_is_cleaned_only_where_postgresql_would_refuse_it():
    assert json.loads(text.dumps({"k\x00": ["v\x00", "w\ud800"], "n": 1})) == {
        "k\ufffd": ["v\ufffd", "w\ufffd"],
        "n": 1,
    }
    assert text.clean_json('{"a":"\\u0000","b":"\\ud800"}') == '{"a":"\ufffd","b":"\ufffd"}'
    plain = '{"a":"Jöe","b":"\\u00e9"}'
    assert text.clean_json(plain) is plain
    escaped = '{"a":"\\\\u0000 is six characters"}'  # an escaped backslash: no NUL in it
    assert json.loads(text.clean_json(escaped)) == {"a": "\\u0000 is six characters"}


def test_a_clean_lead_is_returned_as_is_and_a_poisoned_one_cleaned_everywhere():
    source = uuid.uuid4()
    clean = IncomingLead(source, (Answer("email", ("a@example.com",)),), form_ref="f", platform_lead_id="p")
    assert text.clean_lead(clean) is clean
    poisoned = IncomingLead(
        source,
        (Answer("ci\x00ty", ("Ber\x00lin", "x")),),
        form_ref="f\x00",
        platform_lead_id="p\x00",
        platform_context={"ad\x00": "1\x00"},
    )
    assert text.clean_lead(poisoned) == IncomingLead(
        source,
        (Answer("ci\ufffdty", ("Ber\ufffdlin", "x")),),
        form_ref="f\ufffd",
        platform_lead_id="p\ufffd",
        platform_context={"ad\ufffd": "1\ufffd"},
    )
