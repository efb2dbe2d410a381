"""The values the scanner produces: findings, their outcomes, and verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ActionKind = Literal["redact", "mask", "hash", "encrypt", "block", "flag"]
VerdictAction = Literal["allow", "redact", "block"]
Status = Literal["scanned", "fail_open", "fail_closed"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A span of the scanned text that a detector flagged; offsets index the input text."""

    detector: str
    rule: str
    label: str
    start: int
    end: int
    score: float = 1.0
    source: str = ""
    """Where the leaked thing came from, when known (a canary's placement, a corpus document)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "detector": self.detector,
            "rule": self.rule,
            "label": self.label,
            "start": self.start,
            "end": self.end,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one finding.

    `emitted_start`/`emitted_end` locate its replacement in `Verdict.text`; they are None when
    the finding lay inside another one, or when the whole response was blocked. `preview` is a
    masked preview and `digest` a keyed hash of the raw value: the raw value itself is never kept.
    """

    finding: Finding
    action: ActionKind
    emitted_start: int | None
    emitted_end: int | None
    preview: str
    digest: str


@dataclass(frozen=True)
class Verdict:
    """The result of scanning one response, whole or streamed."""

    text: str
    """The text emitted to the caller: redacted, or the refusal when blocked."""
    findings: tuple[Finding, ...]
    """Every finding, ordered by start offset in the input text."""
    action: VerdictAction
    status: Status
    rules_version: str
    outcomes: tuple[Outcome, ...] = ()
    """One per finding, in the same order."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Time spent in each detector."""
    errors: tuple[str, ...] = ()
    """Why a detector failed, when status is not "scanned"."""
    blocked_by: str | None = None
    """The rule (or "detector:<name>") that blocked the response."""

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels of the findings."""
        return sorted({f.label for f in self.findings})

    def to_dict(self) -> dict[str, object]:
        """The `outguard scan --json` shape: offsets index the input text."""
        return {
            "text": self.text,
            "action": self.action,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
        }
