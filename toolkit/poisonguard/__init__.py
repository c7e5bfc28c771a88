"""poisonguard: defend machine-learning training data against poisoning.

The public surface is re-exported here; submodules hold the details:
``poisonguard.data`` (loading, encoding), ``poisonguard.detectors`` (detectors and their
registry), ``poisonguard.scan``, ``poisonguard.attacks``, ``poisonguard.validation``
(Great Expectations), ``poisonguard.provenance`` (signed manifests), ``poisonguard.tracking``
(MLflow), ``poisonguard.gate`` and ``poisonguard.reports`` (the pipeline's verdict and its
reports), ``poisonguard.errors``.
Heavy dependencies (Great Expectations, MLflow, DVC) are imported only where used.
"""

from __future__ import annotations

from . import _env  # noqa: F401  # first: sets a malformed SOURCE_DATE_EPOCH aside before numpy reads it
from ._version import __version__
from .attacks import AttackResult, poison
from .data import Encoder, TabularDataset, load_dataset
from .errors import (
    ConfigError,
    DataError,
    DetectorError,
    PoisonguardError,
    ProvenanceError,
    SchemaError,
    UsageError,
)
from .gate import GatePolicy, Verdict, gate
from .scan import ScanResult, scan

__all__ = [
    "AttackResult",
    "ConfigError",
    "DataError",
    "DetectorError",
    "Encoder",
    "GatePolicy",
    "PoisonguardError",
    "ProvenanceError",
    "ScanResult",
    "SchemaError",
    "TabularDataset",
    "UsageError",
    "Verdict",
    "__version__",
    "gate",
    "load_dataset",
    "poison",
    "scan",
]
