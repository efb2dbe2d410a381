"""Rule examples are remembered on disk between processes; the cache can never make a bad rule pass."""

from __future__ import annotations

import shutil

import pytest

from firewall.errors import RuleError
from firewall.policy import example_cache, loader
from tests.conftest import ROOT


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTGUARD_CACHE", str(tmp_path / "cache"))
    fresh = _fresh_process(monkeypatch)
    fresh()
    return tmp_path / "cache", fresh


def _fresh_process(monkeypatch):
    def fresh() -> None:  # what a new process starts with
        monkeypatch.setattr(loader, "_OUTCOMES", {})
        monkeypatch.setattr(loader, "_DISK", [])

    return fresh


def test_a_second_process_reads_the_outcomes_instead_of_running_examples(cache_dir, monkeypatch) -> None:
    folder, fresh = cache_dir
    loader.load_policy(ROOT / "rules")
    assert (folder / "examples.json").is_file()
    fresh()
    import firewall.detectors.patterns as patterns

    monkeypatch.setattr(patterns, "PatternDetector", lambda *a: pytest.fail("an example ran again"))

    assert loader.load_policy(ROOT / "rules").version


@pytest.mark.parametrize("damage", [b"", b'{"trunc', b"[1, 2]", b"\xff\xfe garbage"])
def test_a_damaged_cache_is_ignored_and_rewritten(cache_dir, damage: bytes) -> None:
    folder, _ = cache_dir
    folder.mkdir(parents=True)
    (folder / "examples.json").write_bytes(damage)

    loader.load_policy(ROOT / "rules")

    assert example_cache.load()  # rewritten whole


def test_an_edited_example_runs_again_and_fails(cache_dir, tmp_path) -> None:
    _, fresh = cache_dir
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    loader.load_policy(rules)
    fresh()
    pack = rules / "packs" / "pii.yaml"
    pack.write_text(pack.read_text().replace("'4111 1111 1111 1112'", "'4111 1111 1111 1111'"), encoding="utf-8")

    with pytest.raises(RuleError, match="credit-card: example no_match"):
        loader.load_policy(rules)


def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OUTGUARD_CACHE", str(blocker / "sub"))
    _fresh_process(monkeypatch)()

    assert loader.load_policy(ROOT / "rules").version
