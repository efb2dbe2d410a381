"""Model-based memorisation score: does a local causal LM know this text by heart?

Two reference-free signals, both from the model's per-token log-probabilities:

- **Min-K% Prob** (Shi et al. 2023, "Detecting Pretraining Data from Large Language Models"): the
  mean of the k% lowest token log-probabilities (nats, <= 0). Unseen text has a few surprising
  tokens whose log-probabilities drag the mean far down; memorised text has none. **Higher (less
  negative) = more memorised.**
- **zlib ratio** (Carlini et al. 2021, "Extracting Training Data from Large Language Models"): the
  model's log-perplexity (mean negative log-likelihood per scored token, in nats) divided by the
  text's zlib entropy (bits of `zlib.compress(text.encode("utf-8"))` at the default level).
  Generic, repetitive text is easy for the model *and* for zlib; memorised text is easy for the
  model only. **Lower = more memorised.** (Carlini et al.'s reference code divides the same
  log-perplexity by the compressed length in bytes: its ratios are 8 times ours.)

Neither value means anything in absolute terms: `MemorizationScorer.calibrate()` sets thresholds
from benign text scored by the same model. The zlib ratio falls as texts grow (zlib bits grow with
length, log-perplexity per token does not), so calibrate on texts about as long as those you score.

    scorer = MemorizationScorer("path/to/model")
    scorer.calibrate(benign_texts)
    scorer.is_memorized(output)            # one forward pass
    scorer.score_logprobs(logprobs, output)  # no forward pass: log-probs the generator already had

torch and transformers are imported only when a model is loaded (through `CausalLM`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from firewall.errors import ConfigError
from firewall.exposure import CausalLM

DEFAULT_K = 0.2
"""Shi et al.'s best setting: the lowest 20% of token log-probabilities."""


@dataclass(frozen=True)
class Score:
    min_k: float
    """Mean of the k% lowest token log-probs (nats, <= 0); higher: more memorised."""
    zlib_ratio: float
    """Log-perplexity (nats per token) / zlib bits of the text; lower: more memorised."""
    tokens: int
    """Token log-probs scored. 0: nothing to score; then min_k is -inf and zlib_ratio inf (never
    flagged)."""


@dataclass(frozen=True)
class Thresholds:
    """A text is memorised when min_k > `min_k` and/or zlib_ratio < `zlib_ratio` (see `require`)."""

    min_k: float
    zlib_ratio: float


def min_k_prob(token_logprobs: Sequence[float], k: float = DEFAULT_K) -> float:
    """Mean of the `k` fraction lowest log-probs: floor(k * n) of them, at least one (as Shi et
    al.'s code, which takes int(n * k), but never none)."""
    if not token_logprobs:
        return -math.inf
    count = max(1, int(len(token_logprobs) * k))
    return math.fsum(sorted(token_logprobs)[:count]) / count


def zlib_bits(text: str) -> int:
    """Bits of the zlib-compressed UTF-8 text (default level; never 0: zlib adds a header)."""
    return 8 * len(zlib.compress(text.encode("utf-8")))


def zlib_ratio(token_logprobs: Sequence[float], text: str) -> float:
    """Carlini et al.'s ratio: log-perplexity (mean NLL, nats per token) / zlib bits of `text`."""
    if not token_logprobs:
        return math.inf
    log_perplexity = -math.fsum(token_logprobs) / len(token_logprobs)
    return log_perplexity / zlib_bits(text)


def score_logprobs(token_logprobs: Sequence[float], text: str, k: float = DEFAULT_K) -> Score:
    """Score `text` from log-probs already computed for its tokens, without running the model."""
    return Score(
        min_k_prob(token_logprobs, k), zlib_ratio(token_logprobs, text), len(token_logprobs)
    )


def token_logprobs(lm: CausalLM, text: str) -> list[float]:
    """Log-probability (nats) of each of `text`'s tokens given the ones before it.

    Tokenized without special tokens, and preceded by the bos token when the tokenizer has one,
    so every token is scored (as `CausalLM.log_perplexities`: their sum is minus its value);
    without a bos token the first token has no context and is not scored. Texts longer than the
    model's context are scored in overlapping windows: each token keeps at least half a context
    of preceding tokens.
    """
    import torch

    bos = lm.tokenizer.bos_token_id
    head = [bos] if bos is not None else []
    ids = head + list(lm.tokenizer.encode(text, add_special_tokens=False))
    # Most configs name their context length so (GPT-2's maps it to n_positions).
    context = getattr(lm.model.config, "max_position_embeddings", None)
    limit = max(2, context or len(ids))
    stride = max(1, limit // 2)
    result: list[float] = []
    start = 1  # index in `ids` of the first token not scored yet
    while start < len(ids):
        end = min(len(ids), limit if start == 1 else start + stride)
        low = max(0, end - limit)
        window = torch.tensor([ids[low:end]], dtype=torch.long)
        with torch.no_grad():
            logits = lm.model(input_ids=window, attention_mask=torch.ones_like(window)).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        # logprobs[j] predicts window token j + 1, i.e. ids[low + j + 1].
        targets = window[0, start - low : end - low].unsqueeze(-1)
        picked = logprobs[start - low - 1 : end - low - 1].gather(-1, targets).squeeze(-1)
        result.extend(float(lp) for lp in picked)
        start = end
    return result


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default method)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


class MemorizationScorer:
    """Flag texts a local causal LM has memorised, by Min-K% Prob and zlib ratio.

    `require="both"` (the default) flags a text only when both metrics pass their thresholds.
    Each threshold alone lets about 1 - quantile of benign text through, and the two metrics
    misjudge different benign texts (Min-K% texts made only of common words; the zlib ratio
    repetitive or very long ones), so requiring both keeps false alarms, which block legitimate
    output, near the lower of the two rates; verbatim memorised text passes both by a wide
    margin. `require="either"` trades up to twice the false alarms for recall on partly
    memorised text.
    """

    def __init__(
        self,
        model: str | Path | CausalLM,
        k: float = DEFAULT_K,
        *,
        thresholds: Thresholds | None = None,
        require: Literal["both", "either"] = "both",
    ) -> None:
        if not 0.0 < k <= 1.0:
            raise ValueError(f"k must be in (0, 1], not {k}")
        if require not in ("both", "either"):
            raise ValueError(f"require must be 'both' or 'either', not {require!r}")
        self.lm = model if isinstance(model, CausalLM) else CausalLM(model)
        self.k = k
        self.thresholds = thresholds
        self.require = require

    def score(self, text: str) -> Score:
        """Score `text` with one forward pass of the model."""
        return self.score_logprobs(token_logprobs(self.lm, text), text)

    def score_logprobs(self, token_logprobs: Sequence[float], text: str) -> Score:
        """Score `text` from its tokens' log-probs (nats), e.g. a generator's: no forward pass.

        For scores comparable with the thresholds, pass log-softmax of the model's *raw* logits
        (`generate(output_logits=True)`, not `output_scores`, which holds logits after
        temperature, top-k and other processors), one per token of `text`.
        """
        return score_logprobs(token_logprobs, text, self.k)

    def calibrate(self, benign_texts: Sequence[str], quantile: float = 0.99) -> Thresholds:
        """Set thresholds so that about 1 - `quantile` of benign text passes each one.

        Memorised text has a *higher* Min-K% and a *lower* zlib ratio than benign text: the Min-K%
        threshold is the `quantile` of the benign values, the zlib-ratio one their 1 - `quantile`.
        """
        if not 0.5 <= quantile < 1.0:
            raise ValueError(f"quantile must be in [0.5, 1), not {quantile}")
        scores = [s for s in map(self.score, benign_texts) if s.tokens]
        if len(scores) < 2:
            raise ValueError("calibrate needs at least two benign texts with tokens to score")
        self.thresholds = Thresholds(
            min_k=_quantile([s.min_k for s in scores], quantile),
            zlib_ratio=_quantile([s.zlib_ratio for s in scores], 1.0 - quantile),
        )
        return self.thresholds

    def flags(self, score: Score) -> bool:
        """Whether `score` passes the calibrated thresholds (both, or either: see the class)."""
        if self.thresholds is None:
            raise ConfigError(
                "MemorizationScorer has no thresholds: call calibrate() or pass thresholds="
            )
        high_min_k = score.min_k > self.thresholds.min_k
        low_zlib = score.zlib_ratio < self.thresholds.zlib_ratio
        return (high_min_k and low_zlib) if self.require == "both" else (high_min_k or low_zlib)

    def is_memorized(self, text: str) -> bool:
        """Whether the model has memorised `text` (one forward pass; needs thresholds)."""
        return self.flags(self.score(text))
