"""``memplug kernels ...``: the paper's evolutionary-strategy experiments as a kernels dataset.

memplug kernels scan [--dataset default] [--states all|equilibrated|ID,...]
                     [--closures 'SPEC[@DYNAMICS];...'] [--workers N | --scheduler ADDR]
                     [--budget-scale X] [--out DIR] [--seed S] [--mct-recovery] [--lasso 1e-7]
memplug kernels validate FILE
memplug kernels list [FILE|default]
memplug kernels figures FILE -o docs/img/kernels
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np
import typer

from memplug.cli.tables import check_table, show, table_option, write_table
from memplug.errors import InputError
from memplug.plugins.kernels.plan import (
    DEFAULT_LASSO,
    OVERDAMPED_T_MIN_VIBRATIONS,
    PAPER_CLOSURES,
    TMCT_SOURCES,
)

kernels_app = typer.Typer(
    help="The paper's evolutionary-strategy experiments over a dataset, as one kernels dataset.",
    no_args_is_help=True,
)


def canonical_command(options: dict[str, object]) -> str:
    """``memplug kernels scan`` with every option spelled out (reruns the same scan)."""
    parts = ["memplug", "kernels", "scan"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            if key == "mct":
                parts += [] if value else ["--no-mct"]
            elif value:
                parts.append(flag)
        elif value is not None:
            parts += [flag, str(value)]
    return shlex.join(parts)


@kernels_app.command("scan")
def scan_command(
    dataset: str = typer.Option("default", "--dataset", help="Registered dataset name or netCDF file/directory."),
    states: str = typer.Option("equilibrated", "--states", help="all, equilibrated or a comma list of state ids."),
    closures: str = typer.Option(PAPER_CLOSURES, "--closures", help="Experiments: SPEC[@newtonian|@overdamped] separated by ';'."),
    workers: int = typer.Option(0, "--workers", help="Fan out over N local Dask worker processes (0: serial)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler."),
    budget_scale: float = typer.Option(1.0, "--budget-scale", help="Multiply every fit's default budget (400 evaluations per parameter)."),
    out: Path = typer.Option(Path("results/kernels"), "--out", help="Scan directory (fits, checkpoints, M_mct cache, kernels.nc)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every fit."),
    mct_recovery: bool = typer.Option(False, "--mct-recovery", help="Add fits to F_mct at 1.02-1.3 T_mct (SI Figs. S5-S6)."),
    lasso: float = typer.Option(0.0, "--lasso", help=f"λ₁ of an added Lasso part (stretched:n_exp=2; 0: none; the paper's regularisation, e.g. {DEFAULT_LASSO:g})."),
    polish: str = typer.Option("lbfgs", "--polish", help="lbfgs (L-BFGS after CMA-ES, the default) or none."),
    solver_n: int = typer.Option(16, "--solver-n", help="Solver blocks of 4N points."),
    init: str = typer.Option("default", "--init", help="default (the closure's start) or mct (fit M_mct first; one MCT solve per fit)."),
    overdamped_t_min: float = typer.Option(OVERDAMPED_T_MIN_VIBRATIONS, "--overdamped-t-min", help="Overdamped fits start at this many vibrational times 1/Ω."),
    mct: bool = typer.Option(True, "--mct/--no-mct", help="Compute M_mct per state (cached)."),
    kernels: Path | None = typer.Option(None, "--kernels", help="Where to write the kernels dataset (default: OUT/kernels.nc)."),
    note: str | None = typer.Option(None, "--note", help="A note stored in the file's attrs (e.g. why these states)."),
    assemble_only: bool = typer.Option(False, "--assemble-only", help="Run no fit: write the kernels dataset of the fits finished so far (an interrupted scan)."),
) -> None:  # fmt: skip
    """Fit the paper's closures on every selected state (resumable) and write the kernels dataset."""
    from memplug.cli.app import console
    from memplug.plugins.kernels.scan import ScanConfig, run_scan

    if scheduler is not None:
        from memplug.plugins.fitting.cli import check_scheduler

        check_scheduler(scheduler)
    options = dict(dataset=dataset, states=states, closures=closures, workers=workers,
                   scheduler=scheduler, budget_scale=budget_scale, out=out, seed=seed,
                   mct_recovery=mct_recovery, lasso=lasso, polish=polish, solver_n=solver_n,
                   init=init, overdamped_t_min=overdamped_t_min, mct=mct, kernels=kernels)  # fmt: skip
    extra = {"argv": shlex.join(sys.argv)}
    if note:
        extra["note"] = note
    cfg = ScanConfig(
        out=out, dataset=dataset, states=states, closures=closures, mct_recovery=mct_recovery,
        lasso=lasso, budget_scale=budget_scale, seed=seed, solver_n=solver_n, polish=polish,
        init=init, overdamped_vibrations=overdamped_t_min, mct=mct, workers=workers,
        scheduler=scheduler, command=canonical_command(options), extra_attrs=extra,
    )  # fmt: skip
    run_scan(
        cfg,
        log=lambda s: console.print(s, highlight=False),
        kernels_path=kernels,
        fit=not assemble_only,
    )


@kernels_app.command("validate")
def validate_command(
    file: Path = typer.Argument(..., help="A kernels dataset (.nc) or 'default'."),
) -> None:
    """Check a kernels dataset against its schema (exit 2 with one line naming the problem)."""
    from memplug.cli.app import console
    from memplug.plugins.kernels.schema import load_kernels

    ds = load_kernels(file)
    console.print(
        f"{file}: valid {ds.attrs['schema']} ({ds.sizes['state']} states, {ds.sizes['fit']} fits)"
    )


def summary_rows(ds) -> list[dict[str, object]]:
    """Per fit: label, part, fitted states, median R² and RMSE over them, median CPU s."""
    rows = []
    done = np.asarray(ds["done"].values, bool)
    for k, label in enumerate(map(str, ds["fit"].values)):
        d = done[:, k]
        r2 = np.asarray(ds["r2"].values[:, k], float)[d]
        rmse = np.asarray(ds["rmse"].values[:, k], float)[d]
        cpu = np.asarray(ds["cpu_s"].values[:, k], float)[d]

        def med(a):
            return float(np.median(a[np.isfinite(a)])) if np.isfinite(a).any() else float("nan")

        rows.append({"fit": label, "part": str(ds["fit_part"].values[k]), "states": int(d.sum()),
                     "median_r2": med(r2), "median_rmse": med(rmse), "median_cpu_s": med(cpu)})  # fmt: skip
    return rows


@kernels_app.command("list")
def list_command(
    file: str = typer.Argument(
        "default", help="A kernels dataset (.nc) or 'default' (the shipped one)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the rows as JSON instead of a table."
    ),
    table_file: Path | None = table_option(),
) -> None:
    """What a kernels dataset holds: states, fits and the median R² of each fit."""
    from rich.table import Table

    from memplug.cli.app import console
    from memplug.plugins.kernels.schema import load_kernels

    check_table(table_file)
    ds = load_kernels(file)
    rows = summary_rows(ds)
    write_table(table_file, rows)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    T = np.asarray(ds["T_over_Tmct"].values, float)
    pots = sorted(set(map(str, ds["potential"].values)))
    rhos = sorted(set(np.round(np.asarray(ds["rho"].values, float), 3).tolist()))
    head = (f"{file}: {ds.sizes['state']} states ({', '.join(pots)}; rho {', '.join(map(str, rhos))}; "
            f"T/T_mct {np.nanmin(T):.2f}-{np.nanmax(T):.2f}), {ds.sizes['fit']} fits; "
            f"{ds.attrs.get('coverage', '')}")  # fmt: skip
    console.print(head, highlight=False)
    table = Table(title="fits (R², RMSE over each fit's window; median over states)")
    for col in ("fit", "part", "states", "median R²", "median RMSE (S1)", "median CPU s"):
        table.add_column(col, justify="left" if col in ("fit", "part") else "right", no_wrap=True)
    fmt = lambda x, f: "-" if not np.isfinite(x) else f.format(x)  # noqa: E731
    for r in rows:
        table.add_row(r["fit"], r["part"], str(r["states"]), fmt(r["median_r2"], "{:.5f}"),
                      fmt(r["median_rmse"], "{:.3e}"), fmt(r["median_cpu_s"], "{:.0f}"))  # fmt: skip
    show(table, min_width=120)  # fit labels are long; never fold them


@kernels_app.command("figures")
def figures_command(
    file: str = typer.Argument(..., help="A kernels dataset (.nc) or 'default'."),
    out: Path = typer.Option(
        Path("docs/img/kernels"), "-o", "--out", help="Directory of the PNG + CSV files."
    ),
    tmct: str = typer.Option(
        "memplug", "--tmct", help=f"T_mct of the T/T_mct axes: {' or '.join(TMCT_SOURCES)}."
    ),
) -> None:
    """Paper Figs. 6a/b, 7, S4, S5-S6, S7 from a kernels dataset: PNG + CSV each."""
    from memplug.cli.app import console
    from memplug.plugins.kernels.figures import all_figures
    from memplug.plugins.kernels.schema import load_kernels

    if tmct not in TMCT_SOURCES:
        raise InputError(f"--tmct {tmct!r}: expected {' or '.join(TMCT_SOURCES)}")
    ds = load_kernels(file)
    written = all_figures(ds, out, tmct=tmct)
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
