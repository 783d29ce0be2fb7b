"""TableRows patches a DataTable in place and ends exactly where a full rebuild would."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from arbtui.fast_table import FastDataTable
from arbtui.table_rows import ShownRow, TableRows

COLUMNS = ("route", "net", "state")


class Two(App[None]):
    CSS = "DataTable { height: 12; }"

    def compose(self) -> ComposeResult:
        yield FastDataTable(cursor_type="row", zebra_stripes=True, id="patched")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="rebuilt")


def frame_rows() -> st.SearchStrategy[list[ShownRow]]:
    row = st.builds(
        lambda cells, style: (cells, style),
        st.tuples(*[st.sampled_from(["a", "bb", "ccc", "1,234.5678", "wait 3", "seen"])] * len(COLUMNS)),
        st.sampled_from(["", "bold yellow"]),
    )
    # Keys from a small pool, so frames keep, reorder, add and drop rows of the one before.
    return st.dictionaries(st.sampled_from([str(k) for k in range(8)]), row, max_size=8).flatmap(
        lambda rows: st.permutations(list(rows.items())).map(
            lambda order: [ShownRow(key, cells, style) for key, (cells, style) in order]
        )
    )


def rebuild(table: DataTable[Any], rows: list[ShownRow]) -> None:
    """The reference: clear, add every row, put the cursor back on its row (or its line)."""
    selected = None
    if table.row_count:
        selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    line = table.cursor_row
    table.clear()
    for row in rows:
        table.add_row(*(Text(c, style=row.style) for c in row.cells), key=row.key)
    if rows:
        keys = [r.key for r in rows]
        table.move_cursor(row=keys.index(selected) if selected in keys else min(line, len(rows) - 1))


def shown(table: DataTable[Any]) -> list[tuple[str | None, list[tuple[str, str]]]]:
    return [
        (row.key.value, [(cell.plain, str(cell.style)) for cell in table.get_row(row.key)])
        for row in table.ordered_rows
    ]


async def test_patching_in_place_shows_what_a_rebuild_shows_frame_after_frame() -> None:
    app = Two()
    async with app.run_test(size=(80, 30)):
        patched = app.query_one("#patched", FastDataTable)
        rebuilt = app.query_one("#rebuilt", DataTable)

        @settings(max_examples=120, deadline=None, database=None)
        @given(st.lists(st.tuples(frame_rows(), st.integers(0, 9)), min_size=1, max_size=8))
        def check(frames: list[tuple[list[ShownRow], int]]) -> None:
            for table in (patched, rebuilt):
                table.clear(columns=True)
                table.add_columns(*COLUMNS)
            rows = TableRows(patched)
            for frame, cursor in frames:
                for table in (patched, rebuilt):  # the operator moved the cursor since the last frame
                    if table.row_count:
                        table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
                rows.show(frame)
                rebuild(rebuilt, frame)
                assert shown(patched) == shown(rebuilt)
                assert patched.cursor_row == rebuilt.cursor_row
                assert rows.keys == [r.key for r in frame]

        check()


async def test_a_frame_that_changes_one_cell_updates_only_that_cell_and_keeps_the_cursor() -> None:
    app = Two()
    async with app.run_test(size=(80, 30)):
        table = app.query_one("#patched", FastDataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        rows = TableRows(table)
        first = [ShownRow(str(k), (f"r{k}", f"{k}.00", "seen")) for k in range(5)]
        rows.show(first)
        table.move_cursor(row=3, animate=False)
        calls: list[tuple[Any, ...]] = []
        update_cell = table.update_cell
        table.update_cell = lambda *a, **k: calls.append(a) or update_cell(*a, **k)  # type: ignore[method-assign]
        table.clear = lambda *a, **k: (_ for _ in ()).throw(AssertionError("rebuilt"))  # type: ignore[method-assign]
        second = [*first[:2], ShownRow("2", ("r2", "9.99", "seen")), *first[3:]]
        rows.show(second)
        assert [(c[0], c[1].value) for c in calls] == [("2", "net")]
        assert table.get_row("2")[1].plain == "9.99"
        assert table.cursor_row == 3


async def test_a_reorder_moves_rows_and_the_cursor_follows_its_row() -> None:
    app = Two()
    async with app.run_test(size=(80, 30)):
        table = app.query_one("#patched", FastDataTable)
        table.add_columns(*COLUMNS)
        rows = TableRows(table)
        rows.show([ShownRow(k, (k, "1", "seen")) for k in "abcd"])
        table.move_cursor(row=1, animate=False)  # on "b"
        rows.show([ShownRow(k, (k, "1", "seen")) for k in "dcba"])
        assert [r.key.value for r in table.ordered_rows] == list("dcba")
        assert table.cursor_row == 2  # still on "b"


async def test_new_columns_behind_its_back_make_the_next_frame_a_rebuild() -> None:
    app = Two()
    async with app.run_test(size=(80, 30)):
        table = app.query_one("#patched", FastDataTable)
        table.add_columns(*COLUMNS)
        rows = TableRows(table)
        rows.show([ShownRow("a", ("a", "1", "seen"))])
        table.clear(columns=True)
        table.add_columns("route", "gross", "net", "state")
        rows.show([ShownRow("a", ("a", "2", "1", "seen")), ShownRow("b", ("b", "3", "2", "seen"))])
        assert shown(table) == [("a", [("a", ""), ("2", ""), ("1", ""), ("seen", "")]),
                                ("b", [("b", ""), ("3", ""), ("2", ""), ("seen", "")])]  # fmt: skip
