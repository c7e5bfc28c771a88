"""Promotion: move the registered model's ``champion`` alias to a run that is not suspected.

A run is promoted only when :func:`~poisonguard.tracking.drift` compared it with the current
champion and found nothing (tag ``poisonguard.suspected = "false"`` with
``poisonguard.drift.champion_run`` naming the current champion). The very first champion, when
there is none to compare with, is promoted without a drift verdict. Anything else is refused
unless ``force=True`` with a ``reason``, which is recorded on the run and on the model version.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..errors import TrackingError, UsageError
from ._drift import find_champion
from ._result import PromotionResult
from ._store import CHAMPION_ALIAS, Store, open_store

__all__ = ["promote"]


def _refusals(run: Any, champion_run: str | None) -> list[str]:
    tags = run.data.tags
    suspected = tags.get("poisonguard.suspected")
    if suspected == "true":
        return [f"drift suspected poisoning: {tags.get('poisonguard.reasons') or '(no reasons recorded)'}"]
    if champion_run is None:
        return []
    if suspected != "false":
        return [f"run {run.info.run_id} has no drift verdict; run `poisonguard drift --run {run.info.run_id} "
                "--canary FILE --label COL` first"]
    checked = tags.get("poisonguard.drift.champion_run")
    if checked != champion_run:
        return [f"the drift verdict compared the run with run {checked}, but the champion is now run {champion_run}; "
                "run `poisonguard drift` again"]
    return []


def _version_of(store: Store, name: str, run_id: str, model_uri: str, model_id: str | None) -> Any:
    from mlflow.exceptions import MlflowException

    client = store.client
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Models trained and checked with poisonguard.")
    existing = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if existing:
        return max(existing, key=lambda v: int(v.version))
    return client.create_model_version(name, source=model_uri, run_id=run_id, model_id=model_id or None)


def promote(run_id: str, *, model_name: str | None = None, force: bool = False, reason: str | None = None,
            tracking_uri: str | None = None) -> PromotionResult:
    """Point ``models:/<model_name>@champion`` at the run's model when the run is not suspected.

    Parameters
    ----------
    run_id : str
        The run to promote (logged with :func:`~poisonguard.tracking.log_run`).
    model_name : str, default=None
        The registered model (default: the run's experiment name); created when missing, and
        the run's model is registered as a new version when it has none yet.
    force : bool, default=False
        Promote despite a refusal; needs ``reason``.
    reason : str, default=None
        Why the refusal is overridden; recorded as ``poisonguard.override_reason`` on the run and
        the model version.
    tracking_uri : str, default=None
        The store.

    Returns
    -------
    PromotionResult
        ``return_code`` 1 when refused.

    Raises
    ------
    UsageError
        ``force`` without a reason.
    TrackingError
        Unknown run, or a run without a poisonguard model.
    """
    reason = (reason or "").strip() or None
    if force and not reason:
        raise UsageError("--force needs --reason TEXT: an override of the drift gate is recorded with its reason")
    with open_store(tracking_uri) as store:
        client = store.client
        run = store.get_run(run_id)
        run_id = run.info.run_id
        name = model_name or client.get_experiment(run.info.experiment_id).name
        model_uri = run.data.tags.get("poisonguard.model_uri")
        if not model_uri:
            raise TrackingError(f"run {run_id} has no model logged by poisonguard; log it with "
                                "poisonguard.tracking.log_run before promoting it")
        try:
            champion_run, _ = find_champion(store, run, name)
        except TrackingError:
            champion_run = None
        if champion_run == run_id:
            mv = _version_of(store, name, run_id, model_uri, run.data.tags.get("poisonguard.model_id"))
            return PromotionResult(run_id=run_id, model_name=name, promoted=True, version=str(mv.version),
                                   previous_run_id=run_id, refusals=("the run is already the champion",))
        refusals = _refusals(run, champion_run)
        if refusals and not force:
            return PromotionResult(run_id=run_id, model_name=name, promoted=False, previous_run_id=champion_run,
                                   refusals=tuple(refusals))
        mv = _version_of(store, name, run_id, model_uri, run.data.tags.get("poisonguard.model_id"))
        client.set_registered_model_alias(name, CHAMPION_ALIAS, str(mv.version))
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")
        version_tags = {"poisonguard.suspected": run.data.tags.get("poisonguard.suspected", "unchecked"),
                        "poisonguard.promoted_at": now}
        run_tags = {"poisonguard.accepted": "true", "poisonguard.accepted_at": now,
                    "poisonguard.promoted_to": f"{name} version {mv.version}"}
        forced = bool(refusals)
        if forced:
            assert reason is not None
            for tags in (version_tags, run_tags):
                tags.update({"poisonguard.override": "true", "poisonguard.override_reason": reason[:5000],
                             "poisonguard.overridden": "; ".join(refusals)[:5000]})
        for k, v in version_tags.items():
            client.set_model_version_tag(name, str(mv.version), k, v)
        for k, v in run_tags.items():
            client.set_tag(run_id, k, v)
        model_id = run.data.tags.get("poisonguard.model_id")
        if model_id:  # the LoggedModel carries the acceptance too
            client.set_logged_model_tags(model_id, run_tags)
    return PromotionResult(run_id=run_id, model_name=name, promoted=True, version=str(mv.version),
                           previous_run_id=champion_run, forced=forced, reason=reason if forced else None,
                           refusals=tuple(refusals))
