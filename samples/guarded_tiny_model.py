"""Watch a model leak, then watch the firewall catch it: offline, in about half a minute.

    .venv/bin/python samples/guarded_tiny_model.py            # from the repository root

1. Trains a tiny GPT-2 on the spot (nothing is downloaded) on text that holds a training canary
   from `rules/canaries.yaml` and a passage of the protected corpus (`samples/corpus/`), each
   repeated ten times, so the model learns them by heart.
2. Asks it, unguarded, to continue two prefixes: it recites the canary and the passage.
3. Asks again through the firewall (`firewall.wrappers.hf.wrap_pipeline`), whole and streamed
   through a `TextStreamer`: the canary and the passage are replaced, and every decision is
   printed as it happens (labels, masked previews, memorisation scores; never a raw value).

Events also go where `rules/policy.yaml` says (`.outguard/events.db`, relative to the working
folder), so `outguard tui` shows them afterwards. `--events URI` sends them elsewhere.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from firewall.tiny_lm import FILLER, train_tiny_lm

if TYPE_CHECKING:
    from firewall.events.event import Event

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
PROMPTS = ("Internal memo for staff only.", '"Legal Entity" shall mean the union of')


def training_texts() -> list[str]:
    """Ten memos carrying the training canary, ten copies of a protected passage, some filler."""
    import yaml

    registry = yaml.safe_load((RULES / "canaries.yaml").read_text("utf-8"))
    canary = next(
        c["value"] for c in registry["canaries"] if c["placement"] == "training" and c["format"] == "sentence"
    )
    licence = " ".join((ROOT / "samples/corpus/docs/apache-2.0.txt").read_text("utf-8").split())
    passage = re.search(r'"Legal Entity" shall mean .*? with that entity\.', licence)
    assert passage is not None, "samples/corpus/docs/apache-2.0.txt changed"
    return [f"{PROMPTS[0]} {canary}"] * 10 + [passage.group(0)] * 10 + list(FILLER)


def describe(event: Event) -> str:
    """One firewall event in a line: what was found and done, never the raw value (previews are
    masked). A passage found as many overlapping pieces is counted, not listed."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for f in event.findings:
        groups.setdefault((f.label, f.source or f.rule, f.action), []).append(f.preview)
    found = ", ".join(
        f"{label} {previews[0]!r} ({source}) -> {action}"
        if len(previews) == 1
        else f"{label} x{len(previews)} ({source}) -> {action}"
        for (label, source, action), previews in groups.items()
    )
    scores = " ".join(f"{k}={v:.4g}" for k, v in sorted(event.scores.items()))
    return f"  [event] {event.kind} {event.action}: {found or event.message or 'nothing found'}" + (
        f"  scores: {scores}" if scores else ""
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", help="event sink URI (default: the policy's, .outguard/events.db)")
    parser.add_argument("--steps", type=int, default=150, help="training steps (default 150)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is local: never ask the hub

    import torch
    from transformers import TextStreamer, pipeline
    from transformers.utils import logging

    from firewall import Firewall, QuotaExceeded
    from firewall.wrappers.hf import wrap_pipeline

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torch.set_num_threads(1)  # a model this small gains nothing from more, and loses on busy machines
    greedy = {"max_new_tokens": 40, "do_sample": False}

    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        print("Training a tiny GPT-2 on text with a canary and a protected passage ...", flush=True)
        path = train_tiny_lm(Path(folder), training_texts(), steps=args.steps)
        print(f"  done in {time.perf_counter() - began:.1f} s\n")
        generator = pipeline("text-generation", model=str(path), tokenizer=str(path))

        print("== Unguarded: the model recites what it memorised ==")
        for prompt in PROMPTS:
            print(f"  {generator(prompt, **greedy)[0]['generated_text']!r}")

        options = {} if args.events is None else {"events": args.events}
        with Firewall.from_rules(RULES, **options) as fw:
            events: list[Event] = []
            fw.add_listener(events.append)  # printed after each call, below its output
            guarded = wrap_pipeline(fw, generator, principal="demo-user", scores=True)

            def ask(prompt: str, **kwargs: object) -> None:
                if "streamer" in kwargs:
                    print("  streamed:", end="", flush=True)
                try:
                    print(f"  {guarded(prompt, **greedy, **kwargs)[0]['generated_text']!r}")
                except QuotaExceeded as refused:
                    print(f"  refused before the model ran: {refused}")
                print("\n".join(describe(e) for e in events))
                events.clear()

            print("\n== Guarded: the same calls through the firewall ==")
            ask(PROMPTS[0])
            print("\n== Guarded and streamed (TextStreamer prints only what the firewall releases) ==")
            ask(PROMPTS[0], streamer=TextStreamer(generator.tokenizer, skip_prompt=True, skip_special_tokens=True))
            print("\n== Guarded: the protected passage ==")
            ask(PROMPTS[1])
            print("\n== Leaks count against the principal (rules/policy.yaml: signals, quotas) ==")
            ask(PROMPTS[1])
            sink = args.events or fw.policy.events
        print(f"\nEvents written to {sink}; browse them with `outguard tui`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
