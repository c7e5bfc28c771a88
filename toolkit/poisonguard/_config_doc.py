"""Render ``docs/configuration.md`` from the declared configuration structures.

``python -m poisonguard._config_doc > docs/configuration.md`` regenerates it; ``tests/test_config.py``
asserts the committed file is what this renders, so the reference cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .config import Policy

HEADER = """\
# Configuration reference: `params.yaml` and `--set`

Generated from the declared structures by `python -m poisonguard._config_doc > docs/configuration.md`
(`tests/test_config.py` fails when this file and the code disagree). Every key below is checked
before any work is done: a misspelled section key, detector, parameter or policy key, a value of
the wrong type or out of range, or a stage given two roles ends the command with one line on
standard error and exit 2 (`poisonguard.errors.ConfigError` through the Python API), before
anything is read or fitted. No such file, or no such section: the defaults.

Sources, from weakest to strongest: the defaults below, the `--params` file, then the options
(`--set DETECTOR.PARAM=VALUE`, `--set DETECTOR.policy.KEY=VALUE`, `--seed`, `--detectors`,
`--skip`, the `expectations infer` options). Values of `--set` are read as YAML
(`--set label_flip.policy.max_noise_rate=null`, `--set sensitive_data.kinds=[email]`).

The sections `prepare` and `train` of the repository's own `params.yaml` are read by the demo
pipeline's scripts (`pipelines/`), not by poisonguard.
"""


def _value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(map(str, v)) + "]"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (int, dict)):
        return str(v)
    return type(v).__name__


def _policy_rows(policy: Policy, prefix: str) -> list[str]:
    return [f"| `{prefix}.{k.name}` | {k.describe()} | `{_value(k.default)}` | {k.doc} |" for k in policy.keys]


def _table(rows: list[str]) -> list[str]:
    return ["| key | accepts | default | meaning |", "|---|---|---|---|", *rows, ""]


def _param_docs(cls: type) -> dict[str, str]:
    """First sentence of each parameter's description in a numpydoc ``Parameters`` section."""
    doc = cls.__doc__ or ""
    m = re.search(r"\n\s*Parameters\n\s*-+\n(.*?)(\n\s*\n\s*[A-Z][a-z]+\n\s*-+\n|\Z)", doc, re.S)
    out: dict[str, str] = {}
    if not m:
        return out
    current: list[str] = []
    names: list[str] = []
    for line in m.group(1).splitlines():
        head = re.match(r"^\s{4}([A-Za-z_][\w, ]*) : ", line)
        if head and not line.startswith(" " * 8):
            for n in names:
                out[n] = " ".join(current)
            names = [n.strip() for n in head.group(1).split(",")]
            current = []
        elif line.strip():
            current.append(line.strip())
    for n in names:
        out[n] = " ".join(current)
    return {k: _first_sentence(v) for k, v in out.items()}


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?(?:[.;]|(?<!\d):))(\s|$)", text)
    s = (m.group(1) if m else text).rstrip(";:")
    return s.replace("|", "\\|")


def _constraint(cls: type, key: str) -> str:
    cons = getattr(cls, "_parameter_constraints", {}).get(key)
    if not cons:
        return "see the docstring"
    return " or ".join(dict.fromkeys(_constraint_text(c) for c in cons))


def _constraint_text(c: Any) -> str:
    if c is None:
        return "null"
    if isinstance(c, type):
        return {"dict": "a mapping", "list": "a list", "tuple": "a list"}.get(c.__name__, c.__name__)
    options = getattr(c, "options", None)
    if isinstance(options, (set, frozenset)):  # StrOptions: sorted, a set's order changes from run to run
        return "one of " + ", ".join(f"`{o}`" for o in sorted(options))
    if isinstance(c, str):
        return {"boolean": "true or false", "random_state": "a whole number or null"}.get(c, c)
    return str(c).replace("<class '", "").replace("'>", "").replace("numbers.", "")


def render() -> str:
    from . import detectors as registry
    from . import evidence, reference
    from .gate import GatePolicy
    from .provenance._diff import DEFAULT_DIFF_POLICY
    from .tracking import DriftThresholds
    from .validation._suite import INFER_PARAMS

    lines = [HEADER]
    lines += ["## `scan` (`poisonguard scan --params`)", "",
              "| key | accepts | default | meaning |", "|---|---|---|---|",
              "| `scan.detectors` | a detector name or a list of names | the registry's defaults | the detectors "
              "to run (`--detectors` wins) |",
              "| `scan.skip` | a detector name or a list of names | `[]` | default detectors to leave out (with "
              "`--skip`); leaving none is an error |",
              "| `scan.seed` | a whole number or null | `0` | seed of every randomised detector (an explicit "
              "`--seed` wins, `--seed 0` too) |",
              "| `scan.engine` | `pandas`, `spark` or `auto` | `pandas` | where the scan runs (`--engine` wins): "
              "one process, Apache Spark (`poisonguard.spark`), or Spark for `s3a://` paths and inputs of 1 GiB "
              "or more |",
              *_policy_rows(evidence.DECISION, "scan.decision"), ""]
    lines += ["Any other key of `scan` must be a registered detector's name (`poisonguard detectors`) and "
              "holds that detector's parameters (`scan.DETECTOR.PARAM`, or `--set DETECTOR.PARAM=VALUE`); "
              "parameters of a detector that does not run are ignored. A detector's `policy` is its "
              "batch policy, a mapping of the keys listed under it.", ""]
    for name in registry.available():
        cls = registry.get(name)
        docs = _param_docs(cls)
        params = cls().get_params(deep=False)
        lines += [f"### `scan.{name}` ({cls.__module__}.{cls.__qualname__})", ""]
        rows = [f"| `scan.{name}.{k}` | {_constraint(cls, k)} | `{_value(v)}` | {docs.get(k, '')} |"
                for k, v in params.items()]
        policy = cls.POLICY if "policy" in params else None
        if policy is not None:
            rows += _policy_rows(policy, f"scan.{name}.policy")
        lines += _table(rows)
    lines += [f"### `scan.{reference.NAME}` (with `--reference` / `--reference-rev`)", "",
              "The policy of the comparison with the trusted version; ignored without a reference in "
              "params.yaml, an error with `--set`.", "", *_table(_policy_rows(reference.POLICY, f"scan.{reference.NAME}"))]

    lines += ["## `gate` (`poisonguard gate --params`)", "",
              "Each stage has one role: a stage listed under two of `required`, `optional` and `advisory` is "
              "an error. A stage result file whose `schema_version` is of another major version than the gate "
              "reads is refused with one line naming the file (exit 2).", ""]
    gate_doc = {
        "required": ("a list of stage names or null", "stages that must have run; null: the stages whose "
                     "reports are given"),
        "optional": ("a list of stage names", "stages checked when their result is there, not run otherwise"),
        "advisory": ("a list of stage names", "stages whose failures are warnings only"),
        "fail_on_warnings": ("true or false", "warnings fail the gate too"),
        "fail_on_detector_error": ("true or false", "a detector that raised fails the scan"),
        "max_quarantine_share": ("a number in (0, 1] or null", "fail when the scan quarantines more than this share"),
    }
    rows = []
    for f in dataclasses.fields(GatePolicy):
        accepts, meaning = gate_doc[f.name]
        rows.append(f"| `gate.{f.name}` | {accepts} | `{_value(f.default)}` | {meaning} |")
    lines += _table(rows)

    lines += ["## `drift` (`poisonguard drift --params`)", "",
              "The canary comparison's thresholds (`poisonguard.tracking.DriftThresholds`; the threshold options "
              "of `drift` win).", ""]
    rows = []
    for f in dataclasses.fields(DriftThresholds):
        accepts = "a whole number >= 1" if f.name.startswith("min_") else "a number in [0, 1]"
        rows.append(f"| `drift.{f.name}` | {accepts} | `{_value(f.default)}` | see `DriftThresholds` |")
    lines += _table(rows)

    lines += ["## `provenance.diff` (`poisonguard manifest diff --params`)", "",
              *_table([f"| `provenance.diff.fail_on` | a list of change kinds | "
                       f"`{_value(DEFAULT_DIFF_POLICY['fail_on'])}` | change kinds that fail the run (`--fail-on` "
                       "wins) |",
                       f"| `provenance.diff.volume_threshold` | a number > 0 | "
                       f"`{_value(DEFAULT_DIFF_POLICY['volume_threshold'])}` | relative change of rows or bytes "
                       "that counts as a volume jump (`--volume-threshold` wins) |"])]

    lines += ["## `expectations.infer` (`poisonguard expectations infer --params`)", "",
              "The parameters of `poisonguard.validation.infer_suite` (its options win).", "",
              *_table(_policy_rows(INFER_PARAMS, "expectations.infer"))]
    return "\n".join(lines).rstrip("\n") + "\n"


def declared_keys() -> list[str]:
    """Every dotted key the configuration declares (what the documentation must list)."""
    from . import detectors as registry
    from . import evidence, reference
    from .gate import GatePolicy
    from .provenance._diff import DEFAULT_DIFF_POLICY
    from .tracking import DriftThresholds
    from .validation._suite import INFER_PARAMS

    keys = ["scan.detectors", "scan.skip", "scan.seed", "scan.engine"]
    keys += [f"scan.decision.{k}" for k in evidence.DECISION.names]
    for name in registry.available():
        cls = registry.get(name)
        params = cls().get_params(deep=False)
        keys += [f"scan.{name}.{k}" for k in params]
        if "policy" in params and cls.POLICY is not None:
            keys += [f"scan.{name}.policy.{k}" for k in cls.POLICY.names]
    keys += [f"scan.{reference.NAME}.{k}" for k in reference.POLICY.names]
    keys += [f"gate.{f.name}" for f in dataclasses.fields(GatePolicy)]
    keys += [f"drift.{f.name}" for f in dataclasses.fields(DriftThresholds)]
    keys += [f"provenance.diff.{k}" for k in DEFAULT_DIFF_POLICY]
    keys += [f"expectations.infer.{k}" for k in INFER_PARAMS.names]
    return keys


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(render())
