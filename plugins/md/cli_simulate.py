"""``memplug simulate``: molecular dynamics of one state point → GSD trajectory + observables file.

Runs the protocol of `memplug.plugins.md.protocol.run_state` (random start, minimisation, time step
from the NVE drift, NVT equilibration ≥ 10 τ_α, NVE production) in a work directory next to
``--out`` (``<out>.work``); running the same command again after a kill continues from the last
checkpoint. The trajectory (``--out``) and the observables (``--observables``, a one-state dataset in
the ``memplug-dataset/1`` schema) appear only when complete.
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import typer

from memplug.errors import InputError
from memplug.io import atomic_path


def _protocol(items: list[str]) -> dict:
    from memplug.plugins.md.protocol import PROTOCOL_DEFAULTS

    out = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"--set: expected KEY=VALUE, got {item!r}")
        if key not in PROTOCOL_DEFAULTS:
            raise InputError(
                f"--set: unknown protocol setting {key!r}; valid: {', '.join(PROTOCOL_DEFAULTS)}"
            )
        try:
            out[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise InputError(f"--set {key}: expected a number, got {value!r}") from None
        if not isinstance(out[key], int | float) or isinstance(out[key], bool):
            raise InputError(f"--set {key}: expected a number, got {value!r}")
    return out


def _publish(src: Path, dst: Path) -> None:
    """Make ``dst`` a complete copy of ``src`` atomically (hard link when possible)."""
    with atomic_path(dst) as tmp:
        tmp.unlink()  # os.link creates the file itself
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def simulate_command(
    system: str = typer.Option(..., "--system", help="System: ka-lj or ka-wca."),
    rho: float = typer.Option(..., "--rho", help="Number density ρ (N = ρ L³ must be an integer)."),
    T: float = typer.Option(..., "--T", help="Temperature."),
    engine: str = typer.Option("lammps", "--engine", help="MD engine: lammps or hoomd."),
    out: Path = typer.Option(..., "--out", help="Trajectory file to write (.gsd)."),
    observables: Path = typer.Option(
        None, "--observables", help="Observables file (netCDF); default: --out with suffix .nc."
    ),
    workdir: Path = typer.Option(None, "--workdir", help="Run directory; default: <out>.work."),
    seed: int = typer.Option(0, "--seed", help="Random seed (≥ 0)."),
    threads: int = typer.Option(2, "--threads", help="OpenMP threads (1: bit-reproducible)."),
    n_t: int = typer.Option(150, "--n-t", help="Number of lag times."),
    settings: list[str] = typer.Option(
        None,
        "--set",
        help="Protocol setting KEY=VALUE (repeatable), e.g. --set max_equil_steps=500000.",
    ),
) -> None:
    """Simulate one state point: equilibrate, produce a GSD trajectory, measure S(k), F_s, MSD, τ_α."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from memplug import data
    from memplug.cli.app import console, err_console
    from memplug.plugins.md.protocol import EngineError, run_state

    if out.suffix != ".gsd":
        raise InputError(f"--out: expected a .gsd file name, got {str(out)!r}")
    if threads < 1:
        raise InputError(f"--threads: expected ≥ 1, got {threads}")
    if seed < 0:
        raise InputError(f"--seed: expected an integer ≥ 0, got {seed}")
    if not out.parent.exists():
        raise InputError(f"--out: directory {str(out.parent)!r} does not exist")
    protocol = _protocol(settings)
    observables = observables or out.with_suffix(".nc")
    workdir = workdir or out.with_name(out.name + ".work")

    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed:>10,.0f}/{task.total:,.0f} steps"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        try:
            ds = run_state(
                system,
                rho,
                T,
                engine=engine,
                seed=seed,
                workdir=workdir,
                threads=threads,
                n_t=n_t,
                progress=progress,
                **protocol,
            )
        except EngineError as exc:
            err_console.print(f"[bold red]error:[/] MD run failed: {exc}", highlight=False)
            raise SystemExit(1) from None
        for stage, task in tasks.items():
            if stage == "equilibrate":
                bar.update(
                    task, completed=bar.tasks[task].completed, total=bar.tasks[task].completed
                )

    _publish(workdir / "trajectory.gsd", out)
    data.save_dataset(ds, observables)
    v = {
        name: ds[name].values[0]
        for name in ("N", "k_peak", "tau_alpha", "dt", "energy_drift", "status", "cpu_seconds")
    }
    console.print(
        f"{ds.state.values[0]}: N = {v['N']}, k_peak = {v['k_peak']:.3f}, τ_α = {v['tau_alpha']:.4g}, "
        f"dt = {v['dt']:g}, drift = {v['energy_drift']:.2e}, status = {v['status']}, "
        f"cpu = {v['cpu_seconds']:.1f} s"
    )
    console.print(f"trajectory: {out}\nobservables: {observables}")
