"""Replay mode: pick sample transcripts and replay them into the event store at a chosen speed.

The replay runs `outguard replay` as a subprocess writing to the store this console tails, so its
events arrive in Live (src:replay) like any other traffic, and scanning stays out of this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, SelectionList, Static

from firewall.cli_options import EVENTS_ENV
from firewall.errors import ConfigError
from firewall.replay import load_transcripts
from firewall.uris import redact
from tui.rows import printable
from tui.widgets.status import StatusLine

if TYPE_CHECKING:
    from tui.app import OutguardApp

SPEEDS = (0.5, 1.0, 2.0, 5.0, 20.0, 0.0)
"""0 = as fast as possible."""


class ReplayScreen(Screen[None]):
    DEFAULT_CSS = """
    ReplayScreen #replay-top { height: 12; }
    ReplayScreen SelectionList { width: 1fr; }
    ReplayScreen #replay-info { width: 1fr; padding: 0 1; }
    ReplayScreen ProgressBar { padding: 0 1; }
    """
    BINDINGS = [
        Binding("s", "start", "start"),
        Binding("plus,equals_sign", "speed(1)", "faster"),
        Binding("minus", "speed(-1)", "slower"),
        Binding("x", "stop", "stop"),
        Binding("a", "select_all", "all", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.speed_index = 1
        self.process: subprocess.Popen[str] | None = None
        self.counts: dict[str, int] = {}
        self.exit_code: int | None = None
        self.results: list[dict[str, Any]] = []
        self.running = False

    @property
    def fw_app(self) -> OutguardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusLine()
        with Horizontal(id="replay-top"):
            yield SelectionList[str](id="files")
            yield Static(id="replay-info")
        yield ProgressBar(id="progress", show_eta=False)
        yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        files = self.query_one(SelectionList)
        for path in sorted(self.fw_app.samples_dir.glob("*.jsonl")):
            try:
                count = len(load_transcripts([path]))
            except ConfigError:
                continue
            self.counts[str(path)] = count
            files.add_option((Text(f"{path.name}  ({count} transcripts)"), str(path)))
        self.query_one(DataTable).add_columns("id", "principal", "action", "labels", "result")
        self._info()

    def _info(self, note: str = "") -> None:
        speed = SPEEDS[self.speed_index]
        text = Text("Select files (space), speed +/-, s starts, x stops.\n", style="dim")
        text.append(f"speed: {'max' if speed == 0 else f'{speed:g}× (≈{50 * speed:g} chunks/s)'}\n", style="bold")
        text.append(f"into: {printable(redact(self.fw_app.events_uri))}\n")
        text.append(f"rules: {printable(str(self.fw_app.rules_dir))}\n")
        if self.exit_code is not None:
            ok = self.exit_code == 0
            text.append("all expectations met" if ok else f"expectations failed (exit {self.exit_code})",
                        style="bold green" if ok else "bold red")
        if note:
            text.append(f"\n{note}")
        self.query_one("#replay-info", Static).update(text)

    def action_speed(self, step: int) -> None:
        self.speed_index = min(max(0, self.speed_index + step), len(SPEEDS) - 1)
        self._info()

    def action_select_all(self) -> None:
        self.query_one(SelectionList).select_all()

    def action_start(self) -> None:
        if self.running:
            self.notify("a replay is running (x stops it)", markup=False)
            return
        files = list(self.query_one(SelectionList).selected)
        if not files:
            self.notify("select at least one file (space)", severity="warning", markup=False)
            return
        total = sum(self.counts[f] for f in files)
        self.query_one(ProgressBar).update(total=total, progress=0)
        self.query_one(DataTable).clear()
        self.results.clear()
        self.exit_code = None
        self.running = True
        self._info("running…")
        self._replay(files)

    @work(thread=True, exclusive=True)
    def _replay(self, files: list[str]) -> None:
        command = [sys.executable, "-m", "firewall", "replay", "--json", "--speed", str(SPEEDS[self.speed_index]),
                   "--rules", str(self.fw_app.rules_dir), *files]
        env = {**os.environ, EVENTS_ENV: self.fw_app.events_uri}  # not in argv: `ps` would show a password
        with tempfile.TemporaryFile("w+", encoding="utf-8") as errors, subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, text=True, env=env
        ) as process:
            self.process = process
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    result = json.loads(line)
                except ValueError:
                    continue  # not a result line (a library printing to stdout)
                self.app.call_from_thread(self._result, result)
            code = process.wait()
            errors.seek(0)
            error = errors.read()[-2000:].strip()
        self.app.call_from_thread(self._finished, code, error)

    def _result(self, result: dict[str, Any]) -> None:
        outcome = "ok" if result["ok"] else "FAIL: " + "; ".join(result["problems"])
        cells = (result["id"], str(result["principal"]), result["action"], ",".join(result["labels"]), outcome)
        style = "" if result["ok"] else "bold red"
        self.query_one(DataTable).add_row(*(Text(printable(c), style=style) for c in cells))
        self.results.append(result)
        self.query_one(ProgressBar).advance(1)

    def _finished(self, code: int, error: str) -> None:
        self.running = False
        self.exit_code = code if code >= 0 else None
        if code > 0 and not self.results and error:  # it never got going: show why (the rules, a file)
            self.notify(error, severity="error", timeout=30, markup=False)
        self._info("stopped" if code < 0 else "")

    def action_stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def on_unmount(self) -> None:
        self.action_stop()
