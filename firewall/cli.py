"""The `outguard` command line: scan, replay, rules check, tui, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import click
import yaml

from firewall.cli_options import EVENTS_ENV, RULES_OPTION
from firewall.errors import ConfigError, RuleError
from firewall.events.store import DEFAULT_STORE
from firewall.policy.loader import POLICY_FILE, check_rules, load_policy

EVENTS_OPTION = click.option(
    "--events",
    default=None,
    envvar=EVENTS_ENV,
    help="Event sink URI (sqlite:///path.db, jsonl:///path.jsonl, redis://...); also from $OUTGUARD_EVENTS; "
    "default: the policy's 'events:', 'none' for none.",
)


def _firewall(rules_dir: Path, events: str | None, corpora: tuple[Path, ...] = ()):  # type: ignore[no-untyped-def]
    from firewall.firewall import Firewall

    try:
        policy = load_policy(rules_dir)
        if corpora:
            policy = policy.with_corpora([path.resolve() for path in corpora])
        return Firewall(policy, events=False if events == "none" else events)
    except RuleError as exc:
        raise click.ClickException(f"the rules do not load:\n{exc}") from exc
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


SCAN_WITHHELD = 3
"""`outguard scan` exit status when a detector failed and the response was withheld (fail-closed):
the scan could not be completed. Whatever the rules decided (allow, redact, block) exits 0."""


@click.group()
@click.version_option(package_name="outguard")
def main() -> None:
    """outguard: keep secrets, personal data and protected text out of LLM output."""


@main.command()
@click.argument("source", default="-", type=click.File("r", encoding="utf-8"))
@RULES_OPTION
@EVENTS_OPTION
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: text, action, status, findings, error.")
@click.option("--corpus", "corpora", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also look for spans of this corpus index (repeatable).")
@click.option("--prompt", default=None, help="The prompt the text answers (text it supplied is an echo, not a leak).")
def scan(source: click.utils.LazyFile, rules_dir: Path, events: str | None, as_json: bool,
         corpora: tuple[Path, ...], prompt: str | None) -> None:
    """Scan FILE (or standard input, '-') and print what the firewall would emit.

    Exits 3 when a detector failed and the response was withheld (fail-closed); a detector failure
    is also one line on standard error (without --json).
    """
    try:
        text = source.read()
    except UnicodeDecodeError as exc:
        name = "standard input" if source.name == "-" or source.name == "<stdin>" else source.name
        raise click.ClickException(
            f"{name} is not UTF-8 text (byte {exc.start}: {exc.reason}); outguard scans text, not binary data"
        ) from None
    with _firewall(rules_dir, events, corpora) as fw:
        verdict = fw.scan(text, prompt=prompt, source="cli")
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), ensure_ascii=False))
    else:
        click.echo(verdict.text, nl=not verdict.text.endswith("\n"))
        if verdict.error is not None:
            outcome = "withheld (fail-closed)" if verdict.status == "fail_closed" else "passed anyway (fail-open)"
            click.echo(f"outguard: detector {verdict.error}; the response was {outcome}", err=True)
    if verdict.status == "fail_closed":
        sys.exit(SCAN_WITHHELD)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@RULES_OPTION
@EVENTS_OPTION
@click.option("--speed", default=0.0, show_default=True,
              help="Pace: 1 ≈ 50 chunks/s, 2 twice that, 0 as fast as possible.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per transcript instead of the table.")
@click.option("--loop", is_flag=True, help="Start over after the last transcript, until interrupted (demo traffic).")
@click.option("--watch", is_flag=True, help="Reload the rules folder when it changes (as a running service would).")
def replay(files: tuple[Path, ...], rules_dir: Path, events: str | None, speed: float, as_json: bool, loop: bool,
           watch: bool) -> None:
    """Replay transcripts through the firewall, streamed with their original chunks.

    Prints a table (or JSON lines) and exits 1 when any expectation fails, so it can gate CI.
    """
    from firewall.replay import load_transcripts

    try:
        transcripts = load_transcripts(files)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    failures = _print_replay(rules_dir, events, transcripts, speed, as_json=as_json, loop=loop, watch=watch)
    sys.exit(1 if failures else 0)


def _print_replay(rules_dir: Path, events: str | None, transcripts: list, speed: float, *,  # type: ignore[type-arg]
                  as_json: bool = False, loop: bool = False, watch: bool = False) -> int:
    from firewall.replay import replay as run_replay

    failures = 0
    actions: Counter[str] = Counter()
    if not as_json:
        click.echo(f"{'id':<22} {'principal':<14} {'action':<7} {'labels':<34} result")
    with _firewall(rules_dir, events) as fw:
        if watch:
            fw.watch()
        while True:
            for result in run_replay(fw, transcripts, speed=speed):
                verdict = result.verdict
                actions[verdict.action] += 1
                failures += not result.ok
                if as_json:
                    click.echo(json.dumps({
                        "id": result.transcript.id, "principal": result.transcript.principal,
                        "action": verdict.action, "labels": verdict.labels, "ok": result.ok,
                        "problems": list(result.problems), "rules_version": verdict.rules_version,
                    }, ensure_ascii=False))
                    continue
                outcome = "ok" if result.ok else "FAIL: " + "; ".join(result.problems)
                click.echo(
                    f"{result.transcript.id[:22]:<22} {str(result.transcript.principal)[:14]:<14} "
                    f"{verdict.action:<7} {','.join(verdict.labels)[:34]:<34} {outcome}"
                )
            if not loop:
                break
        dropped = fw.events_dropped
    if not as_json:
        summary = ", ".join(f"{n} {a}" for a, n in sorted(actions.items()))
        click.echo(f"\n{len(transcripts)} exchanges: {summary}; {failures} failed expectations; "
                   f"{dropped} events dropped")
    return failures


@main.group()
def rules() -> None:
    """Work with rule files."""


@rules.command("check")
@RULES_OPTION
def rules_check(rules_dir: Path) -> None:
    """Validate every rule file and run every rule's examples; exit 1 on any problem."""
    problems = check_rules(rules_dir)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    policy = load_policy(rules_dir)
    click.echo(f"ok: {len(policy.pattern_rules)} rules in {len(policy.files)} files, version {policy.version}")


def _events_uri(rules_dir: Path, events: str | None) -> str:
    """The store the console reads: --events, else the policy's `events:`, else the embedded default."""
    if events:
        return events
    try:  # only the one key: loading the whole policy would cost the console's start-up a third of a second
        settings = yaml.safe_load((rules_dir / POLICY_FILE).read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return DEFAULT_STORE
    uri = settings.get("events") if isinstance(settings, dict) else None
    return uri if isinstance(uri, str) and uri else DEFAULT_STORE


@main.command()
@RULES_OPTION
@click.option("--events", default=None, envvar=EVENTS_ENV,
              help="Event store to watch: sqlite:///path.db or redis://host:port/db; also from $OUTGUARD_EVENTS "
              "(default: the policy's 'events:').")
@click.option("--samples", default="samples/transcripts", show_default=True, type=click.Path(path_type=Path))
@click.option("--read-only", is_flag=True, help="Watch only: no rule edits.")
@click.option("--event", "event_id", type=int, default=None, help="Open on this event id.")
def tui(rules_dir: Path, events: str | None, samples: Path, read_only: bool, event_id: int | None) -> None:
    """Open the operator console on an event store and a rules folder."""
    from tui.app import OutguardApp

    OutguardApp(events=_events_uri(rules_dir, events), rules=rules_dir, samples=samples, read_only=read_only,
                open_event=event_id).run()


@main.command()
@RULES_OPTION
@EVENTS_OPTION
@click.option("--samples", default="samples/transcripts", show_default=True,
              type=click.Path(exists=True, path_type=Path))
@click.option("--speed", default=1.0, show_default=True, help="Replay pace (1 ≈ 50 chunks/s).")
@click.option("--headless", is_flag=True, help="No console: replay the samples once and print the table.")
def demo(rules_dir: Path, events: str | None, samples: Path, speed: float, headless: bool) -> None:
    """Open the console with the sample transcripts replayed live through a firewall in the background.

    The firewall runs as a subprocess (`outguard replay --loop --watch`) that writes the event store
    the console tails, and reloads the rules folder when the console saves a change.
    """
    from firewall.replay import load_transcripts

    if headless:
        failures = _print_replay(rules_dir, events, load_transcripts([samples]), speed)
        sys.exit(1 if failures else 0)
    uri = _events_uri(rules_dir, events)
    log_path = Path(".outguard") / "demo-firewall.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "firewall", "replay", str(samples), "--loop", "--watch", "--json",
               "--speed", str(speed), "--rules", str(rules_dir)]
    env = {**os.environ, EVENTS_ENV: uri}  # not in argv, where `ps` would show a password
    with log_path.open("w", encoding="utf-8") as log:
        firewall = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            from tui.app import OutguardApp

            OutguardApp(events=uri, rules=rules_dir, samples=samples, companion=firewall, companion_log=log_path).run()
        finally:
            firewall.terminate()
            try:
                firewall.wait(timeout=10)
            except subprocess.TimeoutExpired:
                firewall.kill()


def _add_subcommands() -> None:
    from firewall.cli_canary import canary
    from firewall.cli_corpus import corpus
    from firewall.cli_fleet import register  # rules notify, fleet status

    main.add_command(canary)
    main.add_command(corpus)
    register(main)


_add_subcommands()
