"""Detectors and their registry.

A registry maps names to detector classes. :func:`available` lists every registered
detector, :func:`default` the ones ``poisonguard scan`` runs when none are named.
Third-party packages add detectors through the entry-point group ``poisonguard.detectors``
(each entry point names a :class:`BaseDetector` subclass); a plugin that fails to load
raises a :class:`PluginWarning` and is skipped. :func:`register` refuses to overwrite a
name unless asked to.
"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from typing import Any

from ..errors import ConfigError
from ._base import BaseDetector, OutlierDetectorMixin, suspicion_scale, to_suspicion
from .backdoor import BackdoorTriggerDetector, Condition, TriggerRule
from .duplicates import DuplicateDetector
from .label_flip import ConfidentLearning, KNNLabelDisagreement, LabelFlipDetector
from .outliers import OutlierEnsemble
from .pii import Finding, SensitiveDataScanner

__all__ = [
    "BackdoorTriggerDetector",
    "BaseDetector",
    "Condition",
    "ConfidentLearning",
    "DuplicateDetector",
    "Finding",
    "KNNLabelDisagreement",
    "LabelFlipDetector",
    "OutlierDetectorMixin",
    "OutlierEnsemble",
    "PluginWarning",
    "SensitiveDataScanner",
    "TriggerRule",
    "available",
    "default",
    "get",
    "register",
    "suspicion_scale",
    "to_suspicion",
]

ENTRY_POINT_GROUP = "poisonguard.detectors"


class PluginWarning(UserWarning):
    """A detector plugin could not be loaded."""


_REGISTRY: dict[str, type[BaseDetector]] = {}
_DEFAULTS: list[str] = []
_plugins_loaded = False


def register(cls: type[BaseDetector] | None = None, *, name: str | None = None, default: bool = False,
             overwrite: bool = False) -> Any:
    """Register a detector class (usable as a decorator).

    Parameters
    ----------
    cls : type
        A :class:`BaseDetector` subclass.
    name : str, default=None
        Registry name; defaults to ``cls.name``.
    default : bool, default=False
        Whether ``poisonguard scan`` runs it when no detectors are named.
    overwrite : bool, default=False
        Replace an existing registration of the same name instead of raising.
    """

    def deco(c: type[BaseDetector]) -> type[BaseDetector]:
        if not (isinstance(c, type) and issubclass(c, BaseDetector)):
            raise TypeError(f"{c!r} is not a poisonguard.detectors.BaseDetector subclass")
        key = name or c.name
        if key in _REGISTRY and _REGISTRY[key] is not c and not overwrite:
            raise ValueError(f"a detector named {key!r} is already registered ({_REGISTRY[key].__module__}."
                             f"{_REGISTRY[key].__qualname__}); pass overwrite=True to replace it")
        _REGISTRY[key] = c
        if default and key not in _DEFAULTS:
            _DEFAULTS.append(key)
        return c

    return deco(cls) if cls is not None else deco


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            register(cls, name=ep.name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the scan
            warnings.warn(f"detector plugin {ep.name!r} ({ep.value}) failed to load: {exc}", PluginWarning,
                          stacklevel=2)


def available() -> list[str]:
    """Names of every registered detector (built-in and plugins), sorted."""
    _load_plugins()
    return sorted(_REGISTRY)


def default() -> list[str]:
    """Names of the detectors that run when none are named, in registration order."""
    return list(_DEFAULTS)


def get(name: str) -> type[BaseDetector]:
    """The detector class registered as ``name``; unknown names raise :class:`~poisonguard.errors.ConfigError`
    (a :class:`~poisonguard.errors.UsageError`) listing the registered ones."""
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown detector {name!r}; available detectors: {', '.join(available())}. "
                          "Fix the name (see `poisonguard detectors`).") from None


register(LabelFlipDetector, default=True)
register(ConfidentLearning)
register(KNNLabelDisagreement)
register(OutlierEnsemble, default=True)
register(BackdoorTriggerDetector, default=True)
register(DuplicateDetector, default=True)
register(SensitiveDataScanner, default=True)
