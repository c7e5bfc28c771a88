"""JUnit XML of a verdict: one test suite per stage, one test case per check.

A check that fails the gate is a ``<failure>`` with its message (a required stage that did not
run is one too); a skipped check, or an optional stage that did not run, is ``<skipped>``;
warnings pass and carry their message in ``<system-out>``. So the counts match the verdict:
``failures`` is the number of checks that fail the gate, and the verdict is "fail" exactly when
it is not 0. Written with :mod:`xml.etree.ElementTree` (every value escaped), with characters
XML 1.0 cannot hold replaced.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from .._env import source_date
from ._common import xml_text

if TYPE_CHECKING:  # pragma: no cover
    from ..verdict import Verdict

__all__ = ["render_junit"]


def _attr(value: object, limit: int = 1000) -> str:
    s = xml_text(" ".join(str(value).split()))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def render_junit(verdict: Verdict, *, name: str = "poisonguard gate") -> str:
    """The verdict as a JUnit XML document (a string, UTF-8 declared)."""
    when = source_date()  # JUnit's timestamp is optional: only SOURCE_DATE_EPOCH's, so the file is reproducible
    stamp = {"timestamp": when.isoformat()} if when is not None else {}
    root = ET.Element("testsuites", name=_attr(name))
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    by_stage: dict[str, list] = {}
    for ch in verdict.checks:
        by_stage.setdefault(ch.stage, []).append(ch)
    order = [s.stage for s in verdict.stages] + [s for s in by_stage if s not in {x.stage for x in verdict.stages}]
    reports = {s.stage: s for s in verdict.stages}
    for stage in order:
        checks = by_stage.get(stage, [])
        if not checks:
            continue
        failures = sum(c.fails_gate for c in checks)
        skipped = sum(c.status in ("skipped", "not_run") and not c.fails_gate for c in checks)
        suite = ET.SubElement(root, "testsuite", {"name": _attr(stage), "tests": str(len(checks)),
                                                  "failures": str(failures), "errors": "0", "skipped": str(skipped),
                                                  "time": "0", **stamp})
        outcome = reports.get(stage)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="role", value=_attr(outcome.role if outcome else "extra"))
        if outcome is not None and outcome.report:
            ET.SubElement(props, "property", name="report", value=_attr(outcome.report))
        if outcome is not None:
            ET.SubElement(props, "property", name="summary", value=_attr(outcome.summary))
        for ch in checks:
            case = ET.SubElement(suite, "testcase", classname=_attr(f"poisonguard.{stage}"), name=_attr(ch.name, 300),
                                 time="0")
            if ch.location:
                case.set("file", _attr(ch.location, 500))
            if ch.fails_gate:
                kind = "stage_not_run" if ch.status == "not_run" else "check_failed"
                fail = ET.SubElement(case, "failure", message=_attr(ch.message, 500), type=kind)
                fail.text = xml_text(f"{ch.id}: {ch.message}")
            elif ch.status in ("skipped", "not_run"):
                ET.SubElement(case, "skipped", message=_attr(ch.message, 500))
            elif ch.status == "warning":
                out = ET.SubElement(case, "system-out")
                out.text = xml_text(f"WARNING {ch.id}: {ch.message}")
        totals["tests"] += len(checks)
        totals["failures"] += failures
        totals["skipped"] += skipped
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("skipped", str(totals["skipped"]))
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
