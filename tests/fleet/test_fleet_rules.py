"""Rules across a fleet of two firewall processes: a changed rule file reaches both (file watch, or
a Redis pub/sub notice), both report the new version in their events, and a broken file is
refused by both, each keeping (and scanning with) its last good rules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from firewall import load_policy
from firewall.cli import main
from firewall.events.event import Event
from firewall.events.store import open_reader
from tests.conftest import ROOT
from tests.firewall.test_reload import BROKEN_PACK, EXTRA_PACK  # the same rule change, across processes
from tests.fleet.conftest import REDIS, lean_rules, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.slow]

OLD_OUTPUT = "the Zebra Accord and [EMAIL]"
NEW_OUTPUT = "the [CONFIDENTIAL] and [EMAIL]"


@dataclass
class Fleet:
    """Two `tests.fleet.instance` processes on one rules folder, writing one event stream."""

    rules: Path
    stream: str
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    @property
    def instances(self) -> list[str]:
        return [str(p.pid) for p in self.processes]

    def events(self) -> list[Event]:
        reader = open_reader(self.stream)
        try:
            return reader.tail(limit=1_000_000)
        finally:
            reader.close()

    def each(self, test: Callable[[list[Event]], bool]) -> Callable[[], bool]:
        """A condition: `test` holds for the events of each instance (in stream order)."""

        def check() -> bool:
            events = self.events()
            mine = {pid: [e for e in events if e.instance.endswith(f":{pid}")] for pid in self.instances}
            return all(test(found) for found in mine.values())

        return check

    def wait(self, test: Callable[[list[Event]], bool], what: str) -> None:
        if not wait_until(self.each(test), timeout=90):
            logs = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs)
            pytest.fail(f"not every instance {what} within 90 s\n{logs}")


@pytest.fixture
def fleet_of(tmp_path: Path, stream_uri: str) -> Iterator[Callable[..., Fleet]]:
    started: list[Fleet] = []

    def start(**rules_settings: object) -> Fleet:
        rules = lean_rules(tmp_path / "rules", **rules_settings)  # type: ignore[arg-type]
        logs = [tmp_path / f"instance-{i}.log" for i in range(2)]
        processes = []
        for log in logs:
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "tests.fleet.instance", str(rules), stream_uri],
                        cwd=ROOT, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                    )
                )
        started.append(Fleet(rules, stream_uri, processes, logs))
        return started[-1]

    yield start
    for fleet in started:
        for process in fleet.processes:
            if process.stdin:
                process.stdin.close()
        for process in fleet.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def scanning_with(version: str, output: str) -> Callable[[list[Event]], bool]:
    return lambda events: any(e.kind == "verdict" and e.rules_version == version and e.output == output for e in events)


def after(kind: str, version: str, then: Callable[[Event], bool] | None = None) -> Callable[[list[Event]], bool]:
    """An event of `kind` carrying `version` and, when `then` is given, a later verdict passing it."""

    def test(events: list[Event]) -> bool:
        marks = [i for i, e in enumerate(events) if e.kind == kind and e.rules_version == version]
        if not marks:
            return False
        return then is None or any(e.kind == "verdict" and then(e) for e in events[marks[0] + 1 :])

    return test


def test_a_rule_change_on_disk_reaches_both_processes_and_a_broken_one_is_refused_by_both(
    fleet_of: Callable[..., Fleet],
) -> None:
    fleet = fleet_of(watch_seconds=0.1)
    old = load_policy(fleet.rules).version
    fleet.wait(scanning_with(old, OLD_OUTPUT), "scanned with the first rules")

    (fleet.rules / "packs" / "extra.yaml").write_text(EXTRA_PACK)
    new = load_policy(fleet.rules).version
    fleet.wait(after("rules_reloaded", new, lambda e: e.rules_version == new and e.output == NEW_OUTPUT), "reloaded")

    reloads = [e for e in fleet.events() if e.kind == "rules_reloaded"]
    assert {e.message for e in reloads} == {f"{old} -> {new}"} and len(reloads) == 2
    broken = fleet.rules / "packs" / "extra.yaml"
    broken.write_text(BROKEN_PACK)
    fleet.wait(
        after("rules_rejected", new, lambda e: e.rules_version == new and e.output == NEW_OUTPUT),
        "refused the broken file and kept scanning with the last good rules",
    )

    rejects = [e for e in fleet.events() if e.kind == "rules_rejected"]
    assert {e.rules_version for e in rejects} == {new}
    assert all(e.message and e.message.startswith(f"{broken}:4: ") for e in rejects)
    assert not any("Zebra" in (e.message or "") for e in rejects)  # the loader's error, not the file


def test_a_notice_makes_both_processes_reload_and_notify_waits_for_their_answers(
    fleet_of: Callable[..., Fleet], name: str, stream_uri: str
) -> None:
    """Files are polled only hourly here: the pub/sub notice is what reaches the instances."""
    channel = f"test:rules:{name}"
    fleet = fleet_of(watch_seconds=3600, extra=f"\nfleet:\n  notices: {REDIS}\n  channel: {channel}\n")
    old = load_policy(fleet.rules).version
    fleet.wait(after("rules_reloaded", old, lambda e: e.output == OLD_OUTPUT), "subscribed and scanned")
    assert all("subscribed to rules notices" in (e.message or "") for e in fleet.events() if e.kind == "rules_reloaded")

    (fleet.rules / "packs" / "extra.yaml").write_text(EXTRA_PACK)
    new = load_policy(fleet.rules).version
    notify = ["rules", "notify", "--rules", str(fleet.rules), "--wait", "90", "--events", stream_uri]
    result = CliRunner().invoke(main, notify)

    assert result.exit_code == 0, result.output
    assert f"notice for rules version {new} sent on {channel}: 2 instance(s) listening" in result.output
    assert sum(line.endswith(" ok") and new in line for line in result.output.splitlines()) == 2
    fleet.wait(after("rules_reloaded", new, lambda e: e.output == NEW_OUTPUT), "reloaded on the notice")
    notices = [e for e in fleet.events() if e.kind == "rules_reloaded" and e.rules_version == new]
    assert all(e.message and e.message.startswith(f"{old} -> {new}; notice from ") for e in notices)

    (fleet.rules / "packs" / "extra.yaml").write_text(BROKEN_PACK)
    refused = CliRunner().invoke(main, notify)
    assert refused.exit_code == 1 and "not announcing rules that do not load here" in refused.output

    forced = CliRunner().invoke(main, [*notify, "--force"])
    assert forced.exit_code == 1
    assert sum("REJECTED (keeps its rules)" in line for line in forced.output.splitlines()) == 2
    fleet.wait(after("rules_rejected", new, lambda e: e.rules_version == new and e.output == NEW_OUTPUT), "refused")

    status = CliRunner().invoke(main, ["fleet", "status", "--rules", str(fleet.rules), "--events", stream_uri])
    assert status.exit_code == 0, status.output
    rows = [line for line in status.output.splitlines() if any(f":{pid} " in line for pid in fleet.instances)]
    assert len(rows) == 2 and all(new in row and "✗" in row for row in rows)
