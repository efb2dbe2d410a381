"""Poll a rules folder and call back when any rule file changes (polling works on every filesystem)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from firewall.policy.loader import rule_files


def fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the rule files: changes when any file does."""
    entries = []
    for path in rule_files(folder):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed between listing and stat
            continue
        entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class RulesWatcher:
    """A daemon thread that calls `on_change()` when the folder's rule files change."""

    def __init__(self, folder: Path, on_change: Callable[[], object], interval: float = 1.0) -> None:
        self.folder = folder
        self.interval = interval
        self._on_change = on_change
        self._stop = threading.Event()
        self._seen = fingerprint(folder)
        self._thread = threading.Thread(target=self._run, name="outguard-rules-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            current = fingerprint(self.folder)
            if current != self._seen:
                self._seen = current
                self._on_change()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
