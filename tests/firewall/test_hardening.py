"""Log-prob hardening on OpenAI chat, legacy completions and plain-list payloads; request checks."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from pydantic import BaseModel

from firewall.errors import ConfigError
from firewall.hardening import (
    MODES,
    Hardening,
    harden_logprobs,
    harden_response,
    refuse_scoring_requests,
    sanitize_request,
)


def chat(*rows: tuple[str, float, list[tuple[str, float]]]) -> dict:
    """An OpenAI chat `choice.logprobs` from (token, logprob, [(alternative, logprob), ...])."""

    def tok(t: str, lp: float) -> dict:
        return {"token": t, "logprob": lp, "bytes": list(t.encode())}

    content = [{**tok(t, lp), "top_logprobs": [tok(*alt) for alt in alts]} for t, lp, alts in rows]
    return {"content": content, "refusal": None}


CHAT = chat(
    ("Hi", -0.31, [("Hi", -0.31), ("Hello", -1.46), ("Hey", -2.87)]),
    ("!", -0.04, [("!", -0.04), (".", -3.26)]),
)
LEGACY = {
    "tokens": ["Hi", "!"],
    "token_logprobs": [None, -0.04],  # echoed first prompt token: no log-prob
    "top_logprobs": [None, {"!": -0.04, ".": -3.26, "?": -4.12}],
    "text_offset": [0, 2],
}
PLAIN = [-0.31, -0.04, -25.0]
SHAPES = pytest.mark.parametrize("payload", [CHAT, LEGACY, PLAIN], ids=["chat", "legacy", "plain"])


def h(**settings: object) -> Hardening:
    return Hardening.from_settings(settings)


@SHAPES
def test_strip_removes_every_shape_and_is_the_default(payload):
    assert Hardening.from_settings(None) == Hardening()
    assert harden_logprobs(payload, Hardening.from_settings(None)) is None


@pytest.mark.parametrize("k", [0, 1, 2])
def test_top_k_keeps_the_chosen_logprob_and_the_k_best_alternatives(k):
    hi, bang = [("Hi", -0.31), ("Hello", -1.46)][:k], [("!", -0.04), (".", -3.26)][:k]
    top_k = h(mode="top_k", k=k)

    assert chat(("Hi", -0.31, hi), ("!", -0.04, bang)) == harden_logprobs(CHAT, top_k)
    assert {**LEGACY, "top_logprobs": [None, dict(bang)]} == harden_logprobs(LEGACY, top_k)
    assert PLAIN == harden_logprobs(PLAIN, top_k)  # no alternatives to drop
    unsorted = chat(("a", -1.0, [("b", -2.0), ("a", -1.0)]))
    assert chat(("a", -1.0, [("a", -1.0)])) == harden_logprobs(unsorted, h(mode="top_k", k=1))


def test_round_rounds_every_number_in_every_shape():
    hardening = h(mode="round", decimals=1)

    assert chat(
        ("Hi", -0.3, [("Hi", -0.3), ("Hello", -1.5), ("Hey", -2.9)]),
        ("!", -0.0, [("!", -0.0), (".", -3.3)]),
    ) == harden_logprobs(CHAT, hardening)
    legacy_alts = [None, {"!": -0.0, ".": -3.3, "?": -4.1}]
    expected = {**LEGACY, "token_logprobs": [None, -0.0], "top_logprobs": legacy_alts}
    assert expected == harden_logprobs(LEGACY, hardening)
    assert [-0.3, -0.0, -25.0] == harden_logprobs(PLAIN, hardening)
    with pytest.raises(TypeError, match="unrecognised logprobs payload"):
        harden_logprobs({"scores": [1.0]}, hardening)


def released(payload) -> list[float]:
    if isinstance(payload, list):
        return payload
    if "content" in payload:
        return [n["logprob"] for e in payload["content"] for n in [e, *e["top_logprobs"]]]
    alts = [lp for a in payload["top_logprobs"] if a for lp in a.values()]
    return [lp for lp in payload["token_logprobs"] if lp is not None] + alts


@SHAPES
def test_laplace_clips_and_changes_every_number(payload):
    out = harden_logprobs(payload, h(mode="laplace"), rng=np.random.default_rng(7))

    before, after = released(payload), released(out)
    assert all(-20.0 <= v <= 0.0 for v in after)
    assert all(a != b for a, b in zip(before, after, strict=True))


def test_laplace_mean_absolute_noise_is_the_scale():
    hardening = h(mode="laplace", epsilon=2.0, sensitivity=4.0, clip=[-200.0, 0.0], decimals=3)
    out = np.array(harden_logprobs([-100.0] * 20_000, hardening, rng=np.random.default_rng(1)))

    assert hardening.scale == 2.0
    assert np.mean(np.abs(out + 100.0)) == pytest.approx(2.0, rel=0.1)
    assert np.mean(out + 100.0) == pytest.approx(0.0, abs=0.1)
    assert 20.0 == h(mode="laplace").scale  # default sensitivity: the clip width
    assert 20.0 == h(mode="laplace", clip=[-5.0, 5.0], epsilon=0.5).scale


def test_inputs_are_never_changed():
    before = copy.deepcopy([CHAT, LEGACY, PLAIN])
    for mode, payload in itertools.product(MODES, [CHAT, LEGACY, PLAIN]):
        harden_logprobs(payload, h(mode=mode), rng=np.random.default_rng(0))

    assert before == [CHAT, LEGACY, PLAIN]


class TopLogprob(BaseModel):  # the OpenAI SDK's shapes, in miniature
    token: str
    logprob: float
    bytes: list[int] | None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None
    refusal: list[TokenLogprob] | None


def test_pydantic_objects_are_dumped_and_responses_walked():
    top_1 = chat(("Hi", -0.31, [("Hi", -0.31)]), ("!", -0.04, [("!", -0.04)]))
    response = {"id": "x", "choices": [{"index": 0, "logprobs": CHAT}, {"index": 1}]}

    assert top_1 == harden_logprobs(ChoiceLogprobs.model_validate(CHAT), h(mode="top_k"))
    assert [{"index": 0, "logprobs": top_1}, {"index": 1, "logprobs": None}] == (
        harden_response(response, h(mode="top_k"))["choices"]
    )
    assert harden_response(response, h())["choices"][0]["logprobs"] is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"prompt": "x", "echo": True, "logprobs": 0}, "echo with logprobs"),
        ({"prompt": "x", "echo": True, "logprobs": 5, "max_tokens": 0}, "echo with logprobs"),
        ({"messages": [], "logit_bias": {"50256": 100}, "logprobs": True}, "logit_bias"),
        ({"messages": [], "logit_bias": {"50256": 100}, "top_logprobs": 5}, "logit_bias"),
        ({"prompt": "x", "extra_body": {"prompt_logprobs": 1}}, "prompt_logprobs"),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, None),
        ({"messages": [], "logprobs": True, "top_logprobs": 3}, None),
        ({"prompt": "x", "echo": True}, None),
        ({"prompt": "x", "echo": True, "logprobs": None}, None),
        ({"messages": [], "logit_bias": {"50256": -100}}, None),  # bias alone: text, no scores
        ({"messages": [], "logit_bias": {}, "logprobs": True}, None),
    ],
)
def test_scoring_requests_are_refused_and_ordinary_ones_pass(kwargs, reason):
    refusal = refuse_scoring_requests(kwargs)

    assert (reason is None) == (refusal is None)
    assert (reason or "") in (refusal or "")


def test_sanitize_request_strips_caps_or_leaves_alone():
    chat_kw = {"model": "m", "logprobs": True, "top_logprobs": 5, "extra_body": {"seed": 1}}
    legacy_kw = {"prompt": "x", "logprobs": 5}
    before = copy.deepcopy([chat_kw, legacy_kw])

    assert {"model": "m", "extra_body": {"seed": 1}} == sanitize_request(chat_kw, h())
    assert {} == sanitize_request({"extra_body": {"prompt_logprobs": 1}}, h())["extra_body"]
    assert {"prompt": "x"} == sanitize_request(legacy_kw, h())
    assert {**chat_kw, "top_logprobs": 2} == sanitize_request(chat_kw, h(mode="top_k", k=2))
    assert {"prompt": "x", "logprobs": 0} == sanitize_request(legacy_kw, h(mode="top_k", k=0))
    assert 1 == sanitize_request({"top_logprobs": 1}, h(mode="top_k", k=3))["top_logprobs"]
    assert chat_kw == sanitize_request(chat_kw, h(mode="laplace"))
    assert before == [chat_kw, legacy_kw]


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        *[({"mode": m}, "hardening.mode") for m in ("blur", None)],
        *[({"k": k}, "hardening.k") for k in (-1, 1.5, True, "2")],
        ({"decimals": -1}, "hardening.decimals"),
        *[({"epsilon": e}, "hardening.epsilon") for e in (0, -1.0, float("inf"), "1")],
        ({"sensitivity": -1.0}, "hardening.sensitivity"),
        *[({"clip": c}, "hardening.clip") for c in ([0.0, -20.0], [-20.0], "[-20, 0]", [-1, "0"])],
        ({"modes": "strip"}, "unknown setting"),
    ],
)
def test_invalid_settings_raise_config_error(settings, where):
    with pytest.raises(ConfigError, match=where):
        Hardening.from_settings(settings)


def test_the_firewall_applies_the_policy_hardening(policy) -> None:
    """The default policy strips log-probabilities; a round policy rounds them (fw.harden)."""
    import dataclasses

    from firewall import Firewall

    payload = [-0.123456, -2.5]
    stripping = Firewall(policy, events=False)
    rounding = Firewall(dataclasses.replace(policy, hardening={"mode": "round", "decimals": 1}), events=False)

    assert stripping.harden(payload) is None
    assert rounding.harden(payload) == [-0.1, -2.5]
