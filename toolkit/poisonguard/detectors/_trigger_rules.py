"""Trigger rules as data: :class:`Condition` and :class:`TriggerRule`.

The backdoor detector finds them (``BackdoorTriggerDetector.triggers_``, the ``triggers`` of its
report section); anything that reads or stamps a rule can use these types without the detector.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Condition", "TriggerRule", "plain"]


def plain(v: Any) -> Any:
    """A numpy scalar as a Python one; an integral float as an int (so rules print and compare as written)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v


@dataclasses.dataclass(frozen=True)
class Condition:
    """One condition of a trigger rule: ``column op value``, op in ``==``, ``>=``, ``<=``."""

    column: str
    op: str
    value: Any

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` that satisfy the condition (missing: False)."""
        s = frame[self.column]
        if self.op == "==":
            if isinstance(self.value, (int, float)) and not isinstance(self.value, bool) \
                    and pd.api.types.is_numeric_dtype(s.dtype):
                v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                return np.isclose(v, float(self.value), rtol=1e-9, atol=0.0)
            return (s.astype(object) == self.value).to_numpy(dtype=bool, na_value=False)
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return v >= float(self.value) if self.op == ">=" else v <= float(self.value)

    def __str__(self) -> str:
        v = self.value
        return f"{self.column} {self.op} {v:.6g}" if isinstance(v, float) else f"{self.column} {self.op} {v}"

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "op": self.op, "value": plain(self.value)}


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
