"""OutguardApp: the operator console. Reads the firewall's event store, edits its rules folder.

No scanning happens in this process (it would cost key latency): the firewall runs elsewhere (your
app, or `outguard demo`'s subprocess) and the console tails what it writes; rule try-outs and
replays run `outguard` subprocesses.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from firewall.events.event import Event
from firewall.events.store import DEFAULT_STORE, Reader, open_reader
from tui.feed import Feed
from tui.rows import Traffic
from tui.ruleset import RuleSet
from tui.screens.live import LiveScreen
from tui.screens.modals import FleetScreen, HelpScreen
from tui.screens.quotas import QuotasScreen
from tui.screens.replay import ReplayScreen
from tui.screens.rules import RulesScreen

FLUSH_SECONDS = 0.1


class OutguardApp(App[None]):
    TITLE = "outguard"
    MODES = {"live": LiveScreen, "rules": RulesScreen, "quotas": QuotasScreen, "replay": ReplayScreen}
    DEFAULT_MODE = "live"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-normal"), (160, "-wide")]
    BINDINGS = [
        Binding("1", "switch_mode('live')", "live", show=False),
        Binding("2", "switch_mode('rules')", "rules", show=False),
        Binding("3", "switch_mode('quotas')", "quotas", show=False),
        Binding("4", "switch_mode('replay')", "replay", show=False),
        Binding("question_mark", "help", "help"),
        Binding("f", "fleet", "fleet", show=False),
        Binding("colon", "command_palette", "commands", show=False),
        # Declaring `colon` replaces Textual's own ctrl+p binding, so it is declared again here.
        Binding("ctrl+p", "command_palette", "commands", show=False, priority=True),
        Binding("q", "quit", "quit"),
    ]

    def __init__(
        self,
        *,
        events: str = DEFAULT_STORE,
        rules: str | Path = "rules",
        samples: str | Path = "samples/transcripts",
        read_only: bool = False,
        journal: str | Path | None = None,
        open_event: int | None = None,
        companion: subprocess.Popen[bytes] | None = None,
        companion_log: Path | None = None,
    ) -> None:
        """`companion`: the background firewall `outguard demo` started; if it dies, the console says
        so (with `companion_log`, where its errors went) instead of waiting for events forever."""
        super().__init__()
        self.companion = companion
        self.companion_log = companion_log
        self.events_uri = events
        self.rules_dir = Path(rules)
        self.samples_dir = Path(samples)
        self.read_only = read_only
        self.open_event = open_event
        self.traffic = Traffic()
        self.feed = Feed(events)
        self.ruleset = RuleSet(self.rules_dir, journal=journal)
        self.awaiting_version: str | None = None
        """The rules version the console saved and waits to see a firewall report."""
        self.saved_at = 0.0
        self.live: LiveScreen | None = None
        """The Live mode's screen, once mounted (it keeps its state while other modes show)."""
        self._reader: Reader | None = None
        self._reader_lock = threading.Lock()
        self.closed = False

    def on_mount(self) -> None:
        self.feed.start()
        self.set_interval(FLUSH_SECONDS, self.flush)
        if self.companion is not None:
            self._companion_timer = self.set_interval(1.0, self._check_companion)

    def _check_companion(self) -> None:
        if self.companion is None or (code := self.companion.poll()) is None:
            return
        self._companion_timer.stop()
        self.notify(f"The background firewall stopped (exit {code}); its log: {self.companion_log}",
                    severity="error", timeout=3600, markup=False)

    _quit_armed = 0.0

    async def action_quit(self) -> None:
        """Quit; with staged rule edits, only on a second q within two seconds (they would be lost)."""
        pending = len(self.ruleset.pending)
        if pending and time.monotonic() - self._quit_armed > 2.0:
            self._quit_armed = time.monotonic()
            self.notify(f"{pending} staged rule change(s) not saved: q again quits without them, "
                        "ctrl+s in Rules saves", severity="warning", markup=False)
            return
        self.exit()

    def on_unmount(self) -> None:
        self.feed.stop()
        with self._reader_lock:  # a detail worker may be inside get(): closing under it crashes SQLite
            self.closed = True
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def flush(self) -> None:
        """Move what the feed parked into the ring, and tell the live table once."""
        rows = self.feed.drain()
        if not rows:
            return
        before = len(self.traffic.view)
        evicted = self.traffic.add(rows)
        added = len(self.traffic.view) - before + evicted
        if self.live is not None:
            self.live.appended(added, evicted)

    def load_event(self, event_id: int) -> Event | None:
        """One whole event from the store (called from worker threads)."""
        with self._reader_lock:
            if self.closed:
                return None
            if self._reader is None:
                self._reader = open_reader(self.events_uri)
            return self._reader.get(event_id)

    def saved(self, version: str) -> None:
        """The console wrote rules `version`: wait for the firewalls to report it (or refuse it)."""
        self.awaiting_version = version
        self.saved_at = time.time()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, title, help_text in (
            ("live", "Live traffic", "Mode 1: follow, filter and inspect events"),
            ("rules", "Rules", "Mode 2: detectors and rules; edit, try and save"),
            ("quotas", "Quotas", "Mode 3: usage per principal, who is throttled"),
            ("replay", "Replay samples", "Mode 4: replay sample transcripts into the store"),
        ):
            yield SystemCommand(title, help_text, partial(self.switch_mode, mode))
        yield SystemCommand("Fleet: instances and rules versions", "Which instance runs which rules (f)",
                            self.action_fleet)
        for title, query in (
            ("Show blocked responses", "action:block"),
            ("Show detector failures (fail-open / fail-closed)", "action:fail"),
            ("Show shadow hits (would have acted)", "shadow:"),
            ("Show rules changes", "kind:rules"),
            ("Clear filters", ""),
        ):
            yield SystemCommand(title, f"Live filter: {query or '(none)'}", partial(self.show_live, query))

    def show_live(self, query: str) -> None:
        """Switch to Live with `query` as the filter."""
        self.switch_mode("live")
        if self.live is not None:
            self.live.set_query(query)

    def action_fleet(self) -> None:
        if not isinstance(self.screen, FleetScreen):
            self.push_screen(FleetScreen(self.traffic))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))
