"""The inspect pane shows a detector failure as one line where the findings would be, as text."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable, Static

from firewall.events.event import Event
from firewall.model import DetectorFailure
from tests.conftest import SAMPLES
from tests.tui.conftest import verdict, wait_until
from tui.app import OutguardApp
from tui.screens.edit import render_scan
from tui.widgets.detail import DetailPane, failure_line

Store = tuple[str, Callable[[list[Event]], None]]
REFUSAL = "[outguard] This response was withheld because a detector failed (pii: raised ValueError)."


def failed(n: int, detector: str = "pii", reason: str = "raised ValueError", **changes: object) -> Event:
    return dataclasses.replace(
        verdict(n, action="block", status="fail_closed", output=REFUSAL),
        error=DetectorFailure(detector, reason), errors=(f"{detector}: {reason}",), **changes,  # type: ignore[arg-type]
    )


def test_the_line_names_the_detector_the_reason_and_the_outcome() -> None:
    line = failure_line(failed(1, reason="ran 1,200 ms, over its budget of 1,000 ms for 6,000 characters"))

    assert line is not None
    assert line.plain == (
        "✗ detector pii failed: ran 1,200 ms, over its budget of 1,000 ms for 6,000 characters"
        " · response withheld (fail-closed)"
    )


def test_an_older_event_without_error_is_read_from_its_errors() -> None:
    older = dataclasses.replace(verdict(1, status="fail_open"), errors=("corpus (shadow): raised KeyError",
                                                                        "pii: raised ValueError"))

    line = failure_line(older)

    assert line is not None and line.plain.startswith("✗ detector pii failed: raised ValueError")
    assert "fail-open" in line.plain
    assert failure_line(verdict(2)) is None


async def test_the_findings_tab_shows_the_failure_and_hostile_names_stay_text(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    hostile = "[/x][link=http://evil.example]pii"
    store[1]([failed(1, detector=hostile)])
    app = OutguardApp(events=store[0], rules=rules_dir, samples=SAMPLES / "transcripts",
                      journal=tmp_path / "journal.jsonl", open_event=1)
    async with app.run_test(size=(140, 40)) as pilot:
        pane = app.screen.query_one(DetailPane)
        await wait_until(pilot, lambda: pane.event is not None)
        pane.query_one("#detail-tabs").active = "tab-findings"  # type: ignore[attr-defined]
        await pilot.pause()

        line = pane.query_one("#failure", Static)
        assert line.display and not pane.query_one("#findings", DataTable).display
        content = line.content
        assert isinstance(content, Text)
        assert content.plain == f"✗ detector {hostile} failed: raised ValueError · response withheld (fail-closed)"
        assert all(not getattr(span.style, "link", None) for span in content.spans)
        pipeline = pane.query_one("#pipeline", DataTable)
        rows = [[str(cell) for cell in pipeline.get_row_at(i)] for i in range(pipeline.row_count)]
        assert [hostile, "✗ raised ValueError", ""] in rows
        assert ["withheld by", f"{hostile} failing (fail-closed)", ""] in rows

        pane.show(dataclasses.replace(verdict(2), id=2))
        await pilot.pause()
        assert not line.display and pane.query_one("#findings", DataTable).display


def test_try_shows_a_scans_detector_failure_and_a_scan_that_could_not_run() -> None:
    """The Try screen's results come from `outguard scan --json`: its `error` is one line, as text."""
    result = {"text": REFUSAL, "action": "block", "status": "fail_closed", "findings": [],
              "error": {"detector": "[b]pii[/b]", "reason": "raised ValueError"}}

    shown = render_scan("now", "some text", result).plain
    broken = render_scan("now", "some text", {"problem": "the rules do not load: [/x]"}).plain

    assert "now: block · no findings\n✗ detector [b]pii[/b] failed: raised ValueError (fail_closed)\n" in shown
    assert broken == "now: the rules do not load: [/x]"
    clean = render_scan("now", "hi", {"text": "hi", "action": "allow", "status": "scanned", "findings": [],
                                      "error": None}).plain
    assert "failed" not in clean
