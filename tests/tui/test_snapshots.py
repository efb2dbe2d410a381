"""SVG snapshots of the main screens (pytest-textual-snapshot): a fixed event set, a fixed clock,
relative paths. Review changes with `pytest tests/tui/test_snapshots.py --snapshot-update` and a diff."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.conftest import RULES, SAMPLES
from tests.tui.conftest import finding, redacted, verdict, wait_until
from tui.app import OutguardApp
from tui.rows import Traffic
from tui.widgets.detail import DetailPane

SIZE = (120, 36)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: Any) -> OutguardApp:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(RULES, tmp_path / "rules")
    monkeypatch.setattr(Traffic, "rate", lambda self, window=5.0: 0.0)  # the only wall-clock figure on screen
    from firewall.events.sinks import SQLiteSink

    events = [redacted(i) if i % 3 == 0 else verdict(i) for i in range(40)]
    events.append(verdict(40, action="block", status="fail_closed", output="[outguard] withheld"))
    events.append(verdict(41, output="Order 12345 ships today.",
                          findings=(finding("ORDER", 6, 11, rule="order-numbers", shadow=True),)))
    SQLiteSink(tmp_path / "events.db").write(events)
    return OutguardApp(events="sqlite:///events.db", rules="rules", samples=SAMPLES / "transcripts",
                       journal=tmp_path / "journal.jsonl")


def loaded(then: Callable[[Pilot[Any]], Any] | None = None) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app: OutguardApp = pilot.app  # type: ignore[assignment]
        await wait_until(pilot, lambda: app.traffic.total == 42)
        await pilot.press("p")  # paused: the view holds still
        if then is not None:
            await then(pilot)
        await pilot.pause(0.3)

    return run_before


def test_live_dark(snap_compare: Any, app: OutguardApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=loaded())


def test_live_light(snap_compare: Any, app: OutguardApp) -> None:
    async def light(pilot: Pilot[Any]) -> None:
        pilot.app.theme = "textual-light"

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(light))


def test_live_detail_output(snap_compare: Any, app: OutguardApp) -> None:
    async def inspect(pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"action:redact", "enter", "enter")
        await wait_until(pilot, lambda: pilot.app.screen.query_one(DetailPane).event is not None)

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(inspect))


def test_live_detail_findings(snap_compare: Any, app: OutguardApp) -> None:
    async def findings(pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"action:redact", "enter", "enter")
        await wait_until(pilot, lambda: pilot.app.screen.query_one(DetailPane).event is not None)
        pilot.app.screen.query_one("#detail-tabs").active = "tab-findings"

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(findings))


def test_rules_with_pending_change_and_review(snap_compare: Any, app: OutguardApp) -> None:
    async def review(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        tree = pilot.app.screen.query_one("#rules-tree")
        line = next(n.node.line for n in tree._tree_lines if n.node.data == "rule:email")  # type: ignore[attr-defined]
        tree.cursor_line = line  # type: ignore[attr-defined]
        await pilot.press("space", "ctrl+s")
        await wait_until(pilot, lambda: getattr(pilot.app.screen, "problems", None) == [])

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(review))


def test_rules_invalid_regex(snap_compare: Any, app: OutguardApp) -> None:
    async def invalid(pilot: Pilot[Any]) -> None:
        await pilot.press("2", "n")
        pilot.app.screen.query_one("#rule-id").focus()
        await pilot.press(*"ticket", "tab", *"TICKET", "tab", *r"(\d{6}", "tab", *"TCK-123456")
        await wait_until(pilot, lambda: "missing )" in str(pilot.app.screen.query_one("#verdict").render()))
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # the focused field's cursor would blink into the picture

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(invalid))


def test_quotas(snap_compare: Any, app: OutguardApp) -> None:
    async def quotas(pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        await wait_until(pilot, lambda: pilot.app.screen.query_one("#quotas").row_count == 7)

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(quotas))


def test_help(snap_compare: Any, app: OutguardApp) -> None:
    async def help_(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(help_))


def test_live_narrow(snap_compare: Any, app: OutguardApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded())
