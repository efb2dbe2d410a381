"""Rules-changed notices on Redis pub/sub, in one process: what a notice may carry, how an instance
answers it, and a listener that outlives Redis going away."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firewall import Firewall, check_rules, load_policy
from firewall.errors import ConfigError
from firewall.events.event import Event
from firewall.testing import capture_events
from firewall.watch import Notice, NoticeListener, publish_notice
from tests.conftest import KEY
from tests.fleet.conftest import REDIS, Proxy, lean_rules, wait_until

pytestmark = pytest.mark.redis

EXTRA_PACK = (
    "rules:\n  - id: zebra\n    label: CONFIDENTIAL\n    terms: [Zebra Accord]\n"
    "    examples: {match: ['the Zebra Accord']}\n"
)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ('{"version": "0123abcd", "sender": "host-1:42"}', Notice("0123abcd", "host-1:42")),
        ('{"version": "[red]boom[/red]", "sender": "x\\ny"}', Notice(None, None)),
        ('{"version": 12, "sender": ["a"]}', Notice(None, None)),
        ("not json at all", Notice()),
        (b'["a list"]', Notice()),
    ],
)
def test_a_notice_carries_only_what_looks_right(payload: str | bytes, expected: Notice) -> None:
    """Anyone who may publish can send anything: odd fields are dropped, never trusted."""
    assert Notice.parse(payload) == expected


def test_the_reload_message_says_what_happened() -> None:
    assert Notice(subscribed=True).describe("a1", "a1") == "a1 -> a1 (unchanged); subscribed to rules notices"
    assert Notice("b2", "h:1").describe("a1", "b2") == "a1 -> b2; notice from h:1"
    assert Notice("c3", None).describe("a1", "b2") == (
        "a1 -> b2; notice from an unnamed sender announced c3, but the files here are b2"
    )


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return lean_rules(tmp_path / "rules", watch_seconds=3600)


@pytest.fixture
def listening(rules: Path, name: str, redis_db: object) -> Iterator[tuple[Firewall, list[Event], str]]:
    """A firewall subscribed to a private channel (files polled only hourly), and its events."""
    channel = f"test:rules:{name}"
    fw = Firewall.from_rules(rules, events=False, key=KEY)
    with capture_events(fw) as events:
        fw.watch(notices=REDIS, channel=channel)
        assert fw._notices is not None and fw._notices.subscribed.wait(30)
        assert wait_until(lambda: len(events) == 1)
        yield fw, events, channel
    fw.close()


def test_subscribing_reloads_and_reports_at_once(listening: tuple[Firewall, list[Event], str]) -> None:
    """Pub/sub keeps nothing for an absent subscriber, so (re)subscribing is itself a reload."""
    fw, events, _ = listening

    assert [(e.kind, e.rules_version) for e in events] == [("rules_reloaded", fw.rules_version)]
    assert events[0].message == f"{fw.rules_version} -> {fw.rules_version} (unchanged); subscribed to rules notices"


def test_a_notice_reloads_the_files_and_an_unchanged_one_is_still_answered(
    listening: tuple[Firewall, list[Event], str], rules: Path
) -> None:
    fw, events, channel = listening
    old = fw.rules_version
    (rules / "packs" / "extra.yaml").write_text(EXTRA_PACK)
    new = load_policy(rules).version

    assert publish_notice(REDIS, channel, new) == 1
    assert wait_until(lambda: fw.rules_version == new)
    assert publish_notice(REDIS, channel, new) == 1
    assert wait_until(lambda: len(events) == 3)

    answers = [e.message.split("; ")[0] for e in events[1:] if e.message]
    assert answers == [f"{old} -> {new}", f"{new} -> {new} (unchanged)"]
    assert fw.scan("the Zebra Accord").text == "the [CONFIDENTIAL]"


def test_an_instance_whose_files_differ_says_so(listening: tuple[Firewall, list[Event], str]) -> None:
    fw, events, channel = listening

    publish_notice(REDIS, channel, "feedfacecafe")

    assert wait_until(lambda: len(events) == 2)
    assert events[1].message
    assert events[1].message.endswith(f"announced feedfacecafe, but the files here are {fw.rules_version}")


def test_a_broken_file_on_notice_is_rejected_with_the_old_rules_kept(
    listening: tuple[Firewall, list[Event], str], rules: Path
) -> None:
    fw, events, channel = listening
    old = fw.rules_version
    broken = rules / "packs" / "extra.yaml"
    broken.write_text(EXTRA_PACK.replace("    terms:", "      terms:"))

    publish_notice(REDIS, channel, "0")

    assert wait_until(lambda: len(events) == 2)
    assert (events[1].kind, events[1].rules_version) == ("rules_rejected", old)
    assert events[1].message and events[1].message.startswith(f"{broken}:")
    assert fw.rules_version == old and fw.last_reload_error is not None


def test_a_rejected_message_holds_at_most_twenty_problems(rules: Path) -> None:
    fw = Firewall.from_rules(rules, events=False, key=KEY)
    for i in range(25):
        (rules / "packs" / f"bad{i}.yaml").write_text("rules: [")
    with capture_events(fw) as events:
        fw.reload()
    fw.close()

    lines = (events[0].message or "").splitlines()
    assert len(lines) == 21 and lines[-1] == "... and 5 more problems"


def test_a_listener_on_a_dead_redis_never_gets_in_the_way_and_subscribes_once_it_is_back(
    rules: Path, proxy: Proxy, name: str
) -> None:
    proxy.set("refuse")
    fw = Firewall.from_rules(rules, events=False, key=KEY)
    with capture_events(fw) as events:
        fw.watch(notices=proxy.url(), channel=f"test:rules:{name}")
        assert fw.scan("mail jane@corp.io").text == "mail [EMAIL]"
        assert fw._notices is not None and not fw._notices.subscribed.wait(0.5)

        proxy.set("pass")
        assert fw._notices.subscribed.wait(60)
        assert wait_until(lambda: len(reloads(events)) == 1)
        proxy.set("refuse")  # cut: the listener notices, retries, and reloads again on return
        assert wait_until(lambda: not fw._notices.subscribed.is_set())
        proxy.set("pass")
        assert wait_until(lambda: len(reloads(events)) == 2)
    fw.close()

    assert all("subscribed to rules notices" in (e.message or "") for e in reloads(events))


def reloads(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind != "verdict"]


def test_the_fleet_block_is_validated_at_its_line(rules: Path) -> None:
    policy_file = rules / "policy.yaml"
    policy_file.write_text(policy_file.read_text() + "\nfleet:\n  notices: http://example.org/\n")

    [problem] = check_rules(rules)

    assert problem.path == policy_file and problem.line == len(policy_file.read_text().splitlines())
    assert "fleet.notices" in problem.message


def test_a_bad_notices_url_given_in_code_is_a_config_error(rules: Path) -> None:
    fw = Firewall.from_rules(rules, events=False, key=KEY)
    with pytest.raises(ConfigError, match="not a Redis URI"):
        fw.watch(notices="http://example.org/")
    fw.close()


def test_a_listener_on_a_link_that_went_silent_resubscribes_and_reloads(proxy: Proxy, name: str) -> None:
    """A half-open link (Redis still "connected" but nothing comes back) looks like a quiet
    channel; the listener's ping goes unanswered, so it resubscribes, reloads, and hears notices."""
    channel = f"test:rules:{name}"
    heard: list[Notice] = []
    listener = NoticeListener(proxy.url(), channel, heard.append, heartbeat=0.3)
    try:
        assert listener.subscribed.wait(30) and wait_until(lambda: len(heard) == 1)
        proxy.set("stall")
        assert wait_until(lambda: not listener.subscribed.is_set(), timeout=10)
        proxy.set("pass")
        assert wait_until(lambda: listener.subscribed.is_set() and len(heard) == 2)
        assert wait_until(lambda: publish_notice(REDIS, channel, "0123abcd") == 1)
        assert wait_until(lambda: any(n.version == "0123abcd" for n in heard))
    finally:
        listener.stop()

    assert heard[:2] == [Notice(subscribed=True)] * 2


def test_quiet_pings_are_answered_and_keep_the_subscription(redis_db: object, name: str) -> None:
    heard: list[Notice] = []
    listener = NoticeListener(REDIS, f"test:rules:{name}", heard.append, heartbeat=0.1)
    try:
        assert listener.subscribed.wait(30)
        time.sleep(1.5)  # many pings, each answered in time
        assert listener.subscribed.is_set() and heard == [Notice(subscribed=True)]
    finally:
        listener.stop()
