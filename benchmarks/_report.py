"""A row of the performance table, and the table as markdown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec


class Row(msgspec.Struct, kw_only=True):
    id: str
    """P1, P2, …: the issue's row ids."""
    figure: str
    ours: str
    baseline: str
    ratio: str
    goal: str
    passed: bool | None
    """None: not measured (a row that has not landed, or a benchmark that failed)."""
    note: str = ""


def not_yet(row_id: str, figure: str, goal: str, note: str = "") -> Row:
    return Row(id=row_id, figure=figure, ours="—", baseline="—", ratio="—", goal=goal, passed=None, note=note)


def verdict(row: Row) -> str:
    if row.passed is None:
        return "not yet" if row.ours == "—" else "error"
    return "pass" if row.passed else "FAIL"


_HEADER = ("id", "figure", "ours", "baseline", "ratio", "goal", "result")


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for row in rows:
        cells = (row.id, row.figure, row.ours, row.baseline, row.ratio, row.goal, verdict(row))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def notes(rows: Iterable[Row]) -> str:
    return "\n".join(f"- {row.id}: {row.note}" for row in rows if row.note)


def print_rows(rows: Sequence[Row]) -> None:
    print(markdown_table(rows))
    if text := notes(rows):
        print()
        print(text)
