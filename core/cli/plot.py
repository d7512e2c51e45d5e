"""``memplug plot``: figure sets.

The group is shared: another CLI module adds its sub-command to `plot_app` inside its own
``register(app)`` (the app registers every module before it runs, so the order does not matter)::

    def register(app):
        from memplug.cli.plot import plot_app

        plot_app.command("fit")(plot_fit_command)   # -> memplug plot fit ...

A plugin does the same from its ``register_commands(app)`` hook.
"""

from __future__ import annotations

from pathlib import Path

import typer

plot_app = typer.Typer(name="plot", help="Make figure sets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(plot_app, name="plot")


@plot_app.command("dataset")
def plot_dataset_command(
    dataset: str = typer.Option("default", "--dataset", "-d", help="Dataset name, netCDF file or directory of per-state files."),
    out: Path = typer.Option(Path("figures/dataset"), "--out", "-o", help="Directory for the PNG files."),
    potential: list[str] = typer.Option(None, "--potential", help="Only these potentials (repeatable)."),
) -> None:
    """S^{AA}(k) at several T per ρ, F_s^{AA}(k_p, t) families, τ_α vs 1/T."""
    from memplug.cli.app import console
    from memplug.data import load_dataset, select_states
    from memplug.plotting import plot_dataset

    ds = load_dataset(dataset)
    if potential:
        ds = select_states(ds, potential=potential)
    for p in plot_dataset(ds, out):
        console.print(f"wrote {p}")
