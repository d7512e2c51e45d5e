"""Dataset schemas are plugins: `memplug.data` dispatches validation, labels, statics and target
dynamics on ``ds.attrs["schema"]``; a schema registered by a third-party plugin is used like the
built-in ``memplug-dataset/1``, and an unknown or missing schema is a clear error (exit code 2).

The third-party plugin is a real installed distribution (a ``*.dist-info`` directory and a module
on ``sys.path``), as in ``test_plugins.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from memplug import data
from memplug.cli import main
from memplug.errors import InputError
from memplug.interfaces import DEFAULT_DYNAMICS, DatasetSchema
from memplug.plugins.datasets.schema import SCHEMA, KobAndersenSchema, synthetic_state
from memplug.registry import get_registry

DEMO = """
import numpy as np

from memplug.data import one_state
from memplug.errors import InputError
from memplug.hookspecs import hookimpl
from memplug.interfaces import Context, DatasetSchema


class PointsSchema(DatasetSchema):
    name = "demo-points/1"
    description = "one species, F(t) per state"

    def validate(self, ds, where):
        if "F" not in ds.data_vars:
            raise InputError(f"{where}: F: missing variable (demo-points/1)")
        if np.any(ds["F"].values > 1):
            raise InputError(f"{where}: F: above 1 (demo-points/1)")
        return ds

    def context_for(self, ds, state, dynamics):
        one = one_state(ds, state)
        return Context(n_species=1, T=float(one["T"]), k_peak=2.0, x=np.ones(1), masses=np.ones(1),
                       dynamics=dynamics, species=("P",), extra={"state": str(one["state"].values)})

    def dynamics_for(self, ds, state):
        one = one_state(ds, state)
        return one["time"].values.copy(), one["F"].values[:, None].copy()

    def variable_attrs(self, ds):
        ds["F"].attrs["long_name"] = "demo correlator"
        return ds


@hookimpl
def register_schemas(register):
    register(PointsSchema)
"""


def _points(T=(1.0, 2.0), top=1.0):
    t = np.geomspace(0.01, 10.0, 20)
    return xr.Dataset(
        {"time": (("state", "t"), np.stack([t] * len(T))),
         "F": (("state", "t"), np.stack([top * np.exp(-t / T_) for T_ in T]))},
        coords={"state": ("state", np.array([f"P-T{T_}" for T_ in T], dtype=object)),
                "T": ("state", np.array(T, float))},
        attrs={"schema": "demo-points/1"},
    )  # fmt: skip


def test_the_builtin_schema_is_registered():
    reg = get_registry()
    assert SCHEMA == "memplug-dataset/1" and SCHEMA in reg.names("schemas")
    assert reg.get("schemas", SCHEMA) is KobAndersenSchema and issubclass(
        KobAndersenSchema, DatasetSchema
    )
    owner = reg.owner["schemas"][SCHEMA]
    assert owner.distribution == "memplug" and owner.name == "datasets"
    assert data.schema_of(synthetic_state()).name == SCHEMA


def test_a_third_party_schema_is_used_by_load_and_context(install, tmp_path, capsys):
    install("memplug-points-demo", "memplug_points_demo", DEMO)
    assert "demo-points/1" in get_registry().names("schemas")
    path = tmp_path / "points.nc"
    data.save_dataset(_points(), path)  # validated by the demo schema
    ds = data.load_dataset(path)
    assert ds["F"].attrs["long_name"] == "demo correlator"  # the schema's labels
    ctx = data.context_for(ds, "P-T2.0")
    assert ctx.n_species == 1 and ctx.T == 2.0 and ctx.species == ("P",)
    assert ctx.dynamics == DEFAULT_DYNAMICS
    assert data.context_for(ds, 0, dynamics="overdamped").dynamics == "overdamped"
    t, F = data.dynamics_for(ds, 1)
    assert t.shape == (20,) and F.shape == (20, 1)
    np.testing.assert_allclose(F[:, 0], np.exp(-t / 2.0))
    # the schema's own checks run on loading and in `memplug dataset validate`
    bad = tmp_path / "bad.nc"
    data.save_dataset(_points(top=1.5), bad, check=False)
    with pytest.raises(InputError, match="bad.nc: F: above 1"):
        data.load_dataset(bad)
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "validate", str(bad)])
    assert exc.value.code == 2
    assert "F: above 1 (demo-points/1)" in " ".join(capsys.readouterr().err.split())


def test_an_unknown_or_missing_schema_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "other.nc"
    ds = synthetic_state()
    ds.attrs["schema"] = "nobody/9"
    data.save_dataset(ds, path, check=False)
    with pytest.raises(InputError) as exc:
        data.load_dataset(path)
    msg = str(exc.value)
    assert str(path) in msg and "attrs.schema" in msg and "'nobody/9'" in msg
    assert repr(SCHEMA) in msg.split("registered schemas:")[1]
    with pytest.raises(SystemExit) as code:
        main(["dataset", "validate", str(path)])
    assert code.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "attrs.schema: unknown schema 'nobody/9'" in err and SCHEMA in err
    # loaded unchecked it is still a dataset, but nothing knows its statics
    loose = data.load_dataset(path, check=False)
    with pytest.raises(InputError, match="attrs.schema: unknown schema 'nobody/9'"):
        data.context_for(loose, 0)
    with pytest.raises(InputError, match="attrs.schema: unknown schema"):
        data.dynamics_for(loose, 0)
    del ds.attrs["schema"]
    with pytest.raises(InputError, match="<dataset>: attrs.schema: missing; registered schemas"):
        data.validate(ds)
