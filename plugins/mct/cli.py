"""``memplug mct ...``: MCT critical points, nonergodicity parameters and dynamics.

memplug mct critical --system hard-spheres                     # bisection in φ
memplug mct critical --system hard-spheres --diameters 1,0.8 --x 0.5,0.5
memplug mct critical --dataset default --potential LJ --rho 1.2   # bisection in T, S(k) interpolated in T
memplug mct steady --system hard-spheres --phi 0.52
memplug mct solve --system hard-spheres --phi 0.52 --t-max 1e5 [--out result.nc]
memplug mct solve --dataset default --state LJ-rho1.20-T0.800
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from memplug.cli.tables import check_table, rows_of, show, table_option, write_table
from memplug.errors import InputError
from memplug.io import atomic_write_json, atomic_write_netcdf

_NAMES = "ABCDEFGH"
INTERPOLATIONS = ("T", "1/T", "fit")

mct_app = typer.Typer(
    help="Mode-coupling theory: critical points, nonergodicity parameters, dynamics.",
    no_args_is_help=True,
)


def _floats(text: str | None, name: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        vals = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"{name}: expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise InputError(f"{name}: expected at least one number")
    return vals


def _hard_spheres(
    diameters: str | None, x: str | None, n_k: int, k_max: float, dynamics: str = "overdamped"
):
    from memplug.plugins.systems.hard_spheres import HardSpheres

    d = _floats(diameters, "--diameters") or (1.0,)
    xs = _floats(x, "--x")
    return HardSpheres(diameters=d, x=xs, n_k=n_k, k_max=k_max, dynamics=dynamics)


def _hs_statics(system):
    from memplug.plugins.mct.kernels import make_statics

    def at(phi):
        k, S, rho, x = system.statics(phi)
        return make_statics(k, S, rho, x)

    return at


# --------------------------------------------------------------------------------------------
# dataset path: S(k) interpolated in T at fixed ρ
# --------------------------------------------------------------------------------------------


def dataset_path_statics(
    ds, potential: str, rho: float, small_k: str = "quadratic", interpolate: str = "T"
):
    """(T values, statics_at(T)) for the states of ``potential`` at density ``rho`` in a dataset.

    The grid points flagged in ``k_below_box`` are first replaced in every state by the small-k
    continuation of c(k) (`memplug.plugins.mct.small_k`, ``small_k`` = quadratic, constant or
    keep). S^{αβ}(k) is then interpolated linearly in T (``interpolate="T"``) or in 1/T
    (``"1/T"``) between neighbouring states (no extrapolation); a convex combination of
    positive-definite S is positive definite. ``"fit"`` instead smooths out the sampling noise of
    single states: at every k and pair, a quadratic in 1/T is fitted by least squares to the states
    with T ≤ 3 T_min, and the path runs over that range.
    """
    if interpolate not in INTERPOLATIONS:
        raise InputError(
            f"--interpolate {interpolate!r}: expected one of {', '.join(INTERPOLATIONS)}"
        )
    from memplug.data import select_states
    from memplug.plugins.datasets.schema import structure_factor_matrix
    from memplug.plugins.mct.kernels import make_statics
    from memplug.plugins.mct.small_k import continue_small_k

    sub = select_states(ds, potential=potential, rho=rho)
    T = np.asarray(sub["T"].values, float)
    order = np.argsort(T)
    T = T[order]
    if len(np.unique(T)) < 2:
        raise InputError(
            f"--dataset: potential {potential} at rho {rho} has {len(np.unique(T))} temperature(s); need at least 2 to bisect"
        )
    if np.any(np.diff(T) == 0):
        raise InputError(
            f"--dataset: potential {potential} at rho {rho} has two states at T = {T[1:][np.diff(T) == 0][0]:g}"
        )
    S_all = structure_factor_matrix(np.asarray(sub["S"].values, float))[order]  # (n_T, n_k, 2, 2)
    k = np.asarray(sub["k"].values, float)
    x = np.array([0.8, 0.2])
    rho_v = float(np.asarray(sub["rho"].values, float)[0])
    states = np.asarray(sub["state"].values)[order]
    flagged = (
        np.asarray(sub["k_below_box"].values, bool)
        if "k_below_box" in sub
        else np.zeros(k.size, bool)
    )
    for i, sid in enumerate(states):
        S_all[i] = continue_small_k(
            k, S_all[i], flagged, rho_v, x, method=small_k, where=f"state {sid}"
        )
        try:
            make_statics(k, S_all[i], rho_v, x)
        except InputError as err:
            hint = (
                " (use --small-k quadratic: the points below 2π/L are unreliable)"
                if small_k == "keep"
                else ""
            )
            raise InputError(f"--dataset: state {sid}: {err}{hint}") from None

    if interpolate == "fit":
        sel = T <= 3.0 * T[0] * (1 + 1e-12)
        if sel.sum() < 4:
            raise InputError(
                f"--interpolate fit: {potential} rho {rho} has {int(sel.sum())} states with T <= 3 T_min = {3 * T[0]:g}; need 4"
            )
        basis = lambda temp: np.array([1.0, 1.0 / temp, 1.0 / temp**2])  # noqa: E731
        X = np.stack([basis(t) for t in T[sel]])
        coef = np.linalg.lstsq(X, S_all[sel].reshape(int(sel.sum()), -1), rcond=None)[0]

        def smooth(temp):
            return make_statics(k, (basis(temp) @ coef).reshape(S_all.shape[1:]), rho_v, x)

        return T[sel], smooth

    def at(temp):
        i = int(np.clip(np.searchsorted(T, temp) - 1, 0, len(T) - 2))
        if interpolate == "T":
            w = (temp - T[i]) / (T[i + 1] - T[i])
        else:
            w = (1 / temp - 1 / T[i]) / (1 / T[i + 1] - 1 / T[i])
        return make_statics(k, (1 - w) * S_all[i] + w * S_all[i + 1], rho_v, x)

    return T, at


def critical_temperature(
    ds,
    potential: str,
    rho: float,
    xtol: float | None = None,
    exponent: bool = True,
    small_k: str = "quadratic",
    max_iter: int = 100_000,
    interpolate: str = "T",
):
    """T_mct along the dataset's temperatures at fixed ρ (glass below).

    ``xtol`` defaults to 1e-4 × the lowest temperature of the path (far below the uncertainty of
    the interpolation in T). Raises `InputError` naming the states when the dataset does
    not bracket the transition.
    """
    from memplug.plugins.mct.steady import critical_point

    T, at = dataset_path_statics(ds, potential, rho, small_k=small_k, interpolate=interpolate)
    if xtol is None:
        xtol = 1e-4 * float(T[0])
    try:
        return critical_point(
            at,
            float(T[0]),
            float(T[-1]),
            glass_above=False,
            xtol=xtol,
            exponent=exponent,
            max_iter=max_iter,
        )
    except InputError as err:
        temps = ", ".join(f"{t:g}" for t in T)
        raise InputError(
            f"--dataset: {potential} rho {rho} (states at T = {temps}): {err}"
        ) from None


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------


@mct_app.command("critical")
def critical_command(
    system: str = typer.Option(
        None, "--system", help="hard-spheres (bisection in the packing fraction)."
    ),
    dataset: str = typer.Option(None, "--dataset", help="Dataset name or path (bisection in T)."),
    potential: str = typer.Option("LJ", "--potential", help="Dataset path: LJ or WCA."),
    rho: float = typer.Option(None, "--rho", help="Dataset path: density."),
    diameters: str = typer.Option(None, "--diameters", help="Hard spheres: diameters, e.g. 1,0.8."),
    x: str = typer.Option(None, "--x", help="Hard spheres: number fractions, e.g. 0.5,0.5."),
    lo: float = typer.Option(0.45, "--lo", help="Hard spheres: lower end of the φ bracket."),
    hi: float = typer.Option(0.60, "--hi", help="Hard spheres: upper end of the φ bracket."),
    n_k: int = typer.Option(100, "--n-k", help="Hard spheres: grid points on (0, k_max]."),
    k_max: float = typer.Option(40.0, "--k-max", help="Hard spheres: largest wave number."),
    xtol: float = typer.Option(
        None,
        "--xtol",
        help="Bisection stops when the bracket is narrower [default: 1e-6 in φ; 1e-4 × lowest T of a dataset path].",
    ),
    small_k: str = typer.Option(
        "quadratic",
        "--small-k",
        help="Dataset: S(k) below 2π/L from the continuation of c(k): quadratic, constant or keep (raw).",
    ),
    max_iter: int = typer.Option(100_000, "--max-iter", help="Iterations of f per bisection step."),
    interpolate: str = typer.Option(
        "T",
        "--interpolate",
        help="Dataset: S(k) linear in T or in 1/T between states, or fit (quadratic in 1/T over T <= 3 T_min).",
    ),
    no_exponent: bool = typer.Option(False, "--no-exponent", help="Skip the exponent parameter λ."),
    json_out: Path = typer.Option(
        None, "--json", help="Also write the result as JSON (atomically)."
    ),
    table_file: Path | None = table_option(),
) -> None:
    """Find the MCT critical point by bisection on the nonergodicity parameter."""
    check_table(table_file)
    from rich.table import Table

    from memplug.cli.app import console
    from memplug.plugins.mct.steady import critical_point

    if (system is None) == (dataset is None):
        raise InputError(
            "mct critical: give exactly one of --system hard-spheres or --dataset NAME"
        )
    if xtol is not None and xtol <= 0:
        raise InputError("--xtol: expected a positive number")
    if max_iter < 1:
        raise InputError("--max-iter: expected a positive integer")
    from memplug.plugins.mct.small_k import METHODS

    if small_k not in METHODS:
        raise InputError(f"--small-k {small_k!r}: expected one of {', '.join(METHODS)}")
    if interpolate not in INTERPOLATIONS:
        raise InputError(
            f"--interpolate {interpolate!r}: expected one of {', '.join(INTERPOLATIONS)}"
        )
    if system is not None:
        if system != "hard-spheres":
            raise InputError(
                f"--system {system!r}: mct critical supports hard-spheres (use --dataset for others)"
            )
        if not 0 < lo < hi < 0.7:
            raise InputError(f"--lo/--hi: expected 0 < lo < hi < 0.7, got {lo}, {hi}")
        hs = _hard_spheres(diameters, x, n_k, k_max)
        cp = critical_point(
            _hs_statics(hs),
            lo,
            hi,
            glass_above=True,
            xtol=1e-6 if xtol is None else xtol,
            exponent=not no_exponent,
            max_iter=max_iter,
        )
        label, what = "φ_c", f"hard spheres, diameters {hs.diameters.tolist()}, x {hs.x.tolist()}"
    else:
        from memplug.data import load_dataset

        if rho is None:
            raise InputError("--rho: required with --dataset")
        ds = load_dataset(dataset)
        cp = critical_temperature(
            ds,
            potential,
            rho,
            xtol=xtol,
            exponent=not no_exponent,
            small_k=small_k,
            max_iter=max_iter,
            interpolate=interpolate,
        )
        label = "T_mct"
        between = "quadratic fit in 1/T" if interpolate == "fit" else f"linear in {interpolate}"
        what = f"dataset {dataset}, {potential}, rho = {rho}, small k: {small_k}, S(k) {between}"
    st = cp.statics
    ip = int(np.argmax(st.S[:, 0, 0]))
    table = Table(title=f"MCT critical point: {what}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row(label, f"{cp.value:.7g}")
    table.add_row("bracket (liquid, glass)", f"{cp.liquid:.7g}, {cp.glass:.7g}")
    table.add_row("exponent parameter λ", "skipped" if no_exponent else f"{cp.lam:.4f}")
    table.add_row("k_peak of S^AA", f"{st.k[ip]:.4g}")
    for a in range(st.n_species):
        n = _NAMES[a]
        table.add_row(f"f^{n}{n}(k_peak)/S^{n}{n}", f"{cp.f_c[ip, a, a] / st.S[ip, a, a]:.4f}")
        table.add_row(f"f_s^{n}(k_peak)", f"{cp.fs_c[ip, a]:.4f}")
    table.add_row("bisection steps", str(len(cp.steps)))
    show(table)
    write_table(table_file, rows_of(table))
    if not cp.resolved:
        console.print(
            f"note: stopped before --xtol: the iteration at a midpoint did not converge in {max_iter} iterations; "
            f"the bracket above is what was reached (raise --max-iter to refine)"
        )
    if json_out is not None:
        atomic_write_json(
            json_out,
            {
                "what": what,
                "parameter": label,
                "critical": cp.value,
                "liquid": cp.liquid,
                "glass": cp.glass,
                "lambda": None if no_exponent else cp.lam,
                "resolved": cp.resolved,
                "interpolate": interpolate if dataset is not None else None,
                "small_k": small_k if dataset is not None else None,
                "k": st.k.tolist(),
                "f_c": cp.f_c.tolist(),
                "fs_c": cp.fs_c.tolist(),
            },
        )


def _context(system, dataset, state, phi, diameters, x, n_k, k_max, dynamics, T):
    if (system is None) == (dataset is None):
        raise InputError(
            "give exactly one of --system hard-spheres or --dataset NAME (with --state)"
        )
    if system is not None:
        if system != "hard-spheres":
            raise InputError(
                f"--system {system!r}: expected hard-spheres (use --dataset for others)"
            )
        if phi is None:
            raise InputError("--phi: required with --system hard-spheres")
        return _hard_spheres(diameters, x, n_k, k_max, dynamics).context(phi=phi, T=T)
    import dataclasses

    from memplug.data import context_for, load_dataset

    if state is None:
        raise InputError("--state: required with --dataset")
    ctx = context_for(load_dataset(dataset), state, dynamics="overdamped")
    return dataclasses.replace(ctx, dynamics=dynamics)


@mct_app.command("steady")
def steady_command(
    system: str = typer.Option(None, "--system"),
    dataset: str = typer.Option(None, "--dataset"),
    state: str = typer.Option(None, "--state"),
    phi: float = typer.Option(None, "--phi"),
    diameters: str = typer.Option(None, "--diameters"),
    x: str = typer.Option(None, "--x"),
    n_k: int = typer.Option(100, "--n-k"),
    k_max: float = typer.Option(40.0, "--k-max"),
    table_file: Path | None = table_option(),
) -> None:
    """Nonergodicity parameters f(k) and f_s(k) at one state (glass: f > 0)."""
    check_table(table_file)
    from rich.table import Table

    from memplug.plugins.mct.dynamics import statics_from_context
    from memplug.plugins.mct.steady import nonergodicity

    ctx = _context(system, dataset, state, phi, diameters, x, n_k, k_max, "overdamped", 1.0)
    st = statics_from_context(ctx)
    ne = nonergodicity(st)
    table = Table(
        title=f"MCT nonergodicity parameters ({'glass' if ne.glass else 'liquid'}, {ne.iterations} iterations)"
    )
    table.add_column("k", justify="right")
    for a in range(st.n_species):
        n = _NAMES[a]
        table.add_column(f"f^{n}{n}/S^{n}{n}", justify="right")
        table.add_column(f"f_s^{n}", justify="right")
    for i in range(0, st.n_k, max(1, st.n_k // 20)):
        row = [f"{st.k[i]:.3g}"]
        for a in range(st.n_species):
            row += [f"{ne.f[i, a, a] / st.S[i, a, a]:.4f}", f"{ne.fs[i, a]:.4f}"]
        table.add_row(*row)
    show(table)
    write_table(table_file, rows_of(table))


@mct_app.command("solve")
def solve_command(
    system: str = typer.Option(None, "--system"),
    dataset: str = typer.Option(None, "--dataset"),
    state: str = typer.Option(None, "--state"),
    phi: float = typer.Option(None, "--phi"),
    T: float = typer.Option(1.0, "--T", help="Hard spheres: temperature (sets D = T/ζ or T/m)."),
    diameters: str = typer.Option(None, "--diameters"),
    x: str = typer.Option(None, "--x"),
    n_k: int = typer.Option(100, "--n-k"),
    k_max: float = typer.Option(40.0, "--k-max"),
    dynamics: str = typer.Option(
        "overdamped", "--dynamics", help="overdamped (paper Eq. 5) or newtonian."
    ),
    t_max: float = typer.Option(1e5, "--t-max"),
    N: int = typer.Option(16, "--N", help="Time-doubling block: 4N points."),
    msd: bool = typer.Option(False, "--msd", help="Also solve the MSD equation."),
    points: int = typer.Option(12, "--points", help="Rows of the printed table."),
    out: Path = typer.Option(None, "--out", help="Write the solution as netCDF (atomically)."),
    table_file: Path | None = table_option(),
) -> None:
    """Solve collective + tagged MCT dynamics and print the correlators at k_peak."""
    check_table(table_file)
    from rich.table import Table

    from memplug.cli.app import console
    from memplug.plugins.mct.dynamics import (
        default_solver,
        mobility_from_context,
        solve_mct,
        statics_from_context,
    )

    if dynamics not in ("overdamped", "newtonian"):
        raise InputError(f"--dynamics {dynamics!r}: expected overdamped or newtonian")
    if t_max <= 0 or N < 2 or points < 2:
        raise InputError("--t-max must be positive, --N and --points at least 2")
    ctx = _context(system, dataset, state, phi, diameters, x, n_k, k_max, dynamics, T)
    st = statics_from_context(ctx)
    sol = solve_mct(
        st,
        mobility_from_context(ctx),
        dynamics,
        k_probe=[ctx.k_peak],
        msd=msd,
        solver=default_solver(t_max=t_max, N=N),
    )
    ip = int(np.argmin(np.abs(st.k - ctx.k_peak)))
    from memplug.solution import interpolate

    tq = np.geomspace(max(sol.t[1], 1e-4), t_max, points)
    F = np.asarray(interpolate(sol.t, sol.F[:, ip], tq)) / st.S[ip]
    Fs = np.asarray(interpolate(sol.t, sol.Fs_probe[:, 0], tq))
    table = Table(title=f"MCT at k_peak = {ctx.k_peak:.4g} ({dynamics}; status: {sol.describe})")
    table.add_column("t", justify="right")
    for a in range(st.n_species):
        n = _NAMES[a]
        table.add_column(f"F^{n}{n}/S^{n}{n}", justify="right")
        table.add_column(f"F_s^{n}", justify="right")
    if msd:
        M2 = np.asarray(interpolate(sol.t, sol.msd, tq))
        for a in range(st.n_species):
            table.add_column(f"MSD^{_NAMES[a]}", justify="right")
    for i, t in enumerate(tq):
        row = [f"{t:.4g}"]
        for a in range(st.n_species):
            row += [f"{F[i, a, a]:.5f}", f"{Fs[i, a]:.5f}"]
        if msd:
            row += [f"{M2[i, a]:.5g}" for a in range(st.n_species)]
        table.add_row(*row)
    show(table)
    write_table(table_file, rows_of(table))
    if out is not None:
        write_solution(out, sol, st)
        console.print(f"wrote {out}")


def write_solution(path: Path, sol, statics) -> None:
    """The MCT solution as a netCDF file (h5netcdf), written atomically."""
    import xarray as xr

    s = statics.n_species
    sp = list(_NAMES[:s])
    data = {
        "S": (("k", "a", "b"), statics.S),
        "F": (("t", "k", "a", "b"), sol.F),
        "K": (("t", "k", "a", "b"), sol.K),
        "Fs": (("t", "k", "a"), sol.Fs),
        "Ks": (("t", "k", "a"), sol.Ks),
        "Fs_probe": (("t", "probe", "a"), sol.Fs_probe),
        "Ks_probe": (("t", "probe", "a"), sol.Ks_probe),
    }
    if sol.msd is not None:
        data["msd"] = (("t", "a"), sol.msd)
    ds = xr.Dataset(
        data,
        coords={"t": sol.t, "k": statics.k, "a": sp, "b": sp, "probe": sol.k_probe},
        attrs={
            "rho": statics.rho,
            "x": list(map(float, statics.x)),
            "dynamics": sol.dynamics,
            "status": sol.status,
        },
    )
    atomic_write_netcdf(path, ds)
