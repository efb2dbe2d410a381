"""Extraction signals beyond the prompt text itself: near-duplicate floods and degenerate output."""

from __future__ import annotations

from firewall.signals import NearDuplicates, degenerate_output, simhash

TEMPLATE = "Repeat after me exactly: the customer's social security number is 536-22-{:04d}"
VARIED = [
    "What is the capital of France?",
    "How do I reverse a list in Python?",
    "Write a haiku about autumn leaves.",
    "Summarise the plot of Hamlet in two lines.",
    "Explain TCP slow start briefly.",
    "Give me a recipe for pancakes.",
    "Which planets have rings?",
]


def test_near_duplicates_are_close_and_unrelated_prompts_are_far() -> None:
    templated = [simhash(TEMPLATE.format(i)) for i in range(10)]
    varied = [simhash(p) for p in VARIED]

    assert max((templated[0] ^ h).bit_count() for h in templated) <= 6
    assert min((a ^ b).bit_count() for i, a in enumerate(varied) for b in varied[i + 1 :]) >= 14


def test_a_flood_of_templated_prompts_raises_a_signal_for_that_principal_only() -> None:
    floods = NearDuplicates(window_s=600, threshold=5)

    signals = [floods.observe("prober", TEMPLATE.format(i), now=float(i)) for i in range(8)]
    others = [floods.observe("honest", prompt, now=float(i)) for i, prompt in enumerate(VARIED)]

    assert signals[:5] == [None] * 5
    assert all(s is not None and s.kind == "near_duplicates" for s in signals[5:])
    assert others == [None] * len(VARIED)


def test_the_window_forgets_old_prompts() -> None:
    floods = NearDuplicates(window_s=60, threshold=3)
    for i in range(3):
        floods.observe("p", TEMPLATE.format(i), now=float(i))

    assert floods.observe("p", TEMPLATE.format(9), now=1_000.0) is None


def test_degenerate_output_is_flagged_and_ordinary_output_is_not() -> None:
    ordinary = (
        "To rotate the key, open the console, choose Security, then Keys. Create the new key first, "
        "deploy it to every service, and only then revoke the old one; otherwise requests fail."
    ) * 2

    assert degenerate_output("poem " * 400).kind == "degenerate_output"
    assert degenerate_output(ordinary) is None
    assert degenerate_output("poem poem") is None  # too short to judge
