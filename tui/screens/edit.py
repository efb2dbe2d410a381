"""Rule editing dialogs: a new regex/keyword rule, an allow/deny term, a canary, and try-before-save.

Every candidate is validated by the firewall's own loader on a scratch copy of the pending change
set (in a worker, debounced), and the loader's message is shown verbatim as text, never as markup.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Checkbox, Footer, Input, Select, Static, TextArea
from textual.worker import get_current_worker

from firewall.canaries import FORMATS, PLACEMENTS
from firewall.replay import load_transcripts
from tui.rows import printable
from tui.ruleset import ACTIONS, RuleSet
from tui.screens.modals import MODAL_CSS
from tui.widgets.detail import label_style

FORM_CSS = """
{name} Input, {name} Select {{ margin: 0 0 0 0; }}
{name} #verdict {{ height: auto; min-height: 2; padding: 1 0 0 0; }}
{name} Horizontal {{ height: auto; }}
{name} Horizontal > * {{ width: 1fr; }}
"""


class _Form(ModalScreen[bool]):
    """A dialog that validates its candidate edit live and adds it to the pending change set."""

    BINDINGS = [Binding("ctrl+s", "add", "add to pending"), Binding("escape", "cancel", "cancel")]

    def __init__(self, ruleset: RuleSet) -> None:
        super().__init__()
        self.ruleset = ruleset
        self.ok = False
        self._debounce: Timer | None = None

    def stage(self, ruleset: RuleSet, fields: dict[str, Any]) -> object:
        """Apply the candidate the `fields` describe to `ruleset` (raises ValueError on bad input)."""
        raise NotImplementedError

    def fields(self) -> dict[str, Any]:
        """Every field's value, read on the UI thread: workers get this snapshot, never the widgets."""
        found: dict[str, Any] = {}
        for widget in self.query("Input, Select, Checkbox"):
            if widget.id:
                value = widget.value  # type: ignore[attr-defined]
                found[widget.id] = value.strip() if isinstance(value, str) and widget.id != "pattern" else value
        return found

    def on_input_changed(self) -> None:
        self._schedule()

    def on_select_changed(self) -> None:
        self._schedule()

    def on_checkbox_changed(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        self.ok = False  # until the loader has seen what the fields say now
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.25, lambda: self._check(self.fields(), list(self.ruleset.pending)))

    @work(thread=True, exclusive=True, group="form")
    def _check(self, fields: dict[str, Any], pending: list[Any]) -> None:
        try:
            scratch = RuleSet(self.ruleset.folder, journal=self.ruleset.journal)
            scratch.pending = pending
            self.stage(scratch, fields)
            problems = [str(p) for p in scratch.problems()]
        except (ValueError, KeyError, OSError) as exc:
            problems = [str(exc)]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, problems)

    def _show(self, problems: list[str]) -> None:
        self.ok = not problems
        text = Text("✓ the loader accepts it: ctrl+s adds it to the pending changes\n", style="bold green") if self.ok \
            else Text("✗ the loader refuses it:\n", style="bold red")
        for problem in problems:
            text.append(printable(problem, keep="\n") + "\n", style="red")
        self.query_one("#verdict", Static).update(text)

    def action_add(self) -> None:
        if not self.ok:
            self.notify("not valid yet (see the loader's message)", severity="warning", markup=False)
            return
        try:
            self.stage(self.ruleset, self.fields())
        except (ValueError, KeyError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class NewRuleScreen(_Form):
    DEFAULT_CSS = MODAL_CSS.format(name="NewRuleScreen") + FORM_CSS.format(name="NewRuleScreen")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("New rule (saved to rules/packs/custom.yaml)"), classes="title")
            with Horizontal():
                yield Select([("regex", "regex"), ("keyword terms", "keyword")], value="regex", allow_blank=False,
                             id="kind")
                yield Select([(a, a) for a in ACTIONS], value="redact", allow_blank=False, id="action")
            with Horizontal():
                yield Input(placeholder="id, e.g. ticket-id", id="rule-id")
                yield Input(placeholder="LABEL, e.g. TICKET", id="label")
            yield Input(placeholder="pattern (RE2 regex) or comma-separated terms", id="pattern")
            yield Input(placeholder="a text it must match (required)", id="match")
            yield Input(placeholder="a text it must not match (optional)", id="no-match")
            yield Checkbox("shadow: report only, do not change output", id="shadow")
            yield Static(Text("fill in the fields; the loader checks as you type", style="dim"), id="verdict")
            yield Footer()

    def stage(self, ruleset: RuleSet, fields: dict[str, Any]) -> object:
        return ruleset.add_rule(
            rule_id=fields["rule-id"], label=fields["label"], kind=str(fields["kind"]), pattern=fields["pattern"],
            action=str(fields["action"]), match=[fields["match"]] if fields["match"] else [],
            no_match=[fields["no-match"]] if fields["no-match"] else [], shadow=bool(fields["shadow"]),
        )


class TermScreen(_Form):
    DEFAULT_CSS = MODAL_CSS.format(name="TermScreen") + FORM_CSS.format(name="TermScreen")

    def __init__(self, ruleset: RuleSet, kind: str) -> None:
        super().__init__(ruleset)
        self.kind = kind

    def compose(self) -> ComposeResult:
        with Vertical():
            title = ("Allow term: never flagged by PII" if self.kind == "allow"
                     else "Deny term: always flagged as an entity")
            yield Static(Text(title), classes="title")
            yield Input(placeholder="term, exactly as it appears", id="term")
            if self.kind == "deny":
                yield Input(value="PERSON", placeholder="Presidio entity, e.g. PERSON", id="entity")
            yield Static(Text("type a term", style="dim"), id="verdict")
            yield Footer()

    def stage(self, ruleset: RuleSet, fields: dict[str, Any]) -> object:
        return ruleset.add_term(self.kind, fields["term"], fields.get("entity", "PERSON"))


class CanaryScreen(_Form):
    DEFAULT_CSS = MODAL_CSS.format(name="CanaryScreen") + FORM_CSS.format(name="CanaryScreen")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("New canary: minted here, registered in rules/canaries.yaml on save"), classes="title")
            with Horizontal():
                yield Select([(f, f) for f in FORMATS], value="token", allow_blank=False, id="format")
                yield Select([(p, p) for p in PLACEMENTS], value="system-prompt", allow_blank=False, id="placement")
            yield Input(placeholder="note: where you will plant it", id="note")
            yield Static(Text("ctrl+s mints it and adds it to the pending changes", style="dim"), id="verdict")
            yield Footer()

    def on_mount(self) -> None:
        self.ok = True

    def _schedule(self) -> None:
        self.ok = True

    def stage(self, ruleset: RuleSet, fields: dict[str, Any]) -> object:
        canary_id, value = ruleset.add_canary(
            fmt=str(fields["format"]), placement=str(fields["placement"]), note=fields["note"])
        if ruleset is self.ruleset:
            self.app.notify(f"canary {canary_id}: plant this value, then save: {value}", markup=False, timeout=30)
        return canary_id


class TryScreen(ModalScreen[None]):
    """Scan a text under the rules on disk and under the pending rules, side by side.

    Both scans run as `outguard scan --json` subprocesses: the console process never loads the
    detectors (spaCy would cost the live view its key latency)."""

    DEFAULT_CSS = MODAL_CSS.format(name="TryScreen") + """
    TryScreen TextArea { height: 8; }
    TryScreen #results { height: auto; max-height: 24; }
    TryScreen #results Static { width: 1fr; padding: 0 1; }
    """
    BINDINGS = [Binding("ctrl+r", "run", "run"), Binding("escape", "dismiss", "close")]

    def __init__(self, ruleset: RuleSet, event_text: str | None, samples: Path) -> None:
        super().__init__()
        self.ruleset = ruleset
        self.text = event_text or _first_sample(samples)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Try: edit the text, ctrl+r scans it under the current and the pending rules"),
                         classes="title")
            yield TextArea(self.text, id="try-text")
            with Horizontal(id="results"):
                yield Static(Text("now (rules on disk)", style="dim"), id="before")
                yield Static(Text("after (pending changes)", style="dim"), id="after")
            yield Footer()

    def action_run(self) -> None:
        self.query_one("#before", Static).update(Text("scanning…", style="dim"))
        self.query_one("#after", Static).update(Text("scanning…", style="dim"))
        self._run(self.query_one(TextArea).text)

    @work(thread=True, exclusive=True)
    def _run(self, text: str) -> None:
        try:
            with self.ruleset.staged_folder() as staged, ThreadPoolExecutor(2) as pool:
                before, after = pool.map(lambda folder: scan_json(text, Path(folder)), (self.ruleset.folder, staged))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            before = after = {"problem": f"could not scan: {type(exc).__name__}: {exc}"}
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, text, before, after)

    def _show(self, text: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        self.query_one("#before", Static).update(render_scan("now", text, before))
        self.query_one("#after", Static).update(render_scan("after", text, after))

    @on(TextArea.Changed)
    def _edited(self) -> None:
        self.text = self.query_one(TextArea).text


SCAN_WITHHELD = 3
"""`outguard scan` exits 3 when a detector failed closed; its JSON still says which, and why."""


def scan_json(text: str, rules: Path) -> dict[str, Any]:
    """`outguard scan --json` on `text` under `rules` (text goes through stdin, never argv); a scan
    that could not run at all comes back as `{"problem": <its stderr>}`."""
    done = subprocess.run(
        [sys.executable, "-m", "firewall", "scan", "--json", "--events", "none", "--rules", str(rules), "-"],
        input=text, capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode not in (0, SCAN_WITHHELD):
        return {"problem": done.stderr.strip()[-2000:] or f"exit {done.returncode}"}
    return json.loads(done.stdout)


def render_scan(title: str, text: str, result: dict[str, Any]) -> Text:
    out = Text(f"{title}: ", style="bold")
    if "problem" in result:
        out.append(printable(result["problem"], keep="\n"), style="red")
        return out
    labels = sorted({f["label"] for f in result["findings"]})
    out.append(f"{result['action']} · {', '.join(labels) or 'no findings'}\n")
    if failure := result.get("error"):
        out.append(printable(f"✗ detector {failure['detector']} failed: {failure['reason']} ({result['status']})"),
                   style="red")
        out.append("\n")
    marked = Text(printable(text, keep="\n"))
    for finding in result["findings"]:
        marked.stylize(label_style(finding["label"]), finding["start"], finding["end"])
    out.append_text(marked)
    out.append("\n→ ", style="dim")
    out.append(printable(result["text"], keep="\n"))
    return out


def _first_sample(samples: Path) -> str:
    try:
        transcripts = load_transcripts([samples])
    except Exception:
        return "Reach me at jane.doe@example.com or +1 415 555 0134."
    leaky = [t for t in transcripts if t.sensitive] or transcripts
    return leaky[0].output if leaky else ""
