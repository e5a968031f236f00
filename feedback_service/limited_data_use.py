"""Meta's Limited Data Use (LDU) for US state privacy laws (CCPA and its peers). Pure.

An event is sent with `data_processing_options: ["LDU"]` when the configuration asks it for every
event, or when the lead carries an opt-out (a "do not sell or share" answer). Its location goes with
it: `data_processing_options_country` 1 (USA) and the state's code when the lead's state is one of
Meta's LDU states, else 0/0 — Meta then geolocates the event itself. (Meta's "Data Processing Options
for US Users": the field names, 1 = USA, the state codes below, 0 = geolocate; "if you set a country,
you must also set a state".)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from feedback_service.countries import us_state_code
from feedback_service.hashing import column_key

# Meta's accepted data_processing_options_state values.
LDU_STATE_CODES: dict[str, int] = {
    "CA": 1000,
    "CO": 1001,
    "CT": 1002,
    "FL": 1003,
    "OR": 1004,
    "TX": 1005,
    "MT": 1006,
    "DE": 1007,
    "NE": 1008,
    "NH": 1009,
    "NJ": 1010,
    "MN": 1011,
    "MD": 1012,
    "RI": 1013,
}
USA = 1
GEOLOCATE = 0

# Lead columns that carry a US-state privacy opt-out when the configuration names none.
DEFAULT_OPT_OUT_COLUMNS = (
    "ccpa_opt_out",
    "do_not_sell",
    "do_not_sell_or_share",
    "opt_out_of_sale",
    "limited_data_use",
    "us_privacy_opt_out",
)
# Answers that mean "yes, I opt out" (a checked box comes as one of these).
_YES = frozenset({"1", "true", "yes", "y", "x", "on", "checked", "optout", "optedout"})


def opted_out(fields: Mapping[str, object], columns: Sequence[str] = ()) -> bool:
    """Whether the lead's opt-out columns (the configured ones, else the defaults) say yes."""
    wanted = {column_key(c) for c in (columns or DEFAULT_OPT_OUT_COLUMNS)}
    for name, value in fields.items():
        if column_key(name) in wanted:
            if isinstance(value, bool):
                if value:
                    return True
            elif isinstance(value, str) and column_key(value) in _YES:
                return True
    return False


def processing_options(country: str, states: Sequence[str]) -> dict[str, object]:
    """The event's LDU fields for a lead in `country` (ISO alpha-2, "" unknown) with these state values."""
    if country in ("", "US"):
        for raw in states:
            code = us_state_code(raw)
            if code in LDU_STATE_CODES:
                return _options(USA, LDU_STATE_CODES[code])
    return _options(GEOLOCATE, GEOLOCATE)


def _options(country: int, state: int) -> dict[str, object]:
    return {
        "data_processing_options": ["LDU"],
        "data_processing_options_country": country,
        "data_processing_options_state": state,
    }
