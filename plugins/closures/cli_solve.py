"""``memplug solve``: solve the memory equation with a closure and print F(t) as a table (or JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from memplug.cli.tables import check_table, rows_of, show, table_option, write_table
from memplug.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("solve")(solve_command)


def _theta(closure, ctx, params: str | None) -> dict:
    import jax.numpy as jnp

    theta = dict(closure.initial(ctx))
    if not params:
        return theta
    try:
        given = json.loads(params)
    except json.JSONDecodeError as exc:
        raise InputError(f"--params: not valid JSON ({exc})") from None
    if not isinstance(given, dict):
        raise InputError("--params: expected a JSON object such as '{\"w_AA\": [50, 2]}'")
    names = closure.space(ctx).names
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InputError(
            f"--params: closure {closure.name!r} has no parameter {', '.join(unknown)}; "
            f"parameters: {', '.join(names) or '(none)'}"
        )
    for key, value in given.items():
        shape = np.shape(theta[key])
        try:
            theta[key] = jnp.broadcast_to(jnp.asarray(value, dtype=float), shape)
        except (TypeError, ValueError):
            raise InputError(
                f"--params: {key}: expected a number or an array of shape {list(shape)}, got {value!r}"
            ) from None
    return theta


def _context(
    T: float | None, k_peak: float | None, dataset: str, state: str | None, newtonian: bool
):
    import dataclasses

    from memplug.model import default_context

    if state is not None:
        from memplug.data import context_for, load_dataset

        ctx = context_for(load_dataset(dataset), state, dynamics="overdamped")
        if T is not None or k_peak is not None:
            raise InputError("--T/--k-peak: not allowed with --state (the state fixes them)")
    else:
        ctx = default_context(T=1.0 if T is None else T, k_peak=7.25 if k_peak is None else k_peak)
    if newtonian:
        ctx = dataclasses.replace(ctx, dynamics="newtonian")
    return ctx


def solve_command(
    closure: str = typer.Option(
        "exponential", "--closure", "-c", help="Closure NAME[:key=value,...]."
    ),
    params: str = typer.Option(
        None,
        "--params",
        help="Parameters as JSON, e.g. '{\"amplitude\": [2, 2]}' (others: defaults).",
    ),
    T: float = typer.Option(None, "--T", help="Temperature (sets Omega^2 = k^2 T / m); default 1."),
    k_peak: float = typer.Option(
        None, "--k-peak", help="Wave number of the correlator; default 7.25."
    ),
    state: str = typer.Option(
        None, "--state", help="Take the statics of this dataset state instead."
    ),
    dataset: str = typer.Option("default", "--dataset", help="Dataset name or file for --state."),
    solver: str = typer.Option("time-doubling", "--solver", help="time-doubling or diffrax."),
    t_max: float = typer.Option(1e3, "--t-max", help="Last time."),
    block_n: int = typer.Option(32, "--block-n", help="Time-doubling: 4N points per block."),
    points: int = typer.Option(12, "--points", help="Rows of the printed table (log-spaced)."),
    newtonian: bool = typer.Option(
        False, "--newtonian", help="Newtonian instead of overdamped dynamics."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print t, F and the status as JSON."),
    table_file: Path | None = table_option(),
) -> None:
    """Solve Eq. 5 with a closure's default (or given) parameters and print F_s(t)."""
    check_table(table_file)
    from memplug.model import get_closure, solve_closure
    from memplug.solvers import DiffraxSolver, TimeDoublingSolver

    for opt, value in (("--T", T), ("--k-peak", k_peak), ("--t-max", t_max)):
        if value is not None and not value > 0:
            raise InputError(f"{opt}: expected a positive number, got {value}")
    if points < 2:
        raise InputError(f"--points: expected at least 2, got {points}")
    if block_n < 4:
        raise InputError(f"--block-n: expected at least 4, got {block_n}")
    clo = get_closure(closure)
    ctx = _context(T, k_peak, dataset, state, newtonian)
    theta = _theta(clo, ctx, params)
    if solver == "time-doubling":
        s = TimeDoublingSolver(N=block_n, t_max=t_max)
    elif solver == "diffrax":
        s = DiffraxSolver(t_max=t_max)
    else:
        raise InputError(f"--solver: {solver!r}; expected time-doubling or diffrax")
    sol = solve_closure(clo, ctx, theta, s)
    tq = np.geomspace(min(1e-3, t_max / 10), t_max, points)
    F = np.asarray(sol.interpolate(tq))
    diag = [[float(F[i, a, a]) for a in range(ctx.n_species)] for i in range(points)]
    if as_json:
        out = {
            "closure": clo.spec(),
            "solver": solver,
            "status": sol.describe(),
            "k_peak": ctx.k_peak,
            "T": ctx.T,
            "species": list(ctx.species),
            "t": tq.tolist(),
            "Fs": diag,
        }
        typer.echo(json.dumps(out))
        return
    table = Table(
        title=f"F_s(k={ctx.k_peak:g}, t) with closure {clo.spec()} ({solver}, status: {sol.describe()})"
    )
    table.add_column("t", justify="right")
    for a in ctx.species:
        table.add_column(f"F_s^{a}{a}", justify="right")
    for i, t in enumerate(tq):
        table.add_row(f"{t:.4g}", *(f"{v:.6f}" for v in diag[i]))
    show(table)
    write_table(table_file, rows_of(table))
