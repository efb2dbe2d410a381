"""Rules mode: browse detectors and rules, stage edits, see the loader's verdict live, try, save."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree
from textual.worker import get_current_worker

from tui.rows import printable
from tui.ruleset import ACTIONS, ConflictError, Item
from tui.screens.edit import CanaryScreen, NewRuleScreen, TermScreen, TryScreen
from tui.screens.modals import ChangeScreen
from tui.widgets.status import StatusLine

if TYPE_CHECKING:
    from tui.app import OutguardApp

GROUPS = (("canary", "canaries"), ("corpus", "protected corpus"), ("patterns", "patterns (regex, keywords, secrets)"),
          ("pii", "PII (Presidio + spaCy)"))


class RulesTree(Tree[str]):
    """A Tree whose space toggles the selected rule (not the node), with j/k."""

    BINDINGS = [
        Binding("space", "screen.toggle", "on/off"),
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
    ]


def item_label(item: Item, pending: bool) -> Text:
    text = Text("✓ " if item.enabled else "✗ ", style="green" if item.enabled else "red")
    text.append(printable(item.name), style="" if item.enabled else "dim strike")
    if item.label and item.kind != "detector":
        text.append(f"  {item.label}", style="dim")
    if item.action:
        text.append(f"  {item.action}", style="bold")
    if item.threshold is not None:
        text.append(f"  ≥{item.threshold:.2f}")
    if item.shadow:
        text.append("  shadow", style="italic")
    if pending:
        text.append("  ~", style="bold yellow")
    return text


class RulesScreen(Screen[None]):
    DEFAULT_CSS = """
    RulesScreen #rules-body { height: 1fr; }
    RulesScreen RulesTree { width: 50%; border-right: solid $accent; }
    RulesScreen #side { width: 1fr; padding: 0 1; }
    RulesScreen #item { height: auto; padding: 0 0 1 0; }
    RulesScreen #pending-box { height: 1fr; }
    """
    BINDINGS = [
        Binding("a", "cycle_action", "action"),
        Binding("plus,equals_sign", "threshold(0.05)", "+threshold", show=False),
        Binding("minus", "threshold(-0.05)", "-threshold", show=False),
        Binding("n", "new_rule", "new rule"),
        Binding("N", "new_canary", "canary"),
        Binding("A", "term('allow')", "allow term", show=False),
        Binding("D", "term('deny')", "deny term", show=False),
        Binding("t", "try", "try"),
        Binding("ctrl+s", "save", "save"),
        Binding("z", "undo", "undo"),
        Binding("escape", "discard", "discard", show=False),
        Binding("r", "reload", "reload", show=False),
    ]
    EDITING = {"toggle", "cycle_action", "threshold", "new_rule", "new_canary", "term", "save", "undo", "discard"}

    _discard_armed = 0.0

    @property
    def fw_app(self) -> OutguardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusLine()
        with Horizontal(id="rules-body"):
            tree: RulesTree = RulesTree("rules", id="rules-tree")
            tree.show_root = False
            yield tree
            with Vertical(id="side"):
                yield Static(id="item")
                with VerticalScroll(id="pending-box"):
                    yield Static(id="pending")
        yield Footer()

    def on_mount(self) -> None:
        self.rebuild()
        self.query_one(RulesTree).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.fw_app.read_only and action in self.EDITING)

    # -- view --------------------------------------------------------------------------------

    def rebuild(self) -> None:
        tree = self.query_one(RulesTree)
        selected = self.selected_key()
        ruleset = self.fw_app.ruleset
        items = ruleset.items()
        pending_keys = {e.key for e in ruleset.pending}
        tree.clear()
        line = None
        for group, title in GROUPS:
            branch = tree.root.add(Text(title, style="bold"), data=f"detector:{group}", expand=True)
            for item in items:
                if item.group != group:
                    continue
                pending = item.key in pending_keys
                if item.kind == "detector":
                    branch.set_label(Text(f"{title}  ").append_text(item_label(item, pending)))
                    node = branch
                else:
                    node = branch.add_leaf(item_label(item, pending), data=item.key)
                if item.key == selected:
                    line = node.line
        if line is not None:
            tree.cursor_line = line
        self.show_item()
        self.show_pending()

    def selected_key(self) -> str | None:
        node = self.query_one(RulesTree).cursor_node
        return node.data if node is not None else None

    def selected(self) -> Item | None:
        key = self.selected_key()
        if key is None:
            return None
        try:
            return self.fw_app.ruleset.item(key)
        except KeyError:
            return None

    def on_tree_node_highlighted(self) -> None:
        self.show_item()

    def show_item(self) -> None:
        item = self.selected()
        text = Text()
        if item is not None:
            text.append(f"{item.kind} {printable(item.name)}\n", style="bold")
            text.append(f"file {item.file} · {'enabled' if item.enabled else 'disabled'}")
            if item.label:
                text.append(f" · label {printable(item.label)}")
            if item.action:
                text.append(f" · action {item.action}")
            if item.threshold is not None:
                text.append(f" · threshold {item.threshold:.2f} (+/-)")
            if item.detail:
                text.append("\n")
                text.append(printable(item.detail), style="italic")
        self.query_one("#item", Static).update(text)

    def show_pending(self) -> None:
        ruleset = self.fw_app.ruleset
        self.query_one("#pending", Static).update(self._pending_text(None))
        if ruleset.pending and not self.fw_app.read_only:
            self._validate()

    def _pending_text(self, problems: list[str] | None) -> Text:
        """What is staged and what the loader says about it (None: still checking)."""
        ruleset = self.fw_app.ruleset
        text = Text()
        for problem in ruleset.unreadable.values():
            text.append(f"✗ cannot read {printable(str(problem), keep=chr(10))}\n", style="bold red")
        if self.fw_app.read_only:
            return text.append("read-only console: rules can be browsed, not changed", style="dim")
        if not ruleset.pending:
            return text.append(
                "No pending changes. space on/off · a action · +/- threshold · n regex/keyword rule · "
                "A allow / D deny term · N canary · t try · ctrl+s save · z undo last save", style="dim")
        text.append(f"Pending changes ({len(ruleset.pending)}) — ctrl+s review & save · esc esc discard · t try\n",
                    style="bold yellow")
        for edit in ruleset.pending:
            text.append(f"  ~ {printable(edit.description)}  ({edit.file})\n")
        if problems is None:
            text.append("checking…", style="dim")
        elif problems:
            text.append("✗ the loader refuses them:\n", style="bold red")
            for problem in problems:
                text.append(printable(problem, keep="\n") + "\n", style="red")
        else:
            text.append("✓ valid", style="bold green")
        return text

    @work(thread=True, exclusive=True, group="validate")
    def _validate(self) -> None:
        try:
            problems = [str(p) for p in self.fw_app.ruleset.problems()]
        except OSError as exc:
            problems = [f"cannot check: {exc}"]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._validated, problems)

    def _validated(self, problems: list[str]) -> None:
        self.query_one("#pending", Static).update(self._pending_text(problems))

    # -- edits -------------------------------------------------------------------------------

    def _edit(self, change: object) -> None:
        try:
            change()  # type: ignore[operator]
        except (ValueError, KeyError, StopIteration) as exc:
            self.notify(f"cannot do that here: {exc}", severity="warning", markup=False)
            return
        self.rebuild()

    def action_toggle(self) -> None:
        item = self.selected()
        if item is not None:
            self._edit(lambda: self.fw_app.ruleset.toggle(item.key))

    def action_cycle_action(self) -> None:
        item = self.selected()
        if item is None or not item.action:
            self.notify("this item has no action of its own", markup=False)
            return
        following = ACTIONS[(ACTIONS.index(item.action) + 1) % len(ACTIONS)] if item.action in ACTIONS else ACTIONS[0]
        self._edit(lambda: self.fw_app.ruleset.set_action(item.key, following))

    def action_threshold(self, delta: float) -> None:
        item = self.selected()
        if item is None or item.threshold is None:
            self.notify("thresholds: select the pii or canary detector", markup=False)
            return
        value = round(min(1.0, max(0.05, item.threshold + delta)), 2)
        self._edit(lambda: self.fw_app.ruleset.set_threshold(item.key, value))

    def action_new_rule(self) -> None:
        self.app.push_screen(NewRuleScreen(self.fw_app.ruleset), lambda added: self.rebuild())

    def action_new_canary(self) -> None:
        self.app.push_screen(CanaryScreen(self.fw_app.ruleset), lambda added: self.rebuild())

    def action_term(self, kind: str) -> None:
        self.app.push_screen(TermScreen(self.fw_app.ruleset, kind), lambda added: self.rebuild())

    def action_try(self) -> None:
        event = self.fw_app.live.query_one("DetailPane").event if self.fw_app.live else None  # type: ignore[attr-defined]
        self.app.push_screen(TryScreen(self.fw_app.ruleset, event.output if event else None, self.fw_app.samples_dir))

    def action_save(self) -> None:
        if not self.fw_app.ruleset.pending:
            self.notify("nothing to save", markup=False)
            return

        def done(version: str | None) -> None:
            if version:
                self.fw_app.saved(version)
            self.rebuild()
        self.app.push_screen(ChangeScreen(self.fw_app.ruleset, discard_on_cancel=False), done)

    def action_undo(self) -> None:
        try:
            version = self.fw_app.ruleset.undo()
        except (LookupError, ConflictError) as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self.fw_app.saved(version)
        self.notify(f"undone: rules are now v{version[:7]}", markup=False)
        self.rebuild()

    def action_discard(self) -> None:
        """Discard the staged edits, on a second esc within two seconds (one stray key loses nothing)."""
        pending = self.fw_app.ruleset.pending
        if not pending:
            return
        now = time.monotonic()
        if now - self._discard_armed > 2.0:
            self._discard_armed = now
            self.notify(f"press esc again to discard {len(pending)} staged change(s)", markup=False)
            return
        self.fw_app.ruleset.discard()
        self.notify("pending changes discarded", markup=False)
        self.rebuild()

    def action_reload(self) -> None:
        self.fw_app.ruleset.refresh()
        self.rebuild()
