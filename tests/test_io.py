"""poisonguard._io: atomic writes, file modes, the run-level output folder."""

from __future__ import annotations

import os
import stat

import pytest

from poisonguard._io import atomic_write_bytes, atomic_write_json, atomic_write_text, current_umask


@pytest.fixture()
def umask():
    old = os.umask(0o022)
    try:
        yield lambda m: os.umask(m)
    finally:
        os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert current_umask() == mask
    for i, write in enumerate((lambda p: atomic_write_text(p, "x"), lambda p: atomic_write_bytes(p, b"x"),
                               lambda p: atomic_write_json(p, {"a": 1}))):
        p = write(tmp_path / f"f{i}")
        assert stat.S_IMODE(p.stat().st_mode) == mode
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_perms_set_before_the_first_byte(tmp_path, umask):
    from poisonguard._io import atomic_open

    with atomic_open(tmp_path / "secret", "wb", perms=0o600) as fh:
        assert stat.S_IMODE(os.fstat(fh.fileno()).st_mode) == 0o600
        fh.write(b"k")
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


def test_output_set_cleans_and_finishes_what_killed_runs_left(tmp_path):
    import json

    from poisonguard._outdir import STAGING_PREFIX, output_set

    out = tmp_path
    (out / "input.csv").write_text("mine\n")
    (out / ".report.json.x1y2.tmp").write_text("half")                 # an old version's temporary
    (out / f"{STAGING_PREFIX}dead").mkdir()                            # killed while writing
    (out / f"{STAGING_PREFIX}dead" / "scores.csv").write_text("partial")
    done = out / f"{STAGING_PREFIX}done"                               # killed while moving in
    done.mkdir()
    (done / "scores.csv").write_text("old run\n")
    (done / "report.json").write_text("{}")
    (done / ".complete").write_text(json.dumps({"files": ["report.json", "scores.csv"], "commit": "report.json"}))
    with output_set(out) as stage:
        assert (out / "scores.csv").read_text() == "old run\n"           # finished before this run writes
        assert not (out / f"{STAGING_PREFIX}dead").exists()
        (stage / "scores.csv").write_text("new\n")
        (stage / "report.json").write_text('{"new": 1}')
    assert (out / "scores.csv").read_text() == "new\n" and (out / "input.csv").read_text() == "mine\n"
    assert sorted(p.name for p in out.iterdir()) == [".poisonguard.lock", "input.csv", "report.json", "scores.csv"]
    with pytest.raises(RuntimeError), output_set(out) as stage:          # a failed run changes nothing
        (stage / "scores.csv").write_text("never\n")
        raise RuntimeError
    assert (out / "scores.csv").read_text() == "new\n" and not list(out.glob(STAGING_PREFIX + "*"))


def test_recover_keeps_a_set_already_moved_in(tmp_path):
    """A run killed while removing its emptied staging folder: the set is in place and stays."""
    import json

    from poisonguard._outdir import STAGING_PREFIX, recover

    (tmp_path / "report.json").write_text("{}")
    (tmp_path / "scores.csv").write_text("new\n")
    left = tmp_path / f"{STAGING_PREFIX}moved"
    left.mkdir()
    (left / ".complete").write_text(json.dumps({"files": ["report.json", "scores.csv"], "commit": "report.json"}))
    recover(tmp_path)
    assert (tmp_path / "report.json").exists() and not left.exists()
