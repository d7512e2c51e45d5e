"""``memplug plot``: figure sets, mounted by the datasets plugin's ``register_commands`` hook.

The group is shared: another plugin adds its sub-command to `plot_app` from its own
``register_commands(app)`` hook (the app runs every hook before it runs, so the order does not
matter)::

    @hookimpl
    def register_commands(app):
        from memplug.plugins.datasets.cli_plot import plot_app

        plot_app.command("fit")(plot_fit_command)   # -> memplug plot fit ...
"""

from __future__ import annotations

from pathlib import Path

import typer

plot_app = typer.Typer(name="plot", help="Make figure sets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(plot_app, name="plot")


@plot_app.command("dataset")
def plot_dataset_command(
    dataset: str = typer.Option(
        "default",
        "--dataset",
        "-d",
        help="Dataset name, netCDF file or directory of per-state files.",
    ),
    out: Path = typer.Option(
        Path("figures/dataset"), "--out", "-o", help="Directory for the PNG files."
    ),
    potential: list[str] = typer.Option(
        None, "--potential", help="Only these potentials (repeatable)."
    ),
) -> None:
    """S^{AA}(k) at several T per ρ, F_s^{AA}(k_p, t) families, τ_α vs 1/T."""
    from memplug.cli.app import console
    from memplug.data import load_dataset, select_states
    from memplug.plugins.datasets.plotting import plot_dataset

    ds = load_dataset(dataset)
    if potential:
        ds = select_states(ds, potential=potential)
    for p in plot_dataset(ds, out):
        console.print(f"wrote {p}")
