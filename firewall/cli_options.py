"""Options shared by the `outguard` command groups."""

from __future__ import annotations

from pathlib import Path

import click

RULES_OPTION = click.option(
    "--rules",
    "rules_dir",
    default="rules",
    show_default=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Rules folder (policy.yaml and packs).",
)
EVENTS_ENV = "OUTGUARD_EVENTS"
"""Where commands read the event store URI when --events is not given (keeps passwords out of argv)."""
