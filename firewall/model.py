"""The values the scanner produces: findings, their outcomes, and verdicts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

ActionKind = Literal["redact", "mask", "hash", "encrypt", "block", "flag"]
VerdictAction = Literal["allow", "redact", "block"]
Status = Literal["scanned", "fail_open", "fail_closed", "aborted"]
"""How a scan went: "aborted" is a stream that ended before its last chunk (upstream error, or the
consumer closed it), whose verdict covers only the text seen; a detector failure outranks it."""


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
class DetectorFailure:
    """A detector that raised or ran past its budget, and why: only types and figures (an
    exception's message may quote the scanned text, so it is never kept)."""

    detector: str
    reason: str
    """E.g. "raised ValueError" or "ran 1,200 ms, over its budget of 1,000 ms for 6,000 characters"."""

    def __str__(self) -> str:
        return f"{self.detector}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"detector": self.detector, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one finding.

    `emitted_start`/`emitted_end` locate its replacement in `Verdict.text` (for a flagged finding,
    which changes nothing, the span where it went out as is); they are None when the finding lay
    inside another one, or when the whole response was blocked. `preview` is a
    masked preview and `digest` a keyed hash of the raw value: the raw value itself is never kept.
    """

    finding: Finding
    action: ActionKind
    emitted_start: int | None
    emitted_end: int | None
    preview: str
    digest: str
    shadow: bool = False
    """The finding's rule (or detector) is in shadow mode: `action` is what it would have done; the
    output is unchanged, and `emitted_start`/`emitted_end` locate the span where it went out as is
    (None when none of it was emitted)."""


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
    """Every detector failure, as "<detector>: <reason>" (shadow detectors' too, marked "(shadow)")."""
    blocked_by: str | None = None
    """The rule that blocked the response; None when none did (a detector failure that withheld
    it is `error`, never a rule)."""
    shadow: tuple[Outcome, ...] = ()
    """Hits of rules and detectors in shadow mode, ordered like `findings`: what they would have
    done. They change nothing: not the text, the action, a block, nor the quotas."""
    error: DetectorFailure | None = None
    """The detector failure that decided `status`: with "fail_closed" the one that withheld the
    response (unless a rule's block had already done so: `blocked_by` then names the rule), with
    "fail_open" the first one the response passed despite. None when no enforced detector failed."""

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels of the findings."""
        return sorted({f.label for f in self.findings})

    def record_text(self) -> str:
        """`text` as events store it: the characters of findings that went out unchanged (shadow
        hits and flagged findings) are masked with `*` (same length, so every offset stays valid).
        They are findings, and no finding's raw value is ever stored."""
        passed = [o for o in (*self.shadow, *self.outcomes) if o.shadow or o.action == "flag"]
        if not passed:
            return self.text
        mask = bytearray(len(self.text))
        for outcome in passed:
            if outcome.emitted_start is not None and outcome.emitted_end is not None:
                start, end = outcome.emitted_start, outcome.emitted_end
                mask[start:end] = b"\x01" * (end - start)
        for outcome in self.outcomes:
            # Replacements of enforced findings inside such a span are ours, not raw text.
            if outcome.action != "flag" and outcome.emitted_start is not None and outcome.emitted_end is not None:
                start, end = outcome.emitted_start, outcome.emitted_end
                mask[start:end] = bytes(end - start)
        pieces, last = [], 0
        for run in re.finditer(b"\x01+", mask):
            pieces += (self.text[last : run.start()], "*" * (run.end() - run.start()))
            last = run.end()
        return "".join([*pieces, self.text[last:]])

    def to_dict(self) -> dict[str, object]:
        """The `outguard scan --json` shape: offsets index the input text. `error` is the detector
        failure that decided the status (`{"detector", "reason"}`, null when none). `shadow`
        (present only when shadow rules matched) lists their hits with the action they would have
        taken."""
        body: dict[str, object] = {
            "text": self.text,
            "action": self.action,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "error": self.error.to_dict() if self.error is not None else None,
        }
        if self.shadow:
            body["shadow"] = [{**o.finding.to_dict(), "action": o.action} for o in self.shadow]
        return body
