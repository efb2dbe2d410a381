"""The corpus detector: (near-)verbatim corpus spans are found, named and redacted, paraphrases and
ordinary text are not; echoes, cut_after, streaming, the index file and the command line."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import sysconfig
import textwrap
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
from firewall.detectors.corpus import CorpusDetector
from firewall.policy import Policy
from firewall.replay import load_transcripts
from firewall.testing import capture_events
from tests.conftest import KEY, RULES, SAMPLES

TEXTS = {p.stem: p.read_text("utf-8") for p in sorted((SAMPLES / "corpus" / "docs").glob("*.txt"))}
INDEX = RULES / "corpus" / "protected.idx"
PLACEHOLDER = re.compile(r"\[[^\]]*\]")
BEFORE, AFTER = "Sure, here is what the licence says on that point: ", " Does that answer it?"


def excerpt(doc: str, paragraph: int, start: str, length: int) -> tuple[str, str]:
    """A verbatim passage of `doc` (line breaks and indents kept), and its source "doc §n"."""
    passage = TEXTS[doc][TEXTS[doc].index(start) :][:length].rsplit(None, 1)[0].rstrip(",;(")
    return passage, f"{doc} §{paragraph}"


PASSAGES = [  # paragraphs are counted from 1, split by blank lines
    excerpt("apache-2.0", 6, '"Legal Entity" shall mean the union', 220),
    excerpt("apache-2.0", 19, "You must retain, in the Source form", 200),
    excerpt("apache-2.0", 25, "In no event and under no legal theory", 280),
    excerpt("mpl-2.0", 17, "means any patent claim(s)", 200),
    excerpt("mpl-2.0", 50, "You may create and distribute a Larger Work", 250),
    excerpt("mpl-2.0", 59, "If You initiate litigation against any entity", 180),
    excerpt("gpl-3.0", 5, "The licenses for most software and other practical works", 240),
    excerpt("gpl-3.0", 11, "Some devices are designed to deny users", 200),
    excerpt("gpl-3.0", 21, 'To "propagate" a work means', 260),
    excerpt("cc0-1.0", 6, "Certain owners wish to permanently relinquish", 240),
    excerpt("cc0-1.0", 10, "To the greatest extent permitted by, but not in contravention", 300),
]
IDS = [source.replace(" §", "-") for _, source in PASSAGES]


def every_tenth_word_changed(passage: str) -> str:
    for match in reversed(list(re.finditer(r"\w+", passage))[9::10]):
        passage = passage[: match.start()] + "banana" + passage[match.end() :]
    return passage


def surviving(emitted: str, passage: str) -> float:
    """Share of the passage's words still readable in the emitted text."""
    middle = PLACEHOLDER.sub(" ", emitted.removeprefix(BEFORE).removesuffix(AFTER))
    left = [w for w in re.findall(r"\w+", middle) if w != "banana"]
    return len(left) / len([w for w in re.findall(r"\w+", passage) if w != "banana"])


@pytest.fixture(scope="module")
def corpus_only(policy: Policy) -> Scanner:
    """The default policy with only its corpus detector (fast; nothing else redacts)."""
    return Scanner(dataclasses.replace(policy, detectors=("corpus",)), key=KEY)


VARIANTS = {  # how a passage is changed, and the share of its words that may stay readable
    "verbatim": (str, 0),
    "one-word-in-ten-changed": (every_tenth_word_changed, 0.49),  # most of it gone
    "one-line": (lambda p: re.sub(r"\s+", " ", p), 0),
    "no-punctuation": (lambda p: re.sub(r"[,;:.\"]", "", p), 0),
    "upper-case": (str.upper, 0),
    "double-spaced-lower": (lambda p: "  ".join(p.split()).lower(), 0),
}


@pytest.mark.parametrize(("change", "limit"), VARIANTS.values(), ids=VARIANTS.keys())
@pytest.mark.parametrize(("passage", "source"), PASSAGES, ids=IDS)
def test_passage_is_found_named_and_redacted(fw: Firewall, passage, source, change, limit):
    changed = change(passage)
    verdict = fw.scan(BEFORE + changed + AFTER)
    named = Counter(f.source for f in verdict.findings if f.label == "PROTECTED")

    assert 60 <= len(passage) <= 300 and (changed == passage) == (change is str)
    assert named.most_common(1)[0][0] == source and {s.split(" §")[0] for s in named} <= set(TEXTS)
    assert f"[protected: {source}]" in verdict.text and verdict.action == "redact"
    assert passage not in verdict.text
    assert surviving(verdict.text, changed) <= limit


PARAPHRASES = [
    "A legal entity covers the organisation acting and any others it controls or that control it.",
    "Most licences for programs are designed to remove your liberty to share and modify them.",
    "Patent claims are the claims a contributor can license that making or selling would infringe.",
    "Some owners want to give up their rights in a work for good, to enrich a shared commons.",
    "Unless the law demands it, no contributor owes you damages, even if warned they might occur.",
]
SHORT = [  # under 50 characters: their n-grams are in the index, but too few to report
    "the terms and conditions of this License",
    "WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND",
    "you may not use this file except in compliance",
    "is permitted to copy and distribute verbatim",
]


@pytest.mark.parametrize("text", PARAPHRASES + [f"Per the README {p}, always." for p in SHORT])
def test_paraphrases_and_short_phrases_are_not_flagged(fw: Firewall, corpus_only, text: str):
    hashes, valid = ngram_hashes(words(text))
    hits = corpus_only.detectors[0].indexes[0].lookup(hashes[valid]) >= 0

    assert hits.any() == any(p in text for p in SHORT) and all(len(p) < 50 for p in SHORT)
    assert "PROTECTED" not in fw.scan(BEFORE + text + AFTER).labels
    assert corpus_only.scan(text).findings == ()


def test_benign_text_is_not_flagged(fw: Firewall, corpus_only: Scanner) -> None:
    outputs = [t.output for t in load_transcripts([SAMPLES / "transcripts"])]
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[::7]
    source = "\n".join(f.read_text("utf-8", errors="replace") for f in files)[:200_000]

    assert len(outputs) > 40 and len(source) == 200_000
    assert all("PROTECTED" not in fw.scan(output).labels for output in outputs)
    assert corpus_only.detectors[0].find(source) == []


@pytest.mark.parametrize(("passage", "source"), PASSAGES[6:8], ids=IDS[6:8])
def test_passage_the_prompt_supplied_is_an_echo_not_a_leak(fw: Firewall, passage, source):
    """No membership oracle: text the prompt supplied passes (flagged); not supplied, redacted."""
    output = BEFORE + passage + AFTER
    with capture_events(fw) as events:
        echoed = fw.scan(output, prompt=f"Explain this paragraph in plain words:\n\n{passage}")
    leaked = fw.scan(output)

    assert echoed.action == "allow" and echoed.text == output and echoed.labels == ["ECHO"]
    assert {f.source.split(" §")[0] for f in echoed.findings} == {source.split(" §")[0]}
    event = events[0].findings
    assert [(f.label, f.action) for f in event] == [("ECHO", "flag")] * len(echoed.findings)
    stored = events[0].output or ""  # passed to the caller, but a finding: never stored raw
    assert len(stored) == len(output) and not any(stored[f.start : f.end].strip("*") for f in event)
    assert all(piece not in stored for piece in textwrap.wrap(passage, 40))
    assert leaked.action == "redact" and passage not in leaked.text
    assert f"[protected: {source}]" in leaked.text


def test_regurgitation_past_cut_after_is_blocked_whole_and_streamed(fw: Firewall, corpus_only):
    gpl = TEXTS["gpl-3.0"][TEXTS["gpl-3.0"].index("When we speak") :][:4000]
    text = f"Of course. It reads:\n\n{gpl}\n\nThat is all."
    pieces, taken = [text[at : at + 7] for at in range(0, len(text), 7)], []

    whole = fw.scan(text)
    streamed = "".join(fw.stream(taken.append(p) or p for p in pieces))
    released = streamed.removesuffix(whole.text)

    assert fw.policy.detector_settings["corpus"]["cut_after"] == 600
    assert whole.action == "block" and whole.blocked_by.endswith("cut_after")
    assert streamed.endswith(whole.text) and released != streamed
    assert len(taken) < len(pieces)  # the upstream was closed early
    assert corpus_only.scan(released).findings == ()
    assert len(PLACEHOLDER.sub("", released)) < 50


@st.composite
def corpus_mixes(draw: st.DrawFn) -> str:
    """Prose and corpus passages (some with one word changed), joined."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(PARAPHRASES)))
            continue
        doc = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
        at = draw(st.integers(0, len(doc) - 300))
        at += re.search(r"\b\w", doc[at:]).start()
        piece = doc[at : at + draw(st.integers(30, 260))]
        if draw(st.booleans()):  # change one word
            spot = draw(st.sampled_from(list(re.finditer(r"\w+", piece))))
            piece = piece[: spot.start()] + "zebra" + piece[spot.end() :]
        parts.append(piece)
    return draw(st.sampled_from([" ", "\n\n", ". "])).join(parts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=corpus_mixes(), data=st.data(), echo=st.booleans())
def test_stream_equals_one_shot_with_corpus_passages(policy, corpus_only, text, data, echo):
    """The whole policy, and the corpus detector alone (its own hold-back and look-behind)."""
    scanner = data.draw(st.sampled_from([Scanner(policy, key=KEY), corpus_only]))
    prompt = text[: len(text) // 2] if echo else None
    sizes = itertools.cycle(data.draw(st.lists(st.integers(1, 40), min_size=1, max_size=40)))
    cuts = list(itertools.takewhile(lambda at: at < len(text), itertools.accumulate(sizes)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    incremental = scanner.incremental(prompt)

    out = "".join(incremental.feed(p) for p in pieces) + incremental.finish()
    whole, streamed = scanner.scan(text, prompt), incremental.verdict()

    assert (streamed.action, streamed.blocked_by) == (whole.action, whole.blocked_by)
    if whole.action == "block":
        assert out.endswith(whole.text)
    else:
        assert out == whole.text
        assert (streamed.findings, streamed.outcomes) == (whole.findings, whole.outcomes)


NOTE_A, NOTE_B = "\n\n".join(PARAPHRASES[:2]), "\n\n".join(PARAPHRASES[2:4])
NOTE_C = PARAPHRASES[4]  # notes for throwaway indexes: they share no n-gram with the corpus


def write_docs(folder: Path, **docs: str) -> Path:
    folder.mkdir()
    for name, text in docs.items():
        (folder / f"{name}.txt").write_text(text, "utf-8")
    return folder


def sources(index: Path, text: str) -> set[str]:
    return {f.source for f in CorpusDetector([CorpusIndex(index)]).find(text)}


def ngram_count(*texts: str) -> int:
    return sum(len(re.findall(r"\w+", text)) - 5 for text in texts)


def test_index_roundtrip_counts_ngrams_and_sizes_its_bloom_filter(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "docs", alpha=NOTE_A, beta=NOTE_B)
    index = CorpusIndex(build_index(iter_documents([folder]), tmp_path / "small.idx"))
    hashes = [ngram_hashes(words(text))[0] for text in (NOTE_A, NOTE_B)]
    randoms = np.random.default_rng(7).integers(0, 2**63, 100_000, dtype=np.uint64)

    assert [d.id for d in index.documents] == ["alpha", "beta"]
    assert {d.path for d in index.documents} == {str(path) for path in folder.iterdir()}
    assert index.name == "small" and index.count == ngram_count(NOTE_A, NOTE_B)
    assert index.count == sum(map(len, hashes)) and index.m == -(-16 * index.count // 64) * 64
    assert all(index.maybe(h).all() and (index.lookup(h) >= 0).all() for h in hashes)
    assert index.maybe(randoms).mean() < 0.005
    assert sources(index.path, NOTE_A.split("\n\n")[1]) == {"alpha §2"}


def test_append_adds_jsonl_records_and_keeps_old_documents_findable(tmp_path: Path) -> None:
    out, records = str(tmp_path / "notes.idx"), tmp_path / "memos.jsonl"
    lines = [json.dumps({"id": "memo-7", "body": NOTE_C}), "", json.dumps({"body": NOTE_B})]
    records.write_text("\n".join(lines) + "\n", "utf-8")
    folder = write_docs(tmp_path / "a", alpha=NOTE_A)
    for args in ([folder, "--out", out], [records, "--out", out, "--append", "--field", "body"]):
        assert CliRunner().invoke(main, ["corpus", "build", *map(str, args)]).exit_code == 0
    index = CorpusIndex(out)

    assert [d.id for d in index.documents] == ["alpha", "memo-7", "memos-3"]
    assert [d.path for d in index.documents[1:]] == [f"{records}:1", f"{records}:3"]
    assert index.count == ngram_count(NOTE_A, NOTE_B, NOTE_C) and index.name == "notes"
    assert sources(index.path, NOTE_A.split("\n\n")[1]) == {"alpha §2"}
    assert sources(index.path, NOTE_B.split("\n\n")[1]) == {"memos-3 §2"}
    assert sources(index.path, NOTE_C) == {"memo-7 §1"}


def test_committed_index_equals_a_fresh_build_of_the_sample_corpus(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(RULES.parent)
    docs = iter_documents(["samples/corpus/docs"])
    fresh = CorpusIndex(build_index(docs, tmp_path / "p.idx", name="protected"))
    committed = CorpusIndex(INDEX)

    assert committed.header == fresh.header and len(committed.documents) == len(TEXTS)
    assert np.array_equal(np.sort(committed.hashes), np.sort(fresh.hashes))
    assert np.array_equal(committed.bloom, fresh.bloom)


def test_scan_corpus_option_finds_passages_the_policy_does_not_index(rules_dir: Path, tmp_path):
    config = yaml.safe_load((rules_dir / "policy.yaml").read_text("utf-8"))
    config["detectors"]["corpus"]["enabled"] = False
    (rules_dir / "policy.yaml").write_text(yaml.safe_dump(config), "utf-8")
    passage, source = PASSAGES[9]
    (tmp_path / "answer.txt").write_text(BEFORE + passage + AFTER, "utf-8")
    args = ["scan", str(tmp_path / "answer.txt"), "--json", "--rules", str(rules_dir), "--events"]

    plain_body, found_body = (
        json.loads(CliRunner().invoke(main, [*args, "none", *more], catch_exceptions=False).stdout)
        for more in ([], ["--corpus", str(INDEX)])
    )

    assert "PROTECTED" not in {f["label"] for f in plain_body["findings"]}
    assert "PROTECTED" in {f["label"] for f in found_body["findings"]}
    assert f"[protected: {source}]" in found_body["text"] and passage not in found_body["text"]


def test_a_missing_index_fails_rules_check_at_its_line(rules_dir: Path) -> None:
    policy_file = rules_dir / "policy.yaml"
    text = policy_file.read_text("utf-8").replace("corpus/protected.idx]", "corpus/missing.idx]")
    policy_file.write_text(text, "utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "corpus/missing.idx" in row)

    result = CliRunner().invoke(main, ["rules", "check", "--rules", str(rules_dir)])

    assert result.exit_code == 1
    assert f"policy.yaml:{line}: corpus index 'corpus/missing.idx' not found" in result.stderr
