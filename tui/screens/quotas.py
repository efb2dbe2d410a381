"""Quotas mode: each principal's use against its limits, and who is throttled or blocked now.

With a shared quota storage (redis://, as a fleet uses) the numbers come from the storage itself;
with the in-process default (memory://, which lives inside the firewall's process) they are counted
from the events this console has seen, and the table says so.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from firewall.errors import ConfigError, FirewallError
from firewall.policy.loader import load_policy
from firewall.quota import Quota, QuotaPolicy
from tui.rows import Row, exact_token, printable
from tui.widgets.status import StatusLine

if TYPE_CHECKING:
    from tui.app import OutguardApp


@dataclass(frozen=True)
class Standing:
    principal: str
    usage: str
    """e.g. "requests 12/600 · tokens 3,104/200,000"."""
    state: str
    """OK, THROTTLED, BLOCKED, or REFUSED (a quota refusal seen in the last 10 minutes)."""
    last_seen: float


def from_events(rows: list[Row], policy: QuotaPolicy, now: float | None = None) -> list[Standing]:
    """Requests per principal in each request window, counted from events; refusals from quota events."""
    now = time.time() if now is None else now
    seen: dict[str, float] = {}
    refused: dict[str, str] = {}
    windows = [(item, Counter[str]()) for item in policy.requests]
    for row in rows:
        if not row.principal:
            continue
        seen[row.principal] = max(seen.get(row.principal, 0.0), row.ts)
        if row.kind == "quota" and now - row.ts <= 600:
            refused[row.principal] = row.preview
        elif row.kind == "verdict":
            for item, counts in windows:
                if now - row.ts <= item.get_expiry():
                    counts[row.principal] += 1
    standings = []
    for principal in sorted(seen, key=lambda p: -seen[p]):
        usage = " · ".join(f"requests {counts[principal]:,}/{item.amount:,} per {item.GRANULARITY.name}"
                           for item, counts in windows) or "no request limits"
        state = "REFUSED" if principal in refused else "OK"
        standings.append(Standing(principal, usage, state, seen[principal]))
    return standings


def from_storage(quota: Quota, principals: dict[str, float]) -> list[Standing]:
    standings = []
    for principal, last in sorted(principals.items(), key=lambda kv: -kv[1]):
        usage = quota.usage(principal)
        penalty = quota.penalty(principal)
        state = "OK" if penalty is None else ("BLOCKED" if penalty.action == "block" else "THROTTLED")
        text = " · ".join(f"{u.name.split()[0]} {u.used:,}/{u.limit:,}" for u in usage)
        standings.append(Standing(principal, text, state, last))
    return standings


class QuotasScreen(Screen[None]):
    DEFAULT_CSS = "QuotasScreen #quota-source { height: auto; padding: 0 1; color: $text-muted; }"
    BINDINGS = [
        Binding("T", "only_limited", "limited only"),
        Binding("l", "to_live", "show in Live"),
        Binding("r", "refresh", "refresh"),
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.only_limited = False
        self.standings: list[Standing] = []
        self._quota: Quota | None = None
        self._source = "events"

    @property
    def fw_app(self) -> OutguardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusLine()
        yield Static(id="quota-source")
        yield DataTable(id="quotas", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("principal", "state", "usage", "last seen")
        self._open_quota()
        self.set_interval(2.0, self.action_refresh)
        self.action_refresh()

    def _open_quota(self) -> None:
        try:
            settings = load_policy(self.fw_app.rules_dir).quotas
        except ConfigError as exc:
            self.notify(f"cannot read quotas from the rules: {exc}", severity="warning", markup=False)
            return
        if not settings:
            self._policy = QuotaPolicy()
            self._source = "no quotas configured in the policy"
            return
        self._policy = QuotaPolicy.from_settings(settings)
        if self._policy.storage.startswith("memory"):
            self._source = ("events (quota storage is memory://, inside the firewall's process; "
                            "use redis:// to read live counters)")
        else:
            self._quota = Quota(self._policy)
            self._source = f"quota storage {self._policy.storage}"

    def action_refresh(self) -> None:
        if self.is_current:  # nothing to redraw while another mode shows
            self._compute(list(self.fw_app.traffic.ring))

    def on_screen_resume(self) -> None:
        self.action_refresh()

    @work(thread=True, exclusive=True)
    def _compute(self, rows: list[Row]) -> None:
        try:
            if self._quota is not None:
                seen: dict[str, float] = {}
                for row in rows:
                    if row.principal:
                        seen[row.principal] = max(seen.get(row.principal, 0.0), row.ts)
                standings = from_storage(self._quota, seen)
            else:
                standings = from_events(rows, getattr(self, "_policy", QuotaPolicy()))
        except FirewallError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self._show, standings)

    def _show(self, standings: list[Standing]) -> None:
        self.standings = standings
        self.query_one("#quota-source", Static).update(Text(f"source: {printable(self._source)}"))
        table = self.query_one(DataTable)
        selected = self._selected()
        table.clear()
        for s in standings:
            if self.only_limited and s.state == "OK":
                continue
            style = "" if s.state == "OK" else "bold red"
            table.add_row(Text(printable(s.principal)), Text(s.state, style=style), Text(printable(s.usage)),
                          Text(time.strftime("%H:%M:%S", time.localtime(s.last_seen))), key=s.principal)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def _selected(self) -> str | None:
        """The principal under the cursor (kept across the periodic refresh)."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_only_limited(self) -> None:
        self.only_limited = not self.only_limited
        self._show(self.standings)

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_to_live(self) -> None:
        principal = self._selected()
        if principal is not None:
            self.fw_app.show_live(exact_token("principal", principal))

    def on_unmount(self) -> None:
        if self._quota is not None:
            self._quota.close()
