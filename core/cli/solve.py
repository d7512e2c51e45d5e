"""``memplug solve``: solve the memory equation with a closure and print F(t) as a table."""

from __future__ import annotations

import json

import numpy as np
import typer
from rich.table import Table

from memplug.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("solve")(solve_command)


def solve_command(
    closure: str = typer.Option("exponential", "--closure", "-c", help="Closure name[:options]."),
    params: str = typer.Option(None, "--params", help='Parameters as JSON, e.g. \'{"amplitude": [2, 2]}\'.'),
    T: float = typer.Option(1.0, "--T", help="Temperature (sets Ω² = k² T / m)."),
    k_peak: float = typer.Option(7.25, "--k-peak", help="Wave number of the correlator."),
    solver: str = typer.Option("time-doubling", "--solver", help="time-doubling or diffrax."),
    t_max: float = typer.Option(1e3, "--t-max", help="Last time."),
    points: int = typer.Option(12, "--points", help="Rows of the printed table (log-spaced)."),
    newtonian: bool = typer.Option(False, "--newtonian", help="Newtonian instead of overdamped dynamics."),
) -> None:
    """Solve Eq. 5 with a closure's default (or given) parameters and print F_s(t)."""
    import dataclasses

    import jax

    from memplug.cli.app import console
    from memplug.model import default_context, solve_closure
    from memplug.registry import get_registry
    from memplug.solvers import DiffraxSolver, TimeDoublingSolver

    if T <= 0 or k_peak <= 0 or t_max <= 0:
        raise InputError("--T, --k-peak and --t-max must be positive")
    if points < 2:
        raise InputError("--points must be at least 2")
    clo = get_registry().create("closures", closure)
    ctx = default_context(T=T, k_peak=k_peak)
    if newtonian:
        ctx = dataclasses.replace(ctx, dynamics="newtonian")
    theta = clo.initial(ctx)
    if params:
        try:
            given = json.loads(params)
        except json.JSONDecodeError as exc:
            raise InputError(f"--params is not valid JSON: {exc}") from None
        space = clo.space(ctx)
        unknown = sorted(set(given) - set(space.names))
        if unknown:
            raise InputError(f"--params: unknown parameter(s) {unknown}; {clo.name} has {space.names}")
        for k, v in given.items():
            theta[k] = jax.numpy.broadcast_to(jax.numpy.asarray(v, float), np.shape(theta[k]))
    if solver == "time-doubling":
        s = TimeDoublingSolver(t_max=t_max)
    elif solver == "diffrax":
        s = DiffraxSolver(t_max=t_max)
    else:
        raise InputError(f"--solver {solver!r}; expected time-doubling or diffrax")
    sol = solve_closure(clo, ctx, theta, s)
    tq = np.geomspace(1e-3, t_max, points)
    F = np.asarray(sol.interpolate(tq))
    table = Table(title=f"F_s(k={k_peak:g}, t) with closure {clo.spec()} ({solver}, status: {sol.describe()})")
    table.add_column("t", justify="right")
    for a in ctx.species:
        table.add_column(f"F_s^{a}{a}", justify="right")
    for i, t in enumerate(tq):
        table.add_row(f"{t:.4g}", *(f"{F[i, a, a]:.6f}" for a in range(ctx.n_species)))
    console.print(table)
