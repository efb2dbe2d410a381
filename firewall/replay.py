"""Replay recorded exchanges (JSONL transcripts) through a firewall, with their chunk boundaries.

One record per line::

    {"id": "support-01", "principal": "acme-web", "model": "gpt-4o-mini", "prompt": "...",
     "chunks": ["Sure", ", Jane", ...], "expect": {"action": "redact", "labels": ["EMAIL"]},
     "sensitive": ["jane@corp.example"]}

`expect` and `sensitive` are optional; `sensitive` lists raw values that must never be stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from firewall.errors import ConfigError
from firewall.firewall import Firewall
from firewall.model import Verdict

CHUNK_INTERVAL_S = 0.02
"""Time between chunks at speed 1 (about 50 tokens a second, a typical hosted model)."""


@dataclass(frozen=True)
class Transcript:
    id: str
    chunks: tuple[str, ...]
    prompt: str | None = None
    principal: str | None = None
    model: str | None = None
    expect_action: str | None = None
    expect_labels: tuple[str, ...] | None = None
    sensitive: tuple[str, ...] = ()

    @property
    def output(self) -> str:
        return "".join(self.chunks)


@dataclass(frozen=True)
class ReplayResult:
    transcript: Transcript
    verdict: Verdict
    output: str
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def load_transcripts(paths: Iterable[str | Path]) -> list[Transcript]:
    """Read transcript files (or folders of *.jsonl).

    Raises:
        ConfigError: naming the file and line of a malformed record.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
    transcripts = []
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        for number, line in enumerate(lines, 1):
            if line.strip():
                transcripts.append(_parse(path, number, line))
    return transcripts


def _parse(path: Path, number: int, line: str) -> Transcript:
    where = f"{path}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: invalid JSON: {exc.msg}") from exc
    chunks = record.get("chunks") if isinstance(record, dict) else None
    if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
        raise ConfigError(f"{where}: 'chunks' must be a list of strings")
    expect = record.get("expect") or {}
    labels = expect.get("labels")
    return Transcript(
        id=str(record.get("id", where)),
        chunks=tuple(chunks),
        prompt=record.get("prompt"),
        principal=record.get("principal"),
        model=record.get("model"),
        expect_action=expect.get("action"),
        expect_labels=tuple(sorted(labels)) if labels is not None else None,
        sensitive=tuple(record.get("sensitive", ())),
    )


def replay(
    fw: Firewall, transcripts: Iterable[Transcript], *, speed: float = 0.0, source: str = "replay"
) -> Iterator[ReplayResult]:
    """Stream each transcript through `fw` with its original chunks and check its expectations.

    `speed` scales the pace: 1 is about 50 chunks a second, 2 twice that, 0 as fast as possible.
    """
    delay = CHUNK_INTERVAL_S / speed if speed > 0 else 0.0
    transcripts = list(transcripts)
    fw.prefetch([t.output for t in transcripts] + [t.prompt for t in transcripts if t.prompt])
    for transcript in transcripts:
        verdicts: list[Verdict] = []
        chunks = _paced(transcript.chunks, delay)
        output = "".join(
            fw.stream(
                chunks,
                prompt=transcript.prompt,
                principal=transcript.principal,
                model=transcript.model,
                source=source,
                on_verdict=verdicts.append,
            )
        )
        verdict = verdicts[0]
        yield ReplayResult(transcript, verdict, output, tuple(_problems(transcript, verdict)))


def _paced(chunks: tuple[str, ...], delay: float) -> Iterator[str]:
    for chunk in chunks:
        if delay:
            time.sleep(delay)
        yield chunk


def _problems(transcript: Transcript, verdict: Verdict) -> Iterator[str]:
    if transcript.expect_action is not None and verdict.action != transcript.expect_action:
        yield f"action {verdict.action}, expected {transcript.expect_action}"
    if transcript.expect_labels is not None and tuple(verdict.labels) != transcript.expect_labels:
        yield f"labels {verdict.labels}, expected {list(transcript.expect_labels)}"
