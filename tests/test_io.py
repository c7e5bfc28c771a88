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
