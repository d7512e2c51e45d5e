"""``memplug closures``: each installed closure with its options and parameters, or one closure's
parameters in detail (``--table FILE``: the rows as .json or .csv, `memplug.cli.tables`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from memplug.cli.tables import check_table, show, table_option, write_table


def register(app: typer.Typer) -> None:
    app.command("closures")(closures_command)


def _parameter_rows(closure, ctx) -> list[tuple[str, ...]]:
    rows = []
    for p in closure.parameters(ctx):
        default = np.asarray(p.default, dtype=float)
        dtxt = (
            f"{float(default):.4g}"
            if default.ndim == 0
            else np.array2string(default, precision=4, threshold=6, separator=", ")
        )
        rows.append(
            (
                p.name,
                str(list(p.shape)) if p.shape else "()",
                dtxt,
                f"[{p.lower:g}, {p.upper:g}]",
                p.transform,
                p.doc,
            )
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
            ptxt = (
                f"{space.dim}: {names}"
                if len(names) < 60
                else f"{space.dim} ({len(space.names)} arrays)"
            )
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
