"""The scanning pipeline: detectors, then overlap resolution, then actions. Pure and synchronous."""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from firewall.actions import Coverage, Renderer, Segment, order_key, preview, resolve
from firewall.detectors import Detector, build_detectors
from firewall.keys import install_key
from firewall.model import ActionKind, DetectorFailure, Finding, Outcome, Status, Verdict

if TYPE_CHECKING:
    from firewall.policy.policy import Policy
    from firewall.streaming import StreamScanner

BUDGET_CHARS = 4000
"""A detector's budget is `detector_budget_ms` per started 4,000 characters of the text it is given:
NER and other per-character work grows with the text, so a long answer is not failed for its length."""


def budget_ms(policy_budget_ms: float, chars: int) -> float:
    """The time one `find` call on `chars` characters may take: the policy's budget per started
    `BUDGET_CHARS` characters (at least one: up to 4,000 characters get the budget as configured)."""
    return policy_budget_ms * max(1, -(-chars // BUDGET_CHARS))


@dataclass
class Detection:
    """What the detectors found in one text, with their timings and failures."""

    findings: list[Finding]
    timings_ms: dict[str, float]
    failures: list[DetectorFailure] = field(default_factory=list)
    """Each detector that raised or ran past its budget, and why (types and figures only)."""

    def merge(self, other: Detection) -> None:
        """Add what other detectors found in the same scan step."""
        self.findings.extend(other.findings)
        for name, ms in other.timings_ms.items():
            self.timings_ms[name] = self.timings_ms.get(name, 0.0) + ms
        self.failures.extend(other.failures)


class Scanner:
    """Scan texts with the detectors of one policy; `incremental()` gives the streaming twin."""

    def __init__(self, policy: Policy, *, detectors: list[Detector] | None = None, key: bytes | None = None):
        self.policy = policy
        self.detectors = build_detectors(policy) if detectors is None else detectors
        self.max_span = max((d.max_span for d in self.detectors), default=1)
        """Longest span any detector decides; a stream holds back `max_span - 1` characters."""
        self.lookbehind = max((getattr(d, "lookbehind", 0) for d in self.detectors), default=0)
        """Most text before a stream window that a detector's decisions may depend on."""
        self.renderer = Renderer(policy, key if key is not None else install_key())

    def prefetch(self, texts: list[str]) -> None:
        """Let detectors that batch (PII: spaCy's nlp.pipe) analyse many texts ahead of scanning."""
        for detector in self.detectors:
            if hasattr(detector, "prefetch"):
                detector.prefetch(texts)

    def for_prompt(self, prompt: str | None) -> list[Detector]:
        """The detectors for one request (some treat text the caller supplied differently)."""
        if not prompt:
            return self.detectors
        return [d.with_prompt(prompt) if hasattr(d, "with_prompt") else d for d in self.detectors]

    def detect(self, text: str, start: int = 0, detectors: list[Detector] | None = None) -> Detection:
        """Run every detector on `text` (findings from `start` on); never raises for a detector.

        A detector fails when it raises or runs past its budget, `detector_budget_ms` per started
        4,000 characters of `text` (see `budget_ms`); a failed detector's findings are dropped.
        """
        detection = Detection([], {})
        budget = budget_ms(self.policy.detector_budget_ms, len(text))
        for detector in self.detectors if detectors is None else detectors:
            if hasattr(detector, "wait_loaded"):
                detector.wait_loaded()  # models still loading in the background: not the scan's time
            began = time.perf_counter()
            try:
                found = detector.find(text, start)
            except Exception as exc:  # any detector bug must become a policy decision, not a crash
                # Only the type: an exception message may quote the raw text being scanned.
                found, reason = [], f"raised {type(exc).__name__}"
            else:
                reason = None
            elapsed_ms = (time.perf_counter() - began) * 1000
            detection.timings_ms[detector.name] = elapsed_ms
            if reason is None and elapsed_ms > budget:
                reason = f"ran {elapsed_ms:,.0f} ms, over its budget of {budget:,.0f} ms for {len(text):,} characters"
            if reason is not None:
                detection.failures.append(DetectorFailure(detector.name, reason))
            else:
                detection.findings.extend(found)
        return detection

    def scan(self, text: str, prompt: str | None = None) -> Verdict:
        """Scan a whole text (answering `prompt`, if given) and return what to emit."""
        decisions = Decisions(self)
        detection = self.detect(text, 0, self.for_prompt(prompt))
        decisions.decide(sorted(detection.findings, key=order_key), text, 0)
        decisions.note(detection)  # after: a block finding names its rule even if a detector failed
        if not decisions.stopped:
            decisions.release(text, 0, len(text))
        return decisions.verdict()

    def incremental(self, prompt: str | None = None) -> StreamScanner:
        """A stream scanner whose output equals `scan()` of the concatenated chunks."""
        from firewall.streaming import StreamScanner

        return StreamScanner(self, prompt=prompt)


class Decisions:
    """The state one scan builds up, shared by the one-shot and streamed faces.

    Findings are decided in start order (`decide`), then text is released up to a position
    (`release`) with each chosen segment replaced; a block or a fail-closed detector stops the scan
    and emits the refusal instead.
    """

    def __init__(self, scanner: Scanner) -> None:
        self._scanner = scanner
        self.findings: list[Finding] = []
        self._kinds: list[ActionKind] = []
        self._evidence: list[tuple[str, str]] = []
        self._emitted: dict[int, tuple[int, int]] = {}
        self._pending: deque[tuple[int, Segment, str]] = deque()
        self._shadow: list[tuple[Finding, ActionKind, str, str]] = []
        self._runs: list[tuple[int, int, int]] = []
        """(input start, input end, output start) of each stretch emitted unchanged, merged; kept
        only when some findings go out unchanged (shadow hits, flagged findings: they are located
        in the output with it)."""
        self._track = scanner.policy.passes_findings
        self.coverage = Coverage()
        """Where the chosen segments end, in input offsets."""
        self.released = 0
        """Input text before this offset has been emitted."""
        self._out: list[str] = []
        self._out_len = 0
        self.status: Status = "scanned"
        self.errors: list[str] = []
        self.timings_ms: dict[str, float] = {}
        self.blocked_by: str | None = None
        self.error: DetectorFailure | None = None
        """The failure that set `status` (fail_closed or fail_open)."""
        self.stopped = False
        self._cut_after = scanner.policy.detector_settings.get("corpus", {}).get("cut_after")
        self._protected = 0  # characters of protected text chosen so far
        self.refusal = ""
        """The refusal emitted when the scan stopped."""

    def note(self, detection: Detection) -> None:
        """Account for one detection's timings and failures (may stop the scan: fail-closed)."""
        for name, ms in detection.timings_ms.items():
            self.timings_ms[name] = self.timings_ms.get(name, 0.0) + ms
        for failure in detection.failures:
            if failure.detector in self._scanner.policy.shadow_detectors:
                self.errors.append(f"{failure.detector} (shadow): {failure.reason}")  # a trial never blocks
                continue
            self.errors.append(str(failure))
            if self.error is None:
                self.error = failure
            if self._scanner.policy.fail_mode == "closed":
                self.status = "fail_closed"
                self._stop(failure=failure)
            elif self.status == "scanned":
                self.status = "fail_open"

    def decide(self, findings: list[Finding], text: str, base: int) -> None:
        """Take final findings (in `order_key` order, starting after all earlier ones).

        `text[i - base]` is the input character at offset i.
        """
        policy, renderer = self._scanner.policy, self._scanner.renderer
        if policy.shadow_rules or policy.shadow_detectors:
            # Shadow hits are recorded with the action they would take and take no part in
            # anything else: not overlaps, not cut_after, not blocks.
            enforced = []
            for finding in findings:
                if policy.is_shadow(finding):
                    value = text[finding.start - base : finding.end - base]
                    kind = policy.action_for(finding).kind
                    self._shadow.append((finding, kind, preview(value), renderer.digest(value)))
                else:
                    enforced.append(finding)
            findings = enforced
        specs = [policy.action_for(f) for f in findings]
        # Flagged findings are reported but change nothing, so they do not take part in overlaps.
        acting = [f for f, spec in zip(findings, specs, strict=True) if spec.kind != "flag"]
        chosen = dict(zip(map(id, acting), resolve(acting, self.coverage), strict=True))
        for finding, spec in zip(findings, specs, strict=True):
            segment = chosen.get(id(finding))
            value = text[finding.start - base : finding.end - base]
            index = len(self.findings)
            self.findings.append(finding)
            self._kinds.append(spec.kind)
            self._evidence.append((preview(value), renderer.digest(value)))
            if spec.kind == "block" and self.blocked_by is None:
                self.blocked_by = finding.rule
            elif segment is not None:
                if finding.label == "PROTECTED" and self._cut_after is not None:
                    self._protected += segment.end - segment.start
                    if self._protected >= self._cut_after and self.blocked_by is None:
                        self.blocked_by = f"{finding.rule}:cut_after"
                piece = text[segment.start - base : segment.end - base]
                self._pending.append((index, segment, renderer.replacement(spec, segment, piece)))
        if self.blocked_by is not None:
            self._stop(self.blocked_by)

    def release(self, text: str, base: int, upto: int) -> str:
        """Emit input text up to `upto` (or past it, to the end of a segment that covers it)."""
        pieces: list[str] = []
        length = self._out_len
        position = self.released
        while self._pending and self._pending[0][1].start < upto:
            index, segment, replacement = self._pending.popleft()
            before = text[position - base : segment.start - base]
            self._copied(position, segment.start, length)
            self._emitted[index] = (length + len(before), length + len(before) + len(replacement))
            pieces += (before, replacement)
            length += len(before) + len(replacement)
            position = segment.end
        if position < upto:
            pieces.append(text[position - base : upto - base])
            self._copied(position, upto, length)
            position = upto
        self.released = position
        return self._emit("".join(pieces))

    def _copied(self, start: int, end: int, out: int) -> None:
        """Input [start, end) went out unchanged at output offset `out`."""
        if start >= end or not self._track:
            return
        if self._runs and self._runs[-1][1] == start and self._runs[-1][2] + (start - self._runs[-1][0]) == out:
            self._runs[-1] = (self._runs[-1][0], end, self._runs[-1][2])  # one run, however it was fed
        else:
            self._runs.append((start, end, out))

    def _where_emitted(self, finding: Finding) -> tuple[int | None, int | None]:
        """Output offsets spanning the characters of `finding` that went out unchanged."""
        first = last = None
        for start, end, out in self._runs[max(0, bisect_right(self._runs, (finding.start,)) - 1) :]:
            if start >= finding.end:
                break
            lo, hi = max(start, finding.start), min(end, finding.end)
            if lo < hi:
                first = out + lo - start if first is None else first
                last = out + hi - start
        return first, last

    def _located(self, index: int, finding: Finding, kind: ActionKind) -> tuple[int | None, int | None]:
        """Where finding `index` is in the output: its replacement, or, for a flagged finding
        (which changes nothing), the characters of it that went out as they were."""
        if kind == "flag":
            return self._where_emitted(finding)
        return self._emitted.get(index, (None, None))

    def _emit(self, piece: str) -> str:
        self._out.append(piece)
        self._out_len += len(piece)
        return piece

    def _stop(self, rule: str | None = None, *, failure: DetectorFailure | None = None) -> None:
        """Withhold the rest of the response: a rule's block (`rule`) or a detector that failed
        closed (`failure`, which names no rule)."""
        if not self.stopped:
            self.stopped = True
            self._pending.clear()
            self.refusal = self._emit(self._scanner.policy.refusal_for(rule, failure=failure))
            self.blocked_by = rule

    def verdict(self) -> Verdict:
        outcomes = tuple(
            Outcome(finding, kind, *self._located(i, finding, kind), *self._evidence[i])
            for i, (finding, kind) in enumerate(zip(self.findings, self._kinds, strict=True))
        )
        if self.stopped:
            action = "block"
        elif self._emitted:
            action = "redact"
        else:
            action = "allow"
        return Verdict(
            text="".join(self._out),
            findings=tuple(self.findings),
            action=action,
            status=self.status,
            rules_version=self._scanner.policy.version,
            outcomes=outcomes,
            timings_ms=dict(self.timings_ms),
            errors=tuple(self.errors),
            blocked_by=self.blocked_by,
            error=self.error,
            shadow=tuple(
                Outcome(finding, kind, *self._where_emitted(finding), shown, digest, shadow=True)
                for finding, kind, shown, digest in self._shadow
            ),
        )
