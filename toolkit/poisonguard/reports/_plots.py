"""The report's plots: their data (tables, also written for ``dvc plots``) and their images.

Four plots, each computed from the stage results the gate read (and the files they name):

``suspicion_histogram``
    the scan's per-row suspicion (``scores.csv``) in 20 bins over [0, 1], flagged and not;
``flagged_per_class``
    rows and flagged rows per label class (the scan's input labels and ``scores.csv``);
``feature_shift``
    per feature, how far it moved from the trusted base, scaled so that 1 is the threshold:
    from the scan's comparison with a trusted reference (effect size over threshold) when the
    scan made one, else from the validation's mean expectations (the mean's position in the band
    inferred from trusted data; beyond ±1 it left the band);
``canary_recall``
    per-class canary recall of the champion and the candidate (drift).

Each plot is drawn by one ``draw_*`` function from its table onto a given Axes (:data:`DRAW`);
:func:`render_png` and the notebook helpers of :mod:`poisonguard.plots` both call it.

Images are PNG (matplotlib, Agg backend) embedded in the HTML as ``data:`` URIs: no file, no
network, no script. Plot data never reach the HTML as markup, so labels need no escaping there.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._common import read_columns, resolve

if TYPE_CHECKING:  # pragma: no cover
    from ..scan import ScanResult
    from ..tracking import DriftResult
    from ..validation import ValidationResult
    from ..verdict import Verdict

__all__ = ["DRAW", "PLOTS", "canary_table", "draw_canary_recall", "draw_feature_shift", "draw_flagged_per_class",
           "draw_suspicion_histogram", "figure_size", "per_class_table", "plot_data", "render_png", "suspicion_table",
           "write_plot_tables"]

#: Plot name -> (title, what it shows).
PLOTS: dict[str, tuple[str, str]] = {
    "suspicion_histogram": ("Suspicion of the scanned rows",
                            "Rows per suspicion bin. Rows the decision reaches are on the evidence's scale (0.5 is p = 0.01 "
                            "under the data's bulk); the others rank below every one of them by the detectors' "
                            "own rankings. Quarantined rows are those the BH decision took."),
    "flagged_per_class": ("Flagged rows per class", "Share of each label class the scan quarantined."),
    "feature_shift": ("Feature shifts against the trusted base",
                      "How far each feature moved from the trusted base, scaled so that 1 is the threshold "
                      "where it counts as shifted (the source is named under the axis)."),
    "canary_recall": ("Canary recall per class: champion vs candidate",
                      "A class whose recall falls is what targeted poisoning does."),
}

_BINS = 20


def _typed(verdict: Verdict, kind: str) -> Any:
    """The typed result of the first ``kind`` report the gate read (None when that stage did not run)."""
    rep = verdict.report(kind)
    return rep.result if rep is not None else None


def _scan_scores(verdict: Verdict, root: Path) -> tuple[ScanResult | None, pd.DataFrame | None]:
    rep = verdict.report("scan")
    scan: ScanResult | None = _typed(verdict, "scan")
    if rep is None or scan is None:
        return None, None
    base = Path(rep.path).parent if rep.path else root
    path = resolve(scan.outputs.get("scores"), root) or resolve(base / "scores.csv", root)
    if path is None:
        return scan, None
    try:
        scores = pd.read_csv(path, usecols=["row", "suspicion", "flagged"])
    except (OSError, ValueError):
        return scan, None
    scores["flagged"] = scores["flagged"].astype(str).str.lower().isin(["true", "1"])
    return scan, scores


def suspicion_table(suspicion: Any, flagged: Any, bins: int = _BINS) -> pd.DataFrame:
    """Rows and ``flagged`` rows per suspicion bin (``bins`` equal bins over [0, 1]): the table
    :func:`draw_suspicion_histogram` draws (``flagged`` may be any split, e.g. known poison)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    s = np.asarray(suspicion, dtype=float)
    f = np.asarray(flagged, dtype=bool)
    idx = np.clip(np.digitize(s, edges[1:-1], right=True), 0, bins - 1)
    return pd.DataFrame({
        "bin": [f"{edges[i]:.2f}-{edges[i + 1]:.2f}" for i in range(bins)],
        "low": edges[:-1].round(6), "high": edges[1:].round(6),
        "rows": np.bincount(idx, minlength=bins),
        "flagged": np.bincount(idx[f], minlength=bins),
    })


def _histogram(scores: pd.DataFrame) -> pd.DataFrame:
    return suspicion_table(scores["suspicion"].to_numpy(dtype=float), scores["flagged"].to_numpy(dtype=bool))


def per_class_table(labels: Any, flagged: Any) -> pd.DataFrame:
    """Rows, flagged rows and the flagged share per class (classes sorted, as strings): the
    table :func:`draw_flagged_per_class` draws."""
    y = np.asarray(labels, dtype=object).astype(str)
    flagged = np.asarray(flagged, dtype=bool)
    classes = sorted(set(y.tolist()))
    rows = np.array([(y == c).sum() for c in classes])
    fl = np.array([((y == c) & flagged).sum() for c in classes])
    return pd.DataFrame({"class": classes, "rows": rows, "flagged": fl,
                         "flagged_share": np.round(fl / np.maximum(rows, 1), 6)})


def _per_class(scan: ScanResult, scores: pd.DataFrame, root: Path) -> pd.DataFrame | None:
    inp = scan.inputs.get("data") or {}
    label = inp.get("label")
    if not label:
        return None
    frame = read_columns(resolve(inp.get("path"), root), [label])
    if frame is None or len(frame) != len(scores):
        return None
    y = frame[label].astype(str).replace("", "(missing)").to_numpy()
    return per_class_table(y, scores.sort_values("row")["flagged"].to_numpy(dtype=bool))


def _shift_from_scan(scan: ScanResult | None) -> pd.DataFrame | None:
    """Per-feature shift from the scan's comparison with a trusted reference, when it made one
    (:func:`poisonguard.reference.shift_table`: effect size over threshold, 1 = shifted)."""
    from ..reference import shift_table

    ref = scan.reference if scan is not None else None
    if not isinstance(ref, dict) or not isinstance(ref.get("distribution"), dict):
        return None
    table = shift_table(ref)
    if table.empty:
        return None
    table = table.drop(columns="kind")
    table["source"] = "scan: effect size / threshold vs trusted reference"
    return table


def _shift_from_validation(val: ValidationResult | None) -> pd.DataFrame | None:
    if val is None:
        return None
    rows = []
    for o in val.outcomes:
        if o.type != "expect_column_mean_to_be_between":
            continue
        kw = o.kwargs or {}
        raw = [kw.get("min_value"), kw.get("max_value"), o.observed_value]
        nums = [float(v) for v in raw if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(nums) != 3:
            continue
        lo, hi, obs = nums
        if hi <= lo:
            continue
        mid, half = (lo + hi) / 2, (hi - lo) / 2
        rows.append({"feature": str(o.column), "shift": round((obs - mid) / half, 6), "observed_mean": obs,
                     "band_low": lo, "band_high": hi, "source": "validation: mean vs trusted band"})
    return pd.DataFrame(rows) if rows else None


def canary_table(drift: DriftResult) -> pd.DataFrame:
    """Per-class canary recall of the champion and the candidate: the table
    :func:`draw_canary_recall` draws (empty when the drift result has no classes)."""
    rows = [{"class": str(c.label), "support": c.support, "champion": c.champion_recall,
             "candidate": c.candidate_recall, "delta": c.delta} for c in drift.classes]
    return pd.DataFrame(rows, columns=["class", "support", "champion", "candidate", "delta"])


def _canary(drift: DriftResult | None) -> pd.DataFrame | None:
    if drift is None:
        return None
    table = canary_table(drift)
    return table if len(table) else None


def plot_data(verdict: Verdict, root: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The tables behind the plots, for the stages that ran (missing inputs leave a plot out)."""
    root = Path(root) if root is not None else Path.cwd()
    out: dict[str, pd.DataFrame] = {}
    scan, scores = _scan_scores(verdict, root)
    if scores is not None and len(scores):
        out["suspicion_histogram"] = _histogram(scores)
        assert scan is not None  # scores are read only when the scan is there
        per_class = _per_class(scan, scores, root)
        if per_class is not None:
            out["flagged_per_class"] = per_class
    shift = _shift_from_scan(scan)
    if shift is None:
        shift = _shift_from_validation(_typed(verdict, "validation"))
    if shift is not None:
        out["feature_shift"] = shift
    canary = _canary(_typed(verdict, "drift"))
    if canary is not None:
        out["canary_recall"] = canary
    return out


def write_plot_tables(data: Mapping[str, pd.DataFrame], folder: str | Path) -> dict[str, Path]:
    """Write each table as ``<folder>/<name>.csv`` (atomically), for ``dvc plots``."""
    from .._io import atomic_open

    paths = {}
    for name, frame in data.items():
        p = Path(folder) / f"{name}.csv"
        with atomic_open(p, "w", newline="") as fh:
            frame.to_csv(fh, index=False, lineterminator="\n")
        paths[name] = p
    return paths


def _figure(width: float = 6.4, height: float = 3.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def figure_size(name: str, frame: pd.DataFrame) -> tuple[float, float]:
    """Width and height (inches) of the plot ``name`` of :data:`PLOTS` drawn from ``frame``."""
    rows = max(len(frame), 2)
    heights = {"suspicion_histogram": 3.2, "flagged_per_class": 0.6 + 0.45 * rows,
               "feature_shift": 0.6 + 0.35 * rows, "canary_recall": 0.8 + 0.6 * rows}
    if name not in heights:
        raise KeyError(f"unknown plot {name!r}; the plots are {', '.join(PLOTS)}")
    return 6.4, heights[name]


def draw_suspicion_histogram(ax: Any, frame: pd.DataFrame, *, labels: tuple[str, str] = ("kept", "flagged")) -> Any:
    """Draw a :func:`suspicion_table` on ``ax``: the ``flagged`` rows stacked on the others
    (``labels`` names the two), symlog counts, the dashed line at 0.5 (p = 0.01)."""
    x = frame["low"].to_numpy(dtype=float)
    width = float(frame["high"].iloc[0] - frame["low"].iloc[0])
    kept = frame["rows"].to_numpy() - frame["flagged"].to_numpy()
    ax.bar(x, kept, width=width, align="edge", color="#4c78a8", label=labels[0])
    ax.bar(x, frame["flagged"], width=width, align="edge", bottom=kept, color="#e45756", label=labels[1])
    ax.axvline(0.5, color="#333", linestyle="--", linewidth=1)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_xlabel("suspicion")
    ax.set_ylabel("rows (symlog)")
    ax.legend(loc="upper right")
    return ax


def draw_flagged_per_class(ax: Any, frame: pd.DataFrame) -> Any:
    """Draw a :func:`per_class_table` on ``ax``: each class's flagged share, with its counts."""
    labels = [_label(c) for c in frame["class"]]
    ax.barh(labels, frame["flagged_share"] * 100, color="#e45756")
    for i, (n, f) in enumerate(zip(frame["rows"], frame["flagged"])):
        ax.text(0.2, i, f"{f} of {n}", va="center", fontsize=8)
    ax.set_xlabel("rows flagged (%)")
    ax.invert_yaxis()
    return ax


def draw_feature_shift(ax: Any, frame: pd.DataFrame, *, shifted: Any = None, xlabel: str | None = None) -> Any:
    """Draw a per-feature shift table (``feature``, ``shift``; 1 is the threshold) on ``ax``, the
    first row on top. A bar is red when ``shifted`` says so (default: ``|shift| > 1``); the
    x label is ``xlabel``, else the table's ``source``."""
    v = frame["shift"].to_numpy(dtype=float)
    marks = [abs(s) > 1 for s in v] if shifted is None else [bool(s) for s in shifted]
    colors = ["#e45756" if m else "#4c78a8" for m in marks]
    ax.barh([_label(f) for f in frame["feature"]], v, color=colors)
    for x in ((1,) if (v >= 0).all() else (-1, 1)):
        ax.axvline(x, color="#333", linestyle="--", linewidth=1)
    ax.axvline(0, color="#999", linewidth=0.8)
    if xlabel is None:
        xlabel = str(frame["source"].iloc[0]) if "source" in frame else "shift"
    ax.set_xlabel(xlabel)
    ax.invert_yaxis()
    return ax


def draw_canary_recall(ax: Any, frame: pd.DataFrame) -> Any:
    """Draw a :func:`canary_table` on ``ax``: champion and candidate recall per class."""
    pos = np.arange(len(frame))
    ax.barh(pos - 0.2, frame["champion"], height=0.4, color="#4c78a8", label="champion")
    ax.barh(pos + 0.2, frame["candidate"], height=0.4, color="#f58518", label="candidate")
    ax.set_yticks(pos, [_label(c) for c in frame["class"]])
    ax.set_xlim(0, 1)
    ax.set_xlabel("recall on the canary")
    ax.legend(loc="lower right")
    ax.invert_yaxis()
    return ax


#: Plot name -> the function drawing its table on an Axes (the notebook helpers of
#: :mod:`poisonguard.plots` call the same functions).
DRAW = {"suspicion_histogram": draw_suspicion_histogram, "flagged_per_class": draw_flagged_per_class,
        "feature_shift": draw_feature_shift, "canary_recall": draw_canary_recall}


def render_png(name: str, frame: pd.DataFrame) -> bytes:
    """The plot ``name`` of :data:`PLOTS` as PNG bytes."""
    if name not in DRAW:
        raise KeyError(f"unknown plot {name!r}; the plots are {', '.join(PLOTS)}")
    fig, ax = _figure(*figure_size(name, frame))
    DRAW[name](ax, frame)
    ax.set_title(PLOTS[name][0], fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _label(value: Any, limit: int = 28) -> str:
    """A tick label: shortened, with ``$`` escaped so matplotlib never reads data as mathtext."""
    text = str(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def png_data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
