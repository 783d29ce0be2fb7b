"""A DataTable that renders plain one-line text cells directly, not through Rich's general layout.

Profiling the console at 20,000 updates/s showed the screen's paint dominated by DataTable's
cell rendering: each cell goes through `Styled(Padding(Text))` and Rich's line splitting, about
ten times the work its few segments need, and every visible cell is rendered again whenever any
cell changes (the table's caches are keyed by its update count). For the cells this console uses
(a `Text` of one line with one style and no spans) the segments are produced here directly; any
other cell, the header, labels and fixed cells take DataTable's own path.
tests/test_console_fast_table.py checks, cell by cell, that both paths give the same segments
(under hypothesis, and on the installed Textual), so a Textual upgrade that changes the
rendering fails there instead of drawing a different screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.css.styles import RenderStyles
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

_PLAIN_JUSTIFY = (None, "default")
_PLAIN_OVERFLOW = (None, "fold")


# DataTable keeps 10,000 rendered cells and 1,000 rows and lines, keyed by its update count: at
# 10 redraws/s nearly all of them are stale, yet each is a dozen objects the garbage collector
# walks on every full collection (100+ ms pauses, measured). A few screens' worth is plenty.
CELLS_CACHED = 2_000
LINES_CACHED = 256


class FastDataTable(DataTable[Text]):
    """DataTable with a direct rendering path for plain one-line `Text` cells and smaller caches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cell_render_cache.maxsize = CELLS_CACHED
        for cache in (self._row_render_cache, self._row_renderable_cache, self._line_cache):
            cache.maxsize = LINES_CACHED
        # Settings read once per paint instead of once per cell (reactive reads add up: ~10 a cell).
        self._painting = False
        self._pass: _Pass | None = None
        self._row_styles: dict[tuple[int, Style], Style] = {}
        self._paint_components: dict[tuple[str, ...], _PaintStyles] = {}
        self._background_colors: tuple[Color, Color] | None = None
        self._metas: dict[tuple[int, int], Style] = {}

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pass = None
        # Styles may differ from one paint to the next (focus, theme): remembered for one paint only.
        self._row_styles.clear()
        self._paint_components.clear()
        self._background_colors = None
        self._painting = True
        try:
            return super().render_lines(crop)
        finally:
            self._painting = False
            self._pass = None

    def get_component_styles(self, *names: str) -> RenderStyles:
        # DataTable asks for the header's style on every row it draws, and each answer walks every
        # ancestor's CSS (Styles.rich_style is not cached); within one paint it cannot change.
        if not self._painting:
            return super().get_component_styles(*names)
        styles = self._paint_components.get(names)
        if styles is None:
            styles = self._paint_components[names] = _PaintStyles(super().get_component_styles(*names))
        return cast(RenderStyles, styles)

    @property
    def background_colors(self) -> tuple[Color, Color]:
        if not self._painting:
            return super().background_colors
        if self._background_colors is None:
            self._background_colors = super().background_colors
        return self._background_colors

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        # Once per row and paint DataTable asks the CSS for the zebra stripe's style, walking every
        # ancestor's styles; within one paint the answer only depends on the stripe.
        if not self._painting:
            return super()._get_row_style(row_index, base_style)
        if row_index < 0:
            kind = -1  # header
        elif row_index < self._settings().fixed_rows:
            kind = -2
        else:
            kind = row_index % 2
        key = (kind, base_style)
        style = self._row_styles.get(key)
        if style is None:
            style = self._row_styles[key] = super()._get_row_style(row_index, base_style)
        return style

    def _settings(self) -> _Pass:
        if self._pass is None or not self._painting:
            options = self.app.console_options
            self._pass = _Pass(
                fixed_rows=max(0, self.fixed_rows),
                fixed_columns=max(0, self.fixed_columns),
                padding=self.cell_padding,
                show_cursor=self.show_cursor,
                show_hover_cursor=self._show_hover_cursor,
                foreground_css=self.cursor_foreground_priority == "css",
                background_css=self.cursor_background_priority == "css",
                plain_options=options.justify in _PLAIN_JUSTIFY and options.overflow in _PLAIN_OVERFLOW,
            )
        return self._pass

    def _meta(self, row_index: int, column_index: int) -> Style:
        meta = self._metas.get((row_index, column_index))
        if meta is None:
            if len(self._metas) > 10_000:
                self._metas.clear()
            meta = Style.from_meta({"row": row_index, "column": column_index})
            self._metas[row_index, column_index] = meta
        return meta

    def _clear_caches(self) -> None:
        # An LRUCache keeps its entries in a ring of links; `clear` drops the ring whole, leaving
        # thousands of objects in reference cycles for the collector's next full pass (each
        # rebuild of the table did, at 10 Hz). Emptying the links first lets them go at once.
        for cache in (self._row_render_cache, self._cell_render_cache, self._row_renderable_cache,
                      self._line_cache, self._offset_cache, self._ordered_row_cache):  # fmt: skip
            for link in cache._cache.values():
                link.clear()
        super()._clear_caches()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # New rows' cells are measured to widen their columns; Rich's generic measure costs ~10 µs
        # a cell (a table rebuild measured 3 ms). A plain Text's width is its longest line's.
        others = [key for key in new_rows if not self._measure_plain_row(key)]
        super()._update_dimensions(others)

    def _measure_plain_row(self, row_key: RowKey) -> bool:
        """Widen the columns for a row of plain cells (as DataTable's measure would); False if the
        row needs DataTable's own measuring."""
        if self._row_locations.get(row_key) is None:
            return True  # removed before the table went idle: nothing to measure
        row = self.rows.get(row_key)
        if row is None or row.label is not None or row.auto_height:
            return False
        data = self._data[row_key]
        widths = []
        for column in self.ordered_columns:
            cell = data.get(column.key)
            if cell is None:
                widths.append(0)
            elif type(cell) is Text:
                lines = cell.plain.splitlines()
                widths.append(max(map(cell_len, lines)) if lines else 0)
            else:
                return False
        for column, width in zip(self.ordered_columns, widths, strict=True):
            if width > column.content_width:
                column.content_width = width
        return True

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        lines = self._plain_cell(row_index, column_index, base_style, width, cursor, hover)
        if lines is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        return lines

    def _plain_cell(
        self, row_index: int, column_index: int, base_style: Style, width: int, cursor: bool, hover: bool
    ) -> list[list[Segment]] | None:
        """The cell's segments as DataTable would render them, or None when it is not a plain cell."""
        settings = self._settings()
        if row_index < settings.fixed_rows or column_index < settings.fixed_columns:
            return None  # header, label or fixed cell
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return None
        cache_key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            settings.show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )  # DataTable's own key: its invalidation rules apply unchanged
        cache = self._cell_render_cache
        if cache_key in cache:
            return cache[cache_key]
        row = self.rows.get(row_key)
        cell = self._data[row_key].get(column_key)
        pad = settings.padding
        inner = width - 2 * pad
        if (
            row is None
            or row.height != 1
            or row.auto_height
            or type(cell) is not Text
            or cell.spans
            or cell.justify not in _PLAIN_JUSTIFY
            or cell.overflow not in _PLAIN_OVERFLOW
            or cell.no_wrap is False
            or inner < 1
            or not settings.plain_options
        ):
            return None
        plain = cell.plain
        if not plain or "\n" in plain or "\t" in plain:
            return None
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            settings.show_cursor,
            settings.show_hover_cursor,
            settings.foreground_css,
            settings.background_css,
        )
        # The composition Styled(Padding(cell)) applies: the pre style under every segment, the
        # cell's own style over it, the post style (cursor colours) on top.
        pre = base_style + self._meta(row_index, column_index) + component_style
        outer = pre + post_style if post_style else pre
        text_style = pre + self.app.console.get_style(cell.style) if cell.style else pre
        if post_style:
            text_style = text_style + post_style
        length = cell_len(plain)
        if length > inner:
            plain, fill = set_cell_size(plain, inner), 0
        else:
            fill = inner - length
        line = [Segment(plain, text_style)]
        if fill:
            line.append(Segment(" " * fill, outer))
        if pad:
            line.insert(0, Segment(" " * pad, outer))
            line.append(Segment(" " * pad, outer))
        lines = [line]
        cache[cache_key] = lines
        return lines


class _PaintStyles:
    """A component's styles for one paint: `rich_style` computed once, the rest passed through."""

    def __init__(self, styles: RenderStyles) -> None:
        self._styles = styles
        self._rich_style: Style | None = None

    @property
    def rich_style(self) -> Style:
        if self._rich_style is None:
            self._rich_style = self._styles.rich_style
        return self._rich_style

    def __getattr__(self, name: str) -> Any:
        return getattr(self._styles, name)


@dataclass(frozen=True, slots=True)
class _Pass:
    """The table's settings for one paint."""

    fixed_rows: int
    fixed_columns: int
    padding: int
    show_cursor: bool
    show_hover_cursor: bool
    foreground_css: bool
    background_css: bool
    plain_options: bool
