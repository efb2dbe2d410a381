"""The shape every benchmark returns, and how it is printed."""

from __future__ import annotations

import gc
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Report:
    """One benchmark's result: a table, free-form notes, and the figures as a flat dict."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        return "\n".join([self.title, table(self.columns, self.rows), *self.notes])


def shown(path: Path) -> str:
    """`path` relative to the repository when it lies inside it (as a report names a results file)."""
    try:
        return str(path.relative_to(Path(__file__).resolve().parent.parent))
    except ValueError:
        return str(path)


def table(columns: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in columns]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

    def line(row: list[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in pairs)

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def save(name: str, figures: dict[str, Any]) -> Path:
    """Append the figures, with the machine they were measured on, as one JSON line to
    bench/results/NAME.jsonl ($OUTGUARD_BENCH_RESULTS names another folder; the smoke tests use it)."""
    folder = Path(os.environ.get("OUTGUARD_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    record = {**figures, "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
    return path


def seconds_per_call(fn: Callable[[], object], loops: int = 1) -> float:
    """Seconds per call of `fn`, over `loops` calls, with the garbage collector off."""
    gc.disable()
    try:
        began = time.perf_counter()
        for _ in range(loops):
            fn()
        return (time.perf_counter() - began) / loops
    finally:
        gc.enable()
