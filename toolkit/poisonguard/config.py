"""Configuration, checked before any work: one loader, one ``--set`` parser, declared policies.

Every stage that reads ``params.yaml`` (scan, drift, gate, ``expectations infer``, ``manifest
diff``) reads it through :func:`load_params`, and every ``--set KEY=VALUE`` goes through
:func:`parse_set`. What a section may hold is declared, not discovered: a :class:`Policy` is a
frozen tuple of :class:`Key` (name, kind, range, default, doc) and :meth:`Policy.validate` turns a
mapping into a frozen, validated one, or raises a one-line :class:`~poisonguard.errors.ConfigError`
naming the key, what is allowed and what to do::

    scan.outliers.policy.levle is not a policy key of outliers; allowed: max_flag_rate, min_rows.
    Fix the key or remove it.

Each detector with a batch policy declares it as its class attribute ``POLICY`` (see
:meth:`poisonguard.detectors.BaseDetector.check_config`); the scan checks every detector's
parameters and policy before it reads or fits anything. ``docs/configuration.md`` lists every
declared key (a test keeps it in step).

This module imports nothing heavy (PyYAML only inside :func:`load_params` and :func:`parse_set`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ConfigError

__all__ = ["Key", "Policy", "load_params", "load_document", "parse_set", "parse_value", "set_nested"]

#: The kinds a :class:`Key` may declare.
KINDS = ("int", "number", "bool", "str", "str_list")


@dataclasses.dataclass(frozen=True)
class Key:
    """One declared configuration key.

    Parameters
    ----------
    name : str
        The key as written in ``params.yaml``.
    kind : {"int", "number", "bool", "str", "str_list"}
        Its type (``number``: int or float, finite; never a bool).
    default : object
        Its value when not given.
    doc : str
        One line for ``docs/configuration.md`` and error messages.
    low, high : float or None, default=None
        Bounds of an ``int`` or ``number``.
    low_open, high_open : bool, default=False
        Whether the bound itself is excluded.
    choices : tuple of str or None, default=None
        Allowed values of a ``str`` (or of each item of a ``str_list``).
    nullable : bool, default=False
        Whether ``null`` is allowed (it means "off" or "the default rule").
    """

    name: str
    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TypeError(f"Key {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")

    def describe(self) -> str:
        """What the key accepts, in words: ``a number in (0, 1]``, ``true or false``..."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind in ("str", "str_list"):
            one = f"one of {', '.join(self.choices)}" if self.choices else "a string"
            text = one if self.kind == "str" else f"a list of names ({one})" if self.choices else "a list of names"
        else:
            noun = "a whole number" if self.kind == "int" else "a number"
            if self.low is not None and self.high is not None:
                text = (f"{noun} in {'(' if self.low_open else '['}{_num(self.low)}, "
                        f"{_num(self.high)}{')' if self.high_open else ']'}")
            elif self.low is not None:
                text = f"{noun} {'>' if self.low_open else '>='} {_num(self.low)}"
            elif self.high is not None:
                text = f"{noun} {'<' if self.high_open else '<='} {_num(self.high)}"
            else:
                text = noun
        return text + (" or null" if self.nullable else "")

    def check(self, value: Any, where: str) -> Any:
        """``value`` if the key accepts it (ints as ``int``, numbers as ``float``, lists as tuples),
        else a :class:`ConfigError` naming ``where.name``."""
        if value is None and self.nullable:
            return None
        if self._ok(value):
            if self.kind == "int":
                return int(value)
            if self.kind == "number":
                return float(value)
            if self.kind == "str_list":
                return tuple(value)
            return value
        raise ConfigError(f"{where}.{self.name} must be {self.describe()}; got {value!r}. Fix the value.")

    def _ok(self, v: Any) -> bool:
        if self.kind == "bool":
            return isinstance(v, bool)
        if self.kind == "str":
            return isinstance(v, str) and (self.choices is None or v in self.choices)
        if self.kind == "str_list":
            return (isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v)
                    and (self.choices is None or all(x in self.choices for x in v)))
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not _is_np_number(v):
            return False
        if self.kind == "int" and not float(v).is_integer():
            return False
        x = float(v)
        if not math.isfinite(x):
            return False
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        return not (self.high is not None and (x > self.high or (self.high_open and x == self.high)))


def _is_np_number(v: Any) -> bool:
    mod = type(v).__module__
    return mod == "numpy" and hasattr(v, "dtype") and v.dtype.kind in "iuf"


def _num(x: float) -> str:
    return "inf" if x == math.inf else f"{x:g}"


class Policy:
    """A frozen, declared set of :class:`Key` (a detector's batch policy, a stage's thresholds).

    Parameters
    ----------
    owner : str
        Whose keys these are, for messages ("outliers", "the gate").
    *keys : Key
        The keys, in the order the documentation lists them.
    kind : str, default="policy key"
        What one key is called in messages ("policy key", "threshold", "parameter").

    Examples
    --------
    >>> from poisonguard.config import Key, Policy
    >>> p = Policy("outliers", Key("min_rows", "int", 10, "fewest rows flagged", low=0))
    >>> dict(p.validate({"min_rows": 3}, where="scan.outliers.policy"))
    {'min_rows': 3}
    >>> p.validate({"min_row": 3}, where="scan.outliers.policy")
    Traceback (most recent call last):
    ...
    poisonguard.errors.ConfigError: scan.outliers.policy.min_row is not a policy key of outliers; allowed: min_rows. Fix the key or remove it.
    """

    __slots__ = ("owner", "keys", "kind", "_by_name")
    owner: str
    keys: tuple[Key, ...]
    kind: str
    _by_name: Mapping[str, Key]

    def __init__(self, owner: str, *keys: Key, kind: str = "policy key") -> None:
        names = [k.name for k in keys]
        if len(names) != len(set(names)):
            raise TypeError(f"Policy {owner!r}: duplicate keys in {names}")
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "keys", tuple(keys))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "_by_name", MappingProxyType({k.name: k for k in keys}))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Policy is frozen: cannot set {name!r}")

    def __repr__(self) -> str:
        return f"Policy({self.owner!r}, {', '.join(self.names)})"

    @property
    def names(self) -> tuple[str, ...]:
        """The key names, in declaration order."""
        return tuple(k.name for k in self.keys)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Key:
        return self._by_name[name]

    def defaults(self) -> Mapping[str, Any]:
        """Every key's default, as a read-only mapping."""
        return MappingProxyType({k.name: k.default for k in self.keys})

    def unknown(self, name: str, where: str) -> ConfigError:
        """The error for a key this policy does not declare."""
        return ConfigError(f"{where}.{name} is not a {self.kind} of {self.owner}; allowed: "
                           f"{', '.join(self.names) or '(none)'}. Fix the key or remove it.")

    def validate(self, values: Mapping[str, Any] | None, *, where: str) -> Mapping[str, Any]:
        """The defaults with ``values`` applied, every value checked; a read-only mapping.

        Raises
        ------
        ConfigError
            ``values`` is not a mapping, holds a key not declared here, or a value its key refuses.
        """
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where} must be a mapping of {self.kind}s ({', '.join(self.names)}); got "
                              f"{type(values).__name__} {values!r}. Fix the value.")
        out = dict(self.defaults())
        for name, value in values.items():
            if name not in self._by_name:
                raise self.unknown(str(name), where)
            out[name] = self._by_name[name].check(value, where)
        return MappingProxyType(out)


# -- reading params.yaml ---------------------------------------------------------------------------
def load_document(path: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """The whole of a params.yaml as a dict; None when no path is given or no such file exists
    (every stage runs with its defaults then; the CLI notes a missing ``--params`` file)."""
    if path is None:
        return None
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return None
    import yaml

    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]}); fix the file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (bad byte at offset {exc.start}); re-encode it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.strerror}); check the --params path") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level, got {type(doc).__name__}; fix the file")
    return doc


def load_params(path: str | os.PathLike[str] | None, section: str) -> dict[str, Any]:
    """Read ``section`` of a params.yaml: ``{}`` when no path is given, no such file exists or it
    has no such section. ``section`` may be dotted (``provenance.diff``).

    Raises
    ------
    ConfigError
        The file is not UTF-8 YAML, its top level or the section is not a mapping (the message
        names the file and the key).
    """
    doc = load_document(path)
    if doc is None:
        return {}
    value: Any = doc
    walked: list[str] = []
    for part in section.split("."):
        walked.append(part)
        value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: section {'.'.join(walked)!r} must be a mapping, got "
                              f"{type(value).__name__} {_clip(value)}; fix the file")
    return dict(value)


def _clip(v: Any, n: int = 60) -> str:
    s = repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


# -- --set KEY=VALUE -----------------------------------------------------------------------------
def parse_value(item: str, value: str, option: str = "--set") -> Any:
    """``value`` read as a YAML scalar (or flow list / mapping); malformed YAML is a ConfigError."""
    import yaml

    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{option} {item!r}: the value is not valid YAML ({first}); quote it or fix it") from None


def parse_set(item: str, *, min_parts: int = 2, example: str = "label_flip.n_neighbors=30",
              option: str = "--set") -> tuple[tuple[str, ...], Any]:
    """``A.B.C=VALUE`` into ``(("A", "B", "C"), value)``, the value read as YAML.

    Raises
    ------
    ConfigError
        No ``=``, fewer than ``min_parts`` dotted parts, an empty part, or a malformed value.
    """
    key, sep, value = item.partition("=")
    parts = tuple(p.strip() for p in key.split("."))
    if not sep or len(parts) < min_parts or not all(parts):
        shape = ".".join(["DETECTOR", "PARAM"][:min_parts]) if min_parts > 1 else "KEY"
        raise ConfigError(f"{option} {item!r}: expected {shape}=VALUE, e.g. {example}")
    return parts, parse_value(item, value, option)


def set_nested(target: dict[str, Any], path: Iterable[str], value: Any) -> None:
    """Set ``target[a][b]...[z] = value``, creating (or copying) the mappings on the way."""
    parts = list(path)
    node = target
    for p in parts[:-1]:
        child = node.get(p)
        node[p] = child = dict(child) if isinstance(child, Mapping) else {}
        node = child
    node[parts[-1]] = value
