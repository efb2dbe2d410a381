"""The memorisation scores a wrapper puts in an event, from the generated tokens' log-probabilities."""

from __future__ import annotations

from collections.abc import Sequence

from firewall.memorization import score_logprobs


def memorisation_scores(logprobs: Sequence[float], raw: str) -> dict[str, float]:
    """Min-K% Prob and zlib ratio (`firewall.memorization`) of `raw`, or {} without log-probs."""
    if not logprobs:
        return {}
    score = score_logprobs(logprobs, raw)
    return {"min_k": score.min_k, "zlib_ratio": score.zlib_ratio}
