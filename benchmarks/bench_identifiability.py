"""What one dataset can and cannot tell: the evidence behind the single-dataset batch verdict's limits.

Run by hand:  .venv/bin/python benchmarks/bench_identifiability.py [--seeds 0] [--datasets pima adult]

A batch verdict without a trusted version sees only the attacked data. Two measurements show
where that is not enough, for issue 2's attacks on each shared dataset as it is:

* **boundary_flip** (10 % of the rows, drawn from the 30 % least confident of a clean
  cross-validated model, flipped to their most probable other class): the share of the flips
  that set the label to what that clean model predicts, and how often the model agrees with the
  labels before and after. Where most flips *agree* with the model, the attack is a relabelling
  by a model: the attacked data are more self-consistent than the real ones.
* **class_flip** (20 % of the second most frequent class relabelled to the most frequent): the
  label disagreement in the attacked class's *core* — the tenth of that class's size that the
  label-flip detector's evidence is surest belongs to it — clean and attacked, and the same for
  the other classes; also at other depths of the core (5 %, 20 %, 40 % of the class's size). When one dataset's clean core is as impure as another's attacked core, no
  single-dataset threshold on that evidence can call the first clean and the second suspected.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ANCHOR_SHARED, SHARED, SHARED_DATASETS, markdown_table  # noqa: E402

from poisonguard.attacks import clean_model_proba, poison  # noqa: E402
from poisonguard.data import TabularDataset, load_dataset  # noqa: E402
from poisonguard.detectors import LabelFlipDetector  # noqa: E402

DATASETS = {k: SHARED_DATASETS[k] for k in (*ANCHOR_SHARED, "adult-test")}
CORE = 0.10
DEPTHS = (0.05, 0.2, 0.4)  # the core's depth profile, also reported


def core_impurity(ds: TabularDataset, seed: int, depths: tuple[float, ...] = (CORE,)) -> np.ndarray:
    """Per class and depth ``q``: share of rows labelled otherwise among the ``q * n_class`` rows the
    evidence is surest of; shape ``(n_classes, len(depths))``."""
    y = ds.label_codes()
    det = LabelFlipDetector(random_state=seed).fit(ds.encode(), y)
    out = np.full((det.proba_.shape[1], len(depths)), np.nan)
    for j in range(det.proba_.shape[1]):
        n_j = int((y == j).sum())
        if n_j < 20:
            continue
        order = np.argsort(-det.proba_[:, j], kind="stable")
        for d, q in enumerate(depths):
            out[j, d] = float((y[order[:max(5, round(q * n_j))]] != j).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = ap.parse_args()
    rows = []
    for name in args.datasets:
        file, label = DATASETS[name]
        ds = load_dataset(SHARED / file, label=label)
        for seed in args.seeds:
            labelled, proba = clean_model_proba(ds, seed=seed)  # the model boundary_flip places its flips by
            pred = proba.argmax(axis=1)
            y = ds.label_codes()[labelled]
            bf = poison(ds, "boundary_flip", rate=0.1, seed=seed)
            y_bf, flipped = bf.dataset.label_codes()[labelled], bf.mask[labelled]
            agree = float((pred[flipped] == y_bf[flipped]).mean())
            cf = poison(ds, "class_flip", rate=0.2, seed=seed)
            src = [str(c) for c in ds.classes_].index(str(cf.params["source"]))
            depths = (CORE, *DEPTHS)
            clean_all, att_all = core_impurity(ds, seed, depths), core_impurity(cf.dataset, seed, depths)
            clean_core, att_core = clean_all[:, 0], att_all[:, 0]
            others = [j for j in range(len(clean_core)) if j != src and not np.isnan(clean_core[j])]
            rows.append({
                "dataset": name, "seed": seed,
                "boundary: flips = clean model's prediction": f"{agree:.1%}",
                "model agrees with labels, clean -> boundary": f"{(pred == y).mean():.3f} -> {(pred == y_bf).mean():.3f}",
                "class_flip source": f"{cf.params['source']!s} -> {cf.params['target']!s}",
                "source core impurity, clean -> class_flip": f"{clean_core[src]:.3f} -> {att_core[src]:.3f}",
                "other cores (max), clean -> class_flip":
                    f"{np.nanmax(clean_core[others]):.3f} -> {np.nanmax(att_core[others]):.3f}" if others else "-",
                "source impurity at " + "/".join(f"{q:.0%}" for q in DEPTHS) + ", clean -> class_flip":
                    " ".join(f"{v:.2f}" for v in clean_all[src, 1:]) + " -> "
                    + " ".join(f"{v:.2f}" for v in att_all[src, 1:]),
            })
            print(rows[-1], file=sys.stderr, flush=True)
    print(markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
