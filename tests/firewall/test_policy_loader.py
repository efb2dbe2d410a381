"""Loading rule folders: versions, and every problem reported with its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from firewall import RuleError, check_rules, load_policy
from firewall.errors import Problem
from tests.conftest import RULES

GOOD_RULE = """\
rules:
  - id: extra-term
    label: CONFIDENTIAL
    terms: [Zebra Accord]
    examples: {match: ['the zebra accord'], no_match: ['a zebra']}
    ignore_case: true
"""


def write_pack(rules_dir: Path, text: str, name: str = "bad.yaml") -> Path:
    path = rules_dir / "packs" / name
    path.write_text(text, encoding="utf-8")
    return path


def regex_pack(pattern: str) -> str:
    """A pack whose one rule has `pattern` on line 5."""
    head = "rules:\n  - id: bad\n    label: BAD\n    examples: {match: ['x']}\n"
    return head + f"    regex: '{pattern}'\n"


def term_pack(rule_id: str = "ok", examples: str = "{match: ['abc']}") -> str:
    """A pack whose one rule, starting on line 2, flags the term 'abc'."""
    return f"rules:\n  - id: {rule_id}\n    label: OK\n    terms: [abc]\n    examples: {examples}\n"


def only_problem(rules_dir: Path) -> Problem:
    problems = check_rules(rules_dir)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_default_rules_load_with_rules_and_version() -> None:
    """The shipped rules folder loads, with pattern rules and a 12-hex-digit version."""
    policy = load_policy(RULES)

    assert len(policy.pattern_rules) > 0
    assert len(policy.version) == 12
    assert int(policy.version, 16) >= 0
    assert check_rules(RULES) == []


def test_version_is_equal_for_equal_content(tmp_path: Path) -> None:
    """A copy of the rules with the same bytes has the same version as the original."""
    shutil.copytree(RULES, tmp_path / "copy")

    assert load_policy(tmp_path / "copy").version == load_policy(RULES).version


def test_version_changes_when_a_file_changes(rules_dir: Path) -> None:
    """Adding a rule to a pack changes the policy version."""
    before = load_policy(rules_dir).version
    write_pack(rules_dir, GOOD_RULE, "extra.yaml")

    after = load_policy(rules_dir)

    assert after.version != before
    assert "extra-term" in {r.id for r in after.pattern_rules}


def test_malformed_yaml_names_file_and_line(rules_dir: Path) -> None:
    """A bad indent on line 4 raises RuleError saying 'path:4:'; check_rules agrees."""
    path = write_pack(rules_dir, "rules:\n  - id: ok\n    label: OK\n      regex: 'x'\n")

    with pytest.raises(RuleError) as caught:
        load_policy(rules_dir)

    assert f"{path}:4:" in str(caught.value)
    assert "invalid YAML" in str(caught.value)
    assert check_rules(rules_dir) == caught.value.problems
    assert caught.value.problems == [Problem(path, 4, caught.value.problems[0].message)]


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        pytest.param("    terms: [abc]\n    colour: red\n", 5, "colour", id="unknown-field"),
        pytest.param("    terms: [abc]\n    label: lower\n", 5, "label", id="duplicate-key"),
        pytest.param("    terms: [abc]\n    action: obliterate\n", 5, "action", id="bad-action"),
    ],
)
def test_schema_problem_names_the_offending_field_line(
    rules_dir: Path, body: str, line: int, needle: str
) -> None:
    """An unknown field, a repeated key or an unknown action name is reported on its own line."""
    text = "rules:\n  - id: ok\n    label: OK\n" + body + "    examples: {match: ['abc']}\n"
    path = write_pack(rules_dir, text)

    problems = check_rules(rules_dir)

    assert problems
    assert all(p.path == path and p.line == line for p in problems), [str(p) for p in problems]
    assert needle in problems[0].message


def test_bad_label_is_reported_on_the_label_line(rules_dir: Path) -> None:
    """A label that is not UPPER_CASE is reported on the label's line."""
    path = write_pack(
        rules_dir,
        "rules:\n  - id: ok\n    terms: [abc]\n    label: lower\n    examples: {match: ['abc']}\n",
    )

    problem = only_problem(rules_dir)

    assert (problem.path, problem.line) == (path, 4)
    assert "label" in problem.message


def test_missing_examples_is_reported_on_the_rule_line(rules_dir: Path) -> None:
    """A rule without examples is reported at the line where that (second) rule starts."""
    text = (
        "rules:\n  - id: first\n    label: OK\n    terms: [abc]\n    examples: {match: ['abc']}\n"
        "  - id: second\n    label: OK\n    terms: [def]\n"
    )
    path = write_pack(rules_dir, text)

    problem = only_problem(rules_dir)

    assert (problem.path, problem.line) == (path, 6)
    assert "examples" in problem.message


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("a+", id="plus"),
        pytest.param(r"\d{3,}", id="open-range"),
        pytest.param("x.*", id="star"),
        pytest.param("(a+)+$", id="catastrophic"),
    ],
)
def test_unbounded_regex_is_rejected_with_advice(rules_dir: Path, pattern: str) -> None:
    """Repetition without an upper bound is refused on the regex line, suggesting {1,64}."""
    path = write_pack(rules_dir, regex_pack(pattern))

    problem = only_problem(rules_dir)

    assert (problem.path, problem.line) == (path, 5)
    assert "{1,64}" in problem.message


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        pytest.param(r"(a)\1", "RE2", id="backreference"),
        pytest.param("(?<=x)y", "RE2", id="lookbehind"),
        pytest.param("a?", "empty", id="optional"),
        pytest.param(".*", "the pattern can match", id="dot-star"),
    ],
)
def test_unsafe_regex_is_rejected_at_its_line(rules_dir: Path, pattern: str, reason: str) -> None:
    """Backreferences, lookbehinds and patterns that can match nothing are refused on their line."""
    path = write_pack(rules_dir, regex_pack(pattern))

    problem = only_problem(rules_dir)

    assert (problem.path, problem.line) == (path, 5)
    assert "rule bad:" in problem.message
    assert reason in problem.message
    with pytest.raises(RuleError):
        load_policy(rules_dir)


def test_duplicate_rule_id_across_files_names_both(rules_dir: Path) -> None:
    """A rule id already used in pii.yaml is reported in the second file, pointing at the first."""
    path = write_pack(rules_dir, term_pack("email"), "zz.yaml")

    problem = only_problem(rules_dir)

    assert (problem.path, problem.line) == (path, 2)
    assert "duplicate rule id 'email'" in problem.message
    assert str(rules_dir / "packs" / "pii.yaml") in problem.message


def test_failing_examples_are_problems_at_the_example(rules_dir: Path) -> None:
    """A match example that does not match and a no_match example that does are both reported,
    at the example's line, named by position: the text is not quoted (these messages travel in
    rules_rejected events, and examples of secrets look like secrets)."""
    path = write_pack(rules_dir, term_pack(examples="{match: ['xyz'], no_match: ['abc']}"))

    problems = check_rules(rules_dir)

    assert [(p.path, p.line) for p in problems] == [(path, 5), (path, 5)]
    assert problems[0].message == "rule ok: example match[0] should match but does not"
    assert problems[1].message == "rule ok: example no_match[0] should not match but does"
    assert not any("xyz" in p.message or "'abc'" in p.message for p in problems)


def test_each_failing_example_points_at_its_own_line(rules_dir: Path) -> None:
    """In block style every example has a line of its own, and the problem names it."""
    examples = "\n      match:\n        - abc\n        - sk_live_NotReallyASecret0000\n      no_match:\n        - xyz\n"
    path = write_pack(rules_dir, term_pack(examples=examples))

    [problem] = check_rules(rules_dir)

    assert (problem.path, problem.line) == (path, 8)
    assert problem.message == "rule ok: example match[1] should match but does not"


def test_check_rules_collects_every_problem_from_every_file(rules_dir: Path) -> None:
    """Three broken files give all their problems in one check, not just the first."""
    yaml_bad = write_pack(rules_dir, "rules:\n  - id: a\n   label: X\n", "a.yaml")
    regex_bad = write_pack(rules_dir, regex_pack("a+"), "b.yaml")
    example_bad = write_pack(rules_dir, term_pack("c", "{match: ['nope']}"), "c.yaml")

    problems = check_rules(rules_dir)

    located = sorted((p.path.name, p.line) for p in problems)
    assert located == [("a.yaml", 3), ("b.yaml", 5), ("c.yaml", 5)]  # c: the example's line
    assert {p.path for p in problems} == {yaml_bad, regex_bad, example_bad}
    with pytest.raises(RuleError) as caught:
        load_policy(rules_dir)
    assert len(caught.value.problems) == 3


def test_missing_policy_file_is_a_problem(rules_dir: Path) -> None:
    """A folder without policy.yaml does not load, and the problem names policy.yaml."""
    (rules_dir / "policy.yaml").unlink()

    problem = only_problem(rules_dir)

    assert problem.path == rules_dir / "policy.yaml"
    assert "missing policy.yaml" in problem.message


def test_missing_folder_is_a_problem(tmp_path: Path) -> None:
    """A rules folder that does not exist raises RuleError naming it."""
    folder = tmp_path / "nowhere"

    with pytest.raises(RuleError) as caught:
        load_policy(folder)

    assert str(caught.value) == f"{folder}:1: rules folder not found"


@pytest.mark.parametrize("rule_id", ["c-93747a17", "pii.person", "corpus-protected"])
def test_a_pattern_rule_may_not_take_another_detectors_rule_id(rules_dir: Path, rule_id: str) -> None:
    """A canary's id, `pii.<entity>` and `corpus...` name other detectors' findings: a pack rule
    with such an id (here one in shadow mode, which let canary c-93747a17 out raw) is refused at
    its line."""
    path = write_pack(rules_dir, term_pack(rule_id).replace("    terms:", "    shadow: true\n    terms:"))

    problem = only_problem(rules_dir)

    assert (problem.path, problem.line) == (path, 2)
    assert repr(rule_id) in problem.message
    if rule_id.startswith("c-"):
        assert str(rules_dir / "canaries.yaml") in problem.message


def test_a_file_removed_while_loading_is_a_problem_not_a_crash(
    rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version is hashed after parsing: a file removed in between is reported like any
    unreadable file (a watching firewall's thread died of the FileNotFoundError)."""
    gone = rules_dir / "packs" / "keywords.yaml"

    def vanished(self: Path) -> bytes:
        raise FileNotFoundError(2, "No such file or directory", str(gone))

    monkeypatch.setattr(Path, "read_bytes", vanished)
    problem = only_problem(rules_dir)

    assert (problem.path, problem.line) == (gone, 1)
    assert "cannot read" in problem.message
