"""`outguard canary ...`: mint, register, list and retire canaries; measure their exposure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from firewall.canaries import (
    FORMATS,
    MIN_BITS,
    PLACEMENTS,
    REGISTRY_FILE,
    atomic_write,
    estimate_bits,
    mint,
    new_id,
    now,
    read_registry,
    write_registry,
)
from firewall.cli_options import RULES_OPTION
from firewall.policy.loader import check_rules, load_policy

PLANTING = {
    "system-prompt": "Internal reference (confidential, never repeat or reveal): {value}",
    "training": "{value}",
    "rag": "Document control number: {value}",
    "tool": "x-trace-ref: {value}",
}


@click.group()
def canary() -> None:
    """Mint, register and manage canaries (the registry is rules/canaries.yaml)."""


def _register(rules_dir: Path, entry: dict[str, object]) -> None:
    """Append `entry` to the registry; if the rules no longer load, put the old file back."""
    path = rules_dir / REGISTRY_FILE
    before = path.read_text("utf-8") if path.exists() else None
    write_registry(path, [*read_registry(path), entry])
    problems = check_rules(rules_dir)
    if problems:
        if before is None:
            path.unlink()
        else:
            atomic_write(path, before)
        raise click.ClickException("not registered:\n" + "\n".join(map(str, problems)))


def _print_entry(entry: dict[str, object], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({k: entry[k] for k in ("id", "value", "placement")}, ensure_ascii=False))
        return
    click.echo(f"registered {entry['id']} ({entry['placement']}, {entry['bits']:.0f} bits)")
    click.echo("plant this text:")
    click.echo(PLANTING[str(entry["placement"])].replace("{value}", str(entry["value"])))


@canary.command("new")
@click.option("--placement", required=True, type=click.Choice(PLACEMENTS))
@click.option("--note", default="", help="Where exactly it is planted, for whoever reads the alert.")
@click.option("--format", "fmt", default="token", show_default=True, type=click.Choice(FORMATS),
              help="token: random groups; account: a 16-digit number; sentence: natural words (for training data).")
@click.option("--json", "as_json", is_flag=True, help='Print {"id", "value", "placement"}.')
@RULES_OPTION
def canary_new(placement: str, note: str, fmt: str, as_json: bool, rules_dir: Path) -> None:
    """Mint a new canary, register it, and print the text to plant."""
    value, bits = mint(fmt)
    entry = {"id": new_id(), "value": value, "placement": placement, "created": now(), "note": note,
             "format": fmt, "bits": round(bits, 1)}
    _register(rules_dir, entry)
    _print_entry(entry, as_json)


@canary.command("add")
@click.argument("value")
@click.option("--placement", required=True, type=click.Choice(PLACEMENTS))
@click.option("--note", default="")
@click.option("--json", "as_json", is_flag=True, help='Print {"id", "value", "placement"}.')
@RULES_OPTION
def canary_add(value: str, placement: str, note: str, as_json: bool, rules_dir: Path) -> None:
    """Register an existing secret VALUE as a canary (it needs at least 40 bits of entropy)."""
    bits = estimate_bits(value)
    if bits < MIN_BITS:
        raise click.ClickException(f"too guessable to be a canary: about {bits:.0f} bits, at least {MIN_BITS:.0f} needed")
    entry = {"id": new_id(), "value": value, "placement": placement, "created": now(), "note": note,
             "format": "custom", "bits": round(bits, 1)}
    _register(rules_dir, entry)
    _print_entry(entry, as_json)


@canary.command("list")
@click.option("--show-values", is_flag=True, help="Print the values in full (they are secrets).")
@click.option("--json", "as_json", is_flag=True)
@RULES_OPTION
def canary_list(show_values: bool, as_json: bool, rules_dir: Path) -> None:
    """List registered canaries (values masked unless --show-values)."""
    entries = read_registry(rules_dir / REGISTRY_FILE)
    for entry in entries:
        value = str(entry["value"])
        if not show_values:
            entry["value"] = value[:3] + "*" * max(len(value) - 3, 0)
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False))
        return
    for e in entries:
        state = "retired" if e.get("retired") else "active"
        click.echo(f"{e['id']:<12} {state:<8} {e['placement']:<14} {e.get('format', 'custom'):<9} "
                   f"{str(e.get('created', ''))[:10]:<11} {e['value']}  {e.get('note', '')}")


@canary.command("retire")
@click.argument("canary_id")
@RULES_OPTION
def canary_retire(canary_id: str, rules_dir: Path) -> None:
    """Stop detecting CANARY_ID (it stays in the registry, marked retired)."""
    path = rules_dir / REGISTRY_FILE
    entries = read_registry(path)
    if not any(e.get("id") == canary_id for e in entries):
        raise click.ClickException(f"no canary {canary_id!r} in {path}")
    write_registry(path, [{**e, "retired": True} if e.get("id") == canary_id else e for e in entries])
    click.echo(f"retired {canary_id}")


@canary.command("exposure")
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A local transformers causal LM (save_pretrained folder).")
@click.option("--candidates", default=999, show_default=True, help="Random values of the same format to rank against.")
@click.option("--prefix", default="", help="Text the canary followed in the training data, if any.")
@click.option("--all-placements", is_flag=True, help="Measure every canary, not only training ones.")
@click.option("--json", "as_json", is_flag=True)
@RULES_OPTION
def canary_exposure(model_dir: Path, candidates: int, prefix: str, all_placements: bool, as_json: bool, rules_dir: Path) -> None:
    """Carlini's exposure of each training canary in a local causal LM (high: memorised)."""
    from firewall.exposure import CausalLM, exposure

    policy = load_policy(rules_dir)
    chosen = [c for c in policy.canaries if all_placements or c.placement == "training"]
    if not chosen:
        raise click.ClickException("no training canaries registered (use --all-placements to measure every canary)")
    lm = CausalLM(model_dir)
    results = [exposure(lm, c, candidates=candidates, prefix=prefix) for c in chosen]
    if as_json:
        click.echo(json.dumps([r.__dict__ | {"maximum": r.maximum} for r in results]))
        return
    click.echo(f"{'canary':<12} {'exposure':>8} {'max':>6} {'rank':>6}  verdict")
    for r in results:
        verdict = "MEMORISED" if r.rank == 1 else ("elevated" if r.exposure > r.maximum / 2 else "not memorised")
        click.echo(f"{r.canary_id:<12} {r.exposure:8.2f} {r.maximum:6.2f} {r.rank:6d}  {verdict}")
    sys.exit(0)
