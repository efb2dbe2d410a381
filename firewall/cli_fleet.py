"""Fleet commands: `outguard rules notify` tells every instance to reload its rule files (and can
wait for each one's answer); `outguard fleet status` shows what each instance runs and reports."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from firewall.cli_options import RULES_OPTION
from firewall.errors import FirewallError, RuleError
from firewall.events.event import Event
from firewall.policy.loader import POLICY_FILE, check_rules, load_policy, policy_version, rule_files
from firewall.policy.policy import Policy
from firewall.policy.schema import PolicyModel

if TYPE_CHECKING:
    from firewall.events.store import Reader

TAIL_BATCH = 1000
"""Events read per call while waiting for the fleet's answers."""

_EVENTS = click.option(
    "--events", default=None, help="The fleet's event stream (redis://...?stream=...); default: the policy's 'events:'."
)


def register(main: click.Group) -> None:
    """Add `rules notify` and the `fleet` group to the `outguard` command."""
    rules = main.commands["rules"]
    assert isinstance(rules, click.Group)
    rules.add_command(notify)
    main.add_command(fleet)


@click.command("notify")
@RULES_OPTION
@click.option("--notices", default=None, help="Redis URL of the notices; default: the policy's fleet.notices.")
@click.option("--channel", default=None, help="Pub/sub channel; default: the policy's fleet.channel.")
@click.option("--force", is_flag=True, help="Announce even if the rules do not load here.")
@click.option("--wait", "wait_s", default=0.0, show_default=True, help="Seconds to wait for each instance's answer.")
@_EVENTS
def notify(
    rules_dir: Path, notices: str | None, channel: str | None, force: bool, wait_s: float, events: str | None
) -> None:
    """Tell every instance of the fleet that the rule files changed (deploy the files first).

    Each instance reloads its own files and answers with a rules_reloaded or rules_rejected event.
    With --wait, print each instance's answer and exit 1 unless all run the announced version.
    """
    from firewall.watch import CHANNEL, publish_notice

    problems = check_rules(rules_dir)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems and not force:
        reason = "not announcing rules that do not load here (--force to)"
        raise click.ClickException(f"{len(problems)} problem(s): {reason}")
    policy = _policy(rules_dir)
    version = policy.version if policy else policy_version(rule_files(rules_dir), rules_dir)
    settings = _settings(rules_dir)  # policy.yaml alone: it may still be readable when a pack is not
    fleet = settings.fleet if settings else None
    url = notices or (fleet.notices if fleet else None)
    if not url:
        raise click.ClickException("no notices URL: give --notices redis://... or set fleet.notices in policy.yaml")
    channel = channel or (fleet.channel if fleet else CHANNEL)
    reader = _reader(events or (settings.events if settings else None)) if wait_s > 0 else None
    try:
        mark = _newest(reader) if reader else 0  # answers are the events written after this one
        try:
            listening = publish_notice(url, channel, version)
        except FirewallError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"notice for rules version {version} sent on {channel}: {listening} instance(s) listening")
        if reader is None:
            return
        answers = _answers(reader, mark, listening, wait_s)
    finally:
        if reader is not None:
            reader.close()
    failed = _print_answers(answers, version)
    if len(answers) < listening:
        click.echo(f"{listening - len(answers)} listening instance(s) did not answer within {wait_s:g} s", err=True)
    sys.exit(1 if failed or len(answers) < listening else 0)


def _answers(reader: Reader, mark: int, listening: int, wait_s: float) -> dict[str, Event]:
    """instance -> its latest reload event written after event `mark` (ids increase in the order
    events were written, whatever the instances' clocks say), until all answered or time is up."""
    answers: dict[str, Event] = {}
    deadline = time.monotonic() + wait_s
    while True:
        batch = _call(reader.tail, mark, TAIL_BATCH)
        for event in batch:
            mark = max(mark, event.id or 0)
            if event.kind in ("rules_reloaded", "rules_rejected"):
                answers[event.instance] = event
        if len(answers) >= listening or time.monotonic() > deadline:
            return answers
        if len(batch) < TAIL_BATCH:  # caught up: wait for more; a full batch means more is waiting
            time.sleep(0.1)


def _print_answers(answers: dict[str, Event], version: str) -> int:
    failed = 0
    for instance, event in sorted(answers.items()):
        if event.kind == "rules_rejected":
            outcome, failed = "REJECTED (keeps its rules)", failed + 1
        elif event.rules_version != version:
            outcome, failed = "OTHER VERSION (its files differ)", failed + 1
        else:
            outcome = "ok"
        click.echo(f"{instance:<32} {event.rules_version or '-':<14} {outcome}")
        if event.kind == "rules_rejected":
            for line in (event.message or "").splitlines()[:5]:
                click.echo(f"    {line}")
    return failed


@click.group()
def fleet() -> None:
    """See the instances that write to one event stream."""


@dataclass
class _Instance:
    seen: float = 0.0
    version: str | None = None
    verdicts: int = 0
    shadow_hits: int = 0
    dropped: int = 0
    reload: Event | None = None
    actions: dict[str, int] = field(default_factory=dict)


@fleet.command("status")
@RULES_OPTION
@_EVENTS
@click.option("--last", default=10_000, show_default=True, help="How many of the newest events to read.")
def status(rules_dir: Path, events: str | None, last: int) -> None:
    """Per instance: its rules version, its last reload, what it decided and dropped lately.

    Instances whose version differs from the rules folder here are marked with '!'.
    """
    policy = _policy(rules_dir)
    reader = _reader(events or (policy.events if policy else None))
    try:
        recent = reader.latest(last)
    except FirewallError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        reader.close()
    instances = _summarise(recent)
    here = policy.version if policy else None
    click.echo(f"{len(instances)} instance(s) in the newest {len(recent)} events; rules here: {here or 'do not load'}")
    columns = f"{'version':<13} {'last seen':>9} {'verdicts':>8} {'shadow':>6} {'dropped':>7}"
    click.echo(f"  {'instance':<32} {columns}  last reload")
    now = time.time()
    for name, seen in sorted(instances.items()):
        flag = "!" if here and seen.version and seen.version != here else " "
        reload = "-"
        if seen.reload is not None:
            mark = "✗" if seen.reload.kind == "rules_rejected" else "✓"
            first = (seen.reload.message or "").splitlines()[0] if seen.reload.message else ""
            reload = f"{mark} {first if len(first) <= 70 else '…' + first[-69:]}"
        click.echo(
            f"{flag} {name:<32} {seen.version or '-':<13} {_age(now - seen.seen):>9} {seen.verdicts:>8} "
            f"{seen.shadow_hits:>6} {seen.dropped:>7}  {reload}"
        )


def _summarise(events: Iterable[Event]) -> dict[str, _Instance]:
    instances: dict[str, _Instance] = {}
    for event in events:
        if not event.instance:
            continue  # an unreadable entry
        seen = instances.setdefault(event.instance, _Instance())
        seen.seen = max(seen.seen, event.ts)
        if event.rules_version:
            seen.version = event.rules_version
        if event.kind == "verdict":
            seen.verdicts += 1
            seen.shadow_hits += sum(f.shadow for f in event.findings)
        elif event.kind == "events_dropped":
            seen.dropped += event.dropped or 0
        elif event.kind in ("rules_reloaded", "rules_rejected"):
            seen.reload = event
    return instances


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{max(0, seconds):.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"


def _policy(rules_dir: Path) -> Policy | None:
    try:
        return load_policy(rules_dir)
    except RuleError:
        return None


def _settings(rules_dir: Path) -> PolicyModel | None:
    """The settings of policy.yaml on their own (fleet, events), or None if it does not validate."""
    try:
        return PolicyModel.model_validate(yaml.safe_load((rules_dir / POLICY_FILE).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError):
        return None


def _reader(uri: str | None) -> Reader:
    from firewall.errors import ConfigError
    from firewall.events.store import open_reader

    if not uri:
        raise click.ClickException("no event stream: give --events redis://...?stream=... or set policy events:")
    try:
        return open_reader(uri)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _newest(reader: Reader) -> int:
    latest = _call(reader.latest, 1)
    return (latest[-1].id or 0) if latest else 0


def _call(method: Callable[..., list[Event]], *args: object) -> list[Event]:
    try:
        return method(*args)
    except FirewallError as exc:
        raise click.ClickException(str(exc)) from exc
