"""`guard` (firewall.wrappers) stays SDK-free: only the client adapters import their SDK, each its
own, and `import firewall` imports none: `Firewall.wrap_openai` / `wrap_pipeline` / `wrap_generate`
import their adapter when called."""

from __future__ import annotations

import subprocess
import sys

import pytest

SDKS = ("openai", "torch", "transformers")


@pytest.mark.parametrize(
    ("module", "loads"),
    [
        ("firewall", []),
        ("firewall.wrappers", []),
        ("firewall.wrappers.openai", ["openai"]),
        ("firewall.wrappers.hf", ["torch", "transformers"]),
    ],
)
def test_each_wrapper_imports_only_its_own_sdk(module: str, loads: list[str]) -> None:
    probe = f"import sys, {module}; print(sorted(m for m in {SDKS!r} if m in sys.modules))"

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == str(loads)
