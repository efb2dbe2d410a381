"""The public surface is explicit, and importing the core stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import firewall

HEAVY = ("textual", "spacy", "presidio_analyzer", "presidio_anonymizer", "transformers", "torch", "openai", "tui")


def test_all_is_sorted_and_complete() -> None:
    public = sorted(n for n in vars(firewall) if n[0].isupper() or n in {"check_rules", "load_policy"})

    assert firewall.__all__ == sorted(firewall.__all__)
    assert set(public) <= set(firewall.__all__)


@pytest.mark.parametrize("module", ["firewall", "firewall.cli", "firewall.detectors.patterns", "firewall.events"])
def test_import_loads_no_ui_sdk_or_nlp(module: str) -> None:
    """Importing the core must not pay for Textual, SDKs or spaCy."""
    probe = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
