"""Log a training run to MLflow: datasets, stage results, the model (skops) and the canary.

What one run holds (all readable through ``MlflowClient``):

* **inputs**: each dataset through ``mlflow.data.from_pandas`` + ``mlflow.log_input`` with a
  context (``training``, ``canary``, ...), its SHA-256 as the dataset's ``digest`` (the file's
  SHA-256, or for data that never was a file the SHA-256 of its ordered row digests; cut to
  the 36 characters MLflow stores) and input tags ``poisonguard.sha256`` (the full SHA-256),
  ``poisonguard.content_sha256`` (the row-digest SHA-256) and ``poisonguard.rows``;
* **metrics**: a summary of each stage result (``scan.n_quarantined``, ``validation.return_code``,
  ...), linked to the LoggedModel and the training input, and the canary metrics
  (``canary.accuracy``, ``canary.macro_f1``, ``canary.recall.<class>``), linked to the LoggedModel
  and the canary input: they show on the run and on the model (``MlflowClient.get_logged_model``);
* **artifacts**: the full result JSONs under ``poisonguard/results/``, the canary predictions
  under ``poisonguard/canary/``, and the model;
* **the model** in MLflow's *skops* format (no pickle), with a signature inferred from the
  training frame as read (integer columns stay ``long``, so a frame read back with
  ``pandas.read_csv`` passes MLflow's schema enforcement), with explicit ``pip_requirements`` so
  that logging never starts a requirements-inference subprocess. :func:`load_model` loads it
  back with skops against poisonguard's own allow-list of types — never the list stored in
  the model's own ``MLmodel`` file, which whoever wrote the model controls;
* **tags**: ``poisonguard.model_uri``, the canary digests; later ``poisonguard.suspected`` /
  ``poisonguard.reasons`` (:func:`~poisonguard.tracking.drift`) and ``poisonguard.accepted``
  (:func:`~poisonguard.tracking.promote`).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._threads import threads_for
from .._result import StageResult, jsonable
from .._version import __version__
from ..data import TabularDataset, as_dataset
from ..errors import DataError, TrackingError, UsageError
from ._canary import Canary, content_digest, load_canary, log_canary, metric_key, predict_canary, train_overlap
from ._store import DEFAULT_EXPERIMENT, Store, open_store

__all__ = [
    "MODEL_NAME",
    "SKOPS_TRUSTED_TYPES",
    "LoggedRun",
    "default_model",
    "load_model",
    "log_run",
    "result_metrics",
    "train_and_log",
]

#: Artifact name of the logged model inside a run.
MODEL_NAME = "model"

#: Types that skops does not trust by default and that poisonguard trusts in the models it
#: logs and loads (tree structures of scikit-learn's tree ensembles, numpy dtypes). Models
#: holding anything else need an explicit ``trusted_types`` both when logged and when loaded.
SKOPS_TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
)

_MAX_TAG = 5000
#: The longest dataset digest MLflow stores (``mlflow.utils.validation.MAX_DATASET_DIGEST_SIZE``).
MLFLOW_DIGEST_CHARS = 36


@dataclasses.dataclass(frozen=True)
class LoggedRun:
    """What :func:`log_run` logged.

    Attributes
    ----------
    run_id : str
        The MLflow run.
    experiment_id : str
        Its experiment.
    model_uri : str
        URI of the logged model (``models:/<model id>``).
    tracking_uri : str
        The store it was logged to.
    canary : dict or None
        The canary's description and metrics, when a canary was given.
    train_rows : int or None
        Rows of the training data (None when not known: a run found with :func:`find_run`).
    """

    run_id: str
    experiment_id: str
    model_uri: str
    tracking_uri: str
    canary: dict[str, Any] | None = None
    train_rows: int | None = None

    @property
    def canary_accuracy(self) -> float | None:
        """Accuracy on the canary (None without a canary)."""
        return None if self.canary is None else float(self.canary["metrics"]["accuracy"])

    def flat_metrics(self) -> dict[str, float]:
        """``train_rows`` and the canary metrics (``canary_accuracy``, ``canary_macro_f1``...): a flat
        DVC metrics mapping, without the run id (which changes every run)."""
        out: dict[str, float] = {} if self.train_rows is None else {"train_rows": self.train_rows}
        for k, v in sorted(((self.canary or {}).get("metrics") or {}).items()):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[f"canary_{k}"] = v
        return out

    def write_metrics(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`flat_metrics` atomically as JSON (a DVC metrics file)."""
        from .._io import atomic_write_json

        return atomic_write_json(path, jsonable(self.flat_metrics()))

    def write_run_id(self, path: str | os.PathLike[str]) -> Path:
        """Write the run id as a one-line file (atomically): what ``poisonguard drift --run-file`` reads."""
        from .._io import atomic_write_text

        return atomic_write_text(path, self.run_id + "\n")


def default_model(ds: TabularDataset, *, seed: int = 0, max_iter: int = 100) -> Any:
    """The reference classifier: ordinal-encoded categoricals and gradient-boosted trees.

    A scikit-learn ``Pipeline`` of a ``ColumnTransformer`` (numeric columns as they are,
    categorical columns through an ``OrdinalEncoder`` that maps unknown and missing values to
    NaN) and a ``HistGradientBoostingClassifier``. Every part serialises with skops.

    Parameters
    ----------
    ds : TabularDataset
        Fixes the numeric and categorical columns.
    seed : int, default=0
        ``random_state`` of the classifier.
    max_iter : int, default=100
        Boosting iterations.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    numeric = ds.columns_of_kind("numeric")
    categorical = ds.columns_of_kind("categorical")
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        parts.append(("num", "passthrough", numeric))
    if categorical:
        parts.append(("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                            encoded_missing_value=np.nan), categorical))
    if not parts:
        raise DataError("the training data has no numeric or categorical feature column to learn from")
    return Pipeline([("prepare", ColumnTransformer(parts)),
                     ("classify", HistGradientBoostingClassifier(max_iter=max_iter, random_state=seed))])


def result_metrics(result: StageResult | Mapping[str, Any]) -> dict[str, float]:
    """A stage result's summary as flat MLflow metrics, prefixed by its kind.

    Works on a result object or its JSON (``to_dict()``, a ``report.json``):
    ``<kind>.return_code`` and ``<kind>.passed``; every top-level number or boolean
    (``scan.n_quarantined``, ``scan.suspected``); ``<kind>.n_<field>`` for every list
    (``provenance.n_findings``) unless a number of that name is already there (the scan's
    ``n_quarantined`` is the count, its ``quarantined`` list only the top rows);
    ``<kind>.suspected`` from a ``verdict`` (a scan report of schema 3.x or older); for result
    objects also the properties ``suspected``, ``errors``, ``failed`` and ``critical_failures``;
    ``<kind>.quarantined_share`` (``flagged_share`` from a 3.x report's ``n_flagged``).
    A report's JSON is logged under its own field names: an old scan report gives ``scan.n_flagged``.
    """
    data = result.to_dict() if isinstance(result, StageResult) else dict(result)
    kind = metric_key(str(data.get("kind") or "result"))
    out: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        if isinstance(value, (bool, np.bool_)):
            out[f"{kind}.{name}"] = float(bool(value))
        elif isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value):
            out[f"{kind}.{name}"] = float(value)
        elif isinstance(value, (list, tuple)):
            counted = any(k == f"n_{name}" and isinstance(v, (int, float)) and not isinstance(v, bool)
                          for k, v in data.items())
            if not counted:
                out[f"{kind}.n_{name}"] = float(len(value))

    for key, value in data.items():
        if key not in ("schema_version", "tool", "kind"):
            put(metric_key(str(key)), value)
    if isinstance(data.get("return_code"), int):
        out[f"{kind}.passed"] = float(data["return_code"] == 0)
    if isinstance(data.get("verdict"), str):
        out[f"{kind}.suspected"] = float(data["verdict"] == "suspected")
    if isinstance(result, StageResult):
        for prop in ("suspected", "errors", "failed", "critical_failures"):
            if isinstance(getattr(type(result), prop, None), property):
                put(prop, getattr(result, prop))
    for count, share in (("n_quarantined", "quarantined_share"), ("n_flagged", "flagged_share")):
        if out.get(f"{kind}.n_rows", 0) > 0 and f"{kind}.{count}" in out:
            out[f"{kind}.{share}"] = out[f"{kind}.{count}"] / out[f"{kind}.n_rows"]
    return out


def _trusted_types(model: Any, extra: Sequence[str]) -> list[str]:
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    allowed = set(SKOPS_TRUSTED_TYPES) | set(extra)
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise UsageError(f"the model holds types that skops does not trust by default: {unknown}; pass "
                         "trusted_types=[...] with them if you trust them (and the same when loading)")
    return sorted(found)


def _pip_requirements() -> list[str]:
    import sklearn
    import skops

    return [f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"]


def _signature(model: Any, X: pd.DataFrame) -> Any:
    """The signature of the frame as read: int64 columns are ``long`` and float columns ``double``.

    MLflow's schema enforcement converts int up to long and float up to double, but refuses
    int64 for a ``double`` column and float64 for a ``long`` one: declaring the types the data has
    as read makes ``pyfunc.load_model(uri).predict(pd.read_csv(file))`` work on the same kind of file.
    An integer column that holds missing values is read as float64 and declared ``double``.
    """
    from mlflow.models import infer_signature

    head = X.head(200)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        return infer_signature(head, np.asarray(model.predict(head)))


def dataset_sha256(ds: TabularDataset) -> str:
    """The SHA-256 that identifies a dataset: its file's, else the SHA-256 of its ordered row digests."""
    return ds.sha256 or content_digest(ds)


def _log_dataset(ds: TabularDataset, context: str, name: str, content_sha256: str | None = None) -> tuple[str, str]:
    """Log ``ds`` as an input of the active run; return its MLflow ``(name, digest)``."""
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas  # what mlflow.data.from_pandas re-exports

    source = str(ds.path.resolve()) if ds.path is not None else None
    content = content_sha256 or content_digest(ds)
    sha = ds.sha256 or content
    with warnings.catch_warnings():
        # a local path matches MLflow's "" and "file" artifact sources alike; both are the same class
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        # MLflow's hint that integer columns cannot hold missing values: the schema is informative only
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        kwargs: dict[str, Any] = {"source": source} if source is not None else {}
        dataset = from_pandas(ds.frame, name=name, targets=ds.label, digest=sha[:MLFLOW_DIGEST_CHARS], **kwargs)
        tags = {"poisonguard.rows": str(ds.n_rows), "poisonguard.sha256": sha, "poisonguard.content_sha256": content}
        mlflow.log_input(dataset, context=context, tags=tags)  # the schema is inferred here
    return dataset.name, dataset.digest


def _features(model: Any, ds: TabularDataset) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    return [str(c) for c in names] if names is not None else ds.feature_columns


def log_run(model: Any, train: str | os.PathLike[str] | pd.DataFrame | TabularDataset, *,
            label: str | None = None,
            canary: str | os.PathLike[str] | pd.DataFrame | TabularDataset | Canary | None = None,
            results: Iterable[StageResult | Mapping[str, Any]] = (), experiment: str = DEFAULT_EXPERIMENT,
            run_name: str | None = None, params: Mapping[str, Any] | None = None,
            tags: Mapping[str, str] | None = None,
            datasets: Mapping[str, str | os.PathLike[str] | pd.DataFrame | TabularDataset] | None = None,
            trusted_types: Sequence[str] = (), max_canary_overlap: float = 0.01,
            tracking_uri: str | None = None) -> LoggedRun:
    """Log a fitted scikit-learn model and its evidence as one MLflow run.

    Parameters
    ----------
    model : scikit-learn estimator
        The fitted model. Its ``feature_names_in_`` (or the data's feature columns) name the
        columns it predicts from.
    train : path-like, DataFrame or TabularDataset
        The training data, logged as the ``training`` input.
    label : str, default=None
        The label column (unless ``train`` is a dataset that names it).
    canary : path-like, DataFrame, TabularDataset or Canary, default=None
        The trusted canary set; the model's predictions on it are stored with the run.
    results : iterable of StageResult or dict, default=()
        Scan, validation, provenance results (objects or their JSON): summaries as metrics,
        full JSONs as artifacts under ``poisonguard/results/<kind>.json``.
    experiment : str, default="poisonguard"
        The experiment (created when missing).
    run_name : str, default=None
        The run's name.
    params : mapping, default=None
        Parameters to log (``seed``, the attack, ...).
    tags : mapping, default=None
        Extra run tags.
    datasets : mapping of str to data, default=None
        More inputs by context (``{"validation": frame}``).
    trusted_types : sequence of str, default=()
        Types the model holds beyond :data:`SKOPS_TRUSTED_TYPES` that you trust.
    max_canary_overlap : float, default=0.01
        Refuse (:class:`DataError`) when more than this share of canary rows also occur in the
        training data (compared on the feature values): the canary must never enter training.
    tracking_uri : str, default=None
        The store (default: :func:`~poisonguard.tracking.tracking_uri`).

    Returns
    -------
    LoggedRun

    Examples
    --------
    >>> from poisonguard.tracking import log_run                         # doctest: +SKIP
    >>> logged = log_run(model, "train.csv", label="y", canary="canary.csv")  # doctest: +SKIP
    """
    import mlflow
    import mlflow.sklearn

    train_ds = as_dataset(train, label=label, what="the training data")
    if train_ds.label is None:
        raise UsageError("the training data needs its label column; pass label=...")
    can = load_canary(canary, label=label or train_ds.label) if canary is not None else None
    features = _features(model, train_ds)
    overlap = None
    if can is not None:
        overlap = train_overlap(can, train_ds)
        if overlap > max_canary_overlap * can.n_rows:
            raise DataError(f"{overlap} of the {can.n_rows} canary rows also occur in the training data "
                            f"(more than {max_canary_overlap:.0%}); the canary must never enter training: "
                            "draw it from data kept apart")
    extra_inputs = {ctx: as_dataset(d, label=label or train_ds.label, what=f"the {ctx} data") for ctx, d in (datasets or {}).items()}
    results = list(results)
    trusted = _trusted_types(model, trusted_types)
    with open_store(tracking_uri) as store, threads_for(max(train_ds.n_rows, can.n_rows if can else 0)):
        exp_id = store.experiment_id(experiment)
        active = mlflow.active_run() is not None
        with mlflow.start_run(experiment_id=exp_id, run_name=run_name, nested=active) as run:
            run_id = run.info.run_id
            train_input = _log_dataset(train_ds, "training", _name(train_ds, "train"))
            for ctx, ds in extra_inputs.items():
                _log_dataset(ds, ctx, _name(ds, ctx))
            canary_input = (_log_dataset(can.dataset, "canary", _name(can.dataset, "canary"), can.content_sha256)
                            if can is not None else None)
            run_params = {"poisonguard.version": __version__, "model.class": _model_class(model),
                          "train.rows": train_ds.n_rows, "train.sha256": dataset_sha256(train_ds),
                          "features": ",".join(features)[:_MAX_TAG]}
            run_params.update({str(k): v for k, v in (params or {}).items()})
            mlflow.log_params({k: str(v)[:_MAX_TAG] for k, v in run_params.items()})
            X = train_ds.frame[features]
            info = mlflow.sklearn.log_model(
                model, name=MODEL_NAME, serialization_format="skops", skops_trusted_types=trusted or None,
                pip_requirements=_pip_requirements(), signature=_signature(model, X))
            model_id = str(info.model_id)
            mlflow.set_tags({"poisonguard.model_uri": info.model_uri, "poisonguard.model_id": model_id,
                             "poisonguard.label": str(train_ds.label), **{str(k): str(v) for k, v in (tags or {}).items()}})
            metrics: dict[str, float] = {}
            seen: dict[str, int] = {}
            for res in results:
                body = res.to_dict() if isinstance(res, StageResult) else dict(res)
                kind = metric_key(str(body.get("kind") or "result"))
                seen[kind] = seen.get(kind, 0) + 1
                suffix = "" if seen[kind] == 1 else f"-{seen[kind]}"
                metrics.update(result_metrics(res))
                mlflow.log_dict(jsonable(body), f"poisonguard/results/{kind}{suffix}.json")
            if metrics:  # what the checks found in the training data: the model's metrics on that dataset
                _log_model_metrics(store, run_id, metrics, model_id, train_input)
            meta = None
            if can is not None:
                preds = predict_canary(model, can, features)
                classes = [str(c) for c in getattr(model, "classes_", [])]
                meta = log_canary(store, run_id, preds, can, features, classes, overlap, model_id=model_id,
                                  dataset=canary_input)
    return LoggedRun(run_id=run_id, experiment_id=exp_id, model_uri=info.model_uri, tracking_uri=store.uri,
                     canary=meta, train_rows=int(train_ds.n_rows))


def find_run(experiment: str, tags: Mapping[str, str], *, tracking_uri: str | None = None) -> LoggedRun | None:
    """The latest run of ``experiment`` that has all of ``tags`` and a model logged by poisonguard, or None.

    For reusing a run instead of training again (the reference pipeline trains its champion once per
    trusted base and seed, tagged with their digest). Its :attr:`LoggedRun.canary` holds only
    ``metrics`` (from the run's ``canary.*`` metrics).
    """
    with open_store(tracking_uri) as store:
        exp = store.client.get_experiment_by_name(experiment)
        if exp is None:
            return None
        query = " and ".join(f"tags.`{k}` = '{str(v).replace(chr(39), '')}'" for k, v in tags.items())
        for run in store.client.search_runs([exp.experiment_id], filter_string=query, max_results=20,
                                            order_by=["attributes.start_time DESC"]):
            uri = run.data.tags.get("poisonguard.model_uri")
            if not uri:
                continue
            canary = {k[len("canary."):]: v for k, v in run.data.metrics.items() if k.startswith("canary.")}
            return LoggedRun(run_id=run.info.run_id, experiment_id=exp.experiment_id, model_uri=str(uri),
                             tracking_uri=store.uri, canary={"metrics": canary} if canary else None)
    return None


def _log_model_metrics(store: Store, run_id: str, metrics: Mapping[str, float], model_id: str,
                       dataset: tuple[str, str] | None) -> None:
    """Log ``metrics`` on the run and on its LoggedModel ``model_id``, for ``dataset`` ``(name, digest)``."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    name, digest = dataset if dataset is not None else (None, None)
    store.client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0, model_id=model_id, dataset_name=name,
                                                   dataset_digest=digest) for k, v in metrics.items()])


def _name(ds: TabularDataset, default: str) -> str:
    return ds.path.name if ds.path is not None else default


def _model_class(model: Any) -> str:
    steps = getattr(model, "steps", None)
    final = steps[-1][1] if steps else model
    return type(final).__name__


def train_and_log(train: str | os.PathLike[str] | pd.DataFrame | TabularDataset, *, label: str | None = None,
                  canary: str | os.PathLike[str] | pd.DataFrame | TabularDataset | Canary | None = None,
                  seed: int = 0, model: Any = None, max_iter: int = 100, **log_kwargs: Any) -> LoggedRun:
    """Fit a model on ``train`` (rows with a label) and log it with :func:`log_run`.

    Parameters
    ----------
    train : path-like, DataFrame or TabularDataset
        Training data.
    label : str, default=None
        Label column.
    canary : path-like, DataFrame, TabularDataset or Canary, default=None
        Trusted canary set.
    seed : int, default=0
        The model's ``random_state`` (logged as the ``seed`` parameter).
    model : scikit-learn estimator, default=None
        An unfitted estimator; default :func:`default_model`.
    max_iter : int, default=100
        Boosting iterations of the default model.
    **log_kwargs
        Passed to :func:`log_run` (``results``, ``experiment``, ``run_name``, ``params``, ...).
    """
    from sklearn.base import clone

    ds = as_dataset(train, label=label, what="the training data")
    if ds.label is None:
        raise UsageError("the training data needs its label column; pass label=...")
    est = default_model(ds, seed=seed, max_iter=max_iter) if model is None else clone(model)
    keep = ~ds.label_missing
    X = ds.frame.loc[keep, ds.feature_columns]
    y = ds.frame.loc[keep, ds.label]
    with threads_for(len(X)):  # small data on one thread: no OpenMP barrier waits on busy cores
        est.fit(X, y)
    params = {"seed": seed, **dict(log_kwargs.pop("params", None) or {})}
    return log_run(est, ds, canary=canary, params=params, **log_kwargs)


def _model_uri(store: Store, run_id: str) -> str:
    run = store.get_run(run_id)
    uri = run.data.tags.get("poisonguard.model_uri")
    if not uri:
        raise TrackingError(f"run {run_id} has no model logged by poisonguard (no poisonguard.model_uri tag); "
                            "log it with poisonguard.tracking.log_run")
    return str(uri)


def load_model(run_id: str, *, trusted_types: Sequence[str] = (), tracking_uri: str | None = None) -> Any:
    """Load the model a run logged, with skops and poisonguard's allow-list: never unpickled.

    MLflow's own ``mlflow.sklearn.load_model`` takes the skops allow-list from the model's
    ``MLmodel`` file, that is from whoever wrote the model; here the allow-list is
    :data:`SKOPS_TRUSTED_TYPES` plus ``trusted_types``, chosen by the caller.

    Parameters
    ----------
    run_id : str
        The run.
    trusted_types : sequence of str, default=()
        More types to trust.
    tracking_uri : str, default=None
        The store.

    Raises
    ------
    TrackingError
        Unknown run, no model, a model not in skops format, or a model holding untrusted types.
    """
    with open_store(tracking_uri) as store:
        return load_model_of_run(store, run_id, trusted_types)


def load_model_of_run(store: Store, run_id: str, trusted_types: Sequence[str] = ()) -> Any:
    """:func:`load_model` on a store already open (the drift comparison loads two models from one)."""
    import mlflow.artifacts
    import skops.io
    from mlflow.models import Model
    from skops.io.exceptions import UntrustedTypesFoundException

    uri = _model_uri(store, run_id)
    with tempfile.TemporaryDirectory(prefix="poisonguard-model-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp, tracking_uri=store.uri))
        flavor = Model.load(str(local)).flavors.get("sklearn") or {}
        fmt = flavor.get("serialization_format")
        if fmt != "skops":
            raise TrackingError(f"the model of run {run_id} is stored as {fmt!r}, not 'skops'; poisonguard "
                                "loads only skops models (no pickle): log it again with log_run")
        path = local / str(flavor.get("pickled_model", "model.skops"))
        try:
            return skops.io.load(path, trusted=[*SKOPS_TRUSTED_TYPES, *trusted_types])
        except UntrustedTypesFoundException as exc:
            raise TrackingError(f"the model of run {run_id} holds types outside the trusted list ({exc}); "
                                "pass trusted_types=[...] only if you trust them") from None
