"""The dataset schema: validation, atomic I/O, loading per-state directories, selection, statics."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from memplug import constants, data
from memplug.cli import main
from memplug.errors import InputError
from memplug.plugins.datasets import schema


def _states(
    tmp_path, specs=(("LJ", 1.2, 0.8), ("LJ", 1.2, 10.0), ("WCA", 1.4, 2.0), ("LJ", 1.2, 2.0))
):
    d = tmp_path / "states"
    for pot, rho, T in specs:
        data.save_dataset(
            schema.synthetic_state(pot, rho, T), d / f"{schema.state_id(pot, rho, T)}.nc"
        )
    return d


@pytest.fixture(scope="module")
def four_states(tmp_path_factory):
    """A directory of four per-state files, written once for the tests that only read it."""
    return _states(tmp_path_factory.mktemp("four"))


def test_state_id_round_trip():
    assert schema.state_id("LJ", 1.2, 0.8) == "LJ-rho1.20-T0.800"  # the contract's example
    assert schema.parse_state_id("WCA-rho1.80-T20.400") == ("WCA", 1.8, 20.4)
    with pytest.raises(InputError):
        schema.parse_state_id("LJ-1.2-0.8")


def test_grids_follow_the_contract():
    # contract: k = 0.4 (arange(100) + 0.5), midpoints of 100 bins on (0, 40]
    assert constants.K_GRID[0] == pytest.approx(0.2) and constants.K_GRID[-1] == pytest.approx(39.8)
    assert len(constants.K_GRID) == 100
    assert list(constants.KQ) == [3.0, 5.0, 10.0, 15.0]


def test_tau_alpha_of_an_exponential():
    # F = exp(-t/τ) crosses 1/e at t = τ exactly (log-linear interpolation between grid points)
    t = np.geomspace(1e-3, 100, 400)
    assert schema.tau_alpha_from(t, np.exp(-t / 2.5)) == pytest.approx(2.5, rel=1e-3)
    assert np.isnan(schema.tau_alpha_from(t, np.full_like(t, 0.9)))


def test_directory_loads_concatenated_and_sorted(tmp_path, four_states):
    d = four_states
    ds = data.load_dataset(d)
    assert ds.sizes["state"] == 4
    # sorted by (potential, rho, T), not by file name ("T10.000" < "T2.000" as strings)
    assert list(ds["state"].values) == [
        "LJ-rho1.20-T0.800",
        "LJ-rho1.20-T2.000",
        "LJ-rho1.20-T10.000",
        "WCA-rho1.40-T2.000",
    ]
    assert ds["S"].dims == ("state", "pair", "k") and ds["Fs_k"].shape == (4, 2, 4, 150)
    # the combined file round-trips and opens with plain xarray
    data.save_dataset(ds, tmp_path / "all.nc")
    plain = xr.open_dataset(tmp_path / "all.nc", engine="h5netcdf")
    assert list(plain["potential"].values) == ["LJ", "LJ", "LJ", "WCA"]
    np.testing.assert_array_equal(plain["Fs"].values, ds["Fs"].values)
    plain.close()
    assert data.load_dataset(tmp_path / "all.nc").sizes["state"] == 4


def test_per_state_file_is_small(tmp_path):
    d = _states(tmp_path, (("LJ", 1.2, 0.8),))
    (f,) = d.glob("*.nc")
    assert f.stat().st_size < 100_000  # the contract: ≲ 100 KB per state


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "one.nc"
    data.save_dataset(schema.synthetic_state("LJ", 1.2, 0.8), path)
    before = path.read_bytes()

    def boom(self, *a, **k):
        open(a[0], "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(OSError):
        data.save_dataset(schema.synthetic_state("LJ", 1.2, 2.0), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["one.nc"]  # no temp file left behind


def test_context_for(four_states):
    ds = data.load_dataset(four_states)
    ctx = data.context_for(ds, "LJ-rho1.20-T2.000", dynamics="overdamped")
    assert ctx.S.shape == (100, 2, 2)
    np.testing.assert_array_equal(ctx.S[:, 0, 1], ctx.S[:, 1, 0])
    np.testing.assert_array_equal(
        ctx.S[:, 1, 1], ds["S"].sel(state="LJ-rho1.20-T2.000", pair="BB").values
    )
    assert ctx.T == 2.0 and ctx.rho == 1.2
    # Ω² = diag(k_p² T) with unit masses (contract; paper Eq. 5 self part)
    np.testing.assert_allclose(ctx.omega2_matrix(), np.diag([ctx.k_peak**2 * 2.0] * 2))
    np.testing.assert_array_equal(ctx.x, [0.8, 0.2])
    assert data.context_for(ds, 0).extra["state"] == "LJ-rho1.20-T0.800"
    t, fs = data.dynamics_for(ds, "WCA-rho1.40-T2.000")
    assert fs.shape == (150, 2) and t.shape == (150,)
    with pytest.raises(InputError, match="not in the dataset"):
        data.context_for(ds, "LJ-rho1.20-T9.999")


def test_select_states(four_states):
    ds = data.load_dataset(four_states)
    assert data.select_states(ds, potential="LJ").sizes["state"] == 3
    assert data.select_states(ds, potential="LJ", T=slice(1.0, 20)).sizes["state"] == 2
    assert list(data.select_states(ds, T=[0.8, 10.0])["T"].values) == [0.8, 10.0]
    assert data.select_states(ds, rho=1.4)["state"].values.tolist() == ["WCA-rho1.40-T2.000"]
    with pytest.raises(InputError, match="no state matches"):
        data.select_states(ds, rho=1.6)


def test_missing_things_are_named(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        data.load_dataset(tmp_path / "nope.nc")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no \\*.nc state files"):
        data.load_dataset(tmp_path / "empty")
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(InputError, match="not a readable netCDF"):
        data.load_dataset(tmp_path / "junk.nc")


def _drop_var(ds):
    return ds.drop_vars("msd"), "msd: missing variable"


def _nan(ds):
    fs = ds["Fs"].values.copy()
    fs[0, 1, 40] = np.nan
    return ds.assign(Fs=(ds["Fs"].dims, fs)), "Fs: NaN"


def _shuffle_t(ds):
    t = ds["time"].values.copy()
    rng = np.random.default_rng(0)
    t[0] = rng.permutation(t[0])
    return ds.assign(
        time=(ds["time"].dims, t)
    ), "time: state LJ-rho1.20-T0.800: not strictly increasing"


def _fs0(ds):
    return ds.assign(Fs=ds["Fs"] * 0.9), "Fs: state LJ-rho1.20-T0.800, species A: F_s(t→0)"


def _k_grid(ds):
    return ds.assign_coords(k=ds["k"].values * 1.01), "k: wrong grid"


def _wrong_dims(ds):
    return ds.assign(S=ds["S"].transpose("state", "k", "pair")), "S: wrong dims"


def _status(ds):
    return ds.assign_coords(status=("state", np.array(["hot"], dtype=object))), "status: state"


def _schema(ds):
    out = ds.copy()
    out.attrs["schema"] = "something/0"
    return out, "attrs.schema"


def _normalisation(ds):
    return ds.assign(
        S=ds["S"] / np.array([0.8, 1.0, 0.2])[None, :, None]
    ), "S: state LJ-rho1.20-T0.800, pair BB: S(k→∞)"


def _tau_nan(ds):
    return ds.assign(
        tau_alpha=ds["tau_alpha"] * np.nan
    ), "tau_alpha: state LJ-rho1.20-T0.800: NaN, allowed only"


def _short_window(ds):
    return ds.assign(
        tau_alpha=ds["time"][:, -1] / 4
    ), "time: state LJ-rho1.20-T0.800: the lag times end at"


@pytest.mark.parametrize(
    "corrupt",
    [
        _short_window,
        _drop_var,
        _nan,
        _shuffle_t,
        _fs0,
        _k_grid,
        _wrong_dims,
        _status,
        _schema,
        _normalisation,
        _tau_nan,
    ],
)
def test_validate_names_file_variable_problem(tmp_path, capsys, corrupt):
    good = schema.synthetic_state("LJ", 1.2, 0.8)
    path = tmp_path / "bad.nc"
    bad, message = corrupt(good)
    data.save_dataset(bad, path, check=False)
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "validate", str(path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err.replace("\n", "")
    assert message in " ".join(err.split())


def test_validate_accepts_good_and_glass(tmp_path, capsys):
    good = schema.synthetic_state("LJ", 1.2, 0.8)
    glass = schema.synthetic_state("LJ", 1.2, 0.4).assign_coords(
        status=("state", np.array(["glass"], dtype=object))
    )
    glass = glass.assign(
        tau_alpha=glass["tau_alpha"] * np.nan
    )  # τ_α beyond the window: allowed for glass
    d = tmp_path / "states"
    data.save_dataset(good, d / "a.nc")
    data.save_dataset(glass, d / "b.nc")
    with pytest.raises(SystemExit) as exc:
        main(["dataset", "validate", str(d)])
    assert exc.value.code == 0
    assert "ok:" in capsys.readouterr().out


def test_duplicate_states_rejected(tmp_path):
    d = tmp_path / "states"
    data.save_dataset(schema.synthetic_state("LJ", 1.2, 0.8), d / "a.nc")
    data.save_dataset(schema.synthetic_state("LJ", 1.2, 0.8), d / "b.nc")
    with pytest.raises(InputError, match="state: duplicate state ids"):
        data.load_dataset(d)


def test_directory_cache_is_keyed_by_content(tmp_path, monkeypatch):
    """A directory of per-state files is consolidated into one cached file keyed by the files'
    content: a second load is served from it (identical data), and any change to any state file —
    a new state, a corrupted one — misses it, so per-file validation still names the bad file."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEMPLUG_DATASET_CACHE", str(cache))
    d = _states(tmp_path, (("LJ", 1.2, 0.8), ("LJ", 1.2, 2.0)))
    first = data.load_dataset(d)
    (entry,) = cache.glob("*.nc")
    opened = []
    real_open = data._open
    monkeypatch.setattr(data, "_open", lambda p: opened.append(p) or real_open(p))
    again = data.load_dataset(d)
    assert opened == [entry]  # one file opened, not the two state files
    xr.testing.assert_identical(first, again)
    # a new state: a new key, three states
    data.save_dataset(schema.synthetic_state("WCA", 1.4, 2.0), d / "WCA-rho1.40-T2.000.nc")
    assert data.load_dataset(d).sizes["state"] == 3
    assert len(list(cache.glob("*.nc"))) == 2
    # a corrupted state file is read and named, never masked by the cache
    bad = d / "LJ-rho1.20-T0.800.nc"
    ds = data.load_dataset(bad).drop_vars("msd")
    data.save_dataset(ds, bad, check=False)
    with pytest.raises(InputError, match="LJ-rho1.20-T0.800.nc.*msd"):
        data.load_dataset(d)
    # disabled: nothing written
    monkeypatch.setenv("MEMPLUG_DATASET_CACHE", "off")
    bad.unlink()
    opened.clear()
    assert data.load_dataset(d).sizes["state"] == 2 and len(opened) == 2
