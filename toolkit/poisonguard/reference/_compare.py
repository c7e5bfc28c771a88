""":func:`compare` and its steps: row delta, sources, label shift seen by a trusted model, distribution shift, per source."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._threads import threads_for
from ..data import TabularDataset, as_dataset
from ..errors import UsageError
from ._load import load_reference
from ._policy import MISSING, NAME, policy
from ._prepare import Prepared, prepare
from ._report import ReferenceReport
from ._shift import distribution_shift, js_shift, shares, shift_text


def _trusted_model(X: np.ndarray, y: np.ndarray, Xq: np.ndarray, k: int, cv: int,
                   seed: int | None, groups: list[list[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities on the trusted rows and probabilities of the query rows (``groups``:
    the encoding's categorical groups, read natively by the boosted model)."""
    from sklearn.base import clone

    from ..detectors.label_flip import MAX_TRAIN_ROWS, default_estimator, oof_proba

    counts = np.bincount(y, minlength=k)
    est = default_estimator(seed, int(counts[counts > 0].min()), n_rows=int(y.size), categorical_groups=groups)
    oof = oof_proba(est, X, y, k, cv=cv, random_state=seed, max_train_rows=MAX_TRAIN_ROWS)
    fit_rows = np.arange(y.size)
    if y.size > MAX_TRAIN_ROWS:
        fit_rows = np.sort(np.random.default_rng(seed).choice(y.size, size=MAX_TRAIN_ROWS, replace=False))
    proba = np.zeros((Xq.shape[0], k))
    if Xq.shape[0]:
        with threads_for(fit_rows.size):
            model = clone(est).fit(X[fit_rows], y[fit_rows])
        proba[:, model.classes_] = model.predict_proba(Xq)
    return oof, proba


class _GroupTest:
    """Disagreement of one grouping (classes, sources, source-and-class) against its expectation."""

    def __init__(self, n: np.ndarray, d: np.ndarray, expected: np.ndarray, var: np.ndarray,
                 pol: Mapping[str, Any]) -> None:
        self.n = n
        self.rate = np.divide(d, n, out=np.zeros(n.shape), where=n > 0)
        self.expected = expected
        margin = np.maximum(float(pol["min_excess"]), float(pol["z"]) * np.sqrt(np.maximum(var, 0.0)))
        self.threshold = np.minimum(expected + margin, 1.0)
        self.flagged = (n >= int(pol["min_rows"])) & (self.rate > self.threshold)

    def row(self, i: int) -> dict[str, Any]:
        return {"rows": int(self.n[i]), "disagreement": round(float(self.rate[i]), 4),
                "expected": round(float(self.expected[i]), 4), "threshold": round(float(self.threshold[i]), 4),
                "flagged": bool(self.flagged[i])}


class _StratumTest(_GroupTest):
    """Disagreement in one confidence stratum of each class, where expected rates are often near 0.

    Exact binomial test (normal approximations fail for a handful of expected disagreements): the
    new rows' disagreement count against the Wilson upper bound (``z``) of the trusted rate, at the
    one-sided level of ``z`` standard deviations; and the rate must exceed the expected one by ``excess``.
    """

    def __init__(self, n: np.ndarray, d: np.ndarray, expected: np.ndarray, n_trusted: np.ndarray, excess: float,
                 pol: Mapping[str, Any]) -> None:
        from scipy.stats import binom, norm

        z = float(pol["z"])
        self.n = n
        self.rate = np.divide(d, n, out=np.zeros(n.shape), where=n > 0)
        self.expected = expected
        nt = np.maximum(n_trusted, 1.0)
        upper = (expected + z * z / (2 * nt) + z * np.sqrt(expected * (1 - expected) / nt + z * z / (4 * nt * nt))) \
            / (1 + z * z / nt)
        critical = binom.isf(norm.sf(z), n.astype(np.int64), np.clip(upper, 0.0, 1.0))
        self.threshold = np.minimum(np.maximum(expected + excess, np.divide(critical, n, out=np.ones(n.shape),
                                                                            where=n > 0)), 1.0)
        self.flagged = (n >= int(pol["min_rows"])) & (n_trusted >= int(pol["min_rows"])) & (self.rate > self.threshold)


@dataclasses.dataclass
class _Findings:
    """What the steps of :func:`compare` find, in the order they find it."""

    reasons: list[str]
    suspicion: np.ndarray
    row_reasons: dict[int, str]
    #: the trusted model's view (:func:`_label_shift`): the labelled focus rows, their label codes and
    #: the model's probabilities of them; its out-of-fold probabilities of the trusted rows and their codes
    model: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None


@dataclasses.dataclass
class _Sources:
    """The new rows' source codes and names, and the trusted rows' source names (when it has the column)."""

    codes: np.ndarray
    names: list[str]
    trusted: np.ndarray | None


def _row_delta(prep: Prepared) -> dict[str, Any]:
    """The ``delta`` section: added, changed, unchanged and removed rows, and the label edits."""
    new, trusted, status, focus = prep.new, prep.trusted, prep.status, prep.focus
    n = new.n_rows
    delta: dict[str, Any] = {
        "rows_new": n, "rows_trusted": trusted.n_rows,
        "added": int((status == 1).sum()), "changed": int((status == 2).sum()),
        "unchanged": int((status == 0).sum()), "removed": int(prep.removed.sum()),
        "new_fraction": round(float(focus.mean()), 6) if n else 0.0,
        "identity": "id column" if new.id_column and new.id_column in trusted.frame.columns else "row digests",
    }
    if prep.previous_label is not None:
        ch = np.flatnonzero(status == 2)
        pairs = pd.DataFrame({"from": pd.Series(prep.previous_label[ch], dtype=object).map(str),
                              "to": new.frame[new.label].iloc[ch].astype(object).map(str).to_numpy()})
        pairs = pairs[pairs["from"] != pairs["to"]]
        edits = pairs.value_counts().reset_index(name="rows")
        delta["label_edits"] = [{"from": a, "to": b, "rows": int(r)} for a, b, r in edits.itertuples(index=False)][:50]
        delta["n_label_edits"] = int(len(pairs))
    return delta


def _sources(prep: Prepared) -> _Sources | None:
    """Source codes of the new rows (None without a source column)."""
    source_column = prep.source_column
    if source_column is None:
        return None

    def as_names(s: pd.Series) -> np.ndarray:
        return s.astype(object).where(s.notna(), MISSING).map(str).to_numpy(dtype=object)

    new_src = as_names(prep.new.frame[source_column])
    src_codes_, uniq = pd.factorize(new_src, sort=True)
    tsrc = as_names(prep.trusted.frame[source_column]) if source_column in prep.trusted.frame.columns else None
    return _Sources(src_codes_.astype(np.int64), [str(u) for u in uniq], tsrc)


def _unseen_labels(codes: np.ndarray, focus: np.ndarray, k: int, pol: Mapping[str, Any], names: Sequence[str],
                   found: _Findings) -> dict[str, int]:
    """Focus rows whose label the trusted data never has (code >= ``k``): each flagged, counted per label."""
    unseen = np.flatnonzero(focus & (codes >= k))
    unseen_counts = {names[c]: int(v) for c, v in enumerate(np.bincount(codes[unseen], minlength=len(names)))
                     if v > 0}
    if unseen.size:
        found.suspicion[unseen] = 1.0
        for r in unseen.tolist():
            found.row_reasons[r] = f"{NAME}: label {names[codes[r]]!r} never occurs in the trusted data"
        if pol["gate_unseen_labels"]:
            shown = ", ".join(f"{c!r} ({v})" for c, v in list(unseen_counts.items())[:5])
            found.reasons.append(f"{unseen.size} new rows carry labels never seen in the trusted data: {shown}")
    return unseen_counts


def _model_probabilities(prep: Prepared, tcodes: np.ndarray, lt: np.ndarray, lrows: np.ndarray, pol: Mapping[str, Any],
                         seed: int | None, model_proba: tuple[np.ndarray, np.ndarray] | None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The trusted model's out-of-fold probabilities on the trusted rows ``lt`` and its probabilities on
    the focus rows ``lrows`` (fitted here unless ``model_proba`` gives them)."""
    k = prep.n_classes_trusted
    Xn = prep.new.encode()
    if model_proba is None and lrows.size == 0:  # nothing new to test: no model to fit
        return np.eye(k)[tcodes[lt]], np.zeros((0, k))
    if model_proba is None:
        return _trusted_model(prep.trusted.encode()[lt], tcodes[lt], Xn[lrows], k, int(pol["cv"]), seed,
                              groups=prep.trusted.encoder.categorical_groups())
    oof, proba = (np.asarray(a, dtype=np.float64) for a in model_proba)
    if oof.shape != (lt.size, k) or proba.shape != (lrows.size, k):
        raise UsageError(f"model_proba must have shapes {(lt.size, k)} and {(lrows.size, k)}; got "
                         f"{oof.shape} and {proba.shape}")
    return oof, proba


@dataclasses.dataclass
class _Expected:
    """Expected disagreement per class, from the trusted model's cross-validated error on the trusted rows."""

    yt: np.ndarray  # trusted labels (of the labelled trusted rows)
    dis_t: np.ndarray  # the model disagrees with them (out of fold)
    use: np.ndarray  # the trusted rows the rates come from
    nt_c: np.ndarray  # per class: trusted rows used
    e_c: np.ndarray  # per class: expected rate
    ve_c: np.ndarray  # per class: variance of e_c


def _expected_rates(prep: Prepared, tcodes: np.ndarray, lt: np.ndarray, oof: np.ndarray,
                    pol: Mapping[str, Any]) -> _Expected:
    k = prep.n_classes_trusted
    yt = tcodes[lt]
    dis_t = oof.argmax(axis=1) != yt
    # Expected rates from trusted rows whose features occur once: a duplicated row's twin sits in the
    # training folds and is predicted from memory, while focus rows are never exact copies of trusted
    # rows (counting duplicates made real data, e.g. wine quality, look shifted when it is not).
    once = ~prep.trusted_duplicated[lt]
    n_once = np.bincount(yt[once], minlength=k)
    use = once | (n_once[yt] < int(pol["min_rows"]))  # classes with too few unique rows: all their rows
    nt_c = np.bincount(yt[use], minlength=k).astype(np.float64)
    e_c = np.divide(np.bincount(yt[use], weights=dis_t[use], minlength=k), nt_c, out=np.zeros(k), where=nt_c > 0)
    ve_c = np.divide(e_c * (1 - e_c), nt_c, out=np.zeros(k), where=nt_c > 0)  # variance of e_c
    return _Expected(yt, dis_t, use, nt_c, e_c, ve_c)


def _strata(ex: _Expected, oof: np.ndarray, proba: np.ndarray, y: np.ndarray, dis: np.ndarray, k: int,
            pol: Mapping[str, Any]) -> tuple[float, list[tuple[str, np.ndarray, _StratumTest]]]:
    """The confidence threshold of the classes' cores and the test of each stratum (``core``, ``rest``)."""
    # per class and stratum of the trusted model's confidence: natural label noise sits where the
    # model is unsure, so within a class's "core" (the rows the model is surest about, expected
    # disagreement near 0) a few points of flipped labels stand out that the class-wide rate hides;
    # boundary flips raise the disagreement of the unsure rest.
    # (capped at 0.99: a model that is certain about most rows puts them all in the core)
    use, yt, dis_t = ex.use, ex.yt, ex.dis_t
    conf_t = oof.max(axis=1)
    t_core = min(float(np.quantile(conf_t[use], float(pol["core_quantile"]))), 0.99) if use.any() else 0.99
    core_t = conf_t >= t_core
    core_n = proba.max(axis=1) >= t_core
    strata = []
    for name_s, in_t, in_n, excess in (("core", core_t, core_n, pol["core_min_excess"]),
                                       ("rest", ~core_t, ~core_n, pol["min_excess"])):
        sel_t = use & in_t
        nt_s = np.bincount(yt[sel_t], minlength=k).astype(np.float64)
        e_s = np.divide(np.bincount(yt[sel_t], weights=dis_t[sel_t], minlength=k), nt_s, out=np.zeros(k),
                        where=nt_s > 0)
        n_st = np.bincount(y[in_n], minlength=k).astype(np.float64)
        d_st = np.bincount(y[in_n], weights=dis[in_n], minlength=k)
        test = _StratumTest(n_st, d_st, e_s, nt_s, float(excess), pol)
        strata.append((name_s, in_n, test))
    return t_core, strata


@dataclasses.dataclass
class _SourceTests:
    """The label-shift tests per source and per source-and-class (``m`` sources, ``k`` classes)."""

    sy: np.ndarray  # source code of each tested row
    n_s: np.ndarray
    d_s: np.ndarray
    n_sc: np.ndarray  # (m, k)
    exp_s: np.ndarray
    srt: _GroupTest  # per source
    sct: _GroupTest  # per source-and-class, flattened (s * k + c)
    cell_flag: np.ndarray  # (m, k)
    cell_excess: np.ndarray  # (m, k)
    explained: np.ndarray  # (k,): the class's jump is the flagged sources'
    fav_s: np.ndarray  # (m, k): the classes the model favours for each source's disagreeing rows


def _source_tests(codes_s: np.ndarray, m: int, y: np.ndarray, dis: np.ndarray, pred: np.ndarray, ex: _Expected,
                  n_c: np.ndarray, d_c: np.ndarray, class_flag: np.ndarray, k: int,
                  pol: Mapping[str, Any]) -> _SourceTests:
    e_c, ve_c = ex.e_c, ex.ve_c
    sy = codes_s
    n_s = np.bincount(sy, minlength=m).astype(np.float64)
    d_s = np.bincount(sy, weights=dis, minlength=m)
    n_sc = np.bincount(sy * k + y, minlength=m * k).astype(np.float64).reshape(m, k)
    d_sc = np.bincount(sy * k + y, weights=dis, minlength=m * k).reshape(m, k)
    exp_s = np.divide(n_sc @ e_c, n_s, out=np.zeros(m), where=n_s > 0)
    var_s = (np.divide(n_sc @ (e_c * (1 - e_c)), n_s**2, out=np.zeros(m), where=n_s > 0)
             + np.divide((n_sc**2) @ ve_c, n_s**2, out=np.zeros(m), where=n_s > 0))
    srt = _GroupTest(n_s, d_s, exp_s, var_s, pol)
    var_sc = e_c[None, :] * (1 - e_c[None, :]) * np.divide(1.0, n_sc, out=np.zeros((m, k)),
                                                             where=n_sc > 0) + ve_c[None, :]
    sct = _GroupTest(n_sc.ravel(), d_sc.ravel(), np.tile(e_c, m), var_sc.ravel(), pol)
    cell_flag = sct.flagged.reshape(m, k)
    # within a flagged source, the classes whose disagreement exceeds the expected rate by min_excess
    cell_excess = sct.rate.reshape(m, k) > e_c[None, :] + float(pol["min_excess"])
    # a class jump that the flagged sources explain is theirs, not the class's: retest without them
    rest_n = n_c - n_sc[srt.flagged].sum(axis=0)
    rest_d = d_c - d_sc[srt.flagged].sum(axis=0)
    var_r = e_c * (1 - e_c) * np.divide(1.0, rest_n, out=np.zeros(k), where=rest_n > 0) + ve_c
    rest = _GroupTest(rest_n, rest_d, e_c, var_r, pol)
    explained = class_flag & srt.flagged.any() & (rest_n >= int(pol["min_rows"])) & ~rest.flagged
    fav_s = np.zeros((m, k))
    np.add.at(fav_s, (sy[dis], pred[dis]), 1.0)
    return _SourceTests(sy, n_s, d_s, n_sc, exp_s, srt, sct, cell_flag, cell_excess, explained, fav_s)


def _label_shift(prep: Prepared, codes: np.ndarray, tcodes: np.ndarray, pol: Mapping[str, Any], seed: int | None,
                 model_proba: tuple[np.ndarray, np.ndarray] | None, src: _Sources | None,
                 found: _Findings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``label_shift`` section and each source's ``label_shift`` (keyed by source name).

    Flags unseen labels and the disagreeing rows of flagged groups in ``found``.
    """
    k = prep.n_classes_trusted
    names = [str(c) for c in prep.classes]
    frows = np.flatnonzero(prep.focus)
    unseen_counts = _unseen_labels(codes, prep.focus, k, pol, names, found)
    # the trusted model
    lt = np.flatnonzero(tcodes >= 0)
    lrows = frows[(codes[frows] >= 0) & (codes[frows] < k)]
    oof, proba = _model_probabilities(prep, tcodes, lt, lrows, pol, seed, model_proba)
    found.model = (lrows, codes[lrows], proba, oof, tcodes[lt])
    ex = _expected_rates(prep, tcodes, lt, oof, pol)
    e_c, ve_c = ex.e_c, ex.ve_c
    y = codes[lrows]
    pred = proba.argmax(axis=1)
    dis = pred != y
    own = proba[np.arange(y.size), y]
    other = proba.copy()
    other[np.arange(y.size), y] = -1.0
    best_other = other.max(axis=1)
    s_row = np.divide(best_other, best_other + own, out=np.full(y.size, 0.5), where=(best_other + own) > 0)
    # per class
    n_c = np.bincount(y, minlength=k).astype(np.float64)
    d_c = np.bincount(y, weights=dis, minlength=k)
    var_c = e_c * (1 - e_c) * np.divide(1.0, n_c, out=np.zeros(k), where=n_c > 0) + ve_c
    cls = _GroupTest(n_c, d_c, e_c, var_c, pol)
    fav_c = np.zeros((k, k))
    np.add.at(fav_c, (y[dis], pred[dis]), 1.0)
    class_flag = cls.flagged.copy()
    explained = np.zeros(k, dtype=bool)
    t_core, strata = _strata(ex, oof, proba, y, dis, k, pol)
    # per source and per source-and-class
    st: _SourceTests | None = None
    if src is not None:
        st = _source_tests(src.codes[lrows], len(src.names), y, dis, pred, ex, n_c, d_c, class_flag, k, pol)
        explained = st.explained
        class_flag &= ~explained
    # rows: disagreeing rows of a flagged class, of a flagged source-and-class cell, or of a flagged
    # source in a class where it exceeds the expected rate; reasons from the most specific group
    flagged_row = np.zeros(y.size, dtype=bool)
    why_row = np.full(y.size, -1, dtype=np.int64)
    texts: list[str] = []

    def mark(hit: np.ndarray, text: str) -> None:
        texts.append(text)
        if pol["gate_label_shift"]:
            found.reasons.append(text)
        new_hit = hit & dis & ~flagged_row
        why_row[new_hit] = len(texts) - 1
        flagged_row[new_hit] = True

    if src is not None and st is not None:
        sy, srt, sct = st.sy, st.srt, st.sct
        for s in range(len(src.names)):
            for c in np.flatnonzero(st.cell_flag[s] & ~class_flag & ~srt.flagged[s]).tolist():
                i = s * k + c
                mark((sy == s) & (y == c),
                     f"source {src.names[s]!r}, class {names[c]!r}: the trusted model disagrees with "
                     f"{sct.rate[i]:.1%} of {int(st.n_sc[s, c])} new rows (expected {e_c[c]:.1%}, policy: "
                     f"at most {sct.threshold[i]:.1%}); it favours {names[int(st.fav_s[s].argmax())]!r}")
            if srt.flagged[s]:
                mark((sy == s) & st.cell_excess[s][y],
                     f"source {src.names[s]!r}: the trusted model disagrees with {srt.rate[s]:.1%} of its "
                     f"{int(st.n_s[s])} new labelled rows (expected {st.exp_s[s]:.1%} for its class mix, policy: "
                     f"at most {srt.threshold[s]:.1%})")
    stratum_text = {"core": "that the trusted model is surest about", "rest": "that the trusted model is unsure about"}
    strata_flag = np.zeros(k, dtype=bool)
    for name_s, in_n, test in strata:
        for c in np.flatnonzero(test.flagged & ~class_flag & ~explained).tolist():
            strata_flag[c] = True
            mark((y == c) & in_n,
                 f"class {names[c]!r}: among the {int(test.n[c])} new rows labelled {names[c]!r} "
                 f"{stratum_text[name_s]} (confidence {'>=' if name_s == 'core' else '<'} {t_core:.2f}), it "
                 f"disagrees with {test.rate[c]:.1%} (expected {test.expected[c]:.1%}, policy: at most "
                 f"{test.threshold[c]:.1%}); it favours {names[int(fav_c[c].argmax())]!r}")
    class_rows: dict[str, Any] = {}
    for c in range(k):
        entry: dict[str, Any] = cls.row(c)
        entry["strata"] = {name_s: test.row(c) for name_s, _, test in strata}
        entry["flagged"] = bool(class_flag[c] or strata_flag[c])
        entry["trusted_rows"] = int(ex.nt_c[c])
        if explained[c]:
            entry["explained_by_sources"] = True
        if d_c[c] > 0:
            entry["favoured"] = names[int(fav_c[c].argmax())]
        class_rows[names[c]] = entry
        if class_flag[c]:
            mark(y == c, f"class {names[c]!r}: the trusted model disagrees with {cls.rate[c]:.1%} of the "
                         f"{int(n_c[c])} new rows labelled {names[c]!r} (expected {e_c[c]:.1%} from its "
                         f"cross-validated error, policy: at most {cls.threshold[c]:.1%}); it favours "
                         f"{entry['favoured']!r} for most of them")
    label_shift = {
        "model": "gradient boosting fitted on the trusted rows; expected rates from its "
                 f"{int(pol['cv'])}-fold cross-validated error there",
        "rows_tested": int(y.size),
        "disagreement": round(float(dis.mean()), 4) if y.size else 0.0,
        "expected": round(float(np.sum(e_c * n_c) / max(n_c.sum(), 1)), 4),
        "classes": class_rows, "unseen_labels": unseen_counts,
        "core_confidence": round(t_core, 4),
        "flagged_classes": [names[c] for c in np.flatnonzero(class_flag | strata_flag).tolist()],
    }
    groups: dict[str, Any] = {}
    if src is not None and st is not None:
        for s in range(len(src.names)):
            g: dict[str, Any] = {"label_shift": {**st.srt.row(s), "classes": {}}}
            if st.d_s[s] > 0:
                g["label_shift"]["favoured"] = names[int(st.fav_s[s].argmax())]
            for c in np.flatnonzero(st.n_sc[s] > 0).tolist():
                g["label_shift"]["classes"][names[c]] = st.sct.row(s * k + c)
            groups[src.names[s]] = g

    # per-row suspicion: disagreeing rows of flagged groups above 0.5, everything else at most 0.5
    # (s_row = p(best other) / (p(best other) + p(label)) in [0, 1], >= 0.5 for disagreeing rows)
    found.suspicion[lrows] = np.where(flagged_row, 0.5 + 0.5 * s_row, 0.5 * s_row)
    prev = prep.previous_label
    for i in np.flatnonzero(flagged_row).tolist():
        r = int(lrows[i])
        text = (f"{NAME}: labelled {names[y[i]]!r} but the trusted model favours {names[pred[i]]!r} "
                f"(p={proba[i, pred[i]]:.2f} vs {own[i]:.2f}); {texts[why_row[i]]}")
        if prev is not None and prev[r] is not None and str(prev[r]) != names[y[i]]:
            text += f"; label edited from {str(prev[r])!r} in the trusted version"
        found.row_reasons[r] = text
    return label_shift, groups


def predicted_mix_shift(oof: np.ndarray, proba: np.ndarray, *, n_boot: int = 200,
                        seed: int | None = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether new rows' features hold another class mix than the trusted rows': their mean predicted
    class probabilities (``proba``, the trusted model's) against the trusted rows' own out-of-fold
    ones (``oof``), and the bootstrap standard error of the difference (both sides resampled,
    ``n_boot`` times).

    Under label shift the new rows' mean prediction is ``C w``, with ``C`` the trusted rows' confusion
    of predictions against labels and ``w`` the ratio of new to trusted class shares; it equals the
    trusted rows' mean prediction exactly when ``w = 1``, so the difference tests "the population's
    class mix did not change" without inverting ``C`` (black-box shift detection, Lipton, Wang and
    Smola, ICML 2018; inverting it to estimate ``w`` is unstable with many or rare classes). A
    model that cannot tell classes apart has little power here, and its difference stays small.

    Returns
    -------
    mu_new, mu_trusted, se : ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> oof = np.array([[0.9, 0.1]] * 50 + [[0.2, 0.8]] * 50)
    >>> new = np.array([[0.9, 0.1]] * 20 + [[0.2, 0.8]] * 80)
    >>> mu_new, mu_trusted, se = predicted_mix_shift(oof, new)
    >>> bool(abs(mu_new - mu_trusted)[1] > 3 * se[1])
    True
    """
    rng = np.random.default_rng(seed)
    mu_n, mu_t = proba.mean(axis=0), oof.mean(axis=0)
    bn = rng.multinomial(proba.shape[0], np.full(proba.shape[0], 1.0 / proba.shape[0]), size=n_boot) @ proba
    bt = rng.multinomial(oof.shape[0], np.full(oof.shape[0], 1.0 / oof.shape[0]), size=n_boot) @ oof
    diff = bn / proba.shape[0] - bt / oof.shape[0]
    return mu_n, mu_t, diff.std(axis=0, ddof=1)


def _relabelled_rows(found: _Findings, names: Sequence[str], pol: Mapping[str, Any], seed: int | None) -> dict[str, Any]:
    """Rows whose label a shifted label distribution more likely moved than kept (the ``relabelled``
    part of the ``label_shift`` section); flags them in ``found``.

    The label distribution of the added and changed rows shifted (``label_js``). Either their labels
    moved or their population did. Their features tell the two apart as far as the trusted model
    sees classes in them (:func:`predicted_mix_shift`): where their mean predicted class mix differs
    from the trusted rows' by more than ``z`` standard errors for some class, the population moved,
    and nothing is read as relabelled (the batch stays suspected for its label distribution). Where
    it does not, the rows' class mix is taken to be the trusted one.

    Where the labels give a class more share than that mix, the excess is read as rows relabelled
    into it from the classes that lost share, in proportion to their losses: the fewest relabelled
    rows that explain the labels. A row labelled with a gaining class ``c`` has the posterior odds of
    "relabelled" against "truly ``c``" ``sum_j loss_j (gain_c / gain) f_j(x) : t_c f_c(x)``, each
    class's feature likelihood ``f_j(x)`` proportional to the trusted model's ``q_j(x) / t_j``
    (``t_j`` its trusted class share). Rows more likely relabelled than not (posterior above 1/2,
    the Bayes decision) are flagged, most likely first, and no more of a class than its excess
    accounts for, counting the rows the label-shift tests flagged there already.
    """
    assert found.model is not None
    rows, y, proba, oof, ty = found.model
    k = proba.shape[1]
    out: dict[str, Any] = {"method": "the labels' class mix against the trusted one, where the trusted model's "
                                     "predictions say the class mix did not move (black-box shift detection); "
                                     "rows more likely relabelled than not", "rows": 0}
    if not pol["relabelled"] or y.size == 0 or ty.size == 0:
        return out
    t = np.bincount(ty, minlength=k) / ty.size
    n_mix = np.bincount(y, minlength=k) / y.size
    mu_n, mu_t, se = predicted_mix_shift(oof, proba, seed=seed)
    z = np.divide(np.abs(mu_n - mu_t), se, out=np.zeros(k), where=se > 0)
    moved = bool((z > float(pol["z"])).any())  # the features say the population's class mix changed
    out.update({"label_mix": {names[c]: round(float(n_mix[c]), 4) for c in range(k)},
                "trusted_mix": {names[c]: round(float(t[c]), 4) for c in range(k)},
                "predicted_mix": {names[c]: round(float(mu_n[c]), 4) for c in range(k)},
                "predicted_mix_trusted": {names[c]: round(float(mu_t[c]), 4) for c in range(k)},
                "largest_z": round(float(z.max()), 2) if k else 0.0, "population_moved": moved})
    if moved:
        return out
    # the rows' class mix is the trusted one, t
    gain = np.clip(n_mix - t, 0.0, None)
    loss = np.clip(t - n_mix, 0.0, None)
    total = gain.sum()
    if total <= 0:
        return out
    like = np.divide(proba, t, out=np.zeros_like(proba), where=t > 0)  # f_j(x), up to a factor per row
    moved_w = like @ loss * (gain[y] / total)
    stay_w = np.where(t[y] > 0, proba[np.arange(y.size), y], 0.0)  # t_c f_c(x) = q_c(x)
    post = np.divide(moved_w, moved_w + stay_w, out=np.zeros(y.size), where=(moved_w + stay_w) > 0)
    # at most as many rows of a class as its excess accounts for, the rows already flagged there included
    already = found.suspicion[rows] > 0.5
    hit = np.zeros(y.size, dtype=bool)
    for c in np.flatnonzero(gain > 0).tolist():
        budget = int(round(gain[c] * y.size)) - int((already & (y == c)).sum())
        cand = np.flatnonzero((y == c) & ~already & (post > 0.5))
        if budget > 0 and cand.size:
            hit[cand[np.argsort(-post[cand], kind="stable")[:budget]]] = True
    out["rows"] = int(hit.sum())
    out["relabelled_expected"] = round(float(total * y.size), 1)
    for i in np.flatnonzero(hit).tolist():
        r = int(rows[i])
        found.suspicion[r] = 0.5 + 0.5 * float(post[i])
        src = names[int(np.argmax(like[i] * loss))]
        found.row_reasons[r] = (f"{NAME}: labelled {names[y[i]]!r}, which the labels of the added and changed rows "
                                f"give {n_mix[y[i]]:.1%} where the trusted data hold {t[y[i]]:.1%} and the features "
                                f"say their class mix did not change; more likely relabelled "
                                f"from {src!r} than not (posterior {post[i]:.2f})")
    return out


def _label_counts(codes: np.ndarray, kk: int) -> np.ndarray:
    return np.bincount(codes[codes >= 0], minlength=kk)


def _focus_distribution(prep: Prepared, features: Sequence[str], pol: Mapping[str, Any],
                        found: _Findings) -> dict[str, Any]:
    """The ``distribution`` section: feature and label shift of the focus rows against the trusted data."""
    new, trusted = prep.new, prep.trusted
    frows = np.flatnonzero(prep.focus)
    names = [str(c) for c in prep.classes]
    min_shift = int(pol["min_shift_rows"])
    distribution: dict[str, Any] = {"rows": int(frows.size), "tested": bool(frows.size >= min_shift)}
    if not frows.size:
        return distribution
    base = prep.shift_base(min_shift)
    if base is not None:
        distribution["trusted_rows_compared"] = int(base.size)
    feats = distribution_shift(trusted, base, new, frows, features, pol)
    distribution["features"] = feats
    shifted = [c for c, st in feats.items() if st["shifted"]]
    distribution["shifted_features"] = shifted
    if shifted and frows.size >= min_shift and pol["gate_feature_shift"]:
        shown = ", ".join(shift_text(c, feats[c]) for c in shifted[:3])
        more = f" and {len(shifted) - 3} more" if len(shifted) > 3 else ""
        found.reasons.append(f"the added and changed rows are shifted against the trusted data in {len(shifted)} "
                             f"column(s): {shown}{more} (policy: PSI >= {pol['psi']:g} and W1 >= "
                             f"{pol['wasserstein']:g} sd, or JS >= {pol['js']:g})")
    if new.label is not None and prep.codes is not None and prep.trusted_codes is not None:
        kk = len(names)
        cn = _label_counts(prep.codes[frows], kk)
        ct = _label_counts(prep.trusted_codes if base is None else prep.trusted_codes[base], kk)
        st = js_shift(pd.Series(ct, index=names), pd.Series(cn, index=names))
        sh_t, sh_n = shares(ct, names), shares(cn, names)
        lab: dict[str, Any] = {**{k2: round(v, 4) for k2, v in st.items()}, "trusted": sh_t, "new": sh_n,
                               "shifted": bool(st["js"] >= pol["label_js"])}
        distribution["label"] = lab
        if lab["shifted"] and frows.size >= min_shift and pol["gate_label_distribution"]:
            moves = sorted(names, key=lambda c: -abs(sh_n.get(c, 0) - sh_t.get(c, 0)))[:2]
            shown = ", ".join(f"{c!r} {sh_t.get(c, 0):.1%} -> {sh_n.get(c, 0):.1%}" for c in moves)
            found.reasons.append(f"the label distribution of the added and changed rows shifted: JS distance "
                                 f"{st['js']:.2f} (policy: below {pol['label_js']:g}); {shown}")
    return distribution


def _per_source(prep: Prepared, src: _Sources, groups: Mapping[str, Any], features: Sequence[str],
                pol: Mapping[str, Any], found: _Findings) -> dict[str, Any]:
    """The ``sources`` section: each source's delta, label shift (from ``groups``) and distributions."""
    new, trusted, status, focus = prep.new, prep.trusted, prep.status, prep.focus
    src_codes, tsrc = src.codes, src.trusted
    names = [str(c) for c in prep.classes]
    min_shift = int(pol["min_shift_rows"])
    base = prep.shift_base(min_shift)
    sources: dict[str, Any] = {}
    m = len(src.names)
    st_counts = np.bincount(src_codes * 3 + status, minlength=m * 3).reshape(m, 3)
    trusted_src = pd.Series(tsrc).value_counts() if tsrc is not None else pd.Series(dtype=np.int64)
    removed_src = pd.Series(tsrc[prep.removed]).value_counts() if tsrc is not None else None
    flagged_by_src = np.bincount(src_codes[found.suspicion > 0.5], minlength=m)
    for s, name in enumerate(src.names):
        g = groups.get(name, {})
        n_tr_s = int(trusted_src.get(name, 0))
        rows_s = np.flatnonzero((src_codes == s) & focus)
        entry: dict[str, Any] = {
            "rows": int(st_counts[s].sum()),
            "new_source": (n_tr_s == 0) if tsrc is not None else None,
            "trusted_rows": n_tr_s if tsrc is not None else None,
            "delta": {"added": int(st_counts[s, 1]), "changed": int(st_counts[s, 2]),
                      "unchanged": int(st_counts[s, 0]),
                      "removed": int(removed_src.get(name, 0)) if removed_src is not None else None},
        }
        own_base = tsrc is not None and n_tr_s >= min_shift
        entry["baseline"] = "same source in the trusted data" if own_base else "all trusted data"
        reasons_s: list[str] = []
        if "label_shift" in g:
            entry["label_shift"] = g["label_shift"]
            if g["label_shift"]["flagged"] or any(v["flagged"] for v in g["label_shift"]["classes"].values()):
                reasons_s.append("label shift seen by the trusted model")
        if rows_s.size >= min_shift:
            t_rows = np.flatnonzero(tsrc == name) if own_base else None
            if base is not None:  # a replacement batch: the trusted rows it repeats are not compared
                kept = base if t_rows is None else np.intersect1d(t_rows, base)
                t_rows = kept if kept.size >= min_shift else t_rows
            feats = distribution_shift(trusted, t_rows, new, rows_s, features, pol)
            shifted = [c for c, st in feats.items() if st["shifted"]]
            entry["features"] = feats
            entry["shifted_features"] = shifted
            if shifted:
                shown = ", ".join(shift_text(c, feats[c]) for c in shifted[:3])
                more = f" and {len(shifted) - 3} more" if len(shifted) > 3 else ""
                what = "a new source" if entry["new_source"] else "source"
                reasons_s.append(f"{len(shifted)} shifted column(s): {shown}{more}")
                if pol["gate_feature_shift"]:
                    found.reasons.append(f"{what} {name!r} ({rows_s.size} added or changed rows) is shifted against "
                                         f"{entry['baseline']} in {len(shifted)} column(s): {shown}{more}")
            if new.label is not None and prep.codes is not None and prep.trusted_codes is not None:
                kk = len(names)
                tc = prep.trusted_codes if t_rows is None else prep.trusted_codes[t_rows]
                ct = _label_counts(tc, kk)
                cn = _label_counts(prep.codes[rows_s], kk)
                stl = js_shift(pd.Series(ct, index=names), pd.Series(cn, index=names))
                lab_s = {**{k2: round(v, 4) for k2, v in stl.items()}, "new": shares(cn, names),
                         "shifted": bool(stl["js"] >= pol["label_js"])}
                entry["label_distribution"] = lab_s
                if lab_s["shifted"]:
                    reasons_s.append(f"label distribution shifted (JS {stl['js']:.2f})")
                    if own_base and pol["gate_label_distribution"]:
                        found.reasons.append(f"source {name!r}: the label distribution of its added and changed "
                                             f"rows shifted against its trusted rows (JS distance {stl['js']:.2f}, "
                                             f"policy: below {pol['label_js']:g})")
        entry["n_flagged"] = int(flagged_by_src[s])
        entry["suspected"] = bool(reasons_s)
        entry["reasons"] = reasons_s
        sources[name] = entry
    return sources


def compare(new: TabularDataset | pd.DataFrame, trusted: TabularDataset | pd.DataFrame, *, label: str | None = None,
            source_column: str | None = None, params: Mapping[str, Any] | None = None, seed: int | None = 0,
            prepared: Prepared | None = None, model_proba: tuple[np.ndarray, np.ndarray] | None = None
            ) -> ReferenceReport:
    """Compare a new data version with a trusted one: row delta, label shift, distribution shift, per source.

    Parameters
    ----------
    new, trusted : TabularDataset or pandas.DataFrame
        The new version and the trusted one (same label column).
    label : str, default=None
        The label column (default: ``new``'s). Without labels only the delta and the feature
        distributions are compared.
    source_column : str, default=None
        A column naming each row's source: every statistic is also computed per source.
    params : mapping, default=None
        Overrides of :data:`DEFAULT_POLICY`.
    seed : int or None, default=0
        Seeds the trusted model and its folds.
    prepared : Prepared, default=None
        Both versions already prepared by :func:`prepare` (the scan passes it; ``new`` and
        ``trusted`` are then taken from it).
    model_proba : (ndarray, ndarray), default=None
        Instead of fitting the trusted model: its out-of-fold probabilities on the labelled
        trusted rows and its probabilities on the labelled focus rows whose label the trusted
        data knows, over the trusted classes (in :attr:`Prepared.classes` order).

    Returns
    -------
    ReferenceReport
    """
    pol = policy(params)
    if prepared is None:
        new = as_dataset(new, label=label)
        tds, info = load_reference(new, trusted, require_classes=2 if new.label is not None else 0)
        prepared = prepare(new, tds, source_column=source_column, info=info)
    prep = prepared
    new, trusted = prep.new, prep.trusted
    found = _Findings(reasons=[], suspicion=np.zeros(new.n_rows), row_reasons={})
    features = [c for c in trusted.feature_columns if c in new.frame.columns]
    delta = _row_delta(prep)
    src = _sources(prep)
    label_shift: dict[str, Any] | None = None
    groups: dict[str, Any] = {}
    if new.label is not None and prep.codes is not None and prep.trusted_codes is not None:
        label_shift, groups = _label_shift(prep, prep.codes, prep.trusted_codes, pol, seed, model_proba, src, found)
    distribution = _focus_distribution(prep, features, pol, found)
    if label_shift is not None and (distribution.get("label") or {}).get("shifted") and distribution.get("tested"):
        label_shift["relabelled"] = _relabelled_rows(found, [str(c) for c in prep.classes], pol, seed)
    sources = _per_source(prep, src, groups, features, pol, found) if src is not None else None
    flagged = found.suspicion > 0.5
    return ReferenceReport(
        trusted=dict(prep.info), parameters=pol, suspected=bool(found.reasons), reasons=tuple(found.reasons),
        schema=prep.schema, delta=delta, label_shift=label_shift, distribution=distribution, sources=sources,
        n_flagged=int(flagged.sum()), suspicion=found.suspicion, row_reasons=found.row_reasons)
