"""Where MLflow keeps the runs: the tracking URI, the artifact folder and the client.

Defaults that make the tracking stage run anywhere:

* ``MLFLOW_TRACKING_URI`` set: it is used as is (a team's tracking server, or any store);
* otherwise a sqlite store inside the project, ``sqlite:///<project>/mlflow.db``, with the
  artifacts beside it in ``<project>/mlartifacts`` (both git-ignored), where ``<project>`` is
  ``POISONGUARD_PROJECT_DIR`` when set, else the current working directory;
* telemetry off (``MLFLOW_DISABLE_TELEMETRY=true`` unless the user chose otherwise).

Experiments created by poisonguard on a local sqlite store put their artifacts in a
``mlartifacts`` folder beside the database, never in MLflow's ``./mlruns`` default (which
depends on the working directory of whoever logs first).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..errors import TrackingError

__all__ = [
    "CHAMPION_ALIAS",
    "DEFAULT_EXPERIMENT",
    "PROJECT_ENV",
    "Store",
    "artifact_root",
    "default_tracking_uri",
    "display_uri",
    "open_store",
    "project_dir",
    "quiet_mlflow",
    "tracking_uri",
]

#: Environment variable naming the project folder that holds the default store.
PROJECT_ENV = "POISONGUARD_PROJECT_DIR"
#: Experiment used when none is named.
DEFAULT_EXPERIMENT = "poisonguard"
#: The registered-model alias of the accepted model.
CHAMPION_ALIAS = "champion"


def quiet_mlflow() -> None:
    """Turn MLflow's telemetry and download progress bars off unless the user set them (idempotent)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def project_dir() -> Path:
    """The project folder: ``$POISONGUARD_PROJECT_DIR`` or the current working directory."""
    value = os.environ.get(PROJECT_ENV)
    return Path(value).expanduser().resolve() if value else Path.cwd().resolve()


def default_tracking_uri() -> str:
    """``sqlite:///<project>/mlflow.db``."""
    return "sqlite:///" + (project_dir() / "mlflow.db").as_posix()


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` when set, else :func:`default_tracking_uri`."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def display_uri(uri: str) -> str:
    """``uri`` without user info (``https://user:token@host/`` → ``https://***@host/``): what is printed."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return uri
    return f"{scheme}://***@{authority.rpartition('@')[2]}{slash}{path}"


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri[len("sqlite:///"):].split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    return Path(path).absolute()


def artifact_root(uri: str, experiment: str | None = None) -> str | None:
    """Artifact location for experiments poisonguard creates on the store at ``uri``.

    A local sqlite store keeps its artifacts in ``mlartifacts`` beside the database file, one
    folder per experiment (``mlartifacts/<experiment>``, the name made file-safe); for any other
    store (a tracking server, a database server) the server decides (None).
    """
    db = _sqlite_path(uri)
    if db is None:
        return None
    root = db.parent / "mlartifacts"
    if experiment:
        root = root / (re.sub(r"[^A-Za-z0-9_.-]+", "_", experiment).strip("._") or "experiment")
    return root.as_uri()


@dataclasses.dataclass(frozen=True)
class Store:
    """An open tracking store: its URI and an ``MlflowClient`` bound to it."""

    uri: str
    client: Any

    def experiment_id(self, name: str, *, create: bool = True) -> str:
        """The id of the experiment ``name``, created (with its artifact root) when missing."""
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if getattr(exp, "lifecycle_stage", "active") == "deleted":
                raise TrackingError(f"the experiment {name!r} is deleted in {self.uri}; restore it "
                                    "(`mlflow experiments restore`) or log to another experiment")
            return str(exp.experiment_id)
        if not create:
            raise TrackingError(f"no experiment named {name!r} in {self.uri}; log a run first "
                                "(poisonguard.tracking.log_run)")
        return str(self.client.create_experiment(name, artifact_location=artifact_root(self.uri, name)))

    def get_run(self, run_id: str) -> Any:
        """The MLflow run ``run_id``, or :class:`TrackingError` with a one-line message."""
        from mlflow.exceptions import MlflowException

        run_id = str(run_id).strip()
        if not run_id:
            raise TrackingError("no run id given; pass the id of an MLflow run (see `make mlflow-ui`)")
        try:
            return self.client.get_run(run_id)
        except MlflowException:
            raise TrackingError(f"no MLflow run {run_id!r} in {self.uri}; check the run id, or point "
                                "MLFLOW_TRACKING_URI at the store that holds it") from None


@contextlib.contextmanager
def open_store(uri: str | None = None) -> Iterator[Store]:
    """Open the tracking store (default :func:`tracking_uri`) for the duration of a block.

    MLflow's fluent API (``mlflow.start_run``, ``mlflow.sklearn.log_model``) reads a process-wide
    tracking URI; it is set for the block and restored afterwards, together with the
    ``MLFLOW_TRACKING_URI`` variable that :func:`mlflow.set_tracking_uri` also writes, so a
    library call never changes the caller's MLflow configuration.
    """
    quiet_mlflow()
    uri = uri or tracking_uri()
    db = _sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    import mlflow
    from mlflow.tracking import MlflowClient
    from mlflow.tracking._tracking_service import utils as _tracking_utils

    saved_uri = getattr(_tracking_utils, "_tracking_uri", None)
    saved_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield Store(uri=uri, client=MlflowClient(tracking_uri=uri))
    finally:
        _tracking_utils._tracking_uri = saved_uri
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env
