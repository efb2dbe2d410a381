"""The rules folder as the console edits it: pending edits, validation by the firewall's own loader,
diffs, atomic saves with conflict detection, and an undo journal.

Files are edited round-trip (ruamel.yaml), so operators' comments and layout survive. Nothing is
written until `save()`, and `save()` writes only a change set the loader accepted.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from firewall.canaries import REGISTRY_FILE, atomic_write, mint, new_id, now
from firewall.errors import Problem
from firewall.policy.loader import POLICY_FILE, check_rules, policy_version, rule_files

CUSTOM_PACK = "packs/custom.yaml"
ACTIONS = ("redact", "mask", "hash", "block", "flag")
PII_LABELS = {"US_SSN": "SSN", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IP_ADDRESS": "IP_ADDRESS"}


class ConflictError(Exception):
    """A file changed on disk after the console read it; saving would overwrite someone's edit."""


class InvalidChanges(Exception):
    """The loader refused the pending changes; `problems` say where (file:line: message)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Item:
    """One thing an operator can switch on or off: a detector, a pattern rule, a PII entity, a canary."""

    key: str
    """"detector:pii", "rule:email", "entity:PERSON", "canary:c-1234abcd", "allow:Redis", "deny:PERSON:Ann"."""
    kind: str
    name: str
    file: str
    enabled: bool
    label: str = ""
    action: str = ""
    threshold: float | None = None
    detail: str = ""
    """Pattern or terms (untrusted text: render as Text), or a canary's masked value."""
    shadow: bool = False
    group: str = ""
    """The detector the item belongs to (the tree's branch)."""


@dataclass(frozen=True)
class Edit:
    file: str
    description: str
    apply: Callable[[Any], None]
    """Mutates the round-trip document of `file` (None when the file does not exist yet)."""
    key: str = ""
    """The item it changes (or creates)."""


_FAST_LOADER = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)


def _yaml(text: str = "") -> YAML:
    """A round-trip YAML that writes sequences indented the way `text` indents them."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    indent, offset = 4, 2
    if text:
        _, guessed, block_offset = load_yaml_guess_indent(text)
        indent, offset = guessed or indent, block_offset if block_offset is not None else offset
    yaml.indent(mapping=2, sequence=indent, offset=offset)
    return yaml


class RuleSet:
    """Pending edits over a rules folder."""

    def __init__(self, folder: str | Path, journal: str | Path | None = None) -> None:
        self.folder = Path(folder)
        self.journal = Path(journal) if journal else Path(".outguard") / "rules-journal.jsonl"
        self.pending: list[Edit] = []
        self.refresh()

    # -- reading -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the files from disk (pending edits are kept and re-applied on top).

        A file that does not parse as YAML is left out of `items()` and listed in `unreadable`
        (edits to it are refused): the operator opened the console to fix exactly that."""
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no rules folder at {self.folder}")
        self._texts = {self._rel(p): p.read_text("utf-8") for p in rule_files(self.folder)}
        self.version = policy_version(rule_files(self.folder), self.folder)
        self.unreadable: dict[str, Problem] = {}
        for rel, text in self._texts.items():
            try:  # libyaml's parser: syntax only, ten times faster than a round-trip load
                pyyaml.compose(text, Loader=_FAST_LOADER)
            except (YAMLError, pyyaml.YAMLError) as exc:
                mark = getattr(exc, "problem_mark", None)
                line = mark.line + 1 if mark is not None else 1
                self.unreadable[rel] = Problem(self.folder / rel, line, f"invalid YAML: {getattr(exc, 'problem', exc)}")
        self._items: list[Item] | None = None

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()

    def _docs(self, files: set[str] | None = None) -> dict[str, Any]:
        """Round-trip parses of the files (of `files` only, when given: parsing every pack costs
        about a second, and a check of one staged edit needs only the files it touches)."""
        return {
            rel: _yaml().load(text)
            for rel, text in self._texts.items()
            if rel not in self.unreadable and (files is None or rel in files)
        }

    def items(self) -> list[Item]:
        """What the folder holds with the pending edits applied, detectors first (cached until the
        next edit or refresh: parsing every file costs tens of milliseconds)."""
        if self._items is None:
            self._items = self._read_items()
        return self._items

    def _read_items(self) -> list[Item]:
        docs = self._edited_docs(list(self.pending))
        policy = docs.get(POLICY_FILE) or {}
        detectors = policy.get("detectors") or {}
        actions = policy.get("actions") or {}
        default = str(policy.get("default_action", "redact"))

        def label_action(label: str) -> str:
            spec = actions.get(label, default)
            return str(spec.get("action") if isinstance(spec, dict) else spec)

        items: list[Item] = []
        for name in ("canary", "corpus", "patterns", "pii"):
            settings = detectors.get(name) or {}
            threshold = {"pii": "score_threshold", "canary": "min_share"}.get(name)
            own_label = {"canary": "CANARY", "corpus": "PROTECTED"}.get(name)
            items.append(Item(
                key=f"detector:{name}", kind="detector", name=name, file=POLICY_FILE, group=name,
                enabled=bool(settings.get("enabled", name in ("canary", "patterns"))),
                threshold=float(settings[threshold]) if threshold and threshold in settings else None,
                action=label_action(own_label) if own_label else "",
            ))
        for rel, doc in sorted(docs.items()):
            for rule in (doc or {}).get("rules", []) if rel.startswith("packs/") else []:
                action = rule.get("action")
                action = action.get("action") if isinstance(action, dict) else action
                items.append(Item(
                    key=f"rule:{rule.get('id')}", kind="rule", name=str(rule.get("id")), file=rel,
                    enabled=bool(rule.get("enabled", True)), label=str(rule.get("label", "")),
                    action=str(action or label_action(str(rule.get("label", "")))),
                    detail=str(rule.get("regex") or ", ".join(map(str, rule.get("terms") or []))),
                    shadow=bool(rule.get("shadow", False)), group="patterns",
                ))
        pii = detectors.get("pii") or {}
        listed = [str(e) for e in pii.get("entities") or []]
        for entity in dict.fromkeys([*listed, "PERSON", "LOCATION", "US_SSN", "NRP"]):
            label = PII_LABELS.get(entity, entity)
            items.append(Item(key=f"entity:{entity}", kind="entity", name=entity, file=POLICY_FILE,
                              enabled=entity in listed, label=label, action=label_action(label), group="pii"))
        for term in pii.get("allow") or []:
            items.append(Item(key=f"allow:{term}", kind="allow", name=str(term), file=POLICY_FILE,
                              enabled=True, detail="never flagged", group="pii"))
        for entity, terms in (pii.get("deny") or {}).items():
            for term in terms or []:
                items.append(Item(key=f"deny:{entity}:{term}", kind="deny", name=str(term), file=POLICY_FILE,
                                  enabled=True, label=str(entity), detail="always flagged", group="pii"))
        for entry in (docs.get(REGISTRY_FILE) or {}).get("canaries") or []:
            value = str(entry.get("value", ""))
            items.append(Item(
                key=f"canary:{entry.get('id')}", kind="canary", name=str(entry.get("id")), file=REGISTRY_FILE,
                enabled=not entry.get("retired", False), label="CANARY", action=label_action("CANARY"),
                detail=f"{value[:2]}{'•' * 6}  {entry.get('placement', '')}  {entry.get('note', '')}", group="canary",
            ))
        return items

    def item(self, key: str) -> Item:
        for item in self.items():
            if item.key == key:
                return item
        raise KeyError(key)

    def item_for_rule(self, detector: str, rule: str) -> Item | None:
        """The item behind a finding's (detector, rule), for 'disable the rule that caused this'."""
        if detector == "patterns":
            key = f"rule:{rule}"
        elif detector == "pii":
            entity = rule.removeprefix("pii.").upper()
            entity = {v: k for k, v in PII_LABELS.items()}.get(entity, entity)
            key = f"entity:{entity}"
        elif detector == "canary":
            key = f"canary:{rule}"
        else:
            key = f"detector:{detector}"
        try:
            return self.item(key)
        except KeyError:
            return None

    # -- edits -------------------------------------------------------------------------------

    def toggle(self, key: str) -> Edit:
        item = self.item(key)
        kind, name, on = item.kind, item.name, not item.enabled
        verb = "enable" if on else "disable"
        if kind == "detector":
            def apply(doc: Any) -> None:
                detectors = doc.setdefault("detectors", CommentedMap())
                (detectors.setdefault(name, CommentedMap()))["enabled"] = on
        elif kind == "rule":
            def apply(doc: Any) -> None:
                rule = _rule(doc, name)
                if on:
                    rule.pop("enabled", None)
                else:
                    _set_after(rule, "enabled", False, after="label")
        elif kind == "entity":
            def apply(doc: Any) -> None:
                pii = doc["detectors"].setdefault("pii", CommentedMap())
                entities = pii.setdefault("entities", _flow([]))
                if on and name not in entities:
                    entities.append(name)
                elif not on:
                    del entities[[str(e) for e in entities].index(name)]
        elif kind == "canary":
            def apply(doc: Any) -> None:
                entry = next(e for e in doc["canaries"] if e.get("id") == name)
                if on:
                    entry.pop("retired", None)
                else:
                    entry["retired"] = True
        elif kind in ("allow", "deny"):
            return self._remove_term(item)
        else:
            raise ValueError(f"cannot toggle {key}")
        return self._add(Edit(item.file, f"{verb} {kind} {name}", apply, key))

    def set_action(self, key: str, action: str) -> Edit:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        item = self.item(key)
        if item.kind == "rule":
            def apply(doc: Any) -> None:
                rule = _rule(doc, item.name)
                if isinstance(rule.get("action"), dict):
                    rule["action"]["action"] = action
                else:
                    _set_after(rule, "action", action, after="label")
            return self._add(Edit(item.file, f"rule {item.name}: action {item.action} → {action}", apply, key))
        label = item.label or {"corpus": "PROTECTED", "canary": "CANARY"}.get(item.name, "")
        if not label:
            raise ValueError(f"{item.key} has no action of its own")

        def apply_label(doc: Any) -> None:
            actions = doc.setdefault("actions", CommentedMap())
            if isinstance(actions.get(label), dict):
                actions[label]["action"] = action
            else:
                actions[label] = action
        return self._add(Edit(POLICY_FILE, f"label {label}: action {item.action} → {action}", apply_label, key))

    def set_threshold(self, key: str, value: float) -> Edit:
        item = self.item(key)
        field = {"detector:pii": "score_threshold", "detector:canary": "min_share"}.get(key)
        if field is None:
            raise ValueError(f"{key} has no threshold")

        def apply(doc: Any) -> None:
            doc["detectors"][item.name][field] = value
        return self._add(Edit(POLICY_FILE, f"{item.name}.{field}: {item.threshold} → {value}", apply, key))

    def add_rule(
        self,
        *,
        rule_id: str,
        label: str,
        kind: str,
        pattern: str,
        action: str | None = None,
        match: list[str] | None = None,
        no_match: list[str] | None = None,
        shadow: bool = False,
    ) -> Edit:
        """A regex rule (`kind="regex"`) or a keyword rule (`kind="keyword"`, comma-separated terms)."""
        rule = CommentedMap(id=rule_id, label=label)
        if kind == "regex":
            rule["regex"] = pattern
        elif kind == "keyword":
            rule["terms"] = _flow([t.strip() for t in pattern.split(",") if t.strip()])
            rule["ignore_case"] = True
        else:
            raise ValueError(f"unknown rule kind {kind!r}")
        if action:
            rule["action"] = action
        if shadow:
            rule["shadow"] = True
        examples = CommentedMap(match=_flow(list(match or [])))
        if no_match:
            examples["no_match"] = _flow(list(no_match))
        rule["examples"] = examples

        def apply(doc: Any) -> Any:
            if doc is None:
                doc = CommentedMap(description="Rules added from the console.", rules=CommentedSeq())
            doc.setdefault("rules", CommentedSeq()).append(rule)
            return doc
        return self._add(Edit(CUSTOM_PACK, f"add {kind} rule {rule_id} ({label})", apply, f"rule:{rule_id}"))

    def add_term(self, kind: str, term: str, entity: str = "PERSON") -> Edit:
        """An allow term (never flagged) or a deny term (always flagged as `entity`)."""
        if not term.strip():
            raise ValueError("empty term")

        def apply(doc: Any) -> None:
            pii = doc["detectors"].setdefault("pii", CommentedMap())
            if kind == "allow":
                pii.setdefault("allow", _flow([])).append(term)
            else:
                deny = pii.get("deny")
                if not isinstance(deny, CommentedMap) or not deny:
                    pii["deny"] = deny = CommentedMap()
                deny.setdefault(entity, _flow([])).append(term)
        if kind not in ("allow", "deny"):
            raise ValueError(f"unknown term kind {kind!r}")
        what = f"{kind} term ({entity})" if kind == "deny" else f"{kind} term"
        key = f"allow:{term}" if kind == "allow" else f"deny:{entity}:{term}"
        return self._add(Edit(POLICY_FILE, f"add {what} {term!r}", apply, key))

    def add_canary(self, *, fmt: str = "token", placement: str = "system-prompt", note: str = "") -> tuple[str, str]:
        """Mint a canary and stage its registration; returns (id, value) to show the operator once."""
        value, bits = mint(fmt)
        canary_id = new_id()
        entry = CommentedMap(id=canary_id, value=value, placement=placement, created=now(), note=note,
                             format=fmt, bits=round(bits, 1))

        def apply(doc: Any) -> Any:
            if doc is None:
                doc = CommentedMap(canaries=CommentedSeq())
            doc.setdefault("canaries", CommentedSeq()).append(entry)
            return doc
        self._add(Edit(REGISTRY_FILE, f"add canary {canary_id} ({placement})", apply, f"canary:{canary_id}"))
        return canary_id, value

    def _remove_term(self, item: Item) -> Edit:
        def apply(doc: Any) -> None:
            pii = doc["detectors"]["pii"]
            terms = pii["allow"] if item.kind == "allow" else pii["deny"][item.label]
            del terms[[str(t) for t in terms].index(item.name)]
        return self._add(Edit(POLICY_FILE, f"remove {item.kind} term {item.name!r}", apply, item.key))

    def _add(self, edit: Edit) -> Edit:
        if edit.file in self.unreadable:
            raise ValueError(f"fix {self.unreadable[edit.file]} first")
        self.pending.append(edit)
        try:
            self.texts()
        except Exception:
            self.pending.pop()
            raise
        finally:
            self._items = None
        return edit

    def discard(self) -> None:
        self.pending.clear()
        self._items = None

    # -- results -----------------------------------------------------------------------------

    def _edited_docs(self, edits: list[Edit], files: set[str] | None = None) -> dict[str, Any]:
        docs = self._docs(files)
        for edit in edits:
            result = edit.apply(docs.get(edit.file))
            if result is not None:
                docs[edit.file] = result
        return docs

    def texts(self) -> dict[str, str]:
        """The new text of every file the pending edits touch."""
        edits = list(self.pending)  # one snapshot: the UI may stage another edit meanwhile
        docs, out = self._edited_docs(edits, {edit.file for edit in edits}), {}
        for rel in dict.fromkeys(edit.file for edit in edits):
            buffer = io.StringIO()
            _yaml(self._texts.get(rel, "")).dump(docs[rel], buffer)
            out[rel] = buffer.getvalue()
        return out

    def diff(self) -> str:
        """A unified diff of the pending edits; canary values appear masked (they are secrets)."""
        chunks = []
        for rel, new in self.texts().items():
            old = self._texts.get(rel, "")
            lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{rel}", f"b/{rel}", n=1)
            chunks.extend(_mask_value(line) if rel == REGISTRY_FILE else line for line in lines)
        return "".join(chunks)

    def staged_folder(self) -> tempfile.TemporaryDirectory[str]:
        """A temporary copy of the folder with the pending edits applied (for checks and try-outs)."""
        tmp = tempfile.TemporaryDirectory(prefix="outguard-rules-")
        shutil.copytree(self.folder, tmp.name, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
        for rel, text in self.texts().items():
            target = Path(tmp.name) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        return tmp

    def problems(self) -> list[Problem]:
        """What the firewall's loader says about the folder with the pending edits (paths as in rules/)."""
        with self.staged_folder() as tmp:
            found = check_rules(tmp)
            return [Problem(self.folder / Path(p.path).relative_to(tmp), p.line, p.message) for p in found]

    # -- writing -----------------------------------------------------------------------------

    def save(self) -> str:
        """Write the pending edits atomically; return the new rules version.

        Raises InvalidChanges (nothing written) when the loader refuses them, ConflictError (nothing
        written) when a file changed on disk since it was read.
        """
        if not self.pending:
            return self.version
        problems = self.problems()
        if problems:
            raise InvalidChanges(problems)
        texts = self.texts()
        self._check_conflicts(texts)
        before = {rel: self._texts.get(rel) for rel in texts}
        written: list[str] = []
        try:
            for rel, text in texts.items():
                atomic_write(self.folder / rel, text)
                written.append(rel)
        except OSError:  # put back what was already replaced: never leave half a change set
            for rel in written:
                old = before[rel]
                if old is None:
                    (self.folder / rel).unlink(missing_ok=True)
                else:
                    atomic_write(self.folder / rel, old)
            raise
        self._journal("save", [e.description for e in self.pending], before, texts)
        self.pending.clear()
        self.refresh()
        return self.version

    def undo(self) -> str:
        """Restore the files as they were before the last save recorded in the journal (a new save)."""
        entries = self._journal_entries()
        saves = [e for e in entries if e["op"] == "save" and e["folder"] == str(self.folder.resolve())]
        undone = {e["undoes"] for e in entries if e["op"] == "undo"}
        last = next((e for e in reversed(saves) if e["id"] not in undone), None)
        if last is None:
            raise LookupError("nothing to undo")
        self.refresh()
        for rel, text in last["after"].items():
            if self._texts.get(rel) != text:
                raise ConflictError(f"{rel} changed since that save; undo would overwrite it")
        for rel, text in last["before"].items():
            path = self.folder / rel
            if text is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, text)
        self._journal("undo", [f"undo: {d}" for d in last["edits"]], last["after"], last["before"], undoes=last["id"])
        self.refresh()
        return self.version

    def _check_conflicts(self, texts: dict[str, str]) -> None:
        for rel in texts:
            path = self.folder / rel
            on_disk = path.read_text("utf-8") if path.exists() else None
            if on_disk != self._texts.get(rel):
                raise ConflictError(f"{path} changed on disk since the console read it; reload (r) and redo")

    def _journal(
        self, op: str, edits: list[str], before: dict[str, str | None], after: dict[str, str | None], **extra: Any
    ) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        entry = {"id": hashlib.sha256(f"{time.time_ns()}{edits}".encode()).hexdigest()[:12], "ts": time.time(),
                 "op": op, "folder": str(self.folder.resolve()), "edits": edits, "before": before, "after": after,
                 "version": policy_version(rule_files(self.folder), self.folder), **extra}
        self.journal.touch(mode=0o600)  # it holds rule files' text (canary values): as private as rules/
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def _journal_entries(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text("utf-8").splitlines() if line.strip()]


def _mask_value(line: str) -> str:
    head, sep, value = line.partition("value: ")
    return f"{head}{sep}{value.strip()[:2]}••••••\n" if sep else line


def _rule(doc: Any, rule_id: str) -> Any:
    return next(r for r in doc["rules"] if r.get("id") == rule_id)


def _flow(values: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _set_after(mapping: CommentedMap, key: str, value: Any, *, after: str) -> None:
    """Set `key`, inserting it right after `after` when it is new (keeps rules readable)."""
    if key in mapping:
        mapping[key] = value
        return
    keys = list(mapping)
    mapping.insert(keys.index(after) + 1 if after in keys else len(keys), key, value)
