"""Corpus benchmark: index build time and size, lookup time per KB, span-detector false positives.

In one run, on a synthetic corpus (deterministic pseudo-English: a vocabulary of 4,000 words built
from syllables, Zipf-Mandelbrot word frequencies with the short words the frequent ones, sentences
of 6-24 words, paragraphs of 2-7 sentences, documents of 2-20 KB, each drawn from its own RNG seeded
with (SEED, document number), so the 1 MB corpus is the first documents of the 100 MB one):

1. `build_index` on 1 MB and on SIZE MB (100; 5 with --quick; `--size-mb N` or
   $OUTGUARD_BENCH_CORPUS_MB): build seconds (generating the text is not counted), MB/s, file size,
   bytes per n-gram on disk, Bloom filter bytes per n-gram (what a clean scan keeps resident).
2. `CorpusDetector([index]).find(output)` on outputs of 1-4 KB, half benign (other seed, not in
   the corpus), half with 1-2 spans of 100-800 characters copied from the 1 MB corpus (so also in
   the SIZE MB one). Per output the median over `runs` passes, both indexes interleaved; then the
   median over outputs of ms per KB (UTF-8), and the ratio SIZE MB / 1 MB (flat = 1.0).
3. False positives of the span detector, with the SIZE MB index, on 10 MB of benign text (1 MB
   with --quick) split into 2 KB outputs: half synthetic text from another seed (same vocabulary
   and style: shares common n-grams with the corpus by chance), half the Python stdlib's *.py
   sources (real English and code). Fraction of outputs with any PROTECTED finding, and fraction
   of characters covered by PROTECTED findings.
4. Peak RSS (the process's, i.e. the build of the SIZE MB index dominates).

`python -m bench corpus` runs it with the defaults; `python -m bench corpus --size-mb 1000` (or
OUTGUARD_BENCH_CORPUS_MB=1000) runs the 1 GB case. The text is streamed into build_index, which holds every
hash and position in numpy arrays: peak RSS was 1.6 GB for 100 MB, so expect ~15 GB for 1 GB.
The figures also go, as one JSON line, to bench/results/corpus.jsonl ($OUTGUARD_BENCH_RESULTS).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import Report, save, table

SEED = 20260201
"""The corpus's documents."""
BENIGN_SEED = 20260202
"""False-positive text: same vocabulary and style, other documents."""
LOOKUP_SEED = 20260203
"""Benign parts of the lookup outputs, and where copied spans go."""
VOCABULARY = 4_000
SMALL_MB = 1
DEFAULT_MB = 100
QUICK_MB = 5
FP_MB = 10
QUICK_FP_MB = 1
OUTPUT_KB = 2
"""False-positive outputs are this size."""

LOOKUP_MS_PER_KB_TARGET = 0.3
BUILD_1GB_S_TARGET = 300
BLOOM_BYTES_TARGET = 2.0
FP_TARGET = 0.001

_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
           "w", "y", "z", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gr", "pl", "pr", "sh", "sl",
           "sp", "st", "str", "th", "tr", "wh"]  # fmt: skip
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ee", "io", "ou", "oo", "y"]
_CODAS = ["", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt", "th"]


def vocabulary(size: int = VOCABULARY) -> tuple[list[str], np.ndarray]:
    """`size` distinct pseudo-words (1-3 syllables), most frequent first, and their odds."""
    rng = np.random.default_rng(SEED)
    seen: dict[str, None] = {}
    while len(seen) < size:
        syllables = int(rng.choice([1, 2, 3], p=[0.25, 0.5, 0.25]))
        word = "".join(
            _ONSETS[rng.integers(len(_ONSETS))]
            + _VOWELS[rng.integers(len(_VOWELS))]
            + _CODAS[rng.integers(len(_CODAS))]
            for _ in range(syllables)
        )
        if 1 < len(word) <= 14:
            seen.setdefault(word)
    # Short words tend to be the frequent ones, as in English (by length, plus noise).
    noise = rng.normal(0.0, 2.5, size=size)
    ranked = [
        w for _, w in sorted(zip(np.array([len(w) for w in seen]) + noise, seen, strict=True))
    ]
    weights = 1.0 / (np.arange(size) + 2.7)  # Zipf-Mandelbrot, s = 1
    return ranked, weights / weights.sum()


class Generator:
    """Pseudo-English from a seed: document `i` depends only on (seed, i)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.words, p = vocabulary()
        self.capitals = [w.capitalize() for w in self.words]
        self.cdf = np.cumsum(p)
        self.cdf[-1] = 1.0

    def text(self, rng: np.random.Generator, chars: int) -> str:
        """About `chars` characters (at least, then cut at a space) of sentences and paragraphs."""
        mean_token = 5.6  # measured: average word + separator with this vocabulary
        pieces: list[str] = []
        total = 0
        while total < chars:
            count = int((chars - total) / mean_token) + 16
            ids = np.searchsorted(self.cdf, rng.random(count), side="right").tolist()
            lengths = rng.integers(6, 25, size=count // 6 + 2).tolist()
            sentences_per_paragraph = rng.integers(2, 8, size=count // 12 + 2).tolist()
            words, capitals = self.words, self.capitals
            at, s, para, in_para = 0, 0, 0, 0
            while at < count:
                length = lengths[s]
                s += 1
                chunk = ids[at : at + length]
                at += length
                if not chunk:
                    break
                sentence = capitals[chunk[0]] + "".join(" " + words[i] for i in chunk[1:])
                in_para += 1
                if in_para >= sentences_per_paragraph[para]:
                    in_para, para = 0, para + 1
                    sentence += ".\n\n"
                else:
                    sentence += ". "
                pieces.append(sentence)
                total += len(sentence)
                if total >= chars:
                    break
        text = "".join(pieces)
        cut = text.rfind(" ", 0, chars)
        return text[:cut] if cut > 0 else text[:chars]

    def document(self, number: int) -> str:
        rng = np.random.default_rng([self.seed, number])
        return self.text(rng, int(rng.integers(2_048, 20_481)))

    def documents(
        self, size: int, clock: list[float] | None = None
    ) -> Iterator[tuple[str, str, str]]:
        """(id, path, text) of documents until `size` bytes; seconds generating go to clock[0]."""
        total, number = 0, 0
        while total < size:
            began = time.perf_counter()
            text = self.document(number)
            if clock is not None:
                clock[0] += time.perf_counter() - began
            total += len(text)  # ASCII: characters = bytes
            yield f"doc{number:07d}", f"synthetic/{self.seed}/{number}", text
            number += 1


def stdlib_text(size: int) -> str:
    """About `size` bytes of the Python stdlib's *.py files (all folders, sorted), as text."""
    root = Path(sysconfig.get_paths()["stdlib"])
    data, total = [], 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            chunk = path.read_bytes()
        except OSError:
            continue
        data.append(chunk)
        total += len(chunk)
        if total >= size:
            break
    return b"".join(data)[:size].decode("utf-8", "ignore")


def split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def build(gen: Generator, size_mb: float, out: Path) -> dict[str, Any]:
    """Index the first `size_mb` MB of `gen`'s documents; the build time excludes generating."""
    from firewall.corpus import CorpusIndex, build_index

    gc.collect()
    rss_before = _peak_rss_mb()
    clock = [0.0]
    count = {"docs": 0, "bytes": 0}

    def documents() -> Iterator[tuple[str, str, str]]:
        for doc in gen.documents(int(size_mb * 1e6), clock):
            count["docs"] += 1
            count["bytes"] += len(doc[2])
            yield doc

    began = time.perf_counter()
    build_index(documents(), out, name=out.stem)
    total = time.perf_counter() - began
    seconds = total - clock[0]
    index = CorpusIndex(out)
    disk = out.stat().st_size
    return {
        "mb": round(count["bytes"] / 1e6, 2),
        "documents": count["docs"],
        "ngrams": index.count,
        "build_s": round(seconds, 2),
        "generate_s": round(clock[0], 2),
        "build_mb_s": round(count["bytes"] / 1e6 / seconds, 2),
        "file_bytes": disk,
        "disk_bytes_per_ngram": round(disk / max(index.count, 1), 2),
        "bloom_bytes": index.m // 8,
        "bloom_bytes_per_ngram": round(index.m / 8 / max(index.count, 1), 3),
        "peak_rss_mb_after": round(_peak_rss_mb(), 1),
        "peak_rss_growth_mb": round(_peak_rss_mb() - rss_before, 1),
    }


def lookup_outputs(corpus: list[str], count: int) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """`count` outputs of 1-4 KB: even ones benign, odd ones with 1-2 spans copied from `corpus`."""
    gen = Generator(LOOKUP_SEED)
    rng = np.random.default_rng(LOOKUP_SEED)
    outputs, copied = [], []
    for number in range(count):
        size = int(rng.integers(1_024, 4_097))
        if number % 2 == 0:
            outputs.append(gen.text(rng, size))
            copied.append([])
            continue
        spans = []
        for _ in range(int(rng.integers(1, 3))):
            doc = corpus[int(rng.integers(len(corpus)))]
            length = int(rng.integers(100, 801))
            at = doc.find(" ", int(rng.integers(0, len(doc) - length))) + 1
            spans.append(doc[at : at + length])
        benign = gen.text(rng, max(size - sum(map(len, spans)), 64))
        pieces, where, previous = [], [], 0
        cuts = sorted(benign.find(" ", int(rng.integers(len(benign)))) for _ in spans)
        length = 0
        for cut, span in zip(cuts, spans, strict=True):
            cut = len(benign) if cut < 0 else cut
            pieces.append(benign[previous:cut] + " ")
            length += cut - previous + 1
            pieces.append(span)
            where.append((length, length + len(span)))
            length += len(span)
            previous = cut
        pieces.append(benign[previous:])
        outputs.append("".join(pieces))
        copied.append(where)
    return outputs, copied


def _protected(findings: list[Any]) -> list[Any]:
    return [f for f in findings if f.label == "PROTECTED"]


def _covered(findings: list[Any]) -> int:
    """Characters covered by the union of the findings' spans."""
    covered, end = 0, -1
    for f in sorted(findings, key=lambda f: f.start):
        if f.end > end:
            covered += f.end - max(f.start, end)
            end = f.end
    return covered


def run(quick: bool = False, size_mb: float | None = None) -> Report:
    from firewall.corpus import CorpusIndex, ngram_hashes, words
    from firewall.detectors.corpus import CorpusDetector

    size_mb = size_mb or float(
        os.environ.get("OUTGUARD_BENCH_CORPUS_MB") or (QUICK_MB if quick else DEFAULT_MB)
    )
    fp_mb = QUICK_FP_MB if quick else FP_MB
    outputs_n = 100 if quick else 400
    runs = 1 if quick else 3
    gen = Generator(SEED)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="outguard-bench-corpus-") as folder:
        small_path, big_path = Path(folder) / "small.ogc", Path(folder) / "big.ogc"
        print(f"corpus: building {SMALL_MB} MB index", file=sys.stderr, flush=True)
        small = build(gen, SMALL_MB, small_path)
        print(f"corpus: building {size_mb:g} MB index", file=sys.stderr, flush=True)
        big = build(gen, size_mb, big_path)
        print(
            f"corpus: {size_mb:g} MB built in {big['build_s']:.1f} s "
            f"(+{big['generate_s']:.1f} s generating)",
            file=sys.stderr,
            flush=True,
        )

        detectors = {
            "small": CorpusDetector([CorpusIndex(small_path)]),
            "big": CorpusDetector([CorpusIndex(big_path)]),
        }
        # 2. lookup time per KB
        corpus_docs = [text for _, _, text in gen.documents(int(SMALL_MB * 1e6))]
        outputs, copied = lookup_outputs(corpus_docs, outputs_n)
        kbs = [len(o.encode("utf-8")) / 1024 for o in outputs]
        detected = {name: 0 for name in detectors}
        benign_flagged = {name: 0 for name in detectors}
        for name, detector in detectors.items():  # warm-up, and recall on the copied spans
            for output, spans in zip(outputs, copied, strict=True):
                found = _protected(detector.find(output))
                if spans:
                    detected[name] += all(
                        any(f.start < e and f.end > s for f in found) for s, e in spans
                    )
                else:
                    benign_flagged[name] += bool(found)
        print(f"corpus: timing {outputs_n} outputs x {runs} run(s)", file=sys.stderr, flush=True)
        samples: dict[str, list[list[float]]] = {name: [[] for _ in outputs] for name in detectors}
        gc.collect()
        gc.disable()
        try:
            for _ in range(runs):
                for i, output in enumerate(outputs):
                    for name, detector in detectors.items():
                        began = time.perf_counter()
                        detector.find(output)
                        samples[name][i].append(time.perf_counter() - began)
        finally:
            gc.enable()
        ms_per_kb = {
            name: statistics.median(
                statistics.median(s) * 1000 / kb for s, kb in zip(samples[name], kbs, strict=True)
            )
            for name in detectors
        }
        ms_per_kb_kind = {
            (name, kind): statistics.median(
                statistics.median(s) * 1000 / kb
                for s, kb, spans in zip(samples[name], kbs, copied, strict=True)
                if bool(spans) == (kind == "copied")
            )
            for name in detectors
            for kind in ("benign", "copied")
        }
        flat = ms_per_kb["big"] / ms_per_kb["small"]

        # 3. false positives with the big index
        print(f"corpus: false positives on {fp_mb} MB", file=sys.stderr, flush=True)
        half = int(fp_mb * 1e6 / 2)
        fp_sources = {
            "synthetic (other seed)": "".join(
                t for _, _, t in Generator(BENIGN_SEED).documents(half)
            ),
            "python stdlib *.py": stdlib_text(half),
        }
        fp: dict[str, dict[str, Any]] = {}
        fp_began = time.perf_counter()
        for source, text in fp_sources.items():
            chunks = split(text, OUTPUT_KB * 1024)
            flagged_outputs = flagged_chars = findings_n = ngrams_n = ngram_hits = 0
            big_index = detectors["big"].indexes[0]
            for chunk in chunks:
                # raw n-gram hits, before the detector's 50-character rule
                hashes, valid = ngram_hashes(words(chunk))
                ngrams_n += int(valid.sum())
                ngram_hits += int(((big_index.lookup(hashes) >= 0) & valid).sum())
                found = _protected(detectors["big"].find(chunk))
                findings_n += len(found)
                flagged_outputs += bool(found)
                flagged_chars += _covered(found)
            fp[source] = {
                "mb": round(len(text.encode("utf-8")) / 1e6, 2),
                "outputs": len(chunks),
                "flagged_outputs": flagged_outputs,
                "output_rate": flagged_outputs / len(chunks),
                "chars": len(text),
                "flagged_chars": flagged_chars,
                "char_rate": flagged_chars / len(text),
                "findings": findings_n,
                "ngrams": ngrams_n,
                "ngram_hits": ngram_hits,
            }
        fp_s = time.perf_counter() - fp_began
        all_outputs = sum(f["outputs"] for f in fp.values())
        all_flagged = sum(f["flagged_outputs"] for f in fp.values())
        all_chars = sum(f["chars"] for f in fp.values())
        all_flagged_chars = sum(f["flagged_chars"] for f in fp.values())
        fp["all"] = {
            "mb": round(sum(f["mb"] for f in fp.values()), 2),
            "outputs": all_outputs,
            "flagged_outputs": all_flagged,
            "output_rate": all_flagged / all_outputs,
            "chars": all_chars,
            "flagged_chars": all_flagged_chars,
            "char_rate": all_flagged_chars / all_chars,
            "findings": sum(f["findings"] for f in fp.values()),
            "ngrams": sum(f["ngrams"] for f in fp.values()),
            "ngram_hits": sum(f["ngram_hits"] for f in fp.values()),
        }
    elapsed = time.perf_counter() - started
    peak = _peak_rss_mb()

    extrapolated_1gb_s = big["build_s"] * 1000 / big["mb"]
    figures = {
        "bench": "corpus",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "size_mb": size_mb,
        "small": small,
        "big": big,
        "build_1gb_s_extrapolated": round(extrapolated_1gb_s, 1),
        "lookup_outputs": outputs_n,
        "lookup_runs": runs,
        "lookup_kb_median": round(statistics.median(kbs), 2),
        "lookup_ms_per_kb_small": round(ms_per_kb["small"], 4),
        "lookup_ms_per_kb_big": round(ms_per_kb["big"], 4),
        "lookup_ms_per_kb": {f"{n}_{k}": round(v, 4) for (n, k), v in ms_per_kb_kind.items()},
        "lookup_ratio_big_small": round(flat, 3),
        "copied_outputs_detected": detected,
        "benign_lookup_outputs_flagged": benign_flagged,
        "copied_outputs": outputs_n // 2,
        "fp": fp,
        "fp_seconds": round(fp_s, 1),
        "peak_rss_mb": round(peak, 1),
        "timed_seconds": round(elapsed, 1),
        "numpy": np.__version__,
    }
    results = save("corpus", figures)

    def label(mb: float) -> str:
        return f"{mb:g} MB corpus"

    rows = [
        [
            label(SMALL_MB if i == 0 else size_mb),
            b["documents"],
            f"{b['ngrams']:,}",
            b["build_s"],
            b["build_mb_s"],
            round(b["file_bytes"] / 1e6, 1),
            b["disk_bytes_per_ngram"],
            b["bloom_bytes_per_ngram"],
            ms_per_kb["small" if i == 0 else "big"],
        ]
        for i, b in enumerate((small, big))
    ]
    lookup_rows = [
        [
            label(SMALL_MB if name == "small" else size_mb),
            ms_per_kb[name],
            ms_per_kb_kind[(name, "benign")],
            ms_per_kb_kind[(name, "copied")],
            f"{detected[name]}/{outputs_n // 2}",
            f"{benign_flagged[name]}/{outputs_n - outputs_n // 2}",
        ]
        for name in detectors
    ]
    fp_rows = [
        [
            source,
            f["mb"],
            f["outputs"],
            f["flagged_outputs"],
            f"{f['output_rate']:.4%}",
            f"{f['flagged_chars']:,}",
            f"{f['char_rate']:.5%}",
            f"{f['ngram_hits']:,}/{f['ngrams']:,}",
        ]
        for source, f in fp.items()
    ]
    one_gb = size_mb >= 1000
    build_1gb = big["build_s"] if one_gb else extrapolated_1gb_s

    def check(good: bool) -> str:
        return "ok" if good else "MISSED"

    targets = [
        [f"lookup ms/KB, {size_mb:g} MB index", f"{ms_per_kb['big']:.3f}",
         f"<= {LOOKUP_MS_PER_KB_TARGET} ms/KB", check(ms_per_kb["big"] <= LOOKUP_MS_PER_KB_TARGET)],
        [f"lookup flatness {size_mb:g} MB / 1 MB", f"{flat:.2f}x", "flat (1.0x) 1 MB -> 1 GB", ""],
        [f"build {size_mb:g} MB", f"{big['build_s']:.1f} s ({big['build_mb_s']:.2f} MB/s)", "", ""],
        [f"build 1 GB {'(measured)' if one_gb else '(linear extrapolation)'}", f"{build_1gb:.0f} s",
         f"<= {BUILD_1GB_S_TARGET} s", check(build_1gb <= BUILD_1GB_S_TARGET)],
        ["resident bytes/n-gram (Bloom)", f"{big['bloom_bytes_per_ngram']:.2f}",
         f"<= {BLOOM_BYTES_TARGET:g}",
         check(big["bloom_bytes_per_ngram"] <= BLOOM_BYTES_TARGET)],
        ["disk bytes/n-gram", f"{big['disk_bytes_per_ngram']:.2f}",
         "(Bloom 2 + hash 8 + pos 4)", ""],
        ["FP rate, outputs (all benign)", f"{fp['all']['output_rate']:.4%}", f"<= {FP_TARGET:.1%}",
         check(fp["all"]["output_rate"] <= FP_TARGET)],
        ["FP rate, characters", f"{fp['all']['char_rate']:.5%}", "", ""],
        ["peak RSS", f"{peak:.1f} MB", "", ""],
    ]
    per_gb = 1000 / big["mb"]
    notes = [
        "(build s excludes generating the text; ms/KB = median over outputs of the median "
        "over runs)",
        "",
        "lookup: CorpusDetector([index]).find(output), ms per KB of output",
        table(["index", "median ms/KB", "benign", "copied", "copied found", "benign flagged"],
              lookup_rows),
        "",
        f"false positives: {OUTPUT_KB} KB outputs with any PROTECTED finding, {size_mb:g} MB index",
        table(["benign text", "MB", "outputs", "flagged", "output rate", "chars flagged",
               "char rate", "raw 6-gram hits"], fp_rows),
        "",
        table(["figure", "measured", "target", ""], targets),
        "",
        "1 GB run: python -m bench.corpus --size-mb 1000  "
        "(or OUTGUARD_BENCH_CORPUS_MB=1000 python -m bench corpus); "
        f"expect ~{extrapolated_1gb_s / 60:.0f} min building + "
        f"~{big['generate_s'] * per_gb / 60:.0f} min generating, "
        f"~{big['file_bytes'] * per_gb / 1e9:.1f} GB index on disk, "
        f"peak RSS ~{big['peak_rss_growth_mb'] * per_gb / 1024:.0f} GB (the growth of the peak "
        f"while building {size_mb:g} MB, {big['peak_rss_growth_mb']:.0f} MB, scaled: "
        "build_index holds all hashes and positions in numpy arrays).",
        f"corpus: synthetic pseudo-English, {VOCABULARY:,}-word syllable vocabulary, "
        f"Zipf-Mandelbrot (s=1) frequencies, documents of 2-20 KB, seed {SEED}; the 1 MB corpus "
        f"is its first documents. Lookup outputs: {outputs_n} of 1-4 KB "
        f"(median {statistics.median(kbs):.1f} KB), half benign (seed {LOOKUP_SEED}), half with "
        "1-2 spans of 100-800 chars copied from the 1 MB corpus; "
        f"{runs} run(s), the two indexes interleaved. The overall median sits between the two "
        "groups (copied outputs cost more: one finding per hit n-gram, each located in Python).",
        "FP text: synthetic from another seed (same vocabulary: frequent-word 6-grams can recur "
        "by chance, but words are drawn independently, so there are none of English's set "
        "phrases or boilerplate) + Python stdlib sources (real English/code; none of its 6-grams "
        "can be in a synthetic corpus, so any finding there would be a hash collision). So this "
        "measures chance overlap, not the overlap of a real corpus with real output (licence "
        "headers, quotations, code idioms). raw 6-gram hits = benign n-grams that are in the "
        "corpus; a finding needs a chain of hits covering >= 50 chars.",
        f"timed section: {elapsed:.1f} s; figures appended to {results}",
    ]
    return Report(
        title=f"corpus: index build and lookup, {size_mb:g} MB synthetic corpus",
        columns=["corpus", "docs", "n-grams", "build s", "build MB/s", "file MB",
                 "disk B/n-gram", "Bloom B/n-gram", "lookup ms/KB"],
        rows=rows,
        notes=notes,
        figures=figures,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.corpus", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a {QUICK_MB} MB corpus, fewer outputs and runs"
    )
    parser.add_argument(
        "--size-mb",
        type=float,
        default=None,
        help=f"corpus size in MB (default {DEFAULT_MB}; {QUICK_MB} with --quick; 1000 for 1 GB)",
    )
    args = parser.parse_args(argv)
    print(run(quick=args.quick, size_mb=args.size_mb).render(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
