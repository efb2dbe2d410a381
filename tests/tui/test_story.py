"""The issue's story end to end: a real firewall writes the store and watches the rules folder; the
operator sees a redaction, opens it, disables the rule behind it, and the next event passes that text."""

from __future__ import annotations

from pathlib import Path

import yaml

from firewall import Firewall
from tests.conftest import SAMPLES
from tests.tui.conftest import wait_until
from tui.app import OutguardApp
from tui.screens.modals import ChangeScreen
from tui.widgets.detail import DetailPane
from tui.widgets.table import EventTable

TEXT = "Sure, reach our billing lead at jane.roe@corp.io before Friday."


async def test_see_a_redaction_disable_its_rule_and_watch_the_next_event_pass(rules_dir: Path, tmp_path: Path) -> None:
    policy_file = rules_dir / "policy.yaml"
    settings = yaml.safe_load(policy_file.read_text())
    settings["detectors"]["pii"]["enabled"] = False  # NER is not part of this story; it only slows the test
    settings["watch_seconds"] = 0.2
    policy_file.write_text(yaml.safe_dump(settings, sort_keys=False))
    uri = f"sqlite:///{tmp_path / 'events.db'}"
    fw = Firewall.from_rules(rules_dir, watch=True, events=uri)
    try:
        first = fw.scan(TEXT, principal="client-9", model="gpt-x", source="demo")
        assert first.action == "redact" and first.labels == ["EMAIL"]
        fw.flush()
        app = OutguardApp(events=uri, rules=rules_dir, samples=SAMPLES / "transcripts",
                          journal=tmp_path / "journal.jsonl")
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: app.traffic.total == 1)
            await pilot.press("slash", *"label:EMAIL", "enter", "enter")
            pane = app.screen.query_one(DetailPane)
            await wait_until(pilot, lambda: pane.event is not None)
            assert "[EMAIL]" in (pane.event.output or "")  # type: ignore[union-attr]

            await pilot.press("d")
            assert isinstance(app.screen, ChangeScreen)
            await wait_until(pilot, lambda: app.screen.problems == [])  # type: ignore[attr-defined]
            await pilot.press("y")
            saved = app.awaiting_version
            await wait_until(pilot, lambda: fw.rules_version == saved)  # the firewall reloaded by itself

            second = fw.scan(TEXT, principal="client-9", model="gpt-x", source="demo")
            fw.flush()
            await pilot.press("escape", "escape")
            table = app.screen.query_one(EventTable)
            await wait_until(pilot, lambda: any(r.rules_version == saved and r.kind == "verdict" for r in table.rows))
            latest = table.rows[-1]
            assert second.action == latest.action == "allow" and "jane.roe@corp.io" in latest.preview
            status = app.screen.query_one("#status")
            await wait_until(pilot, lambda: f"v{saved[:7]} ✓" in str(status.render()))  # type: ignore[index]
    finally:
        fw.close()
