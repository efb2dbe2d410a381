"""The per-install secret that keys hashes of findings (never an unkeyed hash of a secret)."""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path

KEY_ENV = "OUTGUARD_KEY"
HOME_ENV = "OUTGUARD_HOME"


def home() -> Path:
    """Where outguard keeps per-install state: $OUTGUARD_HOME, else ~/.outguard."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".outguard")


@cache
def install_key() -> bytes:
    """$OUTGUARD_KEY if set (share it across a fleet), else a random key kept in `home()/key`."""
    if value := os.environ.get(KEY_ENV):
        return value.encode()
    path = home() / "key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key
