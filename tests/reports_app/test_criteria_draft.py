"""The criteria page's pure parts: rules said in words, the diff between versions, who saved a
version, and a dry run's flips."""

from __future__ import annotations

from reports_app import criteria_draft as d


def _picklist(allowed: list[str], mapper: dict[str, str] | None = None, **extra: object) -> dict:
    return {
        "kind": "picklist",
        "column": "country",
        "params": {"allowed": allowed, "mapper": mapper or {}, "case_insensitive": False},
        "disposition_code": "",
        "custom_reason": "",
        **extra,
    }


def test_a_rule_is_said_in_words() -> None:
    assert d.describe(_picklist(["Germany", "France"], {"DE": "Germany"})) == (
        "country must be one of “Germany”, “France”; 1 variant mapped"
    )
    dup = d.new_rule("duplicate", "email")
    assert d.describe(dup) == "no second lead with the same email within 30 days (this source)"
    assert d.title(dup) == "No duplicates"
    assert d.describe(d.new_rule("reject_test_leads")) == "test leads are rejected"


def test_the_diff_names_values_added_removed_and_remapped() -> None:
    old = [_picklist(["Germany", "France"], {"DE": "Germany", "FR": "France"}), d.new_rule("required", "email")]
    new = [
        _picklist(["Germany"], {"DE": "Germany", "FR": "Germany", "Deutschland": "Germany"}),
        d.new_rule("email", "email"),
    ]
    assert d.diff(old, new) == [
        "Changed: Picklist · country — allowed − “France”; mapper + “Deutschland” → “Germany”; "
        "mapper “FR”: “France” → “Germany”",
        "Added: Valid email · email — email must be a valid email address",
        "Removed: Required · email — email must be filled in",
    ]
    assert d.diff(old, list(reversed(old))) == []


def test_the_diff_names_a_changed_code_and_reason() -> None:
    new = _picklist(["Germany"], disposition_code="REJECT_LEAD_INVALID_FORMAT", custom_reason="Wrong country")
    assert d.diff([_picklist(["Germany"])], [new]) == [
        "Changed: Picklist · country — code: default → REJECT_LEAD_INVALID_FORMAT; reason: “” → “Wrong country”"
    ]


def test_who_saved_a_version() -> None:
    names = {"5b7f": "ana@acme.com"}
    assert d.who("user:5b7f", names) == "ana@acme.com"
    assert d.who("user:gone", names) == "a former user"
    assert d.who("key:lr_abc", names) == "API key lr_abc…"
    assert d.who("", names) == "LeadRelay"


def test_flips_count_each_way_and_a_changed_reason() -> None:
    def lead(before: str, now: str, before_code: str = "", code: str = "") -> dict:
        return {
            "lead_id": "x",
            "stored_status": before,
            "stored_code": before_code,
            "stored_reason": "",
            "status": now,
            "code": code,
            "reason": "",
        }

    result = d.flips(
        [
            lead("REJECTED", "ACCEPTED", "A"),
            lead("ACCEPTED", "REJECTED", code="B"),
            lead("REJECTED", "REJECTED", "A", "B"),
            lead("REJECTED", "REJECTED", "A", "A"),
            lead("ACCEPTED", "ACCEPTED"),
        ]
    )
    assert (result.judged, len(result.to_accepted), len(result.to_rejected), result.reason_changed) == (5, 1, 1, 1)


def test_allowed_values_are_one_a_line() -> None:
    assert d.parse_lines(" Germany \n\nFrance\nGermany\n") == ["Germany", "France"]
