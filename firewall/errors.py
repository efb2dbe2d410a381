"""The firewall's exceptions.

FirewallError
  ├─ ConfigError        bad URI, unknown detector kind, unknown sink scheme
  │    └─ RuleError     a rule file problem; str() is "path:line: message"
  ├─ DetectorError      a detector raised or ran past its budget (the policy decides fail-open or -closed)
  ├─ QuotaExceeded      carries the limit and reset time
  └─ OutputBlocked      raised only by wrappers; carries the (redacted) Verdict, never raw text

A blocked output is a `Verdict` with action "block", not an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firewall.model import Verdict


class FirewallError(Exception):
    """Base of every error the firewall raises on purpose."""


class ConfigError(FirewallError):
    """A configuration value (URI, detector kind, sink scheme) is not usable."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a rule file, located by file and line (1-based)."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class RuleError(ConfigError):
    """A rule file is malformed; `problems` lists every problem found (at least one)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DetectorError(FirewallError):
    """A detector raised or exceeded its time budget."""

    def __init__(self, detector: str, reason: str) -> None:
        self.detector = detector
        self.reason = reason
        super().__init__(f"detector {detector!r} failed: {reason}")


class QuotaExceeded(FirewallError):
    """A quota refused the request; `retry_after` is in seconds."""

    def __init__(self, limit: str, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"quota {limit} exceeded; retry after {retry_after:.1f}s")


class OutputBlocked(FirewallError):
    """Raised by wrappers whose API has no other way to refuse; carries the redacted verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.text)
