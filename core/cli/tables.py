"""The tables of the command line: on screen, never cut, and as files for scripts.

Every command that prints a table (``memplug run``, ``compare``, ``experiment ...``,
``plugins``, ``closures``, ``kernels list``, ...) takes ``--table FILE`` and then also writes
the table's rows to FILE, chosen by its suffix:

- ``.json``: a list of objects, one per row, keyed by column; numbers at full precision, NaN and
  infinities as ``null``;
- ``.csv``: a header row, then one line per row; floats as Python writes them back (``repr``).

On screen, a table printed with `show` is never cut: in a terminal it is what rich makes of it;
when stdout is not a terminal (a pipe, a file) the output is as wide as the table needs, so state
ids, closure names and numbers appear in full (`memplug compare ... > log`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import typer

from memplug.errors import InputError

#: File formats of ``--table``, by suffix.
TABLE_SUFFIXES = (".json", ".csv")
TABLE_HELP = (
    "Also write the table's rows to FILE for scripts: .json (a list of objects) or .csv, by suffix."
)
#: Widest output of a table when stdout is not a terminal.
MAX_WIDTH = 100_000


def table_option() -> Any:
    """The ``--table FILE`` option (one per command signature)."""
    return typer.Option(None, "--table", help=TABLE_HELP, metavar="FILE")


def check_table(path: Path | str | None) -> None:
    """``--table`` must end in .json or .csv and its directory must exist (checked before any work)."""
    if path is None:
        return
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(
            f"--table {path}: expected a file name ending in {' or '.join(TABLE_SUFFIXES)}"
        )
    if not path.parent.is_dir():
        raise InputError(f"--table {path}: directory {path.parent} does not exist")


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python numbers, non-finite floats as None, paths as text."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _cell(value: Any) -> str:
    """A CSV cell: floats at full precision, lists joined by "; ", None empty."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            value = value.tolist()
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "; ".join(map(_cell, value))
    return str(value)


def table_text(
    path: Path | str, rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None
) -> str:
    """The text `write_table` writes for ``path``'s suffix."""
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    if Path(path).suffix.lower() == ".csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return buf.getvalue()
    return json.dumps([{c: _plain(row.get(c)) for c in columns} for row in rows], indent=1) + "\n"


def write_table(
    path: Path | str | None, rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None
) -> None:
    """Write ``rows`` (dicts; ``columns`` in order, default: every key in first-seen order) to
    ``path`` as JSON or CSV by its suffix (atomically); nothing if ``path`` is None."""
    if path is None:
        return
    from memplug.io import atomic_write_text

    check_table(path)
    atomic_write_text(Path(path), table_text(path, rows, columns))


def show(*renderables: Any, console: Any = None, min_width: int | None = None) -> None:
    """Print tables (or any rich renderables) on ``console`` (the command line's), never cut:
    when it is not a terminal, as wide as the widest renderable needs; in a terminal at least
    ``min_width`` columns wide if given (the terminal wraps longer lines)."""
    if console is None:
        from memplug.cli.app import console
    if console.is_terminal:
        if min_width is not None and console.width < min_width:
            from rich.console import Console

            console = Console(file=console.file, width=min_width)
        console.print(*renderables)
        return
    from rich.console import Console
    from rich.measure import Measurement

    wide = Console(file=console.file, width=MAX_WIDTH, color_system=None, highlight=False)
    for renderable in renderables:
        width = (
            Measurement.get(wide, wide.options, renderable).maximum
            if not isinstance(renderable, str)
            else None
        )
        out = Console(
            file=console.file, width=max(min(width or MAX_WIDTH, MAX_WIDTH), 20), color_system=None,
            highlight=False, soft_wrap=isinstance(renderable, str),
        )  # fmt: skip
        out.print(renderable)


def rows_of(table: Any) -> list[dict[str, str]]:
    """The rows of a rich ``Table`` as printed (column header → cell text, markup removed): the
    ``--table`` rows of a command whose table holds only formatted text."""
    from rich.text import Text

    def plain(cell: Any) -> str:
        if isinstance(cell, Text):
            return cell.plain
        return Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)

    heads = [plain(c.header) for c in table.columns]
    cells = [[plain(c) for c in col.cells] for col in table.columns]
    return [dict(zip(heads, row, strict=True)) for row in zip(*cells, strict=True)]
