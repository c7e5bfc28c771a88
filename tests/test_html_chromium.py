"""The HTML report in a real browser: Debian's headless Chromium (``make test`` installs it through
``.ci/test-deps`` when it runs as root, and says what to install otherwise).

It must render with no console error, no failed load and no request beyond the file itself and
its ``data:`` images; the verdict and the plots must be there; hostile values planted in the data
must not run (no dialog opens). Chromium missing is a failure, not a skip: CI installs it.
"""

from __future__ import annotations

import os

import pytest
from _chromium import CHROMIUM, open_page
from _report_case import build_case, reports_of

from poisonguard.gate import gate
from poisonguard.reports import write_reports

pytestmark = pytest.mark.slow  # headless Chromium; `make test-fast` skips it

PROBE = """JSON.stringify({
  verdict: document.querySelector('#verdict .big') && document.querySelector('#verdict .big').innerText,
  title: document.title,
  stages: Array.from(document.querySelectorAll('section[id^="stage-"]')).map(s => s.id),
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                                parent: i.parentElement.id})),
  scripts: document.scripts.length,
  planted: document.body.innerText.includes('<script>alert(1)</script>')
})"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: the HTML report is tested in Debian's chromium. Run `make test` as "
                    "root (it installs it) or `apt-get install chromium`; set POISONGUARD_CHROMIUM to use another "
                    "binary.")
    case = build_case(tmp_path_factory.mktemp("chromium"))
    verdict = gate(reports_of(case), {"required": ["provenance", "validation", "scan"], "optional": ["drift"]})
    paths = write_reports(verdict, case["out"], root=case["root"], formats=["html"])
    return paths["html"], verdict


def test_report_renders_in_chromium_without_errors(report, tmp_path):
    import json

    path, verdict = report
    page = open_page(path, PROBE, screenshot=True)
    assert page.errors == [], page.errors
    assert page.dialogs == []  # nothing planted in the data ran
    assert all(u.startswith(("file://", "data:")) for u in page.requests), page.requests
    info = json.loads(page.value)
    assert info["verdict"] == "FAIL" == verdict.verdict.upper()
    assert info["title"].endswith("FAIL")
    assert info["stages"] == ["stage-provenance", "stage-validation", "stage-scan", "stage-drift"]
    assert info["scripts"] == 0
    plots = {i["parent"] for i in info["images"]}
    assert {"plot-suspicion_histogram", "plot-flagged_per_class", "plot-feature_shift", "plot-canary_recall"} <= plots
    assert all(i["complete"] and i["width"] > 0 for i in info["images"]), info["images"]
    assert info["planted"]  # the hostile value is shown as text
    assert page.screenshot is not None and page.screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "report.png").write_bytes(page.screenshot)
