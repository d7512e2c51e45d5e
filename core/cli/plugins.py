"""``memplug plugins``: what is installed and what each plugin registered (``--table FILE``: the
rows as .json or .csv, `memplug.cli.tables`). ``memplug closures`` comes with the closures plugin."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from memplug.cli.tables import check_table, show, table_option, write_table
from memplug.registry import KINDS


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_command)


def _kind(kind: str) -> str:
    from memplug.errors import InputError

    for k in KINDS:
        if kind in (k, k[:-1]):
            return k
    raise InputError(f"--kind {kind!r}: expected one of {', '.join(k[:-1] for k in KINDS)}")


def plugins_command(
    kind: str = typer.Option(
        None,
        "--kind",
        help=f"Only plugins registering one kind: {', '.join(k[:-1] for k in KINDS)}.",
    ),
    traceback: bool = typer.Option(
        False, "--traceback", help="Print the traceback of failed plugins."
    ),
    table_file: Path | None = table_option(),
) -> None:
    """List every plugin, its distribution and version, what it registers, and failed plugins."""
    from memplug.cli.app import console
    from memplug.registry import get_registry

    check_table(table_file)
    reg = get_registry()
    only = _kind(kind) if kind is not None else None
    table = Table(title="memplug plugins")
    table.add_column("plugin", no_wrap=True, overflow="fold")
    for col in ("distribution", "version", "registers", "status"):
        table.add_column(col, overflow="fold")
    shown = 0
    rows = []
    for p in reg.plugins:
        if only is not None and only not in p.registered:
            continue
        what = "\n".join(
            f"{k}: {', '.join(v)}" for k, v in p.registered.items() if only in (None, k)
        )
        if p.error is not None:
            status = f"[red]failed: {p.error}[/]"
        elif p.conflicts:
            status = f"[yellow]name conflict: {', '.join(p.conflicts)}[/]"
        else:
            status = "[green]ok[/]"
        table.add_row(p.name, p.distribution, p.version, what or "-", status)
        shown += 1
        rows.append({
            "plugin": p.name, "module": p.module, "distribution": p.distribution, "version": p.version,
            "registers": "; ".join(f"{k}: {', '.join(v)}" for k, v in p.registered.items() if only in (None, k)),
            "status": "failed" if p.error is not None else "conflict" if p.conflicts else "ok",
            "error": p.error, "conflicts": list(p.conflicts),
        })  # fmt: skip
    show(table)
    write_table(table_file, rows)
    if only == "closures":
        console.print(
            "Each closure's options and parameters: memplug closures [NAME]", highlight=False
        )
    failed = reg.failures
    if failed:
        console.print(
            f"[red]{len(failed)} plugin(s) failed to load[/]; the others work. "
            + ("" if traceback else "Use --traceback for details."),
            highlight=False,
        )
        if traceback:
            for p in failed:
                console.print(f"[bold]{p.label}[/]\n{p.traceback or p.error}", highlight=False)
    for k in KINDS:
        for name, owners in reg.conflicts[k].items():
            console.print(
                f"[yellow]{k[:-1]} {name!r} is registered by {' and '.join(owners)}: "
                "unusable until one is removed[/]",
                highlight=False,
            )
