"""Live mode: follow traffic, filter it, inspect an event, disable the rule behind a finding."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from firewall.events.event import Event
from firewall.uris import redact, scrub
from tui.rows import FilterError, exact_token, printable
from tui.screens.modals import ChangeScreen, PickerScreen
from tui.widgets.detail import DetailPane
from tui.widgets.status import StatusLine
from tui.widgets.table import EventTable

if TYPE_CHECKING:
    from tui.app import OutguardApp

ACTION_CYCLE = ("", "action:redact", "action:block", "action:fail", "action:allow")
EMPTY = "Waiting for events from {uri}. Is the firewall running? `outguard demo` starts one."
DISCONNECTED = "Cannot read events from {uri}: {error}. Retrying every second."


class LiveScreen(Screen[None]):
    DEFAULT_CSS = """
    LiveScreen #filter { height: 1; border: none; padding: 0 1; background: $boost; }
    LiveScreen #filter:focus { background: $accent 20%; }
    LiveScreen #columns { height: 1; text-style: bold; background: $panel; padding: 0 0; }
    LiveScreen #badge { height: 1; dock: bottom; offset-y: -1; display: none;
                        background: $warning; color: $background; }
    LiveScreen #badge.-show { display: block; }
    LiveScreen #empty { height: auto; padding: 1 2; color: $text-muted; }
    LiveScreen DetailPane { display: none; }
    LiveScreen.-detail DetailPane { display: block; }
    LiveScreen.-detail.-narrow EventTable { display: none; }
    LiveScreen.-detail.-narrow #columns { display: none; }
    """
    BINDINGS = [
        Binding("slash", "filter", "filter"),
        Binding("p,space", "pause", "pause"),
        Binding("escape", "back", "back", show=False),
        Binding("a", "cycle_action", "action"),
        Binding("u", "pick('principal')", "principal"),
        Binding("l", "pick('label')", "label"),
        Binding("ctrl+backslash", "clear", "clear filters", show=False),
        Binding("d", "disable_rule", "disable rule"),
        Binding("c", "copy_id", "copy id", show=False),
        Binding("tab", "app.focus_next", "next pane", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._debounce: Timer | None = None
        self._action_index = 0

    @property
    def fw_app(self) -> OutguardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        hint = "filter ▸ action:block label:EMAIL !principal:svc-x free text   (/ to edit, esc clears)"
        yield Input(id="filter", placeholder=hint)
        yield Static(id="columns")
        yield Static(id="empty")
        yield EventTable(self.fw_app.traffic.view, id="events")
        yield Static(id="badge")
        yield DetailPane(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.fw_app.live = self
        self.set_interval(1.0, self._empty)
        self.table.focus()
        self._columns()
        if self.fw_app.open_event is not None:
            self._open(self.fw_app.open_event)

    def on_resize(self) -> None:
        self.table.narrow = self.has_class("-narrow")
        self._columns()

    @property
    def table(self) -> EventTable:
        return self.query_one(EventTable)

    def _columns(self) -> None:
        self.query_one("#columns", Static).update(Text(" " + self.table.header()))
        self._empty()

    def _empty(self) -> None:
        """The empty state: waiting, or why the store cannot be read (checked every second)."""
        empty = self.query_one("#empty", Static)
        empty.display = not self.fw_app.traffic.ring
        if empty.display:
            uri, error = redact(self.fw_app.events_uri), self.fw_app.feed.error
            if error:
                message = DISCONNECTED.format(uri=uri, error=scrub(error, self.fw_app.events_uri))
            else:
                message = EMPTY.format(uri=uri)
            empty.update(Text(printable(message), style="bold red" if error else "dim"))

    # -- ingest ------------------------------------------------------------------------------

    def appended(self, added: int, evicted: int) -> None:
        self.query_one("#empty").display = False
        self.table.appended(added, evicted)
        self._badge()

    def _badge(self) -> None:
        table, badge = self.table, self.query_one("#badge", Static)
        if table.follow:
            badge.remove_class("-show")
            return
        message = f" ⏸ PAUSED  +{table.new_since_pause:,} new · G to follow "
        if table.evicted_cursor:
            message += "· the row under the cursor left the ring "
        badge.update(Text(message))
        badge.add_class("-show")

    def on_event_table_highlighted(self, message: EventTable.Highlighted) -> None:
        self._badge()
        if self.has_class("-detail") and message.row is not None:
            self._load(message.row.id)

    def on_event_table_inspect(self, message: EventTable.Inspect) -> None:
        if self.has_class("-detail"):
            self.remove_class("-detail")
            return
        self.table.pause()  # the row being inspected stays put while traffic keeps arriving
        self._badge()
        self.add_class("-detail")
        self._load(message.row.id)

    @work(thread=True, exclusive=True, group="detail")
    def _load(self, event_id: int) -> None:
        try:
            event = self.fw_app.load_event(event_id)
        except Exception as exc:  # the store went away (file moved, Redis restarting): say so, keep running
            self.app.call_from_thread(self.notify, f"cannot load event {event_id}: {type(exc).__name__}",
                                      severity="error", markup=False)
            return
        if get_current_worker().is_cancelled or self.fw_app.closed:
            return
        if event is None:
            self.app.call_from_thread(self.notify, f"no event {event_id} in the store (trimmed or never written)",
                                      severity="warning", markup=False)
        else:
            self.app.call_from_thread(self._show, event)

    def _show(self, event: Event) -> None:
        self.query_one(DetailPane).show(event)

    def _open(self, event_id: int) -> None:
        self.add_class("-detail")
        self._load(event_id)

    # -- filter ------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.15, lambda: self.apply_filter(event.value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(event.value)
        self.table.focus()

    def apply_filter(self, query: str) -> None:
        if self._debounce is not None:  # a keystroke's pending filter must not land after this one
            self._debounce.stop()
        try:
            self.fw_app.traffic.set_filter(query)
        except FilterError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.table.reset(self.fw_app.traffic.view)

    def set_query(self, query: str) -> None:
        self.query_one("#filter", Input).value = query
        self.apply_filter(query)

    def action_cycle_action(self) -> None:
        self._action_index = (self._action_index + 1) % len(ACTION_CYCLE)
        tokens = [t for t in self.fw_app.traffic.query.split() if not t.lstrip("!").startswith("action:")]
        self.set_query(" ".join([*tokens, ACTION_CYCLE[self._action_index]]).strip())

    def action_pick(self, field: str) -> None:
        traffic = self.fw_app.traffic
        counts = traffic.counts((lambda r: (r.principal,)) if field == "principal" else (lambda r: r.labels))

        def chosen(value: str | None) -> None:
            if value:
                tokens = [t for t in traffic.query.split() if not t.lstrip("!").startswith((f"{field}:", f"{field}="))]
                self.set_query(" ".join([*tokens, exact_token(field, value)]))
        self.app.push_screen(PickerScreen(f"Show only this {field}", counts.most_common()), chosen)

    def action_clear(self) -> None:
        self._action_index = 0
        self.set_query("")

    def action_back(self) -> None:
        if self.has_class("-detail"):
            self.remove_class("-detail")
        elif self.fw_app.traffic.query:
            self.action_clear()
        self.table.focus()

    def action_pause(self) -> None:
        if self.table.follow:
            self.table.pause()
        else:
            self.table.resume()
        self._badge()

    def action_copy_id(self) -> None:
        row = self.table.current
        if row is not None:
            self.app.copy_to_clipboard(str(row.id))
            self.notify(f"copied event id {row.id}; open it with `outguard tui --event {row.id}`", markup=False)

    # -- act ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.fw_app.read_only and action == "disable_rule")

    def action_disable_rule(self) -> None:
        """Disable the rule behind the selected finding: a reviewed, validated change, never silent."""
        app = self.fw_app
        pane = self.query_one(DetailPane)
        event = pane.event if self.has_class("-detail") else None
        if event is None or not event.findings:
            self.notify("Open an event with findings first (enter), then press d.", markup=False)
            return
        if app.read_only:
            self.notify("read-only console: rules cannot be changed", severity="warning", markup=False)
            return
        if app.ruleset.pending:
            self.notify("There are unsaved rule edits: save or discard them in Rules (2) first.",
                        severity="warning", markup=False)
            return
        rules = {(f.detector, f.rule): f.label for f in event.findings if not f.shadow}
        chosen = pane.selected_finding()
        if chosen is not None:
            finding = event.findings[chosen]
            self._disable(finding.detector, finding.rule)
        elif len(rules) == 1:
            self._disable(*next(iter(rules)))
        else:
            shown = [(f"{label}  {detector}/{rule}", 0) for (detector, rule), label in rules.items()]
            ids = [f"{detector}/{rule}" for detector, rule in rules]

            def picked(value: str | None) -> None:
                if value:
                    self._disable(*value.split("/", 1))
            self.app.push_screen(PickerScreen("Disable which rule?", shown, ids=ids), picked)

    def _disable(self, detector: str, rule: str) -> None:
        app = self.fw_app
        app.ruleset.refresh()
        item = app.ruleset.item_for_rule(detector, rule)
        if item is None or not item.enabled:
            self.notify(f"No enabled rule found for {detector}/{rule}", severity="warning", markup=False)
            return
        app.ruleset.toggle(item.key)
        self.app.push_screen(ChangeScreen(app.ruleset), self._after_change)

    def _after_change(self, version: str | None) -> None:
        if version:
            self.fw_app.saved(version)
