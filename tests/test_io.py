"""Atomic writes (memplug.io): success, failure mid-write, unwritable targets."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import xarray as xr

from memplug.io import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_netcdf,
    atomic_write_text,
    atomic_write_with,
)


class Boom(Exception):
    pass


def leftovers(directory) -> list[str]:
    """Files in ``directory`` other than the targets the test names (temp files left behind)."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def usual_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_writes_bytes_text_json_and_creates_parents(tmp_path):
    b = atomic_write_bytes(tmp_path / "a" / "b.bin", b"\x00\x01")
    t = atomic_write_text(tmp_path / "t.txt", "Fₛ(k, t)\n")
    j = atomic_write_json(tmp_path / "j.json", {"x": [1, 2], "p": tmp_path}, default=str)
    assert b.read_bytes() == b"\x00\x01"
    assert t.read_text(encoding="utf-8") == "Fₛ(k, t)\n"
    assert json.loads(j.read_text()) == {"x": [1, 2], "p": str(tmp_path)}
    assert j.read_text().endswith("}\n")
    # mkstemp creates 0600; a finished file has the permissions of any new file
    assert stat.S_IMODE(j.stat().st_mode) == usual_mode()
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "a") == []


def test_overwrites_existing_file(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("old")
    atomic_write_text(p, "new")
    assert p.read_text() == "new" and leftovers(tmp_path) == []


def test_netcdf_roundtrip_with_encoding(tmp_path):
    ds = xr.Dataset({"F": (("t",), np.linspace(1.0, 0.0, 7))}, coords={"t": np.arange(7.0)})
    p = atomic_write_netcdf(tmp_path / "d.nc", ds, encoding={"F": {"zlib": True, "complevel": 4}})
    with xr.open_dataset(p, engine="h5netcdf") as back:
        np.testing.assert_array_equal(back["F"].values, ds["F"].values)
    assert leftovers(tmp_path) == []


def test_exception_mid_write_keeps_old_file_and_no_temp(tmp_path):
    p = tmp_path / "result.json"
    p.write_text("old complete file")
    with pytest.raises(Boom):
        with atomic_path(p) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".result.json.")
            tmp.write_text("half writ")
            raise Boom
    assert p.read_text() == "old complete file"
    assert leftovers(tmp_path) == []


def test_keyboard_interrupt_mid_write_cleans_up(tmp_path):
    p = tmp_path / "ck.pkl"

    def interrupted(tmp):
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_with(p, interrupted)
    assert not p.exists() and leftovers(tmp_path) == []


def test_netcdf_failure_keeps_old_file(tmp_path):
    p = tmp_path / "d.nc"
    p.write_bytes(b"old")
    ds = xr.Dataset({"F": (("t",), np.ones(3))})
    with pytest.raises(ValueError, match="unexpected encoding"):  # raised by xarray mid-write
        atomic_write_netcdf(p, ds, encoding={"F": {"not_an_encoding": 1}})
    assert p.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_unserialisable_json_writes_nothing(tmp_path):
    p = tmp_path / "j.json"
    with pytest.raises(TypeError):
        atomic_write_json(p, {"x": object()})
    assert not p.exists() and leftovers(tmp_path) == []


def test_suffix_for_writers_that_infer_the_format(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp.suffix)
        tmp.write_bytes(b"png")

    atomic_write_with(tmp_path / "fig.png", write, suffix=".png")
    assert seen == [".png"] and (tmp_path / "fig.png").read_bytes() == b"png"


def test_hard_link_to_the_target_itself_leaves_no_temp(tmp_path):
    # rename(2) is a no-op when old and new name are links to one inode
    src = tmp_path / "src.gsd"
    src.write_bytes(b"frames")
    dst = tmp_path / "dst.gsd"
    os.link(src, dst)
    with atomic_path(dst) as tmp:
        tmp.unlink()
        os.link(src, tmp)
    assert dst.read_bytes() == b"frames"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst.gsd", "src.gsd"]


def test_parent_is_a_file_raises_oserror_naming_target(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    target = blocker / "out.json"
    with pytest.raises(OSError, match="cannot write .*out.json"):
        atomic_write_json(target, {})
    with pytest.raises(OSError, match="cannot write .*out.json"):
        with atomic_path(target, mkdir=False):
            pass
    assert blocker.read_text() == "a file, not a directory"


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only directories"
)
def test_read_only_directory_raises_permission_error(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    (d / "x.txt").write_text("old")
    d.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="cannot write .*x.txt"):
            atomic_write_text(d / "x.txt", "new")
        assert (d / "x.txt").read_text() == "old"
    finally:
        d.chmod(0o700)
