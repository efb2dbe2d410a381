"""EventTable: the live traffic list as a line-API widget over the filtered view (never a DataTable).

Only the visible lines are rendered; appending 1,000 rows costs a size update and one refresh. The
cursor follows the newest row until the operator moves up or pauses; while paused, rows evicted
from the ring's front shift the cursor and scroll position so the rows under it stay put.
"""

from __future__ import annotations

import time

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.rows import Row, printable

COLUMNS: tuple[tuple[str, int], ...] = (
    ("time", 12), ("principal", 14), ("model", 12), ("action", 12), ("labels", 24), ("ms", 7), ("rules", 8),
    ("preview", 0),
)
NARROW_HIDDEN = {"model", "ms", "rules"}
ACTION_CLASS = {
    "redact": "redact", "mask": "redact", "hash": "redact", "encrypt": "redact", "flag": "flag", "block": "block",
    "fail-open": "fail-open", "fail-closed": "block", "allow": "pass", "quota": "block", "refused": "block",
    "aborted": "flag", "quota error": "fail-open", "unreadable": "fail-open",
    "rules ✓": "rules", "rules ✗": "fail-open", "dropped": "fail-open",
}


def cell(row: Row, column: str) -> str:
    """One cell's text; anything that came from a store (any writer on a shared stream) is made printable."""
    if column == "time":
        return time.strftime("%H:%M:%S", time.localtime(row.ts)) + f".{int(row.ts * 10) % 10}"
    if column == "labels":
        shadow = f"{len(row.shadow)} shadow" if row.shadow else ""
        labels = ",".join(row.labels)
        text = f"{labels} +{shadow}" if labels and shadow else labels or (f"({shadow})" if shadow else "—")
    elif column == "ms":
        text = f"{row.latency_ms:.1f}" if row.latency_ms is not None else ""
    elif column == "rules":
        text = row.rules_version[:7]
    else:
        text = str(getattr(row, column))
    return printable(text)


def fit(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.ljust(width)


class EventTable(ScrollView, can_focus=True):
    """The filtered rows of the live traffic, newest last."""

    COMPONENT_CLASSES = {
        "event-table--cursor", "event-table--redact", "event-table--block", "event-table--flag",
        "event-table--fail-open", "event-table--pass", "event-table--rules", "event-table--shadow",
    }
    DEFAULT_CSS = """
    EventTable { height: 1fr; scrollbar-gutter: stable; }
    EventTable > .event-table--cursor { background: $accent 40%; text-style: bold; }
    EventTable:focus > .event-table--cursor { background: $accent 70%; }
    EventTable > .event-table--redact { color: $warning; }
    EventTable > .event-table--block { color: $error; text-style: bold; }
    EventTable > .event-table--flag { color: $secondary; }
    EventTable > .event-table--fail-open { color: $error; text-style: bold reverse; }
    EventTable > .event-table--pass { color: $text-muted; }
    EventTable > .event-table--rules { color: $success; }
    EventTable > .event-table--shadow { color: $accent; text-style: italic; }
    """
    BINDINGS = [
        Binding("j,down", "cursor(1)", "down", show=False),
        Binding("k,up", "cursor(-1)", "up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("ctrl+d", "half(1)", "half page down", show=False),
        Binding("ctrl+u", "half(-1)", "half page up", show=False),
        Binding("g,home", "top", "top", show=False),
        Binding("G,end", "follow", "follow"),
        Binding("enter", "inspect", "inspect"),
    ]

    follow: reactive[bool] = reactive(True)
    cursor: reactive[int] = reactive(-1, always_update=True)

    class Highlighted(Message):
        """The cursor moved onto `row` (None when the view is empty)."""

        def __init__(self, row: Row | None) -> None:
            super().__init__()
            self.row = row

    class Inspect(Message):
        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row

    def __init__(self, rows: list[Row], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rows = rows
        self.new_since_pause = 0
        self.evicted_cursor = False
        self.narrow = False

    # -- data --------------------------------------------------------------------------------

    def reset(self, rows: list[Row]) -> None:
        """Show another view (after a filter change), keeping the cursor on the same event if it is there."""
        current = self.current
        self.rows = rows
        self._resize()
        if self.follow or current is None:
            self._go_end()
        else:
            ids = [r.id for r in rows]
            from bisect import bisect_left

            index = bisect_left(ids, current.id)
            self.cursor = min(index, len(rows) - 1)
            self.scroll_to(y=max(0, self.cursor - self.size.height // 2), animate=False, immediate=True)

    def appended(self, added: int, evicted: int) -> None:
        """`added` rows joined the end of the view and `evicted` left its front."""
        if not added and not evicted:
            return
        self._resize()
        if self.follow:
            self._go_end()
            return
        self.new_since_pause += added
        if evicted:
            if self.cursor - evicted < 0:
                self.evicted_cursor = True
            self.cursor = max(0, self.cursor - evicted) if self.rows else -1
            self.scroll_to(y=max(0, self.scroll_offset.y - evicted), animate=False, immediate=True)
        self.refresh()

    @property
    def current(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows))

    def _go_end(self) -> None:
        self.cursor = len(self.rows) - 1
        self.scroll_to(y=max(0, len(self.rows) - self.size.height), animate=False, immediate=True)
        self.refresh()

    # -- keys --------------------------------------------------------------------------------

    def _move(self, delta: int) -> None:
        if not self.rows:
            return
        target = min(max(0, self.cursor + delta), len(self.rows) - 1)
        if delta < 0 and self.follow:
            self.pause()
        self.cursor = target
        top = self.scroll_offset.y
        if target < top:
            self.scroll_to(y=target, animate=False, immediate=True)
        elif target >= top + self.size.height:
            self.scroll_to(y=target - self.size.height + 1, animate=False, immediate=True)
        if self.follow and target < len(self.rows) - 1:
            self.pause()
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self._move(delta)

    def action_page(self, direction: int) -> None:
        self._move(direction * max(1, self.size.height - 1))

    def action_half(self, direction: int) -> None:
        self._move(direction * max(1, self.size.height // 2))

    def action_top(self) -> None:
        self.pause()
        self._move(-len(self.rows))

    def action_follow(self) -> None:
        self.resume()

    def action_inspect(self) -> None:
        if self.current is not None:
            self.post_message(self.Inspect(self.current))

    def pause(self) -> None:
        if self.follow:
            self.follow = False
            self.new_since_pause = 0
            self.evicted_cursor = False

    def resume(self) -> None:
        self.follow = True
        self.new_since_pause = 0
        self.evicted_cursor = False
        self._go_end()

    def watch_cursor(self, cursor: int) -> None:
        self.post_message(self.Highlighted(self.current))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is not None and self.rows:
            self.pause()
            self.cursor = min(len(self.rows) - 1, self.scroll_offset.y + int(y))
            self.refresh()

    def on_mouse_scroll_up(self) -> None:
        self.pause()

    # -- rendering ---------------------------------------------------------------------------

    def columns(self) -> list[tuple[str, int]]:
        shown = [(name, width) for name, width in COLUMNS if not (self.narrow and name in NARROW_HIDDEN)]
        fixed = sum(width + 1 for _, width in shown if width)
        return [(name, width or max(10, self.size.width - fixed - 2)) for name, width in shown]

    def header(self) -> str:
        return " ".join(fit(name, width) for name, width in self.columns())

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        base = self.rich_style
        segments = []
        for name, col_width in self.columns():
            text = fit(cell(row, name), col_width) + " "
            style = base
            if name == "action":
                style = base + self.get_component_rich_style(f"event-table--{ACTION_CLASS.get(row.action, 'pass')}")
            elif name == "labels" and row.shadow and not row.labels:
                style = base + self.get_component_rich_style("event-table--shadow")
            segments.append(Segment(text, style))
        strip = Strip(segments).crop_extend(0, width, base)
        if index == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("event-table--cursor") or Style())
        return strip
