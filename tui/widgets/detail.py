"""The inspect pane: one event's emitted output with each finding highlighted per label, its findings,
prompt and per-detector pipeline. Every text shown is untrusted and rendered as `Text`, never markup.
"""

from __future__ import annotations

import time
import zlib

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from firewall.events.event import Event
from tui.rows import display_action, printable

OUTPUT_CAP = 8192
"""Characters of output highlighted and shown (a 32 KB text with 1,248 spans takes 170-430 ms)."""
PALETTE = ("#f6c177", "#9ccfd8", "#eb6f92", "#c4a7e7", "#a6da95", "#f5a97f", "#8aadf4", "#eed49f", "#f0c6c6", "#91d7e3")


def label_style(label: str) -> Style:
    """A fixed background per label (dark text on it stays legible in light and dark themes)."""
    return Style(color="#1e1e2e", bgcolor=PALETTE[zlib.crc32(label.encode()) % len(PALETTE)], bold=True)


SHADOW_STYLE = Style(underline=True, italic=True, color="#c4a7e7")


def highlighted_output(event: Event) -> Text:
    """The emitted text with every finding's span styled by label (shadow hits underlined)."""
    raw = event.output or ""
    shown = printable(raw[:OUTPUT_CAP], keep="\n\t")
    text = Text(shown)
    for finding in event.findings:
        if finding.start is None or finding.end is None or finding.start >= len(shown):
            continue
        style = SHADOW_STYLE if finding.shadow else label_style(finding.label)
        text.stylize(style, finding.start, min(finding.end, len(shown)))
    if len(raw) > OUTPUT_CAP:
        text.append(f"\n… {len(raw) - OUTPUT_CAP:,} more characters not shown", style="dim")
    return text


def legend(event: Event) -> Text:
    text = Text("legend: ", style="dim")
    for label in sorted({f.label for f in event.findings if not f.shadow}):
        text.append(f" {printable(label)} ", style=label_style(label))
        text.append(" ")
    if any(f.shadow for f in event.findings):
        text.append("shadow (would have acted; output unchanged)", style=SHADOW_STYLE)
    return text


def header(event: Event) -> Text:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.ts))
    parts = [
        f"event {event.id}", display_action(event), event.principal or "—", event.model or "—",
        f"status {event.status or '—'}", f"rules {event.rules_version or '—'}", event.instance, event.source, when,
    ]
    if event.latency_ms is not None:
        parts.append(f"{event.latency_ms:.1f} ms")
    if event.chunks:
        parts.append(f"{event.chunks} chunks")
    return Text(printable(" · ".join(parts)), style="bold")


def failure(event: Event) -> tuple[str, str] | None:
    """(detector, reason) of the detector failure that decided the event's status: its `error`, or,
    for an event written before events carried one, its first failure that was not a shadow's."""
    if event.error is not None:
        return event.error.detector, event.error.reason
    if event.status in ("fail_open", "fail_closed"):
        for error in event.errors:
            detector, _, reason = error.partition(": ")
            if not detector.endswith("(shadow)"):
                return detector, reason.strip()
    return None


def failure_line(event: Event) -> Text | None:
    """One line saying which detector failed, why, and what became of the response (or None)."""
    failed = failure(event)
    if failed is None:
        return None
    detector, reason = failed
    if event.status == "fail_closed":
        outcome = "response withheld (fail-closed)"
    elif event.status == "fail_open":
        outcome = "response passed without it (fail-open)"
    else:
        outcome = f"status {event.status or '—'}"
    return Text(printable(f"✗ detector {detector} failed: {reason} · {outcome}"), style="bold")


def pipeline_rows(event: Event) -> list[tuple[str, str, str]]:
    """(detector, outcome, ms) per detector, in the spirit of `cscli explain`."""
    failed = {e.partition(": ")[0]: e.partition(": ")[2].strip() for e in event.errors}
    matched: dict[str, int] = {}
    for f in event.findings:
        matched[f.detector] = matched.get(f.detector, 0) + 1
    rows = []
    for detector in dict.fromkeys([*event.timings_ms, *failed, *matched]):
        if detector in failed:
            reason = failed[detector]
            outcome = ("⏱ " if "budget" in reason else "✗ ") + reason
        elif detector in matched:
            outcome = f"✓ matched {matched[detector]}"
        else:
            outcome = "· no match"
        ms = event.timings_ms.get(detector)
        rows.append((detector, outcome, f"{ms:.2f}" if ms is not None else ""))
    return rows


class DetailPane(Vertical):
    """Tabs Output / Findings / Prompt / Pipeline for the selected event."""

    DEFAULT_CSS = """
    DetailPane { height: 1fr; border-top: solid $accent; }
    DetailPane #detail-header { height: auto; padding: 0 1; }
    DetailPane TabbedContent { height: 1fr; }
    DetailPane VerticalScroll { height: 1fr; }
    DetailPane #legend { height: auto; padding: 0 1; }
    DetailPane #failure { height: auto; padding: 0 1; color: $error; display: none; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.event: Event | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("no event selected", style="dim"), id="detail-header")
        with TabbedContent(id="detail-tabs"):
            with TabPane("Output", id="tab-output"):
                yield Static(Text(""), id="legend")
                with VerticalScroll():
                    yield Static(Text(""), id="output")
            with TabPane("Findings", id="tab-findings"):
                yield Static(Text(""), id="failure")
                yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
            with TabPane("Prompt", id="tab-prompt"), VerticalScroll():
                yield Static(Text(""), id="prompt")
            with TabPane("Pipeline", id="tab-pipeline"):
                yield DataTable(id="pipeline", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#findings", DataTable).add_columns(
            "#", "detector", "rule", "label", "action", "score", "span", "preview", "source")
        self.query_one("#pipeline", DataTable).add_columns("detector", "outcome", "ms")

    def show(self, event: Event) -> None:
        self.event = event
        self.query_one("#detail-header", Static).update(header(event))
        if event.kind == "verdict":
            self.query_one("#output", Static).update(highlighted_output(event))
            self.query_one("#legend", Static).update(legend(event))
        else:
            self.query_one("#output", Static).update(Text(printable(event.message or "", keep="\n")))
            self.query_one("#legend", Static).update(Text(""))
        line = failure_line(event)
        shown = self.query_one("#failure", Static)
        shown.update(line if line is not None else Text(""))
        shown.display = line is not None
        findings = self.query_one("#findings", DataTable)
        findings.display = bool(event.findings) or line is None
        findings.clear()
        for number, f in enumerate(event.findings, 1):
            action = f"shadow: would {f.action}" if f.shadow else f.action
            span = f"{f.start}–{f.end}" if f.start is not None else "—"
            findings.add_row(*(Text(printable(str(v))) for v in (
                number, f.detector, f.rule, f.label, action, f"{f.score:.2f}", span, f.preview, f.source or "—")))
        prompt = Text(printable(event.prompt, keep="\n")) if event.prompt else Text("(no prompt recorded)", style="dim")
        self.query_one("#prompt", Static).update(prompt)
        pipeline = self.query_one("#pipeline", DataTable)
        pipeline.clear()
        for row in pipeline_rows(event):
            pipeline.add_row(*(Text(printable(v)) for v in row))
        if event.blocked_by:
            pipeline.add_row(Text("blocked by"), Text(printable(event.blocked_by)), Text(""))
        elif event.status == "fail_closed" and (failed := failure(event)) is not None:
            pipeline.add_row(Text("withheld by"), Text(printable(f"{failed[0]} failing (fail-closed)")), Text(""))

    def selected_finding(self) -> int | None:
        """Index of the finding under the Findings tab's cursor, when that tab shows."""
        if self.event is None or not self.event.findings:
            return None
        if self.query_one("#detail-tabs", TabbedContent).active != "tab-findings":
            return None
        return min(self.query_one("#findings", DataTable).cursor_row, len(self.event.findings) - 1)
