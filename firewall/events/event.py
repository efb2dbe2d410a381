"""The Event record: one firewall decision, holding labels, offsets, previews and keyed hashes only."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from firewall.model import DetectorFailure, Verdict

INSTANCE = f"{socket.gethostname()}:{os.getpid()}"
"""Which process wrote an event (host:pid), so a fleet's console can tell instances apart."""


def current_instance() -> str:
    """host:pid of this process, also in a worker forked after import (pre-forking servers)."""
    global INSTANCE
    if not INSTANCE.endswith(f":{os.getpid()}"):
        INSTANCE = f"{socket.gethostname()}:{os.getpid()}"
    return INSTANCE


@dataclass(frozen=True)
class EventFinding:
    """A finding as stored: where its replacement sits in the emitted text, never its raw value."""

    detector: str
    rule: str
    label: str
    action: str
    start: int | None
    end: int | None
    score: float
    preview: str
    digest: str
    source: str = ""
    shadow: bool = False
    """The rule is in shadow mode: reported ("would have ...") but the output was not changed."""


@dataclass(frozen=True)
class Event:
    """One decision (kind "verdict") or one rules change (kind "rules_reloaded"/"rules_rejected")."""

    kind: str
    ts: float = field(default_factory=time.time)
    principal: str | None = None
    model: str | None = None
    source: str = "live"
    instance: str = field(default_factory=current_instance)
    action: str | None = None
    status: str | None = None
    rules_version: str | None = None
    latency_ms: float | None = None
    prompt: str | None = None
    """The prompt after redaction by the same policy, never as received."""
    output: str | None = None
    """The text as emitted to the caller; characters of shadow hits (which went out unchanged)
    are masked with `*`, since no finding's raw value is stored."""
    findings: tuple[EventFinding, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    """Every detector failure, as "<detector>: <reason>"."""
    blocked_by: str | None = None
    """The rule that blocked the response (None when a detector failure withheld it: see `error`)."""
    error: DetectorFailure | None = None
    """The detector failure that decided the status (fail_closed / fail_open): stored as
    `{"detector", "reason"}`, null when none. Events written before it existed read back as None."""
    chunks: int | None = None
    message: str | None = None
    dropped: int | None = None
    """kind "events_dropped": how many events the writer had to drop since its last report."""
    scores: dict[str, float] = field(default_factory=dict)
    """Model-side scores of the output when a wrapper has them (e.g. memorization Min-K%)."""
    id: int | None = None

    @property
    def labels(self) -> list[str]:
        return sorted({f.label for f in self.findings if not f.shadow})

    @classmethod
    def from_verdict(cls, verdict: Verdict, *, prompt: str | None = None, **context: Any) -> Event:
        """Build the event of a verdict; `prompt` must already be redacted."""
        return cls(
            kind="verdict",
            action=verdict.action,
            status=verdict.status,
            rules_version=verdict.rules_version,
            prompt=prompt,
            output=verdict.record_text(),
            findings=tuple(
                EventFinding(
                    detector=o.finding.detector,
                    rule=o.finding.rule,
                    label=o.finding.label,
                    action=o.action,
                    start=o.emitted_start,
                    end=o.emitted_end,
                    score=o.finding.score,
                    preview=o.preview,
                    digest=o.digest,
                    source=o.finding.source,
                    shadow=o.shadow,
                )
                for o in (*verdict.outcomes, *verdict.shadow)
            ),
            timings_ms={k: round(v, 3) for k, v in verdict.timings_ms.items()},
            errors=verdict.errors,
            blocked_by=verdict.blocked_by,
            error=verdict.error,
            **context,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Rebuild a stored event. Fields this version does not know are ignored: a store or a
        stream may hold events from a newer firewall (a fleet upgrades one instance at a time)."""
        known = {k: v for k, v in data.items() if k in _EVENT_FIELDS}
        known["findings"] = tuple(
            EventFinding(**{k: v for k, v in f.items() if k in _FINDING_FIELDS}) for f in known.get("findings", ())
        )
        known["errors"] = tuple(known.get("errors", ()))
        error = known.get("error")
        known["error"] = DetectorFailure(**{k: v for k, v in error.items() if k in _FAILURE_FIELDS}) if error else None
        return cls(**known)

    @classmethod
    def decode(cls, body: str | bytes | None, event_id: int) -> Event:
        """A stored JSON body as an Event with this id; one that is not an event at all becomes kind
        "unreadable" (so readers move past it and the console shows it) instead of raising."""
        try:
            return dataclasses.replace(cls.from_dict(json.loads(body or "")), id=event_id)
        except (TypeError, ValueError, AttributeError) as exc:
            return cls(kind="unreadable", id=event_id, instance="",
                       message=f"event {event_id} could not be read ({type(exc).__name__})")


_EVENT_FIELDS = {f.name for f in dataclasses.fields(Event)}
_FINDING_FIELDS = {f.name for f in dataclasses.fields(EventFinding)}
_FAILURE_FIELDS = {f.name for f in dataclasses.fields(DetectorFailure)}
