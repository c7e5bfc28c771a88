"""Docstrings and help texts say what the code does (issue 16's defects)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest


@pytest.mark.parametrize("k", [3, 5, 20])
def test_encoder_docstring_states_the_one_hot_cap_it_applies(k):
    from poisonguard.data import Encoder, TabularDataset

    frame = pd.DataFrame({"c": [f"v{i % 50}" for i in range(500)], "x": np.arange(500.0)})
    enc = Encoder(max_categories=k).fit(TabularDataset.from_frame(frame))
    values = [c for c in enc.columns_ if c.startswith("c=") and c not in ("c=<other>", "c=<missing>")]
    assert len(values) == k - 2 and sum(c.startswith("c=") for c in enc.columns_) == k
    doc = " ".join(Encoder.__doc__.split())
    assert "``max_categories - 2`` most frequent values" in doc and "max_categories - 1" not in doc


def test_outliers_docstrings_say_the_raw_score_is_the_mean_of_the_two_views():
    from poisonguard.detectors import outliers

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(400, 4)), np.repeat([0, 1], 200)
    det = outliers.OutlierEnsemble(random_state=0).fit(X, y)
    np.testing.assert_allclose(det.raw_scores_, (det.overall_score_ + det.class_score_) / 2)
    module_doc = " ".join(outliers.__doc__.split())
    assert "raw score is the mean of the two" in module_doc and "larger of the two" not in module_doc


def _attack_names() -> list[str]:
    from poisonguard.attacks import ATTACKS

    assert len(ATTACKS) >= 8
    return sorted(ATTACKS)


def test_attacks_module_docstring_lists_every_attack():
    from poisonguard import attacks

    listed = set(re.findall(r"^``(\w+)``$", attacks.__doc__, flags=re.M))
    assert listed == set(_attack_names())


def test_attack_help_lists_every_attack_and_no_missing_option(cli):
    rc, out, _ = cli("attack", "--help")
    assert rc == 0
    text = " ".join(out.split())
    missing = [name for name in _attack_names() if name not in text]
    assert missing == []
    assert "--list" not in text  # the command has no such option
    assert "written in the input's format" not in text  # --out's own name decides


def test_attack_writes_in_the_format_out_names(cli, tmp_path):
    from poisonguard.data import load_dataset

    src = tmp_path / "in.csv"
    pd.DataFrame({"x": np.arange(40.0), "y": ["a", "b"] * 20}).to_csv(src, index=False)
    rc, _, err = cli("attack", src, "--label", "y", "--attack", "random_flip", "--out", tmp_path / "p.parquet")
    assert rc == 0, err
    assert (tmp_path / "p.parquet").read_bytes()[:4] == b"PAR1" and load_dataset(tmp_path / "p.parquet").n_rows == 40
