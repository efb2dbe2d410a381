"""Modal screens: help, pickers with counts, and the review-and-save dialog for rule changes."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui.rows import Traffic, printable
from tui.ruleset import ConflictError, InvalidChanges, RuleSet

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 90%; max-width: 130; height: auto; max-height: 90%; border: thick $accent;
                     background: $surface; padding: 0 1; }}
{name} .title {{ text-style: bold; padding: 0 0 1 0; }}
"""


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath, grouped, plus a pointer to the command palette."""

    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen") + "HelpScreen VerticalScroll { height: auto; max-height: 30; }"
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        lines = Text()
        seen = set()
        for active in self.under.active_bindings.values():
            binding = active.binding
            if binding.action in seen or not binding.description:
                continue
            seen.add(binding.action)
            lines.append(f"{self.app.get_key_display(binding):>12}  ", style="bold")
            lines.append(f"{binding.description}\n")
        lines.append("\nAlso: 1-4 switch mode · tab moves between panes · j/k or arrows move · "
                     "ctrl+p or : opens all commands (themes too) · q quits\n", style="dim")
        with Vertical():
            yield Static(Text(f"Keys: {self.under.__class__.__name__.removesuffix('Screen')}"), classes="title")
            with VerticalScroll():
                yield Static(lines, id="help-keys")
            yield Footer()


class FleetScreen(ModalScreen[None]):
    """Every firewall instance seen in the store: the rules version it runs, when it last reported,
    and its last refused rules change, if any (the instance keeps its last good rules)."""

    DEFAULT_CSS = MODAL_CSS.format(name="FleetScreen") + "FleetScreen DataTable { height: auto; max-height: 24; }"
    BINDINGS = [Binding("escape,q,f", "dismiss", "close")]

    def __init__(self, traffic: Traffic) -> None:
        super().__init__()
        self.traffic = traffic

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Fleet: instances and the rules they run"), classes="title")
            yield DataTable(id="instances", cursor_type="row")
            yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("instance", "rules version", "last event", "state")
        active = self.traffic.versions()
        for instance, (version, ts) in sorted(self.traffic.instances.items(), key=lambda kv: -kv[1][1]):
            rejected = self.traffic.rejected.get(instance)
            differing = self.traffic.differing.get(instance)
            if rejected:
                state = Text(f"✗ refused a change: {printable(rejected)}", style="bold red")
            elif differing:
                state = Text(f"⚠ its files differ from the notice: {printable(differing)}", style="bold yellow")
            else:
                state = Text("active") if instance in active else Text("quiet", style="dim")
            seen = time.strftime("%H:%M:%S", time.localtime(ts))
            table.add_row(Text(printable(instance)), Text(printable(version)), Text(seen), state)


class PickerScreen(ModalScreen[str | None]):
    """Choose one value from a list shown with counts (principals, labels)."""

    DEFAULT_CSS = MODAL_CSS.format(name="PickerScreen") + "PickerScreen OptionList { height: auto; max-height: 20; }"
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, counts: list[tuple[str, int]], ids: list[str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.counts = counts
        self.ids = ids or [value for value, _ in counts]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            options = [
                Option(Text(f"{printable(v)}  ({n:,})" if n else printable(v)), id=i)
                for (v, n), i in zip(self.counts, self.ids, strict=True)
            ] or [Option(Text("nothing seen yet"), disabled=True)]
            yield OptionList(*options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChangeScreen(ModalScreen[str | None]):
    """Review pending rule edits: what changes, the diff, the loader's verdict; `y` saves atomically.

    Dismisses with the new rules version, or None when nothing was written. `discard_on_cancel`
    drops the pending edits when the operator backs out (the quick 'disable this rule' path).
    """

    DEFAULT_CSS = MODAL_CSS.format(name="ChangeScreen") + """
    ChangeScreen #diff { height: auto; max-height: 20; background: $boost; }
    ChangeScreen #verdict { padding: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("y,ctrl+s", "save", "save"),
        Binding("n,escape", "cancel", "cancel"),
    ]

    def __init__(self, ruleset: RuleSet, *, discard_on_cancel: bool = True) -> None:
        super().__init__()
        self.ruleset = ruleset
        self.discard_on_cancel = discard_on_cancel
        self.problems: list[str] | None = None

    def compose(self) -> ComposeResult:
        what = Text("Save these rule changes?\n", style="bold")
        for edit in self.ruleset.pending:
            what.append(f"  • {printable(edit.description)}  ({edit.file})\n")
        with Vertical():
            yield Static(what, classes="title")
            with VerticalScroll(id="diff"):
                yield Static(diff_text(self.ruleset.diff()))
            yield Static(Text("checking with the firewall's loader…", style="dim"), id="verdict")
            yield Footer()

    def on_mount(self) -> None:
        self._check()

    @work(thread=True, exclusive=True)
    def _check(self) -> None:
        try:
            problems = [str(p) for p in self.ruleset.problems()]
        except OSError as exc:
            problems = [f"cannot check: {exc}"]
        self.app.call_from_thread(self._checked, problems)

    def _checked(self, problems: list[str]) -> None:
        self.problems = problems
        verdict = self.query_one("#verdict", Static)
        if problems:
            text = Text("The loader refuses these changes; nothing will be written:\n", style="bold red")
            for problem in problems:
                text.append(printable(problem, keep="\n") + "\n")
            verdict.update(text)
        else:
            verdict.update(Text("✓ valid: y saves (atomic write; the running firewall reloads), n cancels",
                                style="bold green"))

    def action_save(self) -> None:
        if self.problems is None:
            self.notify("still checking…", markup=False)
            return
        if self.problems:
            self.notify("refused by the loader: fix or discard the changes", severity="error", markup=False)
            return
        try:
            version = self.ruleset.save()
        except (ConflictError, InvalidChanges, OSError) as exc:  # nothing (or nothing half) was written
            self.notify(str(exc), severity="error", markup=False, timeout=10)
            return
        self.notify(f"saved rules v{version[:7]}; waiting for the firewall to report it", markup=False)
        self.dismiss(version)

    def action_cancel(self) -> None:
        if self.discard_on_cancel:
            self.ruleset.discard()
        self.dismiss(None)


def diff_text(diff: str) -> Text:
    text = Text()
    for line in diff.splitlines():
        style = {"+": "green", "-": "red", "@": "dim"}.get(line[:1], "")
        text.append(printable(line) + "\n", style=style)
    return text or Text("(no changes)", style="dim")
