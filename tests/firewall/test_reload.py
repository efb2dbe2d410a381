"""Reloading rules: good edits swap in atomically, bad edits leave the old policy in force."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firewall import Firewall
from firewall.model import Verdict
from firewall.testing import capture_events
from firewall.watch import RulesWatcher
from tests.conftest import KEY

EXTRA_PACK = """\
rules:
  - id: zebra
    label: CONFIDENTIAL
    terms: [Zebra Accord]
    ignore_case: true
    examples: {match: ['the zebra accord'], no_match: ['a zebra']}
"""
BROKEN_PACK = "rules:\n  - id: zebra\n    label: CONFIDENTIAL\n      terms: [Zebra Accord]\n"
TEXT = "the Zebra Accord and jane@corp.io"
OLD_TEXT = "the Zebra Accord and [EMAIL]"
NEW_TEXT = "the [CONFIDENTIAL] and [EMAIL]"


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; the result is the last check."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        time.sleep(0.01)
    return True


@pytest.fixture
def live(rules_dir: Path) -> Iterator[Firewall]:
    """A firewall on the editable rules copy, without events."""
    firewall = Firewall.from_rules(rules_dir, events=False, key=KEY)
    yield firewall
    firewall.close()


def test_reload_applies_an_added_rule_to_the_next_scan(live: Firewall, rules_dir: Path) -> None:
    """After a pack gains a term rule, reload() changes the version and the term is redacted."""
    before = live.rules_version
    assert live.scan(TEXT).text == OLD_TEXT
    (rules_dir / "packs" / "extra.yaml").write_text(EXTRA_PACK)

    assert live.reload() is True

    assert live.rules_version != before
    verdict = live.scan(TEXT)
    assert verdict.text == NEW_TEXT
    assert verdict.rules_version == live.rules_version
    assert live.last_reload_error is None


def test_reload_without_changes_keeps_the_version(live: Firewall) -> None:
    """Reloading unchanged rules succeeds and emits nothing."""
    before = live.rules_version

    with capture_events(live) as events:
        assert live.reload() is True

    assert live.rules_version == before
    assert events == []


def test_broken_edit_keeps_the_old_policy(live: Firewall, rules_dir: Path) -> None:
    """A pack with a bad indent is refused with file:line, and the old rules still redact."""
    before = live.rules_version
    path = rules_dir / "packs" / "extra.yaml"
    path.write_text(BROKEN_PACK)

    assert live.reload() is False

    assert f"{path}:4:" in str(live.last_reload_error)
    assert live.rules_version == before
    verdict = live.scan("write to jane@corp.io")
    assert verdict.text == "write to [EMAIL]"
    assert verdict.rules_version == before


def test_broken_edit_emits_rules_rejected(live: Firewall, rules_dir: Path) -> None:
    """A refused reload becomes one rules_rejected event carrying the file:line message."""
    path = rules_dir / "packs" / "extra.yaml"
    path.write_text(BROKEN_PACK)

    with capture_events(live) as events:
        live.reload()

    assert [e.kind for e in events] == ["rules_rejected"]
    assert f"{path}:4:" in (events[0].message or "")
    assert events[0].rules_version == live.rules_version


def test_good_reload_emits_rules_reloaded_and_clears_the_error(
    live: Firewall, rules_dir: Path
) -> None:
    """Fixing a broken pack reloads, clears the error and emits rules_reloaded "old -> new"."""
    before = live.rules_version
    path = rules_dir / "packs" / "extra.yaml"
    path.write_text(BROKEN_PACK)
    live.reload()
    path.write_text(EXTRA_PACK)

    with capture_events(live) as events:
        assert live.reload() is True

    assert live.last_reload_error is None
    assert [e.kind for e in events] == ["rules_reloaded"]
    assert events[0].rules_version == live.rules_version != before
    assert events[0].message == f"{before} -> {live.rules_version}"


def test_watcher_reloads_after_an_edit(live: Firewall, rules_dir: Path) -> None:
    """With watch(0.05), adding a pack changes the active version without a reload() call."""
    before = live.rules_version
    live.watch(0.05)
    (rules_dir / "packs" / "extra.yaml").write_text(EXTRA_PACK)

    assert wait_until(lambda: live.rules_version != before)

    assert live.scan(TEXT).text == NEW_TEXT


def test_watcher_keeps_old_rules_on_a_broken_edit(live: Firewall, rules_dir: Path) -> None:
    """A watched folder receiving a broken pack records the error and keeps redacting."""
    before = live.rules_version
    live.watch(0.05)
    path = rules_dir / "packs" / "extra.yaml"
    path.write_text(BROKEN_PACK)

    assert wait_until(lambda: live.last_reload_error is not None)

    assert f"{path}:4:" in str(live.last_reload_error)
    assert live.rules_version == before
    assert live.scan("jane@corp.io").text == "[EMAIL]"


def test_from_rules_watch_uses_policy_watch_seconds(rules_dir: Path) -> None:
    """from_rules(watch=True) polls at the policy's watch_seconds and picks up edits.

    Not a tight timing bound (machines get busy): a 0.05 s watcher reloads well before a 60 s one."""
    policy_file = rules_dir / "policy.yaml"
    settings = policy_file.read_text()
    assert "watch_seconds: 1.0" in settings
    policy_file.write_text(settings.replace("watch_seconds: 1.0", "watch_seconds: 0.05"))
    fast = Firewall.from_rules(rules_dir, events=False, key=KEY, watch=True)
    policy_file.write_text(settings.replace("watch_seconds: 1.0", "watch_seconds: 60"))
    slow = Firewall.from_rules(rules_dir, events=False, key=KEY, watch=True)
    try:
        before_fast, before_slow = fast.rules_version, slow.rules_version
        (rules_dir / "packs" / "extra.yaml").write_text(EXTRA_PACK)

        assert wait_until(lambda: fast.rules_version != before_fast, timeout=10)
        assert slow.rules_version == before_slow
    finally:
        fast.close()
        slow.close()


def test_close_stops_the_watcher(live: Firewall, rules_dir: Path) -> None:
    """After close(), edits to the folder are no longer picked up."""
    live.watch(0.05)
    live.close()
    before = live.rules_version
    (rules_dir / "packs" / "extra.yaml").write_text(EXTRA_PACK)

    assert not wait_until(lambda: live.rules_version != before, timeout=0.3)


def test_scans_during_reloads_never_see_a_half_built_policy(
    live: Firewall, rules_dir: Path
) -> None:
    """While the rules flip 20 times between two versions, every verdict matches its own version."""
    extra = rules_dir / "packs" / "extra.yaml"
    old_version = live.rules_version
    seen: list[Verdict] = []
    stop = threading.Event()

    def scan_forever() -> None:
        while not stop.is_set():
            seen.append(live.scan(TEXT))

    worker = threading.Thread(target=scan_forever)
    worker.start()
    versions = {old_version}
    try:
        for flip in range(20):
            if flip % 2 == 0:
                extra.write_text(EXTRA_PACK)
            else:
                extra.unlink()
            assert live.reload() is True
            versions.add(live.rules_version)
            current = live.rules_version
            assert wait_until(lambda: bool(seen) and seen[-1].rules_version == current)
    finally:
        stop.set()
        worker.join()

    assert len(versions) == 2
    new_version = (versions - {old_version}).pop()
    expected = {old_version: OLD_TEXT, new_version: NEW_TEXT}
    assert {v.rules_version for v in seen} == versions
    assert all(v.text == expected[v.rules_version] for v in seen)


def test_the_watcher_outlives_a_failing_reload_and_tries_the_change_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload that raises something other than RuleError (a file removed between listing and
    hashing raised FileNotFoundError) used to end the watch thread: no reload after that, ever."""
    pack = tmp_path / "pack.yaml"
    pack.write_text("rules: []\n")
    calls: list[int] = []

    def reload() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise FileNotFoundError(2, "No such file or directory", "secret-looking-name.yaml")

    watcher = RulesWatcher(tmp_path, reload, interval=0.02)
    try:
        pack.write_text("rules: [] # edited\n")
        assert wait_until(lambda: len(calls) == 2)  # retried at the next poll, and done
        pack.write_text("rules: [] # edited again\n")
        assert wait_until(lambda: len(calls) == 3)
        assert watcher._thread.is_alive()
    finally:
        watcher.stop()

    [record] = [r for r in caplog.records if r.name == "firewall.watch"]
    assert "FileNotFoundError" in record.getMessage() and "secret-looking" not in record.getMessage()
