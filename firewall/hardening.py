"""Harden what a response reveals beyond its text: log-probabilities, top-k alternatives, scores.

Per-token log-probabilities are the raw material of membership inference (Min-K% Prob, loss and
zlib-ratio attacks score a text by them) and of model inversion (Morris et al. 2023 recover prompts
from next-token distributions). A policy section chooses one `mode`:

    strip    remove them entirely (the default): `harden_logprobs` returns None
    top_k    keep the chosen token's log-prob and only the `k` best alternatives (k=0: none)
    round    round every log-prob to `decimals` places
    laplace  clip each log-prob into `clip`, add Laplace noise of scale `sensitivity / epsilon`,
             clip into `clip` again (so <= 0 with the default) and round to `decimals`

What `epsilon` means here, honestly: each released number is epsilon-differentially private with
respect to a change of that one number within the clip range (the default sensitivity is the width
of `clip`). It is *not* a guarantee about the training data, nor about the whole response: a
response that releases n numbers composes to n * epsilon, and the token text, the chosen tokens and
which tokens appear as alternatives are released as they are. Clipping first bounds the sensitivity;
clipping and rounding afterwards are post-processing and cost nothing. The rounding also blunts
Mironov's (2012) attack on the low-order bits of textbook floating-point Laplace samples.

Why numpy and not diffprivlib: the Laplace mechanism is two lines with `Generator.laplace` (below,
with the clipping that diffprivlib's `LaplaceBoundedDomain` would handle), while diffprivlib 0.6.6
pins scikit-learn, adds ~276 MB, and fails to import with scikit-learn 1.9.

Requests matter too: `refuse_scoring_requests` names the parameter combinations that let anyone
score arbitrary text against the model, and `sanitize_request` stops the server computing what
`strip` or `top_k` would throw away.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from firewall.errors import ConfigError

if TYPE_CHECKING:
    from numpy.random import Generator

MODES = ("strip", "top_k", "round", "laplace")
_KEYS = {"mode", "k", "decimals", "epsilon", "sensitivity", "clip"}


@dataclass(frozen=True)
class Hardening:
    """How to harden log-probabilities; build it with `Hardening.from_settings`."""

    mode: str = "strip"
    """One of `MODES`."""
    k: int = 1
    """top_k: alternatives kept per token (0 keeps only the chosen token's log-prob)."""
    decimals: int = 1
    """round and laplace: decimal places of every released number."""
    epsilon: float = 1.0
    """laplace: privacy parameter per released number (see the module docstring)."""
    sensitivity: float = 20.0
    """laplace: how far one number may move; defaults to the width of `clip`."""
    clip: tuple[float, float] = (-20.0, 0.0)
    """laplace: the domain every number is clipped into, before and after the noise."""

    @property
    def scale(self) -> float:
        """The Laplace scale b = sensitivity / epsilon (mean absolute noise before clipping)."""
        return self.sensitivity / self.epsilon

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> Hardening:
        """Validate a policy section such as ``{"mode": "top_k", "k": 2}``.

        Raises:
            ConfigError: an unknown key, mode, or out-of-range value, naming the setting.
        """
        s = dict(settings or {})
        if unknown := sorted(set(s) - _KEYS):
            raise ConfigError(f"hardening: unknown setting(s) {unknown}; known: {sorted(_KEYS)}")
        mode = s.get("mode", "strip")
        if mode not in MODES:
            raise ConfigError(f"hardening.mode: {mode!r} is not one of {', '.join(MODES)}")
        k, decimals = s.get("k", 1), s.get("decimals", 1)
        for name, value in (("k", k), ("decimals", decimals)):
            if type(value) is not int or value < 0:
                raise ConfigError(f"hardening.{name}: must be an integer >= 0, not {value!r}")
        clip = s.get("clip", (-20.0, 0.0))
        if (
            not isinstance(clip, list | tuple)
            or len(clip) != 2
            or not all(_is_finite(c) for c in clip)
            or not clip[0] < clip[1]
        ):
            raise ConfigError(
                f"hardening.clip: must be [low, high], finite, with low < high, not {clip!r}"
            )
        low, high = float(clip[0]), float(clip[1])
        epsilon, sensitivity = s.get("epsilon", 1.0), s.get("sensitivity", high - low)
        for name, value in (("epsilon", epsilon), ("sensitivity", sensitivity)):
            if not _is_finite(value) or value <= 0:
                raise ConfigError(f"hardening.{name}: must be a finite number > 0, not {value!r}")
        return cls(mode, k, decimals, float(epsilon), float(sensitivity), (low, high))


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_finite(value: object) -> bool:
    return _is_number(value) and math.isfinite(value)  # type: ignore[arg-type]


def harden_logprobs(payload: Any, hardening: Hardening, rng: Generator | None = None) -> Any:
    """Return a hardened copy of one choice's log-probabilities; the input is never changed.

    Args:
        payload: OpenAI chat ``choice["logprobs"]`` (``{"content": [...], "refusal": ...}``), legacy
            completions logprobs (``{"tokens", "token_logprobs", "top_logprobs", "text_offset"}``),
            a plain list of floats (per-token log-probs or scores), None, or a pydantic object of
            either dict shape (converted with ``model_dump()``).
        hardening: the policy.
        rng: laplace only; defaults to a fresh OS-seeded generator. Seed it only in tests: seeded
            noise can be replayed and subtracted.

    Returns:
        None for mode strip; otherwise the same shape as plain dicts, lists and floats.

    Raises:
        TypeError: the payload has none of the shapes above.
    """
    if payload is None or hardening.mode == "strip":
        return None
    if hasattr(payload, "model_dump"):
        payload = payload.model_dump()
    out = copy.deepcopy(payload)
    num = _number_op(hardening, rng)
    if isinstance(out, list | tuple) and all(v is None or _is_number(v) for v in out):
        return [num(v) for v in out]
    if isinstance(out, dict) and ("content" in out or "refusal" in out):
        for entries in (out.get("content"), out.get("refusal")):
            for entry in entries or ():
                entry["logprob"] = num(entry["logprob"])
                if "top_logprobs" not in entry:
                    continue
                alts = [{**a, "logprob": num(a["logprob"])} for a in entry["top_logprobs"] or ()]
                alts.sort(key=lambda a: -a["logprob"])  # order by released values only
                entry["top_logprobs"] = alts[: hardening.k] if hardening.mode == "top_k" else alts
        return out
    if isinstance(out, dict) and "token_logprobs" in out:
        if out["token_logprobs"] is not None:
            out["token_logprobs"] = [num(v) for v in out["token_logprobs"]]
        if out.get("top_logprobs") is not None:
            out["top_logprobs"] = [_legacy_alts(a, hardening, num) for a in out["top_logprobs"]]
        return out
    raise TypeError(f"unrecognised logprobs payload of type {type(payload).__name__}")


def _legacy_alts(
    alts: dict[str, float] | None, hardening: Hardening, num: Callable[[Any], Any]
) -> dict[str, float] | None:
    if alts is None:
        return None
    ranked = sorted(((tok, num(lp)) for tok, lp in alts.items()), key=lambda kv: -kv[1])
    return dict(ranked[: hardening.k] if hardening.mode == "top_k" else ranked)


def _number_op(hardening: Hardening, rng: Generator | None) -> Callable[[Any], Any]:
    """The per-number transform of a mode; None (a legacy first-token log-prob) stays None."""
    if hardening.mode == "round":
        return lambda v: None if v is None else round(float(v), hardening.decimals)
    if hardening.mode != "laplace":
        return lambda v: v
    import numpy as np  # deferred: only the laplace mode needs numpy

    gen = rng if rng is not None else np.random.default_rng()
    low, high = hardening.clip

    def laplace(v: Any) -> Any:
        if v is None:
            return None
        clipped = min(max(float(v), low), high)  # bounds the sensitivity
        noisy = clipped + float(gen.laplace(0.0, hardening.scale))
        return round(min(max(noisy, low), high), hardening.decimals)

    return laplace


def harden_response(response: Any, hardening: Hardening, rng: Generator | None = None) -> Any:
    """Return a copy of a completion response (dict or pydantic), its choices' logprobs hardened."""
    if hasattr(response, "model_dump"):
        response = response.model_dump()
    out = dict(response)
    out["choices"] = [
        {**choice, "logprobs": harden_logprobs(choice.get("logprobs"), hardening, rng)}
        for choice in response.get("choices") or ()
    ]
    return out


def _requested(value: Any) -> bool:
    return value is not None and value is not False


def refuse_scoring_requests(request_kwargs: Mapping[str, Any]) -> str | None:
    """Why a completion/chat request must be refused as a scoring request, or None to let it pass.

    ``echo`` with ``logprobs`` returns the log-probs of the prompt itself, and vLLM's
    ``prompt_logprobs`` does so directly: either scores arbitrary text against the model, the
    membership-inference primitive. ``logit_bias`` with ``logprobs``/``top_logprobs`` lets a caller
    force tokens and read back the distribution (Carlini et al. 2024, Morris et al. 2023), which
    does the same one token at a time. Keys under ``extra_body`` (the OpenAI SDK's pass-through)
    count as well.
    """
    kw = {**request_kwargs, **(request_kwargs.get("extra_body") or {})}
    wants_logprobs = _requested(kw.get("logprobs")) or _requested(kw.get("top_logprobs"))
    if _requested(kw.get("prompt_logprobs")):
        return "prompt_logprobs returns the prompt's log-probabilities (scores arbitrary text)"
    if kw.get("echo") and _requested(kw.get("logprobs")):
        return "echo with logprobs returns the prompt's log-probabilities (scores arbitrary text)"
    if kw.get("logit_bias") and wants_logprobs:
        return "logit_bias with logprobs/top_logprobs lets a caller force tokens and score them"
    return None


def sanitize_request(request_kwargs: Mapping[str, Any], hardening: Hardening) -> dict[str, Any]:
    """Return a copy of the request kwargs asking the server for no more than the policy releases.

    strip drops ``logprobs``, ``top_logprobs`` and ``prompt_logprobs`` (so they are never computed);
    top_k caps ``top_logprobs`` and the legacy integer ``logprobs`` at k; other modes change
    nothing.
    Call `refuse_scoring_requests` first: this does not make a scoring request safe.
    """
    out = dict(request_kwargs)
    if "extra_body" in out and isinstance(out["extra_body"], Mapping):
        out["extra_body"] = dict(out["extra_body"])
    if hardening.mode == "strip":
        for key in ("logprobs", "top_logprobs"):
            out.pop(key, None)
        if isinstance(out.get("extra_body"), dict):
            out["extra_body"].pop("prompt_logprobs", None)
    elif hardening.mode == "top_k":
        for key in ("logprobs", "top_logprobs"):  # chat's bool logprobs is left alone
            if type(out.get(key)) is int and out[key] > hardening.k:
                out[key] = hardening.k
    return out
