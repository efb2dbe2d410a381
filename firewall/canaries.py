"""Canaries: mint high-entropy secrets to plant, and keep the registry file in rules/.

A canary is planted where a model must never repeat it (a system prompt, fine-tuning data, a RAG
document, a tool output). The registry (`rules/canaries.yaml`) is data like every rule file:
the firewall reloads it, and the `canary` detector finds every active canary in outputs.
"""

from __future__ import annotations

import math
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from firewall.normalize import canonical

PLACEMENTS = ("system-prompt", "training", "rag", "tool")
FORMATS = ("token", "account", "sentence")
REGISTRY_FILE = "canaries.yaml"
MIN_BITS = 40.0
"""Canaries guessable with fewer bits would match ordinary text by chance."""

_TOKEN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no i/l/1/o/0: they fold together
_ADJECTIVES = (
    "amber autumn bitter bold brisk calm copper crimson dusty eager faint gentle gilded hollow humble "
    "idle jagged keen lively lunar mellow misty narrow nimble olive pale placid proud quiet rapid rosy "
    "rustic sable scarlet shallow silent silver sleepy slender smoky solemn sparse steady stormy sullen "
    "tawny tender timid twisted velvet vivid wary weary wicked windy wintry wiry wistful woolen yellow "
    "young zealous zesty"
).split()
_NOUNS = (
    "anchor badger beacon bramble canyon cedar cinder comet cricket dagger delta ember falcon fennel "
    "ferry garnet glacier harbor hazel heron island jasper kettle lantern ledger lichen magpie marble "
    "meadow mirror nectar orchard otter pebble pepper pilgrim quarry quill raven ribbon saddle salmon "
    "sparrow spindle thistle thunder timber tinder trellis tunnel valley velvet vessel walnut willow "
    "wren yarrow zephyr"
).split()
_VERBS = (
    "borrows carries chases counts drafts finds folds gathers guards hides keeps lends mends minds "
    "paints plants polishes ropes sketches stacks stirs sweeps tends trades wakes washes weighs whistles "
    "winds wraps writes yields"
).split()
_PLACES = (
    "Abbotsford Ballarat Carrow Dunmore Eastleigh Fernhill Glenrock Harwick Inverlee Jarrow Kelso "
    "Lindale Marrick Northam Oakridge Penrose Quarrington Redhill Stanmore Thornbury Upwell Varley "
    "Westbury Yarrow Ashby Birchfield Colwick Dalby Elston Frome Garsdale Hexley"
).split()


@dataclass(frozen=True)
class Canary:
    """A registered canary; `bits` is its entropy (exact when minted, estimated when added)."""

    id: str
    value: str
    placement: str
    created: str
    note: str = ""
    format: str = "custom"
    bits: float = 0.0
    retired: bool = False

    @property
    def skeleton(self) -> str:
        return canonical(self.value)


def estimate_bits(value: str) -> float:
    """Entropy estimate of a value nobody minted: skeleton length × log2(its alphabet's size)."""
    skeleton = canonical(value)
    alphabet = (10 if any(c.isdigit() for c in skeleton) else 0) + (26 if any(c.isalpha() for c in skeleton) else 0)
    return len(skeleton) * math.log2(alphabet) if alphabet else 0.0


def mint(fmt: str) -> tuple[str, float]:
    """A new canary value in `fmt`, and its entropy in bits."""
    if fmt == "token":
        chars = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(20))
        return "-".join(chars[i : i + 4] for i in range(0, 20, 4)), 20 * math.log2(len(_TOKEN_ALPHABET))
    if fmt == "account":
        digits = "".join(secrets.choice("0123456789") for _ in range(16))
        # Only the digits: a prefix such as "account" would carry no entropy and dilute fragments.
        return f"{digits[:4]}-{digits[4:8]}-{digits[8:12]}-{digits[12:]}", 16 * math.log2(10)
    if fmt == "sentence":
        words = [secrets.choice(_ADJECTIVES), secrets.choice(_NOUNS), secrets.choice(_VERBS)]
        words += [secrets.choice(_ADJECTIVES), secrets.choice(_NOUNS), secrets.choice(_PLACES)]
        number = secrets.randbelow(9000) + 1000
        value = f"The {words[0]} {words[1]} of {words[5]} {words[2]} {number} {words[3]} {words[4]}s."
        bits = 2 * math.log2(len(_ADJECTIVES)) + 2 * math.log2(len(_NOUNS)) + math.log2(len(_VERBS))
        return value, bits + math.log2(len(_PLACES)) + math.log2(9000)
    raise ValueError(f"unknown canary format {fmt!r}; choose one of {', '.join(FORMATS)}")


def new_id() -> str:
    return "c-" + secrets.token_hex(4)


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def read_registry(path: Path) -> list[dict[str, object]]:
    """The raw entries of a registry file ([] when it does not exist)."""
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    return list(data.get("canaries") or [])


def write_registry(path: Path, entries: list[dict[str, object]]) -> None:
    """Replace the registry file atomically (a reader sees the old file or the new one, whole)."""
    header = "# Canary registry, managed by `outguard canary ...`; hand edits are fine.\n"
    body = yaml.safe_dump({"canaries": entries}, sort_keys=False, allow_unicode=True, width=1000)
    atomic_write(path, header + body)


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if path.exists():  # keep the file's permissions (mkstemp makes it 0600)
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
