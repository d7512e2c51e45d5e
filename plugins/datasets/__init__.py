"""Built-in datasets, registered through the ``memplug`` entry-point group like any plugin.

``default``: the Kob-Andersen LJ and WCA mixtures at ρ = 1.2, 1.4, 1.6, 1.8, simulated by memplug's
own MD plugin. Stored as one netCDF file per state under ``data/states/``; the campaign that produces
them is ``data/campaign.toml`` (``memplug dataset build`` regenerates or extends it).

Schema ``memplug-dataset/1`` (`memplug.plugins.datasets.schema`): what the default dataset's
variables mean, registered through ``register_schemas`` (`memplug.data` dispatches validation,
statics and target dynamics on ``ds.attrs["schema"]``).

``memplug plot dataset`` (`cli_plot`, figures in `plotting`): S(k), F_s(k_p, t) and τ_α of a
dataset.
"""

from __future__ import annotations

from pathlib import Path

from memplug.hookspecs import hookimpl
from memplug.plugins.datasets.schema import KobAndersenSchema

DATA = Path(__file__).parent / "data"


class DefaultDataset:
    """The embedded default dataset (a directory of per-state files)."""

    name = "default"
    description = "Kob-Andersen LJ and WCA, rho 1.2-1.8, hot to supercooled (+ a few glass states)"

    @staticmethod
    def path() -> Path:
        """Directory of the per-state netCDF files."""
        return DATA / "states"

    @staticmethod
    def campaign() -> Path:
        """The campaign spec the states were built from."""
        return DATA / "campaign.toml"


@hookimpl
def register_datasets(register):
    register(DefaultDataset)


@hookimpl
def register_schemas(register):
    register(KobAndersenSchema)


@hookimpl
def register_commands(app):
    from memplug.plugins.datasets import cli_dataset, cli_plot

    cli_dataset.register(app)
    cli_plot.register(app)
