"""Load a rules folder into a Policy; every problem is reported with its file and line."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import re._parser as sre_parse
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from firewall.canaries import MIN_BITS, Canary, estimate_bits
from firewall.errors import Problem, RuleError
from firewall.normalize import canonical
from firewall.policy.policy import (
    PATTERN_DETECTOR,
    RESERVED_PREFIXES,
    ActionSpec,
    FleetSettings,
    PatternRule,
    Policy,
)
from firewall.policy import example_cache
from firewall.policy.schema import ActionField, PackModel, PolicyModel, RegistryModel, RuleModel

M = TypeVar("M", bound=BaseModel)

POLICY_FILE = "policy.yaml"
MAX_SPAN_LIMIT = 4096
"""Longest match a pattern may produce: it bounds the stream hold-back and the scan window."""
RE2_MAX_MEM = 32 << 20
"""RE2's memory budget per pattern (default 8 MB): wide counted repetitions (a JWT, a key block)
need room for the DFA to stay cached; with too little RE2 rebuilds it on every text or falls
back to its slower NFA (a 1.6 KB run of "eyJ" took 220 ms instead of 0.5 ms). Allocated only as
a pattern's DFA grows."""
LONG_SPAN = 768
"""Patterns that can match more than this (whole private keys, JWTs) must have keywords: a stream
holds text back for them only while one of their keywords is near its end (PatternDetector.settled)."""


def load_policy(folder: str | Path) -> Policy:
    """Load and validate a rules folder.

    Raises:
        RuleError: listing every problem, each as "path:line: message".
    """
    policy, problems = _load(Path(folder))
    if problems or policy is None:
        raise RuleError(problems)
    return policy


def check_rules(folder: str | Path) -> list[Problem]:
    """Every problem in a rules folder (empty when it loads), including failing rule examples."""
    return _load(Path(folder))[1]


def rule_files(folder: Path) -> list[Path]:
    """The files that make up a policy, in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def policy_version(files: list[Path], folder: Path) -> str:
    """A short hash over the files' names and bytes: equal rules, equal version."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@dataclass
class _Doc:
    path: Path
    node: yaml.Node
    data: Any

    def line(self, loc: tuple[int | str, ...]) -> int:
        """1-based line of the deepest YAML node along a pydantic error location."""
        node = self.node
        for part in loc:
            child = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                child = node.value[part] if part < len(node.value) else None
            if child is None:
                continue  # pydantic adds union member names to locations; they are not in the YAML
            node = child
        return node.start_mark.line + 1


def _load(folder: Path) -> tuple[Policy | None, list[Problem]]:
    problems: list[Problem] = []
    if not folder.is_dir():
        return None, [Problem(folder, 1, "rules folder not found")]
    files = rule_files(folder)
    policy_path = folder / POLICY_FILE
    if policy_path not in files:
        return None, [Problem(policy_path, 1, f"missing {POLICY_FILE}")]

    settings: PolicyModel | None = None
    rules: list[PatternRule] = []
    seen: dict[str, PatternRule] = {}
    places: dict[str, tuple[_Doc, int]] = {}  # rule id -> its file and index, to locate its examples
    canaries: dict[str, Canary] = {}
    canary_files: dict[str, Path] = {}  # canary id -> the registry that holds it
    for path in files:
        doc = _parse(path, problems)
        if doc is None:
            continue
        if path == policy_path:
            settings, policy_doc = _validate(PolicyModel, doc, problems), doc
            continue
        if isinstance(doc.data, dict) and "canaries" in doc.data:
            _load_canaries(doc, canaries, problems)
            canary_files.update((cid, path) for cid in canaries if cid not in canary_files)
            continue
        if not isinstance(doc.data, dict) or "rules" not in doc.data:
            problems.append(Problem(path, 1, "expected a mapping with a 'rules:' list (or 'canaries:')"))
            continue
        pack = _validate(PackModel, doc, problems)
        if pack is None:
            continue
        for index, model in enumerate(pack.rules):
            line = doc.line(("rules", index))
            if model.id in seen:
                first = seen[model.id]
                problems.append(
                    Problem(path, line, f"duplicate rule id {model.id!r} (first at {first.path}:{first.line})")
                )
                continue
            rule = _compile_rule(model, path, line, doc, index, problems)
            if rule is not None:
                seen[model.id] = rule
                places[model.id] = (doc, index)
                if model.enabled:
                    rules.append(rule)
    if settings is None:
        return None, problems
    problems.extend(_index_problems(settings, policy_doc))
    problems.extend(_encrypt_problems(settings, rules, policy_doc))
    problems.extend(_setting_problems(settings, policy_doc))
    rules = _with_global_allow(rules, settings, policy_doc, problems)
    problems.extend(_id_problems(seen.values(), canary_files))
    for rule in seen.values():
        problems.extend(_example_problems(rule, *places[rule.id]))
    _remember_outcomes()
    try:
        version = policy_version(files, folder)
    except OSError as exc:  # a file removed or made unreadable since it was parsed
        problems.append(Problem(Path(exc.filename or folder), 1, f"cannot read: {type(exc).__name__}"))
    if problems:
        return None, problems
    return (
        Policy(
            folder=folder,
            version=version,
            files=tuple(files),
            fail_mode=settings.fail_mode,
            detector_budget_ms=settings.detector_budget_ms,
            refusal=settings.refusal,
            default_action=_action(settings.default_action),
            label_actions={label: _action(a) for label, a in settings.actions.items()},
            detectors=tuple(kind for kind, d in settings.detectors if d.enabled),
            detector_settings={
                kind: d.model_dump(exclude={"enabled", "shadow"}) for kind, d in settings.detectors if d.enabled
            },
            shadow_rules=frozenset((PATTERN_DETECTOR, r.id) for r in rules if r.shadow),
            shadow_detectors=frozenset(kind for kind, d in settings.detectors if d.enabled and d.shadow),
            fleet=FleetSettings(settings.fleet.notices, settings.fleet.channel) if settings.fleet else None,
            canaries=tuple(c for c in canaries.values() if not c.retired),
            pattern_rules=tuple(rules),
            events=settings.events,
            stream_step=None if settings.stream_step == "auto" else settings.stream_step,
            quotas=settings.quotas,
            hardening=settings.hardening,
            signals=settings.signals,
            watch_seconds=settings.watch_seconds,
            rule_actions={(PATTERN_DETECTOR, r.id): r.action for r in rules if r.action is not None},
        ),
        [],
    )


def _id_problems(rules: Iterable[PatternRule], canary_files: dict[str, Path]) -> list[Problem]:
    """Pattern rule ids that other detectors' findings use: a canary's id, or a reserved prefix."""
    problems = []
    for rule in rules:
        if rule.id in canary_files:
            problems.append(Problem(rule.path, rule.line, f"rule id {rule.id!r} is a canary's id "
                                    f"(in {canary_files[rule.id]}); give the rule another id"))
        elif rule.id.startswith(RESERVED_PREFIXES):
            problems.append(Problem(rule.path, rule.line, f"rule id {rule.id!r}: ids starting with "
                                    f"{' or '.join(map(repr, RESERVED_PREFIXES))} name other detectors' findings"))
    return problems


def _with_global_allow(
    rules: list[PatternRule], settings: PolicyModel, doc: _Doc, problems: list[Problem]
) -> list[PatternRule]:
    """Every rule with the policy's `detectors.patterns.allow` patterns added to its own."""
    compiled = []
    for i, pattern in enumerate(settings.detectors.patterns.allow):
        regex = _compile_re2(pattern, False)
        if isinstance(regex, str):
            where = ("detectors", "patterns", "allow", i)
            problems.append(Problem(doc.path, doc.line(where), f"detectors.patterns.allow[{i}]: RE2 rejects the pattern: {regex}"))
        else:
            compiled.append(regex)
    if not compiled:
        return rules
    return [replace(rule, allow=(*rule.allow, *compiled)) for rule in rules]


def _setting_problems(settings: PolicyModel, doc: _Doc) -> list[Problem]:
    """Sections validated by their own module (quotas, hardening), located by their YAML node."""
    from firewall.errors import ConfigError
    from firewall.hardening import Hardening
    from firewall.quota import QuotaPolicy

    problems = []
    for key, build in (("quotas", QuotaPolicy.from_settings), ("hardening", Hardening.from_settings)):
        if getattr(settings, key) is None:
            continue
        try:
            build(getattr(settings, key))
        except ConfigError as exc:
            # Messages name the field ("quotas.requests: ..."): point at its line.
            field = re.match(rf"{key}\.(\w+)", str(exc))
            problems.append(Problem(doc.path, doc.line((key, field.group(1)) if field else (key,)), str(exc)))
    return problems


def _encrypt_problems(settings: PolicyModel, rules: list[PatternRule], doc: _Doc) -> list[Problem]:
    """An encrypt action needs its key in the environment now, not at the first finding."""
    places = [(_action(settings.default_action), doc.path, doc.line(("default_action",)))]
    places += [(_action(a), doc.path, doc.line(("actions", label))) for label, a in settings.actions.items()]
    places += [(r.action, r.path, r.line) for r in rules if r.action is not None]
    problems, reported = [], set()
    for spec, path, line in places:
        unset = len(os.environ.get(spec.key_env, "").encode()) not in (16, 24, 32)
        if spec.kind == "encrypt" and spec.key_env not in reported and unset:
            reported.add(spec.key_env)
            message = f"the encrypt action needs ${spec.key_env} set to a 16, 24 or 32 byte key"
            problems.append(Problem(path, line, message))
    return problems


def _index_problems(settings: PolicyModel, doc: _Doc) -> list[Problem]:
    corpus = settings.detectors.corpus
    if not corpus.enabled:
        return []
    line = doc.line(("detectors", "corpus", "indexes"))
    problems = []
    for name in corpus.indexes:
        path = doc.path.parent / name
        if not path.is_file():
            advice = f"build it: outguard corpus build DOCS --out {path}"
            problems.append(Problem(doc.path, line, f"corpus index {name!r} not found ({advice})"))
    if not corpus.indexes:
        problems.append(Problem(doc.path, line, "the corpus detector is enabled but names no indexes"))
    return problems


def _load_canaries(doc: _Doc, canaries: dict[str, Canary], problems: list[Problem]) -> None:
    """Registry entries; problems never quote a canary's value (it is a secret)."""
    registry = _validate(RegistryModel, doc, problems)
    if registry is None:
        return
    skeletons = {c.skeleton: c.id for c in canaries.values()}
    for index, entry in enumerate(registry.canaries):
        line = doc.line(("canaries", index))
        bits = entry.bits if entry.bits is not None else estimate_bits(entry.value)
        skeleton = canonical(entry.value)
        if entry.id in canaries:
            problems.append(Problem(doc.path, line, f"duplicate canary id {entry.id!r}"))
        elif bits < MIN_BITS or len(skeleton) < 8:
            problems.append(
                Problem(doc.path, line, f"canary {entry.id}: too guessable ({bits:.0f} bits, {len(skeleton)} "
                        f"letters and digits); use at least {MIN_BITS:.0f} bits and 8 letters or digits, "
                        "e.g. `outguard canary new`")
            )
        elif skeleton in skeletons and not entry.retired:
            problems.append(Problem(doc.path, line, f"canary {entry.id}: same value as canary {skeletons[skeleton]}"))
        else:
            canaries[entry.id] = Canary(
                id=entry.id, value=entry.value, placement=entry.placement, created=entry.created,
                note=entry.note, format=entry.format, bits=bits, retired=entry.retired,
            )
            if not entry.retired:
                skeletons[skeleton] = entry.id


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where PyYAML has it (ten times faster on the secrets packs), else PyYAML's."""


def _parse(path: Path, problems: list[Problem]) -> _Doc | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(path, 1, f"cannot read: {exc}"))
        return None
    try:
        loader = _YAML_LOADER(text)
        try:
            node = loader.get_single_node()
            if node is None:
                problems.append(Problem(path, 1, "file is empty"))
                return None
            duplicate = _duplicate_key(node)
            if duplicate is not None:
                problems.append(Problem(path, duplicate.start_mark.line + 1, f"duplicate key {duplicate.value!r}"))
                return None
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(path, line, f"invalid YAML: {reason}"))
        return None
    return _Doc(path, node, data)


def _duplicate_key(node: yaml.Node) -> yaml.Node | None:
    """PyYAML keeps the last of duplicate keys silently; a rule file with two is an error."""
    if isinstance(node, yaml.MappingNode):
        keys: set[object] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in keys:
                    return key
                keys.add(key.value)
            found = _duplicate_key(value)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item)
            if found is not None:
                return found
    return None


def _validate(model: type[M], doc: _Doc, problems: list[Problem]) -> M | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            where = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(Problem(doc.path, doc.line(loc), f"{where}: {error['msg']}"))
        return None


def _action(field: ActionField) -> ActionSpec:
    if isinstance(field, str):
        return ActionSpec(kind=field)
    return ActionSpec(
        kind=field.action, placeholder=field.placeholder, keep=field.keep, char=field.char, key_env=field.key_env
    )


def _compile_rule(
    model: RuleModel, path: Path, line: int, doc: _Doc, index: int, problems: list[Problem]
) -> PatternRule | None:
    keywords = tuple(k.lower() for k in model.keywords)
    if any(not k.strip() for k in keywords):
        problems.append(Problem(path, doc.line(("rules", index, "keywords")), "keywords must not be blank"))
        return None
    regex = None
    lead = 0
    if model.regex is not None:
        regex_line = doc.line(("rules", index, "regex"))
        try:
            max_width = _max_width(model.regex, model.max_length)
            lead = _lead(model.regex, max_width)
        except ValueError as exc:
            problems.append(Problem(path, regex_line, f"rule {model.id}: {exc}"))
            return None
        regex = _compile_re2(model.regex, model.ignore_case)
        if isinstance(regex, str):
            problems.append(Problem(path, regex_line, f"rule {model.id}: RE2 rejects the pattern: {regex}"))
            return None
        max_span = max_width + 1  # one character of look-ahead decides a trailing \b or $
        if max_span > LONG_SPAN and not keywords:
            problems.append(Problem(path, regex_line, f"rule {model.id}: a pattern longer than {LONG_SPAN} needs keywords"))
            return None
    else:
        terms = model.terms or []
        if any(not t.strip() for t in terms):
            problems.append(Problem(path, doc.line(("rules", index, "terms")), "terms must not be blank"))
            return None
        max_span = max(len(t) for t in terms) + 1
        if max_span > MAX_SPAN_LIMIT:
            problems.append(Problem(path, line, f"rule {model.id}: a term is longer than {MAX_SPAN_LIMIT}"))
            return None
    groups = regex.groupindex if regex is not None else {}
    if model.ignore_keys is not None and "key" not in groups:
        problems.append(Problem(path, doc.line(("rules", index, "ignore_keys")), f"rule {model.id}: ignore_keys needs a (?P<key>...) group"))
        return None
    allow = []
    for i, pattern in enumerate([*model.allow, *([model.ignore_keys] if model.ignore_keys else [])]):
        compiled = _compile_re2(pattern, model.ignore_case)
        if isinstance(compiled, str):
            where = ("rules", index, "allow", i) if i < len(model.allow) else ("rules", index, "ignore_keys")
            problems.append(Problem(path, doc.line(where), f"rule {model.id}: RE2 rejects the pattern: {compiled}"))
            return None
        allow.append(compiled)
    ignore_keys = allow.pop() if model.ignore_keys else None
    return PatternRule(
        id=model.id,
        label=model.label,
        path=path,
        line=line,
        regex=regex,
        pattern=model.regex,
        terms=tuple(model.terms or ()),
        keywords=keywords,
        ignore_case=model.ignore_case,
        whole_word=model.whole_word,
        validate=model.validate_,
        min_entropy=model.min_entropy,
        score=model.score,
        max_span=max_span,
        action=_action(model.action) if model.action is not None else None,
        examples_match=tuple(model.examples.match),
        examples_no_match=tuple(model.examples.no_match),
        shadow=model.shadow,
        value_group=groups.get("value", 0),
        value_groups=tuple(groups[name] for name in sorted(groups, key=_value_order) if _value_order(name) < 1_000),
        key_group=groups.get("key", 0),
        lead=lead,
        placeholders=model.label == "SECRET" if model.placeholders is None else model.placeholders,
        allow=tuple(allow),
        ignore_keys=ignore_keys,
        checksum=model.checksum,
        max_length=model.max_length,
    )


def _value_order(name: str) -> int:
    """0 for `value`, N for `valueN`, a large number for any other group name."""
    if name == "value":
        return 0
    return int(name[5:]) if name.startswith("value") and name[5:].isdigit() else 1_000


def _lead(pattern: str, max_width: int) -> int:
    """Most characters a match can run before its `(?P<value>...)` group (0 without one): the
    widths of what precedes the group when it stands at the top level, else the whole width."""
    parsed = sre_parse.parse(pattern)
    group = parsed.state.groupdict.get("value")
    if group is None:
        return 0
    for i, (op, av) in enumerate(parsed.data):
        if op is sre_parse.SUBPATTERN and av[0] == group:
            return min(int(sre_parse.SubPattern(parsed.state, parsed.data[:i]).getwidth()[1]), max_width) if i else 0
    return max_width


def _max_width(pattern: str, max_length: int | None = None) -> int:
    """Longest text the pattern can match; rejects patterns that match nothing or without bound
    (a rule's `max_length` bounds an open-ended pattern: the detector drops longer matches)."""
    try:
        low, high = sre_parse.parse(pattern).getwidth()
    except Exception as exc:  # re's parser raises re.error, and others on odd input
        raise ValueError(
            f"cannot bound the pattern's length ({exc}); use syntax RE2 and Python share"
        ) from exc
    if low == 0:
        raise ValueError("the pattern can match empty text")
    if max_length is not None:
        return min(int(high), max_length)
    if high > MAX_SPAN_LIMIT:
        raise ValueError(
            f"the pattern can match more than {MAX_SPAN_LIMIT} characters (unbounded * or +?); "
            "bound each repetition, e.g. {1,64}, so streams can be scanned with a bounded hold-back"
        )
    return int(high)


@functools.lru_cache(maxsize=8192)
def _compile_re2(pattern: str, ignore_case: bool) -> Any:
    """The compiled RE2 pattern, or RE2's error message. Cached: a reload, `rules check` of a
    staged edit and the console's validation recompile only what changed (RE2 objects are
    immutable and safe to share between threads)."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = RE2_MAX_MEM
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        message = exc.args[0] if exc.args else str(exc)
        return message.decode() if isinstance(message, bytes) else str(message)


def _example_problems(rule: PatternRule, doc: _Doc, index: int) -> list[Problem]:
    """Examples that do not behave, each located at its own line. The text is not quoted: these
    messages also travel in `rules_rejected` events, and examples of secrets look like secrets."""
    return [
        Problem(rule.path, doc.line(("rules", index, "examples", key, i)), f"rule {rule.id}: example {key}[{i}] {wrong}")
        for key, i, wrong in _example_outcomes(rule)
    ]


_OUTCOMES: dict[tuple[object, ...], tuple[tuple[str, int, str], ...]] = {}
"""Failing examples per rule content: a reload or a staged edit re-runs only changed rules."""


def _example_outcomes(rule: PatternRule) -> tuple[tuple[str, int, str], ...]:
    from firewall.detectors.patterns import PatternDetector

    content = (
        rule.pattern, rule.terms, rule.keywords, rule.ignore_case, rule.whole_word, rule.validate,
        rule.min_entropy, rule.placeholders, tuple(a.pattern for a in rule.allow),
        rule.ignore_keys.pattern if rule.ignore_keys is not None else None, rule.max_span,
        rule.examples_match, rule.examples_no_match,
    )
    cached = _OUTCOMES.get(content)
    if cached is not None:
        return cached
    disk = _disk_outcomes()
    digest = example_cache.key(content)
    if digest in disk:
        _OUTCOMES[content] = disk[digest]
        return disk[digest]
    detector = PatternDetector((rule,))
    outcomes = []
    for key, texts, wanted, wrong in (
        ("match", rule.examples_match, True, "should match but does not"),
        ("no_match", rule.examples_no_match, False, "should not match but does"),
    ):
        for i, text in enumerate(texts):
            try:
                found = bool(detector.find(text))
            except Exception as exc:  # a rule that crashes the detector is a rule problem
                outcomes.append((key, i, f"raised {type(exc).__name__}"))
                continue
            if found != wanted:
                outcomes.append((key, i, wrong))
    if len(_OUTCOMES) > 20_000:
        _OUTCOMES.clear()
    _OUTCOMES[content] = disk[digest] = result = tuple(outcomes)
    _DISK_CHANGED.set()
    return result


_DISK: list[dict[str, example_cache.Outcomes]] = []
_DISK_CHANGED = threading.Event()


def _disk_outcomes() -> dict[str, example_cache.Outcomes]:
    """Outcomes remembered by earlier processes (read once per process)."""
    if not _DISK:
        _DISK.append(example_cache.load())
    return _DISK[0]


def _remember_outcomes() -> None:
    if _DISK_CHANGED.is_set():
        _DISK_CHANGED.clear()
        example_cache.save(dict(_disk_outcomes()))
