"""What ``scan`` accepts as data (issue 16): a dataset's label and id column can be given or
replaced through ``label=`` / ``id_column=``, and missing labels end in a clear UsageError,
never a bare ``assert`` (which the scan recorded as a detector failure, exit 3, empty message)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poisonguard.data import TabularDataset
from poisonguard.errors import SchemaError, UsageError
from poisonguard.scan import scan


@pytest.fixture(scope="module")
def frame(blobs) -> pd.DataFrame:
    f = blobs.copy()
    f.insert(0, "rid", [f"r{i:04d}" for i in range(len(f))])
    f.loc[:29, "label"] = np.where(f.loc[:29, "label"] == "a", "b", "a")  # flips to find
    return f


def test_unlabelled_dataset_with_label_argument_is_scanned_with_that_label(frame):
    plain = TabularDataset.from_frame(frame)
    got = scan(plain, label="label", id_column="rid", detectors=["knn_disagreement"])
    want = scan(frame, label="label", id_column="rid", detectors=["knn_disagreement"])
    assert got.failures == () and got.return_code == want.return_code
    assert got.input["label"] == "label" and got.input["id_column"] == "rid"
    assert got.suspected and want.suspected
    pd.testing.assert_frame_equal(got.scores, want.scores)
    listed = got.quarantined + got.review
    assert [r.row for r in listed] == [r.row for r in want.quarantined + want.review] and listed
    assert all(r.id == f"r{r.row:04d}" and r.label == frame["label"][r.row] for r in listed)


def test_id_column_argument_is_honoured_for_a_labelled_dataset(frame):
    ds = TabularDataset.from_frame(frame, label="label")
    res = scan(ds, id_column="rid", detectors=["duplicates"])
    assert res.input["id_column"] == "rid" and res.input["feature_kinds"]["rid"] == "id"


def test_label_argument_replaces_the_dataset_label(frame):
    ds = TabularDataset.from_frame(frame.assign(other=frame["label"]), label="other")
    res = scan(ds, label="label", detectors=["knn_disagreement"])
    assert res.input["label"] == "label" and res.input["feature_kinds"]["other"] == "categorical"


def test_unknown_label_argument_for_a_dataset_is_a_schema_error(frame):
    with pytest.raises(SchemaError, match="no label column 'nope'"):
        scan(TabularDataset.from_frame(frame), label="nope", detectors=["knn_disagreement"])


def test_unlabelled_dataset_without_label_is_a_usage_error_not_an_assert(frame):
    with pytest.raises(UsageError, match=r"need labels: pass --label COLUMN"):
        scan(TabularDataset.from_frame(frame), detectors=["knn_disagreement"])
