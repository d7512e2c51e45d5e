"""Atomic file writes: every file memplug writes (results, datasets, checkpoints, figures).

A file is written to a temporary file in the directory of its target and moved onto the target
with `os.replace`, so a reader sees either the old complete file or the new complete file,
never a partial one, and an exception mid-write leaves the old file as it was and no temporary
file behind. Temporary files are named ``.<target name>.<random>.tmp`` (or end in ``suffix``
where a writer infers the format from the name, e.g. matplotlib) and, once complete, get the
usual permissions of a new file (``0666`` minus the umask; `tempfile.mkstemp` creates
them ``0600``).

A directory that cannot be written raises the `OSError` of the failed operation with a
message naming the target; command-line callers turn it into an
`memplug.errors.InputError` naming their option.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_netcdf",
    "atomic_write_text",
    "atomic_write_with",
    "make_readable",
]


def user_cache_dir(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/memplug/<parts>`` (default ``~/.cache/memplug/<parts>``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "memplug", *parts)


def make_readable(path: str | os.PathLike) -> None:
    """Give ``path`` the permissions of a newly created file: ``0666`` minus the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextmanager
def atomic_path(
    path: str | os.PathLike, *, suffix: str = ".tmp", mkdir: bool = True
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on failure it goes.

    The temporary file exists (empty) when the block starts; a writer that must create the file
    itself (``os.link``) may unlink it first. On a normal exit of the block the file gets the
    usual permissions and is moved onto ``path``; on any exception (``KeyboardInterrupt``
    included) the temporary file is removed, ``path`` is left untouched and the exception
    propagates.

    Args:
        path: the target file.
        suffix: end of the temporary file's name (``path.suffix`` for writers that infer the
            format from the name).
        mkdir: create the parent directories of ``path`` first.
    """
    path = Path(path)
    try:
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise type(exc)(
            exc.errno,
            f"{exc.strerror or exc}: cannot write {path} (no temporary file in {path.parent})",
        ) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        make_readable(tmp)
        os.replace(tmp, path)
        # POSIX rename does nothing when both names are links to one file (a writer that
        # hard-linked the target's own inode): the temporary name must still go.
        tmp.unlink(missing_ok=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; return ``path``."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(
    path: str | os.PathLike,
    obj: Any,
    *,
    indent: int | None = 2,
    default: Callable[[Any], Any] | None = None,
    sort_keys: bool = False,
) -> Path:
    """Write ``obj`` as JSON (with a final newline) to ``path`` atomically; return ``path``.

    The object is serialised before anything is written, so an unserialisable ``obj`` raises
    `TypeError` and leaves no file behind.
    """
    text = json.dumps(obj, indent=indent, default=default, sort_keys=sort_keys)
    return atomic_write_text(path, text + "\n")


def atomic_write_netcdf(
    path: str | os.PathLike,
    ds: xr.Dataset,
    *,
    engine: str = "h5netcdf",
    encoding: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write the xarray Dataset ``ds`` to ``path`` as netCDF atomically; return ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=engine, encoding=encoding)
    return path


def atomic_write_with(
    path: str | os.PathLike, write: Callable[[Path], Any], *, suffix: str = ".tmp"
) -> Path:
    """Call ``write(tmp)`` to fill a temporary path, then move it onto ``path``; return ``path``.

    For writers that take a file name (``fig.savefig``, ``eqx.tree_serialise_leaves`` through
    ``open``); equivalent to ``with atomic_path(path, suffix=suffix) as tmp: write(tmp)``.
    """
    path = Path(path)
    with atomic_path(path, suffix=suffix) as tmp:
        write(tmp)
    return path
