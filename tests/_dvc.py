"""Running DVC, git and the poisonguard CLI in a temporary project, as a user's shell would.

Behind the ``shell`` fixture of ``conftest.py`` (``test_pipeline.py``'s module fixtures call ``run``
directly): the test's own Python environment first on ``PATH`` (its ``dvc``, ``python`` and ``poisonguard``), no tracking URI or
project folder of the caller's, telemetry off, a git identity for the commits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "POISONGUARD_PROJECT_DIR")}
    out.update({"PATH": f"{BIN}{os.pathsep}{out.get('PATH', '')}", "DVC_NO_ANALYTICS": "1", "GIT_CONFIG_NOSYSTEM": "1", "CI": "true",
                "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False",
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.com"})
    return out


def run(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
