"""FastDataTable renders every cell exactly as the installed Textual's DataTable does."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from arbtui.fast_table import FastDataTable

STYLES = ["", "bold yellow", "bold red", "green", Style(italic=True, color="blue"), Style()]
# ASCII, the console's arrows and ellipsis, double-width characters (cropped mid-character).
plain_text = st.text(alphabet="abcXYZ 0129.,-$→…漢字", min_size=0, max_size=30)
cell = st.builds(
    Text,
    plain_text,
    style=st.sampled_from(STYLES),
    justify=st.sampled_from([None, None, "right", "center"]),
    overflow=st.sampled_from([None, None, "ellipsis", "crop"]),
)
quick = settings(max_examples=150, deadline=None, database=None)


class Tables(App[None]):
    CSS = "DataTable { height: 15; }"

    def compose(self) -> ComposeResult:
        yield FastDataTable(cursor_type="row", zebra_stripes=True, id="fast")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="stock")


def stock_cell(table: DataTable[Any], *args: Any, **kwargs: Any) -> list[list[Segment]]:
    table._cell_render_cache.clear()  # the fast path stores under the same key: compare fresh renders
    lines = DataTable._render_cell(table, *args, **kwargs)
    table._cell_render_cache.clear()
    return lines


async def test_a_plain_cell_renders_to_the_same_segments_as_datatables_own_path() -> None:
    app = Tables()
    async with app.run_test(size=(100, 20)):
        table = app.query_one("#fast", FastDataTable)
        table.add_columns("a", "b")

        @quick
        @given(
            value=cell,
            other=cell,
            width=st.integers(1, 24),
            padding=st.integers(0, 2),
            cursor=st.booleans(),
            hover=st.booleans(),
            row_style=st.sampled_from([Style(), Style(bgcolor="grey11"), Style(bold=True, color="red")]),
        )
        def check(
            value: Text, other: Text, width: int, padding: int, cursor: bool, hover: bool, row_style: Style
        ) -> None:
            table.clear()
            table.cell_padding = padding
            table.add_row(other, value, key="only")
            for column, text in ((0, other), (1, value)):
                expected = stock_cell(table, 0, column, row_style, width, cursor=cursor, hover=hover)
                table._cell_render_cache.clear()
                assert table._render_cell(0, column, row_style, width, cursor=cursor, hover=hover) == expected
                plain = text.plain and text.justify is None and text.overflow is None and width > 2 * padding
                table._cell_render_cache.clear()
                taken = table._plain_cell(0, column, row_style, width, cursor, hover) is not None
                assert taken == bool(plain)  # the direct path is the one under test, not the fallback

        check()


async def test_a_whole_table_paints_the_same_lines_as_a_stock_datatable() -> None:
    app = Tables()
    async with app.run_test(size=(100, 34)) as pilot:
        fast = app.query_one("#fast", FastDataTable)
        direct = 0
        plain_cell = fast._plain_cell

        def counted(*args: Any) -> Any:
            nonlocal direct
            lines = plain_cell(*args)
            direct += lines is not None
            return lines

        fast._plain_cell = counted  # type: ignore[method-assign]
        stock = app.query_one("#stock", DataTable)
        for table in (fast, stock):
            table.add_columns("route", "net", "state")
            for i in range(12):
                style = "bold yellow" if i % 3 == 0 else ""
                table.add_row(
                    Text(f"USDC-ray→SOL-orca→USDC {i}", style=style),
                    Text(f"{i * 1234.5:,.2f}", style=style),
                    Text("wait 3" if i % 3 == 0 else "seen", style=style),
                    key=str(i),
                )
            table.move_cursor(row=4, animate=False)
        app.set_focus(None)  # neither focused: focus changes the cursor's colours
        await pilot.pause()

        def lines(table: DataTable[Any]) -> list[list[Segment]]:
            return [list(table.render_line(y)) for y in range(table.size.height)]

        assert fast.size == stock.size and fast.size.height > 5
        assert lines(fast) == lines(stock)
        assert direct == 12 * 3  # every body cell took the direct path


async def test_new_rows_widen_columns_exactly_as_datatables_own_measure() -> None:
    app = Tables()
    async with app.run_test(size=(100, 34)) as pilot:
        fast = app.query_one("#fast", FastDataTable)
        stock = app.query_one("#stock", DataTable)
        tables = (fast, stock)
        for table in tables:
            table.add_columns("a", "b", "c")
        multiline = st.builds(Text, st.text(alphabet="ab漢\n", max_size=12))
        row = st.tuples(*[st.one_of(cell, multiline, st.none())] * 3)

        # The tables measure new rows when they next go idle: draw the rows here, compare after.
        drawn: list[list[tuple[Text | None, ...]]] = []

        @settings(max_examples=60, deadline=None, database=None)
        @given(st.lists(row, min_size=1, max_size=4))
        def draw(batch: list[tuple[Text | None, ...]]) -> None:
            drawn.append(batch)

        draw()
        for batch in drawn:
            for table in tables:
                for cells in batch:
                    table.add_row(*cells)
            await pilot.pause()
            assert [c.content_width for c in fast.ordered_columns] == [
                c.content_width for c in stock.ordered_columns
            ]
        assert len(drawn) > 10
