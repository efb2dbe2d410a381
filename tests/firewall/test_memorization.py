"""Min-K% Prob and zlib ratio on a real causal LM: a tiny GPT-2 trained here on 40 ordinary
sentences plus 3 protected passages repeated 10 times each flags those passages as memorised, after
calibration on 20 fresh benign texts, and flags at most 1 of 10 other fresh texts; the untrained
model (same tokenizer) does not separate them.

Fresh texts are two sentences (135-160 characters) so that their length is near the passages'
(190-210): the zlib ratio falls as texts grow, and calibrating on much shorter texts would let it
flag long texts whatever the model knows (the untrained model's passages sit below the zlib
threshold here for that reason; requiring both metrics keeps them unflagged).
"""

from __future__ import annotations

import math
import random
import statistics
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from firewall.errors import ConfigError
from firewall.exposure import CausalLM
from firewall.memorization import (
    MemorizationScorer,
    Score,
    min_k_prob,
    score_logprobs,
    token_logprobs,
    zlib_ratio,
)
from firewall.tiny_lm import train_tiny_lm

REPEATS = 10
STEPS = 200
WINDOW = 128
"""Training windows longer than a passage (110-125 tokens): positions past the window are never
trained, and the passages' ends would score as unseen."""

SENTENCES = [
    "The bus to the airport leaves from the stop outside the town hall every twenty minutes.",
    "My brother repaired the kitchen chair with glue and two small screws.",
    "The shop on the corner sells newspapers, sweets and cheap umbrellas.",
    "We spent the afternoon at the beach and came home with sunburnt noses.",
    "The teacher asked the class to read the first chapter before Monday.",
    "Rain is expected tonight, so the outdoor concert has been moved indoors.",
    "She keeps a small notebook in her bag to write down shopping lists.",
    "The lift in our building has been broken for almost a week.",
    "He makes pancakes for the whole family every Saturday morning.",
    "The park gates are locked at sunset during the winter months.",
    "Our manager sent an email about the new holiday rota.",
    "The dog barks whenever the postman walks up the garden path.",
    "They painted the spare bedroom a pale shade of yellow.",
    "The road to the village was closed after a lorry lost its load.",
    "I bought a second-hand bicycle and a new lock for it.",
    "The kettle takes ages to boil because it is full of limescale.",
    "Visitors must sign in at the front desk and wear a badge.",
    "The football match was cancelled because the pitch was flooded.",
    "My aunt sends us a card with a photo of her garden every Christmas.",
    "The apples in the fruit bowl are starting to go soft.",
    "The train company apologised for the delays caused by the storm.",
    "We need to buy milk, bread, eggs and something for dinner.",
    "The new cafe near the station serves very good hot chocolate.",
    "He left his keys on the kitchen table and locked himself out.",
    "The annual report will be published at the end of March.",
    "The children planted sunflowers along the edge of the playground.",
    "Our internet connection is slow in the evenings when everyone is online.",
    "The baker wakes up at four to start the first batch of bread.",
    "She finished the crossword in ten minutes on the train to work.",
    "The council is collecting old furniture for recycling next week.",
    "The hotel room had a small balcony with a view of the harbour.",
    "My phone battery runs out by the middle of the afternoon.",
    "The library has a reading group that meets on the first Thursday of each month.",
    "The plumber will come tomorrow morning to look at the boiler.",
    "We watched a documentary about whales before going to bed.",
    "The price of petrol went up again at the start of the month.",
    "He wrapped the present in brown paper and tied it with string.",
    "The orchestra tuned their instruments while the audience took their seats.",
    "The town market sells fresh fish on Fridays and vegetables every day.",
    "She called the dentist to move her appointment to next week.",
]

PASSAGES = [
    "Quillon Ashgrove kept the lighthouse ledgers in violet ink, noting each hull that rounded "
    "Marrow Point, its cook's name if known, and a guess at its cargo of figs, copper wire or "
    "brine-cured lemons from Sarrach.",
    "The Verrick protocol needs three custodians to turn their brass keys within nine seconds; "
    "should the ninth second lapse, the Pell Harbour vault floods its antechamber with argon for "
    "a full fortnight.",
    "Grandmother Ysolde's thunder cake calls for seven duck eggs, smoked treacle, saffron ground "
    "with river salt, and a spoonful of cold ash from a hearth where no lie was spoken since the "
    "last harvest moon.",
]

FRESH = [
    "The ferry to the island leaves twice a day in summer and once a day in winter. "
    "Passengers should arrive early to find a seat, because the boat fills up quickly.",
    "Our office moved to a larger building near the station last spring. "
    "The new kitchen has a coffee machine that everyone likes, and the desks are by the windows.",
    "He painted the garden fence green and left the brushes to soak overnight. "
    "In the morning the paint was still a little sticky, so he waited another day.",
    "The city council approved funding for a new cycle lane along the river. "
    "Work is expected to start after the summer holidays and finish before the winter.",
    "My sister is learning to play the violin and practises every evening after school. "
    "The neighbours say they enjoy the music, even the scales.",
    "A storm knocked down several trees in the park during the night. "
    "Volunteers cleared the paths before the weekend market opened on Saturday morning.",
    "The restaurant changes its menu every season to use local vegetables. "
    "This autumn it serves pumpkin soup, roasted carrots and a warm apple pie.",
    "The train was crowded, so we stood in the corridor for most of the journey home. "
    "At least the view of the valley was lovely in the evening light.",
    "The school library received a donation of new picture books from a local charity. "
    "The younger pupils read them during the afternoon break.",
    "She fixed the leaking tap with a new washer and a bit of tape from the drawer. "
    "It took her less than twenty minutes and saved a call to the plumber.",
    "The weather forecast promises sunshine for the rest of the week. "
    "Many families are planning picnics by the lake, and the ice cream van will be busy.",
    "Our team finished the project a few days ahead of schedule this time. "
    "The manager bought cakes for everyone on Friday to say thank you.",
    "The old cinema in the high street is showing classic films this month. "
    "Tickets are cheaper on Monday evenings, and students get a further discount.",
    "He borrowed a ladder from the neighbour to clean the gutters on Sunday. "
    "A family of sparrows had built a nest near the chimney, so he left it alone.",
    "The post office will be closed on Thursday for staff training. "
    "Parcels can be collected from the shop next door until six in the evening.",
    "We walked along the cliffs and watched the waves break on the rocks below. "
    "The wind was strong but the sky was clear all the way to the horizon.",
    "The hospital opened a new waiting room with comfortable chairs and plants. "
    "Patients can now check in at a screen by the door instead of queueing.",
    "Her grandfather grows apples and pears in a small orchard behind the house. "
    "Every year he makes cider with the fruit that falls in the grass.",
    "The printer ran out of ink just before the meeting started this morning. "
    "Luckily someone had a spare cartridge in the drawer of the front desk.",
    "The children collected shells on the beach and sorted them by colour and size. "
    "They took the best ones home in a bucket to show their parents.",
    "The town band rehearses in the church hall on Wednesday nights at seven. "
    "New members are welcome to join at any time, whatever instrument they play.",
    "A fox crossed the road in front of our car late last night near the farm. "
    "It stopped for a moment in the headlights and then ran into the woods.",
    "The bakery started selling sourdough loaves on Saturdays this year. "
    "They are usually gone by ten in the morning, so regular customers come early.",
    "He spent the afternoon sorting old photographs into albums for the family. "
    "Some of them showed his parents on their wedding day outside the church.",
    "The swimming pool is closed for cleaning until next Tuesday afternoon. "
    "The gym upstairs remains open as usual, with extra classes in the evening.",
    "Our landlord promised to repair the heating before the cold weather arrives. "
    "So far nobody has come to look at it, and the nights are getting colder.",
    "The museum shop sells postcards, maps and small wooden toys for children. "
    "Most visitors buy something on their way out through the main hall.",
    "She took the dog for a long walk through the forest after lunch on Sunday. "
    "They both came home muddy and tired, and slept until dinner time.",
    "The supermarket now has self-service tills near the entrance and the exit. "
    "The queues are much shorter than they used to be on busy weekends.",
    "The village fair raised enough money to repair the roof of the church hall. "
    "Next year the organisers hope to add a music stage and more stalls.",
]
CALIBRATION = FRESH[:20]
HELD_OUT = FRESH[20:]
"""Never in the training data, nor used for calibration."""


@dataclass(frozen=True)
class Scorers:
    trained: MemorizationScorer
    untrained: MemorizationScorer
    """Same tokenizer, weights as initialised (steps=0); calibrated on the same texts."""


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Torch on one thread: this model is too small to gain from two (see firewall/tiny_lm.py);
    `torch.set_num_threads` is process-wide, so it is put back after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def scorers(one_thread: None, tmp_path_factory: pytest.TempPathFactory) -> Scorers:
    texts = SENTENCES + PASSAGES * REPEATS
    random.Random(0).shuffle(texts)
    root = tmp_path_factory.mktemp("tiny_lm")
    # The tokenizer learns only the ordinary sentences: merges learnt from the passages would make
    # them fewer, likelier tokens to any model, trained or not.
    common = {"tokenizer_texts": SENTENCES, "window": WINDOW}
    trained = MemorizationScorer(train_tiny_lm(root / "trained", texts, steps=STEPS, **common))
    untrained = MemorizationScorer(train_tiny_lm(root / "untrained", texts, steps=0, **common))
    trained.calibrate(CALIBRATION)
    untrained.calibrate(CALIBRATION)
    return Scorers(trained, untrained)


def _summary(scorer: MemorizationScorer) -> str:
    def figures(texts: list[str]) -> str:
        scores = [scorer.score(t) for t in texts]
        return (f"min_k {[round(s.min_k, 2) for s in scores]}, "
                f"zlib_ratio x1e3 {[round(1e3 * s.zlib_ratio, 2) for s in scores]}")

    return (f"thresholds {scorer.thresholds}; passages: {figures(PASSAGES)}; "
            f"held-out: {figures(HELD_OUT)}")


@pytest.mark.slow
def test_trained_passages_are_flagged_and_outscore_fresh_text(scorers: Scorers) -> None:
    scorer = scorers.trained
    why = _summary(scorer)
    passages = [scorer.score(p) for p in PASSAGES]
    fresh = [scorer.score(f) for f in FRESH]

    assert all(scorer.is_memorized(p) for p in PASSAGES), why
    assert min(p.min_k for p in passages) > max(f.min_k for f in fresh), why
    assert max(p.zlib_ratio for p in passages) < min(f.zlib_ratio for f in fresh), why
    # Thresholds on the benign side of the gap, well clear of the passages: Min-K% higher and zlib
    # ratio lower mean memorised.
    assert scorer.thresholds is not None
    assert min(p.min_k for p in passages) > scorer.thresholds.min_k + 5.0, why
    assert max(p.zlib_ratio for p in passages) < scorer.thresholds.zlib_ratio / 10, why


@pytest.mark.slow
def test_held_out_fresh_text_is_mostly_not_flagged(scorers: Scorers) -> None:
    scorer = scorers.trained
    flagged = [text for text in HELD_OUT if scorer.is_memorized(text)]

    assert len(flagged) <= 1, f"{flagged}; {_summary(scorer)}"


@pytest.mark.slow
def test_calibration_puts_thresholds_at_the_benign_quantiles(scorers: Scorers) -> None:
    """quantile=0.99 of 20 texts: only the most extreme calibration text lies past each one."""
    scorer = scorers.trained
    assert scorer.thresholds is not None
    scores = [scorer.score(t) for t in CALIBRATION]

    assert sum(s.min_k > scorer.thresholds.min_k for s in scores) == 1
    assert sum(s.zlib_ratio < scorer.thresholds.zlib_ratio for s in scores) == 1
    assert sum(scorer.flags(s) for s in scores) <= 1


@pytest.mark.slow
def test_untrained_model_does_not_separate(scorers: Scorers) -> None:
    """The same measurement on the untrained model: the separation above comes from training."""
    scorer = scorers.untrained
    why = _summary(scorer)
    passage_min_k = statistics.mean(scorer.score(p).min_k for p in PASSAGES)
    fresh_min_k = statistics.mean(scorer.score(f).min_k for f in FRESH)
    trained_gap = (statistics.mean(scorers.trained.score(p).min_k for p in PASSAGES)
                   - statistics.mean(scorers.trained.score(f).min_k for f in FRESH))

    assert not any(scorer.is_memorized(p) for p in PASSAGES), why
    assert abs(passage_min_k - fresh_min_k) < 0.5, why
    assert trained_gap > 5.0, why


@pytest.mark.slow
def test_score_logprobs_of_a_generation_matches_score(scorers: Scorers) -> None:
    """A wrapper scoring the log-probs `generate()` already returned gets what score() computes
    with a forward pass of its own. Greedy decoding from the bos token alone replays a passage."""
    import torch

    scorer = scorers.trained
    lm = scorer.lm
    prompt = torch.tensor([[lm.tokenizer.bos_token_id]])
    out = lm.model.generate(
        prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=80,
        output_logits=True, return_dict_in_generate=True, pad_token_id=lm.tokenizer.pad_token_id,
    )
    tokens = out.sequences[0, 1:].tolist()
    logprobs = [float(torch.log_softmax(step[0].float(), dim=-1)[token])
                for step, token in zip(out.logits, tokens, strict=True)]
    text = lm.tokenizer.decode(tokens)
    assert any(p.startswith(text) for p in PASSAGES), text

    from_logprobs = scorer.score_logprobs(logprobs, text)
    forward = scorer.score(text)

    assert from_logprobs.tokens == forward.tokens == len(tokens)
    assert from_logprobs.min_k == pytest.approx(forward.min_k, abs=1e-4)
    assert from_logprobs.zlib_ratio == pytest.approx(forward.zlib_ratio, rel=1e-4)
    assert scorer.flags(from_logprobs)


@pytest.mark.slow
def test_token_logprobs_sum_to_the_log_perplexity(scorers: Scorers) -> None:
    """Cross-check with CausalLM.log_perplexities, written separately (batched, padded)."""
    lm = scorers.trained.lm
    texts = PASSAGES + HELD_OUT[:3]

    sums = [-math.fsum(token_logprobs(lm, t)) for t in texts]

    assert sums == pytest.approx(lm.log_perplexities(texts), abs=1e-3)


@pytest.mark.slow
def test_texts_longer_than_the_context_are_scored_in_windows(scorers: Scorers) -> None:
    lm: CausalLM = scorers.trained.lm
    text = " ".join(FRESH[:6])
    ids = lm.tokenizer.encode(text, add_special_tokens=False)
    context = lm.model.config.max_position_embeddings
    assert len(ids) > 1.5 * context  # three windows

    logprobs = token_logprobs(lm, text)
    first_window = token_logprobs(lm, lm.tokenizer.decode(ids[: context - 1]))

    assert len(logprobs) == len(ids)
    assert all(-math.inf < lp <= 0.0 for lp in logprobs)
    assert logprobs[: context - 1] == pytest.approx(first_window, abs=1e-4)


@pytest.mark.slow
def test_nothing_to_score_is_never_flagged_and_thresholds_are_required(scorers: Scorers) -> None:
    scorer = scorers.trained
    empty = scorer.score("")
    either = MemorizationScorer(scorer.lm, thresholds=scorer.thresholds, require="either")

    assert empty == Score(-math.inf, math.inf, 0)
    assert not scorer.flags(empty)
    assert not either.flags(empty)
    with pytest.raises(ConfigError, match="calibrate"):
        MemorizationScorer(scorer.lm).is_memorized(PASSAGES[0])


def test_min_k_prob_averages_the_lowest_fraction() -> None:
    logprobs = [-float(i) for i in range(1, 11)]

    assert min_k_prob(logprobs, 0.2) == -9.5  # the 2 lowest of 10
    assert min_k_prob(logprobs, 1.0) == -5.5  # all: mean log-prob
    assert min_k_prob([-1.0, -5.0], 0.2) == -5.0  # int(0.4) = 0: still the lowest one
    assert min_k_prob([], 0.2) == -math.inf


def test_zlib_ratio_is_log_perplexity_over_zlib_bits() -> None:
    text = "abc abc abc"

    ratio = zlib_ratio([-1.0, -3.0], text)

    assert ratio == 2.0 / (8 * len(zlib.compress(text.encode())))
    assert score_logprobs([-1.0, -3.0], text, k=0.5) == Score(-3.0, ratio, 2)


def test_import_loads_no_torch() -> None:
    probe = ("import sys, firewall.memorization; "
             "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
