"""Keep a DataTable showing a list of keyed rows by changing only what differs from the last frame.

A redraw used to clear the table and add every row again: each frame re-measured every cell,
threw the cursor back to the top (one highlight event per frame) and reset the scroll. Here,
while no shown row leaves, rows keep their keys, cells are replaced only where their text or
style changed, new rows are added and the order is fixed with one `sort`. When a row leaves the
table is rebuilt: DataTable's `remove_row` renumbers every row and lays the whole screen out
again, dearer than clearing. Either way the result is the table a full rebuild gives (same rows,
order, cells, cursor on the same row), which tests/test_console_table_rows.py checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable


@dataclass(frozen=True, slots=True)
class ShownRow:
    """One row as the table should show it: its key, its cells' text and one style for all of them."""

    key: str
    cells: tuple[str, ...]
    style: str = ""


def _texts(row: ShownRow) -> list[Text]:
    return [Text(cell, style=row.style) for cell in row.cells]


class TableRows:
    """The rows a `DataTable` shows, updated in place; the cursor stays on its row's key.

    Only this object may add or remove the table's rows; after the table was cleared elsewhere
    (new columns on a resize), the next `show` notices and rebuilds.
    """

    def __init__(self, table: DataTable[Text]) -> None:
        self.table = table
        self._shown: dict[str, ShownRow] = {}
        self._order: list[str] = []

    @property
    def keys(self) -> list[str]:
        """The keys in display order."""
        return list(self._order)

    def show(self, rows: Sequence[ShownRow]) -> None:
        table = self.table
        selected = self._cursor_key()
        cursor_row = table.cursor_row
        wanted = {row.key for row in rows}
        if (
            table.row_count != len(self._order)  # cleared behind our back (new columns)
            or any(len(r.cells) != len(table.columns) for r in rows)
            or any(key not in wanted for key in self._order)  # a row left (see the module doc)
        ):
            self._rebuild(rows)
        else:
            self._patch(rows)
        self._place_cursor(selected, cursor_row)

    def _rebuild(self, rows: Sequence[ShownRow]) -> None:
        table = self.table
        table.clear()
        for row in rows:
            table.add_row(*_texts(row), key=row.key)
        self._shown = {row.key: row for row in rows}
        self._order = [row.key for row in rows]

    def _patch(self, rows: Sequence[ShownRow]) -> None:
        """Every shown row stays: change the cells that differ, add the new rows, fix the order."""
        table = self.table
        columns = table.ordered_columns
        for row in rows:
            old = self._shown.get(row.key)
            if old is None:
                table.add_row(*_texts(row), key=row.key)
            elif old != row:
                for column, before, after in zip(columns, old.cells, row.cells, strict=True):
                    if before == after and old.style == row.style:
                        continue
                    # Widths only grow, as when the row is added: measure only a wider cell.
                    grow = cell_len(after) > column.content_width
                    table.update_cell(row.key, column.key, Text(after, style=row.style), update_width=grow)
            self._shown[row.key] = row
        order = [row.key for row in rows]
        if [r.key.value for r in table.ordered_rows] != order:
            self._sort(order)
        self._order = order

    def _sort(self, order: list[str]) -> None:
        # DataTable reorders only through `sort`, whose key sees cell values, not row keys: each
        # row's first cell is a Text object of its own, so its identity names the row.
        table = self.table
        first = table.ordered_columns[0].key
        position = {id(table.get_cell(key, first)): i for i, key in enumerate(order)}
        table.sort(first, key=lambda cell: position[id(cell)])

    def _cursor_key(self) -> str | None:
        table = self.table
        if not table.row_count or not 0 <= table.cursor_row < table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    def _place_cursor(self, selected: str | None, cursor_row: int) -> None:
        """The cursor follows its row; if that row left, it stays on the same line (or the last)."""
        table = self.table
        if not table.row_count:
            return
        if selected is not None and selected in self._shown:
            target = table.get_row_index(selected)
        else:
            target = min(max(cursor_row, 0), table.row_count - 1)
        if target != table.cursor_row:
            table.move_cursor(row=target, animate=False)
