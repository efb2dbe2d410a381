"""The status line every mode shows: source and health, rules version(s) as reported by the
firewall, events per second, action counters (in words, never colour alone), drops, unsaved edits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from firewall.uris import redact
from tui.rows import printable

if TYPE_CHECKING:
    from tui.app import OutguardApp

MODES = (("live", "1 Live"), ("rules", "2 Rules"), ("quotas", "3 Quotas"), ("replay", "4 Replay"))


def status_text(app: OutguardApp) -> Text:
    traffic = app.traffic
    text = Text(" outguard ", style="bold")
    for mode, name in MODES:
        text.append("│ " if mode == "live" else " ")
        text.append(name, style="reverse bold" if app.current_mode == mode else "")
    text.append(" │ ")
    text.append(printable(redact(app.events_uri)))
    if app.feed.error:
        text.append(" ✗ disconnected", style="bold red")
    else:
        text.append(" ●", style="green")
    text.append(" │ ")
    text.append_text(rules_text(app))
    text.append(f" │ {traffic.rate():,.0f} ev/s │ ")
    counts = sorted(traffic.actions.items(), key=lambda kv: -kv[1])
    text.append(" · ".join(f"{printable(action)} {n:,}" for action, n in counts[:6]) or "no events yet")
    dropped = traffic.dropped + app.feed.dropped
    if dropped:
        text.append(f" │ dropped {dropped:,}", style="bold red")
    if app.ruleset.pending:
        text.append(f" │ {len(app.ruleset.pending)} unsaved", style="bold yellow")
    if app.read_only:
        text.append(" │ read-only", style="dim")
    return text


def rules_text(app: OutguardApp) -> Text:
    """The versions the firewall(s) reported, with ⏳ / ✓ / ✗ for the last save from this console:
    ✗ as soon as any instance refused rules after that save, ✓ once one runs the saved version."""
    traffic = app.traffic
    versions = traffic.versions()
    distinct = sorted(set(versions.values()))
    text = Text("rules ")
    if not distinct:
        text.append("v? ", style="dim")
    elif len(distinct) == 1:
        text.append(f"v{printable(distinct[0][:7])} ")
    else:
        counts = {v: sum(1 for x in versions.values() if x == v) for v in distinct}
        text.append(" ".join(f"v{printable(v[:7])}×{n}" for v, n in counts.items()) + " ", style="bold yellow")
    refused_since = any(ts >= app.saved_at for ts in traffic.rejected_at.values())
    if app.awaiting_version and refused_since:
        text.append("✗ rejected", style="bold red")
    elif app.awaiting_version and app.awaiting_version in versions.values():
        text.append("✓", style="bold green")
    elif app.awaiting_version:
        text.append(f"⏳ v{app.awaiting_version[:7]}", style="yellow")
    elif traffic.rejected:
        text.append("✗ rejected", style="bold red")
    elif distinct:
        text.append("✓", style="green")
    return text


class StatusLine(Static):
    DEFAULT_CSS = "StatusLine { height: 1; background: $panel; color: $text; }"

    def on_mount(self) -> None:
        self.set_interval(0.25, self.tick)
        self.tick()

    def tick(self) -> None:
        self.update(status_text(self.app))  # type: ignore[arg-type]
