"""The incremental twin of Scanner.scan(): same findings, same output, for any chunking.

Strategy. A finding that starts at offset s is decided by the text up to s + max_span, so once
N characters have arrived every finding that starts before N - (max_span - 1) is final, and no new
one can start there. Each feed re-runs the detectors on a window that begins at an anchor (an
offset no finding straddles, so a regex restarted there resumes exactly as a one-shot scan would,
with a little look-behind context for \\b), decides the newly final findings in start order with
the same `Decisions` the one-shot scan uses, and releases text up to the final boundary, or to the
end of a chosen segment that crosses it. The unreleased tail is therefore never longer than
max_span - 1 characters, and the text kept for re-scanning is bounded by the anchor.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from firewall.actions import order_key
from firewall.model import Finding, Verdict
from firewall.scanner import Decisions

if TYPE_CHECKING:
    from firewall.scanner import Scanner

CONTEXT = 16
"""Characters kept before the anchor as look-behind context (more if a detector declares a
`lookbehind`)."""


class StreamScanner:
    """Feed chunks, get back only text that no later chunk can change."""

    def __init__(
        self, scanner: Scanner, *, hold_back: int | None = None, step: int | None = None, prompt: str | None = None
    ) -> None:
        self._scanner = scanner
        self._detectors = scanner.for_prompt(prompt)
        self._context = max(CONTEXT, scanner.lookbehind)
        self.hold_back = scanner.max_span - 1 if hold_back is None else hold_back
        """Characters that may still change; `max_span - 1` unless a test shortens it."""
        self._settling = [d for d in self._detectors if hasattr(d, "settled")]
        fixed = [d.max_span for d in self._detectors if not hasattr(d, "settled")]
        self._fixed_hold = min(self.hold_back, max(fixed, default=1) - 1) if hold_back is None else self.hold_back
        """Hold-back of the detectors without a settled point (PII waits only for sentence ends)."""
        self.step = step or scanner.policy.stream_step or max(1, min(64, self._fixed_hold // 8))
        """Re-scan only once this many more characters are final: the detectors' cost is paid per
        step, not per chunk, and at most `hold_back + step - 1` characters wait at any time."""
        self._decisions = Decisions(scanner)
        self._buffer = ""
        self._base = 0  # input offset of _buffer[0]
        self._received = 0
        self._decided = 0  # findings starting before this offset have been decided
        self._anchor = 0  # detection windows start here
        self._wait_until = 0  # a settling detector held the last step back: no new step before this
        self._recent: list[Finding] = []  # decided findings that end after the anchor
        self._finished = False
        self.chunks = 0

    @property
    def stopped(self) -> bool:
        """True once the response was blocked (or a detector failed closed)."""
        return self._decisions.stopped

    def feed(self, chunk: str) -> str:
        """Add a chunk; return the text that is now safe to emit (often "")."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self.chunks += 1
        if self.stopped or not chunk:
            return ""
        due = self.scans(chunk)
        self._buffer += chunk
        self._received += len(chunk)
        return self._advance(self._received - self._fixed_hold) if due else ""

    def scans(self, chunk: str) -> bool:
        """Whether `feed(chunk)` would run the detectors (the async face runs such feeds off the
        event loop; the others only append to a buffer)."""
        received = self._received + len(chunk)
        return bool(chunk) and not self.stopped and received >= self._wait_until and (
            received - self._fixed_hold - self._decided >= self.step
        )

    def finish(self) -> str:
        """End of input: decide the rest and return the remaining text."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        if self.stopped:
            return ""
        return self._advance(self._received, final=True)

    def verdict(self) -> Verdict:
        """The verdict of the whole stream (complete after `finish()`, or once stopped)."""
        return self._decisions.verdict()

    def _advance(self, limit: int, final: bool = False) -> str:
        decisions = self._decisions
        window_start = max(self._base, self._anchor - self._context)
        window = self._buffer[window_start - self._base :]
        start = self._anchor - window_start
        ends = {}  # settling detector → how much of the window it reads
        if not final:
            wanted = limit
            for detector in self._settling:
                # Findings before the detector's settled point are final (PII: up to the last
                # unit end); never hold back more than max_span - 1 all the same.
                settled = detector.settled(window)  # type: ignore[attr-defined]
                limit = min(limit, max(window_start + settled, self._received - self.hold_back))
                if getattr(detector, "reads_to_settled", False):
                    ends[id(detector)] = settled
            if limit < wanted:
                # Held back by an open sentence or a long rule's keyword: look again only once
                # `step` more characters have come, not at every chunk.
                self._wait_until = self._received + self.step
        detection = self._scanner.detect(window, start, [d for d in self._detectors if final or id(d) not in ends])
        for detector in self._detectors if not final else ():
            # A detector whose findings before its settled point depend only on the text before it
            # (PII: whole units) reads only that far: an open sentence is analysed once, when it
            # ends, not again at every step.
            end = max(ends.get(id(detector), -1), limit - window_start)
            if id(detector) in ends and end > start:
                detection.merge(self._scanner.detect(window[:end], start, [detector]))
        new = sorted(
            (
                _shift(f, window_start)
                for f in detection.findings
                if self._decided <= f.start + window_start < limit
            ),
            key=order_key,
        )
        decisions.decide(new, self._buffer, self._base)
        decisions.note(detection)
        if decisions.stopped:
            return decisions.refusal
        if limit <= self._decided:
            return ""
        out = decisions.release(self._buffer, self._base, max(limit, decisions.coverage.end))
        self._decided = limit
        self._move_anchor(limit, new)
        return out

    def _move_anchor(self, limit: int, new: list[Finding]) -> None:
        """Move the anchor to the last offset at or before `limit` that no decided finding straddles."""
        recent = [f for f in self._recent if f.end > self._anchor] + new
        anchor = limit
        moved = True
        while moved:
            moved = False
            for finding in recent:
                if finding.start < anchor < finding.end:
                    anchor, moved = finding.start, True
        self._anchor = anchor
        self._recent = [f for f in recent if f.end > anchor]
        cut = max(self._base, anchor - self._context)
        self._buffer = self._buffer[cut - self._base :]
        self._base = cut


def _shift(finding: Finding, offset: int) -> Finding:
    if offset == 0:
        return finding
    return dataclasses.replace(finding, start=finding.start + offset, end=finding.end + offset)
