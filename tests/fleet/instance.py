"""One firewall instance of a test fleet: ``python -m tests.fleet.instance RULES EVENTS``.

Watches RULES (files, and the policy's fleet notices if it has them), scans TEXT every 50 ms with
its events going to EVENTS, and stops when its standard input closes.
"""

from __future__ import annotations

import sys
import threading

from firewall import Firewall

TEXT = "the Zebra Accord and jane@corp.io"


def main(rules: str, events: str) -> None:
    fw = Firewall.from_rules(rules, events=events, watch=True)
    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    while not stop.wait(0.05):
        fw.scan(TEXT, principal="fleet-test")
    fw.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
