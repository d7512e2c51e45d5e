"""``memplug compare-engines``: the same states with two MD engines, several seeds each, and a table
of every observable with error bars and z-scores (`memplug.plugins.md.validation`).

Each run is a `run_state` work directory under ``--workdir``: an interrupted comparison resumes
where it stopped and finished runs are never repeated. The table goes to ``--out`` (CSV) and the
terminal.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer

from memplug.errors import InputError


def compare_engines_command(
    states: list[str] = typer.Option(
        None,
        "--state",
        help="SYSTEM:RHO:T (repeatable); default: ka-lj:1.2:2.0, 1.0, 0.6 and ka-wca:1.2:0.6.",
    ),
    engines: str = typer.Option("lammps,hoomd", "--engines", help="Two engines, comma separated."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per (state, engine): 0 … n−1."),
    workdir: Path = typer.Option(..., "--workdir", help="Directory of the runs (resumable)."),
    out: Path = typer.Option(..., "--out", help="CSV table to write."),
    threads: int = typer.Option(1, "--threads", help="Threads per run (1: bit-reproducible)."),
    n_t: int = typer.Option(150, "--n-t", help="Number of lag times."),
    settings: list[str] = typer.Option(
        None, "--set", help="Protocol setting KEY=VALUE (repeatable), the same for both engines."
    ),
) -> None:
    """Cross-validate two MD engines on the same states (several seeds each, error bars, z)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from memplug.cli.app import console, err_console
    from memplug.plugins.md import validation as v
    from memplug.plugins.md.cli_simulate import _protocol
    from memplug.plugins.md.protocol import check_inputs, run_state

    names = [e.strip() for e in engines.split(",") if e.strip()]
    if len(names) != 2 or names[0] == names[1]:
        raise InputError(f"--engines: expected two different engines, got {engines!r}")
    if seeds < 2:
        raise InputError(f"--seeds: expected ≥ 2 (error bars need two seeds), got {seeds}")
    if threads < 1:
        raise InputError(f"--threads: expected ≥ 1, got {threads}")
    chosen = [v.parse_state(s) for s in states] if states else list(v.DEFAULT_STATES)
    protocol = _protocol(settings)
    for system, rho, T in chosen:
        for e in names:
            check_inputs(system, rho, T, e)
    runs = v.matrix(chosen, names, list(range(seeds)))
    results = {}
    with Progress(
        TextColumn("{task.description:<44}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} runs"),
        TimeElapsedColumn(),
        console=err_console,
    ) as bar:
        task = bar.add_task("runs", total=len(runs))
        for run in runs:
            bar.update(task, description=f"{run.label} {run.engine} seed {run.seed}")
            ds = run_state(
                run.system,
                run.rho,
                run.T,
                engine=run.engine,
                seed=run.seed,
                workdir=run.workdir(workdir),
                threads=threads,
                n_t=n_t,
                **protocol,
            )
            results[run] = v.observables_of(ds)
            bar.advance(task)
    rows = v.compare(results, names)
    v.write_csv(rows, out, names)
    table = Table(title=f"{names[0]} vs {names[1]}: mean ± standard error over {seeds} seeds")
    for col in ("state", "observable", names[0], names[1], "z"):
        table.add_column(col)
    for r in rows:
        z = r["z"]
        mark = "" if not math.isfinite(z) else (" ✓" if z <= v.Z_AGREE else " ✗")
        table.add_row(
            r["state"],
            r["observable"],
            f"{r['mean_1']:.5g} ± {r['se_1']:.2g}",
            f"{r['mean_2']:.5g} ± {r['se_2']:.2g}",
            f"{z:.2f}{mark}",
        )
    console.print(table)
    bad = [r for r in rows if r["agree"] is False]
    console.print(
        f"{len(rows) - len(bad)} of {len(rows)} comparisons within z ≤ {v.Z_AGREE:g}; table: {out}"
    )
