"""Trigger rules as data: :class:`Condition` and :class:`TriggerRule`.

The backdoor detector finds them (``BackdoorTriggerDetector.triggers_``, the ``triggers`` of its
report section); anything that reads or stamps a rule can use these types without the detector.
The drift stage's trigger probes (``poisonguard.tracking.load_trigger_rules`` / ``stamp_rule``)
parse the rules they are given -- a scan report's, or a user's rules file -- into the same
:class:`Condition` with :meth:`Condition.parse`, which also takes the operators and key aliases
hand-written rules use.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["OPS", "Condition", "TriggerRule", "plain"]

#: The operators of a :class:`Condition` (the backdoor detector writes the first three).
OPS = ("==", ">=", "<=", ">", "<", "in")


def plain(v: Any) -> Any:
    """A numpy scalar as a Python one; an integral float as an int (so rules print and compare as written)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v


@dataclasses.dataclass(frozen=True)
class Condition:
    """One condition of a trigger rule: ``column op value``.

    ``op`` is one of :data:`OPS`: ``==``, ``>=``, ``<=`` (what the backdoor detector finds),
    ``>``, ``<``, and ``in`` (``value`` a list). Nothing is checked on construction, so a rule
    read from a file keeps an operator this version does not know until it is used.
    """

    column: str
    op: str
    value: Any

    @classmethod
    def parse(cls, c: Any) -> Condition:
        """A condition from a mapping ``{"column", "op", "value"}`` as a rules file gives it:
        ``feature`` for ``column``, ``operator`` for ``op`` (default ``==``; ``=`` is ``==``),
        ``values`` or ``threshold`` for ``value``. Raises :class:`ConfigError` when it is not a
        mapping or has no column or value; the operator is kept as written."""
        if not isinstance(c, Mapping):
            raise ConfigError(f"a trigger condition must be a mapping; got {c!r}")
        column = c.get("column", c.get("feature"))
        op = str(c.get("op", c.get("operator", "==")))
        value = c.get("value", c.get("values", c.get("threshold")))
        if column is None or value is None:
            raise ConfigError(f"trigger condition {dict(c)!r} needs 'column' and 'value'")
        return cls(str(column), "==" if op == "=" else op, value)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` that satisfy the condition (missing: False)."""
        s = frame[self.column]
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r} in {self.column!r}; the operators are {', '.join(OPS)}")
        if self.op == "in":
            return s.astype(object).isin(list(self.value)).to_numpy(dtype=bool, na_value=False)
        if self.op == "==":
            if isinstance(self.value, (int, float)) and not isinstance(self.value, bool) \
                    and pd.api.types.is_numeric_dtype(s.dtype):
                v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                return np.isclose(v, float(self.value), rtol=1e-9, atol=0.0)
            return (s.astype(object) == self.value).to_numpy(dtype=bool, na_value=False)
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            compare = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less}[self.op]
            return compare(v, float(self.value))

    def stamp_value(self, column: pd.Series) -> Any:
        """The value to write into ``column`` so that a row satisfies the condition: the value
        for ``==``, ``>=``, ``<=``; the next value past it for ``>`` / ``<`` (±1 for integers);
        the first listed value for ``in``. A numeric column's value given as a string is read
        as a number. Raises ``ValueError`` for a condition that cannot be stamped."""
        op, value = self.op, self.value
        if op == "in":
            if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not value:
                raise ValueError(f"'in' needs a non-empty list of values, got {value!r}")
            value = value[0]
        numeric = pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)
        if numeric and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"column {column.name!r} is numeric, the rule's value {value!r} is not") from None
        if op in (">", "<"):
            if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
                raise ValueError(f"{op!r} needs a number, got {value!r}")
            step = 1 if float(value).is_integer() else None
            if op == ">":
                value = value + step if step else float(np.nextafter(value, np.inf))
            else:
                value = value - step if step else float(np.nextafter(value, -np.inf))
        if op not in OPS:
            raise ValueError(f"the operator {op!r} cannot be stamped; stampable operators: {', '.join(OPS)}")
        return value

    def __str__(self) -> str:
        v = self.value
        return f"{self.column} {self.op} {v:.6g}" if isinstance(v, float) else f"{self.column} {self.op} {v}"

    def to_dict(self) -> dict[str, Any]:
        """``{"column", "op", "value"}``, the value as a plain Python scalar (see :func:`plain`)."""
        return {"column": self.column, "op": self.op, "value": plain(self.value)}

    def as_given(self) -> dict[str, Any]:
        """``{"column", "op", "value"}`` with the value exactly as given (a drift probe's rule)."""
        return {"column": self.column, "op": self.op, "value": self.value}


@dataclasses.dataclass(frozen=True)
class TriggerRule:
    """A suspected (or candidate) trigger: a conjunction of conditions and the label it points to.

    Attributes
    ----------
    conditions : tuple of Condition
        The feature-value conditions, all of which a row must satisfy.
    label : str
        The label column.
    target : object
        The label the rule's rows carry.
    n_rows : int
        Rows satisfying every condition (any label).
    n_target : int
        Of those, rows labelled ``target``.
    purity : float
        ``n_target / n_rows``.
    support : float
        ``n_rows`` / rows in the data.
    base_rate : float
        Share of ``target`` in the data.
    evidence : float
        ``-log10`` of the rule's p-value (purity under the base rate, times the co-occurrence of
        its conditions under independence); compared with ``log10(n_tests) + 2``.
    consistency : float or None
        Where the rule's rows sit, by their other features, between the other classes (0) and
        the target class (1); None when not measured.
    resembles : object or None
        The class the rule's rows most resemble by their other features.
    suspected : bool
        Whether the rule is reported as a trigger (its target-labelled rows are flagged).

    Examples
    --------
    >>> import pandas as pd
    >>> from poisonguard.detectors import Condition, TriggerRule
    >>> rule = TriggerRule(conditions=(Condition("hours", "==", 99),), label="y", target="a")
    >>> rule.mask(pd.DataFrame({"hours": [40, 99]})).tolist()
    [False, True]
    """

    conditions: tuple[Condition, ...]
    label: str
    target: Any
    n_rows: int = 0
    n_target: int = 0
    purity: float = 0.0
    support: float = 0.0
    base_rate: float = 0.0
    evidence: float = 0.0
    consistency: float | None = None
    resembles: Any = None
    suspected: bool = False

    @property
    def columns(self) -> list[str]:
        """The columns the rule conditions on."""
        return [c.column for c in self.conditions]

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` that carry the trigger (satisfy every condition)."""
        m = np.ones(len(frame), dtype=bool)
        for c in self.conditions:
            m &= c.mask(frame)
        return m

    def stamp(self, frame: pd.DataFrame, rows: Any = None) -> pd.DataFrame:
        """A copy of ``frame`` with the trigger applied to ``rows`` (default all): each
        condition's column set to its value (the bound, for ``>=`` and ``<=``). Used to probe
        whether a trained model has learned the trigger."""
        out = frame.copy()
        idx = out.index if rows is None else out.index[np.asarray(rows)]
        for c in self.conditions:
            out.loc[idx, c.column] = c.value
        return out

    def text(self) -> str:
        """``a >= 1 and b == 2 → label = target, 412 rows, 98 % purity``."""
        cond = " and ".join(str(c) for c in self.conditions)
        return f"{cond} → {self.label} = {self.target}, {self.n_rows} rows, {self.purity:.0%} purity"

    __str__ = text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (conditions as data, plus the readable text)."""
        return {
            "conditions": [c.to_dict() for c in self.conditions],
            "label": self.label,
            "target": plain(self.target),
            "n_rows": int(self.n_rows),
            "n_target": int(self.n_target),
            "purity": float(self.purity),
            "support": float(self.support),
            "base_rate": float(self.base_rate),
            "evidence": float(self.evidence),
            "consistency": None if self.consistency is None else float(self.consistency),
            "resembles": plain(self.resembles),
            "suspected": bool(self.suspected),
            "text": self.text(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TriggerRule:
        """Inverse of :meth:`to_dict` (the text is ignored)."""
        conds = tuple(Condition(c["column"], c["op"], c["value"]) for c in d["conditions"])
        keys = {f.name for f in dataclasses.fields(cls)} - {"conditions"}
        return cls(conditions=conds, **{k: v for k, v in d.items() if k in keys})
