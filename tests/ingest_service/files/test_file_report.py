"""A re-upload's changed rows split over messages that stay far below gRPC's size limit."""

from __future__ import annotations

from ingest_service.files.file_report import CellChange, Progress, RowChange, change_messages


def test_changed_rows_are_split_so_no_message_passes_the_byte_budget() -> None:
    long = "x" * 400_000
    rows = [RowChange(i, f"lead-{i}", (CellChange("notes", long, long + "y"),)) for i in range(2, 7)]
    messages = list(change_messages(Progress(rows_read=5), rows, max_bytes=1 << 20))
    assert [[r.row for r in m.changed_rows] for m in messages] == [[2], [3], [4], [5], [6]]
    assert all(m.rows_read == 5 and not m.done for m in messages)


def test_small_changed_rows_share_one_message_and_none_means_no_message() -> None:
    rows = [RowChange(i, f"lead-{i}", (CellChange("country"),)) for i in range(2, 1002)]
    assert [len(m.changed_rows) for m in change_messages(Progress(), rows)] == [1000]
    assert list(change_messages(Progress(), [])) == []
