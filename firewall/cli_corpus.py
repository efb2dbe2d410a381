"""`outguard corpus build`: index protected documents for the corpus detector."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def corpus() -> None:
    """Index a protected corpus (training data, private documents)."""


@corpus.command("build")
@click.argument("docs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Index file to write.")
@click.option("--field", default="text", show_default=True, help="JSONL inputs: the field holding the text.")
@click.option("--append", is_flag=True, help="Add the documents to the existing index at --out.")
@click.option("--name", default=None, help="Index name in findings (default: the file name).")
def corpus_build(docs: tuple[Path, ...], out: Path, field: str, append: bool, name: str | None) -> None:
    """Hash the n-grams of DOCS (files, folders, JSONL) into a memory-mapped index."""
    from tqdm import tqdm

    from firewall.corpus import CorpusIndex, build_index, iter_documents

    base = CorpusIndex(out) if append and out.exists() else None
    documents = list(iter_documents(docs, field))
    with tqdm(total=len(documents), unit="doc", desc="indexing", disable=None) as bar:
        build_index(documents, out, name=name or (base.name if base else None), base=base, progress=bar)
    index = CorpusIndex(out)
    size = out.stat().st_size
    click.echo(
        f"{out}: {len(index.documents)} documents, {index.count:,} n-grams, {size / 1e6:.1f} MB on disk, "
        f"{index.m / 8 / max(index.count, 1):.2f} bytes per n-gram in memory"
    )
