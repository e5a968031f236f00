"""What reading one uploaded file may cost, and the call's stop.

Readers run in the file workers' threads, which cannot be cancelled from outside: they check the
budget between rows instead. The check pass (upload_file.scan) reads the whole file under a wall-time
deadline, so the second pass, which reads the same rows, is bounded by it too; `stop` is set when the
call ends (finished, failed, or abandoned by its client), and a reader that sees it ends at once.
XLSX limits are checked on the zip's directory and the sheet's declared size before any row is read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ingest_service.files.csv_reader import CsvError
from leadrelay.settings import Settings

# Excel's own limit for one cell; a row may carry at most 1 MiB of text, as a CSV record may.
MAX_CELL_CHARS = 32_767
MAX_ROW_CHARS = 1 << 20
# Entries this small may compress as well as they like (an empty sheet's XML does).
RATIO_FLOOR_BYTES = 1 << 20
MAX_ZIP_ENTRIES = 10_000


class Stopped(Exception):
    """The call that wanted the file has ended: nobody reads the rest."""


@dataclass(frozen=True)
class XlsxLimits:
    max_unzipped_bytes: int = 1 << 30
    max_ratio: int = 100
    max_shared_strings_bytes: int = 64 << 20
    max_columns: int = 1000
    max_rows: int = 2_000_000
    # The sheet's rectangle, first to last cell: the reader holds it whole (about 90 bytes a cell).
    max_cells: int = 25_000_000


@dataclass
class Budget:
    seconds: float = 300.0
    xlsx: XlsxLimits = field(default_factory=XlsxLimits)
    stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        return cls(
            seconds=settings.file_max_seconds,
            xlsx=XlsxLimits(
                max_unzipped_bytes=settings.xlsx_max_unzipped_bytes,
                max_ratio=settings.xlsx_max_ratio,
                max_shared_strings_bytes=settings.xlsx_max_shared_strings_bytes,
                max_columns=settings.xlsx_max_columns,
                max_cells=settings.xlsx_max_cells,
                max_rows=settings.import_max_rows,
            ),
        )

    def deadline(self) -> float:
        """The deadline of a pass starting now."""
        return time.monotonic() + self.seconds

    def check(self, row: int, deadline: float | None) -> None:
        if self.stop.is_set():
            raise Stopped
        if deadline is not None and time.monotonic() > deadline:
            raise CsvError(
                row, None, f"reading the file took longer than {self.seconds:g} s (LEADRELAY_FILE_MAX_SECONDS)"
            )
