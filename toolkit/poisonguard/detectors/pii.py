"""Sensitive data in training data: personal data and credentials, found locally and masked.

The open, local counterpart of Amazon Macie's managed data identifiers, for tables. Every
text- or integer-valued column (whatever its kind: categorical, text, id, label, numeric; card
numbers stored as integers are found too, and 9-digit integers in a column named like ``ssn``
are social security numbers) is scanned for:

============  ==========================================================================
kind          how it is recognised
============  ==========================================================================
email         ``local@domain.tld``
phone         ``+`` and 8-15 digits; North-American ``(415) 555-0132`` / ``415-555-0132``;
              national numbers with a leading 0 and separators (``020 7946 0958``)
card          13-19 digits (spaces or dashes allowed) with a known issuer prefix and a
              valid Luhn check digit
iban          country code, check digits and the country's length, mod-97 checked
ssn           US social security number ``123-45-6789`` (valid area, group and serial)
ip            IPv4 dotted quads; IPv6 addresses (validated by :mod:`ipaddress`)
aws_key_id    AWS access key ids (``AKIA``, ``ASIA``... and 16 characters)
aws_secret    40-character base64 tokens with upper, lower case and digits and high entropy
private_key   ``-----BEGIN ... PRIVATE KEY-----`` blocks
credential    GitHub, Slack, Google API and Stripe tokens, JSON web tokens, ``password=...``
              style assignments and passwords in URLs
============  ==========================================================================

Each pattern is first screened on the column's distinct values with a vectorised RE2
search (pyarrow); a value is matched precisely and validated in Python only against the kinds
whose screen it passed, and the findings are mapped back to rows. Every pattern runs in time
linear in the cell's length (bounded or anchored quantifiers; no cap on the scanned length):
a 1 MB cell takes about a second.

**Nothing raw leaves the detector**: findings keep the kind, column, row, character span
(in memory only) and a masked form (``j***@e***.com``, ``****-****-****-1234``,
``AKIA************WXYZ``, ``***-**-6789``); reports, reasons and :meth:`SensitiveDataScanner.redact`
use the masked form only.

This family flags privacy risk, not poisoning: by default it does not gate (``gate=False``):
rows are not quarantined and the verdict does not change because of it; its findings have
their own report section and ``scores.csv`` column. ``gate=True`` makes it a gating detector
(rows with findings are quarantined, and any finding makes the batch suspected).
"""

from __future__ import annotations

import bisect
import dataclasses
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import BaseDetector

__all__ = ["KINDS", "Finding", "SensitiveDataScanner", "find_sensitive", "looks_sensitive", "mask_value"]


@dataclasses.dataclass(frozen=True)
class Finding:
    """One sensitive value: where it is and its masked form (never the raw value).

    ``start``/``end`` locate the value in the cell (used to redact it); they are not reported.
    """

    row: int
    column: str
    kind: str
    masked: str
    start: int = dataclasses.field(default=0, repr=False)
    end: int = dataclasses.field(default=0, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"row": int(self.row), "column": self.column, "kind": self.kind, "masked": self.masked}


# ----------------------------------------------------------------------------------- validators
def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|6011|65|64[4-9]|"
                          r"35(?:2[89]|[3-8]\d)|30[0-5]|36|38|62)")


def _card(m: str) -> bool:
    digits = re.sub(r"\D", "", m)
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits) or not _luhn(digits):
        return False
    groups = re.split(r"[ -]", m)
    return len(groups) == 1 or all(len(g) >= 3 for g in groups)


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def _iban(m: str) -> bool:
    s = m.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(s[:2]) != len(s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _phone(m: str) -> bool:
    digits = re.sub(r"\D", "", m)
    if m.startswith("+"):
        return 8 <= len(digits) <= 15
    if digits.startswith("0"):
        return 10 <= len(digits) <= 11
    return len(digits) == 10 or (len(digits) == 11 and digits[0] == "1")


def _ip(m: str) -> bool:
    if ":" in m and "::" not in m and m.count(":") != 7:
        return False  # not IPv6: eight groups, or fewer with "::"
    try:
        addr = ipaddress.ip_address(m)
    except ValueError:
        return False
    return not addr.is_unspecified


def _entropy(s: str) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _secret(m: str) -> bool:
    return (any(c.isupper() for c in m) and any(c.islower() for c in m) and any(c.isdigit() for c in m)
            and _entropy(m) >= 4.2)


# ----------------------------------------------------------------------------------- maskers
def _keep_last_digits(m: str, keep: int) -> str:
    total = sum(c.isdigit() for c in m)
    out, seen = [], 0
    for c in m:
        if c.isdigit():
            seen += 1
            out.append(c if seen > total - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def _mask_email(m: str) -> str:
    local, _, domain = m.partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def _mask_card(m: str) -> str:
    digits = re.sub(r"\D", "", m)
    stars = "*" * (len(digits) - 4)
    return "-".join(stars[i:i + 4] for i in range(0, len(stars), 4)) + "-" + digits[-4:]


def _mask_iban(m: str) -> str:
    s = m.replace(" ", "").upper()
    return s[:2] + "*" * (len(s) - 6) + s[-4:]


def _mask_ip(m: str) -> str:
    if ":" in m:
        return m.split(":")[0] + ":****:****:…"
    return m.split(".")[0] + ".*.*.*"


_TOKEN_PREFIX = re.compile(r"gh[pousr]_|github_pat_|xox[abposr]-|AIza|(?:sk|rk)_(?:live|test)_|eyJ")


def _mask_token(m: str) -> str:
    prefix = _TOKEN_PREFIX.match(m)
    return (prefix.group(0) if prefix else "") + "*" * 8


def _mask_private_key(m: str) -> str:
    head = re.match(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----", m)
    return (head.group(0) if head else "-----BEGIN PRIVATE KEY-----") + f" [redacted, {len(m)} chars]"


@dataclasses.dataclass(frozen=True)
class _Kind:
    name: str
    screen: str                      # RE2 pattern (pyarrow) screening candidate values
    pattern: re.Pattern[str]         # precise Python pattern; group "v" (or the whole match) is the value
    validate: Callable[[str], bool] | None
    mask: Callable[[str], str]


_B64 = r"A-Za-z0-9/+="
#: The kinds, in priority order (an earlier kind's span hides overlapping later matches).
KINDS: tuple[_Kind, ...] = (
    _Kind("private_key", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY",
          re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY"
                     r"(?: BLOCK)?-----|[\s\S]*)", re.S), None, _mask_private_key),
    _Kind("aws_key_id", r"(AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}",
          re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}"
                     r"(?![A-Z0-9])"), None, lambda m: m[:4] + "*" * 12 + m[-4:]),
    _Kind("credential", r"(gh[pousr]_|github_pat_|xox[abposr]-|AIza|(sk|rk)_(live|test)_|eyJ|(?i:passw|pwd|secret|"
          r"api.?key|token)|://[^\s/@]+:[^\s/@]+@)",
          re.compile(r"(?P<v>\bgh[pousr]_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b|"
                     r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])|"
                     r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b|"
                     r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})|"
                     r"(?i:\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)\b"
                     r"[\"']?\s*[:=]\s*[\"']?)(?P<w>[^\s\"',;]{4,})|"
                     r"(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^\s:/@]+:(?P<u>[^\s:/@]+)@"), None,
          lambda m: _mask_token(m)),
    _Kind("aws_secret", r"[A-Za-z0-9/+=]{40}",
          re.compile(rf"(?<![{_B64}])[{_B64}]{{40}}(?![{_B64}])"), _secret, lambda m: "*" * 8 + f" [{len(m)} chars]"),
    _Kind("card", r"\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d",
          re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w])"), _card, _mask_card),
    _Kind("iban", r"[A-Z]{2}\d{2}( ?[A-Z0-9]){4}",
          re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Z0-9])"), _iban, _mask_iban),
    _Kind("ssn", r"\d{3}[- ]\d{2}[- ]\d{4}",
          re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])"), None,
          lambda m: "***-**-" + m[-4:]),
    _Kind("email", r"@[A-Za-z0-9-]+\.",
          re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])"),
          None, _mask_email),
    _Kind("ip", r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)",
          re.compile(r"(?<![\w.:])(?:(?:\d{1,3}\.){3}\d{1,3}|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})(?![\w.:])"),
          _ip, _mask_ip),
    _Kind("phone", r"(\+\d|\d{3}[\s.-]\d{3}[\s.-]\d{4}|\(\d{3}\)|0\d{2,4}[\s-]\d{3})",
          re.compile(r"(?<![\w+])(?:\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}\d{0,4}|(?:1[\s.-])?(?:\(\d{3}\)\s?|\d{3}[\s.-])"
                     r"\d{3}[\s.-]\d{4}|0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4})(?![\w])"), _phone,
          lambda m: _keep_last_digits(m, 2)),
)
_BY_NAME = {k.name: k for k in KINDS}


def mask_value(kind: str, value: str) -> str:
    """The masked form of a sensitive ``value`` of ``kind`` (see :data:`KINDS`)."""
    return _BY_NAME[kind].mask(value)


#: Words that, just before a number, say it is not a payment card (Macie-style keyword proximity).
_NOT_CARD = re.compile(r"(?i)\b(?:invoice|order|ref|reference|tracking|serial|isbn|sku|ean|upc|id|no)\b[\s#:.-]*$")


def _valid_end(k: _Kind, text: str, s: int, e: int) -> int | None:
    """End of the longest valid value starting at ``s`` (dropping trailing space-separated groups,
    so ``DE89 3704 ... 00 ISBN`` still yields the IBAN), or None."""
    assert k.validate is not None
    if k.name == "card" and _NOT_CARD.search(text[max(0, s - 16):s]):
        return None
    value = text[s:e]
    if k.name == "card" and not _CARD_PREFIX.match(re.sub(r"\D", "", value[:12])):
        return None  # no shorter prefix of the match can be a card either
    if k.validate(value):
        return e
    if k.name in ("iban", "card"):
        shortest = 13 if k.name == "card" else 15  # digits of a card, characters of an IBAN, at least
        cut = [i for i, ch in enumerate(value) if ch in " -"]
        for i in reversed(cut):
            if sum(ch.isalnum() for ch in value[:i]) < shortest:
                break
            if k.validate(value[:i]):
                return s + i
    return None


def _scan_value(text: str, kinds: tuple[_Kind, ...]) -> list[tuple[str, int, int, str]]:
    """``(kind, start, end, masked)`` of every sensitive value in ``text`` (overlaps resolved by priority).

    Linear in the length of ``text``: every pattern's quantifiers are bounded or anchored (no
    quadratic backtracking), and a match is checked against the spans of earlier kinds by a binary
    search in their sorted, disjoint starts and ends (one kind's matches never overlap each other).
    """
    starts: list[int] = []  # spans taken by earlier kinds, sorted and disjoint
    ends: list[int] = []
    out = []
    for k in kinds:
        taken = []
        for m in k.pattern.finditer(text):
            grp = next((g for g in ("v", "w", "u") if g in m.re.groupindex and m.group(g)), None)
            s, e = (m.start(grp), m.end(grp)) if grp else (m.start(), m.end())
            i = bisect.bisect_left(starts, e)  # the spans starting before e; the last one may reach past s
            if i and ends[i - 1] > s:
                continue
            if k.validate is not None:
                end = _valid_end(k, text, s, e)
                if end is None:
                    continue
                e = end
            value = text[s:e]
            taken.append((s, e))
            out.append((k.name, s, e, k.mask(value)))
        if taken:
            merged = sorted([*zip(starts, ends), *taken])
            starts, ends = [a for a, _ in merged], [b for _, b in merged]
    return out


def looks_sensitive(text: str) -> bool:
    """Whether ``text`` holds any sensitive value (used by other detectors to avoid quoting one)."""
    return bool(_scan_value(text, KINDS))


def find_sensitive(values: pd.Series, column: str, *, kinds: tuple[str, ...] | None = None) -> list[Finding]:
    """Sensitive values in one column (``values`` indexed by row position).

    Distinct values are screened with RE2 (pyarrow) first; only candidates are matched in Python.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chosen = KINDS if kinds is None else tuple(k for k in KINDS if k.name in kinds)
    s = values.dropna()
    if s.empty or not chosen:
        return []
    codes, uniq = pd.factorize(s.astype(str), sort=False)
    values = np.asarray(uniq, dtype=object)
    arr = pa.array(values, type=pa.large_string())
    # each kind's screen is a necessary condition of its pattern: a value is matched precisely only
    # against the kinds whose screen it passed (in priority order)
    screens = np.stack([np.asarray(pc.fill_null(pc.match_substring_regex(arr, k.screen), False)) for k in chosen])
    found: dict[int, list[tuple[str, int, int, str]]] = {}
    for i in np.flatnonzero(screens.any(axis=0)).tolist():
        hits = _scan_value(str(values[i]), tuple(k for k, hit in zip(chosen, screens[:, i].tolist()) if hit))
        if hits:
            found[i] = hits
    if not found:
        return []
    rows = s.index.to_numpy()
    hit_codes = np.fromiter(found, dtype=np.int64)
    sel = np.flatnonzero(np.isin(codes, hit_codes))
    out = []
    for r, c in zip(rows[sel].tolist(), codes[sel].tolist()):
        for kind, a, b, masked in found[c]:
            out.append(Finding(int(r), column, kind, masked, a, b))
    return out


#: Column names that say an integer column holds US social security numbers (keyword proximity).
SSN_COLUMN = re.compile(r"(?i)(?:^|[^a-z])ssn(?:$|[^a-z])|social.?sec")


def integer_ssns(values: pd.Series, column: str) -> list[Finding]:
    """SSNs stored as integers (``123456789``, leading zeros lost) in a column named like one."""
    out = []
    for r, v in values.dropna().items():
        text = str(v)
        digits = text.zfill(9)
        if (len(digits) == 9 and text.isdigit() and digits[:3] not in ("000", "666") and digits[0] != "9"
                and digits[3:5] != "00" and digits[5:] != "0000"):
            out.append(Finding(int(r), column, "ssn", "*****" + digits[-4:], 0, len(text)))
    return out


def _merge(found: list[Finding], extra: list[Finding]) -> list[Finding]:
    """``found`` plus the cells of ``extra`` that ``found`` has nothing in."""
    cells = {f.row for f in found}
    return found + [f for f in extra if f.row not in cells]


def _masked_text(text: str, findings: list[Finding]) -> str:
    """``text`` with each finding's span replaced by its masked form, in one pass."""
    parts, pos = [], 0
    for f in sorted(findings, key=lambda f: f.start):
        parts += [text[pos:f.start], f.masked]
        pos = f.end
    return "".join(parts) + text[pos:]


class SensitiveDataScanner(BaseDetector):
    """Personal data and credentials in text- and integer-valued columns, masked (registered as ``sensitive_data``).

    Parameters
    ----------
    kinds : list of str, default=None
        Kinds to look for (see :data:`KINDS`); None looks for all.
    gate : bool, default=False
        Whether findings gate: quarantine the rows and make the batch suspected. Off by default:
        this family reports privacy risk, not poisoning.
    max_findings : int, default=1000
        Findings listed in the report (all are counted).
    contamination : "auto" or float in (0, 0.5], default="auto"
        "auto" flags (in this detector's column) the rows with at least one finding.

    Attributes
    ----------
    findings_ : list of Finding
        Every finding (masked values only).
    counts_ : dict
        Findings per kind and per column.
    raw_scores_, threshold_, offset_, scale_, suspicion_, labels_, n_features_in_
        See :class:`~poisonguard.detectors.BaseDetector` (raw score: number of kinds found in the row).

    Examples
    --------
    >>> import pandas as pd
    >>> from poisonguard.data import TabularDataset
    >>> from poisonguard.detectors import SensitiveDataScanner
    >>> ds = TabularDataset.from_frame(pd.DataFrame({"note": ["mail jane@example.com", "ok"], "x": [1.0, 2.0]}))
    >>> det = SensitiveDataScanner().scan_fit(ds, ds.encode(), None)
    >>> [f.to_dict() for f in det.findings_]
    [{'row': 0, 'column': 'note', 'kind': 'email', 'masked': 'j***@e***.com'}]
    """

    name: ClassVar[str] = "sensitive_data"
    sparse_evidence: ClassVar[bool] = True
    family: ClassVar[str] = "sensitive"
    requires_y: ClassVar[bool] = False
    requires_features: ClassVar[bool] = False  # it reads the text and integer columns themselves

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseDetector._parameter_constraints,
        "kinds": [list, tuple, None],
        "gate": ["boolean"],
        "max_findings": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, *, kinds: list[str] | None = None, gate: bool = False, max_findings: int = 1000,
                 contamination: str | float = "auto") -> None:
        self.kinds = kinds
        self.gate = gate
        self.max_findings = max_findings
        self.contamination = contamination

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # it reads text cells
        return tags

    @property  # type: ignore[override]
    def gates(self) -> bool:  # type: ignore[override]  # the scan reads it as an attribute
        """Whether this detector's flags count towards quarantine and the verdict (``gate``)."""
        return bool(self.gate)

    def _check_config(self, where: str) -> None:
        from ..errors import ConfigError

        unknown = sorted(set(self.kinds or ()) - set(_BY_NAME))
        if unknown:
            raise ConfigError(f"{where}.kinds: {', '.join(map(repr, unknown))} is not a kind of {self.name}; allowed: "
                              f"{', '.join(_BY_NAME)}. Fix the kind or remove it.")

    def _check_kinds(self) -> tuple[str, ...] | None:
        if self.kinds is None:
            return None
        unknown = sorted(set(self.kinds) - set(_BY_NAME))
        if unknown:
            raise ValueError(f"The 'kinds' parameter of SensitiveDataScanner got unknown kinds {unknown}; "
                             f"the kinds are: {', '.join(_BY_NAME)}")
        return tuple(self.kinds)

    def fit(self, X: Any, y: Any = None) -> SensitiveDataScanner:
        """Scan the cells of ``X`` (a frame or an array) for sensitive values. Returns ``self``."""
        self._validate_params()
        kinds = self._check_kinds()
        if isinstance(X, pd.DataFrame):
            frame = X.reset_index(drop=True)
            self.n_features_in_ = frame.shape[1]
        else:
            arr = validate_data(self, X, dtype=None, ensure_min_samples=1)
            frame = pd.DataFrame(np.asarray(arr))
        self._scan(frame, [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)], kinds)
        return self

    def scan_fit(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> SensitiveDataScanner:
        """Scan every text-valued column of ``ds`` (any kind, label and id columns included)."""
        self._validate_params()
        kinds = self._check_kinds()
        validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1, ensure_min_features=0)
        frame = ds.frame
        cols = [c for c in frame.columns if not (pd.api.types.is_float_dtype(frame[c].dtype)
                                                 or pd.api.types.is_bool_dtype(frame[c].dtype)
                                                 or pd.api.types.is_datetime64_any_dtype(frame[c].dtype))]
        self._scan(frame, cols, kinds)
        return self

    def _scan(self, frame: pd.DataFrame, columns: list[Any], kinds: tuple[str, ...] | None) -> None:
        n = len(frame)
        findings: list[Finding] = []
        self._raw_numbers: dict[str, str] = {}  # digits of number-typed findings -> masked (memory only)
        for col in columns:
            s = frame[col]
            values = pd.Series(s.to_numpy(dtype=object), index=np.arange(n))
            found = find_sensitive(values, str(col), kinds=kinds)
            if pd.api.types.is_integer_dtype(s.dtype):
                if (kinds is None or "ssn" in kinds) and SSN_COLUMN.search(str(col)):
                    found = _merge(found, integer_ssns(values, str(col)))
                text = values.dropna().astype(str)
                for f in found:
                    self._raw_numbers[text[f.row][f.start:f.end]] = f.masked
            findings += found
        findings.sort(key=lambda f: (f.row, f.column, f.start))
        self.findings_ = findings
        self.columns_scanned_ = [str(c) for c in columns]
        by_kind = Counter(f.kind for f in findings)
        by_col = Counter(f.column for f in findings)
        self.counts_ = {"by_kind": dict(sorted(by_kind.items())), "by_column": dict(sorted(by_col.items()))}
        raw = np.zeros(n)
        if findings:
            rows = np.array([f.row for f in findings])
            kind_ids = np.array([list(_BY_NAME).index(f.kind) for f in findings])
            pairs = np.unique(rows * len(_BY_NAME) + kind_ids)
            raw = np.bincount(pairs // len(_BY_NAME), minlength=n).astype(np.float64)
        self._set_threshold(raw)

    def _auto_threshold(self, raw: np.ndarray) -> float:
        return 0.5

    def scan_pvalues_new(self, ds: Any, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """Evidence for other rows (a scan on Spark, per partition): the scan is row by row, so the
        rows of ``ds`` are scanned by a copy with the same parameters (this one keeps its findings)."""
        from sklearn.base import clone

        return clone(self).scan_fit(ds, X, y).pvalues_

    def redactor(self) -> Any:
        """A function ``frame -> frame`` with this detector's kinds of findings masked in any frame
        (for outputs written in partitions, where the findings of the fit do not reach)."""
        params = self.get_params(deep=False)

        def redact(frame: pd.DataFrame) -> pd.DataFrame:
            from ..data import TabularDataset

            if len(frame) == 0:
                return frame
            ds = TabularDataset.from_frame(frame)
            det = type(self)(**params).scan_fit(ds, np.zeros((len(frame), 0)), None)
            out = det.redact(ds.frame)
            out.index = frame.index
            return out

        return redact

    def _pvalues(self, raw: np.ndarray) -> np.ndarray:
        """A value that matches a pattern and its checksum is a finding, not a statistic: rows with
        one get the floor p-value (quarantined when the scanner gates), the others 1 (not tested)."""
        return np.where(raw > 0.5, 1e-300, 1.0)

    # ------------------------------------------------------------------ outputs
    def redact(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` (indexed by row, as the scanned frame) with every finding masked in place.

        Rows absent from ``frame`` are skipped, so it applies to any subset (clean, quarantine).
        """
        check_is_fitted(self)
        if not self.findings_:
            return frame
        out = frame.copy()
        by_cell: dict[tuple[int, str], list[Finding]] = {}
        for f in self.findings_:
            by_cell.setdefault((f.row, f.column), []).append(f)
        by_col: dict[str, dict[int, list[Finding]]] = {}
        for (row, col), fs in by_cell.items():
            by_col.setdefault(col, {})[row] = fs
        for col, cells in by_col.items():
            if col not in out.columns:
                continue
            # one object array per column, assigned back once (setting Arrow-backed cells one by
            # one copies the column each time)
            pos_of = pd.Index(out.index).get_indexer(list(cells))
            values = out[col].to_numpy(dtype=object, na_value=None).copy()
            for p, fs in zip(pos_of.tolist(), cells.values()):
                if p >= 0:
                    values[p] = _masked_text(str(values[p]), fs)
            out[col] = pd.Series(values, index=out.index, dtype=object)
        return out

    def redact_text(self, texts: list[str]) -> list[str]:
        """``texts`` with every sensitive value masked: what the patterns find (any kind) and the
        numbers found in number-typed columns, wherever they are quoted (reasons, ids, reports)."""
        check_is_fitted(self)
        if not texts:
            return texts
        series = pd.Series(list(texts), dtype=object)
        by_text: dict[int, list[Finding]] = {}
        for f in find_sensitive(series, "text"):
            by_text.setdefault(f.row, []).append(f)
        out = [_masked_text(t, by_text[i]) if i in by_text else t for i, t in enumerate(texts)]
        numbers = getattr(self, "_raw_numbers", {})
        if numbers:
            out = [re.sub(r"\d+", lambda m: numbers.get(m.group(), m.group()), t) for t in out]
        return out

    def row_reasons(self, ds: Any, rows: np.ndarray) -> list[str]:
        check_is_fitted(self)
        by_row: dict[int, list[Finding]] = {}
        for f in self.findings_:
            by_row.setdefault(f.row, []).append(f)
        out = []
        for r in np.asarray(rows, dtype=np.int64).tolist():
            fs = by_row.get(r, [])
            shown = ", ".join(f"{f.kind} in {f.column!r} ({f.masked})" for f in fs[:3])
            out.append(f"{self.name}: {shown}" + (f" and {len(fs) - 3} more" if len(fs) > 3 else ""))
        return out

    def report_section(self, ds: Any) -> dict[str, Any]:
        check_is_fitted(self)
        return {
            "privacy_risk": bool(self.findings_),
            "gates": bool(self.gate),
            "n_findings": len(self.findings_),
            "n_rows": int((self.labels_ == -1).sum()),
            "columns_scanned": self.columns_scanned_,
            **self.counts_,
            "findings": [f.to_dict() for f in self.findings_[: self.max_findings]],
        }

    def batch_finding(self, ds: Any) -> tuple[bool, str]:
        """With ``gate=True``: suspected when anything sensitive was found (never called otherwise)."""
        check_is_fitted(self)
        if not self.findings_:
            return False, ""
        kinds = ", ".join(f"{k} x{v}" for k, v in self.counts_["by_kind"].items())
        return True, f"sensitive data in {int((self.labels_ == -1).sum())} rows ({kinds})"
