"""Run benchmarks: `python -m bench` runs all of them, `python -m bench core` just one.

Each benchmark is a module in bench/ with `run(quick: bool) -> bench.report.Report`; add it to
BENCHMARKS below. `--quick` cuts repetitions (CI smoke runs); the figures are then rougher.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable

from bench.report import Report, table


def _lazy(module: str) -> Callable[[bool], Report]:
    """`module.run`, imported only when the benchmark runs (each may pull in heavy libraries)."""

    def run(quick: bool) -> Report:
        return importlib.import_module(module).run(quick=quick)

    return run


BENCHMARKS: dict[str, Callable[[bool], Report]] = {
    "core": _lazy("bench.core"),
    "canary": _lazy("bench.canary"),
    "pii": _lazy("bench.pii"),
    "secrets": _lazy("bench.secrets"),
    "corpus": _lazy("bench.corpus"),
    "quota": _lazy("bench.quota"),
    "tui": _lazy("bench.tui"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})"
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and texts, for smoke runs")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--size-mb", type=int, default=None, help="corpus: size of the synthetic corpus (default 100)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")

    summary, failed = [], False
    for name in args.names or list(BENCHMARKS):
        began = time.perf_counter()
        try:
            if args.size_mb is not None:
                os.environ["OUTGUARD_BENCH_CORPUS_MB"] = str(args.size_mb)
            report = BENCHMARKS[name](args.quick)
        except Exception:
            traceback.print_exc()
            failed = True
            summary.append([name, "FAILED", time.perf_counter() - began])
            continue
        print(report.render(), end="\n\n", flush=True)
        summary.append([name, "ok", time.perf_counter() - began])
    if len(summary) > 1 or failed:
        print(table(["benchmark", "status", "seconds"], summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
