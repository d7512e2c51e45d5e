"""``memplug plugins`` and ``memplug closures``: what is installed, and what each closure takes
(``--table FILE``: the rows as .json or .csv, `memplug.cli.tables`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from memplug.cli.tables import check_table, show, table_option, write_table
from memplug.registry import KINDS


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_command)
    app.command("closures")(closures_command)


def _kind(kind: str) -> str:
    from memplug.errors import InputError

    for k in KINDS:
        if kind in (k, k[:-1]):
            return k
    raise InputError(f"--kind {kind!r}: expected one of {', '.join(k[:-1] for k in KINDS)}")


def plugins_command(
    kind: str = typer.Option(
        None, "--kind", help=f"Only plugins registering one kind: {', '.join(k[:-1] for k in KINDS)}."
    ),
    traceback: bool = typer.Option(False, "--traceback", help="Print the traceback of failed plugins."),
    table_file: Path | None = table_option(),
) -> None:
    """List every plugin, its distribution and version, what it registers, and failed plugins."""
    from memplug.cli.app import console
    from memplug.registry import get_registry

    check_table(table_file)
    reg = get_registry()
    if kind is not None and _kind(kind) == "closures":
        return closures_command(None, table_file)
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
        what = "\n".join(f"{k}: {', '.join(v)}" for k, v in p.registered.items() if only in (None, k))
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


def _parameter_rows(closure, ctx) -> list[tuple[str, ...]]:
    rows = []
    for p in closure.parameters(ctx):
        default = np.asarray(p.default, dtype=float)
        dtxt = f"{float(default):.4g}" if default.ndim == 0 else np.array2string(
            default, precision=4, threshold=6, separator=", "
        )
        rows.append(
            (p.name, str(list(p.shape)) if p.shape else "()", dtxt, f"[{p.lower:g}, {p.upper:g}]",
             p.transform, p.doc)
        )
    return rows


def _solvers(closure, ctx) -> str:
    from memplug.kernels import ExplicitKernel

    kernel = closure.kernel(closure.initial(ctx), ctx)
    if isinstance(kernel, ExplicitKernel) and kernel.exponential_sum() is not None:
        return "time-doubling, diffrax"
    return "time-doubling"


def closures_command(
    spec: str = typer.Argument(
        None, help="A closure NAME[:key=value,...] to show its parameters in detail."
    ),
    table_file: Path | None = table_option(),
) -> None:
    """Each closure with its options and parameters (for a binary mixture at default statics)."""
    from memplug.cli.app import console
    from memplug.model import default_context
    from memplug.registry import get_registry

    check_table(table_file)
    reg = get_registry()
    ctx = default_context()
    if spec:
        closure = reg.create("closures", spec)
        table = Table(
            title=f"closure {closure.spec()}: {closure.description}\n"
            f"(binary mixture, T = {ctx.T:g}, k_peak = {ctx.k_peak:g}; "
            f"{closure.space(ctx).dim} parameters; solvers: {_solvers(closure, ctx)})"
        )
        columns = ("parameter", "shape", "default", "bounds", "transform", "meaning")
        for col in columns:
            table.add_column(col, overflow="fold")
        rows = _parameter_rows(closure, ctx)
        for row in rows:
            table.add_row(*row)
        show(table)
        write_table(table_file, [dict(zip(columns, row, strict=True)) for row in rows], columns)
        return
    table = Table(title="closures (parameters counted for a binary mixture)")
    table.add_column("closure", no_wrap=True, overflow="fold")
    for col in ("description", "options", "parameters", "solvers"):
        table.add_column(col, overflow="fold")
    rows = []
    for name in reg.names("closures"):
        try:
            cls = reg.get("closures", name)
            closure = cls()
            space = closure.space(ctx)
            names = ", ".join(space.names)
            ptxt = f"{space.dim}: {names}" if len(names) < 60 else f"{space.dim} ({len(space.names)} arrays)"
            solvers = _solvers(closure, ctx)
            row = {"n_parameters": space.dim, "parameters": list(space.names), "error": None}
        except Exception as exc:  # e.g. a closure that needs statics the default context lacks
            cls = reg.items["closures"][name]
            ptxt, solvers = f"({exc})", "-"
            row = {"n_parameters": None, "parameters": [], "error": str(exc)}
        opts = ", ".join(f"{k}={v!r}" for k, v in getattr(cls, "options", {}).items()) or "-"
        table.add_row(name, getattr(cls, "description", ""), opts, ptxt, solvers)
        rows.append({"closure": name, "description": getattr(cls, "description", ""), "options": opts} | row
                    | {"solvers": solvers})  # fmt: skip
    show(table)
    write_table(table_file, rows)
    console.print("Details: memplug closures NAME[:key=value,...]", highlight=False)
