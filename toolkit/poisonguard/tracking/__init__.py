"""``poisonguard.tracking``: MLflow logging, the canary set, output drift and promotion.

Some poisoning survives every data check and shows only in what the trained model does. This
stage logs each training run to MLflow (datasets as inputs with their SHA-256, stage results,
the model in skops format, its predictions on a trusted canary set), compares every candidate
with the accepted model (the *champion*) on that canary, records the verdict on the run, and
moves the ``champion`` alias only to runs that are not suspected.

* :func:`log_run` / :func:`train_and_log` — log a run (:class:`LoggedRun`: its run-id file for
  ``poisonguard drift --run-file``, its flat DVC metrics); :func:`find_run` — a logged run by its tags;
* :func:`load_model` — load a logged model with skops (never unpickled);
* :func:`load_canary` — the canary with its digests (:class:`Canary`);
* :func:`drift` — compare with the champion (:class:`DriftResult`, :class:`DriftThresholds`);
* :func:`promote` — move the champion alias (:class:`PromotionResult`);
* :func:`tracking_uri` — ``$MLFLOW_TRACKING_URI`` or ``sqlite:///<project>/mlflow.db``.

MLflow is imported only inside the functions that use it.
"""

from __future__ import annotations

from ._canary import Canary, CanaryRecord, canary_metrics, content_digest, load_canary, predict_canary
from ._drift import DriftThresholds, compare_predictions, drift, js_divergence, load_trigger_rules, stamp_rule
from ._log import (SKOPS_TRUSTED_TYPES, LoggedRun, default_model, find_run, load_model, log_run, result_metrics,
                   train_and_log)
from ._promote import promote
from ._result import ClassDrift, DriftResult, PromotionResult, TriggerProbe
from ._store import CHAMPION_ALIAS, DEFAULT_EXPERIMENT, default_tracking_uri, project_dir, tracking_uri

__all__ = [
    "CHAMPION_ALIAS",
    "Canary",
    "CanaryRecord",
    "ClassDrift",
    "DEFAULT_EXPERIMENT",
    "DriftResult",
    "DriftThresholds",
    "LoggedRun",
    "PromotionResult",
    "SKOPS_TRUSTED_TYPES",
    "TriggerProbe",
    "canary_metrics",
    "compare_predictions",
    "content_digest",
    "default_model",
    "default_tracking_uri",
    "drift",
    "find_run",
    "js_divergence",
    "load_canary",
    "load_model",
    "load_trigger_rules",
    "log_run",
    "predict_canary",
    "project_dir",
    "promote",
    "result_metrics",
    "stamp_rule",
    "tracking_uri",
    "train_and_log",
]
