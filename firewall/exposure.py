"""Carlini et al.'s exposure metric: has a causal LM memorised a canary? ("The Secret Sharer", 2019)

exposure = log2(|R|) - log2(rank), where rank is the canary's place when it and the candidates R
(random values of the same format) are sorted by the model's log-perplexity. A canary the model
never saw ranks somewhere in the middle (exposure ≈ 1); a memorised one ranks first
(exposure = log2(|R| + 1), the maximum for that many candidates).
"""

from __future__ import annotations

import math
import random
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firewall.canaries import FORMATS, Canary, mint


@dataclass(frozen=True)
class Exposure:
    canary_id: str
    exposure: float
    rank: int
    candidates: int
    log_perplexity: float
    """Of the canary, in nats summed over its tokens (lower: the model finds it likelier)."""

    @property
    def maximum(self) -> float:
        return math.log2(self.candidates + 1)


def candidates_like(canary: Canary, count: int, rng: random.Random | None = None) -> list[str]:
    """Random values in the canary's format (minted formats), or with its character classes (custom)."""
    if canary.format in FORMATS:
        return [mint(canary.format)[0] for _ in range(count)]
    rng = rng or random.Random(secrets.randbits(64))

    def shuffle(char: str) -> str:
        if char.isdigit():
            return rng.choice(string.digits)
        if char.isupper():
            return rng.choice(string.ascii_uppercase)
        if char.islower():
            return rng.choice(string.ascii_lowercase)
        return char

    return ["".join(map(shuffle, canary.value)) for _ in range(count)]


class CausalLM:
    """A local transformers causal LM scoring texts by log-perplexity (imports torch lazily)."""

    def __init__(self, model_dir: str | Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
        self.model.eval()

    def log_perplexities(self, texts: Sequence[str], prefix: str = "", batch: int = 64) -> list[float]:
        """Summed negative log-likelihood (nats) of each text's tokens, given `prefix`.

        `prefix + text` is tokenized as one string; the prefix's last token, which may merge with
        the text's start, is scored with the text (for all texts alike).
        """
        results: list[float] = []
        for i in range(0, len(texts), batch):
            results.extend(self._score(texts[i : i + batch], prefix))
        return results

    def _encode(self, text: str) -> list[int]:
        # No special tokens: many tokenizers (Llama's, Mistral's...) add <s> or </s> to each encode().
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _score(self, texts: Sequence[str], prefix: str) -> list[float]:
        torch = self._torch
        bos = self.tokenizer.bos_token_id
        head = [bos] if bos is not None else []
        context = self._encode(prefix) if prefix else []
        rows: list[tuple[list[int], int]] = []  # (token ids, index of the first scored one)
        for text in texts:
            # Prefix and text are tokenized together, as in the training data: apart, a prefix
            # ending in a space ("The code is ") becomes a lone space token followed by a
            # space-less text, a token sequence byte-level BPE models never saw. Given: the joint
            # encoding's tokens shared with the prefix's own, but the prefix's last one, which may
            # merge with the text ("Ġ" + "x" -> "Ġx") for some texts and not others; scoring it
            # always keeps every text of a ranking conditioned on the same tokens.
            tokens = self._encode(prefix + text) if prefix else self._encode(text)
            shared = 0
            while shared < min(len(context) - 1, len(tokens)) and context[shared] == tokens[shared]:
                shared += 1
            rows.append((head + tokens, max(len(head) + shared, 1)))
        width = max(len(sequence) for sequence, _ in rows)
        if width < 2:
            return [0.0 for _ in rows]
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, (sequence, _) in enumerate(rows):
            ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
            mask[row, : len(sequence)] = 1
        with torch.no_grad():
            logits: Any = self.model(input_ids=ids, attention_mask=mask).logits
        logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        token_lp = logprobs.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)  # [:, j]: token j + 1
        return [
            -float(token_lp[row, start - 1 : len(sequence) - 1].sum())
            for row, (sequence, start) in enumerate(rows)
        ]


def exposure(lm: CausalLM, canary: Canary, *, candidates: int = 999, prefix: str = "", seed: int | None = None) -> Exposure:
    """The exposure of `canary` against `candidates` random values of its format."""
    rng = random.Random(seed) if seed is not None else None
    others = candidates_like(canary, candidates, rng)
    scores = lm.log_perplexities([canary.value, *others], prefix=prefix)
    mine = scores[0]
    rank = 1 + sum(score < mine for score in scores[1:])
    return Exposure(canary.id, math.log2(candidates + 1) - math.log2(rank), rank, candidates, mine)
