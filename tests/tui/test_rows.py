"""The live view's data: rows from events, the filter language, the ring and its filtered view."""

from __future__ import annotations

import pytest

from tests.tui.conftest import finding, redacted, verdict
from tui.rows import FilterError, Row, Traffic, parse_filter, printable


def rows(*events):  # type: ignore[no-untyped-def]
    return [Row.from_event(e.__class__(**{**e.__dict__, "id": i + 1})) for i, e in enumerate(events)]


def test_row_shows_fail_status_as_the_action_and_counts_shadow_hits_apart() -> None:
    failed, shadowed = rows(
        verdict(1, action="block", status="fail_closed"),
        verdict(2, findings=(finding("ORDER", 0, 4, shadow=True, rule="order-numbers"),)),
    )
    assert failed.action == "fail-closed"
    assert shadowed.labels == () and shadowed.shadow == ("order-numbers",)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action:redact", [2]),
        ("!action:redact", [1, 3]),
        ("label:EMAIL", [2]),
        ("principal:client-3", [3]),
        ("action:fail", [1]),  # prefix: fail-open and fail-closed
        ("number 3", [3]),  # free words search the preview and principal
        ("rule:email action:redact", [2]),
        ("", [1, 2, 3]),
    ],
)
def test_filter_tokens_are_anded_prefix_matched_and_negatable(query: str, expected: list[int]) -> None:
    view = rows(verdict(1, action="block", status="fail_open"), redacted(2), verdict(3))
    match = parse_filter(query)
    assert [r.id for r in view if match(r)] == expected


def test_unknown_field_is_an_error_not_a_silent_free_text() -> None:
    with pytest.raises(FilterError, match="unknown field 'colour'"):
        parse_filter("colour:red")
    assert parse_filter("https://example.org")  # a URL is free text


def test_ring_evicts_oldest_and_reports_how_many_left_the_view() -> None:
    traffic = Traffic(size=5)
    traffic.set_filter("action:redact")
    first = rows(*(redacted(i) if i % 2 else verdict(i) for i in range(8)))
    assert traffic.add(first[:5]) == 0
    assert [r.id for r in traffic.view] == [2, 4]
    evicted = traffic.add(first[5:])  # ids 1..3 leave the ring
    assert evicted == 1
    assert [r.id for r in traffic.view] == [4, 6, 8]
    assert traffic.total == 8 and traffic.actions["redact"] == 4


def test_bad_filter_keeps_the_old_one() -> None:
    traffic = Traffic()
    traffic.add(rows(redacted(1), verdict(2)))
    traffic.set_filter("action:allow")
    with pytest.raises(FilterError):
        traffic.set_filter("nope:x")
    assert traffic.query == "action:allow" and [r.id for r in traffic.view] == [2]


def test_printable_replaces_controls_and_format_chars_one_for_one() -> None:
    hostile = "a\x1b[31mb\u202ec\u200dd\ne"
    shown = printable(hostile, keep="\n")
    assert len(shown) == len(hostile)
    assert "\x1b" not in shown and "\u202e" not in shown and "\u200d" not in shown and "\n" in shown


def test_instances_report_versions_refusals_and_files_that_differ_from_a_notice() -> None:
    import time

    from firewall.events.event import Event

    now = time.time()
    events = [
        Event(kind="rules_reloaded", ts=now, instance="a:1", rules_version="v2", message="v1 -> v2; notice from ops:9"),
        Event(kind="rules_reloaded", ts=now, instance="b:2", rules_version="v1",
              message="v1 -> v1 (unchanged); notice from ops:9 announced v2, but the files here are v1"),
        Event(kind="rules_rejected", ts=now, instance="c:3", rules_version="v1",
              message="rules/packs/pii.yaml:3: invalid YAML " + "x" * 200),
    ]
    traffic = Traffic()
    traffic.add(rows(*events))
    assert traffic.versions() == {"a:1": "v2", "b:2": "v1", "c:3": "v1"}
    assert set(traffic.differing) == {"b:2"} and set(traffic.rejected) == {"c:3"}
    assert traffic.rejected["c:3"].startswith("rules/packs/pii.yaml:3: invalid YAML")
    traffic.add(rows(Event(kind="rules_reloaded", ts=now, instance="b:2", rules_version="v2", message="v1 -> v2")))
    assert traffic.differing == {}


def test_exact_tokens_match_whole_values_prefix_tokens_match_starts() -> None:
    from tui.rows import exact_token

    view = rows(verdict(1, principal="client-1"), verdict(2, principal="client-10"),
                verdict(3, principal="team blue"))
    assert [r.id for r in view if parse_filter("principal:client-1")(r)] == [1, 2]
    assert [r.id for r in view if parse_filter(exact_token("principal", "client-1"))(r)] == [1]
    assert [r.id for r in view if parse_filter(exact_token("principal", "team blue"))(r)] == [3]
    assert [r.id for r in view if parse_filter("!" + exact_token("principal", "client-1"))(r)] == [2, 3]


def test_aborted_streams_and_quota_errors_are_visible_actions() -> None:
    from firewall.events.event import Event

    aborted, quota_error = rows(verdict(1, status="aborted"), Event(kind="quota_error", message="ConnectionError"))
    assert aborted.action == "aborted" and quota_error.action == "quota error"
    assert parse_filter("action:abort")(aborted)


def test_a_stream_that_began_before_a_reload_does_not_roll_the_version_back() -> None:
    import time

    from firewall.events.event import Event

    now = time.time()
    traffic = Traffic()
    traffic.add(rows(
        verdict(1, instance="a:1", version="v1", ts=now),
        Event(kind="rules_reloaded", ts=now + 1, instance="a:1", rules_version="v2", message="v1 -> v2"),
        verdict(3, instance="a:1", version="v1", ts=now + 2),  # its scan started under v1
        verdict(4, instance="b:2", version="v1", ts=now + 2),  # no rules events seen from b: trust verdicts
    ))
    assert traffic.versions() == {"a:1": "v2", "b:2": "v1"}
    assert traffic.instances["a:1"][1] == now + 2  # still counts as active
