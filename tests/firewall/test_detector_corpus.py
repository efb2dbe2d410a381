"""The corpus detector: verbatim and near-verbatim spans of the protected corpus are found, named and
redacted; paraphrases, short phrases and ordinary text are not; echoes, cut_after, streaming, the
index file and the command line."""

from __future__ import annotations

import dataclasses
import json
import re
import sysconfig
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firewall import Firewall, Scanner
from firewall.cli import main
from firewall.corpus import CorpusIndex, build_index, iter_documents, ngram_hashes, words
from firewall.policy import Policy
from firewall.replay import load_transcripts
from firewall.testing import capture_events
from tests.conftest import KEY, RULES, SAMPLES

DOCS = SAMPLES / "corpus" / "docs"
TEXTS = {path.stem: path.read_text("utf-8") for path in sorted(DOCS.glob("*.txt"))}
PLACEHOLDER = re.compile(r"\[[^\]]*\]")
BEFORE, AFTER = "Sure, here is what the licence says on that point: ", " Does that answer your question?"


def excerpt(doc: str, start: str, length: int) -> tuple[str, str]:
    """A verbatim passage of `doc` (file layout kept) from `start`, cut at a space; and its "doc §n"."""
    text = TEXTS[doc]
    at = text.index(start)
    passage = text[at : at + length].rsplit(None, 1)[0].rstrip(",;(")
    # Paragraphs are split by blank lines; one without words does not count.
    seen, number = 0, 0
    for paragraph in re.split(r"(\n\s*\n)", text):
        number += bool(re.search(r"\w", paragraph))
        if seen <= at < seen + len(paragraph):
            break
        seen += len(paragraph)
    return passage, f"{doc} §{number}"


PASSAGES = [
    excerpt("apache-2.0", '"Legal Entity" shall mean the union', 220),
    excerpt("apache-2.0", "You must retain, in the Source form", 200),
    excerpt("apache-2.0", "In no event and under no legal theory", 280),
    excerpt("mpl-2.0", "means any patent claim(s)", 200),
    excerpt("mpl-2.0", "You may create and distribute a Larger Work", 250),
    excerpt("mpl-2.0", "If You initiate litigation against any entity", 180),
    excerpt("gpl-3.0", "The licenses for most software and other practical works", 240),
    excerpt("gpl-3.0", "Some devices are designed to deny users", 200),
    excerpt("gpl-3.0", 'To "propagate" a work means', 260),
    excerpt("cc0-1.0", "Certain owners wish to permanently relinquish", 240),
    excerpt("cc0-1.0", "To the greatest extent permitted by, but not in contravention", 300),
]
IDS = [f"{source.replace(' §', '-')}" for _, source in PASSAGES]


def every_tenth_word_changed(passage: str, word: str = "banana") -> str:
    for match in reversed(list(re.finditer(r"\w+", passage))[9::10]):
        passage = passage[: match.start()] + word + passage[match.end() :]
    return passage


def surviving_words(verdict_text: str, passage: str) -> float:
    """Share of the passage's own words still readable in the emitted text (placeholders removed)."""
    middle = PLACEHOLDER.sub(" ", verdict_text.removeprefix(BEFORE).removesuffix(AFTER))
    total = [w for w in re.findall(r"\w+", passage) if w != "banana"]
    return len([w for w in re.findall(r"\w+", middle) if w != "banana"]) / len(total)


@pytest.fixture(scope="module")
def corpus_only(policy: Policy) -> Scanner:
    """The default policy with only its corpus detector (fast, and nothing else redacts)."""
    return Scanner(dataclasses.replace(policy, detectors=("corpus",)), key=KEY)


@pytest.mark.parametrize(("passage", "source"), PASSAGES, ids=IDS)
def test_verbatim_passage_is_found_named_and_redacted(fw: Firewall, passage: str, source: str) -> None:
    verdict = fw.scan(BEFORE + passage + AFTER)
    sources = Counter(f.source for f in verdict.findings if f.label == "PROTECTED")

    assert 60 <= len(passage) <= 300
    assert sources.most_common(1)[0][0] == source
    assert all(s.split(" §")[0] in TEXTS for s in sources)
    assert f"[protected: {source}]" in verdict.text
    assert passage not in verdict.text
    assert surviving_words(verdict.text, passage) == 0
    assert verdict.action == "redact"


@pytest.mark.parametrize(("passage", "source"), PASSAGES, ids=IDS)
def test_one_word_in_ten_changed_is_still_found_and_mostly_redacted(fw: Firewall, passage: str, source: str) -> None:
    changed = every_tenth_word_changed(passage)
    verdict = fw.scan(BEFORE + changed + AFTER)

    assert changed.count("banana") >= 2
    assert f"[protected: {source}]" in verdict.text
    assert surviving_words(verdict.text, changed) < 0.5


@pytest.mark.parametrize(
    "disguise",
    [lambda p: re.sub(r"\s+", " ", p), lambda p: re.sub(r"[,;:.\"]", "", p), str.upper, lambda p: "  ".join(p.split()).lower()],
    ids=["one-line", "no-punctuation", "upper-case", "double-spaced-lower"],
)
@pytest.mark.parametrize(("passage", "source"), PASSAGES[::3], ids=IDS[::3])
def test_punctuation_whitespace_and_case_do_not_hide_a_passage(fw: Firewall, passage: str, source: str, disguise) -> None:
    disguised = disguise(passage)
    verdict = fw.scan(BEFORE + disguised + AFTER)

    assert disguised != passage
    assert f"[protected: {source}]" in verdict.text
    assert surviving_words(verdict.text, disguised) == 0


PARAPHRASES = [
    "A legal entity here covers the organisation that acts plus any other organisations it controls, that control it, "
    "or that share a controlling parent with it; control means steering its management or holding half of its shares.",
    "Most licences for programs and other useful creations are built to remove your liberty to share and modify them. "
    "The GPL, by contrast, aims to make sure you can share and alter every version of a program, so it stays free.",
    "A contributor's patent claims are the method, process or apparatus claims in patents the contributor can license "
    "that would be infringed, absent the grant, by making, using, selling, importing or transferring its contributions.",
    "Some owners want to give up their rights in a work for good, adding to a shared pool of creative, cultural and "
    "scientific material that anyone may build on, adapt, reuse and pass along freely, commercial uses included.",
    "Unless the law demands it or somebody agreed in writing, no contributor owes you damages of any sort, direct or "
    "indirect, special or consequential, caused by this licence or by using the work, even if warned they might occur.",
]


@pytest.mark.parametrize("paraphrase", PARAPHRASES, ids=[f"paraphrase-{i}" for i in range(len(PARAPHRASES))])
def test_paraphrases_are_not_flagged(fw: Firewall, paraphrase: str) -> None:
    verdict = fw.scan(BEFORE + paraphrase + AFTER)

    assert "PROTECTED" not in verdict.labels
    assert paraphrase in verdict.text


SHORT_PHRASES = [
    ("the terms and conditions of this License", "Please read {} before you ship the binary to your customers."),
    ("WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND", "The library is offered {} by its maintainers, so test it well."),
    ("you may not use this file except in compliance", "As your manager said, {}, so check the security policy first."),
    ("is permitted to copy and distribute verbatim", "Nobody here {} the slides from the private board meeting."),
]


@pytest.mark.parametrize(("phrase", "prose"), SHORT_PHRASES, ids=[p[:24] for p, _ in SHORT_PHRASES])
def test_short_common_phrases_do_not_fire(fw: Firewall, corpus_only: Scanner, phrase: str, prose: str) -> None:
    """Spans under min_chars are in the index (their n-grams hit) but are too short to report."""
    [detector] = corpus_only.detectors
    hashes, valid = ngram_hashes(words(phrase))
    verdict = fw.scan(prose.format(phrase))

    assert len(phrase) < 50 and (detector.indexes[0].lookup(hashes[valid]) >= 0).all()
    assert "PROTECTED" not in verdict.labels
    assert corpus_only.scan(prose.format(phrase)).findings == ()


def stdlib_sources(limit: int = 200_000) -> str:
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[::7]
    texts, size = [], 0
    for file in files:
        if size >= limit:
            break
        texts.append(file.read_text("utf-8", errors="replace"))
        size += len(texts[-1])
    return "\n".join(texts)


def test_benign_text_is_not_flagged(fw: Firewall, corpus_only: Scanner) -> None:
    outputs = [t.output for t in load_transcripts([SAMPLES / "transcripts"])]
    source = stdlib_sources()

    assert len(outputs) > 40 and len(source) >= 200_000
    assert all("PROTECTED" not in fw.scan(output).labels for output in outputs)
    assert corpus_only.detectors[0].find(source) == []


@pytest.mark.parametrize(("passage", "source"), PASSAGES[6:8], ids=IDS[6:8])
def test_a_passage_the_prompt_supplied_is_an_echo_not_a_leak(fw: Firewall, passage: str, source: str) -> None:
    """Both sides of "no membership oracle": supplied text passes (flagged), unsupplied is redacted."""
    output = BEFORE + passage + AFTER
    with capture_events(fw) as events:
        echoed = fw.scan(output, prompt=f"Explain this paragraph in plain words, please:\n\n{passage}")
    leaked = fw.scan(output)

    assert echoed.action == "allow" and echoed.text == output
    assert echoed.labels == ["ECHO"] and {f.source.split(" §")[0] for f in echoed.findings} == {source.split(" §")[0]}
    assert [f.label for f in events[0].findings] == ["ECHO"] * len(echoed.findings)
    assert {f.action for f in events[0].findings} == {"flag"}
    assert leaked.action == "redact" and passage not in leaked.text and f"[protected: {source}]" in leaked.text


GPL = TEXTS["gpl-3.0"]
REGURGITATION = "Of course. The text reads:\n\n" + GPL[GPL.index("When we speak of free software") :][:4000] + "\n\nThat is all."


def test_regurgitating_more_than_cut_after_is_blocked_one_shot_and_streamed(fw: Firewall, corpus_only: Scanner) -> None:
    consumed = 0

    def chunks():
        nonlocal consumed
        for at in range(0, len(REGURGITATION), 7):
            consumed += 7
            yield REGURGITATION[at : at + 7]

    whole = fw.scan(REGURGITATION)
    streamed = "".join(fw.stream(chunks()))
    released = streamed.removesuffix(whole.text)

    assert fw.policy.detector_settings["corpus"]["cut_after"] == 600
    assert whole.action == "block" and whole.blocked_by.endswith("cut_after")
    assert streamed.endswith(whole.text) and released != streamed
    assert consumed < len(REGURGITATION)  # the upstream was closed early
    assert corpus_only.scan(released).findings == ()
    assert len(PLACEHOLDER.sub("", released)) < 50


CHANGED = st.sampled_from(["zebra", "banana", "quickly"])


@st.composite
def corpus_mixes(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(PARAPHRASES + [p.format("it") for _, p in SHORT_PHRASES])))
            continue
        doc = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
        at = draw(st.integers(0, len(doc) - 300))
        at = re.search(r"\b\w", doc[at:]).start() + at
        piece = doc[at : at + draw(st.integers(30, 260))]
        spots = list(re.finditer(r"\w+", piece))
        if draw(st.booleans()) and spots:
            spot = spots[draw(st.integers(0, len(spots) - 1))]
            piece = piece[: spot.start()] + draw(CHANGED) + piece[spot.end() :]
        parts.append(piece)
    return draw(st.sampled_from([" ", "\n\n", ". "])).join(parts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=corpus_mixes(), data=st.data(), echo=st.booleans())
def test_stream_equals_one_shot_for_corpus_passages(policy: Policy, text: str, data: st.DataObject, echo: bool) -> None:
    scanner = Scanner(policy, key=KEY)
    prompt = text[: len(text) // 2] if echo else None
    pieces, at = [], 0
    while at < len(text):
        size = data.draw(st.integers(1, 40))
        pieces.append(text[at : at + size])
        at += size
    incremental = scanner.incremental(prompt)

    out = "".join(incremental.feed(p) for p in pieces) + incremental.finish()
    whole, streamed = scanner.scan(text, prompt), incremental.verdict()

    assert streamed.action == whole.action and streamed.blocked_by == whole.blocked_by
    if whole.action == "block":
        assert out.endswith(whole.text)
    else:
        assert out == whole.text and streamed.findings == whole.findings and streamed.outcomes == whole.outcomes


LIGHTHOUSE = ("The lighthouse keeper counted forty-one gulls on the northern rail before the fog rolled in.\n\n"
              "He wrote each number in a green ledger that nobody else was allowed to open, not even the harbour master.")
ORCHARD = ("Quarterly revenue for the orchard cooperative rose because the late frost spared the pear blossoms.\n\n"
           "The board voted to spend the surplus on a second cider press and a refrigerated delivery truck.")
MIGRATION = "Our migration plan moves every tenant database to the new cluster one shard at a time over three weekends."


def write_docs(folder: Path, **docs: str) -> Path:
    folder.mkdir()
    for name, text in docs.items():
        (folder / f"{name}.txt").write_text(text, "utf-8")
    return folder


def sources(index: Path, text: str) -> set[str]:
    from firewall.detectors.corpus import CorpusDetector

    return {f.source for f in CorpusDetector([CorpusIndex(index)]).find(text)}


def corpus_build(*args: str) -> None:
    result = CliRunner().invoke(main, ["corpus", "build", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_index_roundtrip_counts_ngrams_and_sizes_its_bloom_filter(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "docs", lighthouse=LIGHTHOUSE, orchard=ORCHARD)
    index = CorpusIndex(build_index(iter_documents([folder]), tmp_path / "small.idx"))
    hashes = [ngram_hashes(words(text))[0] for text in (LIGHTHOUSE, ORCHARD)]
    count = sum(len(re.findall(r"\w+", text)) - 5 for text in (LIGHTHOUSE, ORCHARD))

    assert [(d.id, d.path) for d in index.documents] == [(n, str(folder / f"{n}.txt")) for n in ("lighthouse", "orchard")]
    assert index.name == "small" and index.count == count == sum(map(len, hashes))
    assert index.m == -(-16 * count // 64) * 64 and index.m % 64 == 0
    assert all(index.maybe(h).all() and (index.lookup(h) >= 0).all() for h in hashes)
    assert index.maybe(np.random.default_rng(7).integers(0, 2**63, 100_000, dtype=np.uint64)).mean() < 0.005
    assert sources(index.path, LIGHTHOUSE.split("\n\n")[1]) == {"lighthouse §2"}


def test_append_keeps_old_documents_findable_and_adds_new_ones(tmp_path: Path) -> None:
    out = tmp_path / "notes.idx"
    corpus_build(str(write_docs(tmp_path / "one", lighthouse=LIGHTHOUSE, orchard=ORCHARD)), "--out", str(out))
    before = CorpusIndex(out).count
    corpus_build(str(write_docs(tmp_path / "two", migration=MIGRATION)), "--out", str(out), "--append")
    index = CorpusIndex(out)

    assert [d.id for d in index.documents] == ["lighthouse", "orchard", "migration"]
    assert index.count == before + len(re.findall(r"\w+", MIGRATION)) - 5
    assert sources(out, ORCHARD.split("\n\n")[1]) == {"orchard §2"}
    assert sources(out, LIGHTHOUSE.split("\n\n")[0]) == {"lighthouse §1"}
    assert sources(out, MIGRATION) == {"migration §1"}


def test_jsonl_records_are_documents_with_field(tmp_path: Path) -> None:
    records = tmp_path / "memos.jsonl"
    records.write_text(json.dumps({"id": "memo-7", "body": ORCHARD}) + "\n\n" + json.dumps({"body": MIGRATION}) + "\n")
    corpus_build(str(records), "--out", str(tmp_path / "memos.idx"), "--field", "body")
    index = CorpusIndex(tmp_path / "memos.idx")

    assert [(d.id, d.path) for d in index.documents] == [("memo-7", f"{records}:1"), ("memos-3", f"{records}:3")]
    assert sources(index.path, MIGRATION) == {"memos-3 §1"}


def test_committed_index_equals_a_fresh_build_of_the_sample_corpus(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(RULES.parent)
    fresh = CorpusIndex(build_index(iter_documents(["samples/corpus/docs"]), tmp_path / "protected.idx", name="protected"))
    committed = CorpusIndex(RULES / "corpus" / "protected.idx")

    assert committed.documents == fresh.documents and len(committed.documents) == len(TEXTS)
    assert (committed.name, committed.count, committed.m) == (fresh.name, fresh.count, fresh.m)
    assert np.array_equal(np.sort(committed.hashes), np.sort(fresh.hashes))
    assert np.array_equal(committed.bloom, fresh.bloom)


def test_scan_corpus_option_finds_passages_the_policy_does_not_index(rules_dir: Path, tmp_path: Path) -> None:
    policy_file = rules_dir / "policy.yaml"
    settings = yaml.safe_load(policy_file.read_text("utf-8"))
    settings["detectors"]["corpus"]["enabled"] = False
    policy_file.write_text(yaml.safe_dump(settings, sort_keys=False), "utf-8")
    passage, source = PASSAGES[9]
    (tmp_path / "answer.txt").write_text(BEFORE + passage + AFTER, "utf-8")
    args = ["scan", str(tmp_path / "answer.txt"), "--json", "--rules", str(rules_dir), "--events", "none"]

    plain = json.loads(CliRunner().invoke(main, args, catch_exceptions=False).stdout)
    with_corpus = json.loads(CliRunner().invoke(main, [*args, "--corpus", str(RULES / "corpus" / "protected.idx")]).stdout)

    assert "PROTECTED" not in {f["label"] for f in plain["findings"]}
    assert "PROTECTED" in {f["label"] for f in with_corpus["findings"]}
    assert f"[protected: {source}]" in with_corpus["text"] and passage not in with_corpus["text"]


def test_a_missing_index_fails_rules_check_at_its_line(rules_dir: Path) -> None:
    policy_file = rules_dir / "policy.yaml"
    text = policy_file.read_text("utf-8").replace("[corpus/protected.idx]", "[corpus/missing.idx]")
    policy_file.write_text(text, "utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "corpus/missing.idx" in row)

    result = CliRunner().invoke(main, ["rules", "check", "--rules", str(rules_dir)])

    assert result.exit_code == 1
    assert f"policy.yaml:{line}: corpus index 'corpus/missing.idx' not found" in result.stderr
