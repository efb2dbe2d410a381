"""The secrets the wrapper tests leak on purpose, from the default rules, and the texts around them."""

from __future__ import annotations

import yaml

from tests.conftest import RULES

REGISTRY = yaml.safe_load((RULES / "canaries.yaml").read_text())["canaries"]
TOKEN_CANARY = next(c["value"] for c in REGISTRY if c["format"] == "token")  # wzzt-cmwu-...
SENTENCE_CANARY = next(c["value"] for c in REGISTRY if c["format"] == "sentence")
SECRET = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"  # a Stripe-shaped key: rules/packs/secrets.yaml
PASSAGE = (  # apache-2.0 §6, in samples/corpus/ and so in rules/corpus/protected.idx
    '"Legal Entity" shall mean the union of the acting entity and all other entities that control, '
    "are controlled by, or are under common control with that entity."
)
MEMO_PROMPT = "Internal memo for staff only."
CODE_PROMPT = "The access code is"
PASSAGE_PROMPT = '"Legal Entity" shall mean the union of'
