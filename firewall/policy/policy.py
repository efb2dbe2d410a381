"""The immutable, validated policy a Scanner is built from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firewall.canaries import Canary
from firewall.model import ActionKind

if TYPE_CHECKING:
    from firewall.model import DetectorFailure, Finding


PATTERN_DETECTOR = "patterns"
"""The detector name on findings of pattern rules (`PatternDetector.name`)."""
RESERVED_PREFIXES = ("pii.", "corpus")
"""Rule ids other detectors give their findings (`pii.person`, `corpus:<index>`): pattern rules may
not take them, so a rule's id always names one rule in events, filters and the console."""


@dataclass(frozen=True)
class ActionSpec:
    """How findings of a rule or label change the output."""

    kind: ActionKind
    placeholder: str | None = None
    keep: int = 4
    char: str = "*"
    key_env: str = "OUTGUARD_ENCRYPT_KEY"


@dataclass(frozen=True)
class PatternRule:
    """A compiled regex or keyword rule, with where it was defined."""

    id: str
    label: str
    path: Path
    line: int
    regex: Any | None  # a compiled google-re2 pattern
    pattern: str | None
    terms: tuple[str, ...]
    keywords: tuple[str, ...]
    """Lower-cased prefilter words; a match must contain one of them."""
    ignore_case: bool
    whole_word: bool
    validate: str | None
    min_entropy: float | None
    score: float
    max_span: int
    action: ActionSpec | None
    examples_match: tuple[str, ...]
    examples_no_match: tuple[str, ...]
    shadow: bool = False
    """Reported ("would have ..."), never enforced."""
    value_group: int = 0
    """Index of the regex's `(?P<value>...)` group (0: none): the finding covers that group only."""
    value_groups: tuple[int, ...] = ()
    """`value`, then `value2`, `value3`...: alternatives of one pattern each name their own value
    (RE2 allows a name once); the first that took part in a match is the finding."""
    key_group: int = 0
    """Index of the regex's `(?P<key>...)` group (0: none), checked against `ignore_keys`."""
    lead: int = 0
    """Most characters a match may run before its value group (look-behind a stream must keep)."""
    placeholders: bool = False
    """Drop values that look like documentation placeholders."""
    allow: tuple[Any, ...] = ()
    """Compiled RE2 patterns: a value containing a match of any is not a finding."""
    ignore_keys: Any | None = None
    checksum: str | None = None
    max_length: int | None = None
    """A longer match is cut to this length (the rule's regex may be open-ended)."""


@dataclass(frozen=True)
class FleetSettings:
    """Where a watching firewall hears "rules changed" notices (Redis pub/sub)."""

    notices: str
    """Redis URL."""
    channel: str = "outguard:rules"


@dataclass(frozen=True)
class Policy:
    """Everything in a rules folder, validated; `version` is a hash of the files' contents."""

    folder: Path
    version: str
    files: tuple[Path, ...]
    fail_mode: str
    detector_budget_ms: float
    refusal: str
    default_action: ActionSpec
    label_actions: Mapping[str, ActionSpec]
    detectors: tuple[str, ...]
    pattern_rules: tuple[PatternRule, ...]
    events: str | None = None
    hardening: Mapping[str, Any] | None = None
    """The `hardening:` section as written (validated at load); None: strip."""
    quotas: Mapping[str, Any] | None = None
    """The `quotas:` section as written (validated at load); None: no quotas."""
    signals: Mapping[str, float] = field(default_factory=dict)
    """Violation weight per prompt signal kind and per output finding label."""
    stream_step: int | None = None
    """Characters that must become final before a stream re-scans; None: automatic."""
    watch_seconds: float = 1.0
    rule_actions: Mapping[tuple[str, str], ActionSpec] = field(default_factory=dict)
    """Actions of rules that name their own, keyed by (detector, rule id): a pattern rule's id can
    never stand for another detector's rule (a canary id, `pii.person`)."""
    canaries: tuple[Canary, ...] = ()
    """Active (not retired) canaries."""
    detector_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per detector kind, its settings from policy.yaml (besides `enabled` and `shadow`)."""
    shadow_rules: frozenset[tuple[str, str]] = frozenset()
    """(detector, rule id) of each rule in shadow mode."""
    shadow_detectors: frozenset[str] = frozenset()
    """Detector kinds in shadow mode (all their findings are)."""
    fleet: FleetSettings | None = None

    def with_corpora(self, paths: list[Path]) -> Policy:
        """This policy with more corpus indexes (absolute paths), the corpus detector enabled."""
        settings = dict(self.detector_settings.get("corpus", {}))
        settings["indexes"] = [*settings.get("indexes", ()), *map(str, paths)]
        detectors = self.detectors if "corpus" in self.detectors else (*self.detectors, "corpus")
        return replace(self, detectors=detectors, detector_settings={**self.detector_settings, "corpus": settings})

    def action_for(self, finding: Finding) -> ActionSpec:
        """The rule's own action, else its label's, else the policy default."""
        return (
            self.rule_actions.get((finding.detector, finding.rule))
            or self.label_actions.get(finding.label)
            or self.default_action
        )

    def is_shadow(self, finding: Finding) -> bool:
        """True when the finding's rule or detector is in shadow mode: reported, never enforced."""
        return (finding.detector, finding.rule) in self.shadow_rules or finding.detector in self.shadow_detectors

    @cached_property
    def passes_findings(self) -> bool:
        """True when some findings may go out unchanged (shadow mode, or a `flag` action): scans
        then track where unchanged text went, to locate (and, in events, mask) those findings."""
        actions = (self.default_action, *self.label_actions.values(), *self.rule_actions.values())
        return bool(self.shadow_rules or self.shadow_detectors) or any(a.kind == "flag" for a in actions)

    def refusal_for(self, rule: str | None = None, *, failure: DetectorFailure | None = None) -> str:
        """The refusal text: the policy's `refusal` naming the rule that blocked, or, when a
        detector failed closed (`failure`), a text saying which detector failed and why, which
        never claims that a rule matched.

        The rule id and the failure are inserted as data, never through a format string: one
        holding "{rule}", "{0}" or "%s" comes out as written.
        """
        if failure is not None:
            return f"[outguard] This response was withheld because a detector failed ({failure})."
        return self.refusal.replace("{rule}", rule or "")
