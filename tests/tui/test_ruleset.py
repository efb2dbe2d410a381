"""Rule edits from the console: validated by the firewall's loader, written atomically, undoable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from firewall import Firewall
from firewall.policy.loader import load_policy
from tui.ruleset import ConflictError, InvalidChanges, RuleSet


def folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def ruleset(rules_dir: Path, tmp_path: Path) -> RuleSet:
    return RuleSet(rules_dir, journal=tmp_path / "journal.jsonl")


def test_disabling_a_rule_saves_atomically_and_the_firewall_stops_redacting(ruleset: RuleSet, rules_dir: Path) -> None:
    pack = rules_dir / "packs" / "pii.yaml"
    inode, before = pack.stat().st_ino, pack.read_text()
    ruleset.toggle("rule:email")
    assert "+    enabled: false" in ruleset.diff()
    version = ruleset.save()

    assert pack.stat().st_ino != inode  # os.replace, not an in-place write
    assert load_policy(rules_dir).version == version
    assert before.count("#") == pack.read_text().count("#")  # comments kept
    with Firewall(load_policy(rules_dir), events=False) as fw:
        assert fw.scan("mail jane@corp.io now").action == "allow"


def test_every_kind_of_edit_is_accepted_by_the_loader(ruleset: RuleSet, rules_dir: Path) -> None:
    ruleset.toggle("entity:PERSON")
    ruleset.toggle("canary:c-93747a17")
    ruleset.toggle("detector:corpus")
    ruleset.set_action("rule:ipv4", "block")
    ruleset.set_action("entity:LOCATION", "mask")
    ruleset.set_threshold("detector:pii", 0.7)
    ruleset.add_term("allow", "Acme Widgets")
    ruleset.add_term("deny", "Zed Quorum", "PERSON")
    ruleset.add_rule(rule_id="ticket-id", label="TICKET", kind="regex", pattern=r"\bTCK-\d{6}\b",
                     match=["see TCK-123456"], no_match=["TCK-12"])
    ruleset.add_rule(rule_id="moon", label="CONFIDENTIAL", kind="keyword", pattern="Moonshot, Dark Star",
                     match=["the moonshot plan"])
    canary_id, value = ruleset.add_canary(fmt="token", placement="rag", note="wiki page 7")
    assert ruleset.problems() == []
    ruleset.save()

    policy = load_policy(rules_dir)
    items = {i.key: i for i in RuleSet(rules_dir).items()}
    assert not items["entity:PERSON"].enabled and not items["canary:c-93747a17"].enabled
    assert not items["detector:corpus"].enabled
    assert items["rule:ipv4"].action == "block" and items["entity:LOCATION"].action == "mask"
    assert items["detector:pii"].threshold == 0.7
    assert "allow:Acme Widgets" in items and "deny:PERSON:Zed Quorum" in items
    assert items[f"canary:{canary_id}"].enabled and value not in items[f"canary:{canary_id}"].detail
    assert {"ticket-id", "moon"} <= {r.id for r in policy.pattern_rules}
    with Firewall(policy, events=False) as fw:
        verdict = fw.scan(f"ticket TCK-123456 about the moonshot, token {value}")
    assert {"TICKET", "CONFIDENTIAL", "CANARY"} <= set(verdict.labels)


def test_invalid_rule_shows_the_loaders_file_and_line_and_writes_nothing(ruleset: RuleSet, rules_dir: Path) -> None:
    before = folder_hash(rules_dir)
    ruleset.add_rule(rule_id="broken", label="BROKEN", kind="regex", pattern="(unclosed", match=["x"])
    problems = ruleset.problems()
    assert len(problems) == 1
    assert problems[0].path == rules_dir / "packs" / "custom.yaml" and problems[0].line > 1
    assert "missing )" in problems[0].message
    with pytest.raises(InvalidChanges):
        ruleset.save()
    assert folder_hash(rules_dir) == before


def test_rule_example_that_does_not_match_is_refused(ruleset: RuleSet) -> None:
    ruleset.add_rule(rule_id="ticket", label="TICKET", kind="regex", pattern=r"TCK-\d{6}", match=["no ticket here"])
    assert any("example" in p.message for p in ruleset.problems())


def test_save_refuses_to_overwrite_a_file_changed_on_disk(ruleset: RuleSet, rules_dir: Path) -> None:
    ruleset.toggle("rule:email")
    pack = rules_dir / "packs" / "pii.yaml"
    pack.write_text(pack.read_text() + "\n# an operator's hand edit\n")
    with pytest.raises(ConflictError):
        ruleset.save()
    assert "hand edit" in pack.read_text() and "enabled: false" not in pack.read_text()


def test_undo_restores_the_files_as_a_new_save(ruleset: RuleSet, rules_dir: Path, tmp_path: Path) -> None:
    original = (rules_dir / "packs" / "pii.yaml").read_text()
    first = ruleset.version
    ruleset.toggle("rule:email")
    ruleset.add_rule(rule_id="ticket", label="TICKET", kind="regex", pattern=r"TCK-\d{6}", match=["TCK-123456"])
    saved = ruleset.save()
    assert (rules_dir / "packs" / "custom.yaml").exists()
    assert ruleset.undo() == first != saved
    assert (rules_dir / "packs" / "pii.yaml").read_text() == original
    assert not (rules_dir / "packs" / "custom.yaml").exists()
    journal = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert len(journal) == 2 and (tmp_path / "journal.jsonl").stat().st_mode & 0o077 == 0
    with pytest.raises(LookupError):
        ruleset.undo()


def test_diff_masks_canary_values(ruleset: RuleSet) -> None:
    _, value = ruleset.add_canary()
    ruleset.toggle("canary:c-93747a17")
    diff = ruleset.diff()
    assert "retired: true" in diff
    assert value not in diff and "wzzt-cmwu-xx3m-e93f-ybf4" not in diff


def test_finding_maps_back_to_the_rule_behind_it(ruleset: RuleSet) -> None:
    assert ruleset.item_for_rule("patterns", "email").key == "rule:email"  # type: ignore[union-attr]
    assert ruleset.item_for_rule("pii", "pii.person").key == "entity:PERSON"  # type: ignore[union-attr]
    assert ruleset.item_for_rule("pii", "pii.ssn").key == "entity:US_SSN"  # type: ignore[union-attr]
    assert ruleset.item_for_rule("canary", "c-93747a17").key == "canary:c-93747a17"  # type: ignore[union-attr]
    assert ruleset.item_for_rule("corpus", "corpus.protected").key == "detector:corpus"  # type: ignore[union-attr]
