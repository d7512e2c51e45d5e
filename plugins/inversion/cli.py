"""``memplug kernel ...``: model-free memory kernels from the data.

memplug kernel invert --state LJ-rho1.20-T0.810 [--dataset default] [--out memory.nc]
memplug kernel invert --all --out memory-all.nc          # every equilibrated state, one file
memplug kernel sum-rule --system ka-lj --rho 1.2 --T 0.81   # Ω_E² and M(0) from a small MD run
memplug kernel sum-rule --state LJ-rho1.20-T0.810           # ... against the inverted M(t₁/2)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import typer

from memplug.cli.tables import check_table, rows_of, show, table_option, write_table
from memplug.errors import InputError

kernel_app = typer.Typer(
    help="Model-free memory kernels: invert the memory equation, short-time sum rule.",
    no_args_is_help=True,
)

OMEGA2_MODES = ("fit", "statics")


@dataclasses.dataclass(frozen=True)
class InvertOptions:
    """The options of one ``kernel invert`` run, recorded in the output file."""

    dynamics: str = "newtonian"
    omega2: str = "fit"
    n_nodes: int = 120
    rule: str = "evidence"
    sweeps: int = 3
    noise_correlation: float = 0.0


def invert_state(ds, state: str, opts: InvertOptions):
    """Invert the memory of one dataset state (both species) with ``opts``."""
    from memplug.data import context_for, dynamics_for
    from memplug.plugins.inversion.invert import invert_memory

    ctx = context_for(ds, state, dynamics="overdamped")
    t, F = dynamics_for(ds, state)
    try:
        return invert_memory(
            t,
            F,
            ctx.omega2_matrix(),
            dynamics=opts.dynamics,
            n_nodes=opts.n_nodes,
            fit_omega2=opts.omega2 == "fit",
            sweeps=opts.sweeps,
            rule=opts.rule,
            noise_correlation=opts.noise_correlation,
        )
    except InputError as err:
        raise InputError(f"state {state}: {err}") from None


def _check_options(
    dynamics: str, omega2: str, n_nodes: int, rule: str, rho: float
) -> InvertOptions:
    from memplug.plugins.inversion._regularise import RULES
    from memplug.plugins.inversion.invert import DYNAMICS

    if dynamics not in DYNAMICS:
        raise InputError(f"--dynamics {dynamics!r}: expected one of {', '.join(DYNAMICS)}")
    if omega2 not in OMEGA2_MODES:
        raise InputError(
            f"--omega2 {omega2!r}: expected fit (from the data's short times) or statics (k^2 T)"
        )
    if not 8 <= n_nodes <= 1000:
        raise InputError(f"--n-nodes {n_nodes}: expected 8..1000")
    if rule not in RULES or rule == "discrepancy":
        raise InputError(
            f"--rule {rule!r}: expected evidence, gcv or lcurve (the dataset carries no F errors)"
        )
    if not 0 <= rho < 0.99:
        raise InputError(f"--noise-correlation {rho}: expected 0 <= ρ < 0.99")
    return InvertOptions(
        dynamics=dynamics, omega2=omega2, n_nodes=n_nodes, rule=rule, noise_correlation=rho
    )


def _m0(inv, a: int) -> str:
    half = 0.5 * (inv.M_hi[0, a] - inv.M_lo[0, a])
    return f"{inv.M[0, a]:.0f} ± {half:.0f}"


@kernel_app.command("invert")
def invert_command(
    state: str = typer.Option(None, "--state", help="Dataset state, e.g. LJ-rho1.20-T0.810."),
    all_states: bool = typer.Option(
        False, "--all", help="Every equilibrated state of the dataset."
    ),
    dataset: str = typer.Option("default", "--dataset", help="Dataset name or file."),
    dynamics: str = typer.Option(
        "newtonian", "--dynamics", help="newtonian (MD) or overdamped (paper Eq. 5)."
    ),
    omega2: str = typer.Option(
        "fit", "--omega2", help="fit: Ω² from the data's short times (default); statics: k_peak² T."
    ),
    n_nodes: int = typer.Option(
        120, "--n-nodes", help="Nodes of M, log-spaced from t_1/2 to t_last."
    ),
    rule: str = typer.Option(
        "evidence", "--rule", help="λ by evidence (marginal likelihood), gcv or lcurve."
    ),
    noise_correlation: float = typer.Option(
        0.0,
        "--noise-correlation",
        help="Lag-1 correlation ρ of the noise of F (AR(1); MD: ≈ 0.7 widens the band).",
    ),
    out: Path = typer.Option(
        None, "--out", help="Write the result as netCDF (memplug-memory/1, atomically)."
    ),
    table_file: Path | None = table_option(),
) -> None:
    """Invert the memory equation for a model-free M(t) with a band and a reliability mask."""
    check_table(table_file)
    from rich.table import Table

    from memplug.cli.app import console
    from memplug.data import load_dataset
    from memplug.plugins.inversion.files import to_dataset, write_memory

    if (state is None) == (not all_states):
        raise InputError("kernel invert: give exactly one of --state STATE or --all")
    opts = _check_options(dynamics, omega2, n_nodes, rule, noise_correlation)
    ds = load_dataset(dataset)
    if all_states:
        status = np.asarray(ds["status"].values).astype(str)
        states = [
            str(s) for s, st in zip(ds["state"].values, status, strict=True) if st == "equilibrated"
        ]
        if not states:
            raise InputError(f"--dataset {dataset}: no equilibrated states")
    else:
        states = [state]
    results = []
    table = Table(
        title=f"model-free memory ({opts.dynamics}; Ω²: {opts.omega2}; λ: {opts.rule}; "
        f"noise ρ = {opts.noise_correlation:g}); M(t₁/2) ± 2σ estimates M(0); "
        "∫M dt over the reliable window"
    )
    table.add_column("state", no_wrap=True)
    table.add_column("", no_wrap=True)
    for col in ("M(t₁/2)", "∫M dt", "reliable t", "Ω²/k²T", "λ"):
        table.add_column(col, justify="right", no_wrap=True)
    species = tuple(str(v) for v in ds["species"].values)
    for sid in states:
        inv = invert_state(ds, sid, opts)
        results.append((sid, inv))
        for a, name in enumerate(species):
            w = inv.window(a)
            span = "-" if w is None else f"{inv.t_M[w[0]]:.2g}–{inv.t_M[w[1]]:.2g}"
            table.add_row(
                sid,
                name,
                _m0(inv, a),
                f"{inv.integral(a):.4g}",
                span,
                f"{inv.omega2[a] / inv.omega2_given[a]:.3f}",
                f"{inv.lam[a]:.1g}",
            )
    show(table)
    write_table(table_file, rows_of(table))
    if out is not None:
        write_memory(
            out,
            to_dataset(
                results, dataset=str(dataset), options=dataclasses.asdict(opts), species=species
            ),
        )
        console.print(f"wrote {out}")


@kernel_app.command("sum-rule")
def sum_rule_command(
    state: str = typer.Option(
        None,
        "--state",
        help="Take system, ρ, T and k_peak from this dataset state, "
        "and compare with its inverted M(t₁/2).",
    ),
    dataset: str = typer.Option("default", "--dataset", help="Dataset name or file for --state."),
    system: str = typer.Option("ka-lj", "--system", help="ka-lj or ka-wca (without --state)."),
    rho: float = typer.Option(1.2, "--rho", help="Number density (without --state)."),
    T: float = typer.Option(0.81, "--T", help="Temperature (without --state)."),
    k: float = typer.Option(7.2, "--k", help="Wave number for Ω² = k² T (without --state)."),
    N: int = typer.Option(200, "--N", help="Particles (multiple of 5; the box must hold r_c)."),
    frames: int = typer.Option(40, "--frames", help="Configurations averaged."),
    every: int = typer.Option(100, "--every", help="MD steps between configurations."),
    equilibrate: int = typer.Option(5000, "--equilibrate", help="NVT steps before sampling."),
    seed: int = typer.Option(0, "--seed"),
    engine: str = typer.Option("lammps", "--engine"),
    table_file: Path | None = table_option(),
) -> None:
    """Einstein frequency Ω_E² (mean squared force and ∫ g ∇²V) and M(0) = 2Ω² + Ω_E² from a small MD run."""
    check_table(table_file)
    from rich.table import Table

    from memplug.plugins.inversion.md_check import einstein_from_md
    from memplug.plugins.inversion.sum_rule import memory_at_zero

    inv = None
    if state is not None:
        from memplug.data import context_for, load_dataset

        ds = load_dataset(dataset)
        ctx = context_for(ds, state, dynamics="overdamped")
        system = {"LJ": "ka-lj", "WCA": "ka-wca"}[ctx.extra["potential"]]
        rho, T, k = float(ctx.rho), float(ctx.T), float(ctx.k_peak)
        inv = invert_state(ds, state, InvertOptions())
    if not k > 0:
        raise InputError("--k: expected a positive wave number")
    res = einstein_from_md(
        system,
        rho,
        T,
        N=N,
        engine=engine,
        seed=seed,
        frames=frames,
        every=every,
        equilibrate=equilibrate,
    )
    omega2 = k**2 * T
    table = Table(
        title=f"short-time sum rule: {system}, ρ = {rho:g}, T = {T:g}, N = {res['N']}, "
        f"{res['frames']} frames; Ω² = k²T = {omega2:.4g} (k = {k:.4g})"
    )
    cols = ["species", "Ω_E² (forces)", "Ω_E² (∫ g ∇²V)", "M(0) = 2Ω² + Ω_E²"]
    if inv is not None:
        cols.append("inverted M(t₁/2)")
    for col in cols:
        table.add_column(col, justify="right")
    for a, name in enumerate(("A", "B")):
        row = [
            name,
            f"{res['force'][a]:.4g} ± {res['force_err'][a]:.2g}",
            f"{res['structure'][a]:.4g}",
            f"{float(memory_at_zero(omega2, res['force'][a])):.4g} ± {res['force_err'][a]:.2g}",
        ]
        if inv is not None:
            row.append(_m0(inv, a))
        table.add_row(*row)
    show(table)
    write_table(table_file, rows_of(table))
