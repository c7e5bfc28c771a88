"""The canary set: a trusted, labelled, versioned set that never enters training.

Every logged model predicts the canary; the predictions and class probabilities are stored
with the run as a CSV artifact (never a pickle) together with the canary's digests, so that
any two runs that saw the same canary can be compared row by row later without reloading
either model. Two digests identify a canary version:

``sha256``
    SHA-256 of the canary file's bytes (None for an in-memory frame);
``content_sha256``
    SHA-256 of the ordered row digests (:meth:`TabularDataset.row_digests`): the same rows in
    the same order give the same value whatever the file format. Comparisons use this one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._result import jsonable
from ..data import TabularDataset, as_dataset
from ..errors import DataError, TrackingError

__all__ = [
    "CANARY_DIR",
    "Canary",
    "CanaryRecord",
    "canary_metrics",
    "content_digest",
    "load_canary",
    "metric_key",
    "predict_canary",
]

#: Artifact folder of the canary evidence in a run.
CANARY_DIR = "poisonguard/canary"
_PRED_FILE = f"{CANARY_DIR}/predictions.csv"
_META_FILE = f"{CANARY_DIR}/canary.json"
_PROBA = "proba:"


@dataclasses.dataclass(frozen=True)
class Canary:
    """A trusted labelled set with its digests.

    Build one with :func:`load_canary`.

    Attributes
    ----------
    dataset : TabularDataset
        The rows (with their label column).
    content_sha256 : str
        Digest of the ordered rows, independent of the file format.
    """

    dataset: TabularDataset
    content_sha256: str

    @property
    def label(self) -> str:
        """The label column."""
        assert self.dataset.label is not None
        return self.dataset.label

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the file's bytes (None when built from memory)."""
        return self.dataset.sha256

    @property
    def path(self) -> str | None:
        """The file it was read from."""
        return str(self.dataset.path) if self.dataset.path is not None else None

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self.dataset.n_rows

    @property
    def labels(self) -> np.ndarray:
        """The true labels as strings (the form every comparison uses)."""
        return np.asarray(self.dataset.frame[self.label].astype(str).to_numpy(dtype=object), dtype=object)

    def features(self, columns: Sequence[str]) -> pd.DataFrame:
        """The feature columns a model was trained on, or :class:`DataError` naming the missing ones."""
        missing = [c for c in columns if c not in self.dataset.frame.columns]
        if missing:
            raise DataError(f"the canary {self.path or '<frame>'} lacks the model's feature columns {missing}; "
                            "use a canary with the training data's columns")
        return self.dataset.frame[list(columns)]

    def describe(self) -> dict[str, Any]:
        """Path, digests, rows, label and class counts (JSON-able)."""
        counts = pd.Series(self.labels).value_counts()
        return {"path": self.path, "sha256": self.sha256, "content_sha256": self.content_sha256,
                "n_rows": self.n_rows, "label": self.label,
                "class_counts": {str(k): int(v) for k, v in sorted(counts.items())}}


def content_digest(ds: TabularDataset) -> str:
    """SHA-256 of the ordered row digests: the dataset's identity whatever its file format."""
    h = hashlib.sha256()
    for d in ds.row_digests():
        h.update(d.encode("ascii"))
        h.update(b"\n")
    return h.hexdigest()


def load_canary(source: str | os.PathLike[str] | pd.DataFrame | TabularDataset | Canary,
                label: str | None = None) -> Canary:
    """Read a canary set (a file, a frame or a dataset) and compute its digests.

    Parameters
    ----------
    source : path-like, DataFrame, TabularDataset or Canary
        The canary rows. A file is read with :func:`poisonguard.data.load_dataset`.
    label : str, default=None
        The label column (required unless ``source`` is a dataset that names it).

    Raises
    ------
    DataError
        Missing file, no label column, missing labels, or fewer than two classes.
    """
    if isinstance(source, Canary):
        return source
    ds = as_dataset(source, label=label, what="the canary")
    where = str(ds.path) if ds.path is not None else "the canary frame"
    if ds.label is None:
        raise DataError(f"{where}: a canary needs its label column; pass --label")
    n_missing = int(ds.label_missing.sum())
    if n_missing:
        raise DataError(f"{where}: {n_missing} canary rows have no label; a canary is a trusted labelled "
                        "set, label every row or remove the unlabelled ones")
    if ds.frame[ds.label].nunique() < 2:
        raise DataError(f"{where}: the canary holds a single class; a canary needs rows of every class")
    return Canary(dataset=ds, content_sha256=content_digest(ds))


def predict_canary(model: Any, canary: Canary, features: Sequence[str]) -> pd.DataFrame:
    """The model's predictions and class probabilities on the canary.

    Returns
    -------
    pandas.DataFrame
        One line per canary row: ``row``, ``label``, ``prediction`` (both as strings),
        ``confidence`` (the highest class probability) and ``proba:<class>`` per model class.
    """
    X = canary.features(features)
    pred = np.asarray(model.predict(X)).astype(str)
    out = pd.DataFrame({"row": canary.dataset.rows, "label": canary.labels, "prediction": pred})
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X), dtype=float)
        classes = [str(c) for c in model.classes_]
        out["confidence"] = proba.max(axis=1)
        for j, c in enumerate(classes):
            out[_PROBA + c] = proba[:, j]
    else:
        out["confidence"] = np.nan
    return out


def probabilities(predictions: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ``proba:<class>`` columns of a predictions frame, by class."""
    return {c[len(_PROBA):]: predictions[c].to_numpy(dtype=float)
            for c in predictions.columns if c.startswith(_PROBA)}


def canary_metrics(predictions: pd.DataFrame) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall and support, and mean confidence on the canary.

    Per-class values are over the canary's true classes; macro-F1 averages F1 over them.
    """
    from sklearn.metrics import f1_score, recall_score

    y = predictions["label"].astype(str).to_numpy()
    p = predictions["prediction"].astype(str).to_numpy()
    classes = sorted(set(y))
    recall = recall_score(y, p, labels=classes, average=None, zero_division=0.0)
    support = [int((y == c).sum()) for c in classes]
    conf = predictions["confidence"].to_numpy(dtype=float)
    return {
        "accuracy": float((y == p).mean()),
        "macro_f1": float(f1_score(y, p, labels=classes, average="macro", zero_division=0.0)),
        "mean_confidence": float(np.nanmean(conf)) if np.isfinite(conf).any() else float("nan"),
        "recall": {c: float(r) for c, r in zip(classes, recall)},
        "support": dict(zip(classes, support)),
    }


_SYMBOLS = (("<=", "le"), (">=", "ge"), ("<", "lt"), (">", "gt"), ("==", "eq"), ("!=", "ne"), ("=", "eq"))


def metric_key(name: str) -> str:
    """A class name made safe for an MLflow metric key (``>50K`` → ``gt50K``)."""
    for sym, word in _SYMBOLS:
        name = name.replace(sym, word)
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)[:100] or "_"


def flat_metrics(prefix: str, metrics: dict[str, Any]) -> dict[str, float]:
    """``canary_metrics`` output as flat MLflow metrics (``canary.recall.gt50K`` ...)."""
    flat = {f"{prefix}.accuracy": metrics["accuracy"], f"{prefix}.macro_f1": metrics["macro_f1"]}
    if np.isfinite(metrics["mean_confidence"]):
        flat[f"{prefix}.mean_confidence"] = metrics["mean_confidence"]
    used: set[str] = set()
    for i, (c, r) in enumerate(metrics["recall"].items()):
        key = metric_key(c)
        if key in used:
            key = f"{key}_{i}"
        used.add(key)
        flat[f"{prefix}.recall.{key}"] = r
    return flat


def train_overlap(canary: Canary, train: TabularDataset) -> int:
    """Canary rows whose feature values also occur in the training data (labels ignored)."""
    cols = sorted((set(canary.dataset.frame.columns) & set(train.frame.columns)) - {canary.label, train.label})
    if not cols:
        return 0
    seen = set(train.row_digests(cols).tolist())
    return int(sum(d in seen for d in canary.dataset.row_digests(cols).tolist()))


@dataclasses.dataclass(frozen=True)
class CanaryRecord:
    """The canary evidence stored with one run.

    Attributes
    ----------
    run_id : str
        The run.
    meta : dict
        The canary's description (:meth:`Canary.describe`), the model's features and classes,
        and the canary metrics.
    predictions : pandas.DataFrame
        :func:`predict_canary` output as logged.
    """

    run_id: str
    meta: dict[str, Any]
    predictions: pd.DataFrame

    @property
    def content_sha256(self) -> str:
        """Digest of the canary the predictions were made on."""
        return str(self.meta.get("content_sha256"))

    @property
    def features(self) -> list[str]:
        """The model's feature columns."""
        return list(self.meta.get("features") or [])


def log_canary(store: Any, run_id: str, predictions: pd.DataFrame, canary: Canary,
               features: Sequence[str], classes: Sequence[str], overlap: int | None = None, *,
               model_id: str | None = None, dataset: tuple[str, str] | None = None) -> dict[str, Any]:
    """Store the canary predictions, description, metrics and digest tags with a run.

    With ``model_id`` (the run's LoggedModel) and ``dataset`` (the canary input's MLflow
    ``(name, digest)``) the metrics are also the LoggedModel's metrics on that dataset.
    """
    from mlflow.entities import Metric, RunTag

    metrics = canary_metrics(predictions)
    meta = {**canary.describe(), "features": list(features), "model_classes": list(classes),
            "train_overlap_rows": overlap, "metrics": metrics}
    buf = io.StringIO()
    predictions.to_csv(buf, index=False, lineterminator="\n")
    client = store.client
    client.log_text(run_id, buf.getvalue(), _PRED_FILE)
    client.log_text(run_id, json.dumps(jsonable(meta), indent=2, sort_keys=True, allow_nan=False), _META_FILE)
    now = int(time.time() * 1000)
    flat = flat_metrics("canary", metrics)
    if overlap is not None:
        flat["canary.train_overlap_rows"] = float(overlap)
    tags = {"poisonguard.canary.content_sha256": canary.content_sha256,
            "poisonguard.canary.sha256": canary.sha256 or "",
            "poisonguard.canary.path": canary.path or "",
            "poisonguard.canary.rows": str(canary.n_rows)}
    name, digest = dataset if dataset is not None else (None, None)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0, model_id=model_id, dataset_name=name,
                                             dataset_digest=digest) for k, v in flat.items()],
                     tags=[RunTag(k, v) for k, v in tags.items()])
    return meta


def read_canary_record(store: Any, run_id: str) -> CanaryRecord:
    """The canary evidence of a run, or :class:`TrackingError` when the run has none."""
    client = store.client
    with tempfile.TemporaryDirectory(prefix="poisonguard-canary-") as tmp:
        try:
            local = client.download_artifacts(run_id, CANARY_DIR, tmp)
        except Exception:  # noqa: BLE001 - MLflow raises several types for a missing artifact
            local = None
        pred_path = Path(local) / "predictions.csv" if local else None
        meta_path = Path(local) / "canary.json" if local else None
        if pred_path is None or not pred_path.exists() or meta_path is None or not meta_path.exists():
            raise TrackingError(f"run {run_id} has no canary predictions ({_PRED_FILE}); log the run with a "
                                "canary (poisonguard.tracking.log_run(..., canary=...))")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        frame = pd.read_csv(pred_path, dtype={"label": str, "prediction": str}, keep_default_na=False,
                            na_values={"confidence": [""]})
    return CanaryRecord(run_id=run_id, meta=meta, predictions=frame)
