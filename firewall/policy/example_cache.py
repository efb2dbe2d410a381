"""Remembered outcomes of rule examples, on disk, so loading a policy does not re-run ~2,000
examples (about a second) when neither the rule nor the pattern engine changed.

Keyed by a digest of the rule's content and of the engine's source (patterns.py, validators.py),
so an edit to either runs the examples again. The file is a cache: a missing, truncated or
foreign file is ignored and rewritten; it is replaced atomically (write, fsync, rename), so a
concurrent writer or a full disk costs at worst a re-run, never a wrong answer. It lives in
`$OUTGUARD_CACHE` or `$XDG_CACHE_HOME/outguard` (`~/.cache/outguard`); `OUTGUARD_CACHE=off`
turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path

Outcomes = tuple[tuple[str, int, str], ...]
_LIMIT = 20_000
"""Entries kept; an older cache beyond this is dropped whole."""


@cache
def _engine() -> str:
    from firewall import validators
    from firewall.detectors import patterns

    digest = hashlib.sha256()
    for module in (patterns, validators):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


def _path() -> Path | None:
    configured = os.environ.get("OUTGUARD_CACHE", "")
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured) / "examples.json"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "outguard" / "examples.json"


def key(content: tuple[object, ...]) -> str:
    return hashlib.sha256(repr((_engine(), content)).encode("utf-8", "surrogatepass")).hexdigest()


def load() -> dict[str, Outcomes]:
    """The remembered outcomes ({} when there is no usable cache)."""
    path = _path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path is not None else {}
        return {k: tuple(tuple(o) for o in v) for k, v in data.items()}  # type: ignore[misc]
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def save(entries: dict[str, Outcomes]) -> None:
    """Replace the cache with `entries`; any failure leaves the old file (or none)."""
    path = _path()
    if path is None or len(entries) > _LIMIT:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".examples-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(entries, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # a read-only home or a full disk: examples simply run again next time
