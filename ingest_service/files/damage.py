"""Spreadsheet damage: what opening an exported file in a spreadsheet and saving it again does to a
value, told apart from a manager's fix by comparing the file's value with the stored one. Pure.

Each class is a transformation spreadsheets really apply (LibreOffice Calc and Excel):
- non-Latin characters replaced by `?`, or by the character of their code point's low byte, when the
  file is saved in Windows-1252 (`Łódź` -> `Aódz`, `東京` -> `q¬`, `Иван` -> `????`);
- mojibake: UTF-8 bytes read as Windows-1252 (or Latin-1) and saved again (`Zoë` -> `ZoÃ«`);
- leading zeros (or a leading +) lost: the cell was read as a number (`01234` -> `1234`);
- a long number in E+ notation or rounded to the 15-17 digits a double holds
  (`9765120000000123` -> `9.76512E+15`, `9.76512000000012E+015`, `9765120000000120`);
- a date reformatted (`2026-03-01` -> `3/1/2026`, `01.03.2026`, `1-Mar-26`, `46082`);
- a leading apostrophe removed (the spreadsheet reads it as "this cell is text").

Only changed cells are looked at; a value the manager really changed matches none of these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, InvalidOperation

QUESTION_MARKS = "question_marks"
LOW_BYTES = "low_bytes"
MOJIBAKE = "mojibake"
LEADING_ZEROS = "leading_zeros"
LONG_NUMBER = "long_number"
DATE = "date"
APOSTROPHE = "apostrophe"

DESCRIPTIONS = {
    QUESTION_MARKS: "non-Latin characters replaced by '?' (the file was saved as Windows-1252)",
    LOW_BYTES: "non-Latin characters replaced by other characters (the file was saved as Windows-1252)",
    MOJIBAKE: "UTF-8 text read as Windows-1252 (mojibake)",
    LEADING_ZEROS: "leading zeros or + lost (the spreadsheet read the value as a number)",
    LONG_NUMBER: "a long number turned into E+ notation or rounded (a spreadsheet keeps 15 digits)",
    DATE: "a date reformatted by the spreadsheet",
    APOSTROPHE: "the leading apostrophe removed (a spreadsheet reads it as a text marker)",
}


@dataclass(frozen=True)
class Damage:
    column: str
    kind: str
    stored: str
    file: str

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind]


def find(old: Mapping[str, str], new: Mapping[str, str], columns: Iterable[str]) -> list[Damage]:
    """The damage in the given (changed) columns of a lead, stored fields `old`, file's `new`."""
    found = []
    for column in columns:
        stored, file = old.get(column, ""), new.get(column, "")
        kind = kind_of(stored, file)
        if kind is not None:
            found.append(Damage(column, kind, stored, file))
    return found


def kind_of(stored: str, file: str) -> str | None:
    """The damage that turns the stored value into the file's value, or None for a real change."""
    if stored == file or not stored:
        return None
    if stored[0] == "'" and file == stored[1:]:
        return APOSTROPHE
    if len(stored) == len(file) and not stored.isascii():
        kind = _replaced(stored, file)
        if kind is not None:
            return kind
    if not file.isascii() and _is_mojibake(file):
        return MOJIBAKE
    if _NUMBER.fullmatch(stored):
        kind = _number_damage(stored, file)
        if kind is not None:
            return kind
    if _DIGIT.search(stored) and _DIGIT.search(file) and _same_date(stored, file):
        return DATE
    return None


# --- characters a Windows-1252 save cannot hold

_UNDEFINED_1252 = (0x81, 0x8D, 0x8F, 0x90, 0x9D)
# Windows' own cp1252 maps its five undefined bytes to the C1 controls of the same number; Python's
# codec refuses them.
_DECODE_1252 = {b: (chr(b) if b in _UNDEFINED_1252 else bytes([b]).decode("cp1252")) for b in range(256)}
# Encoding back also takes Latin-1's C1 controls: UTF-8 read as Latin-1 leaves them.
_ENCODE_1252 = {**{chr(b): b for b in range(0x80, 0xA0)}, **{c: b for b, c in _DECODE_1252.items()}}


def _replaced(stored: str, file: str) -> str | None:
    """QUESTION_MARKS or LOW_BYTES when every difference is a non-ASCII character of `stored`
    replaced by `?` or by the character of its code point's low byte."""
    kind = None
    for s, f in zip(stored, file, strict=True):
        if s == f:
            continue
        if s.isascii():
            return None
        if f == "?":
            kind = kind or QUESTION_MARKS
        elif f == _DECODE_1252[ord(s) & 0xFF]:
            kind = kind or LOW_BYTES
        else:
            return None
    return kind


def _is_mojibake(file: str) -> bool:
    """True when the value's Windows-1252 (or Latin-1) bytes are UTF-8 for other, non-ASCII text:
    the file's text was UTF-8 read as Windows-1252. A value a person typed almost never is."""
    data = bytearray()
    for c in file:
        b = _ENCODE_1252.get(c)
        if b is None:
            return False
        data.append(b)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True  # not ASCII (the caller checked), so at least one multi-byte sequence decoded


# --- numbers

_NUMBER = re.compile(r"[+-]?[0-9]+")
_FILE_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:[.,]([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
_ROUNDINGS = (ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN)


def _number_damage(stored: str, file: str) -> str | None:
    """Damage to a stored integer (digits, maybe signed): LEADING_ZEROS or LONG_NUMBER."""
    exact = int(stored)
    if file == str(exact):
        return LEADING_ZEROS  # the value is the same number, so what changed is the zeros or the +
    m = _FILE_NUMBER.fullmatch(file.strip())
    if m is None or not (m.group(2) or m.group(3)):
        return None
    sign, whole, fraction, exponent = m.group(1), m.group(2), m.group(3) or "", m.group(4)
    try:
        value = Decimal(f"{sign}{whole or '0'}.{fraction or '0'}e{exponent or 0}")
    except InvalidOperation:
        return None
    if value == exact:
        # The same number written another way: zeros lost, or a notation the person did not type.
        if stored.lstrip("+-")[:1] == "0" or stored[0] == "+":
            if not whole.startswith("0") and not sign == "+":
                return LEADING_ZEROS
        return LONG_NUMBER if exponent is not None or fraction else None
    if exponent is not None:
        # E+ notation shows a few significant digits: the stored number rounded to them.
        digits = len((whole + fraction).lstrip("0")) or 1
        return LONG_NUMBER if any(_round(exact, digits, r) == value for r in _ROUNDINGS) else None
    if abs(exact) < 10**15:
        return None  # a double holds 15 digits exactly: a different short number is a real change
    candidates = {Decimal(float(exact))} | {_round(exact, n, r) for n in (15, 16, 17) for r in _ROUNDINGS}
    return LONG_NUMBER if value in candidates else None


def _round(value: int, digits: int, rounding: str) -> Decimal:
    return Context(prec=digits, rounding=rounding).create_decimal(value)


# --- dates

_DIGIT = re.compile(r"[0-9]")
_MONTH_NAMES = "january february march april may june july august september october november december".split()
_MONTHS = {
    **{name: i + 1 for i, name in enumerate(_MONTH_NAMES)},
    **{name[:3]: i + 1 for i, name in enumerate(_MONTH_NAMES)},
    "sept": 9,
}
_TIME = r"(?:[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]+)?)?\s*([AaPp]\.?[Mm]\.?)?)?"
# What spreadsheets write a date (maybe with a time) as: numbers with - / . between them, in any of
# the year-month-day, day-month-year and month-day-year orders, or with the month's name.
_NUMERIC_DATE = re.compile(r"([0-9]{1,4})([-/.])\s?([0-9]{1,2}|[A-Za-z]{3,9})\2\s?([0-9]{2,4})" + _TIME)
_NAMED_DATE = re.compile(r"([A-Za-z]{3,9})\.? ([0-9]{1,2}),? ([0-9]{4})" + _TIME)
_DAY_NAMED_DATE = re.compile(r"([0-9]{1,2})\.? ([A-Za-z]{3,9})\.? ([0-9]{2,4})" + _TIME)
_EXCEL_EPOCH = datetime(1899, 12, 30)
_SERIAL = re.compile(r"[0-9]{5}(?:[.,][0-9]+)?")

Reading = tuple[date, tuple[int, int] | None]


def _same_date(stored: str, file: str) -> bool:
    """True when both values are dates and one reading of the file's value is the stored date
    (with its time to the minute when both have one; a lost time, or midnight, counts too)."""
    was = _readings(stored)
    if not was:
        return False
    now = _readings(file)
    if _SERIAL.fullmatch(file):
        days = float(file.replace(",", "."))
        if 1 <= days < 2_958_466:  # Excel's serial dates: 1900-01-01 .. 9999-12-31
            moment = _EXCEL_EPOCH + timedelta(days=days, seconds=30)  # to the nearest minute
            now.add((moment.date(), (moment.hour, moment.minute)))
    for day, at in now:
        for stored_day, stored_at in was:
            if day == stored_day and (at is None or stored_at is None or at in (stored_at, (0, 0))):
                return True
    return False


def _readings(text: str) -> set[Reading]:
    """Every date (and time to the minute) the text can be read as."""
    text = text.strip()
    if not 6 <= len(text) <= 40:
        return set()
    found: set[Reading] = set()
    try:
        moment = datetime.fromisoformat(text)
        found.add((moment.date(), (moment.hour, moment.minute) if ("T" in text or ":" in text) else None))
    except ValueError:
        pass
    if m := _NUMERIC_DATE.fullmatch(text):
        first, middle, last = m.group(1), m.group(3), m.group(4)
        orders = [(first, middle, last)] if len(first) > 2 else [(last, middle, first), (last, first, middle)]
        for year, month, day in orders:
            _add(found, year, month, day, m.groups()[4:])
    elif m := _NAMED_DATE.fullmatch(text):
        _add(found, m.group(3), m.group(1), m.group(2), m.groups()[3:])
    elif m := _DAY_NAMED_DATE.fullmatch(text):
        _add(found, m.group(3), m.group(2), m.group(1), m.groups()[3:])
    return found


def _add(found: set[Reading], year: str, month: str, day: str, clock: tuple[str | None, ...]) -> None:
    number = int(year)
    if len(year) == 2:
        number += 1900 if number >= 69 else 2000  # as strptime's %y
    elif len(year) != 4:
        return
    month_number = int(month) if month.isdigit() else _MONTHS.get(month.lower())
    try:
        day_value = date(number, month_number or 0, int(day))
    except ValueError:
        return
    hour, minute, _second, half = clock
    if hour is None or minute is None:
        found.add((day_value, None))
        return
    h = int(hour)
    if half:
        if not 1 <= h <= 12:
            return
        h = h % 12 + (12 if half[0] in "Pp" else 0)
    if h < 24 and int(minute) < 60:
        found.add((day_value, (h, int(minute))))
