"""poisonguard.reference and `scan --reference`: row delta, label shift seen by a trusted model,
distribution shift, per source, attacks on batches, and `--reference-rev` through a real git + DVC repo.

Quality floors (fixed seeds; the benchmark benchmarks/bench_reference.py runs the full protocol):
a batch with 60 % of one class flipped is found with recall >= 0.9 / precision >= 0.8 on banknote,
and >= 0.88 / >= 0.75 on a 4,000-row adult sample (majority class flipped into the minority; measured
0.93 / 0.82). The reverse direction on adult (minority into majority) is out of reach of any trusted
model of adult (see benchmarks/RESULTS.md) and is not asserted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poisonguard import ScanResult, scan
from poisonguard.attacks import poison
from poisonguard.data import TabularDataset
from poisonguard.errors import UsageError
from poisonguard.reference import compare, js_shift, numeric_shift


def split_60_40(frame: pd.DataFrame, label: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    trusted, new = train_test_split(frame, test_size=0.4, stratify=frame[label], random_state=seed)
    return trusted.reset_index(drop=True), new.reset_index(drop=True)


def recall_precision(flags: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = float((flags & truth).sum())
    return tp / max(truth.sum(), 1), tp / max(flags.sum(), 1)


@pytest.fixture(scope="module")
def banknote(banknote) -> pd.DataFrame:
    """Here the frame of conftest's shared banknote data set (not modified in place)."""
    return banknote.frame


@pytest.fixture(scope="module")
def sourced() -> pd.DataFrame:
    """3,000 synthetic rows from three honest sources."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=3000, n_features=6, n_informative=4, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(label=y)
    frame["source"] = np.random.default_rng(0).choice(["feed_a", "feed_b", "feed_c"], size=len(frame))
    return frame


# -- the acceptance protocol in small form ------------------------------------------------------------
def test_flipped_batch_found_through_scan_banknote(banknote, tmp_path):
    trusted, new = split_60_40(banknote, "class", 0)
    att = poison(TabularDataset.from_frame(new, label="class"), "batch_class_flip", rate=0.6, seed=0)
    res = scan(att.frame, label="class", reference=trusted, detectors=["label_flip"], seed=0, out=tmp_path)
    assert res.suspected and res.return_code == 1
    assert any(r.startswith("reference_shift: class") for r in res.reasons)
    ref = res.scores["reference_shift"].to_numpy() > 0.5
    assert recall_precision(ref, att.mask) >= (0.9, 0.8)
    r, p = recall_precision(res.scores["flagged"].to_numpy(), att.mask)
    assert r >= 0.9 and p >= 0.8
    assert [d.name for d in res.detectors] == ["label_flip", "reference_shift"]
    assert res.detectors[0].section["mode"].startswith("inductive")
    # the report is strict JSON and round-trips; the quarantine says why
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["reference"]["label_shift"]["flagged_classes"] == [str(att.params["target"])]
    assert ScanResult.from_dict(report).reference == res.reference
    q = pd.read_csv(tmp_path / "quarantine.csv")
    assert q["reasons"].str.contains("trusted model favours").mean() > 0.9


def test_flipped_batch_found_adult_sample(adult_small):
    trusted, new = split_60_40(adult_small, "income", 0)
    att = poison(TabularDataset.from_frame(new, label="income"), "batch_class_flip", rate=0.6,
                 source="<=50K", target=">50K", seed=0)
    rep = compare(att.frame, trusted, label="income", seed=0)
    assert rep.suspected
    assert rep.label_shift["flagged_classes"] == [">50K"]
    assert rep.label_shift["classes"][">50K"]["favoured"] == "<=50K"
    r, p = recall_precision(rep.flagged, att.mask)
    assert r >= 0.88 and p >= 0.75, (r, p)


@pytest.mark.slow  # a detection-quality floor on real data: ~20 s
def test_a_targeted_flip_too_small_for_the_class_rate_is_found_in_the_class_core():
    """15 % of the minority relabelled: the majority's class-wide disagreement stays under its margin,
    but its core (rows the trusted model is surest about, expected 0.25 %) rises to over 3 %."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=10000, n_features=6, n_informative=4, weights=[0.75], flip_y=0.02,
                               class_sep=1.5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(label=y)
    trusted, new = frame.iloc[:6000], frame.iloc[6000:].reset_index(drop=True)
    att = poison(TabularDataset.from_frame(new, label="label"), "class_flip", rate=0.15, seed=2)
    rep = compare(att.frame, trusted, label="label", seed=0)
    majority = rep.label_shift["classes"]["0"]
    assert majority["disagreement"] <= majority["threshold"]          # the class-wide test alone: not flagged
    core = majority["strata"]["core"]
    assert core["flagged"] and core["disagreement"] >= 1.3 * core["threshold"], core
    assert rep.suspected and rep.label_shift["flagged_classes"] == ["0"]
    assert any("surest about" in r for r in rep.reasons)
    r, p = recall_precision(rep.flagged, att.mask)
    assert p >= 0.85 and r >= 0.35, (r, p)                             # the flipped rows in the core
    clean = compare(new, trusted, label="label", seed=0)
    assert not clean.suspected and clean.n_flagged == 0


@pytest.mark.parametrize(("name", "seed"), [("banknote", 0), ("banknote", 1), ("adult", 0)])
def test_no_false_alarm_on_clean_splits(name, seed, banknote, adult_small):
    frame, label = (banknote, "class") if name == "banknote" else (adult_small, "income")
    trusted, new = split_60_40(frame, label, seed)
    rep = compare(new, trusted, label=label, seed=seed)
    assert not rep.suspected, rep.reasons
    assert rep.n_flagged == 0
    d = rep.delta  # real data hold exact duplicates: some "new" rows are in the trusted part already
    assert d["added"] + d["changed"] + d["unchanged"] == len(new) and d["added"] >= 0.95 * len(new)


def test_cli_reference_clean_exit_0_and_bad_usage_exit_2(cli, banknote, write, tmp_path):
    trusted, new = split_60_40(banknote, "class", 2)
    tp, np_ = write(trusted, "trusted.csv"), write(new, "new.parquet")  # formats may differ
    rc, out, err = cli("scan", np_, "--label", "class", "--reference", tp, "--detectors", "label_flip",
                       "--out", tmp_path / "out")
    assert rc == 0, out + err
    assert "against trusted" in out and "reference_shift" in out
    assert pd.read_csv(tmp_path / "out" / "scores.csv").columns.tolist()[-1] == "reference_shift"
    rc, _, err = cli("scan", np_, "--label", "class", "--source-column", "variance")
    assert rc == 2 and "needs a trusted reference" in err
    rc, _, err = cli("scan", np_, "--label", "class", "--reference", tp, "--set", "reference_shift.z=-1")
    assert rc == 2 and "scan.reference_shift.z must be a number >= 0" in err
    rc, _, err = cli("scan", np_, "--label", "class", "--reference", tp, "--set", "reference_shift.nope=1")
    assert rc == 2 and "scan.reference_shift.nope is not a policy key of reference_shift" in err


# -- row delta ---------------------------------------------------------------------------------------
def test_row_delta_and_unchanged_rows_never_flagged(blobs):
    trusted = blobs
    rng = np.random.default_rng(0)
    new = blobs.iloc[50:].reset_index(drop=True)  # 50 rows removed
    edits = rng.choice(np.flatnonzero(new["label"].to_numpy() == "b"), size=30, replace=False)
    new.loc[edits, "label"] = "c"  # label edits
    added = pd.DataFrame(rng.normal(size=(40, 4)) + 20.0, columns=[f"f{i}" for i in range(4)]).assign(label="a")
    new = pd.concat([new, added], ignore_index=True)
    res = scan(new, label="label", reference=trusted, detectors=["label_flip"], seed=0)
    d = res.reference["delta"]
    assert (d["unchanged"], d["changed"], d["added"], d["removed"]) == (520, 30, 40, 50)
    assert d["label_edits"] == [{"from": "b", "to": "c", "rows": 30}]
    focus = np.zeros(len(new), dtype=bool)
    focus[edits] = True
    focus[-40:] = True
    flagged = res.scores["flagged"].to_numpy()
    assert not (flagged & ~focus).any()  # rows of the trusted version are never flagged again
    assert flagged[edits].all() and res.suspected
    assert any("label edited from 'b'" in "; ".join(f.reasons) for f in res.quarantined)


def test_identity_by_id_column(blobs):
    frame = blobs.assign(rid=[f"r{i}" for i in range(len(blobs))])
    new = frame.copy()
    new.loc[:9, "f0"] += 0.01  # 10 records edited, same ids
    rep = compare(TabularDataset.from_frame(new, label="label", id_column="rid"),
                  TabularDataset.from_frame(frame, label="label", id_column="rid"))
    assert rep.delta["identity"] == "id column"
    assert (rep.delta["changed"], rep.delta["added"], rep.delta["unchanged"]) == (10, 0, len(frame) - 10)
    assert not rep.suspected


def test_unseen_label_is_a_finding(blobs):
    trusted, new = blobs.iloc[:400], blobs.iloc[400:].reset_index(drop=True)
    new.loc[:4, "label"] = "zzz"
    rep = compare(new, trusted, label="label")
    assert rep.suspected and rep.label_shift["unseen_labels"] == {"zzz": 5}
    assert (rep.suspicion[:5] == 1.0).all() and "never occurs" in rep.row_reasons[0]


# -- distribution shift: effect sizes ----------------------------------------------------------------
def test_effect_sizes():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50_000), rng.normal(size=30_000)
    same = numeric_shift(a, b)
    assert same["psi"] < 0.01 and same["wasserstein"] < 0.03
    moved = numeric_shift(a, b + 1.0)
    assert moved["psi"] > 0.5 and 0.85 < moved["wasserstein"] < 1.15
    small = numeric_shift(a, rng.normal(size=60))  # the small-sample bias is taken out
    assert small["psi"] < small["psi_raw"] and small["psi"] < 0.1
    gone = numeric_shift(a, np.where(rng.random(30_000) < 0.3, np.nan, b))  # missing values appear
    assert gone["missing_new"] > 0.25 and gone["psi"] > 0.25
    counts = pd.Series({"x": 500, "y": 300, "z": 200})
    assert js_shift(counts, counts)["js"] == 0.0
    assert js_shift(counts, pd.Series({"w": 100}))["js_raw"] == pytest.approx(1.0)


def test_new_source_is_named_per_source(sourced):
    trusted, new = sourced.iloc[:1800], sourced.iloc[1800:].reset_index(drop=True)
    honest = compare(new, trusted, label="label", source_column="source")
    assert not honest.suspected and not any(s["suspected"] for s in honest.sources.values())
    att = poison(TabularDataset.from_frame(new, label="label"), "new_source", rate=0.15, shift=1.0, seed=1)
    res = scan(att.frame, label="label", reference=trusted, source_column="source", detectors=["outliers"], seed=0)
    src = res.reference["sources"]
    assert src["new_feed"]["new_source"] is True and src["new_feed"]["suspected"]
    assert set(src["new_feed"]["shifted_features"]) == set(att.params["features"])
    assert src["new_feed"]["baseline"] == "all trusted data"
    assert all(not src[s]["suspected"] and src[s]["baseline"].startswith("same source") for s in ("feed_a", "feed_b",
                                                                                               "feed_c"))
    assert res.suspected and any("'new_feed'" in r for r in res.reasons)
    assert not any("'feed_" in r for r in res.reasons)
    assert res.reference["label_shift"]["flagged_classes"] == []  # the feed explains the jump, not a class


def test_tables_html_and_plots_of_a_sourced_comparison(sourced):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_hex

    from poisonguard import plots
    from poisonguard.reference import label_shift_table, shift_table

    trusted, new = sourced.iloc[:1800], sourced.iloc[1800:].reset_index(drop=True)
    new = new.copy()
    bad = new.index[new["source"] == "feed_b"]
    new.loc[bad, "f0"] += 3.0                                          # a broken feed: one column shifted
    ones = bad[new.loc[bad, "label"].to_numpy() == 1][:60]
    new.loc[ones, "label"] = 0                                          # ... and labels flipped
    new.loc[new.index[0], "source"] = "<script>x</script>"              # values from the data reach the HTML
    rep = compare(new, trusted, label="label", source_column="source")
    table = shift_table(rep, source="feed_b")
    assert table.iloc[0]["feature"] == "f0" and table.iloc[0]["shifted"] and table.iloc[0]["shift"] >= 1
    assert (table["shift"].diff().dropna() <= 0).all() and not table.iloc[1:]["shifted"].any()
    assert shift_table(rep.to_dict(), source="feed_b").equals(table)   # the report.json section gives the same
    with pytest.raises(UsageError, match="no source 'nope'"):
        shift_table(rep, source="nope")
    labels = label_shift_table(rep)
    assert {"class 0", "class 1", "source feed_b", "source feed_b / class 0"} <= set(labels["group"])
    flagged = set(labels.loc[labels["flagged"].astype(bool), "group"])
    assert "source feed_b" in flagged and not any(g.startswith("source feed_a") for g in flagged)
    page = rep._repr_html_()
    assert "&lt;script&gt;" in page and "<script>" not in page and "shift suspected" in page
    ax = plots.feature_shift(rep, source="feed_b")
    colours = {p.get_width(): to_hex(p.get_facecolor()) for p in ax.patches}
    assert colours[max(colours)] == "#e45756" and len(ax.patches) == len(table)
    ax = plots.label_shift(rep)
    assert len(ax.patches) == len(labels)
    assert sum(to_hex(p.get_facecolor()) == "#dd5555" for p in ax.patches) == len(flagged)


# -- attacks -----------------------------------------------------------------------------------------
def test_batch_attacks(blobs):
    ds = TabularDataset.from_frame(blobs, label="label")
    att = poison(ds, "batch_class_flip", rate=0.6, start=400, seed=0)
    assert not att.mask[:400].any()
    src, tgt = att.params["source"], att.params["target"]
    members = (blobs["label"].iloc[400:] == src).sum()
    assert att.n_poisoned == round(0.6 * members) and (att.frame.loc[att.mask, "label"] == tgt).all()
    ns = poison(ds, "new_source", rate=0.1, seed=0)
    assert len(ns.frame) == len(blobs) + 60 and ns.mask[-60:].all() and not ns.mask[:-60].any()
    assert (ns.frame["source"].iloc[:-60] == "base").all() and (ns.frame["source"].iloc[-60:] == "new_feed").all()
    assert ns.dataset.label == "label" and ns.dataset.n_rows == len(ns.frame)  # the copy, ready to scan
    with pytest.raises(UsageError, match="already occurs"):
        poison(ns.dataset, "new_source", source="new_feed")


# -- --reference-rev through a real git + DVC repository -------------------------------------------
@pytest.mark.slow  # a real git + DVC repository
def test_reference_rev_compares_two_committed_dvc_versions(cli, shell, blobs, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    dvc = str(Path(sys.executable).with_name("dvc"))
    shell(["git", "init", "-q"], repo, timeout=300, check=True)
    shell(["git", "config", "user.email", "test@example.invalid"], repo, timeout=300, check=True)
    shell(["git", "config", "user.name", "poisonguard tests"], repo, timeout=300, check=True)
    shell(["git", "config", "commit.gpgsign", "false"], repo, timeout=300, check=True)
    shell([dvc, "init", "-q"], repo, timeout=300, check=True)
    data = repo / "data.csv"
    blobs.to_csv(data, index=False)
    shell([dvc, "add", "-q", "data.csv"], repo, timeout=300, check=True)
    shell(["git", "add", "-A"], repo, timeout=300, check=True)
    shell(["git", "commit", "-q", "-m", "v1: trusted"], repo, timeout=300, check=True)
    v2 = blobs.copy()
    rng = np.random.default_rng(0)
    b_rows = np.flatnonzero(v2["label"].to_numpy() == "b")
    changed = np.sort(rng.choice(b_rows, size=int(0.6 * b_rows.size), replace=False))
    v2.loc[changed, "label"] = "a"
    v2.to_csv(data, index=False)
    shell([dvc, "add", "-q", "data.csv"], repo, timeout=300, check=True)
    shell(["git", "add", "-A"], repo, timeout=300, check=True)
    shell(["git", "commit", "-q", "-m", "v2: update"], repo, timeout=300, check=True)

    rc, out, err = cli("scan", data, "--label", "label", "--reference-rev", "HEAD~1", "--detectors", "outliers",
                       "--out", tmp_path / "out", "--format", "json")
    assert rc == 1, err
    ref = json.loads(out)["reference"]
    assert ref["trusted"]["path"] == "data.csv" and ref["trusted"]["rev"] == "HEAD~1"
    d = ref["delta"]
    assert (d["changed"], d["added"], d["unchanged"], d["removed"]) == (changed.size, 0, len(blobs) - changed.size, 0)
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    flagged = np.flatnonzero(scores["flagged"].to_numpy())
    assert set(flagged) <= set(changed) and flagged.size >= 0.9 * changed.size
    # the same revision: nothing is new, nothing is flagged
    rc, out, err = cli("scan", data, "--label", "label", "--reference-rev", "HEAD", "--detectors", "outliers",
                       "--format", "json")
    assert rc == 0, err
    assert json.loads(out)["reference"]["delta"]["new_fraction"] == 0.0
    # a revision that does not exist is bad input, one line
    rc, _, err = cli("scan", data, "--label", "label", "--reference-rev", "no-such-rev", "--detectors", "outliers")
    assert rc == 2 and "at revision 'no-such-rev'" in err and len(err.strip().splitlines()) == 1


def test_invariant_to_the_order_of_new_rows(blobs):
    trusted, new = blobs.iloc[:360], blobs.iloc[360:].reset_index(drop=True)
    b_rows = np.flatnonzero(new["label"].to_numpy() == "b")
    new.loc[b_rows[: int(0.6 * b_rows.size)], "label"] = "a"
    perm = np.random.default_rng(1).permutation(len(new))
    a = compare(new, trusted, label="label")
    b = compare(new.iloc[perm].reset_index(drop=True), trusted, label="label")
    assert a.delta == b.delta and a.reasons == b.reasons
    assert np.isfinite(a.suspicion).all() and a.suspicion.shape == (len(new),)
    np.testing.assert_allclose(a.suspicion[perm], b.suspicion)


def test_inductive_evidence_is_decided_with_the_others(banknote, tmp_path):
    """Against a trusted version, a fitted-on-trusted detector's evidence for a new row is a
    split-conformal p-value of its suspicion among the trusted rows', decided by the one BH step:
    an untouched batch loses at most 1 % of its rows (measured: 1 of 549; its merely unusual rows go to review; the demo
    lost 6.3 % of its clean rows when each detector's own threshold quarantined), injected
    outliers are quarantined."""
    from poisonguard.evidence import suspicion_from_p

    trusted, new = split_60_40(banknote, "class", 0)
    clean = scan(new, label="class", reference=trusted, detectors=["outliers"], seed=0, out=tmp_path / "clean")
    assert clean.n_quarantined <= 0.01 * len(new) and not clean.suspected
    att = poison(TabularDataset.from_frame(new, label="class"), "outliers", rate=0.02, seed=0)
    res = scan(att.frame, label="class", reference=trusted, detectors=["outliers"], seed=0, out=tmp_path / "att")
    sc = res.scores
    q = (sc["decision"] == "quarantine").to_numpy()
    assert q[att.mask].mean() >= 0.9 and q[~att.mask].mean() <= 0.01
    # the column is the common scale of that p-value, like every detector's column
    assert res.decision["combined"] == ["outliers"]
    p = res.decision["p_threshold"]
    assert (sc["outliers"].to_numpy()[q] >= suspicion_from_p(np.array([p]))[0] - 1e-9).all()


# -- the quarantine level chosen on the trusted rows (issue 14, point 4) ------------------------------
@pytest.fixture(scope="module")
def haberman() -> pd.DataFrame:
    """Haberman's survival data (306 rows, 3 numeric features, label ``survival``): classes that
    barely separate, so each flipped row's own evidence is weak."""
    from conftest import shared_path

    from poisonguard.data import load_dataset

    return load_dataset(shared_path("haberman.csv.gz"), label="survival").frame


def test_quarantine_level_is_chosen_by_accuracy_on_the_trusted_rows(haberman):
    """60 % of the majority class relabelled as the minority: the batch is suspected but no row
    passes BH at 0.1 (each row's evidence is weak on this data). With the relabelling reading of the
    shifted label mix off (it quarantines such rows itself, below), the level whose kept rows train
    the model most accurate on the trusted rows quarantines them (measured: 48 rows, F1 0.63,
    against 0.74 for an oracle model of the trusted rows at its best threshold); the untouched
    batch keeps the configured level.

    The label detector is pinned to one cross-validation split (``cv_repeats: 1``), the evidence
    this case was measured with: the looser level's gain is at the edge of significance here
    (z = 2.58 against the 2.33 needed), and with the default three splits on 183 trusted rows it
    is 1.48, so the configured level stays (``benchmarks/RESULTS.md``, 2026-12-08)."""
    trusted, new = split_60_40(haberman, "survival", 0)
    counts = new["survival"].value_counts().index.tolist()
    att = poison(TabularDataset.from_frame(new, label="survival"), "batch_class_flip", rate=0.6,
                 source=counts[0], target=counts[1], seed=0)
    off = {"reference_shift": {"relabelled": False}, "label_flip": {"cv_repeats": 1}}
    fixed = scan(att.frame, label="survival", reference=trusted, seed=0,
                 params={**off, "decision": {"choose_level": False}})
    res = scan(att.frame, label="survival", reference=trusted, seed=0, params=off)
    assert fixed.suspected and res.suspected
    assert fixed.n_quarantined <= 0.1 * att.mask.sum()
    choice = res.decision["level_choice"]
    assert res.decision["level"] == choice["chosen_level"] > 0.1 and res.decision["level_chosen_on_trusted"]
    table = {row["level"]: row for row in choice["levels"]}
    won = table[choice["chosen_level"]]
    assert won["z"] > choice["z_needed"] and won["accuracy"] >= table[0.1]["accuracy"] + 0.1
    q = res.scores["flagged"].to_numpy()
    tp = float((q & att.mask).sum())
    assert 2 * tp / (q.sum() + att.mask.sum()) >= 0.55
    assert won["quarantined"] == int(q.sum())
    # the reasons say which level quarantined a row and that it was chosen on the trusted rows
    assert any("chosen on the trusted rows" in r for row in res.quarantined for r in row.reasons)
    assert f"level {choice['chosen_level']:g} chosen on the trusted rows" in str(res)
    # by default the shifted label mix is read as relabelling: its rows are quarantined as such
    rel = scan(att.frame, label="survival", reference=trusted, seed=0)
    q = rel.scores["flagged"].to_numpy()
    f1_rel = 2 * float((q & att.mask).sum()) / (q.sum() + att.mask.sum())
    assert f1_rel >= 0.65 and rel.reference["label_shift"]["relabelled"]["rows"] > 0, f1_rel  # measured: 0.71
    assert any("more likely relabelled" in r for row in rel.quarantined for r in row.reasons)

    clean = scan(new, label="survival", reference=trusted, seed=0)
    assert not clean.suspected and "level_choice" not in clean.decision and clean.decision["level"] == 0.1
    assert clean.n_quarantined == scan(new, label="survival", reference=trusted, seed=0,
                                       params={"decision": {"choose_level": False}}).n_quarantined


def test_level_is_not_loosened_for_a_batch_no_test_suspects():
    """Breast cancer (Ljubljana; categorical features that say little about the label), an
    untouched batch: a model trained without many minority rows predicts the majority class and
    is *more* accurate on the trusted rows (once measured significantly so: 36 of 115 clean rows
    would have gone; how significant depends on the order of tied neighbours of identical rows),
    so the level is only chosen for a suspected batch; and asked anyway, a looser level is taken
    only where its gain on the trusted rows passes the one-sided test. Since the decision's screen
    (:func:`poisonguard.evidence.screen`), the label evidence of this batch, which fails its own
    global test, no longer enters the ranking a looser level would quarantine from, so that
    route is closed one step earlier too."""
    from conftest import shared_path

    from poisonguard.data import load_dataset
    from poisonguard.reference import choose_level, prepare

    frame = load_dataset(shared_path("breast_cancer_ljubljana.csv.gz"), label="class").frame
    trusted, new = split_60_40(frame, "class", 0)
    res = scan(new, label="class", reference=trusted, seed=0)
    assert not res.suspected and res.n_quarantined == 0 and "level_choice" not in res.decision
    # what the gate prevents: asked anyway, the trusted rows favour a looser level
    prep = prepare(TabularDataset.from_frame(new, label="class"), TabularDataset.from_frame(trusted, label="class"))
    p = res.scores["p_value"].to_numpy(float)
    forced = choose_level(prep, p, np.zeros(len(new), bool), level=0.1, seed=0)
    assert forced is not None
    table = {row["level"]: row for row in forced.table}
    assert "label_flip" not in res.decision["entered"] and res.decision["global_p"]["label_flip"] > 0.1
    assert max(row["quarantined"] for row in forced.table) <= 2  # nothing but the screened-in evidence to rank by
    chosen = table[forced.level]
    assert forced.level == 0.1 or chosen["z"] > forced.z_needed
    assert int(forced.quarantine.sum()) == chosen["quarantined"]


def test_bh_adjusted_pvalues_reproduce_every_bh_level():
    from poisonguard.evidence import bh_threshold
    from poisonguard.reference import bh_adjusted

    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=900), rng.uniform(0, 1e-3, size=100)])
    q = bh_adjusted(p)
    for c in (0.01, 0.1, 0.3, 0.9):
        t = bh_threshold(p, c)
        assert np.array_equal(q <= c, p <= t if t > 0 else np.zeros(p.size, bool))
    assert (q >= p).all() and q.max() <= 1.0


def test_relevel_only_widens_the_quarantine():
    from poisonguard import evidence

    P = np.array([[1e-6], [0.2], [0.5], [1.0]])
    dec = evidence.decide(P, level=0.1)
    assert dec.quarantine.tolist() == [True, False, False, False]
    wider = evidence.relevel(dec, np.array([True, True, False, False]), 0.5)
    assert wider.decision.tolist()[:2] == ["quarantine", "quarantine"] and wider.level == 0.5 and wider.relevelled
    assert wider.summary()["level_chosen_on_trusted"] is True
    with pytest.raises(ValueError, match="widens"):
        evidence.relevel(dec, np.zeros(4, bool), 0.5)


def test_a_batch_of_common_values_is_not_a_shifted_distribution():
    """Breast cancer (Wisconsin; nine ordinal 1..10 features, many identical rows): a random 40 %
    batch holds many rows equal to a trusted row. Those are not new, so the focus rows left are
    the rarer values; compared with every trusted row they looked shifted (PSI about 0.28). When
    the batch replaces the trusted file, the trusted rows it repeats are left out of the
    comparison too, so the untouched batch is not suspected — and a truly moved column still is."""
    from conftest import shared_path

    from poisonguard.data import load_dataset

    frame = load_dataset(shared_path("breast_cancer_wisconsin.csv.gz"), label="class").frame
    trusted, new = split_60_40(frame, "class", 0)
    rep = compare(new, trusted, label="class", seed=0)
    dist = rep.distribution
    assert rep.delta["unchanged"] >= 50                       # the coincidental copies exist
    assert 0 < dist["trusted_rows_compared"] < len(trusted)
    assert not dist["shifted_features"] and not rep.suspected, rep.reasons
    moved = new.copy()
    col = "clump_thickness"
    moved[col] = (moved[col] + 2 * frame[col].std()).round()
    rep2 = compare(moved, trusted, label="class", seed=0)
    assert col in rep2.distribution["shifted_features"] and rep2.suspected


def test_injected_outliers_make_a_batch_suspected_against_the_trusted_rows(banknote):
    """The outlier detector fitted on the trusted rows: 2 % of a new batch moved 6-10 sd in half
    their features make the batch suspected by Simes' test of the new rows' split-conformal
    p-values (it used to have no batch decision against a reference: exit 0); the untouched batch
    and the gate switched off do not."""
    trusted, new = split_60_40(banknote, "class", 0)
    att = poison(TabularDataset.from_frame(new, label="class"), "outliers", rate=0.02, shift=(6.0, 10.0),
                 feature_fraction=0.5, seed=0)
    res = scan(att.frame, label="class", reference=trusted, seed=0, detectors=["outliers"])
    assert res.suspected and any(r.startswith("outliers: ") and "Simes" in r for r in res.reasons), res.reasons
    test = next(d for d in res.detectors if d.name == "outliers").section["batch_test"]
    assert test["p"] <= test["alpha"] == 0.001 and test["rows_behind"] >= 0.8 * att.mask.sum()
    clean = scan(new, label="class", reference=trusted, seed=0, detectors=["outliers"])
    assert not clean.suspected, clean.reasons
    assert next(d for d in clean.detectors if d.name == "outliers").section["batch_test"]["p"] > 0.001
    off = scan(att.frame, label="class", reference=trusted, seed=0, detectors=["outliers"],
               params={"reference_shift": {"gate_feature_outliers": False}})
    assert not off.suspected and off.n_quarantined == res.n_quarantined


def test_simes_pvalue_is_the_smallest_bh_level_that_rejects():
    from poisonguard.evidence import bh_threshold, simes_pvalue

    p = np.array([0.04, 0.001, 0.3, 0.02, 0.9])
    assert simes_pvalue(p) == pytest.approx(min(0.001 * 5 / 1, 0.02 * 5 / 2, 0.04 * 5 / 3, 0.3 * 5 / 4, 0.9))
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.uniform(size=20) ** 3
        s = simes_pvalue(q)
        assert bh_threshold(q, s * 1.0001) > 0 and bh_threshold(q, s * 0.9999) == 0
    assert simes_pvalue(np.array([])) == 1.0


# -- a shifted label distribution: moved labels against a moved population -----------------------------
def _overlapping(n: int, seed: int, sep: float = 0.6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 3)) + sep * y[:, None]
    return pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=np.where(y == 1, "yes", "no"))


def test_relabelled_rows_of_a_weak_model_are_quarantined():
    """Classes a trusted model barely tells apart (one sd between their means in three features,
    less than that here: 0.6); 60 % of the batch's "no" rows relabelled "yes". The per-class label
    test sees nothing: the trusted model's own cross-validated error is as large. The label mix moved
    while the trusted model's predictions did not, so the excess is read as relabelling, and the
    rows labelled "yes" that look more like "no" go to quarantine. Measured: recall 0.45, precision
    0.56; the Bayes rule with the true densities and the true relabelled share, 0.55 / 0.73."""
    trusted, new = _overlapping(600, 1), _overlapping(200, 11)
    att = poison(TabularDataset.from_frame(new, label="label"), "batch_class_flip", rate=0.6, source="no",
                 target="yes", seed=0)
    rep = compare(att.frame, trusted, label="label")
    rel = rep.label_shift["relabelled"]
    assert rel["population_moved"] is False and rel["rows"] > 0
    rec, prec = recall_precision(rep.suspicion > 0.5, att.mask)
    assert rec >= 0.35 and prec >= 0.45, (rec, prec)
    why = next(rep.row_reasons[r] for r in np.flatnonzero(att.mask & (rep.suspicion > 0.5)))
    assert "more likely relabelled from 'no' than not" in why
    off = compare(att.frame, trusted, label="label", params={"relabelled": False})
    assert off.label_shift["relabelled"]["rows"] == 0 and not (off.suspicion > 0.5).any()


def test_a_population_whose_class_mix_moved_is_not_relabelling():
    """The batch truly holds 85 % "yes" (correct labels) and a trusted model sees classes well: its
    predictions' class mix moves with the labels, so the population moved, and no row is read as
    relabelled."""
    trusted = _overlapping(600, 0, sep=3.0)
    pool = _overlapping(2000, 1, sep=3.0)
    yes, no = pool[pool["label"] == "yes"], pool[pool["label"] == "no"]
    batch = pd.concat([yes.iloc[:170], no.iloc[:30]], ignore_index=True)
    rep = compare(batch, trusted, label="label")
    rel = rep.label_shift["relabelled"]
    assert rep.distribution["label"]["shifted"]
    assert rel["population_moved"] is True and rel["rows"] == 0, rel
    assert abs(rel["predicted_mix"]["yes"] - 0.85) < 0.05 and rel["largest_z"] > 3
