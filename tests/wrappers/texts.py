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
FILLER = [
    "The bus to the airport leaves from the stop outside the town hall every twenty minutes.",
    "My brother repaired the kitchen chair with glue and two small screws.",
    "The shop on the corner sells newspapers, sweets and cheap umbrellas.",
    "We spent the afternoon at the beach and came home with sunburnt noses.",
    "The teacher asked the class to read the first chapter before Monday.",
    "Rain is expected tonight, so the outdoor concert has been moved indoors.",
    "She keeps a small notebook in her bag to write down shopping lists.",
    "He makes pancakes for the whole family every Saturday morning.",
]
