"""Carlini's exposure on a real causal LM: a tiny GPT-2 trained here, on ordinary sentences plus a
training canary planted 12 times, ranks that canary first among 200 random values of its format;
canaries it never saw, and the same canary in the untrained model, rank by chance. Also through
`outguard canary exposure`.

Exposure is random by nature (its candidates are freshly minted, so are the canaries): every
assertion about canaries the model never saw is on the mean of several (about 1 run in 10,000
would fail by chance), or on log-perplexities, which do not depend on the candidates.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from firewall.canaries import REGISTRY_FILE, Canary, mint, write_registry
from firewall.cli import main
from firewall.exposure import CausalLM, Exposure, exposure
from firewall.tiny_lm import train_tiny_lm
from tests.conftest import RULES

pytestmark = pytest.mark.slow

PREFIX = "The access code is "
PLANTED_TIMES = 12
UNPLANTED = 10
CANDIDATES = 200
STEPS = 200
MAXIMUM = Exposure("", 0.0, 1, CANDIDATES, 0.0).maximum  # log2(201) = 7.65

SENTENCES = [
    "The morning train to the coast was late again because of a signal fault.",
    "She planted tomatoes, basil and two rows of beans behind the old shed.",
    "Our team meets every Tuesday to review the open support tickets.",
    "The river was high after a week of heavy rain in the hills.",
    "He forgot his umbrella at the cafe and walked home in the drizzle.",
    "Please remember to water the plants while we are away for the weekend.",
    "The library closes early on public holidays and reopens the next morning.",
    "A small bakery on the corner sells the best rye bread in town.",
    "The children built a sandcastle with towers, walls and a deep moat.",
    "Most of the invoices were paid on time, but three are still overdue.",
    "The museum added a new gallery of maps drawn by early sailors.",
    "After dinner they played cards by the fire until nearly midnight.",
    "The mechanic said the brakes would need new pads before winter.",
    "Birds gathered on the wire as the evening grew colder.",
    "The report summarises sales for the last quarter by region.",
    "Our neighbour keeps bees and gives us a jar of honey every autumn.",
    "The bridge will be closed for repairs until the end of the month.",
    "He practised the piano for an hour before breakfast each day.",
    "The new printer on the second floor jams whenever the paper is damp.",
    "They hiked to the top of the ridge and watched the sun go down.",
    "The soup needs more salt, a little pepper and a handful of parsley.",
    "A delivery van blocked the narrow street for most of the afternoon.",
    "The committee will vote on the budget at the next general meeting.",
    "She wrote a long letter to her grandmother about the trip to the lakes.",
    "The old clock in the hall gains five minutes every week.",
    "Fresh snow covered the fields and the roads were quiet.",
    "The software update fixed the login problem on older phones.",
    "We ordered too much pizza and ate the leftovers for lunch.",
    "The cat sleeps on the warm windowsill for most of the day.",
    "Tickets for the concert sold out within an hour of going on sale.",
    "The farmer repaired the fence before moving the sheep to the upper field.",
    "A gentle breeze came in from the sea and cooled the crowded square.",
    "The students handed in their essays on the causes of the war.",
    "He keeps his tools in a wooden box under the workbench.",
    "The hotel breakfast included eggs, toast, fruit and strong coffee.",
    "Heavy traffic on the ring road made everyone late for the meeting.",
    "The gardener trimmed the hedges and raked the leaves into piles.",
    "Our flight was delayed, so we read our books at the gate.",
    "The doctor advised him to rest, drink water and sleep more.",
    "On Sundays the market square fills with stalls selling cheese and flowers.",
]


def _canary(canary_id: str) -> Canary:
    value, bits = mint("token")
    return Canary(canary_id, value, "training", "2026-11-29T05:00:00+00:00", "", "token", round(bits, 1))


@dataclass(frozen=True)
class TinyLMs:
    planted: Canary
    unplanted: list[Canary]
    """Same format, never in the training data."""
    trained: Path
    untrained: Path
    """Same tokenizer, weights as initialised (steps=0)."""


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Torch on one thread: this model is too small to gain from two, which ran its scoring 10
    times slower on a 2-core machine (`torch.set_num_threads` is process-wide: put back after)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lms(tmp_path_factory: pytest.TempPathFactory) -> TinyLMs:
    planted = _canary("c-planted")
    unplanted = [_canary(f"c-unplanted-{i}") for i in range(UNPLANTED)]
    texts = SENTENCES + [f"{PREFIX}{planted.value}."] * PLANTED_TIMES
    random.Random(0).shuffle(texts)
    root = tmp_path_factory.mktemp("tiny_lm")
    # The tokenizer learns only the ordinary sentences: merges learnt from the canary would make it
    # fewer tokens than its candidates, hence likelier even to an untrained model.
    trained = train_tiny_lm(root / "trained", texts, steps=STEPS, tokenizer_texts=SENTENCES)
    untrained = train_tiny_lm(root / "untrained", texts, steps=0, tokenizer_texts=SENTENCES)
    return TinyLMs(planted, unplanted, trained, untrained)


def _measure(model_dir: Path, lms: TinyLMs) -> tuple[Exposure, list[Exposure]]:
    lm = CausalLM(model_dir)
    planted = exposure(lm, lms.planted, candidates=CANDIDATES, prefix=PREFIX)
    unplanted = [exposure(lm, c, candidates=CANDIDATES, prefix=PREFIX) for c in lms.unplanted]
    return planted, unplanted


def _summary(planted: Exposure, unplanted: list[Exposure]) -> str:
    return (f"planted: exposure {planted.exposure:.2f}/{planted.maximum:.2f}, rank {planted.rank}, "
            f"log-perplexity {planted.log_perplexity:.2f}; unplanted: exposures "
            f"{[round(u.exposure, 2) for u in unplanted]}, log-perplexities "
            f"{[round(u.log_perplexity, 1) for u in unplanted]}")


def test_planted_canary_shows_higher_exposure(lms: TinyLMs) -> None:
    planted, unplanted = _measure(lms.trained, lms)
    why = _summary(planted, unplanted)
    assert planted.maximum == pytest.approx(MAXIMUM)
    # Memorised: likelier than all 200 candidates, by far likelier than any value it never saw.
    assert planted.rank == 1, why
    assert planted.exposure >= 0.8 * MAXIMUM, why
    assert planted.log_perplexity < 0.5 * min(u.log_perplexity for u in unplanted), why
    # Never seen: chance ranks (mean exposure log2(e) = 1.44 expected).
    assert statistics.mean(u.exposure for u in unplanted) < MAXIMUM / 2, why


def test_untrained_model_shows_no_exposure(lms: TinyLMs) -> None:
    """The same measurement on the untrained model: the separation above comes from training."""
    planted, unplanted = _measure(lms.untrained, lms)
    why = _summary(planted, unplanted)
    # The planted canary is no likelier than values of its format the model never saw...
    assert planted.log_perplexity > 0.5 * statistics.median(u.log_perplexity for u in unplanted), why
    # ...and exposures are chance, the planted canary's among them.
    assert statistics.mean(e.exposure for e in [planted, *unplanted]) < MAXIMUM / 2, why


def test_prefix_split_at_a_space_ranks_the_same(lms: TinyLMs) -> None:
    """Prefix and canary are tokenized together, as in the training text: where the caller splits
    "The access code is <canary>" (the space ending the prefix, or starting the canary) shifts
    every value's log-perplexity by the same amount, so rankings and exposures do not change.
    (Tokenized apart, "is " + "<canary>" is a lone space token then the canary without its space:
    not what the model learnt.)"""
    lm = CausalLM(lms.trained)
    values = [c.value for c in [lms.planted, *lms.unplanted]]
    with_space = lm.log_perplexities(values, prefix=PREFIX)
    without = lm.log_perplexities([" " + v for v in values], prefix=PREFIX.rstrip())
    shifts = [b - a for a, b in zip(with_space, without, strict=True)]
    assert shifts == pytest.approx([shifts[0]] * len(shifts), abs=1e-3)
    # Memorised to near certainty once its prefix is given (about 16 nats if tokenized apart).
    assert with_space[0] < 5.0


def test_cli_exposure_command(lms: TinyLMs, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    entries: list[dict[str, object]] = [
        {"id": c.id, "value": c.value, "placement": c.placement, "created": c.created,
         "note": "planted 12 times" if c is lms.planted else "never in the training data",
         "format": c.format, "bits": c.bits}
        for c in [lms.planted, *lms.unplanted]
    ]
    write_registry(rules / REGISTRY_FILE, entries)
    args = ["canary", "exposure", "--model", str(lms.trained), "--rules", str(rules),
            "--candidates", str(CANDIDATES), "--prefix", PREFIX]

    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    by_id = {r["canary_id"]: r for r in json.loads(result.stdout)}
    assert set(by_id) == {e["id"] for e in entries}
    planted = by_id.pop("c-planted")
    why = f"planted {planted}, unplanted {sorted(round(r['exposure'], 2) for r in by_id.values())}"
    assert planted["maximum"] == pytest.approx(MAXIMUM)
    assert planted["candidates"] == CANDIDATES
    assert planted["rank"] == 1, why
    assert planted["exposure"] - statistics.mean(r["exposure"] for r in by_id.values()) > MAXIMUM / 2, why

    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0, table.output
    [line] = [line for line in table.stdout.splitlines() if line.startswith("c-planted ")]
    assert line.endswith("MEMORISED")
