"""``poisonguard.reference``: compare a new data version with a trusted one.

Poisoning usually arrives as an update. Compared with the version that was already trusted,
a poisoned update stands out in ways a scan of the new data alone cannot see, above all a
targeted flip of half or more of one class (which defeats single-dataset label-noise methods:
confident learning assumes fewer than half of each class are mislabelled). :func:`compare`
computes four things, for the whole new version and, with ``source_column``, per source:

**Row delta.** Row digests (:meth:`~poisonguard.data.TabularDataset.row_digests`, over the
columns both versions have) split the new rows into *unchanged* (the same row is in the trusted
version), *changed* (with an ``id_column``: the id is in the trusted version with other values;
without one: every column but the label matches a trusted row, i.e. a label edit) and *added*;
trusted rows that no longer appear are *removed*. Everything else looks only at the **focus**:
the added and changed rows. Unchanged rows were accepted before and are never flagged here.

**Label shift that a trusted model sees.** A gradient-boosted model fitted on the trusted rows
predicts the focus rows. Per class (and per source, and per source and class) the rate at which
it disagrees with the new labels is set against the rate expected from its own cross-validated
error on the trusted rows; a group is flagged when

    observed > expected + max(min_excess, z * sqrt(e (1 - e) (1/n_new + 1/n_trusted)))

(an effect-size margin and a sampling margin, both required; groups under ``min_rows`` rows are
reported, not flagged). The same test runs within two strata of each class, split at the median
confidence of the trusted model on the trusted rows (``core_quantile``, capped at 0.99): the
class's *core*, where natural label noise is rare and a few points of flipped labels stand out that
the class-wide rate hides (margin ``core_min_excess``), and the unsure *rest*, where flips placed
near the decision boundary land. Strata often expect almost no disagreement, so they use an exact
binomial test against the Wilson upper bound of the trusted rate instead of the normal margin.
The expected rate comes from the trusted rows whose feature values occur
only once there: cross-validation predicts a duplicated row from its twin in the training folds,
while focus rows are never copies of trusted rows. A class whose jump the flagged sources explain
(it is not flagged on the other sources' rows) is left to them. The disagreeing rows of a flagged
class or source-and-class group, and of a flagged source in the classes where it exceeds the
expected rate, are flagged with the reason. A label never seen in the trusted data is a finding by
itself (the row is flagged).

**Distribution shift with effect sizes, not p-values** (p-values flag everything at large n).
Numeric columns: population stability index over the trusted deciles (missing values in a bin of
their own) and the Wasserstein-1 distance in units of the trusted robust standard deviation
(IQR / 1.349, else the standard deviation). Categorical columns and the label: Jensen-Shannon
distance (base 2, in [0, 1]). PSI and JS are corrected for their small-sample bias (their
expected value when nothing shifted, ``(B - 1)(1/n_new + 1/n_trusted)`` for PSI over ``B`` bins,
an eighth of that over ``ln 2`` for the JS divergence), so that small sources are not flagged for
being small. A numeric column is shifted when both PSI >= ``psi`` and W1 >= ``wasserstein``
(a large change in shape *and* in location or scale); a categorical one when JS >= ``js``.

**Per source** (``source_column``): all of the above per value of the column. A source that the
trusted version also has (with at least ``min_shift_rows`` rows) is compared with its own trusted
rows; a new source with the whole trusted data. The source column is not used as a feature.

The batch is *suspected* (policy :data:`DEFAULT_POLICY`, every key overridable) when a class,
source or source-and-class group is flagged, a label is unseen, a feature is shifted in the
focus rows or in a source, or the label distribution shifted (for a new source its label mix is
reported only: sources differ in their class mix honestly).
"""

from ._compare import compare
from ._level import CANDIDATE_LEVELS, LevelChoice, bh_adjusted, choose_level, level_note
from ._load import load_reference
from ._policy import DEFAULT_POLICY, NAME, POLICY, policy
from ._prepare import Prepared, can_score_new, fit_inductive, inductive_batch_test, inductive_pvalues, prepare
from ._report import ReferenceReport, label_shift_table, shift_table
from ._shift import js_shift, numeric_shift

__all__ = ["CANDIDATE_LEVELS", "DEFAULT_POLICY", "LevelChoice", "NAME", "POLICY", "Prepared", "ReferenceReport",
           "bh_adjusted", "can_score_new", "choose_level", "compare", "fit_inductive", "inductive_batch_test",
           "inductive_pvalues", "level_note",
           "js_shift", "label_shift_table", "load_reference", "numeric_shift", "policy", "prepare", "shift_table"]
