"""poisonguard: defend machine-learning training data against poisoning.

The public surface is re-exported here; submodules hold the details:
``poisonguard.data`` (loading, encoding), ``poisonguard.detectors`` (detectors and their
registry), ``poisonguard.scan``, ``poisonguard.attacks``, ``poisonguard.validation``
(Great Expectations), ``poisonguard.provenance`` (signed manifests), ``poisonguard.tracking``
(MLflow), ``poisonguard.gate`` and ``poisonguard.reports`` (the pipeline's verdict and its
reports), ``poisonguard.errors``.

Names are resolved lazily (PEP 562): ``import poisonguard`` imports neither NumPy, pandas
nor scikit-learn, so ``poisonguard --help`` starts fast; ``poisonguard.scan`` imports
``poisonguard.scan`` and what it needs on first use. Heavy dependencies (Great Expectations,
MLflow, DVC) are imported only where used.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from . import _env  # noqa: F401  # first: sets a malformed SOURCE_DATE_EPOCH aside before numpy reads it
from .errors import (
    ConfigError,
    DataError,
    PoisonguardError,
    ProvenanceError,
    SchemaError,
    UsageError,
)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports on first use
    from ._version import __version__
    from .attacks import AttackResult, poison
    from .data import Encoder, TabularDataset, load_dataset
    from .gate import GatePolicy, Verdict, gate
    from .scan import ScanResult, scan

__all__ = [
    "AttackResult",
    "ConfigError",
    "DataError",
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

# public name -> the submodule that defines it (the errors are cheap: imported above). The
# version is read from the installed metadata (importlib.metadata), so it too waits for first use.
_LAZY: dict[str, str] = {
    "__version__": "_version",
    "AttackResult": "attacks",
    "poison": "attacks",
    "Encoder": "data",
    "TabularDataset": "data",
    "load_dataset": "data",
    "GatePolicy": "gate",
    "Verdict": "gate",
    "gate": "gate",
    "ScanResult": "scan",
    "scan": "scan",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups do not come here again
    return value


def __dir__() -> list[str]:
    # the public names, whether imported yet or not, the submodules imported so far, and the dunders
    submodules = {n for n, v in globals().items() if isinstance(v, types.ModuleType) and v.__name__ == f"{__name__}.{n}"}
    return sorted(set(__all__) | submodules | {n for n in globals() if n.startswith("__")})


class _Package(types.ModuleType):
    """The package's module type: keeps ``poisonguard.scan`` and ``poisonguard.gate`` the functions.

    Importing a submodule binds it as an attribute of its package, so the first
    ``from poisonguard.scan import ...`` (or ``from poisonguard.gate import ...``) would otherwise
    shadow the function of the same name that ``__all__`` exports.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
