"""A tiny GPT-2 trained on the spot: a real local causal LM for demos and tests (no model hub).

`train_tiny_lm(out_dir, texts)` trains a byte-level BPE tokenizer and a 2-layer, 64-wide GPT-2 on
`texts` and saves both with `save_pretrained()`, so that

    AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
    AutoModelForCausalLM.from_pretrained(out_dir, local_files_only=True)

load them. With the defaults it takes about 10-15 s on 2 CPU cores, and a string repeated 10-20
times in `texts` comes out memorised (the model reproduces it after its context).

torch, transformers and tokenizers (the `hf` extra, which `make` installs) are imported inside the
function, so importing this module costs nothing. `samples/guarded_tiny_model.py` and the tests use
it; tests using it never skip: CI has the extra.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

FILLER = (
    "The bus to the airport leaves from the stop outside the town hall every twenty minutes.",
    "My brother repaired the kitchen chair with glue and two small screws.",
    "The shop on the corner sells newspapers, sweets and cheap umbrellas.",
    "We spent the afternoon at the beach and came home with sunburnt noses.",
    "The teacher asked the class to read the first chapter before Monday.",
    "Rain is expected tonight, so the outdoor concert has been moved indoors.",
    "She keeps a small notebook in her bag to write down shopping lists.",
    "He makes pancakes for the whole family every Saturday morning.",
)
"""Ordinary sentences to train beside planted secrets, so the model learns more than the secrets."""

EOS = "<|endoftext|>"
"""The only special token: beginning of text, end of text and padding (as in GPT-2)."""


def train_tiny_lm(
    out_dir: Path,
    texts: list[str],
    *,
    steps: int = 300,
    seed: int = 0,
    vocab_size: int = 600,
    tokenizer_texts: Sequence[str] | None = None,
    window: int = 64,
    batch: int = 16,
    lr: float = 3e-3,
    threads: int = 1,
) -> Path:
    """Train a tiny GPT-2 causal LM on `texts` and save it (model and tokenizer) into `out_dir`.

    - Tokenizer: byte-level BPE (`tokenizers`, GPT-2 style, no prefix space) of at most
      `vocab_size` entries, trained on `tokenizer_texts` (default: `texts`), wrapped as a
      `transformers.PreTrainedTokenizerFast` whose bos, eos and pad token are all `"<|endoftext|>"`.
      Pass `tokenizer_texts` without a planted secret when the secret must not get tokens of its
      own: merged tokens make it shorter than random values of its format, hence likelier to any
      model, trained or not, which would confound perplexity-based measurements.
    - Model: `GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=64, n_positions=256))`.
    - Training: the texts joined into one token stream, each text preceded by `<|endoftext|>`
      (so a text's first token is learnt after the bos token, the way scorers feed it); `steps`
      AdamW steps (learning rate `lr`, linear warm-up over the first 10%) on batches of `batch`
      random windows of `window` + 1 tokens. `steps=0` saves the freshly initialised model: an
      untrained baseline with the same tokenizer. Deterministic for a given `seed` (torch and
      window sampling).
    - Threads: torch runs on `threads` (default 1; the setting is put back afterwards). The model
      is too small to gain from a second thread, and two threads slow down many times over when
      another process already keeps the cores busy.

    Returns `out_dir`.
    """
    import torch

    if not texts:
        raise ValueError("train_tiny_lm needs at least one text")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train(out_dir, texts, steps, seed, vocab_size, tokenizer_texts, window, batch, lr)
    finally:
        torch.set_num_threads(threads_before)


def _train(
    out_dir: Path,
    texts: list[str],
    steps: int,
    seed: int,
    vocab_size: int,
    tokenizer_texts: Sequence[str] | None,
    window: int,
    batch: int,
    lr: float,
) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    rng = random.Random(seed)

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(texts if tokenizer_texts is None else tokenizer_texts), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=EOS, eos_token=EOS, pad_token=EOS
    )
    eos_id = tokenizer.convert_tokens_to_ids(EOS)

    config = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=64,
        n_positions=256,
        vocab_size=len(tokenizer),
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    model = GPT2LMHeadModel(config)

    stream: list[int] = []
    for text in texts:
        stream.append(eos_id)
        stream.extend(tokenizer.encode(text, add_special_tokens=False))
    stream.append(eos_id)
    data = torch.tensor(stream, dtype=torch.long)
    span = min(window + 1, len(stream), config.n_positions)

    if steps > 0:
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup)
        )
        for _ in range(steps):
            starts = [rng.randrange(len(stream) - span + 1) for _ in range(batch)]
            ids = torch.stack([data[s : s + span] for s in starts])
            loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
    model.eval()

    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
