"""Code the fleet tests run in other processes (spawned: nothing is inherited but the arguments)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

from firewall import Firewall, QuotaExceeded, load_policy
from firewall.policy import Policy


def lean_policy(rules: str, **changes: Any) -> Policy:
    """The rules without the PII detector (a process starts in about a second instead of six)."""
    policy = load_policy(rules)
    detectors = tuple(d for d in policy.detectors if d != "pii")
    return dataclasses.replace(policy, detectors=detectors, detector_budget_ms=60_000, **changes)


def admit(
    rules: str, quotas: dict[str, Any], principal: str, attempts: int, face: str, ready: Any, results: Any
) -> None:
    """Ask `attempts` times to be admitted (sync or async face), all processes starting together;
    report (pid, how many were admitted)."""
    fw = Firewall(lean_policy(rules, quotas=quotas), events=False)
    ready.wait(120)
    admitted = 0
    if face == "sync":
        for _ in range(attempts):
            try:
                fw.check_prompt("hello", principal=principal)
                admitted += 1
            except QuotaExceeded:
                pass
        fw.close()
    else:

        async def run() -> int:
            count = 0
            for _ in range(attempts):
                try:
                    await fw.acheck_prompt("hello", principal=principal)
                    count += 1
                except QuotaExceeded:
                    pass
            await fw.aclose()
            return count

        admitted = asyncio.run(run())
    results.put((os.getpid(), admitted))


def scan_into_stream(rules: str, events: str, texts: list[str], ready: Any, results: Any) -> None:
    """Scan every text (whole, then streamed in 7-character chunks) with events to the stream."""
    fw = Firewall(lean_policy(rules), events=events)
    ready.wait(120)
    for text in texts:
        fw.scan(text, principal=f"p-{os.getpid()}")
        for _ in fw.stream([text[i : i + 7] for i in range(0, len(text), 7)], principal=f"p-{os.getpid()}"):
            pass
    fw.close()
    results.put((os.getpid(), 2 * len(texts), fw.events_dropped))
