"""What a spreadsheet does to a value when it opens an exported file and saves it again: the same
transformations LibreOffice Calc and Excel apply, for the damage tests (unit and RPC)."""

from __future__ import annotations

import codecs
from decimal import Decimal


def _low_byte_errors(error: UnicodeError) -> tuple[bytes, int]:
    assert isinstance(error, UnicodeEncodeError)
    return bytes(ord(c) & 0xFF for c in error.object[error.start : error.end]), error.end


def _windows_decode_errors(error: UnicodeError) -> tuple[str, int]:
    # Windows maps cp1252's undefined bytes to the C1 control of the same number.
    assert isinstance(error, UnicodeDecodeError)
    return "".join(chr(b) for b in error.object[error.start : error.end]), error.end


codecs.register_error("test_low_byte", _low_byte_errors)
codecs.register_error("test_windows_decode", _windows_decode_errors)


def saved_as_1252_with_question_marks(text: str) -> str:
    return text.encode("cp1252", errors="replace").decode("cp1252")


def saved_as_1252_with_low_bytes(text: str) -> str:
    return text.encode("cp1252", errors="test_low_byte").decode("cp1252", errors="test_windows_decode")


def utf8_read_as_1252(text: str) -> str:
    return text.encode("utf-8").decode("cp1252", errors="test_windows_decode")


def utf8_read_as_latin1(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def read_as_number_general(text: str) -> str:
    """A cell read as a double and written in the General format (15 significant digits)."""
    value = float(text)
    shown = f"{value:.15g}"
    return shown.upper() if "e" in shown else shown


def read_as_number_excel_column(text: str) -> str:
    """Excel's General format in a default-width column: E+ notation with 6 digits."""
    return f"{float(text):.5E}".replace("0E", "E").rstrip("0").replace(".E", "E")


def read_as_number_libreoffice(text: str) -> str:
    """LibreOffice's CSV save of a long number: 15 digits, a three-digit exponent."""
    mantissa, exponent = f"{float(text):.14E}".split("E")
    return f"{mantissa.rstrip('0')}E{exponent[0]}{int(exponent[1:]):03d}"


def read_as_number_format(text: str) -> str:
    """A number format with no decimals: 15 significant digits, the rest zeros."""
    return str(int(Decimal(f"{float(text):.15g}")))


def read_as_exact_double(text: str) -> str:
    return str(int(float(text)))


def date_reformatted(text: str, written_as: str = "%m/%d/%Y") -> str:
    """A date cell written back in the spreadsheet's locale format."""
    from datetime import datetime

    return datetime.fromisoformat(text).strftime(written_as)


def apostrophe_taken_as_text_marker(text: str) -> str:
    return text[1:] if text.startswith("'") else text
