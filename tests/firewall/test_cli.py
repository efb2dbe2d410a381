"""The `outguard` command line: scan, rules check, replay, and the installed console script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from firewall import load_policy
from firewall.cli import main
from firewall.replay import load_transcripts
from tests.conftest import RULES, SAMPLES

README_EXAMPLE = "Mail me at jane@corp.io, key sk_live_4eC39HqLyjWDarjtT1zdp7dc"
NO_EVENTS = ("--events", "none", "--rules", str(RULES))
PROBLEM_LINE = re.compile(r"^(?P<path>.+):(?P<line>\d+): \S")


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def write_transcript(path: Path, **record: object) -> Path:
    path.write_text(json.dumps({"id": "t-1", "principal": "p", "model": "m", **record}) + "\n")
    return path


def test_scan_json_prints_one_object_with_the_documented_shape() -> None:
    """`scan - --json` prints exactly one JSON object: text, action, status, findings and error."""
    result = run("scan", "-", "--json", *NO_EVENTS, stdin=README_EXAMPLE)

    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()
    body = json.loads(line)
    assert set(body) == {"text", "action", "status", "findings", "error"}
    assert body["error"] is None
    assert body["text"] == "Mail me at [EMAIL], key [SECRET:stripe]"
    assert (body["action"], body["status"]) == ("redact", "scanned")
    finding_keys = {"detector", "rule", "label", "start", "end", "score"}
    assert body["findings"] and all(set(f) == finding_keys for f in body["findings"])


def test_scan_json_offsets_index_the_input() -> None:
    """Each finding's start/end slice the input text to the value that was flagged."""
    result = run("scan", "-", "--json", *NO_EVENTS, stdin=README_EXAMPLE)

    findings = json.loads(result.stdout)["findings"]

    assert [(f["label"], README_EXAMPLE[f["start"] : f["end"]]) for f in findings] == [
        ("EMAIL", "jane@corp.io"),
        ("SECRET", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ]


def test_scan_file_prints_the_redacted_text(tmp_path: Path) -> None:
    """`scan FILE` prints the safe text once, keeping the file's final newline."""
    source = tmp_path / "answer.txt"
    source.write_text("Reach jane@corp.io today.\n", encoding="utf-8")

    result = run("scan", str(source), *NO_EVENTS)

    assert result.exit_code == 0, result.output
    assert result.stdout == "Reach [EMAIL] today.\n"


def test_scan_passes_markup_and_format_characters_through(tmp_path: Path) -> None:
    """Text holding [red], {0}, {rule} and %s is printed unchanged, plain and as JSON."""
    text = "[red]{0}%s {rule} {label} [/red] 100% [EMAIL]"

    plain = run("scan", "-", *NO_EVENTS, stdin=text)
    as_json = run("scan", "-", "--json", *NO_EVENTS, stdin=text)

    assert plain.stdout == text + "\n"
    assert json.loads(as_json.stdout)["text"] == text


def test_scan_redacts_next_to_markup() -> None:
    """A secret inside markup is still redacted and the markup around it kept."""
    result = run("scan", "-", *NO_EVENTS, stdin="[b]{0} jane@corp.io %s[/b]")

    assert result.stdout == "[b]{0} [EMAIL] %s[/b]\n"


def test_rules_check_passes_on_the_default_rules() -> None:
    """`rules check` exits 0 on the shipped rules and prints their version."""
    result = run("rules", "check", "--rules", str(RULES))

    assert result.exit_code == 0, result.output
    assert f"version {load_policy(RULES).version}" in result.stdout


def test_rules_check_lists_each_problem_as_file_line(rules_dir: Path) -> None:
    """On a broken copy, `rules check` exits 1 and prints every problem as path:line: message."""
    bad_yaml = rules_dir / "packs" / "a.yaml"
    bad_yaml.write_text("rules:\n  - id: a\n    label: X\n      regex: 'x'\n")
    bad_regex = rules_dir / "packs" / "b.yaml"
    bad_regex.write_text(
        "rules:\n  - id: b\n    label: X\n    regex: 'a+'\n    examples: {match: [a]}\n"
    )

    result = run("rules", "check", "--rules", str(rules_dir))

    assert result.exit_code == 1
    lines = [m for m in map(PROBLEM_LINE.match, result.stderr.splitlines()) if m]
    located = sorted((m["path"], int(m["line"])) for m in lines)
    assert located == [(str(bad_yaml), 4), (str(bad_regex), 4)]
    assert "2 problem(s)" in result.stderr
    assert "version" not in result.stdout


def test_replay_of_the_samples_passes() -> None:
    """Replaying the sample transcripts meets every expectation and exits 0."""
    result = run("replay", str(SAMPLES / "transcripts"), *NO_EVENTS)

    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.stdout
    count = len(load_transcripts([SAMPLES / "transcripts"]))
    assert count >= 42 and f"{count} exchanges" in result.stdout
    assert "0 failed expectations" in result.stdout


def test_replay_exits_1_on_a_wrong_expectation(tmp_path: Path) -> None:
    """A transcript expecting 'allow' for text with an address fails the replay with FAIL."""
    path = write_transcript(
        tmp_path / "t.jsonl",
        chunks=["mail jane", "@corp.io"],
        expect={"action": "allow", "labels": []},
    )

    result = run("replay", str(path), *NO_EVENTS)

    assert result.exit_code == 1
    assert "FAIL: action redact, expected allow" in result.stdout
    assert "1 failed expectations" in result.stdout


def test_replay_names_file_and_line_of_a_malformed_record(tmp_path: Path) -> None:
    """A transcript whose second line is not JSON is refused, naming path:2."""
    path = write_transcript(tmp_path / "t.jsonl", chunks=["hello"])
    path.write_text(path.read_text() + '{"id": "broken", "chunks": [\n')

    result = run("replay", str(path), *NO_EVENTS)

    assert result.exit_code == 1
    assert f"{path}:2: invalid JSON" in result.stderr


def test_replay_refuses_chunks_that_are_not_strings(tmp_path: Path) -> None:
    """A record whose chunks are not a list of strings is refused, naming path:1."""
    path = write_transcript(tmp_path / "t.jsonl", chunks="not a list")

    result = run("replay", str(path), *NO_EVENTS)

    assert result.exit_code == 1
    assert f"{path}:1: 'chunks' must be a list of strings" in result.stderr


def test_console_script_runs() -> None:
    """The installed `outguard` script starts and lists its commands."""
    script = Path(sys.executable).parent / "outguard"

    completed = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )

    assert completed.returncode == 0, completed.stderr
    assert all(name in completed.stdout for name in ("scan", "replay", "rules", "demo"))


def test_scan_of_binary_input_fails_with_one_clear_line(tmp_path: Path) -> None:
    """Binary or non-UTF-8 input, on stdin or as a file: exit 1 and one line, never a traceback."""
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01PK\x03\x04")
    for args, stdin in (([str(binary)], None), (["-"], b"\xff\xfe\x00binary")):
        done = subprocess.run(
            [sys.executable, "-m", "firewall", "scan", *args, *NO_EVENTS], input=stdin, capture_output=True, timeout=120
        )
        err = done.stderr.decode()
        assert done.returncode == 1, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert "is not UTF-8 text" in err
