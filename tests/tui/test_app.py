"""The console driven through the Pilot: keys and clicks, asserting on widget state (real SQLite store)."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Input, Static

from firewall.events.event import Event
from tests.conftest import ROOT, SAMPLES
from tests.tui.conftest import finding, redacted, verdict, wait_until
from tui.app import OutguardApp
from tui.screens.edit import NewRuleScreen
from tui.screens.modals import ChangeScreen, HelpScreen, PickerScreen
from tui.widgets.detail import DetailPane, label_style
from tui.widgets.table import EventTable

Store = tuple[str, Callable[[list[Event]], None]]


def make_app(store: Store, rules_dir: Path, tmp_path: Path, **kwargs: object) -> OutguardApp:
    return OutguardApp(events=store[0], rules=rules_dir, samples=SAMPLES / "transcripts",
                       journal=tmp_path / "journal.jsonl", **kwargs)  # type: ignore[arg-type]


def screen_text(app: OutguardApp) -> str:
    """What the terminal shows, as plain text lines (from the SVG screenshot Textual exports)."""
    lines: dict[float, list[str]] = {}
    for y, content in re.findall(r'<text[^>]* y="([\d.]+)"[^>]*>([^<]*)</text>', app.export_screenshot()):
        lines.setdefault(float(y), []).append(html.unescape(content).replace("\xa0", " "))
    return "\n".join("".join(parts) for _, parts in sorted(lines.items()))


async def test_start_up_shows_live_mode_the_source_and_the_keys(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        assert app.current_mode == "live"
        shot = screen_text(app)
        assert "events.db" in shot and "rules" in shot and "Waiting for events" in shot
        footer = shot.splitlines()[-1]
        for key in ("/ filter", "p pause", "? help", "q quit", "^p commands"):
            assert key in footer


async def test_help_lists_the_screens_keys_and_escape_returns(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#help-keys", Static).render())
        assert "filter" in keys and "pause" in keys and "disable rule" in keys
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        assert isinstance(app.focused, EventTable)


async def test_ingest_pause_and_follow(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    _, write = store
    write([redacted(i) if i % 4 == 0 else verdict(i) for i in range(2000)])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 2000)
        table = app.screen.query_one(EventTable)
        assert app.traffic.actions == {"redact": 500, "allow": 1500}
        assert table.follow and table.cursor == 1999

        await pilot.press("p")
        top, cursor = table.scroll_offset.y, table.cursor
        write([verdict(i) for i in range(2000, 2500)])
        await wait_until(pilot, lambda: app.traffic.total == 2500)
        await pilot.pause(0.2)
        assert not table.follow and table.scroll_offset.y == top and table.cursor == cursor
        assert table.new_since_pause == 500
        assert "+500 new" in str(app.screen.query_one("#badge", Static).render())

        await pilot.press("G")
        assert table.follow and table.cursor == 2499

        await pilot.press("k", "k")
        assert not table.follow and table.cursor == 2497


async def test_filter_narrows_negates_and_escape_restores(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    store[1]([redacted(i) if i % 3 == 0 else verdict(i, action="block" if i % 3 == 1 else "allow") for i in range(30)])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 30)
        await pilot.press("slash")
        await pilot.press(*"action:block")
        await pilot.press("enter")
        table = app.screen.query_one(EventTable)
        assert len(table.rows) == 10 and {r.action for r in table.rows} == {"block"}

        await pilot.press("slash", "ctrl+u", *"!principal:client-1 action:block", "enter")
        assert table.rows and all(r.principal != "client-1" and r.action == "block" for r in table.rows)

        await pilot.press("escape")
        assert len(table.rows) == 30 and app.traffic.query == ""


async def test_inspect_highlights_each_finding_and_lists_findings_and_pipeline(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    event = verdict(1, action="redact", output="Write to [EMAIL] or see order 12345.",
                    findings=(finding("EMAIL", 9, 16, rule="email"),
                              finding("ORDER", 30, 35, rule="order-numbers", shadow=True)),
                    prompt="what is the address?")
    store[1]([event])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 1)
        await pilot.press("enter")
        pane = app.screen.query_one(DetailPane)
        await wait_until(pilot, lambda: pane.event is not None)
        output = pane.query_one("#output", Static).content
        assert isinstance(output, Text)
        spans = {(s.start, s.end): s.style for s in output.spans}
        assert spans[(9, 16)] == label_style("EMAIL")
        assert (30, 35) in spans and spans[(30, 35)] != label_style("ORDER")  # shadow hits look different
        findings = pane.query_one("#findings", DataTable)
        assert findings.row_count == 2
        assert "shadow: would redact" in str(findings.get_row_at(1))
        pipeline = pane.query_one("#pipeline", DataTable)
        detectors = [str(pipeline.get_row_at(i)[0]) for i in range(pipeline.row_count)]
        assert detectors == ["canary", "patterns", "corpus", "pii"]
        assert "✓ matched" in str(pipeline.get_row_at(1)[1])
        assert "what is the address?" in str(pane.query_one("#prompt", Static).render())


async def test_hostile_text_is_shown_as_text(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    hostile = "[/x] [link=http://evil.example]click[/link] [bold]x\x1b[31m red \u200d\u202e done"
    store[1]([verdict(1, output=hostile, principal="[b]boss[/b]", findings=(finding("EMAIL", 0, 4),))])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 1)
        await pilot.press("enter")
        pane = app.screen.query_one(DetailPane)
        await wait_until(pilot, lambda: pane.event is not None)
        await pilot.press("slash", *"[/oops]", "enter")  # a filter is data too
        shot = screen_text(app)
        assert "[/x]" in shot and "[b]boss[/b]" in shot and "[link=http://evil.example]" in shot
        assert "\x1b[31m" not in shot
        rendered = pane.query_one("#output", Static).content
        assert isinstance(rendered, Text) and rendered.plain.startswith("[/x]")
        assert all(not getattr(span.style, "link", None) for span in rendered.spans)


async def test_rules_mode_never_shows_raw_canary_values(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    import yaml

    values = [c["value"] for c in yaml.safe_load((rules_dir / "canaries.yaml").read_text())["canaries"]]
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        for key in ("c-93747a17", "c-3f6106dd"):
            tree = app.screen.query_one("#rules-tree")
            node = next(n for n in tree._tree_lines if n.node.data == f"canary:{key}")  # type: ignore[attr-defined]
            tree.cursor_line = node.node.line  # type: ignore[attr-defined]
            await pilot.pause()
            shot = screen_text(app)
            assert "canary" in shot
            assert not any(value in shot for value in values)


async def test_disable_the_rule_behind_a_finding_and_see_the_firewall_report_it(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    _, write = store
    now = time.time()
    write([redacted(1, ts=now, version="v1")])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.query_one(DetailPane).event is not None)
        await pilot.press("d")  # two rules behind the event: the console asks which
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("enter")  # the first: email
        assert isinstance(app.screen, ChangeScreen)
        await wait_until(pilot, lambda: app.screen.problems == [])  # type: ignore[attr-defined]
        await pilot.press("y")
        pack = (rules_dir / "packs" / "pii.yaml").read_text()
        assert "enabled: false" in pack.split("id: email")[1].split("- id:")[0]
        assert app.awaiting_version and app.awaiting_version == app.ruleset.version
        status = app.screen.query_one("#status", Static)
        assert "⏳" in str(status.render())

        write([Event(kind="rules_reloaded", ts=time.time(), rules_version=app.awaiting_version, instance="app-1:100",
                     message="v1 -> new")])
        await wait_until(pilot, lambda: "✓" in str(status.render()) and "⏳" not in str(status.render()))


async def test_invalid_regex_shows_the_loaders_message_and_nothing_is_staged(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    before = sorted((p.name, p.read_bytes()) for p in rules_dir.rglob("*.yaml"))
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2", "n")
        assert isinstance(app.screen, NewRuleScreen)
        app.screen.query_one("#rule-id").focus()
        await pilot.press(*"ticket", "tab", *"TICKET", "tab", *r"(\d{6}", "tab", *"TCK-123456")
        verdict_box = app.screen.query_one("#verdict", Static)
        await wait_until(pilot, lambda: "missing )" in str(verdict_box.render()))  # after the debounced checks
        message = str(verdict_box.render())
        assert "missing )" in message and "custom.yaml:" in message, message
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, NewRuleScreen) and not app.ruleset.pending

        app.screen.query_one("#label").focus()
        await pilot.press("end", *"lower")  # the loader's message quotes "[A-Z]": shown verbatim, not as markup
        await wait_until(pilot, lambda: "[A-Z][A-Z0-9_]" in screen_text(app))
    assert sorted((p.name, p.read_bytes()) for p in rules_dir.rglob("*.yaml")) == before


async def test_new_rule_staged_validated_and_saved_from_the_rules_mode(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2", "n")
        app.screen.query_one("#rule-id").focus()
        await pilot.press(*"ticket", "tab", *"TICKET", "tab", *r"TCK-\d{6}", "tab", *"see TCK-123456")
        await wait_until(pilot, lambda: "accepts" in str(app.screen.query_one("#verdict", Static).render()))
        await pilot.press("ctrl+s")
        assert [e.key for e in app.ruleset.pending] == ["rule:ticket"]
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ChangeScreen)
        await wait_until(pilot, lambda: app.screen.problems == [])  # type: ignore[attr-defined]
        await pilot.press("y")
        assert "TCK-" in (rules_dir / "packs" / "custom.yaml").read_text()
        await pilot.press("z")  # undo the save
        assert not (rules_dir / "packs" / "custom.yaml").exists()


async def test_read_only_console_cannot_edit(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    app = make_app(store, rules_dir, tmp_path, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        shot = screen_text(app)
        assert "new rule" not in shot and "save" not in shot
        await pilot.press("down", "space", "n", "a")
        assert not app.ruleset.pending and not isinstance(app.screen, NewRuleScreen)


async def test_load_ten_thousand_events_catch_up_and_keys_still_answer(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    _, write = store
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        for start in range(0, 10_000, 1000):
            write([redacted(i) if i % 5 == 0 else verdict(i) for i in range(start, start + 1000)])
        await wait_until(pilot, lambda: app.traffic.total + app.traffic.dropped + app.feed.dropped == 10_000, 60)
        table = app.screen.query_one(EventTable)
        assert table.cursor == len(table.rows) - 1 == 9_999
        await pilot.press("k")
        assert table.cursor == 9_998
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_narrow_terminal_hides_columns_and_the_detail_takes_the_screen(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    store[1]([redacted(1)])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 1)
        assert app.screen.has_class("-narrow")
        table = app.screen.query_one(EventTable)
        assert "model" not in table.header() and "preview" in table.header()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.has_class("-detail") and table.region.height == 0  # the detail takes the screen
        await pilot.press("ctrl+p")
        await pilot.press(*"theme", "enter")  # the palette's own theme command, then pick light
        await pilot.pause(0.3)
        await pilot.press(*"textual-light", "enter")
        await wait_until(pilot, lambda: app.theme == "textual-light")


def test_console_import_pulls_no_detector_libraries() -> None:
    code = ("import tui.app, sys; print(sorted(m for m in ('spacy', 'presidio_analyzer', 'transformers', 'torch')"
            " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.redis
async def test_quotas_from_the_shared_storage_show_who_is_throttled(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/11")
    client.flushdb()
    policy_file = rules_dir / "policy.yaml"
    policy_file.write_text(policy_file.read_text().replace("storage: memory://", "storage: redis://127.0.0.1:6379/11"))
    from firewall.policy.loader import load_policy
    from firewall.quota import Quota, QuotaPolicy

    quota = Quota(QuotaPolicy.from_settings(load_policy(rules_dir).quotas))
    quota.check_request("greedy")
    quota.record_violations("greedy", 12)  # past the throttle penalty's weight (10)
    quota.close()
    now = time.time()
    store[1]([verdict(1, principal="greedy", ts=now), verdict(2, principal="calm", ts=now)])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 2)
        await pilot.press("3")
        table = app.screen.query_one("#quotas", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2)
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(2)}
        assert rows["greedy"][1] == "THROTTLED" and rows["calm"][1] == "OK"
        assert "requests 1/600" in rows["greedy"][2] and "violations 12/50" in rows["greedy"][2]
        await pilot.press("T")
        assert table.row_count == 1
        await pilot.press("l")
        assert app.current_mode == "live" and app.traffic.query == "principal=greedy"
    client.flushdb()


@pytest.mark.slow
async def test_replay_screen_runs_samples_into_the_store(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("4")
        screen = app.screen
        files = screen.query_one("#files")
        canaries = next(i for i, o in enumerate(files._options) if "canaries" in str(o.prompt))  # type: ignore[attr-defined]
        files.select(files.get_option_at_index(canaries))  # type: ignore[attr-defined]
        await pilot.press(*["plus"] * 5, "s")  # max speed, start
        await wait_until(pilot, lambda: screen.exit_code is not None, 180)  # type: ignore[attr-defined]
        expected = subprocess.run([sys.executable, "-m", "firewall", "replay", "--events", "none", "--rules",
                                   str(rules_dir), str(SAMPLES / "transcripts" / "canaries.jsonl")],
                                  cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert screen.exit_code == expected.returncode == 0  # type: ignore[attr-defined]
        count = len(screen.results)  # type: ignore[attr-defined]
        assert count == screen.counts[str(SAMPLES / "transcripts" / "canaries.jsonl")]  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: sum(r.source == "replay" for r in app.traffic.ring) == count)


async def test_fleet_view_shows_each_instances_rules_version_and_refusals(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    now = time.time()
    store[1]([
        verdict(1, instance="web-1:11", version="aaaa1111", ts=now),
        verdict(2, instance="web-2:22", version="bbbb2222", ts=now),
        Event(kind="rules_rejected", ts=now, instance="web-2:22", rules_version="bbbb2222",
              message="rules/packs/pii.yaml:3: invalid YAML"),
    ])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 3)
        status = app.screen.query_one("#status", Static)
        await wait_until(pilot, lambda: "vaaaa111×1 vbbbb222×1" in str(status.render()))
        assert "rejected" in str(status.render())
        await pilot.press("f")
        table = app.screen.query_one("#instances", DataTable)
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        assert rows["web-1:11"][1] == "aaaa1111" and rows["web-1:11"][3] == "active"
        assert rows["web-2:22"][3].startswith("✗ refused") and "pii.yaml:3" in rows["web-2:22"][3]


async def test_palette_commands_filter_live(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    store[1]([verdict(1, action="block"), verdict(2)])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 2)
        await pilot.press("2", "colon")
        await pilot.press(*"Show blocked")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_mode == "live" and app.traffic.query == "action:block")
        assert [r.id for r in app.screen.query_one(EventTable).rows] == [1]


async def test_open_on_an_event_id(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    store[1]([verdict(1), redacted(2)])
    app = make_app(store, rules_dir, tmp_path, open_event=2)
    async with app.run_test(size=(140, 36)) as pilot:
        pane = app.screen.query_one(DetailPane)
        await wait_until(pilot, lambda: pane.event is not None)
        assert pane.event.id == 2 and app.screen.has_class("-detail")  # type: ignore[union-attr]


async def test_try_scans_a_text_under_the_rules_on_disk_and_the_pending_ones(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    import yaml

    from tui.screens.edit import TryScreen

    settings = yaml.safe_load((rules_dir / "policy.yaml").read_text())
    settings["detectors"]["pii"]["enabled"] = False  # two subprocess scans: keep them quick
    (rules_dir / "policy.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    before = sorted((p.name, p.read_bytes()) for p in rules_dir.rglob("*.yaml"))
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        app.ruleset.toggle("rule:email")
        await pilot.press("t")
        assert isinstance(app.screen, TryScreen)
        area = app.screen.query_one("TextArea")
        area.text = "Write to jane@corp.io please."  # type: ignore[attr-defined]
        await pilot.press("ctrl+r")
        now, after = app.screen.query_one("#before", Static), app.screen.query_one("#after", Static)
        await wait_until(pilot, lambda: "·" in str(now.render()) and "·" in str(after.render()), 120)
        assert "now: redact · EMAIL" in str(now.render()) and "[EMAIL]" in str(now.render())
        assert "after: allow · no findings" in str(after.render())
    assert sorted((p.name, p.read_bytes()) for p in rules_dir.rglob("*.yaml")) == before


async def test_mint_a_canary_from_the_console(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    from tui.screens.edit import CanaryScreen

    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await pilot.press("2", "N")
        assert isinstance(app.screen, CanaryScreen)
        app.screen.query_one("#note", Input).value = "wiki page 7"
        await pilot.press("ctrl+s")
        assert [e.key.split(":")[0] for e in app.ruleset.pending] == ["canary"]
        minted = app.ruleset.pending[0].key.split(":", 1)[1]
        assert any(minted in n.message and "plant this value" in n.message for n in app._notifications)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: getattr(app.screen, "problems", None) == [])
        await pilot.press("y")
    assert minted in (rules_dir / "canaries.yaml").read_text()


async def test_app_keys_typed_into_fields_stay_in_the_fields(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    store[1]([verdict(1)])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 1)
        await pilot.press("slash", *"q2f1?:ap")
        assert app.current_mode == "live" and app.is_running
        assert app.screen.query_one("#filter", Input).value == "q2f1?:ap"
        await pilot.press("escape", "2", "n")
        app.screen.query_one("#rule-id").focus()
        await pilot.press(*"q1f")
        assert isinstance(app.screen, NewRuleScreen) and app.screen.query_one("#rule-id", Input).value == "q1f"


async def test_ctrl_p_and_colon_open_the_command_palette(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    from textual.command import CommandPalette

    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        for key in ("ctrl+p", "colon"):
            await pilot.press(key)
            assert CommandPalette.is_open(app)
            await pilot.press("escape")
            await pilot.pause()
            assert not CommandPalette.is_open(app)


async def test_a_rule_file_that_does_not_parse_is_shown_not_a_crash(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    keywords = rules_dir / "packs" / "keywords.yaml"
    keywords.write_text(keywords.read_text() + "  - id: [unclosed\n")
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        shot = screen_text(app)
        assert "cannot read" in shot and "invalid YAML" in shot and ":21:" in shot
        assert app.ruleset.item("rule:email").enabled  # the other files are still browsable
        app.screen.query_one("#rules-tree").cursor_line = 0
        await pilot.press("down", "space")  # editable files stay editable
        assert app.is_running


async def test_every_screen_hides_the_store_password(rules_dir: Path, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/missing.db"
    secret_uri = "redis://:hunter2-secret@127.0.0.1:1/0?stream=s"  # nothing listens on port 1
    app = OutguardApp(events=secret_uri, rules=rules_dir, samples=SAMPLES / "transcripts",
                      journal=tmp_path / "j.jsonl")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.feed.error is not None)
        await wait_until(pilot, lambda: "Cannot read events" in screen_text(app))
        for mode in ("1", "2", "3", "4", "f"):
            await pilot.press(mode)
            await pilot.pause(0.2)
            assert "hunter2" not in screen_text(app), mode
            if mode == "f":
                await pilot.press("escape")
    assert uri  # a missing SQLite file is reported the same way (read-only open), see test_feed


async def test_quotas_keep_the_cursor_across_refreshes(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    now = time.time()
    store[1]([verdict(i, principal=f"p-{i}", ts=now) for i in range(5)])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 5)
        await pilot.press("3")
        table = app.screen.query_one("#quotas", DataTable)
        await wait_until(pilot, lambda: table.row_count == 5)
        await pilot.press("j", "j", "j")
        chosen = str(table.get_row_at(table.cursor_row)[0])
        await pilot.pause(2.5)  # one refresh
        assert str(table.get_row_at(table.cursor_row)[0]) == chosen
        await pilot.press("l")
        assert app.current_mode == "live" and [r.principal for r in app.screen.query_one(EventTable).rows] == [chosen]


async def test_paused_view_holds_still_while_the_ring_evicts(
    store: Store, rules_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.rows import Traffic

    original = Traffic.__init__
    monkeypatch.setattr(Traffic, "__init__", lambda self, size=300: original(self, size))
    store[1]([verdict(i) for i in range(300)])
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.traffic.total == 300)
        table = app.screen.query_one(EventTable)
        await pilot.press("g")  # paused at the top: ids 1..
        await pilot.press(*["j"] * 150)
        watched = table.current
        assert watched is not None and watched.id == 151
        store[1]([verdict(i) for i in range(300, 400)])  # 100 oldest rows leave the ring
        await wait_until(pilot, lambda: app.traffic.total == 400)
        await pilot.pause(0.2)
        assert table.current == watched and table.rows[0].id == 101 and not table.follow


async def test_staged_edits_survive_one_stray_q_and_one_stray_escape(
    store: Store, rules_dir: Path, tmp_path: Path
) -> None:
    app = make_app(store, rules_dir, tmp_path)
    async with app.run_test(size=(140, 36), notifications=True) as pilot:
        await pilot.press("2")
        app.ruleset.toggle("rule:email")
        await pilot.press("escape")
        assert len(app.ruleset.pending) == 1
        await pilot.press("q")
        assert app.is_running and len(app.ruleset.pending) == 1
        await pilot.press("escape", "escape")
        assert app.ruleset.pending == []


async def test_the_console_says_when_the_demo_firewall_died(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    app = make_app(store, rules_dir, tmp_path, companion=dead, companion_log=tmp_path / "demo-firewall.log")
    async with app.run_test(size=(140, 36), notifications=True) as pilot:
        await wait_until(pilot, lambda: any("stopped (exit 3)" in n.message for n in app._notifications))
        assert any("demo-firewall.log" in n.message for n in app._notifications)


async def test_an_unknown_event_id_is_reported(store: Store, rules_dir: Path, tmp_path: Path) -> None:
    store[1]([verdict(1)])
    app = make_app(store, rules_dir, tmp_path, open_event=99)
    async with app.run_test(size=(140, 36), notifications=True) as pilot:
        await wait_until(pilot, lambda: any("no event 99" in n.message for n in app._notifications))
