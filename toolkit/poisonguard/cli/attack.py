"""``poisonguard attack``: write a poisoned copy of a dataset and its truth mask."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import echo_doc, format_option


@click.command("attack")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--label", "-l", required=True, help="The label column.")
@click.option("--attack", "-a", "name", required=True, help="Attack name (the attacks are listed above).")
@click.option("--rate", type=float, help="Fraction of rows (or of one class) to poison; default: the attack's.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--set", "sets", multiple=True, metavar="PARAM=VALUE", help="Other attack parameters (YAML values).")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), metavar="FILE",
              help="Poisoned copy, in the format and compression its name says (poisoned.csv.gz, .parquet...).")
@click.option("--truth", type=click.Path(path_type=Path), metavar="FILE",
              help="CSV of `row,poisoned` (default: beside --out, named <out>.truth.csv).")
@format_option
def attack(data: Path, label: str, name: str, rate: float | None, seed: int, sets: tuple[str, ...], out: Path,
           truth: Path | None, fmt: str) -> int:
    """Poison DATA with a seeded attack, for testing a pipeline's defences.

    Attacks: random_flip, class_flip, boundary_flip, batch_class_flip (label flips);
    outliers, backdoor, dup_conflict, new_source (feature-space). Parameters other than
    --rate and --seed go through --set (see poisonguard.attacks).
    """
    import pandas as pd

    from .._io import atomic_open, atomic_write_json, guard_outputs
    from ..attacks import poison
    from ..data import detect_format, load_dataset, write_frame
    from ..config import parse_set
    from ..errors import UsageError

    truth = truth or out.with_name(out.name.split(".")[0] + ".truth.csv")
    guard_outputs(inputs=[("DATA", data)],
                  outputs=[("--out", out), ("--truth", truth), ("--truth (its .json summary)",
                                                              truth.with_suffix(".json"))])
    detect_format(out)  # an unknown output type is refused before the work
    params = {}
    for item in sets:
        parts, value = parse_set(item, min_parts=1, example="rate=0.2")
        params[".".join(parts)] = value
    if rate is not None:
        params["rate"] = rate
    ds = load_dataset(data, label=label)
    try:
        res = poison(ds, name, seed=seed, **params)
    except TypeError as exc:
        raise UsageError(f"bad parameters for attack {name!r}: {exc}") from None
    write_frame(res.frame, out)  # in the format and compression its name says
    with atomic_open(truth, "w", newline="") as fh:
        pd.DataFrame({"row": range(len(res.mask)), "poisoned": res.mask.astype(int)}).to_csv(fh, index=False)
    atomic_write_json(truth.with_suffix(".json"), {"attack": res.attack, "params": res.params,
                                                    "n_poisoned": res.n_poisoned, "rows": len(res.mask)})
    echo_doc({"attack": res.attack, "params": res.params, "n_poisoned": res.n_poisoned, "rows": len(res.mask),
              "out": str(out), "truth": str(truth)}, fmt,
             f"{res.describe()}\npoisoned copy: {out}\ntruth mask: {truth}")
    return 0
